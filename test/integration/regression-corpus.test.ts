/**
 * A corpus nobody on the project wrote (issue 17): PostgreSQL's own regression database, the one
 * pg_dump and pg_upgrade are themselves tested on, built on the test cluster from the installed
 * server's source package (scripts/regression-corpus.sh prepares it; .ci/run runs that script).
 *
 * Its backup, taken by the backup bundle, is restored by the restore bundle into a target full of
 * leftovers (a publication, a foreign server with a user mapping, default privileges granting to
 * PUBLIC, a large object, an extra table), three times in a row, on both restore paths. Each time the
 * target is compared with the source by every pg_dump --schema-only entry (with privileges) and a
 * digest of every table's rows and of the large objects. Every difference must be one that plain
 * `pg_dump -Fc | pg_restore --no-owner --no-privileges` into a fresh database has too; those are
 * listed, with their reasons, in docs/restore.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  describeDifferences,
  differences,
  differencesNotIn,
  snapshotDatabase,
  type DatabaseSnapshot,
  type Difference,
} from '../support/database-snapshot.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, postgresInfo, runActionBundle, withClient, type BundleRun } from '../support/harness.js';
import { regressionDatabase, type RegressionDatabase } from '../support/regression-corpus.js';

const MINUTE = 60_000;

let corpus: RegressionDatabase;
let bucket: string;
let backupId: string;
let source: DatabaseSnapshot;
/** How plain pg_dump | pg_restore into a fresh database differs from the source. */
let baseline: Difference[];
let baselineErrors: string;
const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));

function log(line: string) {
  process.stdout.write(`[regression corpus] ${line}\n`);
}

async function timed<T>(what: string, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await body();
  log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** pg_dump -Fc | pg_restore --no-owner --no-privileges into a fresh database: what Lifeboat is measured against. */
async function plainDumpAndRestore(from: string): Promise<{ url: string; stderr: string }> {
  const url = await createDatabase('baseline');
  const { binDir } = postgresInfo();
  const dump = spawn(join(binDir, 'pg_dump'), ['--format=custom', `--dbname=${from}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const restore = spawn(join(binDir, 'pg_restore'), ['--no-owner', '--no-privileges', `--dbname=${url}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  dump.stdout.pipe(restore.stdin);
  let stderr = '';
  dump.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  restore.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [dumpCode] = await Promise.all([
    new Promise((r) => dump.on('close', r)),
    new Promise((r) => restore.on('close', r)),
  ]);
  if (dumpCode !== 0) throw new Error(`pg_dump failed: ${stderr}`);
  return { url, stderr };
}

/** The leftovers a target of the daily sync or of a recovery can hold, none of them in the backup. */
async function targetWithLeftovers(): Promise<string> {
  const url = await createDatabase('target');
  await withClient(url, async (c) => {
    await c.query(`CREATE TABLE public.leftover_table (id int PRIMARY KEY, note text)`);
    await c.query(`INSERT INTO public.leftover_table VALUES (1, 'only in the target')`);
    await c.query(`CREATE PUBLICATION leftover_publication FOR ALL TABLES`);
    await c.query(`CREATE FOREIGN DATA WRAPPER leftover_wrapper`);
    await c.query(`CREATE SERVER leftover_server FOREIGN DATA WRAPPER leftover_wrapper OPTIONS (host 'elsewhere.invalid')`);
    await c.query(`CREATE USER MAPPING FOR CURRENT_USER SERVER leftover_server OPTIONS (user 'someone')`);
    await c.query(`ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC`);
    await c.query(`SELECT lo_from_bytea(0, 'a large object only in the target')`);
    // The regression database leaves large object 2121 behind for pg_dump tests: the target's own 2121 differs.
    await c.query(`SELECT lo_from_bytea(2121, 'the target''s own large object 2121')`);
  });
  return url;
}

function restoreStep(target: string, extra: Record<string, string>): Promise<BundleRun> {
  return runActionBundle(
    'restore',
    { ...bucketInputs(bucket), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'backup-id': backupId, ...extra },
    {
      ...awsEnv(),
      GITHUB_EVENT_NAME: 'schedule',
      GITHUB_ACTOR: 'github-actions[bot]',
      GITHUB_WORKSPACE: workspace,
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_RUN_ID: '17',
    },
  );
}

/** The one-line error the step failed with (from the ::error:: command). */
function failure(run: BundleRun): string {
  const line = run.stdout.split('\n').find((l) => l.startsWith('::error::'));
  return (line ?? '').replace(/%0A/g, '\n').replace(/%25/g, '%').replace(/%0D/g, '');
}

beforeAll(async () => {
  corpus = await timed('regression database (pg_regress, parallel_schedule)', () => regressionDatabase(log));
  if (corpus.failedTests.length > 0) log(`regression tests that failed while building (ignored): ${corpus.failedTests.join(', ')}`);
  const size = await withClient(corpus.url, (c) => c.query<{ size: string }>(`SELECT pg_size_pretty(pg_database_size(current_database())) AS size`));
  log(`${corpus.database} from ${corpus.source}: ${size.rows[0]!.size}`);
  source = await timed('source snapshot (schema entries and digests)', () => snapshotDatabase(corpus.url));
  log(`source: ${Object.keys(source.schema).length} schema entries, ${Object.keys(source.data).length} relations digested`);
  // What lives outside any schema: a wipe that drops schemas does not reach these.
  const outside = new Map<string, number>();
  for (const key of Object.keys(source.schema)) {
    const [type, , schema] = key.split('; ');
    if (schema?.startsWith('-')) outside.set(type!, (outside.get(type!) ?? 0) + 1);
  }
  log(`source entries outside any schema: ${[...outside].map(([type, n]) => `${n} × ${type}`).join(', ')}`);

  bucket = await createBucket('corpus');
  const backup = await timed('backup bundle', () =>
    runActionBundle('backup', { space: 'production', trigger: 'nightly', 'database-url': corpus.url, ...bucketInputs(bucket) }, awsEnv()),
  );
  if (backup.code !== 0) throw new Error(`The backup of the regression database failed:\n${failure(backup) || backup.stdout + backup.stderr}`);
  backupId = backup.outputs['backup-id']!;

  const plain = await timed('baseline: pg_dump -Fc | pg_restore --no-owner --no-privileges', () => plainDumpAndRestore(corpus.url));
  baselineErrors = plain.stderr;
  baseline = differences(source, await snapshotDatabase(plain.url));
  log(`baseline: pg_restore said:\n${baselineErrors || '(nothing)'}`);
  log(`baseline: ${baseline.length} differences from the source:\n${describeDifferences(baseline, 100)}`);
}, 30 * MINUTE);

describe('PostgreSQL regression database: backup, then restore into a target with leftovers', () => {
  it('the corpus is the real regression database, and plain pg_dump | pg_restore reproduces it but for known differences', () => {
    // Hundreds of tables and their data, thousands of schema entries, large objects: not a toy.
    expect(Object.keys(source.data).length).toBeGreaterThan(300);
    expect(Object.keys(source.schema).length).toBeGreaterThan(1500);
    expect(source.data['large objects']).toMatch(/^[1-9]\d*:/);
    // The baseline is the yardstick: if it lost most of the database, the comparison would prove nothing.
    expect(baseline.length).toBeLessThan(Object.keys(source.schema).length / 10);
  });

  it.each([
    ['transactional (one transaction)', {}],
    ['parallel (pg_restore --jobs=2)', { jobs: '2', 'parallel-threshold-mb': '0' }],
  ] as const)('%s: into an empty database, the restore has no difference that plain pg_dump | pg_restore does not have', async (path, extra) => {
    const target = await createDatabase('empty_target');
    const run = await timed(`${path}: restore into an empty database`, () => restoreStep(target, extra));
    expect(failure(run)).toBe('');
    expect(run.code).toBe(0);
    const unexpected = differencesNotIn(differences(source, await snapshotDatabase(target)), baseline);
    expect(unexpected, describeDifferences(unexpected)).toEqual([]);
  }, 10 * MINUTE);

  it.each([
    ['transactional (one transaction)', {}],
    ['parallel (pg_restore --jobs=2)', { jobs: '2', 'parallel-threshold-mb': '0' }],
  ] as const)(
    '%s: three restores in a row each give the same result, with no difference that plain pg_dump | pg_restore does not have',
    async (path, extra) => {
      const target = await targetWithLeftovers();
      const outcomes: string[] = [];
      let first: DatabaseSnapshot | undefined;
      for (let round = 1; round <= 3; round++) {
        const before = await snapshotDatabase(target);
        const run = await timed(`${path}: restore ${round}`, () => restoreStep(target, extra));
        if (run.code !== 0) {
          outcomes.push(`restore ${round} failed (exit ${run.code}): ${failure(run) || run.stderr.slice(-2000)}`);
          // Whatever the cause, a failed restore must leave the target as it was.
          const changed = differences(before, await snapshotDatabase(target));
          if (changed.length > 0) {
            outcomes.push(`restore ${round} failed AND changed the target (${changed.length} differences from before it):\n${describeDifferences(changed)}`);
          }
          continue;
        }
        const restored = await snapshotDatabase(target);
        const unexpected = differencesNotIn(differences(source, restored), baseline);
        if (unexpected.length > 0) {
          outcomes.push(
            `restore ${round}: ${unexpected.length} difference(s) from the source that plain pg_dump | pg_restore does not have:\n` +
              describeDifferences(unexpected),
          );
        }
        if (!first) first = restored;
        else {
          const drift = differences(first, restored);
          if (drift.length > 0) outcomes.push(`restore ${round} differs from restore 1:\n${describeDifferences(drift)}`);
        }
      }
      for (const outcome of outcomes) log(`${path}: ${outcome}`);
      expect(outcomes, outcomes.join('\n\n')).toEqual([]);
    },
    30 * MINUTE,
  );
});
