/**
 * The drill action through its bundle: the latest production backup restored into a scratch database
 * by a role that has only CREATEDB, assertions that pass and fail, the RTO reported, no scratch database
 * left behind (even when a drill is killed midway), production and staging unchanged by digest.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import type { Manifest } from '../../src/domain/manifest.js';
import { bucketSettings } from '../support/restore-steps.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { mediaObjectsOf } from '../support/media-index.js';
import { dataDigests } from '../support/database-snapshot.js';
import {
  awsEnv,
  bucketInputs,
  createBucket,
  createDatabase,
  dbUrl,
  getObjectBytes,
  postgresInfo,
  runActionBundle,
  runCli,
  s3Client,
  s3Info,
  startStep,
  uniqueName,
  visibleOutput,
  withClient,
} from '../support/harness.js';

/** Databases a drill made that still exist on the test server. */
/** The drill role's connection (a role with CREATEDB only), made before the tests. */
let drillUrl: string;

/** Scratch databases of this file's drill role: other test files drill on the same server at the same time. */
async function scratchDatabases(): Promise<string[]> {
  const role = new URL(drillUrl).username;
  return withClient(postgresInfo().url, async (c) =>
    (
      await c.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_drill\\_%' AND pg_get_userbyid(datdba) = $1 ORDER BY 1",
        [role],
      )
    ).rows.map((r) => r.datname),
  );
}

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const PASSING = "-- name: recent audit\nSELECT max(at) > now() - interval '2 days' FROM audit;\nSELECT count(*) = 500 FROM audit;\n";
const FAILING = "-- name: an audit from the future\nSELECT max(at) > now() + interval '1 day' FROM audit;\n";

describe('drill', () => {
  let production: string;
  let staging: string;
  let bucket: string;
  let media: string;
  let manifest: Manifest;
  /** A role with CREATEDB and nothing else: what the drill needs, on the server of 'database-url'. */

  beforeAll(async () => {
    production = await createDatabase('production');
    staging = await createDatabase('staging');
    for (const [url, rows] of [[production, 500], [staging, 20]] as const) {
      await withClient(url, async (c) => {
        await c.query('CREATE TABLE audit (id serial PRIMARY KEY, at timestamptz NOT NULL, note text)');
        await c.query(`INSERT INTO audit (at, note) SELECT now() - g * interval '1 minute', 'note ' || g FROM generate_series(1, ${rows}) g`);
      });
    }
    bucket = await createBucket('drill');
    media = await createBucket('drill-media');
    for (const [key, body] of [['a.txt', 'alpha'], ['b/c.bin', 'x'.repeat(5000)], ['d.txt', 'delta']]) {
      await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: body }));
    }
    const result = await runBackup(
      { space: 'production', trigger: 'nightly', databaseUrl: production, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000, media: { source: bucketSettings(media) } },
      memoryLogger(),
    );
    manifest = result.manifest;
    const role = uniqueName('driller').replace(/-/g, '_');
    await withClient(postgresInfo().url, (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD 'drill-pass-123'`));
    const url = new URL(postgresInfo().url);
    url.username = role;
    url.password = 'drill-pass-123';
    url.pathname = '/postgres';
    drillUrl = url.toString();
  });

  const inputs = (extra: Record<string, string> = {}) => ({ space: 'production', 'database-url': drillUrl, ...bucketInputs(bucket), ...extra });

  it('restores the latest production backup into a scratch database, runs assertions, reports the RTO, and leaves nothing behind', async () => {
    const before = { production: await dataDigests(production), staging: await dataDigests(staging) };

    const passing = await runActionBundle('drill', inputs({ assertions: PASSING, 'media-sample': 'all' }), awsEnv());
    expect(passing.code, passing.stdout).toBe(0);
    expect(passing.outputs['backup-id']).toBe(manifest.id);
    expect(passing.outputs.status).toBe('ok');
    expect(Number(passing.outputs['rto-seconds'])).toBeGreaterThan(0);
    expect(JSON.parse(passing.outputs.assertions!)).toEqual([
      { name: 'recent audit', line: 2, ok: true },
      { name: 'SELECT count(*) = 500 FROM audit', line: 3, ok: true },
    ]);
    expect(passing.summary).toMatch(/^## ✅ Lifeboat drill of production: the backup restores\n\n\*\*RTO \d+\.\d s\*\* to restore /);
    expect(passing.summary).toContain('Row counts of 1 table match the backup.');
    expect(passing.summary).toContain("Media: 3 of 3 objects' content read and hashed");
    expect(passing.summary).toContain('Scratch database dropped: yes.');
    expect(passing.stdout).toMatch(/Created the scratch database lifeboat_drill_\d{8}t\d{6}_[0-9a-f]{8}/);
    expect(visibleOutput(passing)).not.toContain('drill-pass-123');
    expect(await scratchDatabases()).toEqual([]);

    const failing = await runActionBundle('drill', inputs({ assertions: PASSING + FAILING, 'media-sample': '0' }), awsEnv());
    expect(failing.code).toBe(1);
    expect(failing.outputs.status).toBe('failed');
    expect(JSON.parse(failing.outputs.assertions!).map((a: { ok: boolean }) => a.ok)).toEqual([true, true, false]);
    expect(failing.summary).toMatch(/^## ❌ Lifeboat drill of production failed: 1 problem\n/);
    expect(failing.summary).toContain("Assertion 'an audit from the future' (line 5) failed: it returned false.");
    expect(failing.stdout).toContain("::error::lifeboat drill failed: 1 problem: Assertion 'an audit from the future'");
    expect(await scratchDatabases()).toEqual([]);

    // The CLI: an assertion that errors fails the drill too, with its SQLSTATE.
    const cli = await runCli(['drill', '--json', '--space', 'production', '--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint, '--assertions', 'SELECT count(*) FROM no_such_table;'], {
      ...awsEnv(),
      LIFEBOAT_DATABASE_URL: drillUrl,
    });
    expect(cli.code, cli.stderr).toBe(1);
    expect(JSON.parse(cli.stdout).assertions[0].why).toContain('SQLSTATE 42P01');
    expect(await scratchDatabases()).toEqual([]);

    expect(await dataDigests(production)).toEqual(before.production);
    expect(await dataDigests(staging)).toEqual(before.staging);
  });

  it('the next drill drops the scratch database of a drill killed midway', async () => {
    // An assertion that sleeps keeps the drill alive with its scratch database made and restored.
    const step = startStep('drill', inputs({ assertions: 'SELECT true FROM pg_sleep(30);', 'media-sample': '0' }), { env: awsEnv() });
    await until(async () => (await scratchDatabases()).length === 1 && (await withClient(postgresInfo().url, async (c) => (await c.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")).rowCount! > 0)));
    const [left] = await scratchDatabases();
    step.child.kill('SIGKILL');
    await step.done;
    expect(await scratchDatabases()).toEqual([left]);

    const next = await runActionBundle('drill', inputs({ 'media-sample': '0' }), awsEnv());
    expect(next.code, next.stdout).toBe(0);
    expect(next.stdout).toContain(`Dropped ${left}, left by a drill that was killed before it could drop it.`);
    expect(next.summary).toContain(`Also dropped, left by killed drills: \`${left}\`.`);
    expect(await scratchDatabases()).toEqual([]);
  });

  it('never takes a database that is not empty, and fails on media content that does not match', async () => {
    const before = await dataDigests(staging);
    const name = new URL(staging).pathname.slice(1);
    const refused = await runActionBundle('drill', { ...inputs(), 'database-url': postgresInfo().url, 'drill-database': name }, awsEnv());
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`Input 'drill-database' names`);
    expect(refused.stdout).toContain('which is not empty');
    expect(await dataDigests(staging)).toEqual(before);

    // A given empty database is restored into and emptied again.
    const empty = await createDatabase('empty');
    const emptyDigest = await dataDigests(empty);
    const given = await runActionBundle('drill', { ...inputs({ 'media-sample': '0' }), 'database-url': postgresInfo().url, 'drill-database': new URL(empty).pathname.slice(1) }, awsEnv());
    expect(given.code, given.stdout).toBe(0);
    expect(given.stdout).toContain('Emptied the given database');
    expect(await dataDigests(empty)).toEqual(emptyDigest);

    // One media content object damaged in the backup bucket: drilling all of them finds it.
    const object = (await mediaObjectsOf(manifest, new BackupStore(bucketSettings(bucket)))).find((o) => o.key === 'b/c.bin')!;
    const key = `media/sha256/${object.sha256.slice(0, 2)}/${object.sha256}`;
    const bytes = await getObjectBytes(bucket, key);
    bytes[10]! ^= 0x01;
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const damaged = await runActionBundle('drill', inputs({ 'media-sample': 'all' }), awsEnv());
    expect(damaged.code).toBe(1);
    expect(damaged.summary).toContain("Media object 'b/c.bin': its stored content has 5000 bytes and SHA-256");
    expect(await scratchDatabases()).toEqual([]);
  });

  it("checks every object with 'all' as the index streams: neighbours sharing content are read once, and the problems kept are capped", async () => {
    // 130 objects in 65 pairs: each pair's two keys are neighbours in key order and share their content.
    const manyBucket = await createBucket('drill-many');
    const manyMedia = await createBucket('drill-many-media');
    const pairs = Array.from({ length: 65 }, (_, i) => String(i).padStart(3, '0'));
    for (const p of pairs) for (const side of ['a', 'b']) await s3Client().send(new PutObjectCommand({ Bucket: manyMedia, Key: `pair-${p}/${side}.txt`, Body: `content of pair ${p}` }));
    const backup = await runBackup(
      { space: 'production', trigger: 'nightly', databaseUrl: production, bucket: bucketSettings(manyBucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000, media: { source: bucketSettings(manyMedia) } },
      memoryLogger(),
    );
    const drillMany = (sample: string) => runActionBundle('drill', { ...inputs({ 'media-sample': sample }), ...bucketInputs(manyBucket) }, awsEnv());

    const whole = await drillMany('all');
    expect(whole.code, whole.stdout).toBe(0);
    expect(whole.summary).toContain("Media: 65 of 130 objects' content read and hashed");
    expect(whole.summary).toContain(', all match.');

    // 60 of the 65 contents damaged: each is counted and logged, 50 are kept as text and one line stands for the rest.
    const objects = await mediaObjectsOf(backup.manifest, new BackupStore(bucketSettings(manyBucket)));
    const damagedKeys = [...new Set(objects.filter((o) => Number(o.key.slice(5, 8)) < 60).map((o) => `media/sha256/${o.sha256.slice(0, 2)}/${o.sha256}`))];
    expect(damagedKeys).toHaveLength(60);
    for (const key of damagedKeys) await s3Client().send(new PutObjectCommand({ Bucket: manyBucket, Key: key, Body: 'not what was backed up' }));
    const damaged = await drillMany('all');
    expect(damaged.code).toBe(1);
    expect(damaged.summary).toContain("Media: 65 of 130 objects' content read and hashed");
    expect(damaged.summary).toContain(', 60 do not match.');
    expect(damaged.summary.match(/Media object 'pair-\d{3}\/[ab]\.txt': its stored content has 22 bytes/g)).toHaveLength(50);
    expect(damaged.summary).toContain('…and 10 more media objects that do not match (each is in the log).');
    expect(damaged.stdout.match(/::warning::Media object 'pair-/g)).toHaveLength(60);
    expect(await scratchDatabases()).toEqual([]);
  });

  it('refuses bad input naming it', async () => {
    const noUrl = await runActionBundle('drill', { space: 'production', ...bucketInputs(bucket) }, awsEnv());
    expect(noUrl.stdout).toContain("Input 'database-url' is required but was not given");
    const badSample = await runActionBundle('drill', inputs({ 'media-sample': 'some' }), awsEnv());
    expect(badSample.stdout).toContain("Input 'media-sample' is 'some'; it must be a whole number of objects (0 for none) or 'all'.");
    const unterminated = await runActionBundle('drill', inputs({ assertions: 'SELECT true' }), awsEnv());
    expect(unterminated.stdout).toContain("Input 'assertions': The assertion starting on line 1 does not end with ';'");
    const both = await runActionBundle('drill', inputs({ assertions: 'SELECT true;', 'assertions-file': 'x.sql' }), awsEnv());
    expect(both.stdout).toContain("Inputs 'assertions' and 'assertions-file' are both set");
    for (const run of [noUrl, badSample, unterminated, both]) expect(run.code).toBe(1);
    expect(await scratchDatabases()).toEqual([]);
  });
});
