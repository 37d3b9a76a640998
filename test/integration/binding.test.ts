/**
 * Binding the backup bucket through Cloud Foundry service keys, end to end: the shipped bundles
 * (main step, then the post step with the state main left) against a CF API + UAA double on
 * loopback whose keys' credentials point at the real local S3 server.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindForOperation, readBucketRequest } from '../../src/actions/shared/binding.js';
import { waitForS3Access } from '../../src/engine/platform/index.js';
import { memoryJournal, type BindingState } from '../../src/engine/platform/lifecycle.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { startStep, runMainStep, runPostStep, type StepRun } from '../support/action-steps.js';
import { s3BrokerInstance, startCloudFoundryDouble, type CloudFoundryDouble } from '../support/cloud-foundry-double.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, ROOT, runActionBundle, runCli, s3Info, visibleOutput } from '../support/harness.js';

const USERNAME = '5b0c6a52-2d1e-4c7e-9a47-service-acct';
const PASSWORD = 'Pw-' + 'x7Qm2Lr9Tz4Kv8Nc';
const GITHUB = { GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: 'abc123' };
const STATE = 'lifeboat-binding';

let cf: CloudFoundryDouble;
let bucket: string;

beforeEach(async () => {
  bucket = await createBucket('cg-backups');
  const s3 = s3Info();
  cf = await startCloudFoundryDouble({
    username: USERNAME,
    password: PASSWORD,
    org: 'acme',
    space: 'production',
    maxPerPage: 2, // so that listings are paginated
    instances: [
      s3BrokerInstance(s3, 'backups', bucket),
    ],
  });
});

afterEach(async () => {
  await cf.close();
});

function cfInputs(): Record<string, string> {
  return {
    binding: 'cloudfoundry',
    'cf-api': cf.api,
    'cf-username': USERNAME,
    'cf-password': PASSWORD,
    'cf-org': 'acme',
    'cf-space': 'production',
    'cf-service-instance': 'backups',
  };
}

function bindingState(run: StepRun): BindingState {
  return JSON.parse(run.state[STATE]!) as BindingState;
}

/** No credential anywhere a person or a later step can see: logs, outputs, summary, and the state file. */
function expectNoSecrets(...runs: StepRun[]): void {
  const secrets = [PASSWORD, USERNAME, ...cf.issuedSecrets().filter((s) => s !== bucket && !s.startsWith('http') && s !== s3Info().region)];
  expect(secrets).toContain(PASSWORD);
  for (const run of runs) {
    const visible = visibleOutput(run);
    for (const secret of secrets) {
      expect(visible, 'a credential was printed').not.toContain(secret);
      expect(run.stateText, 'a credential was saved in GITHUB_STATE').not.toContain(secret);
    }
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('binding: cloudfoundry (backup and list bundles, and the unbind post step)', () => {
  it('makes a backup through a fresh service key, deletes the key, and post then has nothing left to do', async () => {
    const source = await createDatabase('bound');
    await createSampleApp(source);

    // No AWS_* variables: the only way to the bucket is the bound key.
    const inputs = { space: 'production', trigger: 'nightly', 'database-url': source, ...cfInputs() };
    const main = await runMainStep('backup', inputs, GITHUB);
    expect(main.stderr + main.stdout).not.toMatch(/::error/);
    expect(main.code).toBe(0);

    const id = main.outputs['backup-id']!;
    const stored = (await listKeys(bucket)).map((k) => k.key);
    expect(stored).toContain(`backups/production/${id}/manifest.json`);
    expect(stored).toContain(`backups/production/${id}/database.pgdump.zst`);

    expect(cf.created).toHaveLength(1);
    const [name] = cf.created;
    expect(name).toMatch(/^lifeboat-backup-app-42-1-[0-9a-f]{6}$/);
    const key = cf.keys[0]!;
    expect(key.metadata.labels).toEqual({ 'lifeboat.managed': 'true', 'lifeboat.operation': 'backup' });
    expect(key.metadata.annotations).toMatchObject({ 'lifeboat.repository': 'acme/app', 'lifeboat.run-id': '42', 'lifeboat.run-url': 'https://github.com/acme/app/actions/runs/42' });
    expect(Date.parse(key.metadata.annotations['lifeboat.created-at']!)).toBeGreaterThan(Date.now() - 120_000);
    // Polled the creation job until it completed, and deleted the key as soon as the backup was done.
    expect(cf.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v3/jobs/')).length).toBeGreaterThanOrEqual(4);
    expect(cf.deleted).toEqual([name]);
    expect(cf.live()).toEqual([]);

    const state = bindingState(main);
    expect(state).toMatchObject({ v: 1, api: cf.api, org: 'acme', space: 'production', operation: 'backup' });
    expect(state.keys).toEqual([{ instance: 'backups', instanceGuid: cf.instanceGuid('backups'), name, guid: key.guid, purpose: 'backup bucket', state: 'deleted' }]);

    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('already deleted');
    const again = await runPostStep(inputs, main.state, GITHUB);
    expect(again.code).toBe(0);
    expect(cf.issuedSecrets()).toContain(s3Info().secretAccessKey);
    expectNoSecrets(main, post, again);
  });

  it('lists backups through a service key, and deletes the key', async () => {
    const source = await createDatabase('listed');
    await createSampleApp(source);
    const made = await runActionBundle('backup', { space: 'dev', 'database-url': source, ...bucketInputs(bucket) }, awsEnv());
    expect(made.code).toBe(0);

    const inputs = { space: 'dev', ...cfInputs() };
    const main = await runMainStep('list', inputs, GITHUB);
    expect(main.code).toBe(0);
    expect(main.outputs.latest).toBe(made.outputs['backup-id']);
    expect(cf.created).toHaveLength(1);
    expect(cf.created[0]).toMatch(/^lifeboat-list-app-42-1-/);
    expect(cf.deleted).toEqual(cf.created);
    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.code).toBe(0);
    expectNoSecrets(main, post);
  });

  it('deletes the key when the main step fails (database unreachable)', async () => {
    const inputs = { space: 'production', 'database-url': 'postgres://app:hunter22@127.0.0.1:1/app', ...cfInputs() };
    const main = await runMainStep('backup', inputs, GITHUB);
    expect(main.code).toBe(1);
    expect(main.stdout).toMatch(/::error::lifeboat backup failed: .*127\.0\.0\.1:1/);
    expect(cf.created).toHaveLength(1);
    expect(cf.deleted).toEqual(cf.created);
    expect(cf.live()).toEqual([]);
    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.code).toBe(0);
    expectNoSecrets(main, post);
  });

  it('post deletes the key when the main step was killed after creating it', async () => {
    cf.behaviour.holdDetails = true; // main hangs reading the key's credentials
    const inputs = { space: 'dev', ...cfInputs() };
    const step = startStep('list', inputs, { env: GITHUB });
    await waitFor(() => cf.requests.some((r) => r.path.endsWith('/details')), 'the details request');
    step.child.kill('SIGKILL');
    const main = await step.done;
    expect(main.code).toBe(null);
    expect(cf.live().map((k) => k.name)).toEqual(cf.created);
    expect(bindingState(main).keys[0]).toMatchObject({ state: 'created', guid: cf.keys[0]!.guid });

    cf.release();
    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.stderr + post.stdout).not.toMatch(/::error/);
    expect(post.code).toBe(0);
    expect(post.stdout).toContain(`Deleted the service key '${cf.created[0]}'`);
    expect(cf.deleted).toEqual(cf.created);
    expect(cf.live()).toEqual([]);
    expectNoSecrets(main, post);
  });

  it('post waits for a creation still in progress when main was killed, then deletes the key', async () => {
    cf.behaviour.holdJobs = true; // the creation job stays PROCESSING
    const inputs = { space: 'dev', ...cfInputs() };
    const step = startStep('list', inputs, { env: GITHUB });
    await waitFor(() => cf.requests.filter((r) => r.path.startsWith('/v3/jobs/')).length >= 2, 'the job to be polled');
    step.child.kill('SIGKILL');
    const main = await step.done;
    expect(cf.keys[0]!.lastOperation).toEqual({ type: 'create', state: 'in progress' });

    const posting = runPostStep(inputs, main.state, GITHUB);
    await waitFor(() => cf.requests.some((r) => r.method === 'DELETE' && r.status === 422), 'CF to refuse the delete while creating');
    cf.release(); // the creation completes; post may now delete the key
    const post = await posting;
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('still being created');
    expect(cf.deleted).toEqual(cf.created);
    expect(cf.live()).toEqual([]);
  });

  it('post finds by name a key created just before a crash, when the state holds only the planned name', async () => {
    const left = cf.seedKey('backups', 'lifeboat-backup-app-41-1-abcdef');
    const state: BindingState = {
      v: 1,
      api: cf.api,
      org: 'acme',
      space: 'production',
      operation: 'backup',
      keys: [
        { instance: 'backups', name: left.name, state: 'planned' },
        { instance: 'backups', instanceGuid: cf.instanceGuid('backups'), name: 'lifeboat-backup-app-41-1-never0', state: 'planned' },
      ],
    };
    const post = await runPostStep(cfInputs(), { [STATE]: JSON.stringify(state) }, GITHUB);
    expect(post.code).toBe(0);
    expect(post.stdout).toContain("'lifeboat-backup-app-41-1-never0' of 'backups' (backup bucket) was never created");
    expect(cf.deleted).toEqual([left.name]);
    expect(cf.live()).toEqual([]);
  });

  it('post copes with no state at all, and with no inputs', async () => {
    const post = await runPostStep({}, {});
    expect(post.code).toBe(0);
    // Quiet: it runs after every Lifeboat step, so without a key it says so only as a debug line, hidden unless debugging.
    expect(post.stdout).toContain('::debug::Lifeboat made no service key in this step; nothing to unbind.');
    expect(post.stdout.split('\n').filter((line) => line.trim() && !line.startsWith('::debug::'))).toEqual([]);
    expect(cf.requests).toEqual([]);
  });

  it('fails loudly, naming the key and how to delete it, when the key cannot be deleted', async () => {
    cf.behaviour.failDelete = true;
    const inputs = { space: 'dev', ...cfInputs() };
    const main = await runMainStep('list', inputs, GITHUB);
    expect(main.code).toBe(0); // its own clean-up failed: a warning, and the post step tries again
    expect(main.stdout).toMatch(/::warning::.*The post step will try again/);
    const [name] = cf.created;

    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.code).toBe(1);
    expect(post.stdout).toContain(`::error title=Lifeboat left service key ${name}::`);
    expect(post.stdout).toContain(`cf delete-service-key backups ${name} -f`);
    expect(post.stdout).toMatch(/::error::lifeboat unbind failed: .*broker is broken/);
    expect(cf.live().map((k) => k.name)).toEqual([name]);
    expectNoSecrets(main, post);
  });

  it('says clearly that the service account password expired, and how to renew it', async () => {
    cf.behaviour.expiredPassword = true;
    const inputs = { space: 'dev', ...cfInputs() };
    const main = await runMainStep('list', inputs, GITHUB);
    expect(main.code).toBe(1);
    const error = main.stdout.split('\n').find((l) => l.startsWith('::error::'))!;
    expect(error).toContain("service account's password has expired");
    expect(error).toContain('Your current password has expired');
    expect(error).toContain('every 90 days');
    expect(error).toContain('cf create-service-key');
    expect(error).toContain("'cf-username' and 'cf-password'");
    expect(cf.created).toEqual([]);
    expect(main.state).toEqual({});
    const post = await runPostStep(inputs, main.state, GITHUB);
    expect(post.code).toBe(0);
    expectNoSecrets(main, post);
  });

  it('sweeps stale Lifeboat keys left by crashed runs, never its own key, younger keys or keys that are not Lifeboat\'s', async () => {
    const day = 24 * 60 * 60 * 1000;
    const stale = cf.seedKey('backups', 'lifeboat-backup-app-7-1-aaaaaa', { createdAt: new Date(Date.now() - 2 * day) });
    const staler = cf.seedKey('backups', 'lifeboat-prune-app-6-2-bbbbbb', { createdAt: new Date(Date.now() - 9 * day) });
    const young = cf.seedKey('backups', 'lifeboat-backup-app-8-1-cccccc', { createdAt: new Date(Date.now() - 60 * 60 * 1000) });
    const human = cf.seedKey('backups', 'alice-debugging', { createdAt: new Date(Date.now() - 30 * day) });

    const log = memoryLogger();
    const bound = await bindForOperation(readBucketRequest((n) => cfInputs()[n]), 'prune', log, memoryJournal, { env: GITHUB });
    const own = bound.bindings!.state.keys[0]!.name;

    const first = await bound.sweepStaleKeys();
    expect(first!.deleted.sort()).toEqual([stale.name, staler.name].sort());
    expect(first!.kept.sort()).toEqual([own, young.name].sort());
    expect(first!.failed).toEqual([]);

    // Even with a threshold of zero, the operation's own key stays.
    const second = await bound.sweepStaleKeys({ olderThanMs: 0 });
    expect(second!.deleted).toEqual([young.name]);
    expect(second!.kept).toEqual([own]);
    expect(cf.live().map((k) => k.name).sort()).toEqual([human.name, own].sort());

    await bound.release();
    expect(cf.live().map((k) => k.name)).toEqual([human.name]);
  });

  it('the CLI binds for the operation and deletes the key at the end', async () => {
    const env = Object.fromEntries(Object.entries(cfInputs()).map(([k, v]) => [`LIFEBOAT_${k.toUpperCase().replace(/-/g, '_')}`, v]));
    const run = await runCli(['list', '--json'], env);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ backups: [], latest: '' });
    expect(cf.created).toHaveLength(1);
    expect(cf.created[0]).toMatch(/^lifeboat-list-/);
    expect(cf.deleted).toEqual(cf.created);
    for (const secret of [PASSWORD, s3Info().secretAccessKey]) expect(run.everything).not.toContain(secret);
  });

  it('the CLI deletes the key when it is interrupted (SIGTERM)', async () => {
    cf.behaviour.holdDetails = true;
    const env = Object.fromEntries(Object.entries(cfInputs()).map(([k, v]) => [`LIFEBOAT_${k.toUpperCase().replace(/-/g, '_')}`, v]));
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'index.js'), 'list'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => cf.requests.some((r) => r.path.endsWith('/details')), 'the details request');
    child.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(stderr).toContain('SIGTERM received: deleting the service key');
    expect(cf.deleted).toEqual(cf.created);
    expect(cf.live()).toEqual([]);
  });
});

describe('fresh keys', () => {
  it('retries the first S3 call while S3 refuses a key that has not propagated yet (403), then goes on', async () => {
    let heads = 0;
    const server = createServer((req, res) => {
      heads++;
      res.writeHead(heads <= 2 ? 403 : 200, { 'content-type': 'application/xml' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const log = memoryLogger();
      const settings = { bucket: 'cg-x', prefix: '', endpoint, region: 'us-gov-west-1', credentials: { accessKeyId: 'AKIAFRESH', secretAccessKey: 'fresh-secret' } };
      const backoff = { initialMs: 20, factor: 2, maxMs: 100, timeoutMs: 5_000 };
      await waitForS3Access(settings, 'the key', log, backoff);
      expect(heads).toBe(3);
      expect(log.lines.join('\n')).toContain('does not accept the new key yet (403)');

      heads = -1_000_000; // refused for good
      await expect(waitForS3Access(settings, "service key 'k'", log, { ...backoff, timeoutMs: 300 })).rejects.toThrow(/kept refusing the credentials of service key 'k' \(403\)/);
    } finally {
      server.close();
    }
  });
});

describe('restore and prune through a binding', () => {
  it('refuses a restore the policy does not allow before creating any key, and restores an allowed one through a key it then deletes', async () => {
    const source = await createDatabase('bound-source');
    await createSampleApp(source);
    const made = await runActionBundle('backup', { space: 'production', trigger: 'nightly', 'database-url': source, ...bucketInputs(bucket) }, awsEnv());
    expect(made.code).toBe(0);
    const target = await createDatabase('bound-target');
    const env = { ...GITHUB, GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: ROOT + '/test' };

    const refused = await runMainStep('restore', { 'source-space': 'production', 'target-space': 'preview', 'database-url': target, ...cfInputs() }, env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/Restore refused/);
    expect(cf.created).toEqual([]);

    const main = await runMainStep('restore', { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...cfInputs() }, env);
    expect(main.code, visibleOutput(main)).toBe(0);
    expect(main.outputs['backup-id']).toBe(made.outputs['backup-id']);
    expect(cf.created).toHaveLength(1);
    expect(cf.created[0]).toMatch(/^lifeboat-restore-/);
    expect(cf.live()).toEqual([]);
    const post = await runPostStep(cfInputs(), main.state, env);
    expect(post.code).toBe(0);
    expectNoSecrets(refused, main, post);
  });

  it('prune sweeps stale keys through its own binding and deletes its own key at the end', async () => {
    const stale = cf.seedKey('backups', 'lifeboat-backup-app-5-1-dddddd', { createdAt: new Date(Date.now() - 3 * 24 * 60 * 60 * 1000) });
    const main = await runMainStep('prune', { ...cfInputs() }, { ...GITHUB, GITHUB_WORKSPACE: ROOT + '/test' });
    expect(main.code, visibleOutput(main)).toBe(0);
    expect(main.stdout).toContain(`Deleted 1 stale Lifeboat service key(s): ${stale.name}.`);
    expect(cf.deleted).toContain(stale.name);
    expect(cf.live()).toEqual([]);
    expectNoSecrets(main);
  });
});
