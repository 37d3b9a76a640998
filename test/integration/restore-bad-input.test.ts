/**
 * Restore's tool inputs, refused early and clearly: a pg-restore-path that does not exist, or that is
 * another tool (psql answers --version too). The target is left byte for byte as it was.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { schemaDump, tableDigests } from '../support/compare.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, postgresInfo, runActionBundle, s3Info, withClient } from '../support/harness.js';

describe('restore bad input', () => {
  let bucket: string;
  let target: string;
  const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));

  beforeAll(async () => {
    const source = await createDatabase('rbi_src');
    await withClient(source, (c) => c.query(`CREATE TABLE notes AS SELECT g AS id FROM generate_series(1, 10) g`));
    target = await createDatabase('rbi_dst');
    await withClient(target, (c) => c.query(`CREATE TABLE keep_me AS SELECT g AS id FROM generate_series(1, 5) g`));
    bucket = await createBucket();
    const s3 = s3Info();
    await runBackup(
      {
        space: 'dev', trigger: 'nightly', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
        bucket: { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
      },
      memoryLogger(),
    );
  });

  it.each([
    ['/nonexistent/pg_restore', /Input 'pg-restore-path' is '\/nonexistent\/pg_restore', which does not exist\. Give the path of pg_restore itself .*or leave 'pg-restore-path' empty/],
    ['psql', /Input 'pg-restore-path' is '[^']*\/psql', which is not pg_restore: its --version says 'psql \(PostgreSQL\)[^']*'\. Give the path of pg_restore itself/],
  ])('refuses pg-restore-path %s, naming the input and the fix, with the target unchanged', async (path, message) => {
    const before = { digests: await tableDigests(target), schema: schemaDump(target) };
    const run = await runActionBundle(
      'restore',
      { 'source-space': 'dev', 'target-space': 'dev', 'database-url': target, ...bucketInputs(bucket), 'pg-restore-path': path === 'psql' ? `${postgresInfo().binDir}/psql` : path },
      { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_WORKSPACE: workspace },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(message);
    expect(await tableDigests(target)).toEqual(before.digests);
    expect(schemaDump(target)).toEqual(before.schema);
  });
});
