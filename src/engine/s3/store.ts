/**
 * The backup bucket's layout, in one place:
 *
 *   <prefix>backups/<space>/<backup-id>/manifest.json       written last: the commit point
 *   <prefix>backups/<space>/<backup-id>/<artifact files>    e.g. database.pgdump.zst
 *   <prefix>media/sha256/<ab>/<sha256>                       media content, shared between backups
 *   <prefix>media/age/<ab>/<address>                         encrypted media content, by keyed address (docs/encryption.md)
 *   <prefix>media/index/<ab>/<address>                       a chunk of backups' media index, shared between backups (docs/media.md)
 *   <prefix>prune-journal/<run>.json                        what a prune is deleting, until it is done
 *   <prefix>restore-journal/<target-space>.json             a parallel restore in progress, until it is done or undone
 *
 * Ids sort by time, so a listing comes back oldest first within a space.
 */
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parseBackupId } from '../../domain/backup-id.js';
import type { BackupEntry } from '../../domain/catalog.js';
import { parseManifest, serializeManifest, type Manifest } from '../../domain/manifest.js';
import type { ObjectRetention } from '../../domain/immutability.js';
import { lockParams } from './object-lock.js';
import { LifeboatError, errorMessage } from '../errors.js';
import {
  createS3Client,
  deleteObjects,
  listAllObjects,
  listOpenUploads,
  type OpenUpload,
  normalizePrefix,
  type BucketSettings,
  type DeleteOptions,
  type DeleteOutcome,
  type ListedObject,
} from './client.js';

export { MAX_KEYS_PER_DELETE, type DeleteOptions, type DeleteOutcome } from './client.js';

export const MANIFEST_FILE = 'manifest.json';


/** A backup as listed, with every key stored under its prefix (manifest included). */
export interface ListedBackup {
  entry: BackupEntry;
  keys: string[];
  /** Multipart uploads still open under its prefix: a backup running, or one that was killed. */
  openUploads: OpenUpload[];
}



export interface UploadTuning {
  /** Multipart part size in bytes; S3 allows 10,000 parts, so this caps the largest artifact. */
  partSize: number;
  /** Parts in flight at once; memory is about partSize × (queueSize + 1). */
  queueSize: number;
}

export const DEFAULT_UPLOAD_TUNING: UploadTuning = { partSize: 8 * 1024 * 1024, queueSize: 3 };

/** S3 allows 10,000 parts; 9,000 leaves room for a dump larger than the database it came from. */
const PLANNED_PARTS = 9000;
const MIB = 1024 * 1024;

/**
 * Upload memory follows the part size (peak RSS 190 MiB at 8 MiB parts, 260 MiB at 16 MiB: see
 * docs/benchmark.md), so parts are as small as the expected size allows: 8 MiB, or more for a
 * database whose dump could otherwise need more than 10,000 parts.
 */
export function uploadTuningFor(expectedBytes: number): UploadTuning {
  const needed = Math.ceil(expectedBytes / PLANNED_PARTS / MIB) * MIB;
  return { ...DEFAULT_UPLOAD_TUNING, partSize: Math.max(DEFAULT_UPLOAD_TUNING.partSize, needed) };
}

export class BackupStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /**
   * The S3 Object Lock retention a backup puts on the objects it writes (artifacts, manifest, media content);
   * undefined when nothing is locked. Set by backup (docs/immutability.md); never on journals or lock files.
   */
  objectLock?: ObjectRetention;

  constructor(readonly settings: BucketSettings, client?: S3Client) {
    this.client = client ?? createS3Client(settings);
    this.bucket = settings.bucket;
    this.prefix = normalizePrefix(settings.prefix);
  }

  describe(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  backupPrefix(space: string, id: string): string {
    return `${this.prefix}backups/${space}/${id}/`;
  }

  artifactKey(space: string, id: string, file: string): string {
    return this.backupPrefix(space, id) + file;
  }

  /** Media content, stored once by SHA-256 and shared by every backup (of any space) that holds it. */
  mediaRoot(): string {
    return `${this.prefix}media/sha256/`;
  }

  mediaObjectKey(sha256: string): string {
    return `${this.mediaRoot()}${sha256.slice(0, 2)}/${sha256}`;
  }

  /** Encrypted media content, stored once per keyed address (see crypto/keys.ts mediaContentAddress). */
  encryptedMediaRoot(): string {
    return `${this.prefix}media/age/`;
  }

  encryptedMediaKey(address: string): string {
    return `${this.encryptedMediaRoot()}${address.slice(0, 2)}/${address}`;
  }

  /** Where one media object's content is stored: by address when encrypted, by SHA-256 otherwise. */
  mediaContentKey(object: { sha256: string; address?: string }): string {
    return object.address !== undefined ? this.encryptedMediaKey(object.address) : this.mediaObjectKey(object.sha256);
  }

  /** A chunk of a backup's media index (domain/media-index.ts), by its address; shared like content. */
  mediaIndexKey(address: string): string {
    return `${this.prefix}media/index/${address.slice(0, 2)}/${address}`;
  }

  /** Every kind of media content, and the media index. */
  allMediaRoot(): string {
    return `${this.prefix}media/`;
  }

  manifestKey(space: string, id: string): string {
    return this.artifactKey(space, id, MANIFEST_FILE);
  }

  /** Where a parallel restore records, until it is done, which pre-restore backup undoes it (one per target space). */
  restoreJournalKey(targetSpace: string): string {
    return `${this.prefix}restore-journal/${targetSpace}.json`;
  }

  /** Where prunes record what they are deleting (outside backups/, so listings of backups never see it). */
  pruneJournalPrefix(): string {
    return `${this.prefix}prune-journal/`;
  }

  /** Fails early, naming the input, when the bucket is missing or the credentials cannot reach it. */
  async assertReachable(inputName = 'backup-bucket'): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why =
        status === 404
          ? 'it does not exist'
          : status === 403
            ? 'the credentials are not allowed to use it'
            : `the request failed: ${errorMessage(error)}`;
      throw new LifeboatError(
        `Cannot use the bucket '${this.bucket}' given in '${inputName}': ${why}. Check '${inputName}', 's3-endpoint', 's3-region' and the AWS credentials.`,
        { cause: error },
      );
    }
  }

  /**
   * Streams a body into an object by multipart upload. On any failure, including an error raised
   * by the body stream itself, lib-storage aborts the multipart upload so no parts are left behind.
   */
  async upload(key: string, body: Readable, contentType: string, tuning: UploadTuning = DEFAULT_UPLOAD_TUNING): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ...lockParams(this.objectLock) },
      partSize: tuning.partSize,
      queueSize: tuning.queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async objectSize(key: string): Promise<number> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    return head.ContentLength ?? 0;
  }

  async putManifest(manifest: Manifest): Promise<number> {
    const body = serializeManifest(manifest);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.manifestKey(manifest.space, manifest.id),
        Body: body,
        ContentType: 'application/json',
        ...lockParams(this.objectLock),
      }),
    );
    return Buffer.byteLength(body);
  }

  async getManifest(space: string, id: string): Promise<Manifest> {
    const key = this.manifestKey(space, id);
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = await response.Body!.transformToString('utf8');
    return parseManifest(text, `s3://${this.bucket}/${key}`);
  }

  async getObjectStream(key: string): Promise<Readable> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return response.Body as Readable;
  }

  /**
   * Every backup under the prefix (or one space), from the listing alone. A backup is complete
   * when its manifest exists; keys that are not Lifeboat backups are ignored.
   */
  async listEntries(space?: string): Promise<BackupEntry[]> {
    return (await this.listBackups(space)).map((b) => b.entry);
  }

  /** Like listEntries, with the keys of each backup, so they can be deleted without listing each one again. */
  async listBackups(space?: string): Promise<ListedBackup[]> {
    const root = `${this.prefix}backups/`;
    const under = space ? `${root}${space}/` : root;
    // A backup killed while uploading its first artifact has no object at all, only an open upload:
    // it must still show, as incomplete. One more listing request per 1,000 open uploads.
    const [objects, uploads] = await Promise.all([this.listObjects(under), this.listOpenUploadsIfAllowed(under)]);
    const byBackup = new Map<string, ListedBackup>();
    const backupOf = (key: string): ListedBackup | undefined => {
      const rest = key.slice(root.length).split('/');
      if (rest.length < 3) return undefined;
      const [entrySpace, id] = rest as [string, string];
      const parsed = parseBackupId(id);
      if (!parsed) return undefined;
      const mapKey = `${entrySpace}/${id}`;
      let backup = byBackup.get(mapKey);
      if (!backup) {
        backup = {
          entry: { id, space: entrySpace, trigger: parsed.trigger, createdAt: parsed.createdAt, sizeBytes: 0, status: 'incomplete' },
          keys: [],
          openUploads: [],
        };
        byBackup.set(mapKey, backup);
      }
      return backup;
    };
    for (const object of objects) {
      const backup = backupOf(object.key);
      if (!backup) continue;
      backup.entry.sizeBytes += object.size;
      backup.keys.push(object.key);
      if (object.key === this.manifestKey(backup.entry.space, backup.entry.id)) backup.entry.status = 'complete';
    }
    for (const upload of uploads) backupOf(upload.key)?.openUploads.push(upload);
    return [...byBackup.values()];
  }

  /** Open multipart uploads under a key prefix, 1,000 per request. */
  async listOpenUploads(prefix: string): Promise<OpenUpload[]> {
    return listOpenUploads(this.client, this.bucket, prefix);
  }

  /**
   * For listings: open uploads, or none when the store refuses to list them (credentials without
   * s3:ListBucketMultipartUploads, or a store without the call), so list and restore still work there.
   */
  private async listOpenUploadsIfAllowed(prefix: string): Promise<OpenUpload[]> {
    try {
      return await this.listOpenUploads(prefix);
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as Error).name;
      if (status === 403 || status === 405 || status === 501 || name === 'AccessDenied' || name === 'NotImplemented') return [];
      throw error;
    }
  }

  /** Every object under a key prefix, 1,000 per LIST request. */
  async listObjects(prefix: string): Promise<ListedObject[]> {
    return listAllObjects(this.client, this.bucket, prefix);
  }

  async putText(key: string, body: string, contentType = 'application/json'): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async getText(key: string): Promise<string> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return response.Body!.transformToString('utf8');
  }

  /**
   * Deletes keys with DeleteObjects, up to 1,000 per request and a few requests at a time. Never throws
   * for a failed key or request: each key ends up in `deleted` or in `failed` with the reason, so the caller
   * can decide what a partial failure means. A key that did not exist counts as deleted, as in S3.
   */
  async deleteKeys(keys: readonly string[], options: DeleteOptions = {}): Promise<DeleteOutcome> {
    return deleteObjects(this.client, this.bucket, keys, options);
  }

}
