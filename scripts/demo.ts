/**
 * The demo: Lifeboat's main job on an embedded default. It starts its own throwaway PostgreSQL
 * and S3 server, creates a small sample application, and runs the same code the actions run,
 * through the same input parsing, printing what happens. Everything is deleted at the end.
 *
 *   npm run demo
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { getBackupOptions } from '../src/actions/backup/inputs.js';
import { getListInputs } from '../src/actions/list/inputs.js';
import { runBackup } from '../src/engine/backup.js';
import { runList } from '../src/engine/list.js';
import { consoleLogger } from '../src/engine/logger.js';
import { createS3Client } from '../src/engine/s3.js';
import { backupSummary, listSummary } from '../src/engine/summaries.js';
import { startPostgresCluster } from '../src/sandbox/postgres-cluster.js';
import { createSampleApp } from '../src/sandbox/sample-app.js';
import { startS3Server } from '../src/sandbox/s3-server.js';

const log = consoleLogger({ stream: process.stdout });
const say = (text: string) => process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
const show = (markdown: string) => process.stdout.write('\n' + markdown.replace(/^/gm, '  ') + '\n');

async function main() {
  say('Starting a throwaway PostgreSQL cluster and a local S3 server …');
  const postgres = await startPostgresCluster();
  const s3 = await startS3Server();
  try {
    log.info(`PostgreSQL ${postgres.major} on 127.0.0.1:${postgres.port}; S3 at ${s3.endpoint}`);
    const bucket = 'demo-backups';
    const s3Settings = { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
    await createS3Client(s3Settings).send(new CreateBucketCommand({ Bucket: bucket }));
    const productionUrl = postgres.urlFor('app_production');
    const devUrl = postgres.urlFor('app_dev');
    const admin = await import('pg').then(({ default: pg }) => new pg.Client({ connectionString: postgres.url }));
    await admin.connect();
    await admin.query('CREATE DATABASE app_production');
    await admin.query('CREATE DATABASE app_dev');
    await admin.end();
    await createSampleApp(productionUrl, 5);
    await createSampleApp(devUrl, 1);

    // The same inputs a workflow would give the action.
    const inputs = (extra: Record<string, string>) => (name: string) =>
      ({
        'backup-bucket': bucket,
        's3-endpoint': s3.endpoint,
        'aws-access-key-id': s3.accessKeyId,
        'aws-secret-access-key': s3.secretAccessKey,
        ...extra,
      })[name];

    say('1. Pre-deploy backup of production (trigger: predeploy)');
    const predeploy = await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'predeploy', 'database-url': productionUrl })), log);
    show(backupSummary(predeploy));

    say('2. Nightly backups of production and dev');
    const nightlyProduction = await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'nightly', 'database-url': productionUrl })), log);
    await runBackup(getBackupOptions(inputs({ space: 'dev', trigger: 'nightly', 'database-url': devUrl })), log);

    say('3. A backup that fails: the password is wrong. Nothing is written, and the password is not shown.');
    const wrong = postgres.urlFor('app_production', 'postgres', 'not-the-password');
    try {
      await runBackup(getBackupOptions(inputs({ space: 'production', trigger: 'manual', 'database-url': wrong })), log);
    } catch (error) {
      log.info(`refused as expected: ${(error as Error).message}`);
    }

    say('4. List: what can be restored, newest first');
    const { bucket: listBucket, filter } = getListInputs(inputs({}));
    const listed = await runList(listBucket, filter);
    show(listSummary(listed.backups, listed.latest, ''));
    log.info(`latest restorable production backup: ${(await runList(listBucket, { space: 'production' })).latest?.id}`);
    log.info(`(the nightly one just made: ${nightlyProduction.manifest.id})`);
  } finally {
    await s3.stop();
    await postgres.stop();
    say('Done: the throwaway PostgreSQL and S3 server are stopped and deleted.');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
