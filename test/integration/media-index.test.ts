/**
 * Media at scale (docs/media.md): the media index in chunks, through the shipped bundles. An unchanged
 * bucket costs a listing and no writes; a change rewrites only the chunk it falls in; any backup restores
 * the bucket exactly, old format or new; prune never deletes content a kept backup reaches only through a
 * chunk it reused, even when it is killed halfway and run again.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { serializeManifest, type Manifest } from '../../src/domain/manifest.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { verifyMediaPresent } from '../../src/engine/media/media.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, runActionBundle, s3Client, visibleOutput } from '../support/harness.js';
import { asEmbeddedFormat, mediaObjectsOf } from '../support/media-index.js';
import { bucketSettings } from '../support/restore-steps.js';
import { DAY, inPool, pruneKilledAfter, workspace } from './prune-fixtures.js';

/** Keys shaped like uploads, plus the ones whose order differs between S3 (bytes) and a directory walk. */
function keyOf(i: number): string {
  const special = ['a', 'a.txt', 'a/b', 'a/b/c', 'ü/ß.txt', 'emoji/😀.png', 'x\u{e000}', 'x\u{10000}', 'space in name.pdf'];
  // Grouped by hundreds, so key order follows the index and a run of indexes is a stretch of the bucket.
  return i < special.length ? special[i]! : `uploads/${String(Math.floor(i / 100)).padStart(3, '0')}/${String(i).padStart(6, '0')}-photo.jpg`;
}

const bodyOf = (i: number, version = 1) => `object ${i}, version ${version}`;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function seed(bucket: string, indexes: number[], version = 1): Promise<void> {
  await inPool(indexes, 32, (i) => s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(i), Body: bodyOf(i, version), ContentType: 'image/jpeg', Metadata: { n: String(i) } })));
}

/** Every object of a bucket: key, content hash, content type and metadata. */
async function snapshot(bucket: string): Promise<Record<string, string>> {
  const keys = await listKeys(bucket);
  const entries = await inPool(keys, 32, async ({ key }) => {
    const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    return [key, `${sha256(body)} ${object.ContentType} ${JSON.stringify(object.Metadata ?? {})}`] as const;
  });
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}

function env(at: string, ws = workspace()) {
  return { ...awsEnv(), LIFEBOAT_NOW: at, GITHUB_WORKSPACE: ws, GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' };
}

const iso = (ms: number) => new Date(ms).toISOString();

async function backupBundle(database: string, backups: string, media: string, at: string, ws?: string) {
  const run = await runActionBundle('backup', { ...bucketInputs(backups), space: 'production', trigger: 'nightly', 'database-url': database, 'media-bucket': media }, env(at, ws));
  expect(run.code, visibleOutput(run)).toBe(0);
  return { run, id: run.outputs['backup-id']! };
}

describe('the media index', () => {
  it('indexes thousands of objects in chunks; unchanged costs no writes, a change rewrites one chunk; every backup restores exactly, twice', async () => {
    const database = await createDatabase('app');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const store = new BackupStore(bucketSettings(backups));
    const count = 1200;
    await seed(media, Array.from({ length: count }, (_, i) => i));
    const original = await snapshot(media);
    const t0 = Date.now() + DAY;

    const first = await backupBundle(database, backups, media, iso(t0));
    const m1 = await store.getManifest('production', first.id);
    expect(m1.format).toBe('lifeboat-manifest/3');
    expect(m1.media!.objects).toEqual([]);
    expect(m1.media!.totals).toMatchObject({ objects: count, newObjects: count });
    const chunks1 = m1.media!.index!.chunks;
    expect(chunks1.length, 'cut into several chunks').toBeGreaterThan(1);
    expect(chunks1.reduce((n, c) => n + c.objects, 0)).toBe(count);
    const records = await mediaObjectsOf(m1, store);
    expect(records.map((r) => r.key)).toEqual([...records.map((r) => r.key)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(Object.keys(original)));

    // Unchanged: the same chunks, nothing written under media/.
    const mediaKeysBefore = await listKeys(backups, 'media/');
    const second = await backupBundle(database, backups, media, iso(t0 + 3_600_000));
    const m2 = await store.getManifest('production', second.id);
    expect(m2.media!.index).toEqual(m1.media!.index);
    expect(m2.media!.totals).toMatchObject({ objects: count, newObjects: 0, reusedObjects: count });
    expect(await listKeys(backups, 'media/')).toEqual(mediaKeysBefore);
    expect(second.run.stdout).toMatch(new RegExp(`index: ${chunks1.length} chunk\\(s\\), 0 written \\(0 B\\), ${chunks1.length} unchanged`));

    // One object changed, one deleted, one added: only the chunks they fall in are new.
    await seed(media, [300], 2);
    await s3Client().send(new DeleteObjectCommand({ Bucket: media, Key: keyOf(1100) }));
    await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'uploads/005/new-photo.jpg', Body: 'new', ContentType: 'image/jpeg' }));
    const third = await backupBundle(database, backups, media, iso(t0 + 2 * 3_600_000));
    const m3 = await store.getManifest('production', third.id);
    const before = new Set(chunks1.map((c) => c.address));
    const fresh = m3.media!.index!.chunks.filter((c) => !before.has(c.address));
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    expect(fresh.length).toBeLessThanOrEqual(3);
    expect(m3.media!.totals).toMatchObject({ objects: count, newObjects: 2 });
    const third_state = await snapshot(media);

    // Point in time: the first backup, into a bucket that has drifted (a changed object, an extra one).
    const target = await createDatabase('target');
    const targetMedia = await createBucket('target-media');
    await seed(targetMedia, [1, 2, 3], 9);
    await s3Client().send(new PutObjectCommand({ Bucket: targetMedia, Key: 'zz-extra.txt', Body: 'not in any backup' }));
    const restoreInputs = (id: string) => ({ ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'media-bucket': targetMedia, 'backup-id': id });
    const restored = await runActionBundle('restore', restoreInputs(first.id), env(iso(t0 + 3 * 3_600_000)));
    expect(restored.code, visibleOutput(restored)).toBe(0);
    expect(await snapshot(targetMedia)).toEqual(original);
    // The newest backup, then again: the second restore copies nothing.
    const newest = await runActionBundle('restore', restoreInputs(third.id), env(iso(t0 + 4 * 3_600_000)));
    expect(newest.code, visibleOutput(newest)).toBe(0);
    expect(await snapshot(targetMedia)).toEqual(third_state);
    const again = await runActionBundle('restore', restoreInputs(third.id), env(iso(t0 + 5 * 3_600_000)));
    expect(again.code, visibleOutput(again)).toBe(0);
    expect(visibleOutput(again)).toMatch(new RegExp(`0 restored, ${count} already right, 0 deleted`));
    expect(await snapshot(targetMedia)).toEqual(third_state);
  }, 400_000);

  it('a damaged or swapped index chunk is refused before the target is touched', async () => {
    const database = await createDatabase('app');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const store = new BackupStore(bucketSettings(backups));
    await seed(media, Array.from({ length: 1200 }, (_, i) => i));
    const t0 = Date.now() + DAY;
    const { id } = await backupBundle(database, backups, media, iso(t0));
    const manifest = await store.getManifest('production', id);
    const [chunk, other] = manifest.media!.index!.chunks;
    expect(other, 'the index has more than one chunk').toBeDefined();
    const key = store.mediaIndexKey(chunk!.address);
    const good = Buffer.from(await (await s3Client().send(new GetObjectCommand({ Bucket: backups, Key: key }))).Body!.transformToByteArray());
    const targetMedia = await createBucket('target-media');
    await s3Client().send(new PutObjectCommand({ Bucket: targetMedia, Key: 'keep.txt', Body: 'as it was' }));
    const target = await createDatabase('target');
    const inputs = { ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'media-bucket': targetMedia };

    // Another chunk's bytes under this chunk's address (the size differs: check by size first, then by hash).
    const otherBytes = Buffer.from(await (await s3Client().send(new GetObjectCommand({ Bucket: backups, Key: store.mediaIndexKey(other!.address) }))).Body!.transformToByteArray());
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: otherBytes }));
    const swapped = await runActionBundle('restore', inputs, env(iso(t0 + 3_600_000)));
    expect(swapped.code).toBe(1);
    expect(visibleOutput(swapped)).toMatch(/media index chunk \S+ has \d+ bytes, the manifest says \d+.*Nothing was changed/);
    // Same size, one byte flipped in the compressed text: gzip or the SHA-256 catches it.
    const flipped = Buffer.from(good);
    flipped[flipped.length - 12]! ^= 0x01;
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: flipped }));
    const damaged = await runActionBundle('restore', inputs, env(iso(t0 + 2 * 3_600_000)));
    expect(damaged.code).toBe(1);
    expect(visibleOutput(damaged)).toMatch(/media index chunk \S+ (is not gzip data|does not match its SHA-256).*Nothing was changed/);
    // A well-formed chunk with one record changed (another content type), its size fixed up in the
    // manifest as someone with write access to the bucket could: only the SHA-256 tells.
    const text = gunzipSync(good).toString('utf8').replace('"contentType":"image/jpeg"', '"contentType":"image/png!"');
    const forged = gzipSync(text);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: forged }));
    const fixedUp: Manifest = { ...manifest, media: { ...manifest.media!, index: { ...manifest.media!.index!, chunks: manifest.media!.index!.chunks.map((c, i) => (i === 0 ? { ...c, size: forged.length } : c)) } } };
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: store.manifestKey('production', id), Body: serializeManifest(fixedUp) }));
    const forgedRun = await runActionBundle('restore', inputs, env(iso(t0 + 2 * 3_600_000 + 60_000)));
    expect(forgedRun.code).toBe(1);
    expect(visibleOutput(forgedRun)).toMatch(/media index chunk \S+ does not match its SHA-256 \(expected [0-9a-f]{64}, got [0-9a-f]{64}\).*Nothing was changed/);
    expect((await listKeys(targetMedia)).map((k) => k.key)).toEqual(['keep.txt']);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: store.manifestKey('production', id), Body: serializeManifest(manifest) }));

    // Put back, it restores.
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: good }));
    const fine = await runActionBundle('restore', inputs, env(iso(t0 + 3 * 3_600_000)));
    expect(fine.code, visibleOutput(fine)).toBe(0);
    expect((await listKeys(targetMedia)).length).toBe(1200);
  }, 400_000);

  it('backups of the first format (objects embedded) stay listable, restorable and prunable, and the next backup builds on one', async () => {
    const database = await createDatabase('app');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const store = new BackupStore(bucketSettings(backups));
    await seed(media, Array.from({ length: 40 }, (_, i) => i));
    const oldState = await snapshot(media);
    const t0 = Date.now() + DAY;
    // The old backup: what Lifeboat wrote before the index, records embedded and no chunks.
    const old = await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
        bucket: bucketSettings(backups), media: { source: bucketSettings(media) }, env: { ...process.env, LIFEBOAT_NOW: iso(t0) },
      },
      memoryLogger(),
    );
    const embedded: Manifest = await asEmbeddedFormat(old.manifest, store);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: store.manifestKey('production', old.manifest.id), Body: serializeManifest(embedded) }));
    const chunkKeys = (await listKeys(backups, 'media/index/')).map((k) => k.key);
    await s3Client().send(new DeleteObjectsCommand({ Bucket: backups, Delete: { Objects: chunkKeys.map((Key) => ({ Key })) } }));
    expect(embedded.format).toBe('lifeboat-manifest/1');
    expect(embedded.media!.objects).toHaveLength(40);

    // The next backup reads only what changed since the old one.
    await seed(media, [7], 2);
    const next = await backupBundle(database, backups, media, iso(t0 + DAY));
    const nextManifest = await store.getManifest('production', next.id);
    expect(nextManifest.media!.totals).toMatchObject({ objects: 40, newObjects: 1, reusedObjects: 39 });
    const newState = await snapshot(media);

    const listed = await runActionBundle('list', { ...bucketInputs(backups), details: 'true' }, awsEnv());
    expect(listed.code, listed.stdout).toBe(0);
    const entries = JSON.parse(listed.outputs.backups!);
    expect(entries.map((e: { id: string; details: { media: { objects: number } } }) => [e.id, e.details.media.objects]).sort()).toEqual([[old.manifest.id, 40], [next.id, 40]].sort());

    const target = await createDatabase('target');
    const targetMedia = await createBucket('target-media');
    const inputs = (id: string) => ({ ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'media-bucket': targetMedia, 'backup-id': id });
    const restoredOld = await runActionBundle('restore', inputs(old.manifest.id), env(iso(t0 + DAY + 3_600_000)));
    expect(restoredOld.code, visibleOutput(restoredOld)).toBe(0);
    expect(await snapshot(targetMedia)).toEqual(oldState);

    // Prune keeps the newest: the old backup goes, with the content only it had; the new one is whole.
    const ws = workspace('retention:\n  - { space: production, trigger: nightly, keep-last: 1 }\n');
    const pruned = await runActionBundle('prune', bucketInputs(backups), env(iso(t0 + 4 * DAY), ws));
    expect(pruned.code, visibleOutput(pruned)).toBe(0);
    expect((await store.listEntries()).map((e) => e.id)).toEqual([next.id]);
    await expect(store.getManifest('production', next.id).then((m) => verifyMediaPresent(m.media!, store))).resolves.toMatchObject({ contents: 40 });
    const oldVersion = embedded.media!.objects.find((o) => o.key === keyOf(7))!;
    await expect(s3Client().send(new HeadObjectCommand({ Bucket: backups, Key: store.mediaObjectKey(oldVersion.sha256) }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const restoredNew = await runActionBundle('restore', inputs(next.id), env(iso(t0 + 4 * DAY + 3_600_000)));
    expect(restoredNew.code, visibleOutput(restoredNew)).toBe(0);
    expect(await snapshot(targetMedia)).toEqual(newState);
  }, 400_000);

  it('prune never deletes content a kept backup reaches only through a reused chunk, also when killed halfway and run again', async () => {
    const database = await createDatabase('app');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const store = new BackupStore(bucketSettings(backups));
    const count = 1500;
    await seed(media, Array.from({ length: count }, (_, i) => i));
    const t0 = Date.now() + DAY;
    const first = await backupBundle(database, backups, media, iso(t0));
    // 1,100 objects, a stretch at the end of the bucket, change (more than one DeleteObjects request of
    // garbage later); the chunk before them is reused as it is.
    const changed = Array.from({ length: 1100 }, (_, i) => 400 + i);
    await seed(media, changed, 2);
    const state = await snapshot(media);
    const second = await backupBundle(database, backups, media, iso(t0 + DAY));
    const m1 = await store.getManifest('production', first.id);
    const m2 = await store.getManifest('production', second.id);
    const written1 = new Set(m1.media!.index!.chunks.map((c) => c.address));
    const reused = m2.media!.index!.chunks.filter((c) => written1.has(c.address));
    expect(reused.length, 'the second backup reuses chunks the first wrote').toBeGreaterThan(0);
    expect(reused.length).toBeLessThan(m2.media!.index!.chunks.length);

    // Killed (SIGKILL) once the store has answered the third DeleteObjects: the manifest, the artifacts,
    // then the first batch of unreferenced media; the second batch never arrives.
    const ws = workspace('retention:\n  - { space: production, trigger: nightly, keep-last: 1 }\n');
    const at = iso(t0 + 4 * DAY);
    const killed = await pruneKilledAfter(backups, ws, at, 3, 200);
    expect(killed.killed, killed.log).toBe(true);
    expect((await store.listEntries()).filter((e) => e.status === 'complete').map((e) => e.id)).toEqual([second.id]);
    await expect(verifyMediaPresent(m2.media!, store)).resolves.toBeDefined();
    const left = (await listKeys(backups, 'media/sha256/')).length;
    expect(left, 'some unreferenced content deleted, some left').toBeLessThan(count + 1100);
    expect(left).toBeGreaterThan(count);

    // Run again: it finishes. Exactly the second backup's content and chunks remain.
    const rerun = await runActionBundle('prune', bucketInputs(backups), env(at, ws));
    expect(rerun.code, visibleOutput(rerun)).toBe(0);
    const records = await mediaObjectsOf(m2, store);
    const wanted = new Set([...records.map((r) => store.mediaObjectKey(r.sha256)), ...m2.media!.index!.chunks.map((c) => store.mediaIndexKey(c.address))]);
    expect(new Set((await listKeys(backups, 'media/')).map((k) => k.key))).toEqual(wanted);

    const target = await createDatabase('target');
    const targetMedia = await createBucket('target-media');
    const restored = await runActionBundle(
      'restore',
      { ...bucketInputs(backups), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'media-bucket': targetMedia },
      env(iso(t0 + 4 * DAY + 3_600_000)),
    );
    expect(restored.code, visibleOutput(restored)).toBe(0);
    expect(await snapshot(targetMedia)).toEqual(state);
  }, 400_000);
});
