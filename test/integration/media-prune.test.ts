/** Prune deletes media content only when no remaining backup refers to it and it is past the grace period. */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/domain/policy.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { verifyMediaPresent } from '../../src/engine/media/media.js';
import { runPrune } from '../../src/engine/prune/prune.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { createBucket, createDatabase, listKeys, s3Client, s3Info } from '../support/harness.js';
import { mediaObjectsOf } from '../support/media-index.js';
import type { MediaObjectRecord } from '../../src/domain/manifest.js';

function settings(bucket: string): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('prune and media content', () => {
  it('deletes content only old, unreferenced backups used, and leaves every kept backup restorable', async () => {
    const database = await createDatabase('media');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const put = (key: string, body: string) => s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: body }));
    await put('a.txt', 'version 1 of a');
    await put('b.txt', 'b never changes');
    // The history is set in the future so that the content, stored now, is old by the time of the prune.
    const t0 = Math.ceil(Date.now() / DAY) * DAY + 10 * DAY + 2 * 3_600_000;
    const backupAt = async (at: number) =>
      (
        await runBackup(
          {
            space: 'dev', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
            bucket: settings(backups), media: { source: settings(media) }, env: { ...process.env, LIFEBOAT_NOW: iso(at) },
          },
          memoryLogger(),
        )
      ).manifest;
    const first = await backupAt(t0);
    await put('a.txt', 'version 2 of a');
    const second = await backupAt(t0 + DAY);
    const third = await backupAt(t0 + 2 * DAY);
    const content = async () => (await listKeys(backups, 'media/sha256/')).map((k) => k.key.split('/').pop()!).sort();
    const store = new BackupStore(settings(backups));
    const objectsOf = { first: await mediaObjectsOf(first, store), second: await mediaObjectsOf(second, store) };
    const sha = (objects: MediaObjectRecord[], key: string) => objects.find((o) => o.key === key)!.sha256;
    expect(await content()).toEqual([sha(objectsOf.first, 'a.txt'), sha(objectsOf.first, 'b.txt'), sha(objectsOf.second, 'a.txt')].sort());
    // The index: the first backup's chunk, and the second's, which the unchanged third reuses.
    expect(third.media!.index!.chunks).toEqual(second.media!.index!.chunks);
    const freed = 'version 1 of a'.length + first.media!.index!.chunks[0]!.size;

    const prune = (at: number, dryRun = false) =>
      runPrune({ bucket: settings(backups), policy: DEFAULT_POLICY, incompleteGraceMs: DAY, dryRun, env: { ...process.env, LIFEBOAT_NOW: iso(at) } }, memoryLogger());

    // dev nightly keeps 1 day: only the third backup stays. Its content (a v2, b) stays; a v1 goes.
    // The dry run reports exactly what the real run then deletes: content unreferenced once the planned backups are gone.
    const dry = await prune(t0 + 2 * DAY + 3_600_000, true);
    // Counted: content and index chunks. a v1 and the first chunk go.
    expect(dry.media).toMatchObject({ stored: 5, referenced: 3, deleted: 2, bytesFreed: freed, tooYoung: 0 });
    expect(await content()).toHaveLength(3);
    const result = await prune(t0 + 2 * DAY + 3_600_000);
    expect(result.deleted.map((e) => e.id).sort()).toEqual([first.id, second.id].sort());
    expect(result.media).toMatchObject({ stored: 5, referenced: 3, deleted: 2, bytesFreed: freed, tooYoung: 0 });
    expect((await listKeys(backups, 'media/index/')).map((k) => k.key)).toEqual([store.mediaIndexKey(third.media!.index!.chunks[0]!.address)]);
    expect(result.media).toEqual(dry.media);
    const objectsOfThird = await mediaObjectsOf(third, store);
    expect(await content()).toEqual([sha(objectsOfThird, 'a.txt'), sha(objectsOfThird, 'b.txt')].sort());
    await verifyMediaPresent(third.media!, new BackupStore(settings(backups)));

    // Content no manifest refers to yet, just written (as by a backup still running), is kept until it is old.
    const stray = 'f'.repeat(64);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: `media/sha256/ff/${stray}`, Body: 'in flight' }));
    const soon = await prune(Date.now() + 3_600_000);
    expect(soon.media).toMatchObject({ deleted: 0, tooYoung: 1 });
    expect(await content()).toContain(stray);
    const later = await prune(t0 + 3 * DAY);
    expect(later.media).toMatchObject({ deleted: 1, tooYoung: 0 });
    expect(await content()).not.toContain(stray);
    expect(await content()).toHaveLength(2);
  });

  it('refreshes the age of old content a new backup reuses, so a concurrent prune cannot take it', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const body = 'same bytes as content stored long ago';
    const store = new BackupStore(settings(backups));
    const { createHash } = await import('node:crypto');
    const casKey = store.mediaObjectKey(createHash('sha256').update(body).digest('hex'));
    // Content some other backup stored earlier, and no manifest refers to any more.
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: casKey, Body: body }));
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const before = (await s3Client().send(new HeadObjectCommand({ Bucket: backups, Key: casKey }))).LastModified!;
    await new Promise((r) => setTimeout(r, 1100)); // last-modified times have whole seconds
    await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'reused.txt', Body: body }));
    const result = await runBackup(
      {
        space: 'dev', trigger: 'manual', databaseUrl: await createDatabase('reuse'), compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
        bucket: settings(backups), media: { source: settings(media) },
      },
      memoryLogger(),
    );
    expect(result.manifest.media!.totals).toMatchObject({ objects: 1, newObjects: 0, reusedObjects: 1 });
    const after = (await s3Client().send(new HeadObjectCommand({ Bucket: backups, Key: casKey }))).LastModified!;
    expect(after.getTime()).toBeGreaterThan(before.getTime());
  });
});
