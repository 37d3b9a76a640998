/**
 * Each integration project really meets the S3 server it names: RGW's request ids look like
 * `tx…-…-<zone>`; s3rver sends none on HEAD. Without this, a setup mistake could run the "RGW" project
 * against the fake and every test would still pass.
 */
import { describe, expect, it } from 'vitest';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { createBucket, s3Client, s3Info } from '../support/harness.js';

describe('the S3 sandbox', () => {
  it('is the server the project names', async () => {
    const bucket = await createBucket('sandbox');
    const head = await s3Client().send(new HeadBucketCommand({ Bucket: bucket }));
    const requestId = head.$metadata.requestId ?? '';
    const rgwRequestId = /^tx[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-default$/;
    if (s3Info().kind === 'rgw') expect(requestId).toMatch(rgwRequestId);
    else expect(requestId).not.toMatch(rgwRequestId);
  });
});
