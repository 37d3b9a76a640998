/**
 * Prune and a backup that reuses old content, interleaved deterministically at the dangerous point:
 * prune has chosen the unreferenced content to delete, and a backup then reuses that content. With the
 * lock protocol (src/engine/media/locks.ts) the backup waits until prune is done and stores the content
 * again, so it stays restorable with its media.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/domain/policy.js';
import { runBackup, type BackupResult } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { lockSeams } from '../../src/engine/media/locks.js';
import { restoreMedia, verifyMediaPresent } from '../../src/engine/media/media.js';
import { runPrune } from '../../src/engine/prune/prune.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { createBucket, createDatabase, getObjectBytes, listKeys, s3Client, s3Info } from '../support/harness.js';

/** Short, so that content written by the test is old within seconds (last-modified times have whole seconds). */
const GRACE_MS = 1500;
const settle = () => new Promise((r) => setTimeout(r, GRACE_MS + 1100));

function settings(bucket: string): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

afterEach(() => {
  delete lockSeams.pruneBeforeMediaDeletion;
  delete lockSeams.backupWaitingForPrune;
  lockSeams.pollMs = 2000;
});

/** Old content in the backup bucket that no manifest names, and the same bytes in the media bucket. */
async function oldUnreferencedContent() {
  const media = await createBucket('media');
  const backups = await createBucket('backups');
  const body = 'bytes some deleted backup stored long ago';
  const store = new BackupStore(settings(backups));
  const casKey = store.mediaObjectKey(createHash('sha256').update(body).digest('hex'));
  await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: casKey, Body: body }));
  await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'reused.txt', Body: body }));
  await settle();
  return { media, backups, body, store, casKey };
}

const prune = (backups: string) =>
  runPrune({ bucket: settings(backups), policy: DEFAULT_POLICY, incompleteGraceMs: GRACE_MS, dryRun: false }, memoryLogger());

describe('prune and backup together', () => {
  it('a backup reusing content prune has chosen to delete waits for prune, stores the content again, and restores with its media', async () => {
    const { media, backups, body, store, casKey } = await oldUnreferencedContent();
    const database = await createDatabase('race');
    lockSeams.pollMs = 200;
    let backupRun: Promise<BackupResult> | undefined;
    let backupWaited = false;
    const waiting = new Promise<void>((resolve) => {
      lockSeams.backupWaitingForPrune = () => {
        backupWaited = true;
        resolve();
      };
    });
    // The dangerous point: prune holds its list of garbage (the reused content among it) and is about to delete.
    lockSeams.pruneBeforeMediaDeletion = async () => {
      backupRun = runBackup(
        {
          space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
          bucket: settings(backups), media: { source: settings(media) },
        },
        memoryLogger(),
      );
      // Without a protocol the backup completes here; with it, it waits for this prune.
      await Promise.race([backupRun.then(() => undefined, () => undefined), waiting]);
    };
    const pruned = await prune(backups);
    expect(backupRun).toBeDefined();
    expect(pruned.media).toMatchObject({ deleted: 1 });
    const result = await backupRun!;

    // The backup is restorable with its media: its content is in the bucket, and restores byte for byte.
    await verifyMediaPresent(result.manifest.media!, store);
    const target = await createBucket('target');
    await restoreMedia(result.manifest.media!, store, settings(target), memoryLogger());
    expect((await getObjectBytes(target, 'reused.txt')).toString()).toBe(body);
    // Its content, and its index chunk.
    expect((await listKeys(backups, 'media/')).map((k) => k.key).sort()).toEqual([casKey, ...result.manifest.media!.index!.chunks.map((c) => store.mediaIndexKey(c.address))].sort());
    expect(await listKeys(backups, 'locks/')).toEqual([]);
    expect(backupWaited).toBe(true);
  });

  it('prune skips the media clean-up while a backup holds its lock, and clears a lock older than the grace period', async () => {
    const { backups, casKey } = await oldUnreferencedContent();
    const lockKey = 'locks/backup/dev/2026-12-01T020000.000Z-nightly-0001.json';
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: lockKey, Body: '{}' }));

    const during = await prune(backups);
    expect(during.media?.skipped).toMatch(/Media clean-up skipped: 1 backup\(s\) may be running \(locks\/backup\/dev\/.*\)/);
    expect((await listKeys(backups, 'media/')).map((k) => k.key)).toEqual([casKey]);

    // A backup killed without removing its lock: once the lock is older than the grace period, prune goes on and removes it.
    await settle();
    const after = await prune(backups);
    expect(after.media).toMatchObject({ deleted: 1 });
    expect(await listKeys(backups, 'media/')).toEqual([]);
    expect(await listKeys(backups, 'locks/')).toEqual([]);
  });
});
