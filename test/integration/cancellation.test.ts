/**
 * Cancellation: a cancelled job gets SIGINT, then SIGTERM. The real CLI and the real action bundle
 * are signalled while a multipart upload is open (the database dump's, or a media copy's); the run
 * must fail, pg_dump must stop, every multipart upload must be aborted and no manifest written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { awsEnv, createBucket, createDatabase, postgresInfo, ROOT, runActionBundle, s3Client, s3Info, startStep, uniqueName, visibleOutput, withClient } from '../support/harness.js';
import { workspace } from './prune-fixtures.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';

const PART_DELAY_MS = 3000;
/** GitHub kills a job 10 s after the first signal (7.5 s to SIGTERM, 2.5 s to SIGKILL): stopping must be quick. */
const STOP_WITHIN_MS = 2000;

/**
 * These tests cancel a media copy while a multipart upload of a large object is open. With one
 * credential for both buckets, large content is copied inside the store (docs/media.md), with no upload
 * to abort, so the copy is sent through the runner here.
 */
const THROUGH_THE_RUNNER = { LIFEBOAT_MEDIA_SERVER_COPY: 'off' };

describe('cancellation', () => {
  // The run talks to the sandbox's S3 server (s3rver or RGW) through a slow network; the test checks the
  // server directly.
  let slowS3: SlowProxy;
  let client: S3Client;
  let bucket: string;
  let mediaBucket: string;
  let bigDatabase: string;
  let smallDatabase: string;

  beforeAll(async () => {
    // Each part takes 3 s to be accepted, so an upload is still open when the signal arrives, and a run that
    // waited for its parts (instead of cutting them off) could not stop within the time allowed below.
    // And a download of the media bucket that takes 10 s: the first read of app/z-held.bin is still under way
    // when the signal comes. A run that waited for its downloads (instead of cutting them off) could not
    // stop in time either.
    slowS3 = await startSlowProxy(s3Info().endpoint, PART_DELAY_MS, { heldGets: { path: /\/app\/z-held\.bin(\?|$)/, ms: 10_000 } });
    client = s3Client();
    bucket = await createBucket('cancel');
    mediaBucket = await createBucket('uploads');
    bigDatabase = await createDatabase('cancel_big');
    // About 60 MiB of dump output: a dozen 5 MiB parts.
    await withClient(bigDatabase, (c) => c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 20) AS body FROM generate_series(1, 100000) g`));
    smallDatabase = await createDatabase('cancel_small');
    await withClient(smallDatabase, (c) => c.query(`CREATE TABLE notes AS SELECT g AS id FROM generate_series(1, 10) g`));
    // Media objects over 8 MiB are copied by multipart upload.
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      await client.send(new PutObjectCommand({ Bucket: mediaBucket, Key: `app/${name}`, Body: randomBytes(20 * 1024 * 1024) }));
    }
    await client.send(new PutObjectCommand({ Bucket: mediaBucket, Key: 'app/z-held.bin', Body: randomBytes(64 * 1024) }));
  });
  afterAll(async () => {
    await slowS3?.close();
  });

  const openUploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

  async function waitForOpenUpload(child: ChildProcess, keyPart: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await openUploads()).some((u) => u.Key?.includes(keyPart))) {
      if (child.exitCode !== null) throw new Error(`the run ended (code ${child.exitCode}) before an upload of ${keyPart} opened`);
      if (Date.now() > deadline) throw new Error(`no upload of ${keyPart} opened`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function dumpSessions(database: string): Promise<number> {
    const { rows } = await withClient(postgresInfo().url, (c) =>
      c.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'lifeboat-pg_dump' AND datname = $1`, [new URL(database).pathname.slice(1)]),
    );
    return rows.length;
  }

  async function assertNothingLeft(prefix: string, database: string) {
    expect(await openUploads()).toEqual([]);
    const keys = ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
    expect(keys.filter((k) => k.endsWith('manifest.json'))).toEqual([]);
    // pg_dump was stopped, not left to run into a closed pipe.
    expect(await dumpSessions(database)).toBe(0);
  }

  function inputs(prefix: string, database: string, withMedia: boolean): Record<string, string> {
    return {
      space: 'production',
      'database-url': database,
      'backup-bucket': bucket,
      'backup-prefix': prefix,
      's3-endpoint': slowS3.endpoint,
      's3-region': s3Info().region,
      compression: 'none',
      'part-size-mb': '5',
      ...(withMedia ? { 'media-bucket': mediaBucket, 'media-prefix': 'app/' } : {}),
    };
  }

  function startCli(values: Record<string, string>) {
    const args = [join(ROOT, 'dist', 'cli', 'index.js'), 'backup', ...Object.entries(values).flatMap(([k, v]) => [`--${k}`, v])];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...awsEnv(), ...THROUGH_THE_RUNNER }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, output })),
    );
    return { child, done };
  }

  it.each([
    ['SIGINT', 'database dump', 130],
    ['SIGTERM', 'media copy', 143],
  ] as const)('the CLI, on %s during the %s, aborts every upload, stops pg_dump and exits %i', async (signal, phase, exitCode) => {
    const prefix = uniqueName('cli') + '/';
    const media = phase === 'media copy';
    const database = media ? smallDatabase : bigDatabase;
    const { child, done } = startCli(inputs(prefix, database, media));
    await waitForOpenUpload(child, media ? `${prefix}media/` : 'database.pgdump');
    const signalledAt = Date.now();
    child.kill(signal);
    const run = await done;
    expect(Date.now() - signalledAt).toBeLessThan(STOP_WITHIN_MS);
    expect(run.signal).toBeNull(); // it handled the signal and exited by itself…
    expect(run.code).toBe(exitCode); // …with the status a shell expects after that signal
    expect(run.output).toMatch(new RegExp(`The backup was cancelled \\(${signal}\\)`));
    await assertNothingLeft(prefix, database);
  });

  it.each([
    ['SIGTERM', 'database dump'],
    ['SIGINT', 'media copy'],
  ] as const)('the action, on %s during the %s, aborts every upload, stops pg_dump and fails the step', async (signal, phase) => {
    const prefix = uniqueName('action') + '/';
    const media = phase === 'media copy';
    const database = media ? smallDatabase : bigDatabase;
    const step = startStep('backup', inputs(prefix, database, media), { env: { ...awsEnv(), ...THROUGH_THE_RUNNER } });
    await waitForOpenUpload(step.child, media ? `${prefix}media/` : 'database.pgdump');
    const signalledAt = Date.now();
    step.child.kill(signal);
    const run = await step.done;
    expect(Date.now() - signalledAt).toBeLessThan(STOP_WITHIN_MS);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stdout).toMatch(new RegExp(`::error::lifeboat backup failed: The backup was cancelled \\(${signal}\\)`));
    expect(run.outputs['backup-id']).toBeUndefined();
    await assertNothingLeft(prefix, database);
  });
  it('a restore cancelled (SIGTERM) while it copies media stops at once and leaves no upload open in the media bucket', async () => {
    // A complete backup with media, made straight to the server.
    const prefix = uniqueName('restore') + '/';
    const backup = await runActionBundle(
      'backup',
      { ...inputs(prefix, smallDatabase, true), 's3-endpoint': s3Info().endpoint },
      { ...awsEnv(), ...THROUGH_THE_RUNNER },
    );
    expect(backup.code, visibleOutput(backup)).toBe(0);

    // The restore goes through the slow network: each part of a large media object takes 3 s to be accepted.
    const targetMedia = await createBucket('restored-uploads');
    const target = await createDatabase('cancel_restore_target');
    const step = startStep(
      'restore',
      {
        'source-space': 'production',
        'target-space': 'staging',
        'database-url': target,
        'backup-bucket': bucket,
        'backup-prefix': prefix,
        's3-endpoint': slowS3.endpoint,
        's3-region': s3Info().region,
        'media-bucket': targetMedia,
      },
      { env: { ...awsEnv(), GITHUB_WORKSPACE: workspace(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' } },
    );
    const uploadsInto = async (b: string) => (await client.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads ?? [];
    const deadline = Date.now() + 60_000;
    while ((await uploadsInto(targetMedia)).length === 0) {
      if (step.child.exitCode !== null) throw new Error(`the restore ended (code ${step.child.exitCode}) before a media upload opened: ${visibleOutput(await step.done)}`);
      if (Date.now() > deadline) throw new Error('no media upload opened');
      await new Promise((r) => setTimeout(r, 20));
    }
    const signalledAt = Date.now();
    step.child.kill('SIGTERM');
    const run = await step.done;
    expect(Date.now() - signalledAt).toBeLessThan(STOP_WITHIN_MS);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain('::error::lifeboat restore failed: The restore was cancelled (SIGTERM). The database of staging was restored');
    expect(run.stdout).toContain("was cancelled part-way, its uploads aborted. Run the same restore again; it copies only the media that still differ.");
    expect(await uploadsInto(targetMedia)).toEqual([]);
  });
});
