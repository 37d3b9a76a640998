/**
 * The S3 sandbox (s3rver) in a process of its own, so that its CPU and memory are neither the
 * orchestrator's (which samples /proc) nor the measured worker's. Prints one JSON line with the
 * endpoint and credentials, and stops (deleting its data) when its stdin closes or on SIGTERM.
 */
import { startS3Server } from '../../src/sandbox/s3-server.js';

const s3 = await startS3Server();
process.stdout.write(
  JSON.stringify({ endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, directory: s3.directory }) + '\n',
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await s3.stop().catch(() => undefined);
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
