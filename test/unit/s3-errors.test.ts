/** S3 errors become sentences from their code and HTTP status, never "UnknownError" from an empty <Message>. */
import { NoSuchBucket, NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { errorMessage, LifeboatError } from '../../src/engine/errors.js';
import { describeS3Error } from '../../src/engine/s3/errors.js';

/** What the SDK builds from a response whose <Message> is empty (Ceph RGW) or that has no body (HEAD). */
function serviceError(name: string, status: number, message = 'UnknownError') {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}

describe('describeS3Error', () => {
  it('names the cause from the code and status when the server sent no message', () => {
    expect(describeS3Error(new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' }))).toBe('the bucket does not exist (NoSuchBucket, HTTP 404)');
    expect(describeS3Error(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' }))).toBe('the object does not exist (NoSuchKey, HTTP 404)');
    expect(describeS3Error(serviceError('AccessDenied', 403))).toBe('access denied: the credentials are not allowed to do this (AccessDenied, HTTP 403)');
    expect(describeS3Error(serviceError('InvalidAccessKeyId', 403))).toMatch(/^the access key ID is not known/);
    expect(describeS3Error(serviceError('SignatureDoesNotMatch', 403))).toMatch(/^the secret access key does not match/);
    expect(describeS3Error(serviceError('PreconditionFailed', 412))).toMatch(/the object changed/);
  });

  it('falls back to the HTTP status for a bodiless HEAD (name NotFound / Forbidden / 503) and unknown codes', () => {
    expect(describeS3Error(serviceError('NotFound', 404))).toBe('not found: the bucket or object does not exist (NotFound, HTTP 404)');
    expect(describeS3Error(serviceError('Forbidden', 403))).toBe('access denied: the credentials are not allowed to do this (Forbidden, HTTP 403)');
    expect(describeS3Error(serviceError('Unknown', 503))).toBe('the store is unavailable or throttling requests (Unknown, HTTP 503)');
    expect(describeS3Error(serviceError('XMinioWeird', 507))).toBe('the store failed (XMinioWeird, HTTP 507)');
    expect(describeS3Error(serviceError('CustomRefusal', 422))).toBe('the store refused the request (CustomRefusal, HTTP 422)');
  });

  it("adds the server's message only when it says something", () => {
    expect(describeS3Error(serviceError('NoSuchBucket', 404, 'The specified bucket does not exist'))).toBe(
      'the bucket does not exist (NoSuchBucket, HTTP 404): The specified bucket does not exist',
    );
    expect(describeS3Error(serviceError('AccessDenied', 403, 'Access Denied'))).toBe('access denied: the credentials are not allowed to do this (AccessDenied, HTTP 403)');
    expect(describeS3Error(serviceError('AccessDenied', 403, ''))).toBe('access denied: the credentials are not allowed to do this (AccessDenied, HTTP 403)');
  });

  it('describes network failures by their system code, including Node aggregate errors with an empty message', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeS3Error(refused)).toBe('nothing answers at the endpoint (connection refused); check the endpoint (ECONNREFUSED)');
    const aggregate = Object.assign(new AggregateError([refused], ''), { code: undefined });
    expect(describeS3Error(aggregate)).toMatch(/connection refused/);
    expect(describeS3Error(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }))).toMatch(/host name does not resolve/);
  });

  it('leaves other errors alone, and errorMessage uses it', () => {
    expect(describeS3Error(new Error('plain'))).toBeUndefined();
    expect(describeS3Error('text')).toBeUndefined();
    expect(errorMessage(new Error('plain'))).toBe('plain');
    expect(errorMessage(new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' }))).not.toMatch(/UnknownError/);
    expect(errorMessage(new LifeboatError('Input x is wrong.'))).toBe('Input x is wrong.');
  });
});
