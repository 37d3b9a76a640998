/**
 * The backup bucket's layout, in one place:
 *
 *   <prefix>backups/<space>/<backup-id>/manifest.json       written last: the commit point
 *   <prefix>backups/<space>/<backup-id>/<artifact files>    e.g. database.pgdump.zst
 *
 * Ids sort by time, so a listing comes back oldest first within a space.
 */
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parseBackupId } from '../domain/backup-id.js';
import type { BackupEntry } from '../domain/catalog.js';
import { parseManifest, serializeManifest, type Manifest } from '../domain/manifest.js';
import { LifeboatError, errorMessage } from './errors.js';
import { createS3Client, normalizePrefix, type BucketSettings } from './s3.js';

export const MANIFEST_FILE = 'manifest.json';

export interface UploadTuning {
  /** Multipart part size in bytes; S3 allows 10,000 parts, so this caps the largest artifact. */
  partSize: number;
  /** Parts in flight at once; memory is about partSize × (queueSize + 1). */
  queueSize: number;
}

export const DEFAULT_UPLOAD_TUNING: UploadTuning = { partSize: 16 * 1024 * 1024, queueSize: 4 };

export class BackupStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

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

  manifestKey(space: string, id: string): string {
    return this.artifactKey(space, id, MANIFEST_FILE);
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
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
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
    const root = `${this.prefix}backups/`;
    const byBackup = new Map<string, BackupEntry>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: space ? `${root}${space}/` : root, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const rest = object.Key!.slice(root.length).split('/');
        if (rest.length < 3) continue;
        const [entrySpace, id] = rest as [string, string];
        const parsed = parseBackupId(id);
        if (!parsed) continue;
        const mapKey = `${entrySpace}/${id}`;
        const entry = byBackup.get(mapKey) ?? {
          id,
          space: entrySpace,
          trigger: parsed.trigger,
          createdAt: parsed.createdAt,
          sizeBytes: 0,
          status: 'incomplete' as const,
        };
        entry.sizeBytes += object.Size ?? 0;
        if (rest.length === 3 && rest[2] === MANIFEST_FILE) entry.status = 'complete';
        byBackup.set(mapKey, entry);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return [...byBackup.values()];
  }
}
