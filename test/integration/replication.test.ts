/**
 * Replication (docs/replication.md): backups copied to a second S3 server, another process with other
 * credentials (test/support/other-s3-server.ts), through the real bundles.
 *
 * - a backup copied to the replica restores from there with the primary stopped;
 * - a copy cancelled or killed midway is incomplete in the replica's list, and the next copy finishes it;
 * - a damaged primary artifact makes restore use the replica, and say so; a damaged primary artifact is
 *   never copied;
 * - prune applies the replica's own retention; bad replica inputs are refused, naming the input.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { parseRecipients, parseSigningKey } from '../../src/engine/crypto/keys.js';
import { bucketSettings as primarySettings } from '../support/restore-steps.js';
import { tableDigests } from '../support/compare.js';
import { startOtherS3Server, type OtherS3Server } from '../support/other-s3-server.js';
import { backupWithEngine, failureOf } from '../support/restore-steps.js';
import { startSlowProxy } from '../support/slow-proxy.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, runActionBundle, s3Client, startStep, visibleOutput, withClient } from '../support/harness.js';

const SCHEDULED = { GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' };

function replicaInputs(server: OtherS3Server, bucket: string, endpoint = server.endpoint, prefix = ''): Record<string, string> {
  return {
    'replica-bucket': bucket,
    ...(prefix ? { 'replica-prefix': prefix } : {}),
    'replica-s3-endpoint': endpoint,
    'replica-s3-region': server.region,
    'replica-aws-access-key-id': server.accessKeyId,
    'replica-aws-secret-access-key': server.secretAccessKey,
  };
}

function otherBucketInputs(server: OtherS3Server, bucket: string): Record<string, string> {
  return {
    'backup-bucket': bucket,
    's3-endpoint': server.endpoint,
    's3-region': server.region,
    'aws-access-key-id': server.accessKeyId,
    'aws-secret-access-key': server.secretAccessKey,
  };
}

async function keysIn(server: OtherS3Server, bucket: string, prefix = ''): Promise<{ key: string; size: number }[]> {
  const page = await server.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined }));
  return (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0 }));
}

async function openUploadsIn(server: OtherS3Server, bucket: string): Promise<string[]> {
  return ((await server.client().send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.Key!);
}

function listed(run: { outputs: Record<string, string> }): { id: string; status: string }[] {
  return JSON.parse(run.outputs.backups ?? '[]');
}

function workspace(policy?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ws-'));
  if (policy !== undefined) writeFileSync(join(dir, 'policy.yml'), policy);
  return dir;
}

describe('replication to a second S3 server', () => {
  let replica: OtherS3Server;
  beforeAll(async () => {
    replica = await startOtherS3Server('replica');
  });
  afterAll(async () => {
    await replica?.stop();
  });

  it('backup copies to the replica (database and media), which restores with the primary stopped, and says so', async () => {
    const primary = await startOtherS3Server('primary');
    try {
      const source = await createDatabase('repl_source');
      await createSampleApp(source);
      const backups = await primary.createBucket('backups');
      const media = await primary.createBucket('media');
      // Two objects with the same content: stored once, copied once.
      for (const [key, body] of [['docs/a.pdf', 'A'], ['docs/a-copy.pdf', 'A'], ['ü/b.txt', 'BB']] as const) {
        await primary.client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: body }));
      }
      const replicaBucket = await replica.createBucket('replica');

      const backup = await runActionBundle(
        'backup',
        {
          space: 'production',
          trigger: 'nightly',
          'database-url': source,
          ...otherBucketInputs(primary, backups),
          'media-bucket': media,
          ...replicaInputs(replica, replicaBucket),
        },
        {},
      );
      expect(backup.code, visibleOutput(backup)).toBe(0);
      const id = backup.outputs['backup-id']!;
      expect(backup.summary).toContain('Copied to the replica');
      for (const secret of [primary.secretAccessKey, replica.secretAccessKey]) expect(visibleOutput(backup)).not.toContain(secret);
      // The replica holds the same manifest, byte for byte, the artifact, and each piece of media content once.
      const manifestKey = `backups/production/${id}/manifest.json`;
      const bytesOf = async (server: OtherS3Server, bucket: string, key: string) =>
        Buffer.from(await (await server.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
      expect((await bytesOf(replica, replicaBucket, manifestKey)).equals(await bytesOf(primary, backups, manifestKey))).toBe(true);
      // Two pieces of content and the index's one chunk.
      expect((await keysIn(replica, replicaBucket, 'media/')).length).toBe(3);
      expect((await keysIn(replica, replicaBucket, 'media/index/')).length).toBe(1);
      expect(await openUploadsIn(replica, replicaBucket)).toEqual([]);

      // The replica's list, on its own.
      const list = await runActionBundle('list', { ...bucketInputs('unused'), store: 'replica', ...replicaInputs(replica, replicaBucket), details: 'true' });
      expect(list.code, visibleOutput(list)).toBe(0);
      expect(listed(list)).toMatchObject([{ id, status: 'complete' }]);

      // The primary goes away.
      await primary.stop();
      const target = await createDatabase('repl_target');
      const stagingMedia = await replica.createBucket('staging-media');
      const restoreInputs = {
        'source-space': 'production',
        'target-space': 'staging',
        'database-url': target,
        ...otherBucketInputs(primary, backups),
        ...replicaInputs(replica, replicaBucket),
        'media-bucket': stagingMedia,
        'media-s3-endpoint': replica.endpoint,
        'media-aws-access-key-id': replica.accessKeyId,
        'media-aws-secret-access-key': replica.secretAccessKey,
      };
      const env = { ...SCHEDULED, GITHUB_WORKSPACE: workspace() };
      const restored = await runActionBundle('restore', restoreInputs, env);
      expect(restored.code, visibleOutput(restored)).toBe(0);
      expect(restored.outputs['backup-id']).toBe(id);
      expect(await tableDigests(target)).toEqual(await tableDigests(source));
      expect((await keysIn(replica, stagingMedia)).map((k) => k.key).sort()).toEqual(['docs/a-copy.pdf', 'docs/a.pdf', 'ü/b.txt']);
      expect(restored.stdout).toMatch(/Falling back to the replica/);
      expect(restored.stdout).toMatch(/Restored from the REPLICA/);
      expect(restored.summary).toMatch(/Restored from the \*\*replica\*\*.*because the backup bucket could not be used/);
      for (const secret of [primary.secretAccessKey, replica.secretAccessKey]) expect(visibleOutput(restored)).not.toContain(secret);

      // Without the replica, the same restore fails: the fallback is what saved it.
      const alone = await runActionBundle('restore', { ...restoreInputs, 'replica-bucket': '', 'replica-s3-endpoint': '', 'replica-s3-region': '', 'replica-aws-access-key-id': '', 'replica-aws-secret-access-key': '' }, env);
      expect(alone.code).toBe(1);
      expect(failureOf(alone)).toMatch(/Cannot use the bucket/);
    } finally {
      await primary.stop();
    }
  });

  describe('a damaged primary', () => {
    let source: string;
    let backups: string;
    let replicaBucket: string;
    let id: string;
    let artifactKey: string;
    beforeAll(async () => {
      source = await createDatabase('repl_damage');
      await createSampleApp(source);
      backups = await createBucket('backups');
      replicaBucket = await replica.createBucket('replica');
      const manifest = await backupWithEngine(source, backups, 'production');
      id = manifest.id;
      artifactKey = manifest.artifacts[0]!.key;
      const copy = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket) }, awsEnv());
      expect(copy.code, visibleOutput(copy)).toBe(0);
      expect(JSON.parse(copy.outputs.copied!)).toEqual([`production/${id}`]);
      expect(visibleOutput(copy)).not.toContain(replica.secretAccessKey);
    });

    /** Overwrites an object with the same number of bytes, one of them changed: only a hash can tell. */
    async function damage(key: string) {
      const bytes = Buffer.from(await (await s3Client().send(new GetObjectCommand({ Bucket: backups, Key: key }))).Body!.transformToByteArray());
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: bytes }));
    }

    it('makes restore use the replica, and say so', async () => {
      await damage(artifactKey);
      const target = await createDatabase('repl_damage_target');
      const env = { ...awsEnv(), ...SCHEDULED, GITHUB_WORKSPACE: workspace() };
      const inputs = { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...bucketInputs(backups) };

      const refused = await runActionBundle('restore', inputs, env);
      expect(refused.code).toBe(1);
      expect(failureOf(refused)).toMatch(/does not match its manifest/);

      const restored = await runActionBundle('restore', { ...inputs, ...replicaInputs(replica, replicaBucket) }, env);
      expect(restored.code, visibleOutput(restored)).toBe(0);
      expect(restored.outputs['backup-id']).toBe(id);
      expect(await tableDigests(target)).toEqual(await tableDigests(source));
      expect(restored.stdout).toMatch(/could not be used, and nothing in the target was touched: .*does not match its manifest/);
      expect(restored.summary).toMatch(/Restored from the \*\*replica\*\*/);
      expect(restored.summary).toMatch(/does not match its manifest/);
      expect(visibleOutput(restored)).not.toContain(replica.secretAccessKey);
    });

    it('the replica must pass the same checks: with both damaged, restore refuses with both reasons and the target is unchanged', async () => {
      const replicaKey = `backups/production/${id}/${artifactKey.slice(artifactKey.lastIndexOf('/') + 1)}`;
      const bytes = Buffer.from(await (await replica.client().send(new GetObjectCommand({ Bucket: replicaBucket, Key: replicaKey }))).Body!.transformToByteArray());
      bytes[10]! ^= 0xff;
      await replica.client().send(new PutObjectCommand({ Bucket: replicaBucket, Key: replicaKey, Body: bytes }));
      const target = await createDatabase('repl_both_damaged');
      await withClient(target, (c) => c.query('CREATE TABLE kept AS SELECT 42 AS answer'));
      const before = await tableDigests(target);
      const run = await runActionBundle(
        'restore',
        { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket) },
        { ...awsEnv(), ...SCHEDULED, GITHUB_WORKSPACE: workspace() },
      );
      expect(run.code).toBe(1);
      expect(failureOf(run)).toMatch(/Restore refused for 2 reasons: \(1\) The backup bucket s3:\/\/\S+: Artifact 'database' .* does not match its manifest.*\(2\) The replica s3:\/\/\S+: Artifact 'database' .* does not match its manifest/);
      expect(run.summary).toMatch(/refused/);
      expect(await tableDigests(target)).toEqual(before);
    });

    it('is never copied: a damaged artifact fails the copy, its upload is aborted and no manifest is written', async () => {
      const second = await backupWithEngine(source, backups, 'production', { trigger: 'manual' });
      await damage(second.artifacts[0]!.key);
      const copy = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket), space: 'production', 'backup-id': second.id }, awsEnv());
      expect(copy.code).toBe(1);
      expect(failureOf(copy)).toMatch(/does not match: SHA-256 [0-9a-f]{64} where the manifest records/);
      expect((await keysIn(replica, replicaBucket, `backups/production/${second.id}/`)).map((k) => k.key)).toEqual([]);
      expect(await openUploadsIn(replica, replicaBucket)).toEqual([]);
      const list = await runActionBundle('list', { ...bucketInputs('unused'), store: 'replica', ...replicaInputs(replica, replicaBucket) });
      expect(listed(list).map((b) => b.id)).toEqual([id]);
    });
  });

  describe('an interrupted copy', () => {
    let source: string;
    let backups: string;
    beforeAll(async () => {
      source = await createDatabase('repl_big');
      // About 20 MiB of dump, stored uncompressed: a multipart upload of three parts.
      await withClient(source, (c) => c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 6) AS body FROM generate_series(1, 100000) g`));
      backups = await createBucket('backups');
      await backupWithEngine(source, backups, 'production', { compression: 'none' });
    });

    async function waitForOpenUpload(bucket: string, child: { exitCode: number | null }) {
      const deadline = Date.now() + 60_000;
      while ((await openUploadsIn(replica, bucket)).length === 0) {
        if (child.exitCode !== null) throw new Error(`the copy ended (code ${child.exitCode}) before its upload opened`);
        if (Date.now() > deadline) throw new Error('no upload opened');
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    it('is incomplete in the replica after SIGTERM (uploads aborted) and after SIGKILL, and the next copy finishes it', async () => {
      const replicaBucket = await replica.createBucket('replica');
      const slow = await startSlowProxy(replica.endpoint, 3000);
      try {
        const throughSlow = { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket, slow.endpoint) };

        // Cancelled: the open upload is aborted on the way out, nothing is left, the run fails as cancelled.
        const cancelled = startStep('copy', throughSlow, { env: awsEnv() });
        await waitForOpenUpload(replicaBucket, cancelled.child);
        const signalledAt = Date.now();
        cancelled.child.kill('SIGTERM');
        const cancelledRun = await cancelled.done;
        // Parts are cut off, not waited for (each takes 3 s through the slow proxy): GitHub kills a job 10 s after the first signal.
        expect(Date.now() - signalledAt).toBeLessThan(2500);
        expect(cancelledRun.code).not.toBe(0);
        expect(failureOf(cancelledRun)).toMatch(/copy was cancelled \(SIGTERM\)/);
        expect(await openUploadsIn(replica, replicaBucket)).toEqual([]);
        expect((await keysIn(replica, replicaBucket)).filter((k) => k.key.endsWith('manifest.json'))).toEqual([]);

        // Killed: nothing cleans up, and the replica shows the backup as incomplete.
        const killed = startStep('copy', throughSlow, { env: awsEnv() });
        await waitForOpenUpload(replicaBucket, killed.child);
        killed.child.kill('SIGKILL');
        await killed.done;
        const replicaOnly = { ...bucketInputs('unused'), store: 'replica', ...replicaInputs(replica, replicaBucket) };
        const incomplete = await runActionBundle('list', replicaOnly);
        expect(incomplete.code, visibleOutput(incomplete)).toBe(0);
        expect(listed(incomplete).map((b) => b.status)).toEqual(['incomplete']);
        expect(incomplete.outputs.latest).toBe('');

        // The next copy finishes it.
        const again = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket) }, awsEnv());
        expect(again.code, visibleOutput(again)).toBe(0);
        const complete = await runActionBundle('list', replicaOnly);
        expect(listed(complete).map((b) => b.status)).toEqual(['complete']);

        // And restores from the replica alone.
        const target = await createDatabase('repl_big_target');
        const restored = await runActionBundle(
          'restore',
          { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...replicaOnly },
          { ...SCHEDULED, GITHUB_WORKSPACE: workspace() },
        );
        expect(restored.code, visibleOutput(restored)).toBe(0);
        expect(await tableDigests(target)).toEqual(await tableDigests(source));

        // Incremental: a third copy has nothing to do.
        const third = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket) }, awsEnv());
        expect(third.code).toBe(0);
        expect(JSON.parse(third.outputs.copied!)).toEqual([]);
        expect(JSON.parse(third.outputs.present!)).toHaveLength(1);
      } finally {
        await slow.close();
      }
    });
  });

  it('prune applies replica-retention to the replica and retention to the backup bucket', async () => {
    const source = await createDatabase('repl_prune');
    await withClient(source, (c) => c.query('CREATE TABLE t AS SELECT 1 AS x'));
    const backups = await createBucket('backups');
    const replicaBucket = await replica.createBucket('replica');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await backupWithEngine(source, backups, 'dev')).id);
    const copy = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket), space: 'dev' }, awsEnv());
    expect(copy.code, visibleOutput(copy)).toBe(0);
    const ws = workspace('retention:\n  - { space: dev, trigger: nightly, keep-last: 1 }\nreplica-retention:\n  - { space: dev, trigger: nightly, keep-last: 2 }\n');
    const prune = await runActionBundle('prune', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket), 'policy-file': 'policy.yml' }, { ...awsEnv(), GITHUB_WORKSPACE: ws });
    expect(prune.code, visibleOutput(prune)).toBe(0);
    expect(JSON.parse(prune.outputs.kept!)).toEqual([ids[2]]);
    expect(JSON.parse(prune.outputs['replica-kept']!)).toEqual([ids[2], ids[1]]);
    expect(JSON.parse(prune.outputs['replica-deleted']!)).toEqual([ids[0]]);
    expect(prune.summary).toContain(`### The replica \`${replicaBucket}\``);
    expect(visibleOutput(prune)).not.toContain(replica.secretAccessKey);
  });

  it('copies an encrypted, signed backup with its encrypted media under another prefix, and it restores from there with the identity', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'age-')), 'key.txt');
    execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
    const identity = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
    const pair = generateKeyPairSync('ed25519');
    const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const source = await createDatabase('repl_sealed');
    await createSampleApp(source);
    const media = await createBucket('media');
    for (const key of ['a.txt', 'b.txt']) await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: `content of ${key}` }));
    const backups = await createBucket('backups');
    const made = await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: primarySettings(backups), media: { source: primarySettings(media) },
        keys: { recipients: parseRecipients(recipient), signingKey: parseSigningKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()) },
      },
      memoryLogger(),
    );
    const replicaBucket = await replica.createBucket('replica');
    const copy = await runActionBundle('copy', { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket, replica.endpoint, 'mirror') }, awsEnv());
    expect(copy.code, visibleOutput(copy)).toBe(0);
    expect(JSON.parse(copy.outputs.copied!)).toEqual([`production/${made.manifest.id}`]);
    const stored = (await keysIn(replica, replicaBucket)).map((k) => k.key);
    expect(stored.filter((k) => k.startsWith('mirror/media/age/'))).toHaveLength(2);
    expect(stored).toContain(`mirror/backups/production/${made.manifest.id}/database.pgdump.zst.age`);

    const target = await createDatabase('repl_sealed_target');
    const targetMedia = await createBucket('staging-media');
    const restored = await runActionBundle(
      'restore',
      {
        'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...bucketInputs('unused'), store: 'replica',
        ...replicaInputs(replica, replicaBucket, replica.endpoint, 'mirror'), 'encryption-identity': identity, 'signing-public-keys': publicPem, 'media-bucket': targetMedia,
      },
      { ...awsEnv(), ...SCHEDULED, GITHUB_WORKSPACE: workspace() },
    );
    expect(restored.code, visibleOutput(restored)).toBe(0);
    expect(restored.stdout).toMatch(/signed by trusted key [0-9a-f]{16}, and the signature matches/);
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
    const restoredMedia = await s3Client().send(new GetObjectCommand({ Bucket: targetMedia, Key: 'b.txt' }));
    expect(await restoredMedia.Body!.transformToString()).toBe('content of b.txt');
    expect(restored.summary).toMatch(/Restored from the \*\*replica\*\*.*'store: replica'/);
    expect(visibleOutput(restored)).not.toContain(identity);
  });

  it('a backup whose copy fails is still good: the step fails saying so, with its outputs set', async () => {
    const source = await createDatabase('repl_copyfail');
    await withClient(source, (c) => c.query('CREATE TABLE t AS SELECT 1 AS x'));
    const backups = await createBucket('backups');
    const run = await runActionBundle(
      'backup',
      { space: 'dev', 'database-url': source, ...bucketInputs(backups), ...replicaInputs(replica, 'no-such-replica-bucket') },
      awsEnv(),
    );
    expect(run.code).toBe(1);
    const id = run.outputs['backup-id']!;
    expect(id).toMatch(/-manual-/);
    expect(failureOf(run)).toMatch(new RegExp(`Backup ${id} of 'dev' is complete and good in the backup bucket, but copying it to the replica s3://no-such-replica-bucket \\('replica-bucket'\\) failed: .*does not exist`));
    expect(run.summary).toMatch(/The backup is good, but copying it to the replica failed/);
    const list = await runActionBundle('list', { ...bucketInputs(backups) }, awsEnv());
    expect(listed(list)).toMatchObject([{ id, status: 'complete' }]);
    expect(visibleOutput(run)).not.toContain(replica.secretAccessKey);
  });

  it('refuses bad replica inputs, naming the input, before anything is copied', async () => {
    const backups = await createBucket('backups');
    const replicaBucket = await replica.createBucket('replica');
    const base = { ...bucketInputs(backups), ...replicaInputs(replica, replicaBucket) };
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'replica-bucket': '' }, /Inputs? .*'replica-s3-endpoint'.* given but 'replica-bucket' is not/],
      [{ 'replica-aws-secret-access-key': '' }, /'replica-aws-access-key-id' and 'replica-aws-secret-access-key' go together/],
      [{ 'backup-id': '2026-11-21T020000.000Z-nightly-7f3a' }, /Input 'backup-id' needs 'space'/],
      [{ 'backup-id': 'yesterday', space: 'production' }, /Input 'backup-id' is 'yesterday', which is not a Lifeboat backup id/],
      [{ 'replica-aws-access-key-id': 'NOSUCHKEY' }, /Cannot read the bucket given in 'replica-bucket': the store does not know the access key id. Check 'replica-aws-access-key-id'/],
      [{ 'replica-bucket': 'no-such-bucket-here' }, /Cannot read the bucket given in 'replica-bucket': the bucket 'no-such-bucket-here' does not exist there/],
      [{ 'replica-bucket': backups, 'replica-s3-endpoint': bucketInputs(backups)['s3-endpoint']!, 'replica-aws-access-key-id': '', 'replica-aws-secret-access-key': '' }, /'replica-bucket' names the backup bucket itself/],
    ];
    for (const [change, message] of cases) {
      const run = await runActionBundle('copy', { ...base, ...change }, awsEnv());
      expect(run.code, JSON.stringify(change)).toBe(1);
      expect(failureOf(run), JSON.stringify(change)).toMatch(message);
      expect(visibleOutput(run)).not.toContain(replica.secretAccessKey);
    }
    const noReplica = await runActionBundle('copy', bucketInputs(backups), awsEnv());
    expect(failureOf(noReplica)).toMatch(/Input 'replica-bucket' is required/);
    const listReplica = await runActionBundle('list', { ...bucketInputs(backups), store: 'replica' }, awsEnv());
    expect(failureOf(listReplica)).toMatch(/Input 'store' is 'replica' but 'replica-bucket' is not given/);
    const badStore = await runActionBundle('list', { ...bucketInputs(backups), store: 'secondary' }, awsEnv());
    expect(failureOf(badStore)).toMatch(/Input 'store' is 'secondary'; it must be one of: primary, replica/);
    const pruneStore = await runActionBundle('prune', { ...bucketInputs(backups), store: 'replica' }, awsEnv());
    expect(failureOf(pruneStore)).toMatch(/Input 'store' is 'replica' but 'replica-bucket' is not given/);
    // The backup refuses a half-given replica before it dumps anything.
    const backupRun = await runActionBundle('backup', { space: 'dev', 'database-url': await createDatabase('repl_bad'), ...bucketInputs(backups), 'replica-aws-secret-access-key': 'sekrit-value-123456' }, awsEnv());
    expect(backupRun.code).toBe(1);
    expect(failureOf(backupRun)).toMatch(/'replica-aws-secret-access-key' is given but 'replica-bucket' is not/);
    expect(visibleOutput(backupRun)).not.toContain('sekrit-value-123456');
    expect((await s3Client().send(new ListObjectsV2Command({ Bucket: backups }))).Contents ?? []).toEqual([]);
  });
});
