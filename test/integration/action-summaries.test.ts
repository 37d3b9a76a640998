/**
 * Every action writes a job summary when it fails or is refused, as it does when it succeeds: the
 * bundles are run as the runner runs them, and the GITHUB_STEP_SUMMARY file must hold the ❌ status
 * line and the cause and fix as plain text in a CAUTION alert. And the list's summary shows each
 * space's own latest restorable backup.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { freePort } from '../../src/sandbox/postgres-cluster.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, runActionBundle, s3Info } from '../support/harness.js';

const GITHUB = { GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '7' };
const workspace = mkdtempSync(join(tmpdir(), 'ws-'));

/** The alert as the summary has it: its cause and fix lines, unescaped. */
function caution(summary: string): { cause: string; fix: string } {
  const match = /\n> \[!CAUTION\]\n> \*\*Cause( 1)?:\*\* (.+)\n>\n> \*\*Fix( 1)?:\*\* (.+)/.exec(summary);
  expect(match, summary).not.toBeNull();
  const plain = (s: string) => s.replace(/\\(.)/g, '$1');
  return { cause: plain(match![2]!), fix: plain(match![4]!) };
}

describe('a failed or refused action writes a summary with the cause and the fix', () => {
  it('backup: the database cannot be reached', async () => {
    const bucket = await createBucket('sum');
    const password = 'summary-secret-pw';
    const run = await runActionBundle(
      'backup',
      { ...bucketInputs(bucket), space: 'production', 'database-url': `postgres://app:${password}@127.0.0.1:${await freePort()}/app` },
      { ...awsEnv(), ...GITHUB },
    );
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/^## ❌ Lifeboat backup of production: failed\n/);
    const { cause, fix } = caution(run.summary);
    expect(cause).toMatch(/^Cannot connect to the database 127\.0\.0\.1:\d+\/app given in 'database-url': .*\(ECONNREFUSED\).*check the host and port in 'database-url'/);
    expect(fix).not.toBe('');
    expect(run.summary).not.toContain(password);
  });

  it('restore: refused by the policy, nothing touched', async () => {
    const bucket = await createBucket('sum');
    const run = await runActionBundle(
      'restore',
      { ...bucketInputs(bucket), 'source-space': 'dev', 'target-space': 'production', 'database-url': await createDatabase('target') },
      { ...awsEnv(), ...GITHUB, GITHUB_WORKSPACE: workspace },
    );
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/^## ❌ Lifeboat restore dev → production: refused\n/);
    const { cause, fix } = caution(run.summary);
    expect(cause).toContain("The policy does not allow restoring from 'dev' to 'production'");
    expect(fix).not.toBe('');
    expect(run.summary).not.toContain('```');
  });

  it('list: the bucket does not exist', async () => {
    const run = await runActionBundle('list', bucketInputs('no-such-bucket-for-summaries'), { ...awsEnv(), ...GITHUB });
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/^## ❌ Lifeboat list: failed\n/);
    const { cause, fix } = caution(run.summary);
    expect(cause).toContain("'no-such-bucket-for-summaries' given in 'backup-bucket'");
    expect(fix).toMatch(/^Check 'backup-bucket'/);
  });

  it('prune: the policy file named does not exist', async () => {
    const bucket = await createBucket('sum');
    const run = await runActionBundle('prune', { ...bucketInputs(bucket), 'policy-file': 'missing/lifeboat.yml' }, { ...awsEnv(), ...GITHUB, GITHUB_WORKSPACE: workspace });
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/^## ❌ Lifeboat prune of every space: failed\n/);
    const { cause, fix } = caution(run.summary);
    expect(cause).toMatch(/^Input 'policy-file' is 'missing\/lifeboat\.yml', but there is no file at /);
    expect(fix).toMatch(/^Check the path, or remove the input/);
  });
});

describe('list summary', () => {
  it("shows each space's own latest restorable backup, and one size for a backup everywhere", async () => {
    const bucket = await createBucket('sum');
    const { endpoint, region, accessKeyId, secretAccessKey } = s3Info();
    const settings = { bucket, prefix: '', endpoint, region, credentials: { accessKeyId, secretAccessKey } };
    const backup = async (space: string) =>
      runBackup({ space, trigger: 'nightly', databaseUrl: await createDatabase(space), bucket: settings, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 }, memoryLogger());
    const production = await backup('production');
    const staging = await backup('staging');
    const run = await runActionBundle('list', bucketInputs(bucket), { ...awsEnv(), ...GITHUB });
    expect(run.code).toBe(0);
    expect(run.summary).toMatch(/^## ✅ Lifeboat backups: 2 restorable backups\n/);
    const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
    expect(run.summary).toContain(`| production | \`${production.manifest.id}\` | just now | ${size(production.storedBytes)} |`);
    expect(run.summary).toContain(`| staging | \`${staging.manifest.id}\` | just now | ${size(staging.storedBytes)} |`);
    const listed = JSON.parse(run.outputs.backups!) as { id: string; sizeBytes: number }[];
    expect(listed.find((b) => b.id === production.manifest.id)!.sizeBytes).toBe(production.storedBytes);
  });
});
