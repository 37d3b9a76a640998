/**
 * Steps shared by the restore test files: a backup through the engine, a restore through the bundle,
 * targets owned by a non-superuser, and the ways to see that a target did or did not change.
 */
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import type { Compression, Manifest } from '../../src/domain/manifest.js';
import type { Trigger } from '../../src/domain/backup-id.js';
import { fullDump } from './compare.js';
import { awsEnv, bucketInputs, postgresInfo, runActionBundle, s3Info, uniqueName, withClient, type BundleRun } from './harness.js';

export function bucketSettings(bucket: string, endpoint = s3Info().endpoint) {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

export async function backupWithEngine(url: string, bucket: string, space: string, options: { trigger?: Trigger; compression?: Compression } = {}): Promise<Manifest> {
  const result = await runBackup(
    {
      space,
      trigger: options.trigger ?? 'nightly',
      databaseUrl: url,
      bucket: bucketSettings(bucket),
      compression: options.compression ?? 'zstd',
      rowCounts: true,
      progressIntervalMs: 60_000,
    },
    memoryLogger(),
  );
  return result.manifest;
}

/** The restore bundle as a scheduled run (production → staging is automated by the built-in policy). */
export function restoreBundle(inputs: Record<string, string>, bucket: string, env: Record<string, string> = {}): Promise<BundleRun> {
  return runActionBundle(
    'restore',
    { 'source-space': 'production', 'target-space': 'staging', ...bucketInputs(bucket), ...inputs },
    { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '7', ...env },
  );
}

/** The message the step failed with (its ::error:: command), decoded. */
export function failureOf(run: { stdout: string }): string {
  const line = run.stdout.split('\n').find((l) => l.startsWith('::error::'));
  return (line ?? '').replace(/%0A/g, '\n').replace(/%0D/g, '').replace(/%25/g, '%');
}

/** A new database owned by a new non-superuser role; returns the URL that connects as that role. */
export async function createOwnedDatabase(prefix: string): Promise<{ url: string; role: string; password: string }> {
  const role = uniqueName(`${prefix}_owner`).replace(/-/g, '_');
  const database = uniqueName(prefix).replace(/-/g, '_');
  const password = `Pw-${uniqueName('x')}`;
  await withClient(postgresInfo().url, async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    await c.query(`CREATE DATABASE ${database} OWNER ${role}`);
  });
  const url = new URL(postgresInfo().url);
  url.username = role;
  url.password = encodeURIComponent(password);
  url.pathname = '/' + database;
  return { url: url.toString(), role, password };
}

/** The same database seen by the superuser (for full dumps of everything, whoever owns it). */
export function asSuperuser(url: string): string {
  const admin = new URL(postgresInfo().url);
  admin.pathname = new URL(url).pathname;
  return admin.toString();
}

/** Waits until no session of the restore (application_name lifeboat-restore) is left on the database. */
export async function waitForNoRestoreSessions(url: string, timeoutMs = 20_000): Promise<void> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await withClient(postgresInfo().url, (c) =>
      c.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'lifeboat%'`, [database]),
    );
    if (rows.length === 0) return;
    if (Date.now() > deadline) throw new Error(`restore sessions still open on ${database}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The full dump of a database, taken as the superuser so nothing is hidden from it. */
export function everything(url: string): string {
  return fullDump(asSuperuser(url));
}
