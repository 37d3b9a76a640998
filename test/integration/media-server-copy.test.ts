/**
 * Server-side copy of media content (docs/media.md "Copying"): when one credential reaches the media and
 * backup buckets on one server, new content is copied inside the store by CopyObject, pinned to the ETag
 * of the bytes Lifeboat hashed. Every request goes through a real HTTP proxy in front of the real S3
 * server, so the tests see what crossed the wire.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/domain/manifest.js';
import { SERVER_COPY_MIN_BYTES } from '../../src/domain/media-copy.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { restoreMedia, verifyMediaPresent, type MediaTuning } from '../../src/engine/media/media.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { isGetObject, isPutObject, isUploadPart, requestKey, startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy.js';
import { createBucket, createDatabase, getObjectBytes, listKeys, s3Client, s3Info } from '../support/harness.js';
import { mediaObjectsOf } from '../support/media-index.js';

const MIB = 1024 * 1024;
const TUNING: MediaTuning = { concurrency: 4, smallObjectBytes: MIB, partSize: 5 * MIB };
/** Large enough to be copied inside the store by default, and to take the streamed (two-read) path otherwise. */
const LARGE = Math.max(SERVER_COPY_MIN_BYTES, 6 * MIB) + 123;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
/** Ceph RGW refuses a copy whose pin no longer matches (412); s3rver ignores the pin (then the ETag the copy answers gives a change away). */
const HONOURS_COPY_PIN = s3Info().kind === 'rgw';

let proxy: FaultProxy;
let database: string;
beforeAll(async () => {
  proxy = await startFaultProxy(s3Info().endpoint);
  database = await createDatabase('media-copy');
});
afterAll(async () => proxy.stop());

function settings(bucket: string, endpoint = proxy.endpoint, keys?: { accessKeyId: string; secretAccessKey: string }): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint, region: s3.region, credentials: keys ?? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

const put = (bucket: string, key: string, body: Buffer | string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
  s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));

/** An object uploaded in 5 MiB parts, as browsers and SDKs upload large files: its ETag is not an MD5. */
async function putMultipart(client: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: 5 * MIB }).done();
}

const backup = (backups: BucketSettings, media: BucketSettings, env: NodeJS.ProcessEnv = process.env) =>
  runBackup(
    {
      space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
      bucket: backups, media: { source: media, tuning: TUNING }, env,
    },
    memoryLogger(),
  );

const isCopyObject = (r: ProxiedRequest) => r.method === 'PUT' && r.headers['x-amz-copy-source'] !== undefined;
/** What the runner sent to the backup bucket's content: CopyObjects (with their source and pin), PUTs, parts. */
function contentWrites(requests: ProxiedRequest[], backups: string) {
  const toContent = requests.filter((r) => r.url.startsWith(`/${backups}/media/sha256/`));
  return {
    copies: toContent
      .filter(isCopyObject)
      .map((r) => ({
        key: requestKey(r),
        source: decodeURIComponent(String(r.headers['x-amz-copy-source'])),
        pin: r.headers['x-amz-copy-source-if-match'],
        // The same pin, under the name Ceph RGW reads.
        rgwPin: r.headers['x-amz-copy-if-match'],
      })),
    puts: toContent.filter((r) => isPutObject(r)).map(requestKey),
    parts: toContent.filter(isUploadPart).map(requestKey),
  };
}

/** Restores a backup's media into a fresh bucket and returns each object's SHA-256. */
async function restoredContents(backups: string, manifest: Manifest): Promise<Record<string, string>> {
  const store = new BackupStore(settings(backups, s3Info().endpoint));
  await verifyMediaPresent(manifest.media!, store);
  const target = await createBucket('target');
  await restoreMedia(manifest.media!, store, settings(target, s3Info().endpoint), memoryLogger(), TUNING);
  const out: Record<string, string> = {};
  for (const { key } of await listKeys(target)) out[key] = sha256(await getObjectBytes(target, key));
  return out;
}

/** Every stored content object's bytes hash to its name. */
async function expectContentTrue(backups: string): Promise<string[]> {
  const keys = (await listKeys(backups, 'media/sha256/')).map((k) => k.key);
  for (const key of keys) expect(sha256(await getObjectBytes(backups, key)), key).toBe(key.split('/').pop());
  return keys;
}

describe('media content copied inside the store', () => {
  it('with one credential, large new content is stored by CopyObject pinned to the hashed ETag (no second GET, no upload), and restores byte for byte', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const large = randomBytes(LARGE);
    const multipart = randomBytes(11 * MIB + 7);
    const small = 'a small upload';
    await put(media, 'scans/large.tiff', large, { ContentType: 'image/tiff', Metadata: { pages: '42' }, CacheControl: 'max-age=60' });
    await putMultipart(s3Client(), media, 'videos/ünïcødé clip.mp4', multipart);
    await put(media, 'notes/small.txt', small, { ContentType: 'text/plain' });
    const listedEtag = async (key: string) => (await s3Client().send(new HeadObjectCommand({ Bucket: media, Key: key }))).ETag;

    proxy.requests.length = 0;
    const result = await backup(settings(backups), settings(media));
    const writes = contentWrites(proxy.requests, backups);
    const largeKey = `media/sha256/${sha256(large).slice(0, 2)}/${sha256(large)}`;
    const multipartKey = `media/sha256/${sha256(multipart).slice(0, 2)}/${sha256(multipart)}`;
    expect(writes.copies.sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      [
        { key: largeKey, source: `${media}/scans/large.tiff`, pin: await listedEtag('scans/large.tiff'), rgwPin: await listedEtag('scans/large.tiff') },
        { key: multipartKey, source: `${media}/videos/ünïcødé clip.mp4`, pin: await listedEtag('videos/ünïcødé clip.mp4'), rgwPin: await listedEtag('videos/ünïcødé clip.mp4') },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    // The small object is PUT from the memory it was hashed in; nothing large crossed the runner twice.
    expect(writes.puts).toEqual([`media/sha256/${sha256(small).slice(0, 2)}/${sha256(small)}`]);
    expect(writes.parts).toEqual([]);
    for (const key of ['scans/large.tiff', 'videos/ünïcødé clip.mp4']) {
      expect(proxy.requests.filter((r) => r.url.startsWith(`/${media}/`) && isGetObject(r, key)), key).toHaveLength(1);
    }
    expect(result.mediaTraffic).toMatchObject({ objectsWritten: 3, objectsCopiedInStore: 2, bytesCopiedInStore: large.length + multipart.length, bytesRead: large.length + multipart.length + small.length });

    // Stored as a PUT stores content: its bytes, no user metadata, no headers of the source.
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: backups, Key: largeKey }));
    expect(head.ContentType).toBe('application/octet-stream');
    expect(head.Metadata ?? {}).toEqual({});
    expect(head.CacheControl).toBeUndefined();
    expect(await expectContentTrue(backups)).toHaveLength(3);
    const records = Object.fromEntries((await mediaObjectsOf(result.manifest, new BackupStore(settings(backups)))).map((o) => [o.key, o]));
    expect(records['scans/large.tiff']).toMatchObject({ sha256: sha256(large), md5: md5(large), contentType: 'image/tiff', metadata: { pages: '42' }, verified: true });
    expect(await restoredContents(backups, result.manifest)).toEqual({
      'scans/large.tiff': sha256(large),
      'videos/ünïcødé clip.mp4': sha256(multipart),
      'notes/small.txt': sha256(small),
    });

    // LIFEBOAT_MEDIA_SERVER_COPY=all copies small content too; =off copies nothing inside the store.
    const another = 'another small upload';
    await put(media, 'notes/another.txt', another);
    proxy.requests.length = 0;
    const all = await backup(settings(backups), settings(media), { ...process.env, LIFEBOAT_MEDIA_SERVER_COPY: 'all' });
    expect(contentWrites(proxy.requests, backups)).toMatchObject({ copies: [{ source: `${media}/notes/another.txt` }], puts: [], parts: [] });
    expect(all.mediaTraffic).toMatchObject({ objectsWritten: 1, objectsCopiedInStore: 1 });
    const third = randomBytes(LARGE);
    await put(media, 'scans/third.tiff', third);
    proxy.requests.length = 0;
    await backup(settings(backups), settings(media), { ...process.env, LIFEBOAT_MEDIA_SERVER_COPY: 'off' });
    expect(contentWrites(proxy.requests, backups)).toMatchObject({ copies: [], puts: [] });
    expect(contentWrites(proxy.requests, backups).parts.length).toBeGreaterThan(0);
    expect(await expectContentTrue(backups)).toHaveLength(5);
    await expect(backup(settings(backups), settings(media), { ...process.env, LIFEBOAT_MEDIA_SERVER_COPY: 'yes' })).rejects.toThrow(/LIFEBOAT_MEDIA_SERVER_COPY is 'yes'/);
  });

  it('an object replaced between its hashing and its copy is never stored under the old hash: it is read again and recorded as it now is', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const before = { single: randomBytes(LARGE), multi: randomBytes(11 * MIB) };
    const after = { single: randomBytes(LARGE + 5), multi: randomBytes(12 * MIB) };
    await put(media, 'single.bin', before.single);
    await putMultipart(s3Client(), media, 'multi.bin', before.multi);
    // The application replaces each object just as its first CopyObject arrives: after Lifeboat hashed it.
    const replaceOnCopy = (key: string, write: () => Promise<unknown>) => ({
      match: (r: ProxiedRequest) => isCopyObject(r) && decodeURIComponent(String(r.headers['x-amz-copy-source'])) === `${media}/${key}`,
      times: 1,
      before: async () => void (await write()),
      // What the store answered that copy.
      alterResponseBody: (body: Buffer, status: number) => {
        statuses.push(status);
        return body;
      },
    });
    const statuses: number[] = [];
    proxy.faults.push(
      replaceOnCopy('single.bin', () => put(media, 'single.bin', after.single)),
      replaceOnCopy('multi.bin', () => putMultipart(s3Client(), media, 'multi.bin', after.multi)),
    );
    proxy.requests.length = 0;
    try {
      const result = await backup(settings(backups), settings(media));
      const records = Object.fromEntries((await mediaObjectsOf(result.manifest, new BackupStore(settings(backups)))).map((o) => [o.key, o]));
      expect(records['single.bin']).toMatchObject({ size: after.single.length, sha256: sha256(after.single), verified: true });
      expect(records['multi.bin']).toMatchObject({ size: after.multi.length, sha256: sha256(after.multi), verified: true });
      // Nothing is stored under the old hashes; what is stored is true to its name.
      expect((await expectContentTrue(backups)).sort()).toEqual([sha256(after.single), sha256(after.multi)].map((h) => `media/sha256/${h.slice(0, 2)}/${h}`).sort());
      expect(await restoredContents(backups, result.manifest)).toEqual({ 'single.bin': sha256(after.single), 'multi.bin': sha256(after.multi) });
      // A store that honours the pin refuses the stale copy (412): the old hash's key never holds other bytes. Ceph RGW
      // does (under the header's old name, x-amz-copy-if-match). s3rver ignores the pin: it copies the new bytes, the
      // ETag it answers gives them away, and Lifeboat deletes that copy before anything refers to it.
      const deletedContent = proxy.requests.filter((r) => r.method === 'DELETE' && r.url.startsWith(`/${backups}/media/sha256/`)).map(requestKey).sort();
      const staleKeys = [sha256(before.single), sha256(before.multi)].map((h) => `media/sha256/${h.slice(0, 2)}/${h}`).sort();
      if (HONOURS_COPY_PIN) {
        expect(statuses).toEqual([412, 412]);
        expect(deletedContent).toEqual([]);
      } else {
        expect(statuses).toEqual([200, 200]);
        expect(deletedContent).toEqual(staleKeys);
      }
    } finally {
      proxy.faults.length = 0;
    }
  });

  it('a store that refuses the copy (403) gets one warning, and the backup copies through the runner', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const objects = [randomBytes(LARGE), randomBytes(LARGE + 1), randomBytes(LARGE + 2)];
    for (const [i, body] of objects.entries()) await put(media, `large-${i}.bin`, body);
    const refuse = {
      match: isCopyObject,
      reply: { status: 403, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' },
    } as Fault;
    proxy.faults.push(refuse);
    proxy.requests.length = 0;
    const log = memoryLogger();
    try {
      const result = await runBackup(
        {
          space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
          bucket: settings(backups), media: { source: settings(media), tuning: { ...TUNING, concurrency: 1 } },
        },
        log,
      );
      // One object tried a copy; the rest went straight through the runner.
      expect(refuse.hits).toBe(1);
      expect(contentWrites(proxy.requests, backups).parts.length).toBeGreaterThan(0);
      expect(result.mediaTraffic).toMatchObject({ objectsWritten: 3 });
      expect(result.mediaTraffic?.objectsCopiedInStore).toBeUndefined();
      const warnings = log.lines.filter((l) => l.includes('refused to copy media content inside it'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/AccessDenied \(HTTP 403\).*the rest is copied through the runner/);
      expect(await expectContentTrue(backups)).toHaveLength(3);
      expect(await restoredContents(backups, result.manifest)).toEqual(Object.fromEntries(objects.map((body, i) => [`large-${i}.bin`, sha256(body)])));
    } finally {
      proxy.faults.length = 0;
    }
  });

  it('with separate credentials or another endpoint for the media bucket, content is copied through the runner', async () => {
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const large = randomBytes(LARGE);
    await put(media, 'large.bin', large);
    const s3 = s3Info();

    // Another endpoint (the server itself, not the proxy): another connection.
    proxy.requests.length = 0;
    const direct = await backup(settings(backups), settings(media, s3.endpoint));
    expect(contentWrites(proxy.requests, backups)).toMatchObject({ copies: [], puts: [] });
    expect(contentWrites(proxy.requests, backups).parts.length).toBeGreaterThan(0);
    expect(direct.mediaTraffic?.objectsCopiedInStore).toBeUndefined();

    // The same endpoint, the backup bucket's credentials from the environment (AWS_*) and the media bucket's
    // given as keys (media-aws-*): Lifeboat cannot tell they are one credential, so it does not assume so.
    const backups2 = await createBucket('backups');
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    try {
      proxy.requests.length = 0;
      const fromEnvironment: BucketSettings = { ...settings(backups2), credentials: undefined };
      const separate = await backup(fromEnvironment, settings(media));
      expect(contentWrites(proxy.requests, backups2)).toMatchObject({ copies: [], puts: [] });
      expect(contentWrites(proxy.requests, backups2).parts.length).toBeGreaterThan(0);
      expect(separate.mediaTraffic?.objectsCopiedInStore).toBeUndefined();
      expect(await restoredContents(backups2, separate.manifest)).toEqual({ 'large.bin': sha256(large) });
    } finally {
      for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(await restoredContents(backups, direct.manifest)).toEqual({ 'large.bin': sha256(large) });
  });
});
