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
 * New content is read and hashed by the runner, many objects at a time. It is stored through the runner
 * (small objects from memory, large ones streamed by multipart upload), or, when one credential reaches
 * both buckets on one server, objects of 256 KiB or more are copied inside the store by CopyObject pinned
 * to the ETag of the bytes that were hashed (domain/media-copy.ts, docs/media.md "Copying").
 */
import { plural } from '../../domain/report.js';
import { reportProgress } from '../progress.js';
import { createHash } from 'node:crypto';
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { MediaObjectRecord, MediaRecord, MediaTotals } from '../../domain/manifest.js';
import { forEachAsync, forEachConcurrently, mapOrdered } from '../concurrency.js';
import { ChunkCutter, InvalidChunkError, MEDIA_INDEX_FORMAT, mergeJoin } from '../../domain/media-index.js';
import { SpillList, sortedByKey } from './external-sort.js';
import { ChunkWriter, mediaContents, mediaRecords, readChunkContents, toAsync, type ChunkWriteStats, type MediaEncryption } from './index-store.js';

export type { MediaEncryption } from './index-store.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { MAX_KEYS_PER_DELETE, createS3Client, deleteObjects, listObjects, md5OfEtag, normalizePrefix, type BucketSettings, type ListedObject } from '../s3/client.js';
import { withRetries, TRANSFER_RETRIES } from '../s3/retry.js';
import type { BackupStore } from '../s3/store.js';
import { formatBytes, Meter } from '../streams.js';
import { createAgeDecryptor, createAgeEncryptor, decryptBytes, encryptBytes } from '../crypto/age-stream.js';
import { mediaContentAddress } from '../crypto/keys.js';
import { keepRetainedUntil, lockParams } from '../s3/object-lock.js';
import { copiedTheHashedBytes, copiesInStore, parseServerCopySwitch, sameConnection, serverCopyFloor } from '../../domain/media-copy.js';

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
  /** Backup: of the objects written, those copied inside the store (CopyObject), and their bytes; set only when some were. */
  objectsCopiedInStore?: number;
  bytesCopiedInStore?: number;
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

export interface MediaBackupOptions {
  source: BucketSettings;
  encryption?: MediaEncryption;
  store: BackupStore;
  /** The media record of the space's previous complete backup, if any: the base for incremental copies. */
  previous?: MediaRecord;
  /** The identities to read the previous backup's index with, when it is encrypted. */
  previousIdentities?: readonly string[];
  tuning?: MediaTuning;
  log: Logger;
  /** How often to log progress (the dump's interval). */
  progressIntervalMs?: number;
  /** Where sorted runs of a large listing go (external-sort.ts). */
  tempRoot?: string;
  /**
   * Objects of at least this size are copied inside the store (CopyObject) instead of through the runner;
   * undefined: none are. Ignored under encryption. See mediaServerCopyFloor.
   */
  serverCopyFromBytes?: number;
  /**
   * Cancellation (SIGINT/SIGTERM): the media bucket's client fails every request at once, as the backup
   * bucket's does, so a cancelled backup does not wait for the downloads in flight to finish.
   */
  signal?: AbortSignal;
}

/**
 * The size from which a backup copies media content inside the store, or undefined when it cannot: the
 * media bucket (its settings already completed by withConnectionOf) and the backup bucket must share an
 * endpoint, region and credentials, and the content must not be encrypted by Lifeboat.
 * LIFEBOAT_MEDIA_SERVER_COPY=off turns it off (`all` copies every size, for measuring).
 */
export function mediaServerCopyFloor(media: BucketSettings, backup: BucketSettings, encrypted: boolean, env: NodeJS.ProcessEnv = process.env): number | undefined {
  let switched;
  try {
    switched = parseServerCopySwitch(env.LIFEBOAT_MEDIA_SERVER_COPY);
  } catch (error) {
    throw new LifeboatError(errorMessage(error));
  }
  const defaultRegion = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  return serverCopyFloor(switched, !encrypted && sameConnection(media, backup, defaultRegion));
}

/**
 * Server-side copying for one backup: which objects, and whether the store has refused it (then the
 * rest of the backup copies through the runner, after one warning).
 */
class ServerCopy {
  private refusal: string | undefined;
  constructor(
    private readonly floor: number | undefined,
    private readonly log: Logger,
  ) {}

  wants(size: number, etag: string | undefined): boolean {
    return this.refusal === undefined && copiesInStore(size, this.floor, etag);
  }

  refused(why: string): void {
    if (this.refusal !== undefined) return;
    this.refusal = why;
    this.log.warning(`The store refused to copy media content inside it (${why}); the rest is copied through the runner. Check that the credentials may read the media bucket and write the backup bucket (docs/iam.md).`);
  }
}

/** The store cannot or may not copy: 400 (a request it does not take), 403 (a policy), 501 (not implemented). */
class ServerCopyRefused extends Error {}

/** What a media backup did beyond the totals: the index chunks it wrote and reused. */
export interface MediaBackupResult {
  record: MediaRecord;
  traffic: MediaTraffic;
  index: ChunkWriteStats;
}

/** A listed object of the media bucket, its key relative to the media prefix. */
interface SourceObject extends ListedObject {
  relativeKey: string;
}

/** The media bucket's objects in key order, whatever order the server lists them in; a failure names the input. */
async function* sortedSource(client: S3Client, bucket: string, prefix: string, tempRootDir?: string): AsyncGenerator<SourceObject> {
  async function* listed(): AsyncGenerator<SourceObject> {
    try {
      for await (const object of listObjects(client, bucket, prefix)) yield { ...object, relativeKey: object.key.slice(prefix.length) };
    } catch (error) {
      throw new LifeboatError(`Cannot list the media bucket '${bucket}' given in 'media-bucket': ${errorMessage(error)}. Check 'media-bucket' and its credentials.`, {
        cause: error,
      });
    }
  }
  yield* sortedByKey(listed(), { key: (o) => o.relativeKey, tempRoot: tempRootDir });
}

/**
 * Backs up the media bucket by a merge-join of its listing (sorted by key) with the previous backup's
 * index, both streamed: an object whose ETag, size and last-modified time are unchanged keeps its record,
 * anything else is read and stored by content. The records are cut into index chunks as they come, so
 * memory holds one chunk and the copies in flight, whatever the number of objects.
 */
export async function backupMedia(options: MediaBackupOptions): Promise<MediaBackupResult> {
  const { store, log } = options;
  const tuning = options.tuning ?? DEFAULT_MEDIA_TUNING;
  const source = createS3Client(options.source, undefined, options.signal);
  const prefix = normalizePrefix(options.source.prefix);
  // The previous backup's objects are certainly kept by prune while this backup runs (the newest complete
  // backup of a space is never deleted), so carrying its records and chunks over is safe.
  const previousRecords = options.previous
    ? mediaRecords(options.previous, store, options.previousIdentities)
    : toAsync<MediaObjectRecord>([]);
  const storedNow = new Map<string, Promise<number>>();
  const serverCopy = new ServerCopy(options.encryption ? undefined : options.serverCopyFromBytes, log);
  if (!options.encryption && options.serverCopyFromBytes !== undefined) {
    log.info(
      `New media content of ${formatBytes(options.serverCopyFromBytes)} or more is copied inside the store (CopyObject, pinned to the ETag of the bytes hashed): one credential reaches both buckets.`,
    );
  }
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  const totals = emptyTotals();
  let checked = 0;
  // Reused content whose retention this backup is extending, by content key (several objects may share one).
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
      // Forgotten once settled, so the map holds only what is in flight: a later object sharing the content asks again.
      void pending.finally(() => lockedNow.delete(casKey)).catch(() => undefined);
    }
    return pending;
  };
  const progress = reportProgress(
    log,
    options.progressIntervalMs,
    (elapsed) =>
      `… media: ${checked} objects done, ${traffic.objectsWritten} new stored (${formatBytes(traffic.bytesWritten)}), ${formatBytes(traffic.bytesRead)} read, after ${elapsed}`,
  );

  async function backupOneObject(object: SourceObject, before: MediaObjectRecord | undefined): Promise<{ record: MediaObjectRecord; stored: boolean } | undefined> {
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
      return { record: before, stored: false };
    }
    return copyIntoStore(source, options.source.bucket, object, object.relativeKey, store, tuning, traffic, storedNow, log, serverCopy, options.encryption);
  }

  const joined = mergeJoin(sortedSource(source, options.source.bucket, prefix, options.tempRoot), (o) => o.relativeKey, previousRecords, (r) => r.key);
  // Objects only the previous backup had were deleted since: they are simply not in this one.
  async function* listedNow() {
    for await (const step of joined) if (step.left) yield step;
  }
  const writer = new ChunkWriter(store, options.previous?.index?.chunks ?? [], options.encryption);
  const cutter = new ChunkCutter();
  try {
    const results = mapOrdered(listedNow(), tuning.concurrency, async (step) => {
      try {
        return await backupOneObject(step.left!, step.right);
      } finally {
        checked++;
      }
    });
    for await (const result of results) {
      // An object deleted between the listing and its read is not in the backup.
      if (!result) continue;
      const { record, stored } = result;
      totals.objects++;
      totals.bytes += record.size;
      if (stored) {
        totals.newObjects++;
        totals.newBytes += record.size;
      } else {
        totals.reusedObjects++;
        totals.reusedBytes += record.size;
      }
      const chunk = cutter.add(record);
      if (chunk) await writer.write(chunk);
    }
    const last = cutter.finish();
    if (last) await writer.write(last);
  } finally {
    progress.stop();
  }

  log.info(
    `Media s3://${options.source.bucket}/${prefix}: ${totals.objects} objects (${formatBytes(totals.bytes)}); ` +
      `${totals.newObjects} new (${formatBytes(totals.newBytes)}${traffic.objectsCopiedInStore ? `; ${traffic.objectsCopiedInStore} copied inside the store` : ''}), ${totals.reusedObjects} reused (${formatBytes(totals.reusedBytes)}); ` +
      `index: ${writer.chunks.length} chunk(s), ${writer.stats.chunksWritten} written (${formatBytes(writer.stats.bytesWritten)}), ${writer.stats.chunksReused} unchanged.`,
  );
  if (store.objectLock) {
    log.info(`Object Lock: media content this backup references is locked until at least ${store.objectLock.retainUntil.toISOString()} (${traffic.retentionsExtended ?? 0} reused content object(s) had their retention extended).`);
  }
  return {
    record: { bucket: options.source.bucket, prefix, objects: [], totals, index: { format: MEDIA_INDEX_FORMAT, chunks: writer.chunks } },
    traffic,
    index: writer.stats,
  };
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
  serverCopy: ServerCopy,
  encryption?: MediaEncryption,
): Promise<{ record: MediaObjectRecord; stored: boolean } | undefined> {
  let object: ListedObject = listed;
  const problems: string[] = [];
  for (let attempt = 1; attempt <= MEDIA_READ_ATTEMPTS; attempt++) {
    try {
      return await copyVerified(source, bucket, object, key, store, tuning, traffic, storedNow, serverCopy, encryption);
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
  serverCopy: ServerCopy,
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

  // The ETag of the bytes being hashed: a copy inside the store is pinned to it.
  const hashedEtag = response.ETag ?? pinned;
  /** Copies the content inside the store when this object is copied so; undefined when it is not, or the store refused. */
  const copiedInStore = async (casKey: string, md5: string): Promise<number | undefined> => {
    if (encryption || !serverCopy.wants(object.size, hashedEtag)) return undefined;
    try {
      return await copyInStore(store, bucket, object.key, hashedEtag!, casKey, object.size, md5, traffic);
    } catch (error) {
      if (!(error instanceof ServerCopyRefused)) throw error;
      serverCopy.refused(error.message);
      return undefined;
    }
  };

  if (object.size <= tuning.smallObjectBytes) {
    const data = await readAll(response.Body as Readable).catch(readFailed);
    traffic.bytesRead += data.length;
    const { sha256, md5 } = digests(data);
    check(data.length, md5);
    const { stored, size } = await storeOnce(storedNow, contentKey(sha256), store, async (casKey) => {
      const copied = await copiedInStore(casKey, md5);
      if (copied !== undefined) return copied;
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
    // Copied inside the store, the second read and the upload are saved.
    const copied = await copiedInStore(casKey, md5);
    if (copied !== undefined) return copied;
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

/** CopyObject's x-amz-copy-source: bucket and key, each key segment URL-encoded. */
function copySourceOf(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Stores a media object's content inside the store (CopyObject from the media bucket), pinned by
 * CopySourceIfMatch to the ETag of the bytes Lifeboat hashed: an object replaced since is refused by the
 * store (412) and read again, so the content address stays the SHA-256 of the bytes stored. Stored as a PUT
 * stores it: no user metadata, no tags, application/octet-stream, the backup's Object Lock.
 *
 * The ETag the store answers is checked as well, for a store that ignores the pin: a copy of other bytes
 * is deleted before any manifest refers to it, and the object is read again.
 */
async function copyInStore(
  store: BackupStore,
  sourceBucket: string,
  sourceKey: string,
  etag: string,
  casKey: string,
  size: number,
  md5: string,
  traffic: MediaTraffic,
): Promise<number> {
  const copy = new CopyObjectCommand({
    Bucket: store.bucket,
    Key: casKey,
    CopySource: copySourceOf(sourceBucket, sourceKey),
    CopySourceIfMatch: etag,
    MetadataDirective: 'REPLACE',
    TaggingDirective: 'REPLACE',
    ContentType: 'application/octet-stream',
    ...lockParams(store.objectLock),
  });
  // Ceph RGW (16, Pacific, and older) ignores x-amz-copy-source-if-match and reads the pin under its old name
  // (tracker.ceph.com/issues/40808): sent under both names. A store that refuses the header makes the copy
  // fail with 400, and the rest of the backup goes through the runner (ServerCopyRefused).
  copy.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-copy-if-match'] = etag;
      return next(args);
    },
    { step: 'build', name: 'lifeboatRgwCopyPin' },
  );
  let output;
  try {
    output = await store.client.send(copy);
  } catch (error) {
    const status = statusOf(error);
    const name = (error as Error).name;
    if (status === 412 || name === 'PreconditionFailed') throw new ChangedDuringRead(`it was replaced before it was copied (its ETag is no longer ${etag})`);
    if ((status === 404 && name !== 'NoSuchBucket') || name === 'NoSuchKey') throw new ChangedDuringRead('it was deleted before it was copied');
    if (status === 400 || status === 403 || status === 501 || name === 'NotImplemented') throw new ServerCopyRefused(`${name}${status ? ` (HTTP ${status})` : ''}: ${errorMessage(error)}`);
    throw error;
  }
  const answered = output.CopyObjectResult?.ETag;
  const encryptedAtRest = output.SSECustomerAlgorithm !== undefined || (output.ServerSideEncryption ?? '').startsWith('aws:kms');
  if (!copiedTheHashedBytes(answered, etag, md5, encryptedAtRest)) {
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: casKey })).catch((error: unknown) => {
      throw new LifeboatError(
        `The store copied other bytes than Lifeboat hashed into s3://${store.bucket}/${casKey} (it answered ETag ${answered}, the hashed bytes have ETag ${etag}), ` +
          `and deleting that copy failed (${errorMessage(error)}). Delete it by hand before the next backup, or later backups will refer to it; then run the backup again.`,
      );
    });
    throw new ChangedDuringRead(`the store copied other bytes than were hashed (it answered ETag ${answered}, not ${etag})`);
  }
  // Some stores (Ceph RGW) may not apply the lock given with the copy: checked, and set if missing.
  if (store.objectLock) await keepRetainedUntil(store.client, store.bucket, casKey, store.objectLock);
  traffic.bytesWritten += size;
  traffic.objectsWritten++;
  traffic.objectsCopiedInStore = (traffic.objectsCopiedInStore ?? 0) + 1;
  traffic.bytesCopiedInStore = (traffic.bytesCopiedInStore ?? 0) + size;
  return size;
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
  } finally {
    // Only copies in flight are remembered, so memory does not grow with the bucket: content stored
    // earlier in this backup is found by keepExisting like any stored content.
    if (storedNow.get(casKey) === work) storedNow.delete(casKey);
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

/**
 * Restore refuses before touching anything unless every piece of content the backup needs is present and
 * whole (by stored size), and every chunk of its index reads back and matches its hash. Streams: one chunk's
 * content at a time. Needs no identity (check uses it too).
 */
export async function verifyMediaPresent(record: MediaRecord, store: BackupStore, concurrency = DEFAULT_MEDIA_TUNING.concurrency): Promise<{ contents: number }> {
  const problems: string[] = [];
  let contents = 0;
  try {
    await forEachAsync(mediaContents(record, store), concurrency, async ({ key, size: expected, what }) => {
      contents++;
      const size = await exists(store.client, store.bucket, key);
      if (size === undefined) problems.push(`${what} is missing`);
      else if (size !== expected) problems.push(`${what} has ${size} bytes, the manifest says ${expected}`);
    });
  } catch (error) {
    if (!(error instanceof InvalidChunkError)) throw error;
    problems.unshift(error.message);
  }
  if (problems.length) {
    throw new LifeboatError(
      `The backup's media cannot be restored: ${problems.length} object(s) are missing or damaged in the backup bucket (${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}). Nothing was changed. Choose another backup.`,
    );
  }
  return { contents };
}

export interface MediaRestoreResult {
  uploaded: number;
  unchanged: number;
  deleted: number;
  traffic: MediaTraffic;
}

/**
 * Mirrors a backup's media into the target bucket by a merge-join of the backup's index with the target's
 * listing, both in key order: uploads what is missing or different (checking each object's SHA-256 on the
 * way), then, in a second join once every upload succeeded, deletes what the backup did not have. A failure
 * says exactly what state the bucket was left in; re-running the restore finishes the job, since it
 * uploads only what still differs. Memory holds one chunk of the index and the copies in flight.
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
  tempRootDir?: string,
  /** Cancellation: the target bucket's requests fail at once, except aborting a multipart upload, so none is left open. */
  signal?: AbortSignal,
): Promise<MediaRestoreResult> {
  const client = createS3Client(target, undefined, signal);
  const prefix = normalizePrefix(target.prefix);
  const where = `s3://${target.bucket}/${prefix}`;
  const traffic: MediaTraffic = { bytesRead: 0, bytesWritten: 0, objectsWritten: 0 };
  let unchanged = 0;
  let uploaded = 0;
  let extra = 0;
  const total = record.totals.objects;
  // A failure listing reaches restore as the S3 error itself, which names the bucket's problem from its code.
  const join = () =>
    mergeJoin(
      mediaRecords(record, store, identities),
      (r) => r.key,
      sortedByKey(
        (async function* () {
          for await (const object of listObjects(client, target.bucket, prefix)) yield { ...object, key: object.key.slice(prefix.length) };
        })(),
        { key: (o) => o.key, tempRoot: tempRootDir },
      ),
      (o) => o.key,
    );

  const failures: string[] = [];
  const progress = reportProgress(
    log,
    progressIntervalMs,
    (elapsed) =>
      `… media: ${uploaded + unchanged} of ${plural(total, 'object')} in place (${uploaded} copied, ${formatBytes(traffic.bytesWritten)}; ${unchanged} already right), after ${elapsed}`,
  );
  async function* toPlace() {
    for await (const step of join()) {
      if (step.left) yield step;
      else extra++;
    }
  }
  await forEachAsync(toPlace(), tuning.concurrency, async ({ left: object, right: current }) => {
    if (current && current.size === object!.size && (await alreadyInPlace(client, target.bucket, prefix + object!.key, object!))) {
      unchanged++;
      return;
    }
    try {
      // A reset, a 5xx or a body cut short is tried again (a re-run would copy it anyway); a refusal is not.
      await withRetries(
        () => copyFromStore(store, object!, client, target.bucket, prefix + object!.key, tuning, traffic, identities),
        TRANSFER_RETRIES,
        (error, attempt) => log.warning(`Media object '${object!.key}': attempt ${attempt} failed (${errorMessage(error)}); trying again.`),
      );
      uploaded++;
    } catch (error) {
      failures.push(`'${object!.key}': ${errorMessage(error)}`);
      throw error;
    }
  })
    .finally(() => progress.stop())
    .catch((error: unknown) => {
      // Listing the target failed before anything was copied: the S3 error itself, which names the
      // bucket's problem from its code (restore explains it), and the bucket is untouched.
      if (failures.length === 0 && uploaded === 0) throw error;
      const pending = total - unchanged - uploaded;
      throw new LifeboatError(
        `Media restore into ${where} stopped: ${uploaded} object(s) restored, ${unchanged} already right, ${pending} not restored yet; ` +
          `nothing was deleted, so objects the backup did not have are still there. The bucket is a mix of its old and restored contents. ` +
          `Run the same restore again to finish (it copies only what still differs). Cause: ${failures[0] ?? errorMessage(error)}`,
        { cause: error },
      );
    });

  let deleted = 0;
  if (extra > 0) {
    // The second join: what the target holds that the backup does not, deleted a batch at a time.
    const failed: { key: string; message: string }[] = [];
    let batch: string[] = [];
    const flush = async () => {
      const removal = await deleteObjects(client, target.bucket, batch);
      deleted += removal.deleted.length;
      failed.push(...removal.failed.slice(0, 5 - Math.min(5, failed.length)));
      batch = [];
    };
    for await (const step of join()) {
      if (step.left) continue;
      batch.push(prefix + step.key);
      if (batch.length >= MAX_KEYS_PER_DELETE) await flush();
    }
    if (batch.length) await flush();
    if (failed.length) {
      throw new LifeboatError(
        `Media restore into ${where}: every object of the backup is in place, but object(s) the backup did not have could not be deleted ` +
          `(${failed[0]!.key}: ${failed[0]!.message}). Run the same restore again to finish.`,
      );
    }
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
  /** Content objects (and index chunks) in the backup bucket. */
  stored: number;
  /** Of those, referenced by a remaining complete backup. */
  referenced: number;
  /** Unreferenced and older than the grace period: safe to delete. Spills to disk past memory; dispose when done. */
  garbage: SpillList<{ key: string; size: number }>;
  /** Their total size. */
  garbageBytes: number;
  /** Unreferenced but younger than the grace period: possibly written by a backup still running. */
  tooYoung: number;
}

/**
 * Finds media content (and index chunks) no remaining complete backup refers to. Content a running backup
 * has just stored is not referenced by any manifest yet, so only content older than the grace period counts
 * as garbage (backups refresh the age of old content they reuse). References are read from every space's
 * manifests and their index chunks, since content is shared across spaces; if any manifest or chunk cannot
 * be read, nothing is garbage, because a missed reference would delete data a backup needs.
 *
 * At scale, in bounded memory: every reference is streamed into an external sort (each chunk read once,
 * however many backups share it), the stored content is listed and sorted the same way, and one merge-join
 * of the two finds what nothing refers to.
 */
export async function findMediaGarbage(
  store: BackupStore,
  now: Date,
  graceMs: number,
  concurrency = DEFAULT_MEDIA_TUNING.concurrency,
  /** Backups (`space/id`) to count as gone: a dry run's planned deletions, so it reports what the real run would delete. */
  assumeDeleted: ReadonlySet<string> = new Set(),
  tempRootDir?: string,
): Promise<MediaGarbage> {
  const garbage = new SpillList<{ key: string; size: number }>(undefined, tempRootDir);
  const found: MediaGarbage = { stored: 0, referenced: 0, garbage, garbageBytes: 0, tooYoung: 0 };
  const stored = sortedByKey(listObjects(store.client, store.bucket, store.allMediaRoot()), { key: (o) => o.key, tempRoot: tempRootDir });
  const first = await stored.next();
  if (first.done) return found;
  const complete = (await store.listEntries()).filter((e) => e.status === 'complete' && !assumeDeleted.has(`${e.space}/${e.id}`));
  const referenced = sortedByKey(referencesOf(store, complete, concurrency), { key: (k) => k, dedupe: true, tempRoot: tempRootDir });
  const cutoff = now.getTime() - graceMs;
  try {
    const storedAgain = (async function* () {
      yield first.value;
      yield* stored;
    })();
    for await (const step of mergeJoin(storedAgain, (o) => o.key, referenced, (k) => k)) {
      const object = step.left;
      if (!object) continue;
      found.stored++;
      if (step.right !== undefined) found.referenced++;
      else if (object.lastModified && Date.parse(object.lastModified) <= cutoff) {
        await garbage.push({ key: object.key, size: object.size });
        found.garbageBytes += object.size;
      } else found.tooYoung++;
    }
  } catch (error) {
    await garbage.dispose();
    throw error;
  }
  return found;
}

/** Every stored key the given backups refer to: content, and index chunks with the content they list. */
async function* referencesOf(store: BackupStore, backups: readonly { space: string; id: string }[], concurrency: number): AsyncGenerator<string> {
  const manifests = mapOrdered(toAsync(backups), concurrency, (entry) =>
    store.getManifest(entry.space, entry.id).catch((error: unknown) => {
      throw new LifeboatError(
        `Media clean-up skipped: the manifest of ${entry.space}/${entry.id} cannot be read (${errorMessage(error)}), so it is unknown which media it needs.`,
      );
    }),
  );
  // Chunks are shared by the backups of an unchanged bucket: each is read once.
  const chunksRead = new Set<string>();
  for await (const manifest of manifests) {
    const media = manifest.media;
    if (!media) continue;
    if (!media.index) {
      // Format 1 and 2: the objects, or (sealed) their content by address, are in the manifest.
      for (const object of media.objects) yield store.mediaContentKey(object);
      for (const content of media.contents ?? []) yield store.encryptedMediaKey(content.address);
      continue;
    }
    const unread = media.index.chunks.filter((ref) => !chunksRead.has(ref.address));
    for (const ref of media.index.chunks) {
      chunksRead.add(ref.address);
      yield store.mediaIndexKey(ref.address);
    }
    const contents = mapOrdered(toAsync(unread), 4, (ref) =>
      readChunkContents(store, ref).catch((error: unknown) => {
        throw new LifeboatError(
          `Media clean-up skipped: a chunk of the media index of ${manifest.space}/${manifest.id} cannot be read (${errorMessage(error)}), so it is unknown which media it needs.`,
        );
      }),
    );
    for await (const list of contents) for (const content of list) yield content.key;
  }
}
