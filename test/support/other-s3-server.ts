/**
 * Starts another S3 server in its own process, with credentials of its own (other-s3-server-main.ts):
 * the replica of the replication tests, or a primary that a test can stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT } from './harness.js';

export interface OtherS3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  client(): S3Client;
  createBucket(name: string): Promise<string>;
  /** Stops the process; its data goes with it. */
  stop(): Promise<void>;
  process: ChildProcess;
}

export async function startOtherS3Server(name: string): Promise<OtherS3Server> {
  const accessKeyId = `${name.toUpperCase().replace(/[^A-Z]/g, '')}KEY${randomBytes(4).toString('hex').toUpperCase()}`;
  const secretAccessKey = `${name}-secret-${randomBytes(12).toString('hex')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/other-s3-server-main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OTHER_S3_KEY_ID: accessKeyId, OTHER_S3_SECRET: secretAccessKey },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve((JSON.parse(line) as { endpoint: string }).endpoint);
    });
    child.on('exit', (code) => reject(new Error(`the other S3 server exited (${code}) before it listened`)));
  });
  const client = () => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  return {
    endpoint,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    client,
    async createBucket(prefix: string) {
      const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
      await client().send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    process: child,
  };
}
