/**
 * A failed backup never looks like a good one: no manifest, no open multipart upload, and the
 * cause (with pg_dump's own stderr) in the error, free of secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, listKeys, openMultipartUploads, postgresInfo, runActionBundle, s3Info, visibleOutput, withClient } from '../support/harness.js';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.js';

describe('failed backups', () => {
  // A slow network in front of the test S3 server, so that the upload is still running when the connection drops.
  let slowS3: SlowProxy;
  beforeAll(async () => {
    slowS3 = await startSlowProxy(s3Info().endpoint, 300);
  });
  afterAll(async () => {
    await slowS3?.close();
  });

  it('aborts the multipart upload and writes no manifest when the connection drops mid-dump', async () => {
    const source = await createDatabase('big');
    // About 60 MiB of dump output, so the upload is multipart and still running when the connection drops.
    await withClient(source, (c) =>
      c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 20) AS body FROM generate_series(1, 100000) g`),
    );
    const slow = await createBucket('slow');
    const { region, accessKeyId, secretAccessKey } = s3Info();
    const client = new S3Client({
      endpoint: slowS3.endpoint, region, forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const log = memoryLogger();
    const backup = runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: source, compression: 'none', rowCounts: true, progressIntervalMs: 100,
        bucket: { bucket: slow, prefix: '', endpoint: slowS3.endpoint, region, credentials: { accessKeyId, secretAccessKey } },
        upload: { partSize: 5 * 1024 * 1024, queueSize: 2 },
      },
      log,
    );
    const outcome = backup.then(() => 'succeeded', (error: Error) => error);

    // Wait until the multipart upload is under way, then cut pg_dump's connection.
    const deadline = Date.now() + 20_000;
    while (((await client.send(new ListMultipartUploadsCommand({ Bucket: slow }))).Uploads ?? []).length === 0) {
      if (Date.now() > deadline) throw new Error('the multipart upload never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    const { rows } = await withClient(postgresInfo().url, (c) =>
      c.query(`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'lifeboat-pg_dump' AND datname = $1`, [new URL(source).pathname.slice(1)]),
    );
    expect(rows.length).toBe(1);

    const error = await outcome;
    // While it ran, progress lines gave the bytes so far and the rate.
    expect(log.lines.some((line) => /^… [\d.]+ (B|KiB|MiB) dumped, [\d.]+ (B|KiB|MiB) stored, [\d.]+ (B|KiB|MiB)\/s after \d+ s$/.test(line))).toBe(true);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/pg_dump (exited with code|was killed)/);
    expect((error as Error).message).toMatch(/pg_dump said:[\s\S]*(terminat|connection)/i);
    expect((error as Error).message).not.toContain(postgresInfo().password);
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: slow }))).Uploads ?? []).toEqual([]);
    const keys = (await client.send(new ListObjectsV2Command({ Bucket: slow }))).Contents ?? [];
    expect(keys.filter((k) => k.Key!.endsWith('manifest.json'))).toEqual([]);
    expect(keys).toEqual([]);
  });

  it('fails with pg_dump\'s own error, writes nothing, when pg_dump cannot read a table', async () => {
    const source = await createDatabase('locked');
    const role = `reader_${Date.now()}`;
    const password = 'r3ader-Secret!';
    await withClient(source, async (c) => {
      await c.query(`CREATE TABLE hidden (id int)`);
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await c.query(`REVOKE ALL ON hidden FROM PUBLIC`);
    });
    const url = new URL(source);
    url.username = role;
    url.password = encodeURIComponent(password);
    const bucket = await createBucket();
    const run = await runActionBundle('backup', { space: 'dev', 'database-url': url.toString(), ...bucketInputs(bucket) }, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::lifeboat backup failed: pg_dump exited with code 1/);
    expect(run.stdout).toMatch(/permission denied for table hidden/);
    expect(await listKeys(bucket)).toEqual([]);
    expect(await openMultipartUploads(bucket)).toEqual([]);
    const visible = visibleOutput(run);
    expect(visible).not.toContain(password);
    expect(visible).not.toContain(encodeURIComponent(password));
  });
});

describe('bad input', () => {
  it.each([
    [{ space: '' }, /Input 'space' is required/],
    [{ space: 'Prod Space' }, /Input 'space' is 'Prod Space', which is not a valid space name/],
    [{ trigger: 'weekly' }, /Input 'trigger' is 'weekly'; it must be one of: predeploy, nightly, manual/],
    [{ compression: 'lz4' }, /Input 'compression' is 'lz4'; it must be one of: zstd, gzip, none/],
    [{ 'database-url': 'mysql://u:hunter2@h/db' }, /Input 'database-url' uses the scheme 'mysql'/],
    [{ 'database-url': 'not a url hunter2' }, /Input 'database-url' is not a valid URL/],
    [{ 'backup-bucket': '' }, /Input 'backup-bucket' is required/],
    [{ 'part-size-mb': '1' }, /Input 'part-size-mb' is '1'; it must be a number between 5 and 5120/],
    [{ 'aws-access-key-id': 'AKIA_ONLY' }, /'aws-access-key-id' and 'aws-secret-access-key' go together/],
  ])('%o is refused with a message naming the input', async (override, message) => {
    const bucket = await createBucket();
    const inputs = { space: 'dev', 'database-url': postgresInfo().url, ...bucketInputs(bucket), ...override };
    const run = await runActionBundle('backup', inputs, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(message);
    expect(visibleOutput(run)).not.toContain('hunter2');
    expect(await listKeys(bucket)).toEqual([]);
  });

  it('names the bucket input when the bucket does not exist', async () => {
    const run = await runActionBundle('backup', { space: 'dev', 'database-url': postgresInfo().url, ...bucketInputs('no-such-bucket-here') }, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Cannot use the bucket 'no-such-bucket-here' given in 'backup-bucket': it does not exist/);
  });

  it('says which database could not be reached, without its password', async () => {
    const url = new URL(postgresInfo().url);
    url.password = 'wrong-Passw0rd';
    const bucket = await createBucket();
    const run = await runActionBundle('backup', { space: 'dev', 'database-url': url.toString(), ...bucketInputs(bucket) }, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Cannot connect to the database 127\.0\.0\.1:\d+\/postgres given in 'database-url': .*password authentication failed/);
    const visible = visibleOutput(run);
    expect(visible).not.toContain('wrong-Passw0rd');
  });
});
