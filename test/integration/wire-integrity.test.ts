/**
 * Integrity on the wire: a byte flipped between Lifeboat and the store, in a database upload part, a
 * media upload part or a single PUT, never ends in a complete-looking backup holding other bytes than
 * the manifest says. Faults go through a real HTTP proxy in front of the real S3 server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, type BackupOptions } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { flipByte, isPutObject, isUploadPart, requestKey, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createBucket, createDatabase, getObjectBytes, listKeys, openMultipartUploads, s3Client, s3Info, withClient } from '../support/harness.js';
import { mediaObjectsOf } from '../support/media-index.js';

const MIB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(s3Info().endpoint);
});
afterAll(async () => proxy.stop());

function settings(bucket: string, endpoint: string): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

/** A database whose uncompressed dump needs two 5 MiB parts. */
async function largeDatabase(): Promise<string> {
  const url = await createDatabase('wire');
  await withClient(url, (c) => c.query(`CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 64) AS t FROM generate_series(1, 3500) g`));
  return url;
}

function options(database: string, backups: string, media: string): BackupOptions {
  return {
    space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'none', rowCounts: false, progressIntervalMs: 60_000,
    bucket: settings(backups, proxy.endpoint),
    upload: { partSize: 5 * MIB, queueSize: 1 },
    media: { source: settings(media, s3Info().endpoint), tuning: { concurrency: 2, smallObjectBytes: MIB, partSize: 5 * MIB } },
  };
}

describe('integrity on the wire', () => {
  it('a byte flipped in a database part, a media part and a PUT is caught and sent again: the backup holds exactly what its manifest says', async () => {
    const database = await largeDatabase();
    const backups = await createBucket('backups');
    const media = await createBucket('media');
    const large = randomBytes(6 * MIB + 7);
    await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'large.bin', Body: large }));
    await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'small.txt', Body: 'small and precious' }));
    const inBackups = (r: { url: string }) => r.url.startsWith(`/${backups}/`);
    const faults = [
      { match: (r: Parameters<typeof isUploadPart>[0]) => inBackups(r) && isUploadPart(r) && requestKey(r).endsWith('database.pgdump') && /partNumber=2/.test(r.url), times: 1, alterRequestBody: (b: Buffer) => flipByte(b) },
      { match: (r: Parameters<typeof isUploadPart>[0]) => inBackups(r) && isUploadPart(r) && requestKey(r).startsWith('media/sha256/') && /partNumber=1/.test(r.url), times: 1, alterRequestBody: (b: Buffer) => flipByte(b, 10) },
      { match: (r: Parameters<typeof isUploadPart>[0]) => inBackups(r) && isPutObject(r) && requestKey(r).startsWith('media/sha256/'), times: 1, alterRequestBody: (b: Buffer) => flipByte(b, 0) },
    ];
    proxy.faults.push(...faults);
    const seenBefore = proxy.requests.length;
    try {
      const result = await runBackup(options(database, backups, media), memoryLogger());
      expect(faults.map((f) => (f as { hits?: number }).hits)).toEqual([1, 1, 1]);

      const artifact = result.manifest.artifacts[0]!;
      expect(sha256(await getObjectBytes(backups, artifact.key))).toBe(artifact.sha256);
      for (const object of await mediaObjectsOf(result.manifest, new BackupStore(settings(backups, s3Info().endpoint)))) {
        const stored = await getObjectBytes(backups, `media/sha256/${object.sha256.slice(0, 2)}/${object.sha256}`);
        expect(sha256(stored), object.key).toBe(object.sha256);
      }
      expect(await openMultipartUploads(backups)).toEqual([]);

      // Every PUT and part carried the Content-MD5 of the bytes the client sent.
      const writes = proxy.requests.slice(seenBefore).filter((r) => inBackups(r) && (isPutObject(r) || isUploadPart(r)));
      expect(writes.length).toBeGreaterThanOrEqual(6);
      for (const write of writes) expect(write.headers['content-md5'], write.url).toBe(md5(write.body));
    } finally {
      proxy.faults.length = 0;
    }
  });

  it('a part flipped on every attempt fails the backup, with no manifest and no open upload', async () => {
    const database = await largeDatabase();
    const backups = await createBucket('backups');
    const media = await createBucket('media');
    proxy.faults.push({ match: (r) => r.url.startsWith(`/${backups}/`) && isUploadPart(r) && /partNumber=1/.test(r.url), alterRequestBody: (b) => flipByte(b) });
    try {
      await expect(runBackup(options(database, backups, media), memoryLogger())).rejects.toThrow(/changed on the way/);
    } finally {
      proxy.faults.length = 0;
    }
    expect((await listKeys(backups)).filter((k) => k.key.endsWith('manifest.json'))).toEqual([]);
    expect(await openMultipartUploads(backups)).toEqual([]);
  });
});
