/**
 * S3 Object Lock, the I/O half (the decisions are in domain/immutability.ts; the design in
 * docs/immutability.md): whether a bucket has it, the lock parameters for uploads, reading an object's
 * retention, and extending it.
 */
import { GetObjectLockConfigurationCommand, GetObjectRetentionCommand, HeadObjectCommand, PutObjectRetentionCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseObjectRetention, retentionExtension, s3LockMode, type ObjectRetention } from '../../domain/immutability.js';
import { LifeboatError, errorMessage } from '../errors.js';

/** How far the store's clock may be behind ours: a lock ending this close to now is still treated as locked by prune. */
export const DEFAULT_LOCK_SKEW_MS = 5 * 60_000;

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string | undefined {
  return (error as { name?: string; Code?: string }).Code ?? (error as Error).name;
}

/**
 * Whether the bucket has Object Lock enabled. A bucket without it answers 404 (ObjectLockConfigurationNotFoundError);
 * a store without Object Lock at all (s3rver) answers 501: neither has it. A refusal is an error that names the
 * permission, because guessing would either lock nothing the policy wants locked or send lock headers a bucket refuses.
 */
export async function bucketHasObjectLock(client: S3Client, bucket: string, inputName = 'backup-bucket'): Promise<boolean> {
  try {
    const response = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    return response.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (error) {
    const status = statusOf(error);
    const name = nameOf(error);
    if (status === 404 || name === 'ObjectLockConfigurationNotFoundError') return false;
    if (status === 501 || name === 'NotImplemented') return false;
    const why = status === 403 || name === 'AccessDenied' ? 'the credentials are not allowed to read it (grant s3:GetBucketObjectLockConfiguration)' : errorMessage(error);
    throw new LifeboatError(`Cannot tell whether the bucket '${bucket}' given in '${inputName}' has S3 Object Lock: ${why}. See docs/immutability.md.`, { cause: error });
  }
}

/** PutObject, CreateMultipartUpload and Upload parameters that lock what they write; none without a lock. */
export function lockParams(lock: ObjectRetention | undefined): { ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE'; ObjectLockRetainUntilDate?: Date } {
  return lock ? { ObjectLockMode: s3LockMode(lock.mode), ObjectLockRetainUntilDate: lock.retainUntil } : {};
}

/**
 * An object's retention, read with GetObjectRetention: a credential that may not read it gets a refusal (an
 * error), never an answer without the lock, so prune cannot mistake a locked object for an unlocked one.
 * Undefined when the object has no retention or is gone.
 */
export async function readRetention(client: S3Client, bucket: string, key: string): Promise<ObjectRetention | undefined> {
  try {
    const response = await client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
    return parseObjectRetention(response.Retention?.Mode, response.Retention?.RetainUntilDate);
  } catch (error) {
    // NoSuchObjectLockConfiguration (no retention), NoSuchKey (gone): nothing holds it.
    if (statusOf(error) === 404) return undefined;
    const why = statusOf(error) === 403 ? 'access denied (grant s3:GetObjectRetention)' : errorMessage(error);
    throw new LifeboatError(`Cannot read the Object Lock retention of s3://${bucket}/${key}: ${why}.`, { cause: error });
  }
}

/**
 * Makes sure a stored object is retained at least until `wanted.retainUntil`: reads its retention (HEAD) and,
 * only when it ends earlier or there is none, extends it (PutObjectRetention; never shortens, never changes
 * the mode). Returns the object's size and whether a request to extend was made, or undefined when the object
 * does not exist.
 */
export async function keepRetainedUntil(
  client: S3Client,
  bucket: string,
  key: string,
  wanted: ObjectRetention,
): Promise<{ size: number; extended: ObjectRetention | undefined } | undefined> {
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (statusOf(error) === 404 || nameOf(error) === 'NotFound' || nameOf(error) === 'NoSuchKey') return undefined;
    throw error;
  }
  const extension = retentionExtension(parseObjectRetention(head.ObjectLockMode, head.ObjectLockRetainUntilDate), wanted);
  if (extension) {
    try {
      await client.send(
        new PutObjectRetentionCommand({
          Bucket: bucket,
          Key: key,
          ...(head.VersionId ? { VersionId: head.VersionId } : {}),
          Retention: { Mode: s3LockMode(extension.mode), RetainUntilDate: extension.retainUntil },
        }),
      );
    } catch (error) {
      const why = statusOf(error) === 403 ? 'access denied (the backup credential needs s3:PutObjectRetention)' : errorMessage(error);
      throw new LifeboatError(
        `Cannot set the Object Lock retention of s3://${bucket}/${key} to ${extension.retainUntil.toISOString()} (${extension.mode}): ${why}. ` +
          `The backup is not complete, because it would not be locked as long as the policy's 'immutability' says. See docs/immutability.md.`,
        { cause: error },
      );
    }
  }
  return { size: head.ContentLength ?? 0, extended: extension };
}
