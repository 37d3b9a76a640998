/**
 * binding: cloudfoundry with `cf-tunnel-app`, through the shipped bundles: the database key names an
 * RDS host that does not resolve on this machine, and the only way to it is the tunnel through the
 * app (the SSH proxy double maps that name to the RDS double's real address).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BindingState } from '../../src/engine/platform/lifecycle.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { runMainStep, runPostStep, startStep, type StepRun } from '../support/action-steps.js';
import type { DoubleApp } from '../support/cf-app-ssh-routes.js';
import { startSshProxyDouble, type SshProxyDouble } from '../support/cf-ssh-proxy-double.js';
import { startCloudFoundryDouble, type CloudFoundryDouble, type DoubleInstance } from '../support/cloud-foundry-double.js';
import { createBucket, s3Info, visibleOutput } from '../support/harness.js';
import { startRdsDouble, type RdsDatabase, type RdsDouble } from '../support/rds-double.js';

const USERNAME = '3e9f1b72-0c4d-4a8e-b6f5-service-acct';
const PASSWORD = 'Pw-' + 'Tn7Rk2Wd5Hs9Jq3L';
const GITHUB = { GITHUB_REPOSITORY: 'gsa-tts/fac', GITHUB_RUN_ID: '91', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: 'abc123' };
const RDS_HOST = 'cg-aws-broker-prodabc123.c9x8y7z6w5v4.us-gov-west-1.rds.amazonaws.com';

let rds: RdsDouble;
beforeAll(async () => {
  rds = await startRdsDouble();
}, 60_000);
afterAll(async () => {
  await rds?.stop();
});

let cf: CloudFoundryDouble;
let proxy: SshProxyDouble;
let app: DoubleApp;
let db: RdsDatabase;
let runs: StepRun[];

/** The RDS double's key, as the aws-rds broker gives it on cloud.gov: the instance's RDS host name and 5432. */
function behindRdsName(instance: DoubleInstance): DoubleInstance {
  return {
    ...instance,
    async credentials() {
      const real = (await instance.credentials()) as Record<string, string>;
      const uri = new URL(real.uri!);
      uri.hostname = RDS_HOST;
      uri.port = '5432';
      return { ...real, host: RDS_HOST, port: '5432', uri: uri.toString() };
    },
  };
}

beforeEach(async () => {
  runs = [];
  const s3 = s3Info();
  const [backups, media] = await Promise.all([createBucket('cg-backups'), createBucket('cg-media')]);
  db = await rds.createDatabase('fac_tunnel');
  const bucket = (name: string, bucketName: string) => ({
    name,
    credentials: () => ({ access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, region: s3.region, bucket: bucketName, endpoint: s3.endpoint, fips_endpoint: s3.endpoint, uri: `s3://${s3.accessKeyId}:${s3.secretAccessKey}@${new URL(s3.endpoint).host}/${bucketName}` }),
  });
  cf = await startCloudFoundryDouble({
    username: USERNAME,
    password: PASSWORD,
    org: 'gsa-tts-oros-fac',
    space: 'production',
    instances: [bucket('backups', backups), bucket('fac-public-s3', media), behindRdsName(rds.instance('fac-db', db))],
  });
  app = cf.appSsh.addApp('fac-app');
  proxy = await startSshProxyDouble({
    consumeCode: (code) => cf.appSsh.codes.consume(code),
    appGuids: () => [app.guid],
    routes: [{ host: RDS_HOST, port: 5432, to: { host: '127.0.0.1', port: rds.port } }],
  });
  cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: proxy.fingerprint('sha256-base64') };
});

afterEach(async () => {
  await proxy.close();
  await cf.close();
});

const inputs = () => ({
  space: 'production',
  binding: 'cloudfoundry',
  'cf-api': cf.api,
  'cf-username': USERNAME,
  'cf-password': PASSWORD,
  'cf-org': 'gsa-tts-oros-fac',
  'cf-space': 'production',
  'cf-service-instance': 'backups',
  'cf-database-instance': 'fac-db',
  'cf-media-instance': 'fac-public-s3',
  'cf-tunnel-app': 'fac-app',
});

function state(step: StepRun): BindingState {
  return JSON.parse(step.state['lifeboat-binding']!) as BindingState;
}

function expectNoSecretIn(step: StepRun): void {
  const text = visibleOutput(step);
  for (const secret of [PASSWORD, ...rds.secrets(), ...cf.appSsh.codes.issued]) {
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      expect(text.includes(form), `a secret (${form.slice(0, 3)}…) in the step's output`).toBe(false);
    }
  }
}

describe('binding: cloudfoundry with cf-tunnel-app (bundles)', () => {
  it('backs up the database through the tunnel, and leaves no key, login or connection behind', async () => {
    await createSampleApp(db.masterUrl);
    const backup = await runMainStep('backup', { ...inputs(), trigger: 'predeploy' }, GITHUB);
    runs.push(backup);
    expect(backup.code, visibleOutput(backup)).toBe(0);
    expect(backup.stdout).toContain(`Opening an SSH tunnel to ${RDS_HOST}:5432 through instance 0 of the app 'fac-app'`);
    expect(backup.stdout).toMatch(new RegExp(`Database '${db.name}' at ${RDS_HOST.replace(/\./g, '\\.')}:5432, reached at 127\\.0\\.0\\.1:\\d+ \\(SSL required\\)`));
    // One login, with one fresh code; every forwarded connection to the RDS name, accepted.
    expect(proxy.authAttempts).toEqual([{ username: `cf:${app.guid}/0`, method: 'password', password: cf.appSsh.codes.issued[0], accepted: true }]);
    expect(proxy.channels.length).toBeGreaterThan(0);
    expect(proxy.channels.every((c) => c.destination === `${RDS_HOST}:5432` && c.accepted && !c.open)).toBe(true);
    expect(proxy.openConnections()).toBe(0);
    expect(cf.live()).toEqual([]);
    expect(await rds.keyRoles()).toEqual([]);
    expect(state(backup).keys.map((k) => [k.purpose, k.state])).toEqual([
      ['backup bucket', 'deleted'],
      ['media bucket', 'deleted'],
      ['database', 'deleted'],
    ]);
    expectNoSecretIn(backup);
  });

  it('SSH disabled for the space: a clear error naming cf allow-space-ssh, and every key deleted', async () => {
    cf.appSsh.behaviour.spaceSshDisabled = true;
    const backup = await runMainStep('backup', inputs(), GITHUB);
    expect(backup.code).toBe(1);
    expect(backup.stdout).toMatch(/::error::.*`cf allow-space-ssh production`/);
    expect(cf.live()).toEqual([]);
    expect(await rds.keyRoles()).toEqual([]);
  });

  it('a SIGKILL of main while the tunnel is in use: the connection dies with it, and post deletes all three keys', async () => {
    await createSampleApp(db.masterUrl);
    // A lock makes pg_dump wait, through the tunnel, once everything is bound: then main is killed.
    const locker = new (await import('pg')).default.Client({ connectionString: db.masterUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      const { rows } = await locker.query<{ t: string }>("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') LIMIT 1");
      await locker.query(`LOCK TABLE ${rows[0]!.t} IN ACCESS EXCLUSIVE MODE`);
      const step = startStep('backup', inputs(), { env: GITHUB });
      let printed = '';
      step.child.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      const deadline = Date.now() + 60_000;
      while (!printed.includes("Backing up space 'production'") || proxy.openChannels() === 0) {
        if (Date.now() > deadline || step.child.exitCode !== null) {
          step.child.kill('SIGKILL');
          throw new Error(`the backup never started its dump: ${visibleOutput(await step.done)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(proxy.openConnections()).toBe(1);
      step.child.kill('SIGKILL');
      const main = await step.done;
      expect(main.code).toBe(null);
      // The tunnel lived in main's process: the kernel closed its SSH connection.
      await expect.poll(() => proxy.openConnections()).toBe(0);
      expect(cf.live().map((k) => k.instanceName).sort()).toEqual(['backups', 'fac-db', 'fac-public-s3']);
      await locker.query('ROLLBACK');

      const cleanup = await runPostStep(inputs(), main.state, GITHUB);
      expect(cleanup.code, visibleOutput(cleanup)).toBe(0);
      expect(cf.live()).toEqual([]);
      expect(await rds.keyRoles()).toEqual([]);
      expect(proxy.openChannels()).toBe(0);
      expectNoSecretIn(main);
      expectNoSecretIn(cleanup);
    } finally {
      await locker.end().catch(() => undefined);
    }
  });
});
