/**
 * The demo: Lifeboat's main job on an embedded default. It starts its own throwaway PostgreSQL
 * and S3 server, creates a small sample application (database and media bucket), and runs the
 * same code the actions run, through the same input parsing, printing what happens and the job
 * summaries. Everything is deleted at the end.
 *
 *   npm run demo
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { getBackupOptions } from '../src/actions/backup/inputs.js';
import { getListInputs } from '../src/actions/list/inputs.js';
import { getPruneInputs } from '../src/actions/prune/inputs.js';
import { getRestoreOptions } from '../src/actions/restore/inputs.js';
import { runBackup } from '../src/engine/backup/backup.js';
import { errorMessage } from '../src/engine/errors.js';
import { runList } from '../src/engine/list/list.js';
import { consoleLogger } from '../src/engine/logger.js';
import { loadPolicy } from '../src/engine/policy-file.js';
import { runPrune } from '../src/engine/prune/prune.js';
import { runRestore } from '../src/engine/restore/restore.js';
import { createS3Client } from '../src/engine/s3/client.js';
import { backupSummary, listSummary, pruneSummary, restoreSummary } from '../src/engine/summaries.js';
import { startPostgresCluster } from '../src/sandbox/postgres-cluster.js';
import { createSampleApp } from '../src/sandbox/sample-app.js';
import { startS3Server } from '../src/sandbox/s3-server.js';

const log = consoleLogger({ stream: process.stdout });
const say = (text: string) => process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
const show = (markdown: string) => process.stdout.write('\n' + markdown.replace(/^/gm, '  ') + '\n');

async function seedMedia(client: S3Client, bucket: string) {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 1; i <= 40; i++) {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `uploads/2026/submission-${i}/form ${i}.pdf`,
        Body: `%PDF-1.7 submission ${i} `.repeat(200),
        ContentType: 'application/pdf',
        Metadata: { 'uploaded-by': `user-${i % 7}` },
      }),
    );
  }
}

async function main() {
  say('Starting a throwaway PostgreSQL cluster and a local S3 server …');
  const postgres = await startPostgresCluster();
  const s3 = await startS3Server();
  const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-demo-')); // no policy file here: the default (FAC) policy applies
  try {
    log.info(`PostgreSQL ${postgres.major} on 127.0.0.1:${postgres.port}; S3 at ${s3.endpoint}`);
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const client = createS3Client({ bucket: 'x', prefix: '', endpoint: s3.endpoint, region: s3.region, credentials });
    await client.send(new CreateBucketCommand({ Bucket: 'demo-backups' }));
    await seedMedia(client, 'production-media');
    await client.send(new CreateBucketCommand({ Bucket: 'staging-media' }));
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    for (const db of ['app_production', 'app_staging', 'app_dev']) await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const productionUrl = postgres.urlFor('app_production');
    const stagingUrl = postgres.urlFor('app_staging');
    await createSampleApp(productionUrl, 5);
    await createSampleApp(stagingUrl, 1);
    await createSampleApp(postgres.urlFor('app_dev'), 1);

    // The inputs a workflow would give the actions, read through the actions' own input parsing.
    const inputs = (extra: Record<string, string>) => (name: string) =>
      ({ 'backup-bucket': 'demo-backups', 's3-endpoint': s3.endpoint, 'aws-access-key-id': s3.accessKeyId, 'aws-secret-access-key': s3.secretAccessKey, ...extra })[name];
    const env = { ...process.env, GITHUB_WORKSPACE: workspace };

    say('1. Pre-deploy backup of production: the database and its media bucket');
    const predeploy = await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'predeploy', 'database-url': productionUrl, 'media-bucket': 'production-media' })), log);
    show(backupSummary(predeploy));

    say('2. Nightly backups. Production\'s media changed by one file since: only that file is copied.');
    await client.send(new PutObjectCommand({ Bucket: 'production-media', Key: 'uploads/2026/submission-1/form 1.pdf', Body: '%PDF-1.7 corrected', ContentType: 'application/pdf' }));
    const nightly = await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'nightly', 'database-url': productionUrl, 'media-bucket': 'production-media' })), log);
    show(backupSummary(nightly));
    await runBackup(getBackupOptions(inputs({ space: 'dev', trigger: 'nightly', 'database-url': postgres.urlFor('app_dev') })), log);

    say('3. A backup that fails: the password is wrong. Nothing is written, and the password is not shown.');
    try {
      await runBackup(getBackupOptions(inputs({ space: 'production', 'database-url': postgres.urlFor('app_production', 'postgres', 'not-the-password') })), log);
    } catch (error) {
      log.info(`failed as it should: ${errorMessage(error)}`);
    }

    say('4. List: what can be restored, newest first (with details: database size and media counts)');
    const { bucket, filter } = getListInputs(inputs({ details: 'true' }));
    const listed = await runList(bucket, filter, { details: true });
    show(listSummary({ backups: listed.backups, latestPerSpace: listed.latestPerSpace, filterText: '', details: listed.details }));

    say('5. A refused restore: dev → production is not in the restore matrix. Nothing is read or changed.');
    try {
      await runRestore(getRestoreOptions(inputs({ 'source-space': 'dev', 'target-space': 'production', 'database-url': productionUrl }), env), log);
    } catch (error) {
      log.info(`refused as it should: ${errorMessage(error)}`);
    }

    say('6. The daily production → staging sync (an automated, scheduled restore) of the latest production backup');
    await client.send(new PutObjectCommand({ Bucket: 'staging-media', Key: 'only-in-staging.txt', Body: 'removed by the restore' }));
    const syncEnv = { ...env, GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]' };
    const restored = await runRestore(
      getRestoreOptions(inputs({ 'source-space': 'production', 'target-space': 'staging', 'database-url': stagingUrl, 'media-bucket': 'staging-media' }), syncEnv),
      log,
    );
    show(restoreSummary(restored));

    say('7. Prune with the default retention rules, ten days later: first a dry run, then for real');
    await client.send(new DeleteObjectCommand({ Bucket: 'production-media', Key: 'uploads/2026/submission-2/form 2.pdf' }));
    const later = new Date(Date.now() + 10 * 86_400_000).toISOString();
    // A fresh nightly of production at that time, as the nightly workflow would have made.
    await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'nightly', 'database-url': productionUrl, 'media-bucket': 'production-media' }), { ...env, LIFEBOAT_NOW: later }), log);
    const pruneInputs = getPruneInputs(inputs({ 'dry-run': 'true' }));
    const policy = loadPolicy(undefined, log, workspace);
    const dryRun = await runPrune({ ...pruneInputs, policy, env: { ...env, LIFEBOAT_NOW: later } }, log);
    show(pruneSummary(dryRun));
    const pruned = await runPrune({ ...pruneInputs, dryRun: false, policy, env: { ...env, LIFEBOAT_NOW: later } }, log);
    show(pruneSummary(pruned));
  } finally {
    await s3.stop();
    await postgres.stop();
    rmSync(workspace, { recursive: true, force: true });
    say('Done: the throwaway PostgreSQL and S3 server are stopped and deleted.');
  }
  process.stdout.write(
    [
      '',
      'Next step: protect your own application.',
      '  1. Copy .github/examples/predeploy-backup.yml and nightly-backup.yml into your repository\'s .github/workflows/.',
      '  2. Add the secrets they name (DATABASE_URL and the backup bucket\'s keys), or on cloud.gov a service account (docs/cloud-gov.md).',
      '  3. Run the nightly workflow by hand once, then read its job summary.',
      'The quick start in README.md walks through it; docs/runbook.md is the page for the day you need a restore.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
