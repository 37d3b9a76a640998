/**
 * One place that turns an S3 error into a sentence a user can act on, from what every S3 implementation
 * sends reliably: the error code (err.name / Code), the HTTP status ($metadata.httpStatusCode) and, for
 * network failures, the system error code. The server's <Message> is added only when it says something:
 * Ceph RGW sends an empty one, which the SDK reports as "UnknownError", and a HEAD response has no body
 * at all.
 */

const BY_CODE: Record<string, string> = {
  NoSuchBucket: 'the bucket does not exist',
  NoSuchKey: 'the object does not exist',
  NoSuchUpload: 'the multipart upload no longer exists',
  AccessDenied: 'access denied: the credentials are not allowed to do this',
  AllAccessDisabled: 'all access to this bucket has been disabled',
  AccountProblem: 'the account has a problem that prevents this',
  InvalidAccessKeyId: 'the access key ID is not known to the store',
  SignatureDoesNotMatch: 'the secret access key does not match the access key ID',
  ExpiredToken: 'the credentials have expired',
  TokenRefreshRequired: 'the credentials have expired',
  InvalidToken: 'the session token is not valid',
  RequestTimeTooSkewed: "the machine's clock differs too much from the store's",
  PermanentRedirect: "the bucket is in another region or behind another endpoint; check the region and endpoint",
  AuthorizationHeaderMalformed: 'the request was signed for the wrong region; check the region',
  InvalidBucketName: 'the bucket name is not valid',
  PreconditionFailed: 'the object changed (its ETag no longer matches)',
  BadDigest: 'the bytes the store received do not match their Content-MD5: they were changed on the way',
  XAmzContentSHA256Mismatch: 'the bytes the store received do not match their signed SHA-256: they were changed on the way',
  InvalidDigest: 'the Content-MD5 sent is not valid',
  EntityTooLarge: 'the object is larger than the store allows',
  QuotaExceeded: 'the quota of the bucket or account is exceeded',
  SlowDown: 'the store is throttling requests (slow down)',
  InternalError: 'the store failed internally',
  ServiceUnavailable: 'the store is unavailable',
  NotImplemented: 'the store does not implement this request',
  WireIntegrityError: 'the bytes were changed on the way to the store',
};

const BY_STATUS: Record<number, string> = {
  301: 'the bucket is in another region or behind another endpoint; check the region and endpoint',
  400: 'the store refused the request as invalid',
  401: 'the store did not accept the credentials',
  403: 'access denied: the credentials are not allowed to do this',
  404: 'not found: the bucket or object does not exist',
  405: 'the store does not allow this request here',
  409: 'the request conflicts with the state of the bucket',
  412: 'the object changed (its ETag no longer matches)',
  416: 'the requested byte range is not in the object',
  429: 'the store is throttling requests',
  500: 'the store failed internally',
  501: 'the store does not implement this request',
  502: 'a gateway in front of the store failed',
  503: 'the store is unavailable or throttling requests',
  504: 'a gateway in front of the store timed out',
};

const BY_SYSTEM_CODE: Record<string, string> = {
  ECONNREFUSED: 'nothing answers at the endpoint (connection refused); check the endpoint',
  ENOTFOUND: "the endpoint's host name does not resolve; check the endpoint",
  EAI_AGAIN: "the endpoint's host name could not be resolved just now (DNS failure)",
  ETIMEDOUT: 'the connection to the endpoint timed out',
  ECONNRESET: 'the connection to the store was reset',
  EPIPE: 'the connection to the store broke',
  EHOSTUNREACH: 'the endpoint cannot be reached from this machine',
  ENETUNREACH: 'the network of the endpoint cannot be reached from this machine',
  CERT_HAS_EXPIRED: "the endpoint's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the endpoint's TLS certificate is self-signed and not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "the endpoint's TLS certificate chain is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the endpoint's TLS certificate cannot be verified",
  ERR_TLS_CERT_ALTNAME_INVALID: "the endpoint's TLS certificate is for another host name",
};

interface ErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  errors?: ErrorShape[];
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function systemCode(error: ErrorShape | undefined, depth = 0): string | undefined {
  if (!error || depth > 3) return undefined;
  if (error.code && BY_SYSTEM_CODE[error.code]) return error.code;
  for (const inner of error.errors ?? []) {
    const code = systemCode(inner, depth + 1);
    if (code) return code;
  }
  return systemCode(error.cause as ErrorShape | undefined, depth + 1);
}

/** The user-facing sentence for an S3 or network error, or undefined for anything else. */
export function describeS3Error(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as ErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? (e.name && e.name !== 'Error' && e.name !== 'UnknownError' ? e.name : undefined);
  const network = systemCode(e);
  if (status === undefined && network) return `${BY_SYSTEM_CODE[network]} (${network})`;
  if (status === undefined && (code === undefined || BY_CODE[code] === undefined)) return undefined;
  const meaning = (code && BY_CODE[code]) ?? (status !== undefined ? BY_STATUS[status] : undefined) ?? (status !== undefined && status >= 500 ? 'the store failed' : 'the store refused the request');
  const labels = [code, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  const message = e.message?.trim();
  const squeezed = (text: string) => text.toLowerCase().replace(/[^a-z]/g, '');
  const informative =
    message && message !== 'UnknownError' && !/^\d{3}$/.test(message) && squeezed(message) !== squeezed(code ?? '') && squeezed(message) !== squeezed(meaning);
  return `${meaning} (${labels})${informative ? `: ${message}` : ''}`;
}
