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
import { plural } from '../../domain/report.js';
import { reportProgress } from '../progress.js';
import { createHash } from 'node:crypto';
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { MediaObjectRecord, MediaRecord, MediaTotals } from '../../domain/manifest.js';
import { forEachConcurrently } from '../concurrency.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { createS3Client, deleteObjects, listAllObjects, md5OfEtag, normalizePrefix, type BucketSettings, type ListedObject } from '../s3/client.js';
import { withRetries, TRANSFER_RETRIES } from '../s3/retry.js';
import type { BackupStore } from '../s3/store.js';
import { formatBytes, Meter } from '../streams.js';
import { createAgeDecryptor, createAgeEncryptor, decryptBytes, encryptBytes } from '../crypto/age-stream.js';
import { mediaContentAddress } from '../crypto/keys.js';
import { keepRetainedUntil, lockParams } from '../s3/object-lock.js';

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
  /** Backup under Object Lock: reused content whose retention was extended (one PutObjectRetention each). */
  retentionsExtended?: number;
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

/** Media encryption on backup: content is stored as age files to the recipients, under keyed addresses. */
export interface MediaEncryption {
  recipients: readonly string[];
  addressKey: Buffer;
}

export interface MediaBackupOptions {
  source: BucketSettings;
  encryption?: MediaEncryption;
  store: BackupStore;
  /** The media record of the space's previous complete backup, if any: the base for incremental copies. */
  previous?: MediaRecord;
  tuning?: MediaTuning;
  log: Logger;
  /** How often to log progress (the dump's interval). */
  progressIntervalMs?: number;
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
  const storedNow = new Map<string, Promise<number>>();
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  const totals = emptyTotals();
  const records: MediaObjectRecord[] = new Array(listed.length);
  let checked = 0;
  // Reused content whose retention this backup extended, by content key (several objects may share one).
  const lockedNow = new Map<string, Promise<boolean>>();
  const keptLocked = (casKey: string): Promise<boolean> => {
    const lock = store.objectLock;
    if (!lock) return Promise.resolve(true);
    let pending = lockedNow.get(casKey);
    if (!pending) {
      pending = keepRetainedUntil(store.client, store.bucket, casKey, lock).then((kept) => {
        if (kept?.extended) traffic.retentionsExtended = (traffic.retentionsExtended ?? 0) + 1;
        return kept !== undefined;
      });
      lockedNow.set(casKey, pending);
    }
    return pending;
  };
  const progress = reportProgress(
    log,
    options.progressIntervalMs,
    (elapsed) =>
      `… media: ${checked} of ${plural(listed.length, 'object')} done, ${traffic.objectsWritten} new stored (${formatBytes(traffic.bytesWritten)}), ${formatBytes(traffic.bytesRead)} read, after ${elapsed}`,
  );

  await forEachConcurrently(listed, tuning.concurrency, async (object, index) => {
    try {
      await backupOneObject(object, index);
    } finally {
      checked++;
    }
  }).finally(() => progress.stop());

  async function backupOneObject(object: (typeof listed)[number], index: number): Promise<void> {
    const key = object.key.slice(prefix.length);
    const before = previous.get(key);
    // Only a record whose bytes were verified when first stored is carried over: an unverified one may
    // describe other bytes than the object holds, and would be inherited until the object changes.
    if (
      before?.verified &&
      before.size === object.size &&
      before.etag === object.etag &&
      before.lastModified === object.lastModified &&
      storedAsNow(before, options.encryption) &&
      // Under Object Lock, reused content is kept locked at least as long as this backup (docs/immutability.md);
      // content that has gone missing is copied again instead.
      (await keptLocked(store.mediaContentKey(before)))
    ) {
      records[index] = before;
      totals.reusedObjects++;
      totals.reusedBytes += object.size;
      return;
    }
    const copied = await copyIntoStore(source, options.source.bucket, object, key, store, tuning, traffic, storedNow, log, options.encryption);
    if (!copied) return;
    const { record, stored } = copied;
    records[index] = record;
    if (stored) {
      totals.newObjects++;
      totals.newBytes += record.size;
    } else {
      totals.reusedObjects++;
      totals.reusedBytes += record.size;
    }
  }
  // Objects deleted between the listing and their read leave holes.
  records.splice(0, records.length, ...records.filter((r) => r !== undefined));

  totals.objects = records.length;
  totals.bytes = records.reduce((sum, r) => sum + r.size, 0);
  log.info(
    `Media s3://${options.source.bucket}/${prefix}: ${totals.objects} objects (${formatBytes(totals.bytes)}); ` +
      `${totals.newObjects} new (${formatBytes(totals.newBytes)}), ${totals.reusedObjects} reused (${formatBytes(totals.reusedBytes)}).`,
  );
  if (store.objectLock) {
    log.info(`Object Lock: media content this backup references is locked until at least ${store.objectLock.retainUntil.toISOString()} (${traffic.retentionsExtended ?? 0} reused content object(s) had their retention extended).`);
  }
  return { record: { bucket: options.source.bucket, prefix, objects: records, totals }, traffic };
}

/** Whether a record's content is stored the way this backup stores it: in the clear, or encrypted to the same recipients with the same key. */
function storedAsNow(record: MediaObjectRecord, encryption: MediaEncryption | undefined): boolean {
  if (!encryption) return record.address === undefined;
  return record.storedSize !== undefined && record.address === mediaContentAddress(encryption.addressKey, encryption.recipients, record.sha256);
}

/** How many times an object that changed while it was read is read again before the backup fails. */
export const MEDIA_READ_ATTEMPTS = 3;

/** The object is not what the listing (or the last HEAD) said: it changed, or its bytes came back wrong. */
class ChangedDuringRead extends Error {}

/** User metadata Lifeboat writes on restored multipart objects, whose ETag is not an MD5 (see restoreMedia). */
export const SHA256_METADATA = 'lifeboat-sha256';

type StandardHeaders = Pick<
  MediaObjectRecord,
  'contentType' | 'cacheControl' | 'contentDisposition' | 'contentEncoding' | 'contentLanguage' | 'expires' | 'websiteRedirectLocation'
>;

interface ObjectHeadersResponse {
  ContentType?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  Expires?: Date;
  ExpiresString?: string;
  WebsiteRedirectLocation?: string;
  Metadata?: Record<string, string>;
}

/** Every standard header of an object that changes how it is served, as recorded in the manifest. */
function standardHeaders(response: ObjectHeadersResponse): StandardHeaders {
  const expires = response.ExpiresString ?? response.Expires?.toUTCString();
  const headers: StandardHeaders = {
    contentType: response.ContentType,
    cacheControl: response.CacheControl,
    contentDisposition: response.ContentDisposition,
    contentEncoding: response.ContentEncoding,
    contentLanguage: response.ContentLanguage,
    expires,
    websiteRedirectLocation: response.WebsiteRedirectLocation,
  };
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined && v !== '')) as StandardHeaders;
}

/** The same headers, as PutObject and multipart upload parameters. */
function headerParams(object: MediaObjectRecord) {
  return {
    ContentType: object.contentType,
    CacheControl: object.cacheControl,
    ContentDisposition: object.contentDisposition,
    ContentEncoding: object.contentEncoding,
    ContentLanguage: object.contentLanguage,
    // An Expires that is not a date (S3 stores any text) cannot be sent back through the SDK; it is left out.
    Expires: object.expires !== undefined && !Number.isNaN(Date.parse(object.expires)) ? new Date(object.expires) : undefined,
    WebsiteRedirectLocation: object.websiteRedirectLocation,
  };
}

function userMetadata(response: ObjectHeadersResponse): Record<string, string> {
  const { [SHA256_METADATA]: _bookkeeping, ...metadata } = response.Metadata ?? {};
  return metadata;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The object as it is now, or undefined when it is gone. */
async function headSource(source: S3Client, bucket: string, key: string): Promise<ListedObject | undefined> {
  try {
    const head = await source.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { key, size: head.ContentLength ?? 0, etag: head.ETag, lastModified: head.LastModified?.toISOString() };
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/**
 * Copies one changed or new object into content-addressed storage; returns its record and whether its
 * content was new, or undefined when the object was deleted after the listing. An object that changes
 * while it is read is read again as it is now, up to MEDIA_READ_ATTEMPTS times; then the backup fails,
 * naming it. A record is never written for bytes that were not verified.
 */
async function copyIntoStore(
  source: S3Client,
  bucket: string,
  listed: ListedObject,
  key: string,
  store: BackupStore,
  tuning: MediaTuning,
  traffic: MediaTraffic,
  storedNow: Map<string, Promise<number>>,
  log: Logger,
  encryption?: MediaEncryption,
): Promise<{ record: MediaObjectRecord; stored: boolean } | undefined> {
  let object: ListedObject = listed;
  const problems: string[] = [];
  for (let attempt = 1; attempt <= MEDIA_READ_ATTEMPTS; attempt++) {
    try {
      return await copyVerified(source, bucket, object, key, store, tuning, traffic, storedNow, encryption);
    } catch (error) {
      if (!(error instanceof ChangedDuringRead)) throw error;
      problems.push(error.message);
      const now = await headSource(source, bucket, object.key);
      if (!now) {
        log.warning(`The media object '${key}' was deleted after the bucket was listed; it is not in this backup.`);
        return undefined;
      }
      object = now;
    }
  }
  throw new LifeboatError(
    `The media object '${key}' changed or came back wrong each of the ${MEDIA_READ_ATTEMPTS} times it was read (${problems.join('; ')}), ` +
      `so it cannot be recorded truthfully and the backup is not complete. If the application rewrites it constantly, run the backup again; otherwise check the network path to the media bucket.`,
  );
}

/** One read of an object, every byte checked against what the listing said, then stored by its digest. */
async function copyVerified(
  source: S3Client,
  bucket: string,
  object: ListedObject,
  key: string,
  store: BackupStore,
  tuning: MediaTuning,
  traffic: MediaTraffic,
  storedNow: Map<string, Promise<number>>,
  encryption?: MediaEncryption,
): Promise<{ record: MediaObjectRecord; stored: boolean }> {
  const pinned = object.etag;
  const response = await source.send(new GetObjectCommand({ Bucket: bucket, Key: object.key, IfMatch: pinned })).catch((error: unknown) => {
    const status = statusOf(error);
    if (status === 412) throw new ChangedDuringRead(`its ETag is no longer ${pinned}`);
    if (status === 404) throw new ChangedDuringRead('it was deleted');
    throw error;
  });
  // Stores that ignore If-Match still name the version they sent.
  if (pinned && response.ETag && response.ETag !== pinned) {
    (response.Body as Readable | undefined)?.destroy();
    throw new ChangedDuringRead(`its ETag is ${response.ETag}, not the listed ${pinned}`);
  }
  if (response.ContentLength !== undefined && response.ContentLength !== object.size) {
    (response.Body as Readable | undefined)?.destroy();
    throw new ChangedDuringRead(`the store sent Content-Length ${response.ContentLength}, the listing said ${object.size} bytes`);
  }
  const check = (bytes: number, md5: string) => {
    if (bytes !== object.size) throw new ChangedDuringRead(`${bytes} bytes arrived, the listing said ${object.size}`);
    // The ETag of an SSE-KMS or SSE-C object is not the MD5 of its content.
    const encrypted = response.SSECustomerAlgorithm !== undefined || (response.ServerSideEncryption ?? '').startsWith('aws:kms');
    const etagMd5 = encrypted ? undefined : md5OfEtag(pinned ?? response.ETag);
    if (etagMd5 !== undefined && etagMd5 !== md5) throw new ChangedDuringRead(`the bytes read have MD5 ${md5}, the ETag says ${etagMd5}`);
  };
  const readFailed = (error: unknown): never => {
    if (error instanceof LifeboatError) throw error;
    throw new ChangedDuringRead(`reading it failed: ${errorMessage(error)}`);
  };
  const addressOf = (sha256: string) => (encryption ? mediaContentAddress(encryption.addressKey, encryption.recipients, sha256) : undefined);
  const contentKey = (sha256: string) => store.mediaContentKey({ sha256, address: addressOf(sha256) });
  const describe = (sha256: string, md5: string, storedSize: number): MediaObjectRecord => ({
    key,
    size: object.size,
    sha256,
    md5,
    ...standardHeaders(response),
    metadata: userMetadata(response),
    ...(pinned ? { etag: pinned } : response.ETag ? { etag: response.ETag } : {}),
    ...(object.lastModified ? { lastModified: object.lastModified } : {}),
    verified: true,
    ...(encryption ? { address: addressOf(sha256)!, storedSize } : {}),
  });

  if (object.size <= tuning.smallObjectBytes) {
    const data = await readAll(response.Body as Readable).catch(readFailed);
    traffic.bytesRead += data.length;
    const { sha256, md5 } = digests(data);
    check(data.length, md5);
    const { stored, size } = await storeOnce(storedNow, contentKey(sha256), store, async (casKey) => {
      const body = encryption ? await encryptBytes(data, encryption.recipients) : data;
      await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: casKey, Body: body, ContentType: 'application/octet-stream', ...lockParams(store.objectLock) }));
      traffic.bytesWritten += body.length;
      traffic.objectsWritten++;
      return body.length;
    }, traffic);
    return { record: describe(sha256, md5, size), stored };
  }

  // Large: one pass to learn the digest, a second (only if the content is not stored yet) to store it.
  // Memory stays at a few parts, and the second read is pinned to the same version by its ETag and
  // checked against the first pass's SHA-256 as it streams.
  const first = new DigestSink();
  await pipeline(response.Body as Readable, first).catch(readFailed);
  traffic.bytesRead += first.bytes;
  const { sha256, md5 } = first.digests();
  check(first.bytes, md5);
  const { stored, size } = await storeOnce(storedNow, contentKey(sha256), store, async (casKey) => {
    const again = await source.send(new GetObjectCommand({ Bucket: bucket, Key: object.key, IfMatch: response.ETag ?? pinned })).catch((error: unknown) => {
      if (statusOf(error) === 412 || statusOf(error) === 404) throw new ChangedDuringRead('it changed between its two reads');
      throw error;
    });
    const written = await uploadVerified(
      again.Body as Readable,
      sha256,
      `The media object '${object.key}' changed while it was copied, and`,
      store.client,
      { Bucket: store.bucket, Key: casKey, ContentType: 'application/octet-stream', ...lockParams(store.objectLock) },
      tuning,
      traffic,
      encryption ? await createAgeEncryptor(encryption.recipients) : undefined,
    ).catch((error: unknown) => {
      throw new ChangedDuringRead(errorMessage(error));
    });
    // Some stores (Ceph RGW) ignore the lock given when a multipart upload starts: checked, and set if missing.
    if (store.objectLock) await keepRetainedUntil(store.client, store.bucket, casKey, store.objectLock);
    return written;
  }, traffic);
  return { record: describe(sha256, md5, size), stored };
}

/**
 * Stores content under its digest unless it is stored already, or is being stored by another object
 * of this same backup (two keys with the same content). Returns whether this call stored it.
 */
async function storeOnce(
  storedNow: Map<string, Promise<number>>,
  casKey: string,
  store: BackupStore,
  write: (casKey: string) => Promise<number>,
  traffic: MediaTraffic,
): Promise<{ stored: boolean; size: number }> {
  const pending = storedNow.get(casKey);
  if (pending) {
    // If the other copy failed, this object's own bytes are stored instead.
    const size = await pending.then((n) => n, () => undefined);
    if (size !== undefined) return { stored: false, size };
    return storeOnce(storedNow, casKey, store, write, traffic);
  }
  let stored = false;
  const work = (async () => {
    const existing = await keepExisting(store, casKey, traffic);
    if (existing !== undefined) return existing;
    const size = await write(casKey);
    stored = true;
    return size;
  })();
  storedNow.set(casKey, work);
  try {
    // Awaited before `stored` is read: the work sets it.
    const size = await work;
    return { stored, size };
  } catch (error) {
    if (storedNow.get(casKey) === work) storedNow.delete(casKey);
    throw error;
  }
}

/**
 * Content already stored by another backup is reused. Its last-modified time is refreshed first (a copy
 * onto itself), because prune deletes unreferenced content only once it is older than its grace period:
 * an object this backup is about to reference must not look old to a prune running at the same time.
 */
async function keepExisting(store: BackupStore, casKey: string, traffic: MediaTraffic): Promise<number | undefined> {
  // Under Object Lock the content's retention is extended instead: locked content is never garbage, and a
  // self-copy would add a version (a versioned bucket keeps every one) on every backup.
  if (store.objectLock) {
    const kept = await keepRetainedUntil(store.client, store.bucket, casKey, store.objectLock);
    if (kept?.extended) traffic.retentionsExtended = (traffic.retentionsExtended ?? 0) + 1;
    return kept?.size;
  }
  const size = await exists(store.client, store.bucket, casKey);
  if (size === undefined) return undefined;
  await store.client.send(
    new CopyObjectCommand({
      Bucket: store.bucket,
      Key: casKey,
      CopySource: `${store.bucket}/${casKey.split('/').map(encodeURIComponent).join('/')}`,
      MetadataDirective: 'REPLACE',
      ContentType: 'application/octet-stream',
    }),
  );
  return size;
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
  // Each piece of content once: by the objects' records, or (a sealed manifest read without its identity,
  // as check does) by the readable part's content list.
  const wanted = new Map<string, { what: string; expected: number }>();
  for (const object of record.objects) {
    wanted.set(store.mediaContentKey(object), { what: `'${object.key}': its content ${(object.address ?? object.sha256).slice(0, 12)}…`, expected: object.storedSize ?? object.size });
  }
  for (const content of record.contents ?? []) {
    const key = store.encryptedMediaKey(content.address);
    if (!wanted.has(key)) wanted.set(key, { what: `encrypted content ${content.address.slice(0, 12)}…`, expected: content.size });
  }
  const problems: string[] = [];
  await forEachConcurrently([...wanted.entries()], concurrency, async ([key, { what, expected }]) => {
    const size = await exists(store.client, store.bucket, key);
    if (size === undefined) problems.push(`${what} is missing`);
    else if (size !== expected) problems.push(`${what} has ${size} bytes, the manifest says ${expected}`);
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
export async function restoreMedia(
  record: MediaRecord,
  store: BackupStore,
  target: BucketSettings,
  log: Logger,
  tuning = DEFAULT_MEDIA_TUNING,
  progressIntervalMs?: number,
  /** age identities, for encrypted content. */
  identities?: readonly string[],
): Promise<MediaRestoreResult> {
  const client = createS3Client(target);
  const prefix = normalizePrefix(target.prefix);
  const where = `s3://${target.bucket}/${prefix}`;
  // A failure here reaches restore as the S3 error itself, which names the bucket's problem from its code.
  const present = new Map((await listAllObjects(client, target.bucket, prefix)).map((o) => [o.key.slice(prefix.length), o]));
  const wanted = new Set(record.objects.map((o) => o.key));
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  let unchanged = 0;
  let uploaded = 0;

  const toCheck = record.objects;
  const failures: string[] = [];
  const progress = reportProgress(
    log,
    progressIntervalMs,
    (elapsed) =>
      `… media: ${uploaded + unchanged} of ${plural(toCheck.length, 'object')} in place (${uploaded} copied, ${formatBytes(traffic.bytesWritten)}; ${unchanged} already right), after ${elapsed}`,
  );
  await forEachConcurrently(toCheck, tuning.concurrency, async (object) => {
    const current = present.get(object.key);
    if (current && current.size === object.size && (await alreadyInPlace(client, target.bucket, prefix + object.key, object))) {
      unchanged++;
      return;
    }
    try {
      // A reset, a 5xx or a body cut short is tried again (a re-run would copy it anyway); a refusal is not.
      await withRetries(
        () => copyFromStore(store, object, client, target.bucket, prefix + object.key, tuning, traffic, identities),
        TRANSFER_RETRIES,
        (error, attempt) => log.warning(`Media object '${object.key}': attempt ${attempt} failed (${errorMessage(error)}); trying again.`),
      );
      uploaded++;
    } catch (error) {
      failures.push(`'${object.key}': ${errorMessage(error)}`);
      throw error;
    }
  })
    .finally(() => progress.stop())
    .catch((error: unknown) => {
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

/**
 * Whether the target's object already has the backup's content, headers and metadata. Content is compared
 * by MD5 where the ETag is one (single-part uploads), otherwise by the SHA-256 restore recorded on the
 * object when it uploaded it by multipart (SHA256_METADATA): a multipart ETag is not an MD5, so
 * comparing the two would copy every large object again on every restore.
 */
async function alreadyInPlace(client: S3Client, bucket: string, key: string, object: MediaObjectRecord): Promise<boolean> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ContentLength !== object.size) return false;
  const encrypted = head.SSECustomerAlgorithm !== undefined || (head.ServerSideEncryption ?? '').startsWith('aws:kms');
  const etagMd5 = encrypted ? undefined : md5OfEtag(head.ETag);
  const sameContent = etagMd5 !== undefined ? etagMd5 === object.md5 : head.Metadata?.[SHA256_METADATA] === object.sha256;
  if (!sameContent) return false;
  const metadata = userMetadata(head);
  const sameMetadata =
    Object.keys(metadata).length === Object.keys(object.metadata).length && Object.entries(object.metadata).every(([k, v]) => metadata[k] === v);
  const recorded = standardHeaders({ ...headerParams(object), ExpiresString: object.expires });
  const present = standardHeaders(head);
  // A record of this version names every header the object had, so a header the target has beyond them
  // differs too; older records named only the content type.
  const names = new Set([...Object.keys(recorded), ...(object.verified ? Object.keys(present) : [])] as (keyof StandardHeaders)[]);
  const sameStandard = [...names].every((name) =>
    name === 'expires' ? Date.parse(present.expires ?? '') === Date.parse(recorded.expires ?? '') : present[name] === recorded[name],
  );
  return sameMetadata && sameStandard;
}

async function copyFromStore(
  store: BackupStore,
  object: MediaObjectRecord,
  client: S3Client,
  bucket: string,
  key: string,
  tuning: MediaTuning,
  traffic: MediaTraffic,
  identities?: readonly string[],
): Promise<void> {
  const encrypted = object.address !== undefined;
  if (encrypted && !identities?.length) throw new LifeboatError('its content is encrypted and no identity was given');
  const response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: store.mediaContentKey(object) }));
  if (object.size <= tuning.smallObjectBytes) {
    const stored = await readAll(response.Body as Readable);
    traffic.bytesRead += stored.length;
    // age authenticates every chunk, and the SHA-256 below is of the plaintext the manifest recorded.
    const data = encrypted ? await decryptBytes(stored, identities!) : stored;
    const { sha256 } = digests(data);
    if (sha256 !== object.sha256) throw new LifeboatError(`its stored content does not match its SHA-256 (expected ${object.sha256}, got ${sha256})`);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...headerParams(object), Metadata: object.metadata }));
    traffic.bytesWritten += data.length;
    traffic.objectsWritten++;
    return;
  }
  const metadata = { ...object.metadata, [SHA256_METADATA]: object.sha256 };
  const body = encrypted ? (response.Body as Readable).pipe(createAgeDecryptor(identities!)) : (response.Body as Readable);
  if (encrypted) (response.Body as Readable).on('error', (error) => body.destroy(error));
  await uploadVerified(body, object.sha256, 'its stored content', client, { Bucket: bucket, Key: key, ...headerParams(object), Metadata: metadata }, tuning, traffic);
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
  params: { Bucket: string; Key: string; ContentType?: string; Metadata?: Record<string, string> } & Partial<ReturnType<typeof headerParams>>,
  tuning: MediaTuning,
  traffic: MediaTraffic,
  /** Encrypts what is uploaded, after the check (backup under encryption). */
  encryptor?: Transform,
): Promise<number> {
  const { stream, meter } = verifying(body, sha256, what);
  let uploaded: Readable = stream;
  const sent = new Meter();
  if (encryptor) {
    uploaded = new PassThrough();
    pipeline(stream, encryptor, sent, uploaded as PassThrough).catch((error: unknown) => (uploaded as PassThrough).destroy(error as Error));
  }
  const upload = new Upload({ client, params: { ...params, Body: uploaded }, partSize: tuning.partSize, queueSize: 2, leavePartsOnError: false });
  await upload.done();
  const written = encryptor ? sent.bytes : meter.bytes;
  traffic.bytesRead += meter.bytes;
  traffic.bytesWritten += written;
  traffic.objectsWritten++;
  return written;
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
export async function findMediaGarbage(
  store: BackupStore,
  now: Date,
  graceMs: number,
  concurrency = DEFAULT_MEDIA_TUNING.concurrency,
  /** Backups (`space/id`) to count as gone: a dry run's planned deletions, so it reports what the real run would delete. */
  assumeDeleted: ReadonlySet<string> = new Set(),
): Promise<MediaGarbage> {
  const stored = await listAllObjects(store.client, store.bucket, store.allMediaRoot());
  if (stored.length === 0) return { stored: 0, referenced: 0, garbage: [], tooYoung: 0 };
  const complete = (await store.listEntries()).filter((e) => e.status === 'complete' && !assumeDeleted.has(`${e.space}/${e.id}`));
  const referenced = new Set<string>();
  await forEachConcurrently(complete, concurrency, async (entry) => {
    const manifest = await store.getManifest(entry.space, entry.id).catch((error: unknown) => {
      throw new LifeboatError(
        `Media clean-up skipped: the manifest of ${entry.space}/${entry.id} cannot be read (${errorMessage(error)}), so it is unknown which media it needs.`,
      );
    });
    // Sealed manifests list their content by address in the readable part: prune needs no identity.
    for (const object of manifest.media?.objects ?? []) referenced.add(object.address ?? object.sha256);
    for (const content of manifest.media?.contents ?? []) referenced.add(content.address);
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
