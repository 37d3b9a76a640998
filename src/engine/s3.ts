/**
 * S3 access: one place that turns bucket settings into a client, for AWS and for S3-compatible
 * stores alike.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { registerSecret } from './secrets.js';

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

export function createS3Client(settings: BucketSettings, env: NodeJS.ProcessEnv = process.env): S3Client {
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
