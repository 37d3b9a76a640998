/** The restore action puts a backup's media back together with its database. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { schemaDump, tableDigests } from '../support/compare.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, runActionBundle, s3Client, s3Info, startStep, visibleOutput } from '../support/harness.js';

const s3 = () => {
  const info = s3Info();
  return { endpoint: info.endpoint, region: info.region, credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } };
};

describe('restore with media', () => {
  it('restores the database and mirrors the media bucket, and refuses without a media bucket', async () => {
    const source = await createDatabase('source');
    await createSampleApp(source);
    const prodMedia = await createBucket('prod-media');
    const backups = await createBucket('backups');
    for (const [key, body] of [['docs/a.pdf', 'A'], ['docs/b b.pdf', 'B'], ['ü/c.txt', '']] as const) {
      await s3Client().send(new PutObjectCommand({ Bucket: prodMedia, Key: key, Body: body, ContentType: 'application/pdf', Metadata: { owner: 'x' } }));
    }
    const backup = await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: { bucket: backups, prefix: '', ...s3() }, media: { source: { bucket: prodMedia, prefix: '', ...s3() } },
      },
      memoryLogger(),
    );
    expect(backup.manifest.media?.totals.objects).toBe(3);

    const listed = await runActionBundle('list', { ...bucketInputs(backups), details: 'true' }, awsEnv());
    expect(listed.code, listed.stdout).toBe(0);
    const [entry] = JSON.parse(listed.outputs.backups!);
    expect(entry.details).toMatchObject({ tables: 3, media: { objects: 3, newObjects: 3, reusedObjects: 0, bytes: 2 } });
    expect(entry.details.databaseBytes).toBeGreaterThan(1000);
    expect(listed.summary).toContain('| Backup | Database, uncompressed | Media objects | Media stored anew |');
    expect(listed.summary).toMatch(/ \| 3 \(2 B\) \| 3 \(2 B\) \|\n/);

    const target = await createDatabase('staging');
    const stagingMedia = await createBucket('staging-media');
    await s3Client().send(new PutObjectCommand({ Bucket: stagingMedia, Key: 'docs/a.pdf', Body: 'old A' }));
    await s3Client().send(new PutObjectCommand({ Bucket: stagingMedia, Key: 'stale.txt', Body: 'gone after restore' }));
    const env = { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) };
    const inputs = { ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target };

    const refused = await runActionBundle('restore', inputs, env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/holds the media bucket too \(3 objects\), but 'media-bucket' .* is not given/);
    expect((await listKeys(stagingMedia)).map((k) => k.key).sort()).toEqual(['docs/a.pdf', 'stale.txt']);

    const run = await runActionBundle('restore', { ...inputs, 'media-bucket': stagingMedia }, env);
    expect(run.code, visibleOutput(run)).toBe(0);
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
    expect((await listKeys(stagingMedia)).map((k) => k.key).sort()).toEqual(['docs/a.pdf', 'docs/b b.pdf', 'ü/c.txt']);
    expect(run.summary).toMatch(/Media: `s3:\/\/staging-media-\w+` now holds the backup's 3 objects \(2 B\): 3 copied \(\d+ B, SHA-256 checked\), 0 already right, 1 deleted/);
  });
});

describe('restore with media: the target media bucket', () => {
  async function mediaBackup() {
    const source = await createDatabase('source');
    await createSampleApp(source);
    const prodMedia = await createBucket('prod-media');
    const backups = await createBucket('backups');
    await s3Client().send(new PutObjectCommand({ Bucket: prodMedia, Key: 'docs/a.pdf', Body: 'A' }));
    await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: { bucket: backups, prefix: '', ...s3() }, media: { source: { bucket: prodMedia, prefix: '', ...s3() } },
      },
      memoryLogger(),
    );
    const target = await createDatabase('staging');
    await createSampleApp(target, 2);
    const env = { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) };
    const inputs = { ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target };
    return { source, target, env, inputs };
  }

  it('refuses a media bucket that does not exist before the database is touched, naming the input', async () => {
    const { target, env, inputs } = await mediaBackup();
    const before = { digests: await tableDigests(target), schema: schemaDump(target) };
    const run = await runActionBundle('restore', { ...inputs, 'media-bucket': 'no-such-media-bucket' }, env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Cannot restore the media into s3:\/\/no-such-media-bucket given in 'media-bucket': the bucket does not exist \(NoSuchBucket, HTTP 404\)(: [^.]*)?\. Nothing was changed\./);
    expect(run.stdout).not.toMatch(/\n\s+at /); // no stack trace
    expect({ digests: await tableDigests(target), schema: schemaDump(target) }).toEqual(before);
  });

  it('a media bucket that fails after the database was restored gives a clear error, not a stack trace', async () => {
    const { source, target, env, inputs } = await mediaBackup();
    const stagingMedia = await createBucket('staging-media');
    // The bucket passes the check before the wipe, then disappears while the database is being restored.
    const step = startStep('restore', { ...inputs, 'media-bucket': stagingMedia }, { env });
    let deleted = false;
    step.child.stdout!.on('data', (d: Buffer) => {
      if (!deleted && d.toString().includes('in one transaction')) {
        deleted = true;
        void s3Client().send(new DeleteBucketCommand({ Bucket: stagingMedia }));
      }
    });
    const run = await step.done;
    expect(deleted).toBe(true);
    expect(run.code).toBe(1);
    const error = run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
    expect(error).toMatch(/The database of staging was restored from \S+ and verified, but restoring the media into s3:\/\/staging-media-\w+ \('media-bucket'\) failed: .*the bucket does not exist \(NoSuchBucket, HTTP 404\).*run the same restore again/);
    expect(run.everything).not.toMatch(/\n\s+at /);
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
  });
});

describe('restore with media: transient failures', () => {
  it('a media object whose content arrives cut short is fetched again, and the restore completes', async () => {
    const { startFaultProxy } = await import('../support/fault-proxy.js');
    const source = await createDatabase('source');
    await createSampleApp(source);
    const prodMedia = await createBucket('prod-media');
    const backups = await createBucket('backups');
    for (const [key, body] of [['a.txt', 'first object, long enough to be cut'], ['b.txt', 'second object, long enough to be cut']] as const) {
      await s3Client().send(new PutObjectCommand({ Bucket: prodMedia, Key: key, Body: body }));
    }
    await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: { bucket: backups, prefix: '', ...s3() }, media: { source: { bucket: prodMedia, prefix: '', ...s3() } },
      },
      memoryLogger(),
    );
    const proxy = await startFaultProxy(s3Info().endpoint);
    try {
      // The first GET of each stored content object comes back short (a clean, shorter Content-Length):
      // after the verification pass, so the copy itself is what meets the fault.
      const seen = new Map<string, number>();
      const cut = {
        match: (r: { method: string; url: string }) => {
          if (r.method !== 'GET' || !r.url.includes('/media/sha256/')) return false;
          const n = (seen.get(r.url) ?? 0) + 1;
          seen.set(r.url, n);
          return n === 1;
        },
        alterResponseBody: (body: Buffer) => body.subarray(0, Math.max(1, body.length - 5)),
      };
      proxy.faults.push(cut);
      const target = await createDatabase('staging');
      const stagingMedia = await createBucket('staging-media');
      const env = { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) };
      const run = await runActionBundle(
        'restore',
        { ...bucketInputs(backups), 's3-endpoint': proxy.endpoint, 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'media-bucket': stagingMedia, 'media-s3-endpoint': s3Info().endpoint },
        env,
      );
      expect(run.code, visibleOutput(run)).toBe(0);
      expect((cut as { hits?: number }).hits).toBe(2);
      expect(run.stdout).toMatch(/Media object 'a\.txt': attempt 1 failed .*trying again/);
      const restored = await Promise.all(['a.txt', 'b.txt'].map(async (key) => (await s3Client().send(new GetObjectCommand({ Bucket: stagingMedia, Key: key }))).Body!.transformToString()));
      expect(restored).toEqual(['first object, long enough to be cut', 'second object, long enough to be cut']);
    } finally {
      await proxy.stop();
    }
  });
});
