/**
 * S3 access: one place that turns bucket settings into a client, for AWS and for S3-compatible
 * stores alike.
 */
import { createHash } from 'node:crypto';
import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';
import { forEachConcurrently } from '../concurrency.js';
import { errorMessage } from '../errors.js';
import { describeS3Error } from './errors.js';
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
  const client = new S3Client({
    region: settings.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: Boolean(endpoint),
    credentials: settings.credentials,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: 5,
    ...(cancel ? { requestHandler: new CancellableHttpHandler(cancel) } : {}),
  });
  addWireIntegrity(client);
  return client;
}

/** Error codes with which stores refuse bytes that do not match the checksum sent with them. */
const CHANGED_ON_THE_WAY = new Set(['BadDigest', 'XAmzContentSHA256Mismatch']);

/** The calls that carry object bytes to the store. */
const WRITES_WITH_BODY = new Set(['PutObjectCommand', 'UploadPartCommand']);

/** Thrown when the store's ETag for a PUT or part is not the MD5 of the bytes sent: retried, like a dropped connection. */
export class WireIntegrityError extends Error {
  readonly $retryable = {};
  constructor(message: string) {
    super(message);
    this.name = 'WireIntegrityError';
  }
}

function bodyBytes(body: unknown): Uint8Array | undefined {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  return undefined;
}

/** An ETag that is an MD5 of the content: 32 hex digits. Multipart ETags end in -<parts>; SSE-KMS and SSE-C ones are not MD5s. */
export function md5OfEtag(etag: string | undefined): string | undefined {
  const bare = etag?.replace(/"/g, '').toLowerCase();
  return bare && /^[0-9a-f]{32}$/.test(bare) ? bare : undefined;
}

/**
 * Integrity on the wire, for every PutObject and UploadPart this client sends (lib-storage's parts
 * included): each carries a Content-MD5, which the store checks, and the ETag it answers with must
 * be the MD5 of the bytes sent wherever the ETag is an MD5 (not for SSE-KMS or SSE-C objects). A
 * mismatch fails that request as retryable, so the SDK sends it again; a part that stays wrong fails
 * the upload, which is then aborted. With a custom endpoint the SDK itself sends no checksum (see
 * above), so without this a byte flipped in transit would be stored silently.
 *
 * Bodies are buffers here (lib-storage cuts streams into buffered parts); a stream body is passed
 * through unchecked, and Lifeboat sends none.
 */
function addWireIntegrity(client: S3Client): void {
  const sentMd5 = (headers: Record<string, string>) => Object.entries(headers).find(([h]) => h.toLowerCase() === 'content-md5')?.[1];
  // Before signing, so the header is signed with the rest.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body?: unknown };
      const bytes = WRITES_WITH_BODY.has(context.commandName ?? '') ? bodyBytes(request.body) : undefined;
      if (bytes && sentMd5(request.headers) === undefined) request.headers['content-md5'] = createHash('md5').update(bytes).digest('base64');
      return next(args);
    },
    { step: 'build', name: 'lifeboatContentMd5', override: true },
  );
  // Inside the retry loop, so a mismatch is sent again.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!WRITES_WITH_BODY.has(context.commandName ?? '')) return next(args);
      let result;
      try {
        result = await next(args);
      } catch (error) {
        // The store found the bytes changed against their Content-MD5 or signed SHA-256: like our own ETag
        // check, a fault on the way, so the request is sent again rather than failing the upload at once.
        if (CHANGED_ON_THE_WAY.has((error as Error).name)) Object.assign(error as object, { $retryable: {} });
        throw error;
      }
      const sent = sentMd5((args.request as { headers: Record<string, string> }).headers);
      if (sent === undefined) return result;
      const expected = Buffer.from(sent, 'base64').toString('hex');
      const output = result.output as { ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string };
      const encrypted = output.SSECustomerAlgorithm !== undefined || (output.ServerSideEncryption ?? '').startsWith('aws:kms');
      const returned = encrypted ? undefined : md5OfEtag(output.ETag);
      if (returned !== undefined && returned !== expected) {
        throw new WireIntegrityError(`The store's ETag ${returned} is not the MD5 ${expected} of the bytes sent: they were changed on the way.`);
      }
      return result;
    },
    { step: 'finalizeRequest', priority: 'low', name: 'lifeboatEtagCheck', override: true },
  );
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
  for await (const object of listObjects(client, bucket, prefix)) out.push(object);
  return out;
}

/** The same, as a stream: one page (1,000 objects) in memory at a time, in the order the server lists. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncGenerator<ListedObject> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      yield { key: o.Key!, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified?.toISOString() };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
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
      const errors = new Map(
        (response.Errors ?? []).map((e) => [e.Key!, describeS3Error({ Code: e.Code ?? 'Error', message: e.Message, $metadata: {} }) ?? `${e.Code ?? 'Error'}: ${e.Message || 'not deleted'}`]),
      );
      for (const key of batch) {
        const message = errors.get(key);
        if (message === undefined) outcome.deleted.push(key);
        else outcome.failed.push({ key, message });
      }
    } catch (error) {
      const message = errorMessage(error);
      for (const key of batch) outcome.failed.push({ key, message });
    }
    options.onBatch?.(outcome.deleted.length, keys.length);
  });
  return outcome;
}
