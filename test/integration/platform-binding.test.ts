/**
 * binding: cloudfoundry for everything an operation touches but the tunnel: the database from a
 * service key on its aws-rds instance, the backup and media buckets from keys on their s3 instances,
 * across two spaces (production, staging) with the backup bucket's instance shared into staging.
 *
 * The shipped bundles run as the runner runs them (main, then post with the state main left),
 * against the CF API double, a real PostgreSQL standing in for RDS (SSL on, a login role per key,
 * key roles refused without SSL) and the real S3 server. No database-url, no bucket name, no aws-*.
 */
import { zstdDecompressSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import type { BindingState } from '../../src/engine/platform/lifecycle.js';
import { runMainStep, runPostStep, startStep, type StepRun } from '../support/action-steps.js';
import { s3BrokerInstance, startCloudFoundryDouble, type CloudFoundryDouble } from '../support/cloud-foundry-double.js';
import { tableDigests } from '../support/compare.js';
import { startRdsDouble, type RdsDatabase, type RdsDouble } from '../support/rds-double.js';
import { createBucket, getObjectBytes, listKeys, ROOT, s3Client, s3Info, visibleOutput } from '../support/harness.js';

const USERNAME = '7d1c9a40-5e2b-4f6d-8c31-service-acct';
const PASSWORD = 'Pw-' + 'Qz8Lm3Rt6Vx1Nb4K';
const GITHUB = { GITHUB_REPOSITORY: 'gsa-tts/fac', GITHUB_RUN_ID: '77', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: 'abc123', GITHUB_WORKSPACE: ROOT + '/test' };
const SCHEDULED = { ...GITHUB, GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' };
const STATE = 'lifeboat-binding';

let rds: RdsDouble;
beforeAll(async () => {
  rds = await startRdsDouble();
}, 60_000);
afterAll(async () => {
  await rds?.stop();
});

let cf: CloudFoundryDouble;
let backups: string;
let productionMedia: string;
let stagingMedia: string;
let productionDb: RdsDatabase;
let stagingDb: RdsDatabase;
/** Every step run in a test, for the secret scan. */
let runs: StepRun[];

const s3Instance = (name: string, bucket: string, space: string, sharedWith?: string[]) => s3BrokerInstance(s3Info(), name, bucket, { space, sharedWith });

beforeEach(async () => {
  runs = [];
  [backups, productionMedia, stagingMedia] = await Promise.all([createBucket('cg-backups'), createBucket('cg-media-prod'), createBucket('cg-media-stg')]);
  [productionDb, stagingDb] = await Promise.all([rds.createDatabase('fac_prod'), rds.createDatabase('fac_stg')]);
  cf = await startCloudFoundryDouble({
    username: USERNAME,
    password: PASSWORD,
    org: 'gsa-tts-oros-fac',
    space: 'production',
    spaces: ['staging'],
    instances: [
      // The backups instance lives in production and is shared into staging (cf share-service).
      s3Instance('backups', backups, 'production', ['staging']),
      rds.instance('fac-db', productionDb, { space: 'production' }),
      s3Instance('fac-public-s3', productionMedia, 'production'),
      rds.instance('fac-db', stagingDb, { space: 'staging' }),
      s3Instance('fac-public-s3', stagingMedia, 'staging'),
    ],
  });
});

afterEach(async () => {
  await cf.close();
});

function cfInputs(space: 'production' | 'staging'): Record<string, string> {
  return {
    binding: 'cloudfoundry',
    'cf-api': cf.api,
    'cf-username': USERNAME,
    'cf-password': PASSWORD,
    'cf-org': 'gsa-tts-oros-fac',
    'cf-space': space,
    'cf-service-instance': 'backups',
  };
}

const platform = (space: 'production' | 'staging') => ({ ...cfInputs(space), 'cf-database-instance': 'fac-db', 'cf-media-instance': 'fac-public-s3' });

async function run(bundle: string, inputs: Record<string, string>, env: Record<string, string> = GITHUB): Promise<StepRun> {
  const main = await runMainStep(bundle, inputs, env);
  runs.push(main);
  return main;
}

async function post(inputs: Record<string, string>, main: StepRun): Promise<StepRun> {
  const result = await runPostStep(inputs, main.state, GITHUB);
  runs.push(result);
  return result;
}

function state(main: StepRun): BindingState {
  return JSON.parse(main.state[STATE]!) as BindingState;
}

/** No service key left, and no database login made for one. */
async function expectNothingLeft(): Promise<void> {
  expect(cf.live().map((k) => `${k.instanceName}/${k.name}`)).toEqual([]);
  expect(await rds.keyRoles()).toEqual([]);
}

async function putMedia(bucket: string, files: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(files)) await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function bucketContents(bucket: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { key } of await listKeys(bucket)) out[key] = (await getObjectBytes(bucket, key)).toString('utf8');
  return out;
}

/** Every form a secret can leak in: plain, URL-encoded, base64. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])];
}

/**
 * No credential anywhere: every step's output, summary, outputs and state file, and every object in
 * every bucket (dumps decompressed). The public parts of keys (bucket names, endpoints, region, the
 * database's host, port and name) are not credentials.
 */
async function expectNoCredentialAnywhere(): Promise<void> {
  const s3 = s3Info();
  const isPublic = (value: string) =>
    [backups, productionMedia, stagingMedia, productionDb.name, stagingDb.name, s3.region, s3.endpoint, '127.0.0.1', String(rds.port)].includes(value) || value.startsWith('http');
  const secrets = [PASSWORD, USERNAME, ...rds.secrets(), ...cf.issuedSecrets().filter((s) => !isPublic(s))];
  expect(secrets.length).toBeGreaterThan(6);
  const places: [string, string][] = runs.map((r, i) => [`step ${i}`, visibleOutput(r)]);
  for (const bucket of [backups, productionMedia, stagingMedia]) {
    for (const { key } of await listKeys(bucket)) {
      const bytes = await getObjectBytes(bucket, key);
      places.push([`s3://${bucket}/${key}`, (key.endsWith('.zst') ? zstdDecompressSync(bytes) : bytes).toString('latin1')]);
    }
  }
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      for (const [where, text] of places) expect(text.includes(form), `a credential (${form.slice(0, 3)}…) in ${where}`).toBe(false);
    }
  }
}

describe('binding: cloudfoundry, database and media from service keys (bundles, main and post)', () => {
  it('a predeploy backup, the production→staging sync, a list and a prune: every credential made for the step and gone after it', async () => {
    await createSampleApp(productionDb.masterUrl);
    await putMedia(productionMedia, { 'uploads/a.pdf': 'report A', 'uploads/b.xlsx': 'workbook B' });
    await putMedia(stagingMedia, { 'uploads/stale.pdf': 'left from an old sync' });
    await createSampleApp(stagingDb.masterUrl); // staging has data of its own, which the sync replaces

    // 1. Predeploy backup of production: database and media, each through its own key.
    const backup = await run('backup', { space: 'production', trigger: 'predeploy', ...platform('production') });
    expect(backup.code, visibleOutput(backup)).toBe(0);
    const id = backup.outputs['backup-id']!;
    const manifest = JSON.parse(await getObjectBytes(backups, `backups/production/${id}/manifest.json`).then(String)) as { media?: { totals: { objects: number } } };
    expect(manifest.media?.totals.objects).toBe(2);
    expect(cf.created).toHaveLength(3);
    const byInstance = (step: StepRun) => state(step).keys.map((k) => [k.instance, k.purpose, k.instanceGuid, k.state]);
    expect(byInstance(backup)).toEqual([
      ['backups', 'backup bucket', cf.keys[0]!.instanceGuid, 'deleted'],
      ['fac-public-s3', 'media bucket', cf.keys[1]!.instanceGuid, 'deleted'],
      ['fac-db', 'database', cf.keys[2]!.instanceGuid, 'deleted'],
    ]);
    expect(backup.stdout).toMatch(/Database '\w+' at 127\.0\.0\.1:\d+ \(SSL required\), through the service key 'lifeboat-backup-fac-77-1-[0-9a-f]{6}' of 'fac-db' \(database\)/);
    expect(backup.stdout).toContain(`Media bucket '${productionMedia}'`);
    await expectNothingLeft();
    expect((await post(platform('production'), backup)).stdout).toContain('already deleted');

    // 2. The scheduled sync, run in staging: staging's database and media keys, the backups instance shared from production.
    const sync = await run('restore', { 'source-space': 'production', 'target-space': 'staging', ...platform('staging') }, SCHEDULED);
    expect(sync.code, visibleOutput(sync)).toBe(0);
    expect(sync.outputs['backup-id']).toBe(id);
    expect(await tableDigests(stagingDb.masterUrl)).toEqual(await tableDigests(productionDb.masterUrl));
    expect(await bucketContents(stagingMedia)).toEqual(await bucketContents(productionMedia));
    const stagingKeys = cf.keys.slice(3);
    expect(stagingKeys.map((k) => k.instanceName)).toEqual(['backups', 'fac-public-s3', 'fac-db']);
    expect(stagingKeys[0]!.instanceGuid).toBe(cf.keys[0]!.instanceGuid); // production's backups instance, found through staging
    expect(stagingKeys[1]!.instanceGuid).not.toBe(cf.keys[1]!.instanceGuid); // staging's own media and database
    expect(stagingKeys[2]!.instanceGuid).not.toBe(cf.keys[2]!.instanceGuid);
    expect(cf.requests.some((r) => r.path === '/v3/service_instances')).toBe(true);
    await expectNothingLeft();
    await post(platform('staging'), sync);

    // 3. List, with the backup bucket's key alone.
    const list = await run('list', { space: 'production', ...cfInputs('staging') });
    expect(list.code, visibleOutput(list)).toBe(0);
    expect(list.outputs.latest).toBe(id);
    expect(cf.keys.slice(6).map((k) => k.instanceName)).toEqual(['backups']);
    await expectNothingLeft();

    // 4. Prune: binds the backup bucket only, and sweeps stale keys on the database and media instances too.
    const day = 24 * 60 * 60 * 1000;
    const stale = [
      cf.seedKey('fac-db', 'lifeboat-backup-fac-70-1-aaaaaa', { createdAt: new Date(Date.now() - 2 * day) }),
      cf.seedKey('fac-public-s3', 'lifeboat-backup-fac-70-1-bbbbbb', { createdAt: new Date(Date.now() - 2 * day) }),
      cf.seedKey('backups', 'lifeboat-backup-fac-70-1-cccccc', { createdAt: new Date(Date.now() - 2 * day) }),
    ];
    const keysBefore = cf.created.length;
    const prune = await run('prune', { ...cfInputs('production'), 'cf-database-instance': 'fac-db', 'cf-media-instance': 'fac-public-s3' });
    expect(prune.code, visibleOutput(prune)).toBe(0);
    expect(cf.created.slice(keysBefore)).toHaveLength(1); // its own key, on the backups instance
    for (const key of stale) expect(prune.stdout).toContain(key.name);
    expect(cf.deleted).toEqual(expect.arrayContaining(stale.map((k) => k.name)));
    await expectNothingLeft();
    await post(platform('production'), prune);

    await expectNoCredentialAnywhere();
  });

  it('masks each database credential the moment its key is read, before anything else happens', async () => {
    await createSampleApp(productionDb.masterUrl);
    const backup = await run('backup', { space: 'production', trigger: 'nightly', ...platform('production') });
    expect(backup.code, visibleOutput(backup)).toBe(0);
    const lines = backup.stdout.split('\n');
    const created = lines.findIndex((l) => /Created service key '.*' of 'fac-db' \(database\)/.test(l));
    expect(created).toBeGreaterThan(0);
    const key = cf.keys.find((k) => k.instanceName === 'fac-db')!.credentials!;
    for (const field of ['password', 'username', 'uri']) {
      for (const form of forms(String(key[field]))) {
        const masked = lines.indexOf(`::add-mask::${form.replace(/%/g, '%25')}`); // the runner's command escapes '%'
        expect(masked, `${field} masked (${form === key[field] ? 'plain' : 'encoded'})`).toBeGreaterThanOrEqual(0);
        expect(masked, `${field} masked before the key is used`).toBeLessThan(created);
      }
    }
    // Where the database is stays readable: masking "5432" or a short name would shred every log line.
    expect(lines).not.toContain(`::add-mask::${key.port}`);
    expect(lines).not.toContain(`::add-mask::${key.db_name}`);
    await expectNoCredentialAnywhere();
  });

  it('a key whose database login fails says so without printing the key\'s user, and deletes every key', async () => {
    rds.breakNextKey();
    const backup = await run('backup', { space: 'production', ...platform('production') });
    expect(backup.code).toBe(1);
    const error = backup.stdout.split('\n').find((l) => l.startsWith('::error::'))!;
    expect(error).toMatch(/Cannot connect to the database 127\.0\.0\.1:\d+\/fac_prod_\w+ given in 'cf-database-instance'/);
    expect(error).toContain("Check the user '***' and the password in 'cf-database-instance'");
    await expectNothingLeft();
    await expectNoCredentialAnywhere();
  });

  it('post deletes all three keys (backup bucket, media bucket, database) when main was killed while using them', async () => {
    await createSampleApp(productionDb.masterUrl);
    await putMedia(productionMedia, { 'x.txt': 'x' });
    // A lock makes the backup wait once it has every key and is connected: then it is killed.
    const locker = new (await import('pg')).default.Client({ connectionString: productionDb.masterUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      const { rows } = await locker.query<{ t: string }>("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') LIMIT 1");
      await locker.query(`LOCK TABLE ${rows[0]!.t} IN ACCESS EXCLUSIVE MODE`);
      const step = startStep('backup', { space: 'production', ...platform('production') }, { env: GITHUB });
      // pg_dump has started (with every key made and the database connected), and waits on the lock.
      let printed = '';
      step.child.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      const deadline = Date.now() + 60_000;
      while (!printed.includes("Backing up space 'production'")) {
        if (Date.now() > deadline || step.child.exitCode !== null) {
          step.child.kill('SIGKILL');
          throw new Error(`the backup never started its dump: ${visibleOutput(await step.done)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      step.child.kill('SIGKILL');
      const main = await step.done;
      runs.push(main);
      expect(main.code).toBe(null);
      expect(cf.live().map((k) => k.instanceName).sort()).toEqual(['backups', 'fac-db', 'fac-public-s3']);
      expect(state(main).keys.map((k) => [k.purpose, k.state])).toEqual([
        ['backup bucket', 'created'],
        ['media bucket', 'created'],
        ['database', 'created'],
      ]);
      await locker.query('ROLLBACK');

      const cleanup = await post(platform('production'), main);
      expect(visibleOutput(cleanup)).not.toMatch(/::error/);
      expect(cleanup.code).toBe(0);
      for (const key of cf.keys) expect(cleanup.stdout).toContain(`Deleted the service key '${key.name}' of '${key.instanceName}'`);
      await expectNothingLeft();
      await expectNoCredentialAnywhere();
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it('refuses bad inputs before any key is made, naming the inputs', async () => {
    const both = await run('backup', { space: 'production', ...platform('production'), 'database-url': productionDb.masterUrl });
    expect(both.code).toBe(1);
    expect(both.stdout).toContain("::error::lifeboat backup failed: Inputs 'database-url' and 'cf-database-instance' both name the database; give only one");

    const unbound = await run('restore', { 'source-space': 'production', 'target-space': 'staging', 'cf-database-instance': 'fac-db', 'backup-bucket': backups }, SCHEDULED);
    expect(unbound.code).toBe(1);
    expect(unbound.stdout).toContain("Input 'cf-database-instance' is set but 'binding' is 'none'");

    const neither = await run('restore', { 'source-space': 'production', 'target-space': 'staging', ...cfInputs('staging') }, SCHEDULED);
    expect(neither.code).toBe(1);
    expect(neither.stdout).toMatch(/'database-url' is required but was not given: it is the TARGET database.* give 'cf-database-instance' instead/);

    const tunnelAlone = await run('backup', { space: 'production', ...cfInputs('production'), 'cf-tunnel-app': 'fac-app', 'database-url': productionDb.masterUrl });
    expect(tunnelAlone.code).toBe(1);
    expect(tunnelAlone.stdout).toContain("Input 'cf-tunnel-app' opens a tunnel to the database of 'cf-database-instance', which is not given");

    const missing = await run('backup', { space: 'production', ...platform('production'), 'cf-media-instance': 'no-such-media' });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("No service instance named 'no-such-media' in org 'gsa-tts-oros-fac', space 'production'");
    expect(missing.stdout).toContain("Check 'cf-media-instance'");

    expect(cf.created).toHaveLength(1); // only the backup bucket's key of the last run, deleted again
    await expectNothingLeft();
  });
});
