/**
 * The FAC day on cloud.gov, end to end through the shipped bundles, with every credential and every
 * route to the databases made by Lifeboat (binding: cloudfoundry with cf-tunnel-app):
 *
 *   1. the predeploy backup of production, database and media;
 *   2. the scheduled production→staging sync, run in staging: the backups instance lives in
 *      production and is shared into staging; staging's database is reached through the tunnel app
 *      of staging, and staging's media bucket through its own key;
 *   3. the prune.
 *
 * Each database key names an RDS host that does not resolve on this machine; the SSH proxy double
 * maps that name to the RDS double (a real PostgreSQL, SSL-only for key logins), and only from the
 * app of the database's own space, as a space's security groups allow. So no step can have reached
 * a database but through the tunnel Lifeboat opened.
 *
 * After each step: the process has exited, no service key is left (the CF double's state), no key
 * login role and no database session is left, and the SSH proxy double saw every connection and
 * forwarded channel closed. At the end, no credential (the service account's, the keys', the
 * one-time codes, the tokens) is in any step's output, outputs, summary or state, nor in any object
 * of any bucket, in plain, URL-encoded or base64 form.
 */
import { lookup } from 'node:dns/promises';
import pg from 'pg';
import { zstdDecompressSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BindingState } from '../../src/engine/platform/lifecycle.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { runMainStep, runPostStep, startStep, type StepRun } from '../support/action-steps.js';
import type { DoubleApp } from '../support/cf-app-ssh-routes.js';
import { startSshProxyDouble, type SshProxyDouble } from '../support/cf-ssh-proxy-double.js';
import { s3BrokerInstance, startCloudFoundryDouble, type CloudFoundryDouble, type DoubleInstance } from '../support/cloud-foundry-double.js';
import { tableDigests } from '../support/compare.js';
import { createBucket, getObjectBytes, listKeys, ROOT, s3Client, s3Info, visibleOutput } from '../support/harness.js';
import { startRdsDouble, type RdsDatabase, type RdsDouble } from '../support/rds-double.js';

const USERNAME = '5b2e8d14-7a3f-4c9e-a1d6-service-acct';
const PASSWORD = 'Pw-' + 'Fd4Yh8Mc2Ks6Gt1Z';
const ORG = 'gsa-tts-oros-fac';
const GITHUB = { GITHUB_REPOSITORY: 'gsa-tts/fac', GITHUB_RUN_ID: '120', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: 'abc123', GITHUB_WORKSPACE: ROOT + '/test' };
const SCHEDULED = { ...GITHUB, GITHUB_RUN_ID: '121', GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' };
/** The RDS host names the aws-rds broker gives: resolvable only inside the platform. */
const RDS_HOST = {
  production: 'cg-aws-broker-prodf4c1a9.c9x8y7z6w5v4.us-gov-west-1.rds.amazonaws.com',
  staging: 'cg-aws-broker-prod7b30e2.c9x8y7z6w5v4.us-gov-west-1.rds.amazonaws.com',
};
type Space = keyof typeof RDS_HOST;

let rds: RdsDouble;
beforeAll(async () => {
  rds = await startRdsDouble();
}, 60_000);
afterAll(async () => {
  await rds?.stop();
});

let cf: CloudFoundryDouble;
let proxy: SshProxyDouble;
let apps: Record<Space, DoubleApp>;
let db: Record<Space, RdsDatabase>;
let backups: string;
let media: Record<Space, string>;
let runs: StepRun[];

/** A database key as the aws-rds broker gives it on cloud.gov: the instance's RDS host name and "5432". */
function behindRdsName(instance: DoubleInstance, host: string): DoubleInstance {
  return {
    ...instance,
    async credentials() {
      const real = (await instance.credentials()) as Record<string, string>;
      const uri = new URL(real.uri!);
      uri.hostname = host;
      uri.port = '5432';
      return { ...real, host, port: '5432', uri: uri.toString() };
    },
  };
}

const s3Instance = (name: string, bucket: string, space: Space, sharedWith?: Space[]): DoubleInstance => s3BrokerInstance(s3Info(), name, bucket, { space, sharedWith });

beforeEach(async () => {
  runs = [];
  const [b, mp, ms] = await Promise.all([createBucket('cg-backups'), createBucket('cg-media-prod'), createBucket('cg-media-stg')]);
  backups = b;
  media = { production: mp, staging: ms };
  const [prod, stg] = await Promise.all([rds.createDatabase('fac_prod'), rds.createDatabase('fac_stg')]);
  db = { production: prod, staging: stg };
  cf = await startCloudFoundryDouble({
    username: USERNAME,
    password: PASSWORD,
    org: ORG,
    space: 'production',
    spaces: ['staging'],
    instances: [
      // cf share-service backups -s staging
      s3Instance('backups', backups, 'production', ['staging']),
      behindRdsName(rds.instance('fac-db', prod, { space: 'production' }), RDS_HOST.production),
      s3Instance('fac-public-s3', media.production, 'production'),
      behindRdsName(rds.instance('fac-db', stg, { space: 'staging' }), RDS_HOST.staging),
      s3Instance('fac-public-s3', media.staging, 'staging'),
    ],
  });
  // The same app name in both spaces, as FAC deploys it.
  apps = { production: cf.appSsh.addApp('gsa-fac', { space: 'production' }), staging: cf.appSsh.addApp('gsa-fac', { space: 'staging' }) };
  proxy = await startSshProxyDouble({
    consumeCode: (code) => cf.appSsh.codes.consume(code),
    appGuids: () => cf.appSsh.apps.map((a) => a.guid),
    // Each space's app reaches its own space's database, and nothing else.
    routes: (['production', 'staging'] as const).map((space) => ({ host: RDS_HOST[space], port: 5432, to: { host: '127.0.0.1', port: rds.port }, fromApp: apps[space].guid })),
  });
  cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: proxy.fingerprint('sha256-base64') };
});

afterEach(async () => {
  await proxy?.close();
  await cf?.close();
});

function inputs(space: Space): Record<string, string> {
  return {
    binding: 'cloudfoundry',
    'cf-api': cf.api,
    'cf-username': USERNAME,
    'cf-password': PASSWORD,
    'cf-org': ORG,
    'cf-space': space,
    'cf-service-instance': 'backups',
    'cf-database-instance': 'fac-db',
    'cf-media-instance': 'fac-public-s3',
    'cf-tunnel-app': 'gsa-fac',
  };
}

async function main(bundle: string, given: Record<string, string>, env: Record<string, string>): Promise<StepRun> {
  const step = await runMainStep(bundle, given, env);
  runs.push(step);
  return step;
}

async function post(given: Record<string, string>, step: StepRun): Promise<StepRun> {
  const cleanup = await runPostStep(given, step.state, GITHUB);
  runs.push(cleanup);
  expect(cleanup.code, visibleOutput(cleanup)).toBe(0);
  return cleanup;
}

function state(step: StepRun): BindingState {
  return JSON.parse(step.state['lifeboat-binding']!) as BindingState;
}

/** Sessions on the two databases, but the test's own (as `user@database`). */
async function databaseSessions(): Promise<string[]> {
  return (await rds.sessions([db.production.name, db.staging.name])).map((s) => `${s.user}@${s.database} (${s.application})`);
}

/**
 * After a step has exited: nothing it made is left. Its process is gone (so are its sockets); the
 * proxy double saw every SSH connection and every forwarded channel closed, each channel to the
 * step's own space's RDS name from its own space's app; and every login used a code of its own.
 */
async function expectStepLeftNothing(step: StepRun, space: Space, channelsBefore: number, loginsBefore: number): Promise<void> {
  expect(step.code, visibleOutput(step)).toBe(0);
  expect(cf.live().map((k) => `${k.instanceName}/${k.name}`)).toEqual([]);
  expect(await rds.keyRoles()).toEqual([]);
  await expect.poll(databaseSessions).toEqual([]);
  await expect.poll(() => proxy.openConnections()).toBe(0);
  await expect.poll(() => proxy.openChannels()).toBe(0);
  const channels = proxy.channels.slice(channelsBefore);
  expect(channels.length).toBeGreaterThan(0);
  expect(channels.filter((c) => c.destination !== `${RDS_HOST[space]}:5432` || c.app !== apps[space].guid || !c.accepted || c.open)).toEqual([]);
  const logins = proxy.authAttempts.slice(loginsBefore);
  expect(logins.length).toBeGreaterThan(0);
  expect(logins.every((a) => a.accepted && a.username === `cf:${apps[space].guid}/0`)).toBe(true);
  expect(new Set(logins.map((a) => a.password)).size).toBe(logins.length);
}

async function putMedia(bucket: string, files: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(files)) await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function bucketContents(bucket: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { key } of await listKeys(bucket)) out[key] = (await getObjectBytes(bucket, key)).toString('utf8');
  return out;
}

/** No credential in any step's output, outputs, summary or state, nor in any stored object (dumps decompressed). */
async function expectNoCredentialAnywhere(): Promise<void> {
  const s3 = s3Info();
  const publicValues = new Set([backups, media.production, media.staging, db.production.name, db.staging.name, s3.region, s3.endpoint, '5432', ...Object.values(RDS_HOST)]);
  const secrets = [PASSWORD, USERNAME, ...rds.secrets(), ...cf.issuedSecrets().filter((s) => !publicValues.has(s) && !s.startsWith('http'))];
  // The service account's, at least two keys' logins (user, password, uri), the S3 keys, tokens and one-time codes.
  expect(secrets.length).toBeGreaterThan(12);
  expect(cf.appSsh.codes.issued.every((code) => secrets.includes(code))).toBe(true);
  const places: [string, string][] = runs.map((r, i) => [`step ${i}`, visibleOutput(r)]);
  for (const bucket of [backups, media.production, media.staging]) {
    for (const { key } of await listKeys(bucket)) {
      const bytes = await getObjectBytes(bucket, key);
      places.push([`s3://${bucket}/${key}`, (key.endsWith('.zst') ? zstdDecompressSync(bytes) : bytes).toString('latin1')]);
    }
  }
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      for (const [where, text] of places) expect(text.includes(form), `a credential (${form.slice(0, 3)}…) in ${where}`).toBe(false);
    }
  }
}

describe('the FAC day on cloud.gov, every credential and route made by Lifeboat (bundles, tunnel)', () => {
  it('predeploy backup, production→staging sync and prune: each through its own keys and tunnel, nothing left after any step', async () => {
    // Nothing on this machine could reach a database by its key's host name.
    for (const host of Object.values(RDS_HOST)) await expect(lookup(host)).rejects.toThrow();

    await createSampleApp(db.production.masterUrl);
    await createSampleApp(db.staging.masterUrl); // staging has data of its own, which the sync replaces
    await putMedia(media.production, { 'uploads/a.pdf': 'report A', 'uploads/b.xlsx': 'workbook B' });
    await putMedia(media.staging, { 'uploads/stale.pdf': 'left from an old sync' });

    // 1. The predeploy backup of production, database through production's tunnel app.
    let channels = proxy.channels.length;
    let logins = proxy.authAttempts.length;
    const backup = await main('backup', { space: 'production', trigger: 'predeploy', ...inputs('production') }, GITHUB);
    await expectStepLeftNothing(backup, 'production', channels, logins);
    expect(backup.stdout).toContain(`Opening an SSH tunnel to ${RDS_HOST.production}:5432 through instance 0 of the app 'gsa-fac'`);
    const id = backup.outputs['backup-id']!;
    const manifest = JSON.parse(await getObjectBytes(backups, `backups/production/${id}/manifest.json`).then(String)) as { media?: { totals: { objects: number } } };
    expect(manifest.media?.totals.objects).toBe(2);
    expect(state(backup).keys.map((k) => [k.instance, k.purpose, k.state])).toEqual([
      ['backups', 'backup bucket', 'deleted'],
      ['fac-public-s3', 'media bucket', 'deleted'],
      ['fac-db', 'database', 'deleted'],
    ]);
    expect((await post(inputs('production'), backup)).stdout).toContain('already deleted');

    // 2. The scheduled sync, in staging: pg_restore and psql through staging's tunnel app to staging's RDS name.
    channels = proxy.channels.length;
    logins = proxy.authAttempts.length;
    const keysBefore = cf.keys.length;
    const sync = await main('restore', { 'source-space': 'production', 'target-space': 'staging', ...inputs('staging') }, SCHEDULED);
    await expectStepLeftNothing(sync, 'staging', channels, logins);
    expect(sync.stdout).toContain(`Opening an SSH tunnel to ${RDS_HOST.staging}:5432 through instance 0 of the app 'gsa-fac'`);
    expect(sync.outputs['backup-id']).toBe(id);
    // The summary names the database as people know it (the key's RDS host), not the tunnel's local port.
    expect(sync.summary).toContain(`${RDS_HOST.staging}:5432/`);
    expect(sync.summary).not.toMatch(/127\.0\.0\.1:\d+/);
    expect(await tableDigests(db.staging.masterUrl)).toEqual(await tableDigests(db.production.masterUrl));
    expect(await bucketContents(media.staging)).toEqual(await bucketContents(media.production));
    const syncKeys = cf.keys.slice(keysBefore);
    expect(syncKeys.map((k) => k.instanceName)).toEqual(['backups', 'fac-public-s3', 'fac-db']);
    expect(syncKeys[0]!.instanceGuid).toBe(cf.keys[0]!.instanceGuid); // production's backups instance, shared into staging
    expect(syncKeys[1]!.instanceGuid).not.toBe(cf.keys[1]!.instanceGuid); // staging's own media bucket and database
    expect(syncKeys[2]!.instanceGuid).not.toBe(cf.keys[2]!.instanceGuid);
    await post(inputs('staging'), sync);

    // 3. The prune, in production: the backup bucket's key only; the database and media instances are swept for stale keys.
    const { 'cf-tunnel-app': _unused, ...pruneInputs } = inputs('production');
    const pruneKeysBefore = cf.keys.length;
    const prune = await main('prune', pruneInputs, GITHUB);
    expect(prune.code, visibleOutput(prune)).toBe(0);
    expect(cf.keys.slice(pruneKeysBefore).map((k) => k.instanceName)).toEqual(['backups']);
    expect(cf.live()).toEqual([]);
    expect(await rds.keyRoles()).toEqual([]);
    expect(proxy.openConnections()).toBe(0);
    await post(pruneInputs, prune);

    await expectNoCredentialAnywhere();
  });

  it.each([
    ['one transaction', {}],
    ['parallel', { jobs: '2', 'parallel-threshold-mb': '0' }],
  ] as const)('a sync cancelled mid-restore (%s) cleans up through the same tunnel, then closes it and deletes every key', async (_path, extra) => {
    await createSampleApp(db.production.masterUrl);
    await createSampleApp(db.staging.masterUrl);
    const backup = await main('backup', { space: 'production', ...inputs('production') }, GITHUB);
    expect(backup.code, visibleOutput(backup)).toBe(0);
    const stagingBefore = await tableDigests(db.staging.masterUrl);

    // A lock on one of staging's tables makes the restore's wipe wait, through the tunnel: then the job is cancelled.
    const locker = new pg.Client({ connectionString: db.staging.masterUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE app.submissions IN SHARE MODE');
      const step = startStep('restore', { 'source-space': 'production', 'target-space': 'staging', ...inputs('staging'), ...extra }, { env: SCHEDULED });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const sessions = await rds.sessions([db.staging.name]);
        if (sessions.some((s) => s.application.startsWith('lifeboat') && s.waiting === 'Lock')) break;
        if (Date.now() > deadline || step.child.exitCode !== null) {
          step.child.kill('SIGKILL');
          throw new Error(`the restore never reached the wipe: ${visibleOutput(await step.done)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const channelsAtCancel = proxy.channels.length;
      step.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      await locker.query('ROLLBACK');
      await locker.end();
      const cancelled = await step.done;
      runs.push(cancelled);

      expect(cancelled.code).toBe(1);
      const output = visibleOutput(cancelled);
      expect(output).toMatch(/cancelled \(SIGTERM\)/);
      expect(output).toMatch('jobs' in extra ? /rolled back to the pre-restore backup \S+-pre-restore-\S+, taken just before the restore: it is as it was/ : /rolled back; the target is as it was/);
      expect(await tableDigests(db.staging.masterUrl)).toEqual(stagingBefore);
      // After the signal the restore still reached the database, through the tunnel it had open
      // (to terminate its session and wait for the rollback, or to put the target back).
      const afterCancel = proxy.channels.slice(channelsAtCancel);
      expect(afterCancel.length).toBeGreaterThan(0);
      expect(afterCancel.every((c) => c.accepted && c.app === apps.staging.guid && c.destination === `${RDS_HOST.staging}:5432`)).toBe(true);
      // Then main closed the tunnel and deleted its keys itself: post finds nothing to do.
      expect(cf.live()).toEqual([]);
      expect(await rds.keyRoles()).toEqual([]);
      await expect.poll(databaseSessions).toEqual([]);
      await expect.poll(() => proxy.openConnections()).toBe(0);
      await expect.poll(() => proxy.openChannels()).toBe(0);
      expect((await post(inputs('staging'), cancelled)).stdout).toContain('already deleted');
      await expectNoCredentialAnywhere();
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it('the tunnel dropped mid-restore (parallel path): a clear failure that names the put-back, and main still deletes every key', async () => {
    await createSampleApp(db.production.masterUrl);
    await createSampleApp(db.staging.masterUrl);
    const backup = await main('backup', { space: 'production', ...inputs('production') }, GITHUB);
    expect(backup.code, visibleOutput(backup)).toBe(0);

    const locker = new pg.Client({ connectionString: db.staging.masterUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE app.submissions IN SHARE MODE');
      const step = startStep('restore', { 'source-space': 'production', 'target-space': 'staging', ...inputs('staging'), jobs: '2', 'parallel-threshold-mb': '0' }, { env: SCHEDULED });
      const deadline = Date.now() + 60_000;
      while (!(await rds.sessions([db.staging.name])).some((s) => s.application.startsWith('lifeboat') && s.waiting === 'Lock')) {
        if (Date.now() > deadline || step.child.exitCode !== null) {
          step.child.kill('SIGKILL');
          throw new Error(`the restore never reached the wipe: ${visibleOutput(await step.done)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      // The proxy restarts (or the app's container goes away) while the wipe waits.
      proxy.dropAll();
      await locker.query('ROLLBACK');
      await locker.end();
      const dropped = await step.done;
      runs.push(dropped);

      expect(dropped.code).toBe(1);
      const error = dropped.stdout.split('\n').find((l) => l.startsWith('::error::'));
      expect(error, visibleOutput(dropped)).toBeDefined();
      expect(error).toMatch(/The parallel restore failed .*rolling back to the pre-restore backup \S+ failed too/);
      expect(visibleOutput(dropped)).toMatch(/The SSH tunnel to .* through the app 'gsa-fac' (was closed by the other side|failed)/);
      // Main deleted every key itself; nothing is open.
      expect(cf.live()).toEqual([]);
      expect(await rds.keyRoles()).toEqual([]);
      await expect.poll(databaseSessions).toEqual([]);
      await expect.poll(() => proxy.openConnections()).toBe(0);
      expect((await post(inputs('staging'), dropped)).stdout).toContain('already deleted');
      await expectNoCredentialAnywhere();
    } finally {
      await locker.end().catch(() => undefined);
    }
  });
});
