/**
 * Errors from the store are told from their code and HTTP status. The proxy empties every error's
 * <Message>, as Ceph RGW does, so a message built from the server's text would read "UnknownError".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../../src/engine/errors.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { backupMedia, restoreMedia } from '../../src/engine/media/media.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createBucket, s3Info, uniqueName } from '../support/harness.js';

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(s3Info().endpoint);
  proxy.faults.push({
    match: () => true,
    alterResponseBody: (body, status) => (status >= 400 ? Buffer.from(body.toString('utf8').replace(/<Message>[^<]*<\/Message>/, '<Message></Message>')) : body),
  });
});
afterAll(async () => proxy.stop());

function settings(bucket: string, accessKeyId = s3Info().accessKeyId): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: proxy.endpoint, region: s3.region, credentials: { accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

/** What the user reads: the actions and the CLI report every error through errorMessage. */
const messageOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => errorMessage(error));

describe('S3 errors with an empty <Message>', () => {
  it('a media bucket that does not exist is named as such, on backup and on restore', async () => {
    const missing = uniqueName('no-such-media');
    const store = new BackupStore(settings(await createBucket('backups')));
    const backup = backupMedia({ source: settings(missing), store, log: memoryLogger() });
    await expect(backup).rejects.toThrow(`Cannot list the media bucket '${missing}' given in 'media-bucket': the bucket does not exist (NoSuchBucket, HTTP 404).`);

    const record = { bucket: 'x', prefix: '', objects: [], totals: { objects: 0, bytes: 0, newObjects: 0, newBytes: 0, reusedObjects: 0, reusedBytes: 0 } };
    expect(await messageOf(restoreMedia(record, store, settings(missing), memoryLogger()))).toBe('the bucket does not exist (NoSuchBucket, HTTP 404)');
  });

  it('a missing bucket on HEAD (no body at all), an unknown access key and a missing object are told apart', async () => {
    const missing = new BackupStore(settings(uniqueName('no-such-backups')));
    await expect(missing.assertReachable()).rejects.toThrow(/given in 'backup-bucket': it does not exist/);
    const backups = await createBucket('backups');
    const wrongKey = new BackupStore(settings(backups, 'NOT-A-KEY'));
    await expect(wrongKey.deleteKeys(['a'])).resolves.toMatchObject({ failed: [{ key: 'a', message: 'the access key ID is not known to the store (InvalidAccessKeyId, HTTP 403)' }] });
    expect(await messageOf(new BackupStore(settings(backups)).getText('nothing-here.json'))).toBe('the object does not exist (NoSuchKey, HTTP 404)');
  });
});
