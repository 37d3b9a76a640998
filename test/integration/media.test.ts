import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { MediaRecord } from '../../src/domain/manifest.js';
import { runBackup, type BackupOptions } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { restoreMedia, SHA256_METADATA, verifyMediaPresent, type MediaTuning } from '../../src/engine/media/media.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { createBucket, createDatabase, listKeys, s3Client, s3Info } from '../support/harness.js';
import { mediaObjectsOf } from '../support/media-index.js';

/** Small thresholds so that a 6 MiB object takes the streamed, multipart path. */
const TUNING: MediaTuning = { concurrency: 8, smallObjectBytes: 1024 * 1024, partSize: 5 * 1024 * 1024 };

function settings(bucket: string, prefix = ''): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix, endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

interface SeedObject {
  key: string;
  body: Buffer;
  contentType?: string;
  metadata?: Record<string, string>;
}

const large = randomBytes(6 * 1024 * 1024 + 123);
const SEED: SeedObject[] = [
  { key: 'uploads/2026/report final.pdf', body: Buffer.from('%PDF-1.7 pretend'), contentType: 'application/pdf', metadata: { 'uploaded-by': 'user-17', original: 'report final.pdf' } },
  { key: 'uploads/ünïcødé/文件/файл №1.txt', body: Buffer.from('héllo wörld ✓'), contentType: 'text/plain; charset=utf-8' },
  { key: 'a/b/c/d/e/f/g/h/deep.json', body: Buffer.from('{"deep":true}'), contentType: 'application/json' },
  { key: 'empty.bin', body: Buffer.alloc(0), contentType: 'application/octet-stream' },
  { key: 'scans/large.tiff', body: large, contentType: 'image/tiff', metadata: { pages: '42' } },
  { key: 'duplicate-of-deep.json', body: Buffer.from('{"deep":true}'), contentType: 'application/json' },
];

async function put(bucket: string, o: SeedObject, prefix = 'app/') {
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: prefix + o.key, Body: o.body, ContentType: o.contentType, Metadata: o.metadata }));
}

/** The bucket's objects as a person would compare them: content hash, content type and metadata. */
async function snapshotBucket(bucket: string, prefix = 'app/') {
  const out: Record<string, { sha256: string; contentType?: string; metadata: Record<string, string> }> = {};
  for (const { key } of await listKeys(bucket, prefix)) {
    const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    // Restore marks multipart objects with their SHA-256 (their ETag is not an MD5); not the application's metadata.
    const { [SHA256_METADATA]: _sha256, ...metadata } = object.Metadata ?? {};
    out[key.slice(prefix.length)] = { sha256: createHash('sha256').update(body).digest('hex'), contentType: object.ContentType, metadata };
  }
  return out;
}

describe('media bucket', () => {
  it('backs up incrementally, by content, and restores any backup exactly as it was', async () => {
    const database = await createDatabase('media');
    const mediaBucket = await createBucket('media');
    const backupBucket = await createBucket('backups');
    for (const o of SEED) await put(mediaBucket, o);
    await put(mediaBucket, { key: 'outside-the-prefix.txt', body: Buffer.from('x') }, '');
    const original = await snapshotBucket(mediaBucket);

    const backup = (at: string) => {
      const options: BackupOptions = {
        space: 'production', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: settings(backupBucket), media: { source: settings(mediaBucket, 'app'), tuning: TUNING },
        env: { ...process.env, LIFEBOAT_NOW: at },
      };
      return runBackup(options, memoryLogger());
    };
    const casKeys = async () => (await listKeys(backupBucket, 'media/sha256/')).map((k) => k.key).sort();

    // 1. First backup: every distinct content is stored once (the duplicate is stored once).
    const first = await backup('2026-11-01T02:00:00Z');
    const media1 = first.manifest.media!;
    const objects1 = await mediaObjectsOf(first.manifest, new BackupStore(settings(backupBucket)));
    expect(objects1.map((o) => o.key).sort()).toEqual(SEED.map((o) => o.key).sort());
    expect(media1.totals).toMatchObject({ objects: 6, newObjects: 5, reusedObjects: 1, bytes: SEED.reduce((s, o) => s + o.body.length, 0) });
    expect(await casKeys()).toHaveLength(5);
    const report = objects1.find((o) => o.key === 'uploads/2026/report final.pdf')!;
    expect(report).toMatchObject({ contentType: 'application/pdf', metadata: { 'uploaded-by': 'user-17', original: 'report final.pdf' }, size: 16 });
    expect(report.sha256).toBe(createHash('sha256').update(SEED[0]!.body).digest('hex'));
    expect(objects1.find((o) => o.key === 'empty.bin')).toMatchObject({ size: 0, sha256: createHash('sha256').update('').digest('hex') });

    // 2. Unchanged bucket: no object data read or written, nothing new stored.
    const second = await backup('2026-11-02T02:00:00Z');
    expect(second.mediaTraffic).toEqual({ bytesRead: 0, bytesWritten: 0, objectsWritten: 0 });
    // …and the index is the previous backup's, chunk for chunk: nothing written.
    expect(second.mediaIndex).toEqual({ chunksWritten: 0, chunksReused: 1, bytesWritten: 0 });
    expect(second.manifest.media!.index).toEqual(media1.index);
    expect(second.manifest.media!.totals).toMatchObject({ objects: 6, newObjects: 0, reusedObjects: 6 });
    expect(await casKeys()).toHaveLength(5);

    // 3. One changed object: exactly that object is read and stored.
    const changed = Buffer.from('%PDF-1.7 revised');
    await put(mediaBucket, { ...SEED[0]!, body: changed });
    const third = await backup('2026-11-03T02:00:00Z');
    expect(third.mediaTraffic).toEqual({ bytesRead: changed.length, bytesWritten: changed.length, objectsWritten: 1 });
    expect(third.mediaIndex).toMatchObject({ chunksWritten: 1, chunksReused: 0 });
    expect(third.manifest.media!.totals).toMatchObject({ newObjects: 1, newBytes: changed.length, reusedObjects: 5 });
    expect(await casKeys()).toHaveLength(6);

    // 4. Later changes: one object deleted, the large one replaced, a new one added.
    await s3Client().send(new DeleteObjectCommand({ Bucket: mediaBucket, Key: 'app/a/b/c/d/e/f/g/h/deep.json' }));
    await put(mediaBucket, { key: 'scans/large.tiff', body: randomBytes(6 * 1024 * 1024), contentType: 'image/tiff' });
    await put(mediaBucket, { key: 'new/after.txt', body: Buffer.from('later') });
    const fourth = await backup('2026-11-04T02:00:00Z');
    expect((await mediaObjectsOf(fourth.manifest, new BackupStore(settings(backupBucket)))).map((o) => o.key)).not.toContain('a/b/c/d/e/f/g/h/deep.json');

    // Point in time: restore the first backup into a target bucket that has drifted.
    const store = new BackupStore(settings(backupBucket));
    await verifyMediaPresent(media1, store);
    const target = await createBucket('target');
    await put(target, { key: 'uploads/2026/report final.pdf', body: Buffer.from('stale'), contentType: 'text/plain' });
    await put(target, { key: 'only-in-target.txt', body: Buffer.from('must go') });
    await put(target, { ...SEED[2]! }); // already right: left alone
    await put(target, { key: 'outside.txt', body: Buffer.from('not under the prefix') }, 'other/');
    const restored = await restoreMedia(media1, store, settings(target, 'app'), memoryLogger(), TUNING);
    expect(restored).toMatchObject({ uploaded: 5, unchanged: 1, deleted: 1 });
    expect(await snapshotBucket(target)).toEqual(original);
    expect((await listKeys(target, 'other/')).map((k) => k.key)).toEqual(['other/outside.txt']);
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: target, Key: 'app/scans/large.tiff' }));
    expect(head.ContentLength).toBe(large.length);

    expect(head.ETag).toMatch(/-2"$/); // a multipart ETag, not an MD5, as on S3
    expect(head.Metadata?.[SHA256_METADATA]).toBe(createHash('sha256').update(large).digest('hex'));

    // Restoring again copies nothing that is already right, the multipart object included: it is compared by SHA-256.
    const again = await restoreMedia(media1, store, settings(target, 'app'), memoryLogger(), TUNING);
    expect(again).toMatchObject({ uploaded: 0, unchanged: 6, deleted: 0 });
    expect(again.traffic).toEqual({ bytesRead: 0, bytesWritten: 0, objectsWritten: 0 });
    expect(await snapshotBucket(target)).toEqual(original);
  });

  it('refuses to restore media whose content is missing or damaged, before changing anything', async () => {
    const mediaBucket = await createBucket('media');
    const backupBucket = await createBucket('backups');
    await put(mediaBucket, { key: 'one.txt', body: Buffer.from('one') });
    await put(mediaBucket, { key: 'two.txt', body: Buffer.from('two') });
    const database = await createDatabase('media');
    const result = await runBackup(
      {
        space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
        bucket: settings(backupBucket), media: { source: settings(mediaBucket, 'app'), tuning: TUNING },
      },
      memoryLogger(),
    );
    const media: MediaRecord = result.manifest.media!;
    const store = new BackupStore(settings(backupBucket));
    const objects = await mediaObjectsOf(result.manifest, store);
    await s3Client().send(new PutObjectCommand({ Bucket: backupBucket, Key: store.mediaObjectKey(objects[0]!.sha256), Body: 'truncated!' }));
    await expect(verifyMediaPresent(media, store)).rejects.toThrow(/1 object\(s\) are missing or damaged .*has 10 bytes, the manifest says 3/);
    await s3Client().send(new DeleteObjectCommand({ Bucket: backupBucket, Key: store.mediaObjectKey(objects[1]!.sha256) }));
    await expect(verifyMediaPresent(media, store)).rejects.toThrow(/2 object\(s\) are missing or damaged.*is missing/);

    // Content that passes the size check but not the hash is caught while copying, and the error says how to finish.
    const target = await createBucket('target');
    await put(target, { key: 'keep-me.txt', body: Buffer.from('still here') });
    await s3Client().send(new PutObjectCommand({ Bucket: backupBucket, Key: store.mediaObjectKey(objects[0]!.sha256), Body: 'xyz' }));
    await expect(restoreMedia(media, store, settings(target, 'app'), memoryLogger(), TUNING)).rejects.toThrow(
      /Media restore into s3:\/\/.*\/app\/ stopped: .*nothing was deleted.*Run the same restore again to finish/,
    );
    expect((await listKeys(target, 'app/')).map((k) => k.key)).toContain('app/keep-me.txt');
  });
});
