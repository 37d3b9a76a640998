/**
 * Immutability (S3 Object Lock, docs/immutability.md) against Ceph's RADOS Gateway, a real S3 that enforces
 * Object Lock. s3rver has no Object Lock, so in the `integration` project only the no-lock path runs.
 *
 * The sandbox's one credential is the bucket's owner, the strongest a leaked backup credential could be:
 * what it cannot delete, a weaker one cannot either.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { ImmutabilityEntry } from '../../src/domain/immutability.js';
import { parsePolicy, type Policy } from '../../src/domain/policy.js';
import { runBackup, type BackupResult } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { verifyMediaPresent } from '../../src/engine/media/media.js';
import { lockedOutput, runPrune } from '../../src/engine/prune/prune.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { pruneSummary } from '../../src/engine/summaries.js';
import { createBucket, createDatabase, listKeys, s3Client, s3Info, uniqueName, withClient } from '../support/harness.js';

const DAY = 86_400_000;
const MIB = 1024 * 1024;
const OBJECT_LOCK = s3Info().kind === 'rgw';

function settings(bucket: string): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

async function createLockedBucket(): Promise<string> {
  const name = uniqueName('locked');
  await s3Client().send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }));
  return name;
}

const head = (bucket: string, key: string) => s3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

/** Versions and delete markers, leaving out the backup's own media lock file (locks/), which it writes and deletes. */
async function versionsOf(bucket: string, prefix = '') {
  const listing = await s3Client().send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  const data = (entry: { Key?: string }) => !entry.Key!.startsWith('locks/');
  return { versions: (listing.Versions ?? []).filter(data), markers: (listing.DeleteMarkers ?? []).filter(data) };
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

interface BackupAt {
  bucket: string;
  immutability: ImmutabilityEntry[];
  space?: string;
  /** LIFEBOAT_NOW: the backup's start, from which its lock is counted. */
  at?: Date;
  media?: string;
  database?: string;
}

async function backup(options: BackupAt): Promise<BackupResult & { log: string[] }> {
  const log = memoryLogger();
  const result = await runBackup(
    {
      space: options.space ?? 'dev',
      trigger: 'nightly',
      databaseUrl: options.database ?? (await createDatabase('lock')),
      compression: 'zstd',
      rowCounts: false,
      progressIntervalMs: 60_000,
      bucket: settings(options.bucket),
      // 5 MiB parts, so a dump larger than that goes by multipart upload.
      upload: { partSize: 5 * MIB, queueSize: 2 },
      immutability: options.immutability,
      // Objects over 1 MiB go by multipart upload, where RGW ignores the lock given at the start.
      ...(options.media ? { media: { source: settings(options.media), tuning: { concurrency: 4, smallObjectBytes: MIB, partSize: 5 * MIB } } } : {}),
      env: { ...process.env, ...(options.at ? { LIFEBOAT_NOW: options.at.toISOString() } : {}) },
    },
    log,
  );
  return { ...result, log: log.lines };
}

const governance = (days = 1, space = 'dev'): ImmutabilityEntry[] => [{ space, trigger: 'nightly', mode: 'governance', days }];

async function mediaBucket(files: Record<string, string | Buffer>): Promise<string> {
  const media = await createBucket('media');
  for (const [key, body] of Object.entries(files)) await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: body }));
  return media;
}

describe.skipIf(!OBJECT_LOCK)('S3 Object Lock (Ceph RGW; s3rver has no Object Lock, so this runs only in the integration-rgw project)', () => {
  it('locks every object a backup writes, and a locked backup survives deletion with the backup credential', async () => {
    const bucket = await createLockedBucket();
    const large = randomBytes(6 * MIB);
    const media = await mediaBucket({ 'small.txt': 'small file', 'large.bin': large });
    // A dump of over 5 MiB, stored by multipart upload, where RGW ignores the lock given at the start.
    const database = await createDatabase('lockbig');
    await withClient(database, (c) => c.query(`CREATE TABLE noise AS SELECT md5(random()::text) || md5(random()::text) AS t FROM generate_series(1, 250000)`));
    const result = await backup({ bucket, immutability: governance(1), media, database });
    expect(result.manifest.artifacts[0]!.size).toBeGreaterThan(5 * MIB);
    const until = new Date(Date.parse(result.manifest.startedAt) + DAY);
    expect(result.objectLock).toEqual({ mode: 'governance', retainUntil: until });

    const store = new BackupStore(settings(bucket));
    const backupKeys = (await listKeys(bucket, store.backupPrefix('dev', result.manifest.id))).map((k) => k.key);
    // Content, and the media index's chunk.
    const contentKeys = [...(await listKeys(bucket, 'media/sha256/')), ...(await listKeys(bucket, 'media/index/'))].map((k) => k.key);
    expect(backupKeys).toHaveLength(2);
    expect(contentKeys).toHaveLength(3);
    // The artifact, the manifest and both pieces of content, the multipart one included.
    for (const key of [...backupKeys, ...contentKeys]) {
      const h = await head(bucket, key);
      expect({ key, mode: h.ObjectLockMode, until: h.ObjectLockRetainUntilDate?.toISOString() }).toEqual({ key, mode: 'GOVERNANCE', until: until.toISOString() });
    }

    // A plain delete, as an attacker (or a prune) with the backup credential would send it: on a versioned
    // bucket it only adds delete markers, and the backup disappears from the listing...
    const plain = await s3Client().send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...backupKeys, ...contentKeys].map((Key) => ({ Key })) } }));
    expect(plain.Errors ?? []).toEqual([]);
    expect(await store.listEntries('dev')).toEqual([]);
    // ...but the locked versions are all still there, and deleting them, the only way to destroy data, is refused.
    const { versions, markers } = await versionsOf(bucket);
    expect(versions.map((v) => v.Key).sort()).toEqual([...backupKeys, ...contentKeys].sort());
    // One delete marker per object deleted: the artifact, the manifest, both pieces of content and the index chunk.
    expect(markers).toHaveLength(backupKeys.length + contentKeys.length);
    expect(markers).toHaveLength(5);
    for (const version of versions) {
      const refused = await s3Client()
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }))
        .then(() => undefined, (error: unknown) => error);
      expect({ key: version.Key, status: statusOf(refused) }).toEqual({ key: version.Key, status: 403 });
    }
    const batch = await s3Client().send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: versions.map((v) => ({ Key: v.Key, VersionId: v.VersionId })) } }),
    );
    expect(batch.Deleted ?? []).toEqual([]);
    expect((batch.Errors ?? []).map((e) => e.Code)).toEqual(versions.map(() => 'AccessDenied'));
    expect((await versionsOf(bucket)).versions).toHaveLength(5);

    // Recovery: removing the delete markers (not locked, and nothing of value) brings the backup back whole.
    for (const marker of markers) await s3Client().send(new DeleteObjectCommand({ Bucket: bucket, Key: marker.Key, VersionId: marker.VersionId }));
    expect((await store.listEntries('dev')).map((e) => [e.id, e.status])).toEqual([[result.manifest.id, 'complete']]);
    const manifest = await store.getManifest('dev', result.manifest.id);
    const artifact = manifest.artifacts[0]!;
    const bytes = Buffer.from(await (await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: artifact.key }))).Body!.transformToByteArray());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(artifact.sha256);
    await verifyMediaPresent(manifest.media!, store);
  });

  it('in compliance mode, not even the bucket owner asking to bypass governance can delete a locked version', async () => {
    const bucket = await createLockedBucket();
    const result = await backup({ bucket, immutability: [{ space: 'dev', trigger: 'nightly', mode: 'compliance', days: 1 }] });
    const key = result.manifest.artifacts[0]!.key;
    expect((await head(bucket, key)).ObjectLockMode).toBe('COMPLIANCE');
    const [version] = (await versionsOf(bucket, key)).versions;
    const refused = await s3Client()
      .send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: version!.VersionId, BypassGovernanceRetention: true }))
      .then(() => undefined, (error: unknown) => error);
    expect(statusOf(refused)).toBe(403);
    expect((await versionsOf(bucket, key)).versions).toHaveLength(1);
  });

  it('prune keeps a locked backup whole, says when it becomes deletable, skips locked media content, and deletes the backup once the lock ends', async () => {
    const bucket = await createLockedBucket();
    const database = await createDatabase('lockprune');
    const policy: Policy = parsePolicy(
      'retention:\n  - { space: dev, trigger: nightly, keep-last: 1 }\nimmutability:\n  - { space: dev, trigger: nightly, mode: governance, days: 1 }\n',
      'lifeboat.yml',
    );
    // The lock counts from the backup's start (LIFEBOAT_NOW), and RGW enforces it by the real clock: a start one
    // day ago, plus a little, gives a lock that ends in a few seconds.
    const lockSeconds = 20;
    const old = await backup({ bucket, database, immutability: [...policy.immutability!], at: new Date(Date.now() - DAY + lockSeconds * 1000) });
    const oldUntil = old.objectLock!.retainUntil;
    const newer = await backup({ bucket, database, immutability: [...policy.immutability!] });
    expect(oldUntil.getTime()).toBeGreaterThan(Date.now());

    // Unreferenced media content older than the grace period: one still locked, one not.
    const lockedContent = `media/sha256/aa/${'a'.repeat(64)}`;
    const freeContent = `media/sha256/bb/${'b'.repeat(64)}`;
    await s3Client().send(
      new PutObjectCommand({ Bucket: bucket, Key: lockedContent, Body: 'locked, unreferenced', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + DAY) }),
    );
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: freeContent, Body: 'unreferenced' }));

    // Prune's clock (for the rules and the grace period) is two days ahead; the lock is judged by the real one.
    const prune = (dryRun = false) =>
      runPrune(
        { bucket: settings(bucket), policy, incompleteGraceMs: DAY, dryRun, lockSkewMs: 0, env: { ...process.env, LIFEBOAT_NOW: new Date(Date.now() + 2 * DAY).toISOString() } },
        memoryLogger(),
      );
    const dry = await prune(true);
    expect(dry.plan.remove).toEqual([]);
    expect(dry.locked!.map((l) => l.entry.id)).toEqual([old.manifest.id]);
    expect(dry.media).toMatchObject({ deleted: 1, locked: 1 });

    const held = await prune();
    expect(held.deleted).toEqual([]);
    expect(held.failed).toEqual([]);
    expect(lockedOutput(held)).toEqual([{ id: old.manifest.id, space: 'dev', mode: 'governance', deletableAt: oldUntil.toISOString() }]);
    expect(held.plan.keep.find((k) => k.entry.id === old.manifest.id)!.reasons).toEqual([
      `locked (governance) until ${oldUntil.toISOString()}: the rules would delete it, and it becomes deletable then`,
    ]);
    expect(held.media).toMatchObject({ deleted: 1, locked: 1 });
    const summary = pruneSummary(held);
    expect(summary).toContain(`- Held by S3 Object Lock: 1 backup the rules would delete, kept whole until deletable: \`dev/${old.manifest.id}\``);
    expect(summary).toContain('1 unreferenced but still locked');
    // Nothing was asked to delete a locked object: no delete marker but the free content's, and both backups are listed complete.
    const afterHeld = await versionsOf(bucket);
    expect(afterHeld.markers.map((m) => m.Key)).toEqual([freeContent]);
    expect((await new BackupStore(settings(bucket)).listEntries('dev')).map((e) => e.id).sort()).toEqual([old.manifest.id, newer.manifest.id].sort());
    expect((await listKeys(bucket, 'media/')).map((k) => k.key)).toEqual([lockedContent]);

    // Once the lock has ended, the same prune deletes the backup.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, oldUntil.getTime() - Date.now()) + 1500));
    const after = await prune();
    expect(after.locked).toEqual([]);
    expect(after.deleted.map((e) => e.id)).toEqual([old.manifest.id]);
    expect(after.failed).toEqual([]);
    expect((await new BackupStore(settings(bucket)).listEntries('dev')).map((e) => e.id)).toEqual([newer.manifest.id]);
  });

  it('extends the retention of media content a later backup reuses, never shortens it, and adds no versions', async () => {
    const bucket = await createLockedBucket();
    const media = await mediaBucket({ 'a.txt': 'content a', 'b.txt': 'content b', 'copy-of-a.txt': 'content a' });
    const database = await createDatabase('lockmedia');
    const immutability: ImmutabilityEntry[] = [...governance(1, 'dev'), ...governance(3, 'staging')];
    const contentUntil = async () => {
      const keys = (await listKeys(bucket, 'media/sha256/')).map((k) => k.key);
      expect(keys).toHaveLength(2);
      return [...new Set(await Promise.all(keys.map(async (key) => (await head(bucket, key)).ObjectLockRetainUntilDate!.toISOString())))];
    };

    const first = await backup({ bucket, database, media, immutability, at: new Date(Date.now() - DAY + 10 * 60_000) });
    expect(await contentUntil()).toEqual([first.objectLock!.retainUntil.toISOString()]);
    expect(first.mediaTraffic!.retentionsExtended ?? 0).toBe(0);

    // The next backup of the space carries the records over (nothing read again) and extends the content's lock to its own.
    const second = await backup({ bucket, database, media, immutability });
    expect(second.manifest.media!.totals).toMatchObject({ newObjects: 0, reusedObjects: 3 });
    expect(second.mediaTraffic!.retentionsExtended).toBe(2);
    expect(await contentUntil()).toEqual([second.objectLock!.retainUntil.toISOString()]);
    expect(second.log).toContain(
      `Object Lock: media content this backup references is locked until at least ${second.objectLock!.retainUntil.toISOString()} (2 reused content object(s) had their retention extended).`,
    );

    // A backup whose lock ends sooner leaves the later date alone.
    const shorter = await backup({ bucket, database, media, immutability, at: new Date(Date.now() - DAY + 20 * 60_000) });
    expect(shorter.mediaTraffic!.retentionsExtended ?? 0).toBe(0);
    expect(await contentUntil()).toEqual([second.objectLock!.retainUntil.toISOString()]);

    // Another space finds the same content by its digest (no records to carry over) and extends it too.
    const staging = await backup({ bucket, database, media, immutability, space: 'staging' });
    expect(staging.manifest.media!.totals).toMatchObject({ newObjects: 0, reusedObjects: 3 });
    expect(staging.mediaTraffic!.retentionsExtended).toBe(2);
    expect(await contentUntil()).toEqual([staging.objectLock!.retainUntil.toISOString()]);

    // Retention was changed in place: each piece of content, and the index's one chunk (the same for both
    // spaces), still has exactly one version.
    expect((await versionsOf(bucket, 'media/')).versions).toHaveLength(3);
    expect((await versionsOf(bucket, 'media/index/')).versions).toHaveLength(1);
  });
});

describe('a policy asking for Object Lock on a bucket without it', () => {
  it('backs up as before, unlocked, with a warning; prune deletes as before', async () => {
    const bucket = await createBucket('nolock');
    const database = await createDatabase('nolock');
    const media = await mediaBucket({ 'a.txt': 'content a' });
    const first = await backup({ bucket, database, media, immutability: governance(1), at: new Date(Date.now() - 60_000) });
    const second = await backup({ bucket, database, media, immutability: governance(1) });
    for (const result of [first, second]) {
      expect(result.objectLock).toBeUndefined();
      expect(result.log.filter((l) => l.startsWith('warning:'))).toEqual([
        expect.stringContaining(`but the bucket '${bucket}' does not have S3 Object Lock enabled, so this backup is not locked`),
      ]);
    }
    for (const { key } of await listKeys(bucket)) expect((await head(bucket, key)).ObjectLockMode).toBeUndefined();
    const result = await runPrune(
      { bucket: settings(bucket), policy: parsePolicy('retention:\n  - { space: dev, trigger: nightly, keep-last: 1 }\n', 'lifeboat.yml'), incompleteGraceMs: DAY, dryRun: false },
      memoryLogger(),
    );
    expect(result.locked).toBeUndefined();
    expect(result.deleted.map((e) => e.id)).toEqual([first.manifest.id]);
  });
});
