/**
 * Checking buckets before anything is written: a backup that finds out about a wrong media bucket,
 * secret or endpoint only after its dump is uploaded wastes the dump and leaves an incomplete backup.
 * Each check makes the cheapest request that needs the same permission as the real work, and explains
 * a failure from the error's code and HTTP status (some stores send an empty message).
 */
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { LifeboatError, errorMessage, networkFailure } from '../errors.js';

/** The inputs that describe one bucket, for messages: e.g. media-bucket, media-s3-endpoint, media-aws-secret-access-key. */
export interface BucketInputNames {
  bucket: string;
  endpoint: string;
  keyId: string;
  secret: string;
}

export const BACKUP_BUCKET_INPUTS: BucketInputNames = { bucket: 'backup-bucket', endpoint: 's3-endpoint', keyId: 'aws-access-key-id', secret: 'aws-secret-access-key' };
export const MEDIA_BUCKET_INPUTS: BucketInputNames = {
  bucket: 'media-bucket',
  endpoint: 'media-s3-endpoint',
  keyId: 'media-aws-access-key-id',
  secret: 'media-aws-secret-access-key',
};

/** Why a request to a bucket failed, and which input to fix, from the error's name, code and HTTP status. */
export function explainBucketFailure(error: unknown, bucket: string, names: BucketInputNames, needs: string): string {
  const name = (error as { name?: string }).name ?? '';
  const code = (error as { Code?: string }).Code ?? name;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (code === 'NoSuchBucket' || (status === 404 && code !== 'NoSuchKey')) {
    return `the bucket '${bucket}' does not exist there. Check '${names.bucket}' (and '${names.endpoint}' if the bucket is on another store).`;
  }
  if (code === 'InvalidAccessKeyId') return `the store does not know the access key id. Check '${names.keyId}'.`;
  if (code === 'SignatureDoesNotMatch') return `the secret access key does not match the access key id. Check '${names.secret}'.`;
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
    return `the credentials are not allowed to ${needs} in '${bucket}' (${code || 'HTTP 403'}). Grant them that permission, or check '${names.keyId}' and '${names.secret}'.`;
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) {
    return `the bucket is in another region (${code || `HTTP ${status}`}). Set the region of '${bucket}'.`;
  }
  const network = networkFailure(error);
  if (network) return `the store cannot be reached: ${network}. Check '${names.endpoint}' and that this runner can reach it.`;
  return `${code && code !== 'Error' ? `${code}: ` : ''}${errorMessage(error)}${status ? ` (HTTP ${status})` : ''}. Check '${names.bucket}', '${names.endpoint}' and the credentials.`;
}

/** A bucket the backup will read (the media bucket): one LIST of at most one key. */
export async function assertBucketReadable(client: S3Client, bucket: string, prefix: string, names: BucketInputNames): Promise<void> {
  try {
    await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, MaxKeys: 1 }));
  } catch (error) {
    throw new LifeboatError(`Cannot read the bucket given in '${names.bucket}': ${explainBucketFailure(error, bucket, names, 'list objects (s3:ListBucket)')} Nothing was written.`, {
      cause: error,
    });
  }
}

/**
 * A bucket the backup will write: starts a multipart upload under the prefix and aborts it at once.
 * That takes the permissions the backup's own uploads take (s3:PutObject, s3:AbortMultipartUpload) and
 * leaves no object behind, so it needs no delete permission.
 */
export async function assertBucketWritable(client: S3Client, bucket: string, keyPrefix: string, names: BucketInputNames): Promise<void> {
  const key = `${keyPrefix}.lifeboat-write-check-${randomBytes(4).toString('hex')}`;
  let uploadId: string | undefined;
  try {
    uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId;
  } catch (error) {
    throw new LifeboatError(`Cannot write to the bucket given in '${names.bucket}': ${explainBucketFailure(error, bucket, names, 'write objects (s3:PutObject)')} Nothing was written.`, {
      cause: error,
    });
  }
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (error) {
    throw new LifeboatError(
      `The bucket given in '${names.bucket}' accepts uploads, but aborting one failed: ${explainBucketFailure(error, bucket, names, 'abort multipart uploads (s3:AbortMultipartUpload)')} ` +
        `A backup needs that permission to clean up after a failure; the check's upload of ${key} is left open for prune to sweep.`,
      { cause: error },
    );
  }
}
