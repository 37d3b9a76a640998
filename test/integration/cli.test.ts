/**
 * The CLI bundle (dist/cli) as a person or a cron job runs it: help, version, usage errors and their
 * exit code, the Node.js version check, and an unattended production → staging sync (--automated)
 * against a real PostgreSQL cluster, a real S3 protocol server and a GitHub API double on loopback.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { schemaDump, tableDigests } from '../support/compare.js';
import { startGitHubApiDouble, type GitHubApiDouble } from '../support/github-api-double.js';
import { awsEnv, createBucket, createDatabase, postgresInfo, ROOT, runCli, s3Info, visibleOutput, withClient } from '../support/harness.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('lifeboat help, version and usage errors', () => {
  it('--help and help <command> show the flags with descriptions and defaults; exit 0', async () => {
    for (const args of [['backup', '--help'], ['help', 'backup'], ['backup', '--space', 'x', '-h']]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^lifeboat backup: /);
      expect(run.stdout).toMatch(/^ {2}--space <value> +required$/m);
      expect(run.stdout).toMatch(/^ {2}--compression <value> +default: zstd$/m);
      expect(run.stdout).toMatch(/^ {6}zstd \(default\), gzip or none\.$/m);
      expect(run.stdout).toMatch(/^ {2}--row-counts +default: true$/m);
      expect(run.stderr).toBe('');
    }
    const restore = await runCli(['restore', '--help']);
    expect(restore.stdout).toMatch(/^ {2}--automated$/m);
    const overview = await runCli(['--help']);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/^ {2}restore {2}Replace the target database/m);
    expect(overview.stdout).toMatch(/^Exit codes:$/m);
  });

  it('--version prints the package version; exit 0', async () => {
    const run = await runCli(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `lifeboat ${VERSION}\n`, stderr: '' });
  });

  it('a mistyped flag or command gets a suggestion and exit 2, and nothing runs', async () => {
    const flag = await runCli(['backup', '--space', 'production', '--bakup-bucket', 'b']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("lifeboat: Unknown flag --bakup-bucket for 'lifeboat backup'. Did you mean --backup-bucket?\nRun 'lifeboat backup --help' for help.\n");
    const command = await runCli(['restor']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^lifeboat: Unknown command 'restor'\. Did you mean restore\?/);
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: lifeboat <command>/);
  });

  it('a missing or malformed value is a usage error (exit 2) named by its flag', async () => {
    const missing = await runCli(['backup', '--database-url', 'postgres://u@127.0.0.1:1/x', '--backup-bucket', 'b']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^lifeboat: --space is required but was not given\. For example: --space production\n/);
    const malformed = await runCli(['backup', '--space', 'production', '--database-url', 'postgres://u@127.0.0.1:1/x', '--backup-bucket', 'b', '--compression', 'lz4']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^lifeboat: --compression is 'lz4'; it must be one of: zstd, gzip, none\.\n/);
    const fromEnv = await runCli(['backup', '--space', 'production', '--backup-bucket', 'b']);
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/--database-url is required but was not given\. For example: LIFEBOAT_DATABASE_URL="\$DATABASE_URL"/);
  });

  it('a failed operation exits 1, not 2', async () => {
    const run = await runCli(['list', '--backup-bucket', 'no-such-bucket', '--s3-endpoint', 'http://127.0.0.1:9'], awsEnv());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^lifeboat: Cannot use the bucket 'no-such-bucket' given in --backup-bucket: /m);
  });

  /** A Node.js older than 24 from the system, when the machine has one (Debian's is 20). */
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
    if (!existsSync(path)) return false;
    const major = Number(/^v(\d+)/.exec(execFileSync(path, ['--version'], { encoding: 'utf8' }))?.[1]);
    return major < 24;
  });

  it.skipIf(!oldNode)('on a Node.js too old it says which version it needs, and exits 2', () => {
    const version = execFileSync(oldNode!, ['--version'], { encoding: 'utf8' }).trim();
    for (const args of [['backup', '--space', 'production'], ['--version']]) {
      const run = spawnSync(oldNode!, [join(ROOT, 'dist', 'cli', 'index.js'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `lifeboat: Lifeboat needs Node.js 24 or newer, and this is Node.js ${version}. It is built and tested on Node.js 24 (the version its GitHub Actions run on), ` +
          "and its zstd compression needs node:zlib's zstd, which older versions lack (Node.js 20 has none). Install Node.js 24 (https://nodejs.org) and run lifeboat with it.\n",
      );
    }
  });
});

const TOKENS = { admin: 'ghp_cliAdminTokenReadOrg00000001', outsider: 'ghp_cliOutsiderTokenReadOrg0002' };

describe('lifeboat restore outside Actions: --automated', () => {
  let github: GitHubApiDouble;
  let policyFile: string;

  beforeAll(async () => {
    github = await startGitHubApiDouble({
      teams: { 'acme/db-admins': { alice: 'active' } },
      tokens: { [TOKENS.admin]: { login: 'alice', readOrg: true }, [TOKENS.outsider]: { login: 'mallory', readOrg: true } },
    });
    // The default matrix (production → staging automated; dev → preview manual) with an admin team.
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-ws-'));
    mkdirSync(join(dir, '.github'));
    policyFile = join(dir, '.github', 'lifeboat.yml');
    writeFileSync(policyFile, 'admin-team: acme/db-admins\n');
  });

  afterAll(async () => {
    await github?.close();
  });

  /** The environment of a cron job: credentials in LIFEBOAT_* and AWS_* variables, no GITHUB_* at all. */
  function cronEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
    return { ...awsEnv(), GITHUB_API_URL: github.url, LIFEBOAT_DATABASE_URL: databaseUrl, LIFEBOAT_POLICY_FILE: policyFile, ...extra };
  }

  function bucketFlags(bucket: string): string[] {
    return ['--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint, '--s3-region', s3Info().region];
  }

  async function snapshotOf(url: string) {
    return { digests: await tableDigests(url), schema: schemaDump(url) };
  }

  function expectNoSecrets(run: { everything: string }) {
    for (const secret of [postgresInfo().password, ...Object.values(TOKENS)]) expect(visibleOutput(run)).not.toContain(secret);
  }

  it('a cron-style nightly backup and production → staging sync succeed with --automated and no token', async () => {
    const production = await createDatabase('production');
    await createSampleApp(production);
    const staging = await createDatabase('staging');
    await createSampleApp(staging, 2);
    await withClient(staging, (c) => c.query(`UPDATE app.organizations SET name = name || ' (staging copy)'`));
    const bucket = await createBucket();

    const backup = await runCli(['backup', '--space', 'production', '--trigger', 'nightly', ...bucketFlags(bucket)], cronEnv(production));
    expect(backup.stderr).not.toMatch(/^lifeboat: /m);
    expect(backup.code).toBe(0);
    const backupId = backup.stdout.trim();

    const requestsBefore = github.requests.length;
    const sync = await runCli(['restore', '--source-space', 'production', '--target-space', 'staging', '--automated', '--json', ...bucketFlags(bucket)], cronEnv(staging));
    expect(sync.stderr).not.toMatch(/^lifeboat: /m);
    expect(sync.code).toBe(0);
    expect(JSON.parse(sync.stdout)).toMatchObject({ backupId, sourceSpace: 'production', targetSpace: 'staging', verified: true });
    expect(sync.stderr).toContain('Restore production → staging allowed (keep staging in sync; automated by --automated).');
    expect(await tableDigests(staging)).toEqual(await tableDigests(production));
    // An automated pair needs no team check: GitHub was not asked anything.
    expect(github.requests.length).toBe(requestsBefore);

    // The same sync without --automated is a manual restore: the admin team check applies.
    const before = await snapshotOf(staging);
    const manual = await runCli(['restore', '--source-space', 'production', '--target-space', 'staging', ...bucketFlags(bucket)], cronEnv(staging));
    expect(manual.code).toBe(1);
    expect(manual.stderr).toMatch(/checking membership needs a GitHub token that can read the team, but --github-token is empty\./);
    expect((await snapshotOf(staging)).digests).toEqual(before.digests);
    for (const run of [backup, sync, manual]) expectNoSecrets(run);
  });

  it('a manual pair keeps its team check: --automated is refused for it, and a person must be on the team', async () => {
    const dev = await createDatabase('dev');
    await createSampleApp(dev);
    const preview = await createDatabase('preview');
    await createSampleApp(preview, 2);
    const bucket = await createBucket();
    const backup = await runCli(['backup', '--space', 'dev', ...bucketFlags(bucket)], cronEnv(dev));
    expect(backup.code).toBe(0);
    const before = await snapshotOf(preview);
    const args = ['restore', '--source-space', 'dev', '--target-space', 'preview', ...bucketFlags(bucket)];

    const requestsBefore = github.requests.length;
    const declared = await runCli([...args, '--automated'], cronEnv(preview, { LIFEBOAT_GITHUB_TOKEN: TOKENS.admin }));
    expect(declared.code).toBe(1);
    expect(declared.stderr).toMatch(
      /^lifeboat: Restore refused: --automated was given, but the policy marks the restore dev → preview \(testing\) as one a person starts: --automated is honoured only for pairs marked 'automated: true'\. To fix: Run it without --automated, as a member of the admin team acme\/db-admins/m,
    );
    // Refused on the policy alone, before asking GitHub anything.
    expect(github.requests.length).toBe(requestsBefore);
    await expect(snapshotOf(preview)).resolves.toEqual(before);

    const outsider = await runCli(args, cronEnv(preview, { LIFEBOAT_GITHUB_TOKEN: TOKENS.outsider }));
    expect(outsider.code).toBe(1);
    expect(outsider.stderr).toMatch(/'mallory' is not a member of the admin team acme\/db-admins/);
    await expect(snapshotOf(preview)).resolves.toEqual(before);

    const admin = await runCli(args, cronEnv(preview, { LIFEBOAT_GITHUB_TOKEN: TOKENS.admin }));
    expect(admin.stderr).not.toMatch(/^lifeboat: /m);
    expect(admin.code).toBe(0);
    expect(admin.stderr).toContain("Outside GitHub Actions: the restore is run by 'alice', the owner of --github-token.");
    expect(await tableDigests(preview)).toEqual(await tableDigests(dev));
    for (const run of [backup, declared, outsider, admin]) expectNoSecrets(run);
  });
});
