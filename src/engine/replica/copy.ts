/**
 * Copy: complete backups from the backup bucket (the primary) to a replica bucket, possibly on another
 * provider with other credentials (docs/replication.md).
 *
 * Per backup, in an order that is safe to interrupt anywhere:
 *   1. the manifest is read from the primary (its exact bytes, kept for step 4) and checked;
 *   2. each database artifact is streamed from the primary into a multipart upload to the replica,
 *      counted and hashed on the way; a size or SHA-256 that differs from the manifest fails the stream
 *      before its end, so the upload is aborted and nothing is stored under that key;
 *   3. the media content the manifest refers to, the same way (plain content: SHA-256 and size against
 *      the manifest; encrypted content, whose plaintext hash the copier cannot know: size against the
 *      manifest, and the MD5 of the bytes read against the primary's ETag where that is an MD5);
 *   4. the manifest, last, byte for byte as the primary stores it (it may be signed): the commit point.
 *
 * A copy killed before step 4 leaves no manifest in the replica, so the replica lists that backup as
 * incomplete and restore refuses it; the next copy finishes it, skipping what is already there.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseManifest, type ArtifactRecord, type Manifest } from '../../domain/manifest.js';
import type { BackupEntry } from '../../domain/catalog.js';
import { cancellationOf } from '../cancellation.js';
import { forEachAsync, forEachConcurrently } from '../concurrency.js';
import { mediaContents } from '../media/index-store.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { takeBackupLock } from '../media/locks.js';
import { createS3Client, md5OfEtag, type BucketSettings } from '../s3/client.js';
import { explainBucketFailure, BACKUP_BUCKET_INPUTS, type BucketInputNames } from '../s3/preflight.js';
import { BackupStore, uploadTuningFor } from '../s3/store.js';
import { formatBytes } from '../streams.js';
import { artifactKeyIn } from './locate.js';

export const REPLICA_BUCKET_INPUTS: BucketInputNames = {
  bucket: 'replica-bucket',
  endpoint: 'replica-s3-endpoint',
  keyId: 'replica-aws-access-key-id',
  secret: 'replica-aws-secret-access-key',
};

export interface CopyOptions {
  primary: BucketSettings;
  replica: BucketSettings;
  /** Only this space; every space when undefined. */
  space?: string;
  /** Only this backup (of `space`); every complete backup not yet in the replica when undefined. */
  backupId?: string;
  /** Media content copied at once. */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  /** Cancellation: every request fails at once and open multipart uploads are aborted. */
  signal?: AbortSignal;
}

export interface CopiedBackup {
  space: string;
  id: string;
  /** `copied`: its manifest was written now. `present`: the replica already had it complete. */
  state: 'copied' | 'present';
}

export interface CopyTraffic {
  objects: number;
  bytes: number;
  /** Already in the replica with the right size (artifacts: and the right SHA-256), so not copied. */
  skipped: number;
  skippedBytes: number;
}

export interface CopyResult {
  primary: string;
  replica: string;
  backups: CopiedBackup[];
  artifacts: CopyTraffic;
  media: CopyTraffic;
  durationMs: number;
}

/** What the copier checks every copied object against. */
interface Expected {
  key: string;
  size: number;
  /** SHA-256 of the stored bytes, when the manifest records it (artifacts, plain media content). */
  sha256?: string;
  what: string;
}

export async function runCopy(options: CopyOptions, log: Logger): Promise<CopyResult> {
  try {
    return await copy(options, log);
  } catch (error) {
    throw cancellationOf(options.signal) ?? error;
  }
}

async function copy(options: CopyOptions, log: Logger): Promise<CopyResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const primary = new BackupStore(options.primary, createS3Client(options.primary, env, options.signal));
  const replica = new BackupStore(options.replica, createS3Client(options.replica, env, options.signal));
  await reachable(primary, BACKUP_BUCKET_INPUTS);
  await reachable(replica, REPLICA_BUCKET_INPUTS);
  if (primary.settings.endpoint === replica.settings.endpoint && primary.bucket === replica.bucket && primary.prefix === replica.prefix) {
    throw new LifeboatError(`'replica-bucket' names the backup bucket itself (s3://${primary.bucket}/${primary.prefix}): a replica must be another bucket or prefix. Check 'replica-bucket' and 'replica-prefix'.`);
  }

  const wanted = await backupsToConsider(primary, options);
  const inReplica = new Set((await replica.listEntries(options.space)).filter((e) => e.status === 'complete').map((e) => `${e.space}/${e.id}`));
  const result: CopyResult = {
    primary: primary.describe(),
    replica: replica.describe(),
    backups: [],
    artifacts: { objects: 0, bytes: 0, skipped: 0, skippedBytes: 0 },
    media: { objects: 0, bytes: 0, skipped: 0, skippedBytes: 0 },
    durationMs: 0,
  };
  const missing = wanted.filter((e) => !inReplica.has(`${e.space}/${e.id}`));
  log.info(`Copying from ${primary.describe()} to ${replica.describe()}: ${wanted.length} complete backup(s) considered, ${wanted.length - missing.length} already in the replica, ${missing.length} to copy.`);
  for (const entry of wanted) if (inReplica.has(`${entry.space}/${entry.id}`)) result.backups.push({ space: entry.space, id: entry.id, state: 'present' });
  // Newest first: if the copy is cut short, the backups most likely to be needed are the ones already safe.
  for (const entry of missing) {
    await log.group(`Copy ${entry.space}/${entry.id}`, () => copyBackup(primary, replica, entry, options, result, log));
    result.backups.push({ space: entry.space, id: entry.id, state: 'copied' });
  }
  result.durationMs = Date.now() - started;
  log.info(
    `Copy done: ${missing.length} backup(s) copied; artifacts ${result.artifacts.objects} copied (${formatBytes(result.artifacts.bytes)}), ${result.artifacts.skipped} already there; ` +
      `media content ${result.media.objects} copied (${formatBytes(result.media.bytes)}), ${result.media.skipped} already there.`,
  );
  return result;
}

/** One LIST of at most one key: the bucket exists and these credentials may list it (the first thing copy needs). */
async function reachable(store: BackupStore, names: BucketInputNames): Promise<void> {
  try {
    await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: `${store.prefix}backups/`, MaxKeys: 1 }));
  } catch (error) {
    throw new LifeboatError(`Cannot read the bucket given in '${names.bucket}': ${explainBucketFailure(error, store.bucket, names, 'list objects (s3:ListBucket)')} Nothing was copied.`, { cause: error });
  }
}

/** The primary's complete backups in scope, newest first; a backup-id that is not complete there is an error. */
async function backupsToConsider(primary: BackupStore, options: CopyOptions): Promise<BackupEntry[]> {
  const entries = await primary.listEntries(options.space);
  if (options.backupId !== undefined) {
    const entry = entries.find((e) => e.id === options.backupId);
    if (!entry) throw new LifeboatError(`Backup ${options.backupId} does not exist in space '${options.space}' of ${primary.describe()}. Check 'backup-id' and 'space'.`);
    if (entry.status !== 'complete') {
      throw new LifeboatError(`Backup ${options.backupId} of '${options.space}' is incomplete in ${primary.describe()} (no manifest), so there is nothing whole to copy. Copy a complete backup.`);
    }
    return [entry];
  }
  return entries.filter((e) => e.status === 'complete').sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
}

async function copyBackup(primary: BackupStore, replica: BackupStore, entry: BackupEntry, options: CopyOptions, result: CopyResult, log: Logger): Promise<void> {
  const manifestKey = primary.manifestKey(entry.space, entry.id);
  const manifestBytes = await readBytes(primary, manifestKey);
  // Parsed only to learn what to copy (and to refuse a broken one); what is written is `manifestBytes`, unchanged.
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestBytes.toString('utf8'), `s3://${primary.bucket}/${manifestKey}`);
  } catch (error) {
    throw new LifeboatError(`The manifest of ${entry.space}/${entry.id} in ${primary.describe()} is not valid (${errorMessage(error)}); it was not copied. Fix or prune that backup, or copy the others one by one with 'backup-id'.`, { cause: error });
  }
  if (manifest.id !== entry.id || manifest.space !== entry.space) {
    throw new LifeboatError(`The manifest stored for ${entry.space}/${entry.id} in ${primary.describe()} describes ${manifest.space}/${manifest.id}; it was not copied.`);
  }
  // Held until the manifest is written, so a prune of the replica never deletes content this copy relies on (media/locks.ts).
  const lock = manifest.media ? await takeBackupLock(replica, entry.space, entry.id, log) : undefined;
  try {
    for (const artifact of manifest.artifacts) await copyArtifact(primary, replica, manifest, artifact, result, log);
    if (manifest.media) await copyMedia(primary, replica, manifest, options.concurrency ?? 8, result, log);
    options.signal?.throwIfAborted();
    // The commit point, last: the exact bytes the primary holds.
    await replica.client.send(
      new PutObjectCommand({ Bucket: replica.bucket, Key: replica.manifestKey(entry.space, entry.id), Body: manifestBytes, ContentType: 'application/json' }),
    );
    log.info(`Backup ${entry.id} of '${entry.space}' is complete in the replica (manifest written last, ${manifestBytes.length} bytes as stored on the primary).`);
  } finally {
    await lock?.release().catch((error: unknown) =>
      log.warning(`Could not delete the copy's lock ${lock.key} in the replica (${errorMessage(error)}); a prune of the replica skips its media clean-up until the lock is older than its grace period.`),
    );
  }
}

async function copyArtifact(primary: BackupStore, replica: BackupStore, manifest: Manifest, artifact: ArtifactRecord, result: CopyResult, log: Logger): Promise<void> {
  const source = artifactKeyIn(primary, manifest, artifact);
  const target = artifactKeyIn(replica, manifest, artifact);
  const expected: Expected = { key: target, size: artifact.size, sha256: artifact.sha256, what: `artifact '${artifact.name}' of ${manifest.space}/${manifest.id}` };
  // Left by an interrupted copy: kept only if it is whole, which a read of the replica proves.
  if ((await sizeIn(replica, target)) === artifact.size && (await sha256In(replica, target)) === artifact.sha256) {
    result.artifacts.skipped++;
    result.artifacts.skippedBytes += artifact.size;
    log.info(`Artifact '${artifact.name}' is already in the replica, whole (size and SHA-256 match): not copied again.`);
    return;
  }
  await streamCopy(primary, source, replica, expected);
  result.artifacts.objects++;
  result.artifacts.bytes += artifact.size;
  log.info(`Copied artifact '${artifact.name}': ${formatBytes(artifact.size)}, size and SHA-256 match the manifest.`);
}

async function copyMedia(primary: BackupStore, replica: BackupStore, manifest: Manifest, concurrency: number, result: CopyResult, log: Logger): Promise<void> {
  const media = manifest.media!;
  const toReplica = (key: string) => replica.prefix + key.slice(primary.prefix.length);
  let referenced = 0;
  const copyOne = async (content: Expected, sourceKey: string) => {
    if ((await sizeIn(replica, content.key)) === content.size) {
      result.media.skipped++;
      result.media.skippedBytes += content.size;
      return;
    }
    await streamCopy(primary, sourceKey, replica, content);
    result.media.objects++;
    result.media.bytes += content.size;
  };
  // The content first, streamed from the index (or the manifest's own list, for older formats; a sealed
  // one lists its content by address, readable without the identity), then the index chunks that refer to it.
  await forEachAsync(mediaContents(media, primary), concurrency, async (content) => {
    referenced++;
    await copyOne({ key: toReplica(content.key), size: content.size, ...(content.sha256 ? { sha256: content.sha256 } : {}), what: `media content ${content.what}` }, content.key);
  });
  await forEachConcurrently(media.index?.chunks ?? [], concurrency, async (chunk) => {
    const key = primary.mediaIndexKey(chunk.address);
    await copyOne({ key: toReplica(key), size: chunk.size, what: `media index chunk ${chunk.address.slice(0, 12)}…` }, key);
  });
  log.info(`Media content: ${referenced} object(s) referenced; ${result.media.objects} copied so far in this run, the rest already in the replica.`);
}

/**
 * Checks the bytes as they pass: counts and hashes them, and fails the stream before its end when they
 * are not what is expected, so the upload reading it is aborted and never completes.
 */
class Verifier extends Transform {
  bytes = 0;
  private readonly sha256 = createHash('sha256');
  private readonly md5 = createHash('md5');

  constructor(
    private readonly expected: Expected,
    private readonly sourceMd5: string | undefined,
    private readonly where: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      callback(new CopyMismatchError(`${this.expected.what} at ${this.where} has more than the ${this.expected.size} bytes the manifest records`));
      return;
    }
    this.sha256.update(chunk);
    this.md5.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const problems: string[] = [];
    if (this.bytes !== this.expected.size) problems.push(`${this.bytes} bytes where the manifest records ${this.expected.size}`);
    const sha256 = this.sha256.digest('hex');
    if (this.expected.sha256 !== undefined && sha256 !== this.expected.sha256) problems.push(`SHA-256 ${sha256} where the manifest records ${this.expected.sha256}`);
    const md5 = this.md5.digest('hex');
    if (this.sourceMd5 !== undefined && md5 !== this.sourceMd5) problems.push(`MD5 ${md5} of the bytes read where the primary's ETag says ${this.sourceMd5}`);
    callback(problems.length ? new CopyMismatchError(`${this.expected.what} at ${this.where} does not match: ${problems.join('; ')}`) : null);
  }
}

/** A primary object that is not what its manifest says: the copy stops, nothing of it is stored, the replica's copy stays incomplete. */
export class CopyMismatchError extends LifeboatError {
  constructor(detail: string) {
    super(`${detail}. It was not copied (its upload to the replica was aborted), and the backup's manifest was not written to the replica, so the replica lists it as incomplete. The primary's copy is damaged: check it with a restore, and copy another backup.`);
    this.name = 'CopyMismatchError';
  }
}

async function streamCopy(primary: BackupStore, sourceKey: string, replica: BackupStore, expected: Expected): Promise<void> {
  const where = `s3://${primary.bucket}/${sourceKey}`;
  let response;
  try {
    response = await primary.client.send(new GetObjectCommand({ Bucket: primary.bucket, Key: sourceKey }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name === 'NoSuchKey' || status === 404) throw new CopyMismatchError(`${expected.what} is missing: there is no object at ${where}`);
    throw error;
  }
  const verifier = new Verifier(expected, md5OfEtag(response.ETag), where);
  const body = response.Body as Readable;
  body.on('error', (error) => verifier.destroy(error));
  body.pipe(verifier);
  try {
    // lib-storage aborts the multipart upload when its body fails, so no parts stay behind.
    await replica.upload(expected.key, verifier, 'application/octet-stream', uploadTuningFor(expected.size));
  } finally {
    body.destroy();
  }
}

async function sizeIn(store: BackupStore, key: string): Promise<number | undefined> {
  try {
    const head = await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return head.ContentLength ?? 0;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey' || status === 404) return undefined;
    throw error;
  }
}

async function sha256In(store: BackupStore, key: string): Promise<string> {
  const response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of response.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readBytes(store: BackupStore, key: string): Promise<Buffer> {
  const response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}
