/**
 * The restore action, run from its bundle (dist/restore) the way the runner runs it, against a real
 * PostgreSQL cluster, a real S3 protocol server and a GitHub API double on loopback.
 *
 * Every refusal and failure is checked to leave the target exactly as it was: the same per-table row
 * digests and the same schema dump before and after.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBackupId, type Trigger } from '../../src/domain/backup-id.js';
import { parseManifest, type Manifest } from '../../src/domain/manifest.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { pgRestoreFailed } from '../../src/engine/restore/apply.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { schemaDump, tableDigests } from '../support/compare.js';
import { createOwnedDatabase } from '../support/restore-steps.js';
import { startGitHubApiDouble, type GitHubApiDouble } from '../support/github-api-double.js';
import {
  awsEnv,
  bucketInputs,
  createBucket,
  createDatabase,
  getObjectBytes,
  listKeys,
  postgresInfo,
  runActionBundle,
  runCli,
  s3Client,
  s3Info,
  uniqueName,
  visibleOutput,
  withClient,
  type BundleRun,
} from '../support/harness.js';

const TOKENS = {
  admin: 'ghp_adminTokenReadOrg0000000001',
  noReadOrg: 'ghs_defaultGithubToken000000002',
  outsider: 'ghp_outsiderTokenReadOrg0000003',
};
const ADMIN_POLICY = `
spaces: [production, staging, dev, preview]
admin-team: acme/db-admins
`;

let github: GitHubApiDouble;
/** An empty workspace: no .github/lifeboat.yml, so the built-in policy applies. */
let emptyWorkspace: string;
/** A workspace whose policy names the admin team acme/db-admins. */
let adminWorkspace: string;

beforeAll(async () => {
  github = await startGitHubApiDouble({
    teams: { 'acme/db-admins': { alice: 'active', bob: 'pending' } },
    tokens: {
      [TOKENS.admin]: { login: 'alice', readOrg: true },
      [TOKENS.noReadOrg]: { login: 'github-actions[bot]', readOrg: false },
      [TOKENS.outsider]: { login: 'mallory', readOrg: true },
    },
  });
  emptyWorkspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));
  adminWorkspace = workspaceWithPolicy(ADMIN_POLICY);
});

afterAll(async () => {
  await github?.close();
});

function workspaceWithPolicy(policy: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));
  mkdirSync(join(dir, '.github'));
  writeFileSync(join(dir, '.github', 'lifeboat.yml'), policy);
  return dir;
}

function bucketSettings(bucket: string) {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

async function backup(url: string, bucket: string, space: string, trigger: Trigger = 'nightly'): Promise<Manifest> {
  const result = await runBackup(
    { space, trigger, databaseUrl: url, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 },
    memoryLogger(),
  );
  return result.manifest;
}

type Snapshot = { digests: Awaited<ReturnType<typeof tableDigests>>; schema: string };

async function snapshotOf(url: string): Promise<Snapshot> {
  return { digests: await tableDigests(url), schema: schemaDump(url) };
}

/** A target with its own, different data, and a table and schema the source never had. */
async function createStagingTarget(): Promise<string> {
  const target = await createDatabase('staging');
  await createSampleApp(target, 2);
  await withClient(target, async (c) => {
    await c.query(`UPDATE app.organizations SET name = name || ' (staging copy)'`);
    await c.query(`DELETE FROM audit.events WHERE id % 3 = 0`);
    await c.query(`CREATE SCHEMA scratch; CREATE TABLE scratch.notes (id serial PRIMARY KEY, body text); INSERT INTO scratch.notes (body) VALUES ('only in staging')`);
  });
  return target;
}

interface RestoreRunOptions {
  event?: string;
  actor?: string;
  workspace?: string;
  env?: Record<string, string>;
}

function restore(inputs: Record<string, string>, bucket: string, options: RestoreRunOptions = {}): Promise<BundleRun> {
  return runActionBundle(
    'restore',
    { ...bucketInputs(bucket), ...inputs },
    {
      ...awsEnv(),
      GITHUB_EVENT_NAME: options.event ?? 'schedule',
      GITHUB_ACTOR: options.actor ?? 'github-actions[bot]',
      GITHUB_API_URL: github.url,
      GITHUB_WORKSPACE: options.workspace ?? emptyWorkspace,
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_RUN_ID: '7',
      ...options.env,
    },
  );
}

/** The one-line error the step failed with (from the ::error:: command). */
function failure(run: BundleRun): string {
  const line = run.stdout.split('\n').find((l) => l.startsWith('::error::'));
  return (line ?? '').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

function expectNoSecrets(run: { everything: string }, ...secrets: string[]) {
  const visible = visibleOutput(run);
  for (const secret of [postgresInfo().password, ...secrets]) {
    expect(visible).not.toContain(secret);
    expect(visible).not.toContain(encodeURIComponent(secret));
  }
}

async function expectUnchanged(target: string, before: Snapshot) {
  const after = await snapshotOf(target);
  expect(after.digests).toEqual(before.digests);
  expect(after.schema).toEqual(before.schema);
}

/** A source whose backup cannot be fully restored: an RLS policy names a role that is dropped after the backup. */
async function sourceWithDoomedPolicy(bucket: string): Promise<{ source: string; manifest: Manifest }> {
  const source = await createDatabase('production');
  await createSampleApp(source);
  const role = uniqueName('reader').replace(/-/g, '_');
  await withClient(source, async (c) => {
    await c.query(`CREATE ROLE ${role} NOLOGIN`);
    await c.query(`ALTER TABLE app.submissions ENABLE ROW LEVEL SECURITY`);
    await c.query(`CREATE POLICY readers ON app.submissions FOR SELECT TO ${role} USING (true)`);
  });
  const manifest = await backup(source, bucket, 'production');
  await withClient(source, async (c) => {
    await c.query(`DROP POLICY readers ON app.submissions`);
    await c.query(`DROP ROLE ${role}`);
  });
  return { source, manifest };
}

describe('restore round trip (schedule, production → staging)', () => {
  it('makes the target equal the source as it was at backup time, removes what was added since, and keeps sequences ahead', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    const atBackup = await snapshotOf(source);
    // The source moves on after the backup; the restore must bring back the backup, not today's source.
    await withClient(source, (c) => c.query(`INSERT INTO app.organizations (name, contact_email) VALUES ('Later Ltd', 'later@example.org')`));

    const target = await createStagingTarget();
    await withClient(target, (c) => c.query(`CREATE TABLE public.added_after_backup (id int); INSERT INTO public.added_after_backup VALUES (1)`));
    expect(Object.keys(await tableDigests(target))).toContain('public.added_after_backup');

    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target }, bucket);
    expect(failure(run)).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ 'backup-id': manifest.id, verified: 'true', method: 'transactional', 'pre-restore-backup-id': '' });

    const after = await snapshotOf(target);
    expect(after.digests).toEqual(atBackup.digests);
    expect(after.schema).toEqual(atBackup.schema);
    expect(Object.keys(after.digests)).not.toContain('public.added_after_backup');
    expect(Object.keys(after.digests)).not.toContain('scratch.notes');

    await withClient(target, async (c) => {
      const submissions = await c.query<{ next: string; max: string }>(
        `SELECT nextval('app.submissions_id_seq') AS next, (SELECT max(id) FROM app.submissions) AS max`,
      );
      expect(Number(submissions.rows[0]!.next)).toBeGreaterThan(Number(submissions.rows[0]!.max));
      const invoices = await c.query<{ next: string; max: string }>(
        `SELECT nextval('app.invoice_number_seq') AS next, (SELECT max(invoice_number) FROM app.submissions) AS max`,
      );
      expect(Number(invoices.rows[0]!.next)).toBeGreaterThan(Number(invoices.rows[0]!.max));
      // The function, view and extension work in the restored database.
      const total = await c.query<{ ok: boolean }>(
        `SELECT app.organization_total(1) = (SELECT total FROM app.submission_totals WHERE name = (SELECT name FROM app.organizations WHERE id = 1)) AS ok`,
      );
      expect(total.rows[0]!.ok).toBe(true);
      const citext = await c.query<{ n: string }>(`SELECT count(*) AS n FROM app.organizations WHERE contact_email = 'CONTACT0@EXAMPLE.ORG'`);
      expect(Number(citext.rows[0]!.n)).toBe(1);
    });

    expect(run.summary).toMatch(/^## ✅ Lifeboat restore: staging now holds production's backup from (just now|\d+ min ago)\n/);
    expect(run.summary).toContain(`**\`${manifest.id}\`** · `);
    expect(run.summary).toContain('automated (schedule)');
    expect(run.summary).toMatch(/Verified: 3 of 3 tables match/);
    expect(run.summary).toMatch(/\| app\.submissions \| 200 \| 200 \| ✅ \|/);
    expectNoSecrets(run);
  });

  it('maps ownership to the target role: a non-superuser that owns the target database owns every restored object', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');

    const { url: target, role, password } = await createOwnedDatabase('staging_owned');
    await withClient(target, (c) => c.query(`CREATE TABLE public.old_staging_table (id int)`));
    const publicBefore = await withClient(target, (c) =>
      c.query<{ owner: string; acl: string }>(`SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'`),
    );

    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target }, bucket);
    expect(failure(run)).toBe('');
    expect(run.outputs['backup-id']).toBe(manifest.id);
    expect(await tableDigests(target)).toEqual(await tableDigests(source));

    await withClient(target, async (c) => {
      const owners = await c.query<{ kind: string; name: string; owner: string }>(`
        SELECT 'relation' AS kind, n.nspname || '.' || c.relname AS name, c.relowner::regrole::text AS owner
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('app', 'audit', 'public')
        UNION ALL SELECT 'function', n.nspname || '.' || p.proname, p.proowner::regrole::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('app', 'audit')
        UNION ALL SELECT 'schema', nspname, nspowner::regrole::text FROM pg_namespace WHERE nspname IN ('app', 'audit')
        UNION ALL SELECT 'extension', extname, extowner::regrole::text FROM pg_extension WHERE extname = 'citext'`);
      expect(owners.rows.length).toBeGreaterThan(10);
      expect(owners.rows.filter((r) => r.owner !== role)).toEqual([]);
      expect(owners.rows.map((r) => r.name)).toContain('app.submissions');
      // The target's own public schema keeps its owner and privileges.
      const publicAfter = await c.query(`SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'`);
      expect(publicAfter.rows).toEqual(publicBefore.rows);
    });
    expectNoSecrets(run, password);
  });

  it('restores a source whose public schema was re-created and commented, and a target that has no public schema', async () => {
    const source = await createDatabase('production');
    await withClient(source, (c) =>
      c.query(`DROP SCHEMA public CASCADE; CREATE SCHEMA public; COMMENT ON SCHEMA public IS 'application data';
               CREATE TABLE public.things (id serial PRIMARY KEY, name text); INSERT INTO public.things (name) VALUES ('a'), ('b')`),
    );
    const bucket = await createBucket();
    await backup(source, bucket, 'production');
    const target = await createDatabase('staging');
    await withClient(target, (c) => c.query(`DROP SCHEMA public CASCADE; CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.x (id int)`));
    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target }, bucket);
    expect(failure(run)).toBe('');
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
    expect(schemaDump(target)).toContain(`COMMENT ON SCHEMA public IS 'application data';`);
  });

  it('backup-id picks an older backup, and trigger filters which backup latest means', async () => {
    const source = await createDatabase('dev');
    await createSampleApp(source);
    const bucket = await createBucket();
    const older = await backup(source, bucket, 'dev', 'predeploy');
    const olderState = await tableDigests(source);
    await withClient(source, (c) => c.query(`DELETE FROM audit.events WHERE id > 150`));
    const newer = await backup(source, bucket, 'dev', 'nightly');
    const newerState = await tableDigests(source);
    expect(newerState).not.toEqual(olderState);
    const target = await createDatabase('preview');

    const byTrigger = await restore({ 'source-space': 'dev', 'target-space': 'dev', 'database-url': target, trigger: 'predeploy' }, bucket);
    expect(failure(byTrigger)).toBe('');
    expect(byTrigger.outputs['backup-id']).toBe(older.id);
    expect(await tableDigests(target)).toEqual(olderState);

    const latest = await restore({ 'source-space': 'dev', 'target-space': 'dev', 'database-url': target }, bucket);
    expect(latest.outputs['backup-id']).toBe(newer.id);
    expect(await tableDigests(target)).toEqual(newerState);

    const byId = await restore({ 'source-space': 'dev', 'target-space': 'dev', 'database-url': target, 'backup-id': older.id }, bucket);
    expect(byId.outputs['backup-id']).toBe(older.id);
    expect(await tableDigests(target)).toEqual(olderState);
  });
});

describe('who may restore', () => {
  let bucket: string;
  let source: string;
  let manifest: Manifest;
  beforeAll(async () => {
    source = await createDatabase('production');
    await createSampleApp(source);
    bucket = await createBucket();
    manifest = await backup(source, bucket, 'production');
  });

  async function refusedLeavesTargetAlone(
    inputs: Record<string, string>,
    options: RestoreRunOptions,
    expected: RegExp[],
  ): Promise<BundleRun> {
    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const run = await restore({ 'database-url': target, ...inputs }, bucket, options);
    expect(run.code).toBe(1);
    const message = failure(run);
    for (const pattern of expected) expect(message).toMatch(pattern);
    expect(run.outputs['backup-id']).toBeUndefined();
    expect(run.summary).toMatch(/Lifeboat restore( .*)?: (refused|failed)/);
    await expectUnchanged(target, before);
    expectNoSecrets(run, ...Object.values(TOKENS));
    return run;
  }

  it('refuses a pair the matrix does not allow before asking GitHub or reading the bucket, naming the allowed targets', async () => {
    const asked = github.requests.length;
    await refusedLeavesTargetAlone(
      { 'source-space': 'dev', 'target-space': 'production', 'github-token': TOKENS.admin, confirm: 'production' },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
      [/Restore refused: The policy does not allow restoring from 'dev' to 'production'; from 'dev' it allows: dev, preview\./, /under 'restores:'/],
    );
    expect(github.requests.length).toBe(asked);
  });

  it('refuses an automated run of a pair that is not marked automated', async () => {
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'production', confirm: 'production' },
      { event: 'schedule' },
      [/must be started by a person, but this run was started by the 'schedule' event/],
    );
  });

  it('refuses a manual restore by someone who is not an active member of the admin team', async () => {
    const asked = github.requests.length;
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging', 'github-token': TOKENS.admin },
      { event: 'workflow_dispatch', actor: 'mallory', workspace: adminWorkspace },
      [/'mallory' is not a member of the admin team acme\/db-admins/],
    );
    const calls = github.requests.slice(asked);
    expect(calls.map((r) => r.path)).toEqual(['/orgs/acme/teams/db-admins', '/orgs/acme/teams/db-admins/memberships/mallory']);
    expect(calls.every((r) => r.token === TOKENS.admin)).toBe(true);
  });

  it('refuses a pending (invited, not accepted) member, and a re-run started by a non-admin even if an admin started the first attempt', async () => {
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging', 'github-token': TOKENS.admin },
      { event: 'workflow_dispatch', actor: 'bob', workspace: adminWorkspace },
      [/'bob' is not a member of the admin team acme\/db-admins/],
    );
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging', 'github-token': TOKENS.admin },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace, env: { GITHUB_TRIGGERING_ACTOR: 'mallory' } },
      [/'mallory' is not a member/],
    );
  });

  it('refuses when the token cannot read the team, naming the permission it needs', async () => {
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging', 'github-token': TOKENS.noReadOrg },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
      [/cannot read team acme\/db-admins/, /read:org scope/, /Members: read/, /default GITHUB_TOKEN cannot read team membership/],
    );
  });

  it('refuses a manual restore with no github-token, saying which token to give', async () => {
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging' },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
      [/'github-token' is empty/, /read:org/],
    );
  });

  it('refuses manual restores when the policy names no admin team, saying how to name one', async () => {
    const asked = github.requests.length;
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'staging', 'github-token': TOKENS.admin },
      { event: 'workflow_dispatch', actor: 'alice' },
      [/Manual restores are allowed only for members of an admin team, and \.github\/lifeboat\.yml names none/, /Add 'admin-team: org\/team-slug'/],
    );
    expect(github.requests.length).toBe(asked);
  });

  it('refuses a restore into production without confirm, and recovers production from a chosen backup with it', async () => {
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'production', 'backup-id': manifest.id, 'github-token': TOKENS.admin },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
      [/'production' is a protected space/, /Set the input 'confirm: production'/],
    );
    await refusedLeavesTargetAlone(
      { 'source-space': 'production', 'target-space': 'production', 'backup-id': manifest.id, 'github-token': TOKENS.admin, confirm: 'Production' },
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
      [/\(got 'Production'\)/],
    );

    // Recovery: production damaged after the backup, restored from the chosen backup with confirm.
    const production = await createDatabase('production');
    await createSampleApp(production);
    await withClient(production, (c) => c.query(`DELETE FROM audit.events; DROP VIEW app.submission_totals`));
    const run = await restore(
      { 'source-space': 'production', 'target-space': 'production', 'backup-id': manifest.id, 'github-token': TOKENS.admin, confirm: 'production', 'database-url': production },
      bucket,
      { event: 'workflow_dispatch', actor: 'alice', workspace: adminWorkspace },
    );
    expect(failure(run)).toBe('');
    expect(run.outputs['backup-id']).toBe(manifest.id);
    expect(await snapshotOf(production)).toEqual(await snapshotOf(source));
    expect(run.summary).toContain('manual, by alice (member of acme/db-admins)');
    expectNoSecrets(run, ...Object.values(TOKENS));
  });

  it('follows a policy file from the workspace: a custom admin team member may run a custom pair by hand', async () => {
    const workspace = workspaceWithPolicy(`
# Only ops may restore, and staging is refreshed only by hand.
spaces: [prod, stage]
admin-team: acme/ops
protected-spaces: [prod]
restores:
  - { from: prod, to: stage, purpose: refresh stage, automated: false }
`);
    github.config.teams['acme/ops'] = { alice: 'active' };
    const prodSource = await createDatabase('prod');
    await createSampleApp(prodSource);
    const customBucket = await createBucket();
    const prodBackup = await backup(prodSource, customBucket, 'prod');
    const target = await createStagingTarget();

    const scheduled = await restore({ 'source-space': 'prod', 'target-space': 'stage', 'database-url': target }, customBucket, { event: 'schedule', workspace });
    expect(failure(scheduled)).toMatch(/The restore prod → stage \(refresh stage\) must be started by a person/);

    const byAlice = await restore(
      { 'source-space': 'prod', 'target-space': 'stage', 'database-url': target, 'github-token': TOKENS.admin },
      customBucket,
      { event: 'workflow_dispatch', actor: 'alice', workspace },
    );
    expect(failure(byAlice)).toBe('');
    expect(byAlice.outputs['backup-id']).toBe(prodBackup.id);
    expect(await tableDigests(target)).toEqual(await tableDigests(prodSource));
    expect(byAlice.stdout).toContain('Policy read from .github/lifeboat.yml');
  });

  it('reports a policy file error with its line, before doing anything', async () => {
    const workspace = workspaceWithPolicy(`spaces: [production, staging]\nprotected-spaces: [production]\nrestores:\n  - { from: production, to: stagng }\n`);
    await refusedLeavesTargetAlone({ 'source-space': 'production', 'target-space': 'staging' }, { workspace }, [
      /\.github\/lifeboat\.yml:4:\d+: unknown space 'stagng' in restores\[0\]\.to \(did you mean 'staging'\?\)/,
    ]);
  });
});

describe('verify before touching the target', () => {
  async function refusedFor(prepare: (bucket: string, manifest: Manifest) => Promise<string | void>, expected: RegExp) {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    const backupId = (await prepare(bucket, manifest)) ?? manifest.id;
    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'backup-id': backupId }, bucket);
    expect(run.code).toBe(1);
    expect(failure(run)).toMatch(expected);
    await expectUnchanged(target, before);
    expectNoSecrets(run);
    return run;
  }

  it('refuses a corrupted artifact (same size, different bytes)', async () => {
    await refusedFor(async (bucket, manifest) => {
      const key = manifest.artifacts[0]!.key;
      const bytes = await getObjectBytes(bucket, key);
      const corrupted = Buffer.from(bytes);
      for (let i = 100; i < corrupted.length - 100; i += 97) corrupted[i] = corrupted[i]! ^ 0x5a;
      await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: corrupted }));
    }, /Restore refused: Artifact 'database' of backup .* (is corrupt or truncated|does not match its manifest)/);
  });

  it('refuses a corrupted artifact that still decompresses, on its SHA-256', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    // Replace the stored zstd with another valid zstd stream of a different dump: only the checksum can tell.
    const other = await createDatabase('other');
    await createSampleApp(other, 2);
    const otherManifest = await backup(other, bucket, 'dev');
    await s3Client().send(
      new PutObjectCommand({ Bucket: bucket, Key: manifest.artifacts[0]!.key, Body: await getObjectBytes(bucket, otherManifest.artifacts[0]!.key) }),
    );
    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target }, bucket);
    expect(failure(run)).toMatch(/does not match its manifest: .*SHA-256 [0-9a-f]{64} where the manifest records [0-9a-f]{64}/);
    await expectUnchanged(target, before);
  });

  it('refuses a truncated artifact', async () => {
    await refusedFor(async (bucket, manifest) => {
      const key = manifest.artifacts[0]!.key;
      const bytes = await getObjectBytes(bucket, key);
      await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes.subarray(0, Math.floor(bytes.length / 2)) }));
    }, /Restore refused: Artifact 'database' of backup .* (is corrupt or truncated|does not match its manifest)/);
  });

  it('refuses a missing artifact', async () => {
    await refusedFor(async (bucket, manifest) => {
      await s3Client().send(new DeleteObjectCommand({ Bucket: bucket, Key: manifest.artifacts[0]!.key }));
    }, /Restore refused: Artifact 'database' of backup .* is missing/);
  });

  it('refuses a backup id that does not exist', async () => {
    const missing = formatBackupId(new Date('2020-01-02T03:04:05Z'), 'nightly', 'abcd');
    await refusedFor(async () => missing, new RegExp(`Restore refused: Backup ${missing.replace(/\./g, '\\.')} does not exist in space 'production'`));
  });

  it('refuses an incomplete backup (no manifest)', async () => {
    await refusedFor(async (bucket, manifest) => {
      await s3Client().send(new DeleteObjectCommand({ Bucket: bucket, Key: `backups/production/${manifest.id}/manifest.json` }));
      return manifest.id;
    }, /Restore refused: Backup .* is incomplete/);
  });

  it('rejects a malformed backup-id before doing anything', async () => {
    const bucket = await createBucket();
    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': await createDatabase('t'), 'backup-id': 'yesterday' }, bucket);
    expect(failure(run)).toMatch(/Input 'backup-id' is 'yesterday', which is neither 'latest' nor a Lifeboat backup id/);
  });
});

describe('a restore that fails midway leaves the target as it was', () => {
  it('transactional path: the whole wipe-and-restore is rolled back', async () => {
    const bucket = await createBucket();
    const { manifest } = await sourceWithDoomedPolicy(bucket);
    const target = await createStagingTarget();
    const before = await snapshotOf(target);

    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target }, bucket);
    expect(run.code).toBe(1);
    const message = failure(run);
    expect(message).toMatch(/The restore failed and was rolled back; the target is as it was\. PostgreSQL refused a statement while restoring POLICY app\.submissions readers \(line \d+ of the restore script\)/);
    expect(message).toMatch(/role "reader_[0-9a-f_]+" does not exist/);
    expect(message).not.toContain(manifest.id + ' into'); // no success claim
    expect(run.outputs['backup-id']).toBeUndefined();
    await expectUnchanged(target, before);
    expect((await listKeys(bucket, 'backups/staging/')).length).toBe(0);
    expectNoSecrets(run);
  });

  it('parallel path: a pre-restore backup is taken, and the target is rolled back to it', async () => {
    const bucket = await createBucket();
    await sourceWithDoomedPolicy(bucket);
    const target = await createStagingTarget();
    const before = await snapshotOf(target);

    const run = await restore(
      { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'parallel-threshold-mb': '0', jobs: '2' },
      bucket,
    );
    expect(run.code).toBe(1);
    const message = failure(run);
    expect(message).toMatch(/pg_restore --jobs=2 failed/);
    expect(message).toMatch(/role "reader_[0-9a-f_]+" does not exist/);
    const rolledBack = /rolled back to the pre-restore backup (\S+), taken just before the restore: it is as it was/.exec(message);
    expect(rolledBack).not.toBeNull();
    const preId = rolledBack![1]!;
    expect(preId).toMatch(/-pre-restore-/);
    const manifestKey = `backups/staging/${preId}/manifest.json`;
    expect((await listKeys(bucket, 'backups/staging/')).map((k) => k.key)).toContain(manifestKey);
    const preManifest = parseManifest((await getObjectBytes(bucket, manifestKey)).toString('utf8'), manifestKey);
    expect(preManifest.trigger).toBe('pre-restore');
    expect(preManifest.database.tables?.map((t) => `${t.schema}.${t.table}`)).toEqual(Object.keys(before.digests));
    await expectUnchanged(target, before);
    expectNoSecrets(run);
  });

  it('parallel path succeeds end to end when nothing fails, keeping its pre-restore backup', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source, 3);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    const target = await createStagingTarget();
    const run = await restore(
      { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'parallel-threshold-mb': '0', jobs: '2' },
      bucket,
    );
    expect(failure(run)).toBe('');
    expect(run.outputs).toMatchObject({ 'backup-id': manifest.id, method: 'parallel', verified: 'true' });
    expect(run.outputs['pre-restore-backup-id']).toMatch(/-pre-restore-/);
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
    expect(run.summary).toContain(`pg_restore --jobs=2, after the pre-restore backup \`${run.outputs['pre-restore-backup-id']}\``);
  });
});

describe('verify after: row counts against the backup', () => {
  it.each([
    ['transactional', {}],
    ['parallel', { 'parallel-threshold-mb': '0', jobs: '2' }],
  ] as const)('%s path: a count that differs from the manifest fails the restore and leaves the target as it was', async (method, extra) => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    // The artifact is intact (its checksum still matches); only the recorded count disagrees with it.
    const key = `backups/production/${manifest.id}/manifest.json`;
    const edited: Manifest = JSON.parse((await getObjectBytes(bucket, key)).toString('utf8'));
    edited.database.tables = edited.database.tables!.map((t) => (t.table === 'events' ? { ...t, rows: t.rows + 1 } : t));
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(edited) }));

    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const run = await restore({ 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...extra }, bucket);
    expect(run.code).toBe(1);
    const message = failure(run);
    expect(message).toMatch(/lifeboat verification failed: the restored data does not match the backup's row counts \(1 problem\(s\)\): audit\.events has 200 rows, the backup recorded 201/);
    expect(message).toMatch(method === 'parallel' ? /rolled back to the pre-restore backup \S+-pre-restore-/ : /rolled back; the target is as it was/);
    await expectUnchanged(target, before);
  });
});

describe('pg_restore errors are failures, not warnings', () => {
  it('treats "errors ignored on restore: N" as failure even when pg_restore exits 0', () => {
    expect(pgRestoreFailed({ code: 0, stderr: 'pg_restore: warning: errors ignored on restore: 3\n' })).toBe(true);
    expect(pgRestoreFailed({ code: 1, stderr: '' })).toBe(true);
    expect(pgRestoreFailed({ code: 0, stderr: '' })).toBe(false);
  });

  /**
   * A pg_restore that does the real work, then claims it ignored errors and exits 0: when writing SQL
   * (`--file=-`, the transactional path) or when restoring into a database (`--dbname`, the parallel path).
   */
  function lyingPgRestore(when: '--file=-' | '--dbname='): string {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-fake-pg-'));
    const path = join(dir, 'pg_restore');
    const real = join(postgresInfo().binDir, 'pg_restore');
    writeFileSync(
      path,
      `#!/bin/sh
case " $* " in
  *" --version "*|*" --list "*|*" --use-list="*) exec "${real}" "$@" ;;
  *" ${when}"*) ;;
  *) exec "${real}" "$@" ;;
esac
"${real}" "$@" || exit $?
echo "pg_restore: warning: errors ignored on restore: 2" >&2
exit 0
`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  it.each([
    ['transactional', '--file=-', {}],
    ['parallel', '--dbname=', { 'parallel-threshold-mb': '0', jobs: '2' }],
  ] as const)('%s path: the step fails and the target is left as it was', async (method, when, extra) => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    await backup(source, bucket, 'production');
    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const run = await restore(
      { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, 'pg-restore-path': lyingPgRestore(when), ...extra },
      bucket,
    );
    expect(run.code).toBe(1);
    const message = failure(run);
    expect(message).toMatch(/It reported 2 error\(s\) it ignored, which Lifeboat treats as a failure/);
    expect(message).toMatch(method === 'parallel' ? /rolled back to the pre-restore backup/ : /rolled back; the target is as it was/);
    await expectUnchanged(target, before);
  });
});

describe('lifeboat restore (dist/cli)', () => {
  it('outside Actions, runs as the owner of --github-token and checks that person against the admin team', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backup(source, bucket, 'production');
    const target = await createStagingTarget();
    const before = await snapshotOf(target);
    const s3 = s3Info();
    const args = [
      'restore',
      '--source-space', 'production',
      '--target-space', 'staging',
      '--backup-bucket', bucket,
      '--s3-endpoint', s3.endpoint,
      '--s3-region', s3.region,
      '--policy-file', join(adminWorkspace, '.github', 'lifeboat.yml'),
    ];
    const env = { ...awsEnv(), GITHUB_API_URL: github.url, LIFEBOAT_DATABASE_URL: target };

    const noToken = await runCli(args, env);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/--github-token is empty/);
    await expectUnchanged(target, before);

    const outsider = await runCli(args, { ...env, LIFEBOAT_GITHUB_TOKEN: TOKENS.outsider });
    expect(outsider.code).toBe(1);
    expect(outsider.stderr).toMatch(/'mallory' is not a member of the admin team acme\/db-admins/);
    await expectUnchanged(target, before);

    const admin = await runCli([...args, '--json'], { ...env, LIFEBOAT_GITHUB_TOKEN: TOKENS.admin });
    expect(admin.stderr).not.toMatch(/lifeboat: /);
    expect(admin.code).toBe(0);
    expect(JSON.parse(admin.stdout)).toMatchObject({ backupId: manifest.id, method: 'transactional', verified: true });
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
    for (const run of [noToken, outsider, admin]) expectNoSecrets(run, TOKENS.admin, TOKENS.outsider);
  });
});
