/** The restore action puts a backup's media back together with its database. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests } from '../support/compare.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, runActionBundle, s3Client, s3Info, visibleOutput } from '../support/harness.js';

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
    expect(listed.summary).toContain('| Media objects | Media bytes | Media new | Media reused |');
    expect(listed.summary).toContain('| 3 | 2 B | 3 (2 B) | 0 (0 B) |');

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
    expect(run.summary).toMatch(/Media: s3:\/\/staging-media-\w+ now holds the backup's 3 objects/);
    expect(run.summary).toMatch(/\| 3 \| 0 \| 1 \|/);
  });
});
