/**
 * S3 access: one place that turns bucket settings into a client, for AWS and for S3-compatible
 * stores alike.
 */
import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';
import { forEachConcurrently } from '../concurrency.js';
import { errorMessage } from '../errors.js';
import { registerSecret } from '../secrets.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface BucketSettings {
  bucket: string;
  /** Key prefix inside the bucket, '' or ending in '/'. */
  prefix: string;
  /** Custom endpoint for S3-compatible stores; path-style addressing is used whenever it is set. */
  endpoint?: string;
  region?: string;
  /** Explicit credentials; otherwise the AWS SDK's default chain (AWS_* environment variables, etc.). */
  credentials?: S3Credentials;
}

export function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').trim().replace(/^\/+/, '');
  if (!trimmed) return '';
  return trimmed.endsWith('/') ? trimmed : trimmed + '/';
}

/** cloud.gov service keys give endpoints without a scheme, such as s3-fips.us-gov-west-1.amazonaws.com. */
export function normalizeEndpoint(endpoint: string | undefined): string | undefined {
  const trimmed = endpoint?.trim();
  if (!trimmed) return undefined;
  return /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
}

/**
 * Sends every request with the operation's cancellation signal, so a cancelled operation's uploads,
 * copies and listings fail at once. Two requests are let through: AbortMultipartUpload
 * (DELETE ?uploadId=), which is how a cancelled upload cleans up after itself, and
 * CreateMultipartUpload (POST ?uploads): cut off in flight, the server may still open the upload
 * without the client ever learning its id, and then nothing could abort it.
 */
class CancellableHttpHandler extends NodeHttpHandler {
  constructor(private readonly cancel: AbortSignal) {
    super();
  }

  override handle(request: Parameters<NodeHttpHandler['handle']>[0], options: HttpHandlerOptions = {}) {
    const abortsUpload = request.method === 'DELETE' && request.query?.uploadId !== undefined;
    const opensUpload = request.method === 'POST' && request.query?.uploads !== undefined;
    if (abortsUpload || opensUpload) return super.handle(request, options);
    const signals = [this.cancel, options.abortSignal].filter((s): s is AbortSignal => s instanceof AbortSignal);
    // One short-lived signal per request, so the request's listener goes away with it.
    return super.handle(request, { ...options, abortSignal: AbortSignal.any(signals) });
  }
}

export function createS3Client(settings: BucketSettings, env: NodeJS.ProcessEnv = process.env, cancel?: AbortSignal): S3Client {
  if (settings.credentials) {
    registerSecret(settings.credentials.secretAccessKey);
    registerSecret(settings.credentials.sessionToken);
  }
  const endpoint = normalizeEndpoint(settings.endpoint);
  // The SDK's default integrity protection (aws-chunked bodies with CRC trailers) is rejected by many
  // S3-compatible stores, so with a custom endpoint checksums are sent only where the API requires them.
  const checksums = endpoint ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: settings.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: Boolean(endpoint),
    credentials: settings.credentials,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: 5,
    ...(cancel ? { requestHandler: new CancellableHttpHandler(cancel) } : {}),
  });
}

/** Fills a bucket's unset endpoint, region and credentials from another's: the media bucket from the backup bucket's. */
export function withConnectionOf(settings: BucketSettings, from: BucketSettings): BucketSettings {
  return {
    ...settings,
    endpoint: settings.endpoint ?? from.endpoint,
    region: settings.region ?? from.region,
    credentials: settings.credentials ?? from.credentials,
  };
}

export interface ListedObject {
  key: string;
  size: number;
  etag?: string;
  /** ISO 8601. */
  lastModified?: string;
}

/** Every object under a key prefix of any bucket, 1,000 per LIST request. */
export async function listAllObjects(client: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      out.push({ key: o.Key!, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified?.toISOString() });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** A multipart upload that was started and neither completed nor aborted: its parts are stored and billed. */
export interface OpenUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** Every open multipart upload under a key prefix, 1,000 per request. */
export async function listOpenUploads(client: S3Client, bucket: string, prefix: string): Promise<OpenUpload[]> {
  const out: OpenUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
    }
    if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return out;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Aborts one multipart upload; one that is already gone (NoSuchUpload, 404) counts as aborted. */
export async function abortUpload(client: S3Client, bucket: string, upload: OpenUpload): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name === 'NoSuchUpload' || status === 404) return;
    throw error;
  }
}

/** S3's limit of keys in one DeleteObjects request. */
export const MAX_KEYS_PER_DELETE = 1000;

export interface DeleteOutcome {
  deleted: string[];
  failed: { key: string; message: string }[];
  /** DeleteObjects requests sent. */
  requests: number;
}

export interface DeleteOptions {
  /** Requests in flight at once. */
  concurrency?: number;
  /** Called after each request with the keys it deleted; for progress logs. */
  onBatch?: (deletedSoFar: number, total: number) => void;
}

/**
 * Deletes keys with DeleteObjects, up to 1,000 per request and a few requests at a time. Never throws
 * for a failed key or request: each key ends up in `deleted` or in `failed` with the reason, so the caller
 * can decide what a partial failure means. A key that did not exist counts as deleted, as in S3.
 */
export async function deleteObjects(client: S3Client, bucket: string, keys: readonly string[], options: DeleteOptions = {}): Promise<DeleteOutcome> {
  const batches: string[][] = [];
  for (let i = 0; i < keys.length; i += MAX_KEYS_PER_DELETE) batches.push(keys.slice(i, i + MAX_KEYS_PER_DELETE));
  const outcome: DeleteOutcome = { deleted: [], failed: [], requests: 0 };
  await forEachConcurrently(batches, options.concurrency ?? 4, async (batch) => {
    outcome.requests++;
    try {
      const response = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const errors = new Map((response.Errors ?? []).map((e) => [e.Key!, `${e.Code ?? 'Error'}: ${e.Message ?? 'not deleted'}`]));
      for (const key of batch) {
        const message = errors.get(key);
        if (message === undefined) outcome.deleted.push(key);
        else outcome.failed.push({ key, message });
      }
    } catch (error) {
      const code = (error as { name?: string }).name;
      const text = errorMessage(error);
      const message = code && code !== 'Error' && !text.startsWith(code) ? `${code}: ${text}` : text;
      for (const key of batch) outcome.failed.push({ key, message });
    }
    options.onBatch?.(outcome.deleted.length, keys.length);
  });
  return outcome;
}
