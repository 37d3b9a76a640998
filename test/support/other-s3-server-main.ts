/**
 * A second S3 server as its own process, with its own credentials: s3rver (through the sandbox's
 * startS3Server, with its multipart extensions) where the default S3RVER key is revoked and only the
 * key pair given in OTHER_S3_KEY_ID / OTHER_S3_SECRET is known, so a request signed with any other
 * key id is refused (InvalidAccessKeyId). Prints {"endpoint": …} once listening; stops on SIGTERM.
 */
import { createRequire } from 'node:module';
import { startS3Server } from '../../src/sandbox/s3-server.js';

const require = createRequire(import.meta.url);
const AWSAccount = require('s3rver/lib/models/account.js') as {
  DUMMY_ACCOUNT: { revokeAccessKey(id: string): void; createKeyPair(id: string, secret: string): void };
};
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(process.env.OTHER_S3_KEY_ID!, process.env.OTHER_S3_SECRET!);

const sandbox = await startS3Server();
process.stdout.write(JSON.stringify({ endpoint: sandbox.endpoint }) + '\n');
const stop = () => void sandbox.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test runner going away takes this server with it.
process.on('disconnect', stop);
