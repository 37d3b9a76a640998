/**
 * Media is verified at the source, restored with every standard header, and compared by SHA-256 on
 * restore. Faults on the media bucket go through a real HTTP proxy in front of the real S3 server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeManifest, type Manifest } from '../../src/domain/manifest.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { MEDIA_READ_ATTEMPTS, restoreMedia, verifyMediaPresent, type MediaTuning } from '../../src/engine/media/media.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { isGetObject, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createBucket, createDatabase, getObjectBytes, listKeys, s3Client, s3Info } from '../support/harness.js';
import { asEmbeddedFormat, mediaObjectsOf } from '../support/media-index.js';

const MIB = 1024 * 1024;
const TUNING: MediaTuning = { concurrency: 4, smallObjectBytes: MIB, partSize: 5 * MIB };
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let proxy: FaultProxy;
let database: string;
beforeAll(async () => {
  proxy = await startFaultProxy(s3Info().endpoint);
  database = await createDatabase('media-integrity');
});
afterAll(async () => proxy.stop());

function settings(bucket: string, endpoint = s3Info().endpoint): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

const put = (bucket: string, key: string, body: Buffer | string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
  s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));

/** A backup reading the media bucket through the fault proxy. */
const backup = (backups: string, media: string, at?: string) =>
  runBackup(
    {
      space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
      bucket: settings(backups), media: { source: settings(media, proxy.endpoint), tuning: TUNING },
      ...(at ? { env: { ...process.env, LIFEBOAT_NOW: at } } : {}),
    },
    memoryLogger(),
  );

const manifests = async (backups: string) => (await listKeys(backups, 'backups/')).filter((k) => k.key.endsWith('manifest.json'));

/** Restores a backup's media into a fresh bucket and returns each object's SHA-256. */
async function restoredContents(backups: string, manifest: Manifest): Promise<Record<string, string>> {
  const store = new BackupStore(settings(backups));
  await verifyMediaPresent(manifest.media!, store);
  const target = await createBucket('target');
  await restoreMedia(manifest.media!, store, settings(target), memoryLogger(), TUNING);
  const out: Record<string, string> = {};
  for (const { key } of await listKeys(target)) out[key] = sha256(await getObjectBytes(target, key));
  return out;
}

describe('media verified at the source', () => {
  it('a cleanly truncated GET (shorter Content-Length) is read again; one that stays truncated fails the backup, which records nothing', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const small = 'twenty-six letters, a-z.';
    const large = randomBytes(6 * MIB + 3);
    await put(media, 'small.txt', small);
    await put(media, 'large.bin', large);
    const truncate = (key: string, times?: number) => ({
      match: (r: Parameters<typeof isGetObject>[0]) => r.url.startsWith(`/${media}/`) && isGetObject(r, key),
      times,
      alterResponseBody: (body: Buffer, status: number) => (status === 200 ? body.subarray(0, Math.floor(body.length / 2)) : body),
    });

    // Every read truncated: the backup fails, naming the object, and leaves no manifest.
    proxy.faults.push(truncate('small.txt'));
    try {
      await expect(backup(backups, media)).rejects.toThrow(new RegExp(`'small.txt' changed or came back wrong each of the ${MEDIA_READ_ATTEMPTS} times.*Content-Length 12, the listing said 24 bytes`));
    } finally {
      proxy.faults.length = 0;
    }
    expect(await manifests(backups)).toEqual([]);

    // Truncated and sent without a Content-Length (chunked): the bytes counted on arrival give it away.
    proxy.faults.push({ ...truncate('small.txt'), chunked: true });
    try {
      await expect(backup(backups, media)).rejects.toThrow(/'small.txt' changed or came back wrong.*12 bytes arrived, the listing said 24/);
    } finally {
      proxy.faults.length = 0;
    }
    expect(await manifests(backups)).toEqual([]);

    // Truncated once, small and large: read again, recorded right, restorable.
    const faults = [truncate('small.txt', 1), truncate('large.bin', 1)];
    proxy.faults.push(...faults);
    try {
      const result = await backup(backups, media);
      expect(faults.map((f) => (f as { hits?: number }).hits)).toEqual([1, 1]);
      const records = Object.fromEntries((await mediaObjectsOf(result.manifest, new BackupStore(settings(backups)))).map((o) => [o.key, o]));
      expect(records['small.txt']).toMatchObject({ size: small.length, sha256: sha256(small), verified: true });
      expect(records['large.bin']).toMatchObject({ size: large.length, sha256: sha256(large), verified: true });
      expect(await restoredContents(backups, result.manifest)).toEqual({ 'small.txt': sha256(small), 'large.bin': sha256(large) });
    } finally {
      proxy.faults.length = 0;
    }
  });

  it('an object replaced between the listing and its read is recorded as it now is, never with the listed size and other bytes', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    await put(media, 'doc.txt', 'the first version');
    await put(media, 'big.bin', randomBytes(6 * MIB));
    const replacedDoc = 'the second version, which is longer';
    const replacedBig = randomBytes(6 * MIB + 100);
    // The application replaces each object at the moment its first GET arrives, after the listing.
    const replaceOnGet = (key: string, body: Buffer | string) => ({
      match: (r: Parameters<typeof isGetObject>[0]) => r.url.startsWith(`/${media}/`) && isGetObject(r, key),
      times: 1,
      before: async () => void (await put(media, key, body)),
    });
    proxy.faults.push(replaceOnGet('doc.txt', replacedDoc), replaceOnGet('big.bin', replacedBig));
    try {
      const result = await backup(backups, media);
      const records = Object.fromEntries((await mediaObjectsOf(result.manifest, new BackupStore(settings(backups)))).map((o) => [o.key, o]));
      expect(records['doc.txt']).toMatchObject({ size: replacedDoc.length, sha256: sha256(replacedDoc), verified: true });
      expect(records['big.bin']).toMatchObject({ size: replacedBig.length, sha256: sha256(replacedBig), verified: true });
      expect(await restoredContents(backups, result.manifest)).toEqual({ 'doc.txt': sha256(replacedDoc), 'big.bin': sha256(replacedBig) });
    } finally {
      proxy.faults.length = 0;
    }
  });

  it('only a verified record is carried over: an unverified (older or wrong) one is read again by the next backup', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const body = 'content the manifest got wrong';
    await put(media, 'doc.txt', body);
    const first = await backup(backups, media, '2026-11-01T02:00:00Z');
    // A record from before verification, describing other bytes: what a lying record looked like, in a
    // manifest of the first format (records embedded), as Lifeboat wrote them then.
    const store = new BackupStore(settings(backups));
    const embedded = await asEmbeddedFormat(first.manifest, store);
    const lie = { ...embedded.media!.objects[0]!, sha256: sha256('other bytes'), md5: createHash('md5').update('other bytes').digest('hex') };
    delete (lie as { verified?: boolean }).verified;
    const manifest: Manifest = { ...embedded, media: { ...embedded.media!, objects: [lie] } };
    await put(backups, store.manifestKey('dev', first.manifest.id), serializeManifest(manifest));

    const second = await backup(backups, media, '2026-11-02T02:00:00Z');
    expect(second.mediaTraffic!.bytesRead).toBe(body.length);
    expect((await mediaObjectsOf(second.manifest, store))[0]).toMatchObject({ key: 'doc.txt', sha256: sha256(body), verified: true });
    // And the verified record is carried over by the one after.
    const third = await backup(backups, media, '2026-11-03T02:00:00Z');
    expect(third.mediaTraffic!.bytesRead).toBe(0);
    expect(await restoredContents(backups, third.manifest)).toEqual({ 'doc.txt': sha256(body) });
  });
});

describe('media restore', () => {
  it('keeps and restores every standard header: Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires, redirect', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const headers = {
      ContentType: 'text/html; charset=utf-8',
      CacheControl: 'public, max-age=31536000, immutable',
      ContentDisposition: 'attachment; filename="report.html"',
      ContentEncoding: 'identity',
      ContentLanguage: 'de-CH',
      Expires: new Date('2031-01-02T03:04:05Z'),
      WebsiteRedirectLocation: '/elsewhere.html',
      Metadata: { owner: 'user-9' },
    };
    await put(media, 'page.html', '<p>hallo</p>', headers);
    // s3rver refuses a redirect on multipart uploads (S3 allows it), so the large object goes without.
    const { WebsiteRedirectLocation: _redirect, ...largeHeaders } = headers;
    await put(media, 'big.bin', randomBytes(6 * MIB), largeHeaders);
    const result = await backup(backups, media);
    const store = new BackupStore(settings(backups));
    const target = await createBucket('target');
    await restoreMedia(result.manifest.media!, store, settings(target), memoryLogger(), TUNING);
    for (const key of ['page.html', 'big.bin']) {
      const head = await s3Client().send(new HeadObjectCommand({ Bucket: target, Key: key }));
      expect(head, key).toMatchObject({
        ContentType: headers.ContentType,
        CacheControl: headers.CacheControl,
        ContentDisposition: headers.ContentDisposition,
        ContentEncoding: headers.ContentEncoding,
        ContentLanguage: headers.ContentLanguage,
      });
      if (key === 'page.html') expect(head.WebsiteRedirectLocation).toBe(headers.WebsiteRedirectLocation);
      expect(head.Expires?.toISOString(), key).toBe(headers.Expires.toISOString());
      expect(head.Metadata, key).toMatchObject({ owner: 'user-9' });
    }
    // A header changed on the target is put back; everything else is left alone.
    await put(target, 'page.html', '<p>hallo</p>', { ...headers, CacheControl: 'no-store' });
    const again = await restoreMedia(result.manifest.media!, store, settings(target), memoryLogger(), TUNING);
    expect(again).toMatchObject({ uploaded: 1, unchanged: 1 });
    expect((await s3Client().send(new HeadObjectCommand({ Bucket: target, Key: 'page.html' }))).CacheControl).toBe(headers.CacheControl);
  });

  it('a second restore of a bucket holding an object over 8 MiB (multipart, its ETag no MD5) transfers nothing', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const large = randomBytes(9 * MIB);
    await put(media, 'video.mp4', large, { ContentType: 'video/mp4' });
    await put(media, 'note.txt', 'small');
    const result = await runBackup(
      {
        space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
        bucket: settings(backups), media: { source: settings(media) },
      },
      memoryLogger(),
    );
    const store = new BackupStore(settings(backups));
    const target = await createBucket('target');
    const first = await restoreMedia(result.manifest.media!, store, settings(target), memoryLogger());
    expect(first.uploaded).toBe(2);
    expect((await s3Client().send(new HeadObjectCommand({ Bucket: target, Key: 'video.mp4' }))).ETag).toMatch(/-2"$/);
    const second = await restoreMedia(result.manifest.media!, store, settings(target), memoryLogger());
    expect(second).toMatchObject({ uploaded: 0, unchanged: 2, deleted: 0 });
    expect(second.traffic).toEqual({ bytesRead: 0, bytesWritten: 0, objectsWritten: 0 });
    expect(sha256(await getObjectBytes(target, 'video.mp4'))).toBe(sha256(large));
  });
});
