/**
 * From a service key's credentials to Lifeboat's bucket settings, for the cloud.gov S3 broker's
 * JSON (and any broker that uses the same field names):
 *
 *   {"access_key_id", "secret_access_key", "region", "bucket", "endpoint", "fips_endpoint",
 *    "uri": "s3://key:secret@host/bucket", "additional_buckets": [...], "insecure_skip_verify"}
 *
 * Every value is masked before anything else looks at it, except the few that say where the
 * bucket is (bucket, region, endpoints): masking those would turn every log line into asterisks,
 * and they are useless without the keys.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { createS3Client, type BucketSettings } from '../s3/client.js';
import { registerSecret } from '../secrets.js';
import { pollUntil, type Backoff } from './poll.js';

/** Fields that locate the bucket and are not secret. Everything else in a credentials object is masked. */
export const S3_PUBLIC_FIELDS: readonly string[] = ['bucket', 'region', 'endpoint', 'fips_endpoint', 'additional_buckets', 'insecure_skip_verify'];

export interface S3BrokerCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  bucket?: string;
  endpoint?: string;
  additionalBuckets: string[];
}

/**
 * Registers every secret-bearing value of a credentials object (nested ones too): every value but
 * those of the top-level `publicFields` (the S3 broker's by default).
 */
export function maskCredentials(credentials: unknown, publicFields: readonly string[] = S3_PUBLIC_FIELDS): void {
  const isPublic = new Set(publicFields);
  const visit = (value: unknown, field?: string): void => {
    if (field && isPublic.has(field)) return;
    if (typeof value === 'string') registerSecret(value);
    else if (typeof value === 'number') registerSecret(String(value));
    else if (Array.isArray(value)) value.forEach((v) => visit(v));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(credentials);
}

/** Reads the S3 fields of a service key's credentials; `where` names the key in errors, `input` the input naming its instance. */
export function parseS3Credentials(credentials: unknown, where: string, input = 'cf-service-instance'): S3BrokerCredentials {
  const c = (credentials ?? {}) as Record<string, unknown>;
  const text = (name: string): string | undefined => (typeof c[name] === 'string' && (c[name] as string).trim() ? (c[name] as string).trim() : undefined);
  const accessKeyId = text('access_key_id');
  const secretAccessKey = text('secret_access_key');
  if (!accessKeyId || !secretAccessKey) {
    const fields = Object.keys(c).sort().join(', ') || 'none';
    throw new LifeboatError(
      `The credentials of ${where} have no access_key_id and secret_access_key (fields: ${fields}). Is '${input}' an S3 bucket service (cloud.gov's s3 service)?`,
    );
  }
  return {
    accessKeyId,
    secretAccessKey,
    region: text('region'),
    bucket: text('bucket'),
    endpoint: text('endpoint') ?? text('fips_endpoint'),
    additionalBuckets: Array.isArray(c.additional_buckets) ? c.additional_buckets.filter((b): b is string => typeof b === 'string') : [],
  };
}

/** What the inputs say about the bucket in binding mode; anything given overrides the credentials. */
export interface BucketOverrides {
  bucket?: string;
  /** The input that overrides the bucket's name, for messages ('backup-bucket' by default). */
  bucketInput?: string;
  prefix: string;
  endpoint?: string;
  region?: string;
}

/**
 * The bucket settings for bound credentials. The bucket is the key's own unless an input names
 * another one the key covers (with additional_instances); endpoint and region come from the key
 * unless given as inputs. An endpoint means path-style addressing, as for any custom endpoint.
 */
export function bucketFromCredentials(credentials: S3BrokerCredentials, overrides: BucketOverrides, where: string, log?: Logger): BucketSettings {
  const bucket = overrides.bucket ?? credentials.bucket;
  const bucketInput = overrides.bucketInput ?? 'backup-bucket';
  if (!bucket) {
    throw new LifeboatError(`The credentials of ${where} name no bucket; give the bucket's name in '${bucketInput}'.`);
  }
  const covered = [credentials.bucket, ...credentials.additionalBuckets].filter(Boolean);
  if (overrides.bucket && covered.length && !covered.includes(overrides.bucket)) {
    log?.warning(`'${bucketInput}' is '${overrides.bucket}', but ${where} is for ${covered.join(', ')}; using '${overrides.bucket}' as asked.`);
  }
  return {
    bucket,
    prefix: overrides.prefix,
    endpoint: overrides.endpoint ?? credentials.endpoint,
    region: overrides.region ?? credentials.region,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
  };
}

export const FRESH_KEY_BACKOFF: Backoff = { initialMs: 500, factor: 2, maxMs: 5_000, timeoutMs: 30_000 };

/**
 * Freshly created IAM keys can be refused for a few seconds until they propagate. Retries a
 * HeadBucket while S3 answers 403 (or does not know the key yet), up to `backoff.timeoutMs`.
 * Other answers end the wait at once: the operation's own first call reports them as usual.
 */
export async function waitForS3Access(
  settings: BucketSettings,
  where: string,
  log: Logger,
  backoff: Backoff = FRESH_KEY_BACKOFF,
  bucketInput = 'backup-bucket',
): Promise<void> {
  const client = createS3Client(settings);
  try {
    await pollUntil<true>(
      async (tries) => {
        try {
          await client.send(new HeadBucketCommand({ Bucket: settings.bucket }));
          if (tries > 1) log.info(`The new key works after ${tries} tries.`);
          return true;
        } catch (error) {
          const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          const name = (error as { name?: string }).name ?? '';
          if (status === 403 || name === 'InvalidAccessKeyId') {
            if (tries === 1) log.info('S3 does not accept the new key yet (403); retrying while it propagates…');
            return undefined;
          }
          log.debug(`HeadBucket with the new key: ${errorMessage(error)}`);
          return true;
        }
      },
      backoff,
      (elapsed) =>
        new LifeboatError(
          `S3 kept refusing the credentials of ${where} (403) for ${Math.round(elapsed / 1000)} s on bucket '${settings.bucket}'. If '${bucketInput}' is given, check that the key covers it.`,
        ),
    );
  } finally {
    client.destroy();
  }
}
