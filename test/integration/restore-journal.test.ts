/**
 * The parallel path's safety net survives a crash. Its pg_restore --jobs runs outside one transaction, so a
 * restore process killed mid-way (SIGKILL: no handler runs) or a server that crashes mid-way leaves the
 * target half-restored with no put-back. The journal in the bucket records the pre-restore backup, and the
 * next restore into the space puts the target back, byte for byte, before it does anything else.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { formatBackupId } from '../../src/domain/backup-id.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { schemaDump, tableDigests } from '../support/compare.js';
import {
  awsEnv,
  bucketInputs,
  createBucket,
  createDatabase,
  getObjectBytes,
  listKeys,
  postgresInfo,
  runActionBundle,
  s3Client,
  s3Info,
  startStep,
  withClient,
  type BundleRun,
  type RunningStep,
} from '../support/harness.js';

const PARALLEL = { 'parallel-threshold-mb': '0', jobs: '2' };
const JOURNAL_KEY = 'restore-journal/staging.json';

function bucketSettings(bucket: string) {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

const env = () => ({ ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) });
const inputs = (bucket: string, target: string, extra: Record<string, string> = {}) => ({
  ...bucketInputs(bucket),
  'source-space': 'production',
  'target-space': 'staging',
  'database-url': target,
  ...extra,
});

function failure(run: BundleRun): string {
  return (run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

async function snapshotOf(url: string) {
  return { digests: await tableDigests(url), schema: schemaDump(url) };
}

/** The pid of the step's `pg_restore --jobs` child, once it runs (not the `pg_restore --list` of the verify step). */
async function whenParallelPgRestoreRuns(step: RunningStep): Promise<number> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (step.child.exitCode !== null) throw new Error('the restore ended before pg_restore --jobs started');
    try {
      const pid = execFileSync('pgrep', ['-P', String(step.child.pid), '-f', 'pg_restore.*--jobs='], { encoding: 'utf8' }).trim().split('\n')[0];
      if (pid) return Number(pid);
    } catch {
      // pgrep exits 1 while there is no match yet.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('pg_restore --jobs never started');
}

/** Waits until pg_restore is loading data into the target: a COPY from one of its connections. */
async function whenCopying(step: RunningStep, target: string): Promise<void> {
  const database = new URL(target).pathname.slice(1);
  const admin = new URL(target);
  admin.pathname = '/postgres';
  await withClient(admin.toString(), async (c) => {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (step.child.exitCode !== null) throw new Error('the restore ended before pg_restore --jobs started a COPY');
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lifeboat-restore' AND query ILIKE 'COPY %'`,
        [database],
      );
      if (rows[0].n > 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('pg_restore --jobs never started a COPY');
  });
}

function descendants(pid: number): number[] {
  try {
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    return children.flatMap((child) => [child, ...descendants(child)]);
  } catch {
    return [];
  }
}

async function sourceBackup(bucket: string): Promise<string> {
  const source = await createDatabase('production');
  await createSampleApp(source, 12);
  // Enough rows that pg_restore --jobs is still copying when the test acts, however fast the machine.
  await withClient(source, (c) => c.query(`CREATE TABLE app.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body FROM generate_series(1, 600000) g`));
  await runBackup(
    { space: 'production', trigger: 'nightly', databaseUrl: source, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 },
    memoryLogger(),
  );
  return source;
}

async function targetWithItsOwnData(baseUrl?: string): Promise<string> {
  const target = await createDatabase('staging', baseUrl);
  await createSampleApp(target, 2);
  await withClient(target, (c) => c.query(`CREATE SCHEMA scratch; CREATE TABLE scratch.notes (body text); INSERT INTO scratch.notes VALUES ('only in staging')`));
  return target;
}

async function journalIn(bucket: string): Promise<{ preRestoreBackupId: string; target: string } | undefined> {
  if (!(await listKeys(bucket, JOURNAL_KEY)).length) return undefined;
  return JSON.parse((await getObjectBytes(bucket, JOURNAL_KEY)).toString('utf8'));
}

/**
 * The next restore finds the journal and puts the target back first. It asks for a backup id that does not
 * exist, so it is refused right after the put-back: what it leaves is the put-back alone.
 */
async function nextRunPutsBack(bucket: string, target: string, preRestoreBackupId: string, before: Awaited<ReturnType<typeof snapshotOf>>) {
  const missing = formatBackupId(new Date('2020-01-02T03:04:05Z'), 'nightly', 'abcd');
  const next = await runActionBundle('restore', inputs(bucket, target, { ...PARALLEL, 'backup-id': missing }), env());
  expect(next.code).toBe(1);
  expect(next.stdout).toMatch(new RegExp(`::warning::A parallel restore of \\S+ into 'staging' .* did not finish: the target may be half-restored\\. Putting it back to the pre-restore backup ${preRestoreBackupId}`));
  expect(next.stdout).toContain(`The target is back to the pre-restore backup ${preRestoreBackupId}`);
  expect(failure(next)).toMatch(/Backup .* does not exist in space 'production'/);
  expect(await snapshotOf(target)).toEqual(before);
  expect(await journalIn(bucket)).toBeUndefined();
}

describe('a parallel restore that is interrupted is put back by the next run', () => {
  it('SIGKILL of the restore process during pg_restore --jobs: the next run puts the target back byte for byte, then proceeds', async () => {
    const bucket = await createBucket();
    const source = await sourceBackup(bucket);
    const target = await targetWithItsOwnData();
    const before = await snapshotOf(target);

    const step = startStep('restore', inputs(bucket, target, PARALLEL), { env: env() });
    const pgRestore = await whenParallelPgRestoreRuns(step);
    await whenCopying(step, target);
    // The runner kills the whole job: the step and its children, with no chance to clean up.
    const tree = [step.child.pid!, pgRestore, ...descendants(pgRestore)];
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const killed = await step.done;
    expect(killed.code).toBeNull();
    // The server notices the dropped connections and rolls back their open transactions.
    await withClient(postgresInfo().url, async (c) => {
      for (let i = 0; i < 100; i++) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [new URL(target).pathname.slice(1)]);
        if (rows[0].n === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('connections to the target did not go away');
    });
    const journal = await journalIn(bucket);
    expect(journal?.preRestoreBackupId).toMatch(/-pre-restore-/);
    expect(journal?.target).toBe(new URL(target).host + new URL(target).pathname);
    const halfRestored = await snapshotOf(target);
    expect(halfRestored).not.toEqual(before); // wiped and half-restored

    // Meanwhile a backup of the space is refused: it would save the half-restored database as a good backup.
    const nightly = await runActionBundle('backup', { ...bucketInputs(bucket), space: 'staging', trigger: 'nightly', 'database-url': target }, awsEnv());
    expect(nightly.code).toBe(1);
    expect(failure(nightly)).toMatch(/A parallel restore into 'staging' .* did not finish, so its database may be half-restored; no backup was taken/);
    expect((await listKeys(bucket, 'backups/staging/')).map((k) => k.key).filter((k) => k.includes('-nightly-'))).toEqual([]);
    // A restore pointed at another database does not apply the put-back there: it refuses with the command.
    const elsewhere = await runActionBundle('restore', inputs(bucket, await createDatabase('other'), PARALLEL), env());
    expect(failure(elsewhere)).toMatch(
      new RegExp(`did not finish, and its target may be half-restored; this run's 'database-url' is .*a different database[\\s\\S]*backup-id: ${journal!.preRestoreBackupId}`),
    );
    expect(await snapshotOf(target)).toEqual(halfRestored);
    // Prune keeps the pre-restore backup the put-back needs, even when its rules would delete it: here a
    // newer pre-restore backup of staging makes keep-last 1 drop the one the journal names.
    const other = await createDatabase('other');
    await runBackup(
      { space: 'staging', trigger: 'pre-restore', databaseUrl: other, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 },
      memoryLogger(),
    );
    const workspace = mkdtempSync(join(tmpdir(), 'ws-'));
    mkdirSync(join(workspace, '.github'));
    writeFileSync(join(workspace, '.github', 'lifeboat.yml'), 'retention:\n  - { space: staging, trigger: pre-restore, keep-last: 1 }\n');
    const prune = await runActionBundle('prune', bucketInputs(bucket), { ...awsEnv(), GITHUB_WORKSPACE: workspace });
    expect(prune.code, prune.stdout).toBe(0);
    expect(prune.stdout).toContain(`::warning::Keeping ${journal!.preRestoreBackupId} of 'staging' although the rules would delete it`);
    expect((await listKeys(bucket, `backups/staging/${journal!.preRestoreBackupId}/`)).map((k) => k.key)).toContain(`backups/staging/${journal!.preRestoreBackupId}/manifest.json`);

    await nextRunPutsBack(bucket, target, journal!.preRestoreBackupId, before);

    // And with nothing pending, a restore runs as usual.
    const after = await runActionBundle('restore', inputs(bucket, target, PARALLEL), env());
    expect(failure(after)).toBe('');
    expect(after.stdout).not.toMatch(/did not finish/);
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
    expect(await journalIn(bucket)).toBeUndefined();
  });

  describe('on a dedicated cluster', () => {
    let cluster: PostgresCluster | undefined;
    afterAll(async () => {
      await cluster?.stop();
    });

    it('a server crash during pg_restore --jobs, then a restart: the next run puts the target back as it was', async () => {
      cluster = await startPostgresCluster();
      const bucket = await createBucket();
      await sourceBackup(bucket);
      const target = await targetWithItsOwnData(cluster.url);
      const before = await snapshotOf(target);

      const step = startStep('restore', inputs(bucket, target, PARALLEL), { env: env() });
      await whenParallelPgRestoreRuns(step);
      await whenCopying(step, target);
      await cluster.crash();
      const failed = await step.done;
      expect(failed.code).toBe(1);
      // The automatic put-back cannot run with the server down; the journal stays for the next run.
      expect(failure(failed)).toMatch(/rolling back to the pre-restore backup \S+ failed too [\s\S]*the restore journal stays, so the next restore into 'staging' completes the put-back before anything else/);
      const journal = await journalIn(bucket);
      expect(journal?.preRestoreBackupId).toMatch(/-pre-restore-/);

      await cluster.restart();
      expect(await snapshotOf(target)).not.toEqual(before);
      await nextRunPutsBack(bucket, target, journal!.preRestoreBackupId, before);
    });
  });

  it('a successful parallel restore and a rolled-back one both leave no journal', async () => {
    const bucket = await createBucket();
    await sourceBackup(bucket);
    const target = await targetWithItsOwnData();
    const ok = await runActionBundle('restore', inputs(bucket, target, PARALLEL), env());
    expect(failure(ok)).toBe('');
    expect(await journalIn(bucket)).toBeUndefined();

    // A restore that fails its row-count check is rolled back to its pre-restore backup, and says so.
    const [manifestKey] = (await listKeys(bucket, 'backups/production/')).map((k) => k.key).filter((k) => k.endsWith('/manifest.json'));
    const manifest = JSON.parse((await getObjectBytes(bucket, manifestKey!)).toString('utf8'));
    manifest.database.tables[0].rows += 1;
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey!, Body: JSON.stringify(manifest) }));
    const rolledBack = await runActionBundle('restore', inputs(bucket, target, PARALLEL), env());
    expect(failure(rolledBack)).toMatch(/The target was rolled back to the pre-restore backup \S+, taken just before the restore: it is as it was/);
    expect((await listKeys(bucket, 'restore-journal/')).length).toBe(0);
  });
});
