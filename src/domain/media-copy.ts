/**
 * How new media content reaches the backup bucket: through the runner (GET, then PUT or multipart upload),
 * or copied inside the store by CopyObject. The pure decisions; the I/O is in engine/media/media.ts and
 * the measurements behind them in docs/media.md ("Copying").
 *
 * A server-side copy needs one credential that reads the media bucket and writes the backup bucket on the
 * same server. Lifeboat takes it only when it can tell that is so from the settings alone: the same
 * endpoint and region, and the same credentials (both from the environment, or equal explicit keys).
 * Anything else (cloud.gov's one credential per bucket, another provider, another region) copies through
 * the runner, as before.
 */

/** What decides where a bucket is and who reaches it: the connection half of engine/s3/client.ts's BucketSettings. */
export interface BucketConnection {
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** S3's limit for one CopyObject; larger objects would need a multipart copy (UploadPartCopy). */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;

/**
 * An endpoint as a comparable string: scheme added as the client does (https), host lower-cased, default
 * port and trailing slashes dropped. Undefined for no endpoint (AWS, found from the region).
 */
export function comparableEndpoint(endpoint: string | undefined): string | undefined {
  const trimmed = endpoint?.trim();
  if (!trimmed) return undefined;
  const withScheme = /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  try {
    const url = new URL(withScheme);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return withScheme.toLowerCase().replace(/\/+$/, '');
  }
}

/**
 * Whether two buckets are reached with one set of credentials on one server, so that a CopyObject sent
 * with the backup bucket's credentials can read the media bucket. `defaultRegion` is the region a bucket
 * without one gets (AWS_REGION, AWS_DEFAULT_REGION or us-east-1, as createS3Client chooses).
 */
export function sameConnection(a: BucketConnection, b: BucketConnection, defaultRegion: string): boolean {
  if (comparableEndpoint(a.endpoint) !== comparableEndpoint(b.endpoint)) return false;
  if ((a.region?.trim() || defaultRegion) !== (b.region?.trim() || defaultRegion)) return false;
  if (!a.credentials || !b.credentials) return a.credentials === b.credentials;
  return (
    a.credentials.accessKeyId === b.credentials.accessKeyId &&
    a.credentials.secretAccessKey === b.credentials.secretAccessKey &&
    (a.credentials.sessionToken ?? '') === (b.credentials.sessionToken ?? '')
  );
}

/** The LIFEBOAT_MEDIA_SERVER_COPY switch: `auto` (the default), `off` (always through the runner), `all` (every size; for measuring). */
export type ServerCopySwitch = 'auto' | 'off' | 'all';

export function parseServerCopySwitch(value: string | undefined): ServerCopySwitch {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'off' || v === 'all') return v;
  throw new Error(`LIFEBOAT_MEDIA_SERVER_COPY is '${value}'; it takes 'auto' (the default), 'off' (copy through the runner) or 'all'. Unset it or choose one of these.`);
}

/**
 * Objects at least this large are copied in the store when they can be. Below it the runner already holds
 * the bytes it hashed, and a PUT of them was as fast or faster than a CopyObject: measured on s3rver, PUT
 * wins at 4 and 32 KiB, they tie at 128 KiB, and CopyObject wins from 256 KiB up (docs/media.md "Copying").
 */
export const SERVER_COPY_MIN_BYTES = 256 * 1024;

/** The sizes copied in the store, or undefined when nothing is: [minBytes, MAX_COPY_OBJECT_BYTES]. */
export function serverCopyFloor(switched: ServerCopySwitch, sameConnectionAndUnencrypted: boolean): number | undefined {
  if (switched === 'off' || !sameConnectionAndUnencrypted) return undefined;
  return switched === 'all' ? 0 : SERVER_COPY_MIN_BYTES;
}

/** Whether an object of this size, with an ETag to pin the copy to, is copied in the store. */
export function copiesInStore(size: number, floor: number | undefined, etag: string | undefined): boolean {
  return floor !== undefined && etag !== undefined && etag !== '' && size >= floor && size <= MAX_COPY_OBJECT_BYTES;
}

/**
 * Whether a finished CopyObject stored the bytes Lifeboat hashed, by the ETag the store answered: the
 * MD5 of those bytes (a plain or SSE-S3 copy), or the source ETag the copy was pinned to (stores that
 * keep a multipart ETag on copy). A store that ignores the pin and copied a newer version answers
 * another ETag. Under SSE-KMS or SSE-C, or without an ETag, nothing can be told: true.
 */
export function copiedTheHashedBytes(answered: string | undefined, pinned: string, md5: string, encryptedAtRest: boolean): boolean {
  if (encryptedAtRest || answered === undefined || answered === '') return true;
  const bare = (etag: string) => etag.replace(/"/g, '').toLowerCase();
  return bare(answered) === bare(pinned) || bare(answered) === md5.toLowerCase();
}
