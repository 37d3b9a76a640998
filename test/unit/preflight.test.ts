/** How a failed bucket request is explained: from the error's code and HTTP status, naming the input to fix. */
import { describe, expect, it } from 'vitest';
import { explainBucketFailure, MEDIA_BUCKET_INPUTS } from '../../src/engine/s3/preflight.js';

/** Errors shaped as the AWS SDK raises them; RGW sends an empty <Message>, so the text is empty here. */
const s3Error = (name: string, status: number) => Object.assign(new Error(''), { name, Code: name, $metadata: { httpStatusCode: status } });

describe('explainBucketFailure', () => {
  const explain = (error: unknown) => explainBucketFailure(error, 'uploads', MEDIA_BUCKET_INPUTS, 'list objects (s3:ListBucket)');
  it.each([
    [s3Error('NoSuchBucket', 404), /the bucket 'uploads' does not exist there\. Check 'media-bucket'/],
    [s3Error('InvalidAccessKeyId', 403), /does not know the access key id\. Check 'media-aws-access-key-id'/],
    [s3Error('SignatureDoesNotMatch', 403), /the secret access key does not match the access key id\. Check 'media-aws-secret-access-key'/],
    [s3Error('AccessDenied', 403), /not allowed to list objects \(s3:ListBucket\) in 'uploads' \(AccessDenied\)/],
    [s3Error('UnknownError', 403), /not allowed to list objects .*\(UnknownError\)/],
    [Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }), /cannot be reached: nothing accepts connections there \(ECONNREFUSED\)\. Check 'media-s3-endpoint'/],
    [Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }), /host name cannot be resolved \(ENOTFOUND\)\. Check 'media-s3-endpoint'/],
  ])('%s', (error, expected) => {
    expect(explain(error)).toMatch(expected);
  });
});
