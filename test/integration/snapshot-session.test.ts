/**
 * The snapshot session is part of the backup. Real server actions, against the action bundle:
 * a role with short server-side timeouts (as managed PostgreSQL sets them), pg_terminate_backend of
 * the session holding the snapshot, and an immediate shutdown of a throwaway cluster mid-dump. Each
 * ends whole (a good backup) or absent: `::error::`, no open upload, no manifest, never a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { awsEnv, createBucket, createDatabase, postgresInfo, s3Client, s3Info, startStep, uniqueName, withClient, type RunningStep } from '../support/harness.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';
const FILLER = `CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 20) AS body FROM generate_series(1, 100000) g`;

describe('the snapshot session', () => {
  // The backups talk to the sandbox's S3 server (s3rver or RGW) through a slow network; the test checks the
  // server directly.
  let slowS3: SlowProxy;
  let client: S3Client;
  let bucket: string;

  beforeAll(async () => {
    // Parts wait 300 ms each: the dump of ~60 MiB takes a few seconds, time for the fault to land mid-dump.
    slowS3 = await startSlowProxy(s3Info().endpoint, 300);
    client = s3Client();
    bucket = await createBucket('snapshots');
  });
  afterAll(async () => {
    await slowS3?.close();
  });

  const openUploads = async (prefix: string) => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? [];
  const keysUnder = async (prefix: string) => ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

  function startBackup(databaseUrl: string, prefix: string): RunningStep {
    return startStep(
      'backup',
      {
        space: 'production',
        'database-url': databaseUrl,
        'backup-bucket': bucket,
        'backup-prefix': prefix,
        's3-endpoint': slowS3.endpoint,
        's3-region': s3Info().region,
        compression: 'none',
        'part-size-mb': '5',
      },
      { env: awsEnv() },
    );
  }

  async function waitForUpload(step: RunningStep, prefix: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    // The dump's upload, not the write check that backup makes (and aborts) before it starts.
    while (!(await openUploads(prefix)).some((u) => u.Key?.endsWith('database.pgdump'))) {
      if (step.child.exitCode !== null || Date.now() > deadline) throw new Error('no upload opened');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function expectCleanFailure(step: RunningStep, prefix: string, cause: RegExp) {
    const run = await step.done;
    expect(run.everything).not.toMatch(/Unhandled 'error' event|Unhandled|at .*\.js:\d+/);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::lifeboat backup failed: /);
    expect(run.stdout).toMatch(cause);
    expect(await openUploads(prefix)).toEqual([]);
    expect((await keysUnder(prefix)).filter((k) => k.endsWith('manifest.json'))).toEqual([]);
  }

  it('survives a role whose server-side timeouts would end an idle snapshot session, and records the row counts', async () => {
    const database = await createDatabase('timeouts');
    const role = uniqueName('impatient').replace(/-/g, '_');
    await withClient(database, async (c) => {
      await c.query(FILLER);
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'impatient-pw'`);
      await c.query(`GRANT SELECT ON filler TO ${role}`);
      // As managed services set them: the snapshot session sits idle in its transaction for the whole dump.
      await c.query(`ALTER ROLE ${role} SET idle_in_transaction_session_timeout = '300ms'`);
      await c.query(`ALTER ROLE ${role} SET statement_timeout = '300ms'`);
    });
    const url = new URL(database);
    url.username = role;
    url.password = 'impatient-pw';
    const prefix = uniqueName('timeouts') + '/';
    const step = startBackup(url.toString(), prefix);
    const run = await step.done;
    expect(run.stdout).not.toMatch(/::error::/);
    expect(run.code).toBe(0);
    const manifestKey = (await keysUnder(prefix)).find((k) => k.endsWith('manifest.json'));
    expect(manifestKey).toBeDefined();
    const manifest = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))).Body!.transformToString());
    expect(manifest.database.tables).toEqual([{ schema: 'public', table: 'filler', rows: 100000 }]);
    expect(await openUploads(prefix)).toEqual([]);
  });

  it('fails cleanly when the session holding the snapshot is terminated mid-dump', async () => {
    const database = await createDatabase('terminated');
    await withClient(database, (c) => c.query(FILLER));
    const prefix = uniqueName('terminated') + '/';
    const step = startBackup(database, prefix);
    await waitForUpload(step, prefix);
    const { rows } = await withClient(postgresInfo().url, (c) =>
      c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lifeboat' AND datname = $1`, [new URL(database).pathname.slice(1)]),
    );
    expect(rows).toHaveLength(1);
    await expectCleanFailure(step, prefix, /The database session holding the backup's snapshot ended: the session was terminated/);
  });

  it('fails cleanly when the server shuts down immediately mid-dump', async () => {
    let cluster: PostgresCluster | undefined;
    try {
      cluster = await startPostgresCluster();
      await withClient(cluster.url, (c) => c.query(FILLER));
      const prefix = uniqueName('shutdown') + '/';
      const step = startBackup(cluster.url, prefix);
      await waitForUpload(step, prefix);
      await cluster.shutDownImmediately();
      await expectCleanFailure(step, prefix, /terminat|shut down|connection/i);
    } finally {
      await cluster?.stop();
    }
  });
});
