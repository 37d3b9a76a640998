/**
 * The S3 sandboxes themselves. Each integration project must really meet the S3 server it names, and
 * the RGW sandbox must leave no daemon and no directory behind, even when the test run is killed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { startRgwServer } from '../../src/sandbox/rgw-server.js';
import { createBucket, ROOT, s3Client, s3Info } from '../support/harness.js';

describe('the S3 sandbox', () => {
  // RGW's request ids look like `tx…-…-<zone>`; s3rver sends none on HEAD. Without this, a setup
  // mistake could run the "RGW" project against the fake and every test would still pass.
  it('is the server the project names', async () => {
    const bucket = await createBucket('sandbox');
    const head = await s3Client().send(new HeadBucketCommand({ Bucket: bucket }));
    const requestId = head.$metadata.requestId ?? '';
    const rgwRequestId = /^tx[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-default$/;
    if (s3Info().kind === 'rgw') expect(requestId).toMatch(rgwRequestId);
    else expect(requestId).not.toMatch(rgwRequestId);
  });
});

/** A process is gone once it no longer exists or is a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function daemonPids(directory: string): number[] {
  return readFileSync(join(directory, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

// Only where Ceph is installed: the s3rver project must run on a machine without it.
describe.runIf(s3Info().kind === 'rgw')('the RGW sandbox', () => {
  it('stop() kills every daemon and deletes its directory', async () => {
    const rgw = await startRgwServer();
    const pids = daemonPids(rgw.directory);
    expect(pids).toHaveLength(3);
    expect(pids.every(running)).toBe(true);
    await rgw.stop();
    expect(pids.filter(running)).toEqual([]);
    expect(existsSync(rgw.directory)).toBe(false);
  });

  /** Starts the sandbox in a process of its own, as a test run would; returns that process and the sandbox's directory. */
  async function sandboxInAnotherProcess() {
    const script = `import { startRgwServer } from ${JSON.stringify(join(ROOT, 'src/sandbox/rgw-server.ts'))};
      const rgw = await startRgwServer();
      console.log(JSON.stringify({ directory: rgw.directory }));
      setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const directory = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { directory: string }).directory);
      });
      child.on('exit', (code) => reject(new Error(`the sandbox process exited with ${code} before starting`)));
    });
    return { child, directory };
  }

  it('leaves nothing behind when the process that started it is killed with SIGKILL', async () => {
    const { child, directory } = await sandboxInAnotherProcess();
    const pids = daemonPids(directory);
    expect(pids).toHaveLength(3);
    expect(pids.every(running)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(() => pids.every((pid) => !running(pid)), 15_000)).toBe(true);
    expect(await eventually(() => !existsSync(directory), 5_000)).toBe(true);
  });

  it('sweeps what a dead run left behind, when its watchdog died too, at the next start', async () => {
    const { child, directory } = await sandboxInAnotherProcess();
    const pids = daemonPids(directory);
    process.kill(-Number(readFileSync(join(directory, 'watchdog'), 'utf8')), 'SIGKILL');
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(pids.every(running)).toBe(true);
    const next = await startRgwServer();
    try {
      expect(pids.filter(running)).toEqual([]);
      expect(existsSync(directory)).toBe(false);
    } finally {
      await next.stop();
    }
  });
});
