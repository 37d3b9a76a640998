/**
 * The media bucket: the application's uploaded files, backed up with the database under the same
 * backup id and restored with it.
 *
 * Content is stored once, by SHA-256, under <prefix>media/sha256/ in the backup bucket, and shared by
 * every backup that holds it. Each backup's manifest lists every object (key, size, content type,
 * user metadata, SHA-256), so any backup restores the bucket exactly as it was, whatever later
 * backups changed. An object whose ETag, size and last-modified time are unchanged since the space's
 * previous backup is not read again: its record is carried over.
 *
 * Objects are copied through the runner (on cloud.gov each bucket has its own credentials), many
 * small ones at a time; large ones stream by multipart upload with bounded memory.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { MediaObjectRecord, MediaRecord, MediaTotals } from '../../domain/manifest.js';
import { forEachConcurrently } from '../concurrency.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { createS3Client, deleteObjects, listAllObjects, normalizePrefix, type BucketSettings, type ListedObject } from '../s3/client.js';
import type { BackupStore } from '../s3/store.js';
import { formatBytes, Meter } from '../streams.js';

export interface MediaTuning {
  /** Objects copied at once. */
  concurrency: number;
  /** Objects up to this size are held in memory while copied; larger ones are streamed. */
  smallObjectBytes: number;
  /** Multipart part size for large objects. */
  partSize: number;
}

export const DEFAULT_MEDIA_TUNING: MediaTuning = { concurrency: 16, smallObjectBytes: 8 * 1024 * 1024, partSize: 8 * 1024 * 1024 };

/** What a media backup or restore moved, for reports and the incremental tests. */
export interface MediaTraffic {
  /** Bytes read from the source bucket (backup) or from the backup bucket (restore). */
  bytesRead: number;
  /** Bytes written to the backup bucket (backup) or to the target bucket (restore). */
  bytesWritten: number;
  objectsWritten: number;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function digests(data: Buffer): { sha256: string; md5: string } {
  return { sha256: createHash('sha256').update(data).digest('hex'), md5: createHash('md5').update(data).digest('hex') };
}

/**
 * Passes a body through while hashing it, and ends it with an error instead of its end if the SHA-256
 * is not the expected one: an upload fed by it fails (and is aborted) rather than completing with
 * the wrong content.
 */
function verifying(body: Readable, expectedSha256: string, what: string): { stream: Readable; meter: Meter } {
  const meter = new Meter();
  const check = new Transform({
    transform(chunk, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      const actual = meter.sha256();
      callback(actual === expectedSha256 ? null : new LifeboatError(`${what} does not match its SHA-256 (expected ${expectedSha256}, got ${actual})`));
    },
  });
  const out = new PassThrough();
  pipeline(body, meter, check, out).catch((error: unknown) => out.destroy(error as Error));
  return { stream: out, meter };
}

async function exists(client: S3Client, bucket: string, key: string): Promise<number | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.ContentLength ?? 0;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

function emptyTotals(): MediaTotals {
  return { objects: 0, bytes: 0, newObjects: 0, newBytes: 0, reusedObjects: 0, reusedBytes: 0 };
}

export interface MediaBackupOptions {
  source: BucketSettings;
  store: BackupStore;
  /** The media record of the space's previous complete backup, if any: the base for incremental copies. */
  previous?: MediaRecord;
  tuning?: MediaTuning;
  log: Logger;
}

export async function backupMedia(options: MediaBackupOptions): Promise<{ record: MediaRecord; traffic: MediaTraffic }> {
  const { store, log } = options;
  const tuning = options.tuning ?? DEFAULT_MEDIA_TUNING;
  const source = createS3Client(options.source);
  const prefix = normalizePrefix(options.source.prefix);
  const listed = await listAllObjects(source, options.source.bucket, prefix).catch((error: unknown) => {
    throw new LifeboatError(`Cannot list the media bucket '${options.source.bucket}' given in 'media-bucket': ${errorMessage(error)}. Check 'media-bucket' and its credentials.`, {
      cause: error,
    });
  });
  // The previous backup's objects are certainly kept by prune while this backup runs (the newest complete
  // backup of a space is never deleted), so carrying its records over is safe.
  const previous = new Map((options.previous?.objects ?? []).map((o) => [o.key, o]));
  const storedNow = new Map<string, Promise<void>>();
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  const totals = emptyTotals();
  const records: MediaObjectRecord[] = new Array(listed.length);

  await forEachConcurrently(listed, tuning.concurrency, async (object, index) => {
    const key = object.key.slice(prefix.length);
    const before = previous.get(key);
    if (before && before.size === object.size && before.etag === object.etag && before.lastModified === object.lastModified) {
      records[index] = before;
      totals.reusedObjects++;
      totals.reusedBytes += object.size;
      return;
    }
    const { record, stored } = await copyIntoStore(source, options.source.bucket, object, key, store, tuning, traffic, storedNow);
    records[index] = record;
    if (stored) {
      totals.newObjects++;
      totals.newBytes += object.size;
    } else {
      totals.reusedObjects++;
      totals.reusedBytes += object.size;
    }
  });

  totals.objects = records.length;
  totals.bytes = records.reduce((sum, r) => sum + r.size, 0);
  log.info(
    `Media s3://${options.source.bucket}/${prefix}: ${totals.objects} objects (${formatBytes(totals.bytes)}); ` +
      `${totals.newObjects} new (${formatBytes(totals.newBytes)}), ${totals.reusedObjects} reused (${formatBytes(totals.reusedBytes)}).`,
  );
  return { record: { bucket: options.source.bucket, prefix, objects: records, totals }, traffic };
}

/** Copies one changed or new object into content-addressed storage; returns whether its content was new. */
async function copyIntoStore(
  source: S3Client,
  bucket: string,
  object: ListedObject,
  key: string,
  store: BackupStore,
  tuning: MediaTuning,
  traffic: MediaTraffic,
  storedNow: Map<string, Promise<void>>,
): Promise<{ record: MediaObjectRecord; stored: boolean }> {
  const response = await source.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
  const describe = (sha256: string, md5: string): MediaObjectRecord => ({
    key,
    size: object.size,
    sha256,
    md5,
    ...(response.ContentType ? { contentType: response.ContentType } : {}),
    metadata: response.Metadata ?? {},
    ...(response.ETag ? { etag: response.ETag } : object.etag ? { etag: object.etag } : {}),
    ...(object.lastModified ? { lastModified: object.lastModified } : {}),
  });

  if (object.size <= tuning.smallObjectBytes) {
    const data = await readAll(response.Body as Readable);
    traffic.bytesRead += data.length;
    const { sha256, md5 } = digests(data);
    const stored = await storeOnce(storedNow, sha256, store, async (casKey) => {
      await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: casKey, Body: data, ContentType: 'application/octet-stream' }));
      traffic.bytesWritten += data.length;
      traffic.objectsWritten++;
    });
    return { record: describe(sha256, md5), stored };
  }

  // Large: one pass to learn the digest, a second (only if the content is not stored yet) to store it.
  // Memory stays at a few parts, and the second read is pinned to the same version by its ETag.
  const first = new DigestSink();
  await pipeline(response.Body as Readable, first);
  traffic.bytesRead += first.bytes;
  const { sha256, md5 } = first.digests();
  const stored = await storeOnce(storedNow, sha256, store, async (casKey) => {
    const again = await source.send(new GetObjectCommand({ Bucket: bucket, Key: object.key, IfMatch: response.ETag }));
    await uploadVerified(again.Body as Readable, sha256, `The media object '${object.key}' changed while it was copied, and`, store.client, {
      Bucket: store.bucket,
      Key: casKey,
      ContentType: 'application/octet-stream',
    }, tuning, traffic);
  });
  return { record: describe(sha256, md5), stored };
}

/**
 * Stores content under its digest unless it is stored already, or is being stored by another object
 * of this same backup (two keys with the same content). Returns whether this call stored it.
 */
async function storeOnce(
  storedNow: Map<string, Promise<void>>,
  sha256: string,
  store: BackupStore,
  write: (casKey: string) => Promise<void>,
): Promise<boolean> {
  const pending = storedNow.get(sha256);
  if (pending) {
    await pending;
    return false;
  }
  const casKey = store.mediaObjectKey(sha256);
  let stored = false;
  const work = (async () => {
    if (await keepExisting(store, casKey)) return;
    await write(casKey);
    stored = true;
  })();
  storedNow.set(sha256, work);
  await work;
  return stored;
}

/**
 * Content already stored by another backup is reused. Its last-modified time is refreshed first (a copy
 * onto itself), because prune deletes unreferenced content only once it is older than its grace period:
 * an object this backup is about to reference must not look old to a prune running at the same time.
 */
async function keepExisting(store: BackupStore, casKey: string): Promise<boolean> {
  if ((await exists(store.client, store.bucket, casKey)) === undefined) return false;
  await store.client.send(
    new CopyObjectCommand({
      Bucket: store.bucket,
      Key: casKey,
      CopySource: `${store.bucket}/${casKey.split('/').map(encodeURIComponent).join('/')}`,
      MetadataDirective: 'REPLACE',
      ContentType: 'application/octet-stream',
    }),
  );
  return true;
}

class DigestSink extends Writable {
  bytes = 0;
  private readonly sha = createHash('sha256');
  private readonly md5 = createHash('md5');
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.sha.update(chunk);
    this.md5.update(chunk);
    callback();
  }
  digests(): { sha256: string; md5: string } {
    return { sha256: this.sha.digest('hex'), md5: this.md5.digest('hex') };
  }
}

/** Restore refuses before touching anything unless every piece of content the backup needs is present and whole. */
export async function verifyMediaPresent(record: MediaRecord, store: BackupStore, concurrency = DEFAULT_MEDIA_TUNING.concurrency): Promise<void> {
  const unique = [...new Map(record.objects.map((o) => [o.sha256, o])).values()];
  const problems: string[] = [];
  await forEachConcurrently(unique, concurrency, async (object) => {
    const size = await exists(store.client, store.bucket, store.mediaObjectKey(object.sha256));
    if (size === undefined) problems.push(`'${object.key}': its content ${object.sha256.slice(0, 12)}… is missing`);
    else if (size !== object.size) problems.push(`'${object.key}': its content has ${size} bytes, the manifest says ${object.size}`);
  });
  if (problems.length) {
    throw new LifeboatError(
      `The backup's media cannot be restored: ${problems.length} object(s) are missing or damaged in the backup bucket (${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}). Nothing was changed. Choose another backup.`,
    );
  }
}

export interface MediaRestoreResult {
  uploaded: number;
  unchanged: number;
  deleted: number;
  traffic: MediaTraffic;
}

/**
 * Mirrors a backup's media into the target bucket: uploads what is missing or different (checking each
 * object's SHA-256 on the way), then deletes what the backup did not have. Deletes come last, after
 * every upload succeeded. A failure says exactly what state the bucket was left in; re-running the
 * restore finishes the job, since it uploads only what still differs.
 */
export async function restoreMedia(record: MediaRecord, store: BackupStore, target: BucketSettings, log: Logger, tuning = DEFAULT_MEDIA_TUNING): Promise<MediaRestoreResult> {
  const client = createS3Client(target);
  const prefix = normalizePrefix(target.prefix);
  const where = `s3://${target.bucket}/${prefix}`;
  const present = new Map((await listAllObjects(client, target.bucket, prefix)).map((o) => [o.key.slice(prefix.length), o]));
  const wanted = new Set(record.objects.map((o) => o.key));
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  let unchanged = 0;
  let uploaded = 0;

  const toCheck = record.objects;
  const failures: string[] = [];
  await forEachConcurrently(toCheck, tuning.concurrency, async (object) => {
    const current = present.get(object.key);
    if (current && current.size === object.size && current.etag?.replace(/"/g, '') === object.md5 && (await sameHeaders(client, target.bucket, prefix + object.key, object))) {
      unchanged++;
      return;
    }
    try {
      await copyFromStore(store, object, client, target.bucket, prefix + object.key, tuning, traffic);
      uploaded++;
    } catch (error) {
      failures.push(`'${object.key}': ${errorMessage(error)}`);
      throw error;
    }
  }).catch((error: unknown) => {
    const pending = record.objects.length - unchanged - uploaded;
    throw new LifeboatError(
      `Media restore into ${where} stopped: ${uploaded} object(s) restored, ${unchanged} already right, ${pending} not restored yet; ` +
        `nothing was deleted, so objects the backup did not have are still there. The bucket is a mix of its old and restored contents. ` +
        `Run the same restore again to finish (it copies only what still differs). Cause: ${failures[0] ?? errorMessage(error)}`,
      { cause: error },
    );
  });

  const extra = [...present.keys()].filter((key) => !wanted.has(key));
  const removal = await deleteObjects(client, target.bucket, extra.map((key) => prefix + key));
  const deleted = removal.deleted.length;
  if (removal.failed.length) {
    throw new LifeboatError(
      `Media restore into ${where}: every object of the backup is in place, but ${removal.failed.length} object(s) the backup did not have could not be deleted ` +
        `(${removal.failed[0]!.key}: ${removal.failed[0]!.message}). Run the same restore again to finish.`,
    );
  }
  log.info(`Media ${where}: ${uploaded} restored, ${unchanged} already right, ${deleted} deleted that the backup did not have.`);
  return { uploaded, unchanged, deleted, traffic };
}

async function sameHeaders(client: S3Client, bucket: string, key: string, object: MediaObjectRecord): Promise<boolean> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const metadata = head.Metadata ?? {};
  const sameMetadata =
    Object.keys(metadata).length === Object.keys(object.metadata).length && Object.entries(object.metadata).every(([k, v]) => metadata[k] === v);
  return sameMetadata && (object.contentType === undefined || head.ContentType === object.contentType);
}

async function copyFromStore(store: BackupStore, object: MediaObjectRecord, client: S3Client, bucket: string, key: string, tuning: MediaTuning, traffic: MediaTraffic): Promise<void> {
  const response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: store.mediaObjectKey(object.sha256) }));
  const headers = { ContentType: object.contentType, Metadata: object.metadata };
  if (object.size <= tuning.smallObjectBytes) {
    const data = await readAll(response.Body as Readable);
    traffic.bytesRead += data.length;
    const { sha256 } = digests(data);
    if (sha256 !== object.sha256) throw new LifeboatError(`its stored content does not match its SHA-256 (expected ${object.sha256}, got ${sha256})`);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...headers }));
    traffic.bytesWritten += data.length;
    traffic.objectsWritten++;
    return;
  }
  await uploadVerified(response.Body as Readable, object.sha256, 'its stored content', client, { Bucket: bucket, Key: key, ...headers }, tuning, traffic);
}

/**
 * Streams a large object into a multipart upload, checking its SHA-256 on the way: a mismatch fails
 * (and aborts) the upload before it completes, so wrong content never lands under the key.
 */
async function uploadVerified(
  body: Readable,
  sha256: string,
  what: string,
  client: S3Client,
  params: { Bucket: string; Key: string; ContentType?: string; Metadata?: Record<string, string> },
  tuning: MediaTuning,
  traffic: MediaTraffic,
): Promise<void> {
  const { stream, meter } = verifying(body, sha256, what);
  const upload = new Upload({ client, params: { ...params, Body: stream }, partSize: tuning.partSize, queueSize: 2, leavePartsOnError: false });
  await upload.done();
  traffic.bytesRead += meter.bytes;
  traffic.bytesWritten += meter.bytes;
  traffic.objectsWritten++;
}

export interface MediaGarbage {
  /** Content objects in the backup bucket. */
  stored: number;
  /** Of those, referenced by a remaining complete backup. */
  referenced: number;
  /** Unreferenced and older than the grace period: safe to delete. */
  garbage: { key: string; size: number }[];
  /** Unreferenced but younger than the grace period: possibly written by a backup still running. */
  tooYoung: number;
}

/**
 * Finds media content no remaining complete backup refers to. Content a running backup has just
 * stored is not referenced by any manifest yet, so only content older than the grace period counts as
 * garbage (backups refresh the age of old content they reuse). References are read from every
 * space's manifests, since content is shared across spaces; if any manifest cannot be read, nothing
 * is garbage, because a missed reference would delete data a backup needs.
 */
export async function findMediaGarbage(store: BackupStore, now: Date, graceMs: number, concurrency = DEFAULT_MEDIA_TUNING.concurrency): Promise<MediaGarbage> {
  const stored = await listAllObjects(store.client, store.bucket, store.mediaRoot());
  if (stored.length === 0) return { stored: 0, referenced: 0, garbage: [], tooYoung: 0 };
  const complete = (await store.listEntries()).filter((e) => e.status === 'complete');
  const referenced = new Set<string>();
  await forEachConcurrently(complete, concurrency, async (entry) => {
    const manifest = await store.getManifest(entry.space, entry.id).catch((error: unknown) => {
      throw new LifeboatError(
        `Media clean-up skipped: the manifest of ${entry.space}/${entry.id} cannot be read (${errorMessage(error)}), so it is unknown which media it needs.`,
      );
    });
    for (const object of manifest.media?.objects ?? []) referenced.add(object.sha256);
  });
  const cutoff = now.getTime() - graceMs;
  const garbage: { key: string; size: number }[] = [];
  let tooYoung = 0;
  let inUse = 0;
  for (const object of stored) {
    const sha256 = object.key.slice(object.key.lastIndexOf('/') + 1);
    if (referenced.has(sha256)) inUse++;
    else if (object.lastModified && Date.parse(object.lastModified) <= cutoff) garbage.push({ key: object.key, size: object.size });
    else tooYoung++;
  }
  return { stored: stored.length, referenced: inUse, garbage, tooYoung };
}
