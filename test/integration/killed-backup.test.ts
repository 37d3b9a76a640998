/**
 * A backup killed outright (kill -9) cannot clean up: its multipart upload stays open, parts billed.
 * `list` must show that backup as incomplete, and prune, once the upload is older than the
 * incomplete-grace period, must abort it (a dry run only says it would).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { awsEnv, createBucket, createDatabase, ROOT, runActionBundle, s3Client, s3Info, withClient } from '../support/harness.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';

describe('a backup killed with SIGKILL', () => {
  // The runs talk to the sandbox's S3 server (s3rver or RGW) through a slow network, so that the backup is
  // still uploading when it is killed; the test checks the server directly.
  let slowS3: SlowProxy;
  let client: S3Client;
  let bucket: string;
  let database: string;
  const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));

  beforeAll(async () => {
    slowS3 = await startSlowProxy(s3Info().endpoint, 300);
    client = s3Client();
    bucket = await createBucket('killed');
    database = await createDatabase('killed');
    await withClient(database, (c) => c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 20) AS body FROM generate_series(1, 100000) g`));
  });
  afterAll(async () => {
    await slowS3?.close();
  });

  const openUploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
  const bucketInputs = () => ({
    'backup-bucket': bucket,
    'backup-prefix': 'lb',
    's3-endpoint': slowS3.endpoint,
    's3-region': s3Info().region,
  });
  const env = (extra: Record<string, string> = {}) => ({ ...awsEnv(), GITHUB_WORKSPACE: workspace, ...extra });
  type Listed = { id: string; status: string };

  it('leaves an open upload that list shows as an incomplete backup, and that prune aborts once past the grace period', async () => {
    const flags = Object.entries({ space: 'dev', 'database-url': database, compression: 'none', 'part-size-mb': '5', ...bucketInputs() }).flatMap(([k, v]) => [`--${k}`, v]);
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'index.js'), 'backup', ...flags], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...awsEnv() }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    // The dump's upload, not the write check that backup makes (and aborts) before it starts.
    while (!(await openUploads()).some((u) => u.Key?.endsWith('database.pgdump'))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('no upload opened');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const [left] = await openUploads();
    expect(left?.Key).toMatch(/^lb\/backups\/dev\/[^/]+\/database\.pgdump$/);
    const id = left!.Key!.split('/')[3]!;

    // list: the killed backup is there, incomplete, and never the latest.
    const list = await runActionBundle('list', bucketInputs(), env());
    expect(list.code, list.stdout).toBe(0);
    const backups = JSON.parse(list.outputs.backups!) as Listed[];
    expect(backups).toEqual([expect.objectContaining({ id, status: 'incomplete' })]);
    expect(list.outputs.latest).toBe('');
    expect(list.summary).toContain('Incomplete, not restorable (1)');

    // Within the grace period the upload could be a backup still running: prune leaves it.
    const early = await runActionBundle('prune', bucketInputs(), env());
    expect(early.code, early.stdout).toBe(0);
    expect(JSON.parse(early.outputs['aborted-uploads']!)).toEqual([]);
    expect(await openUploads()).toHaveLength(1);

    const later = { LIFEBOAT_NOW: new Date(Date.now() + 2 * 86_400_000).toISOString() };
    // A dry run says what it would abort, and aborts nothing.
    const dry = await runActionBundle('prune', { ...bucketInputs(), 'dry-run': 'true' }, env(later));
    expect(dry.code, dry.stdout).toBe(0);
    expect(JSON.parse(dry.outputs['aborted-uploads']!)).toEqual([left!.Key]);
    expect(dry.summary).toMatch(/Open multipart uploads: 1; 1 older than the grace period would be aborted/);
    expect(await openUploads()).toHaveLength(1);

    const prune = await runActionBundle('prune', bucketInputs(), env(later));
    expect(prune.code, prune.stdout).toBe(0);
    expect(JSON.parse(prune.outputs['aborted-uploads']!)).toEqual([left!.Key]);
    expect(prune.summary).toMatch(/Open multipart uploads: 1; 1 older than the grace period were aborted/);
    expect(prune.stdout).toMatch(/Open multipart uploads: 1 found; 1 older than the grace period aborted/);
    expect(await openUploads()).toEqual([]);

    const after = await runActionBundle('list', bucketInputs(), env());
    expect(JSON.parse(after.outputs.backups!)).toEqual([]);
  });
});
