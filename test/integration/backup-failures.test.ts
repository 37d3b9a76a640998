/**
 * A failed backup never looks like a good one: no manifest, no open multipart upload, and the
 * cause (with pg_dump's own stderr) in the error, free of secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/sandbox/postgres-cluster.js';
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

    // Wait until the dump's multipart upload is under way, then cut pg_dump's connection. Not the upload of the
    // write check that backup makes (and aborts) before the dump: RGW lists that one long enough to be seen,
    // and cutting the connection then would end the run before its first progress line.
    const deadline = Date.now() + 20_000;
    while (!((await client.send(new ListMultipartUploadsCommand({ Bucket: slow }))).Uploads ?? []).some((u) => u.Key?.endsWith('database.pgdump'))) {
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

  it('refuses a role that cannot read a table before the dump, naming the table and the grant, and writes nothing', async () => {
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
    // Refused before pg_dump starts, naming the table, the privilege and the fix, not "could not import the requested snapshot".
    expect(run.stdout).toMatch(new RegExp(`::error::lifeboat backup failed: The database role "${role}" given in 'database-url' cannot read everything the backup must dump; it lacks SELECT on table "public"\\."hidden"\\. Grant it, e\\.g\\. GRANT USAGE ON SCHEMA "public"`));
    expect(run.stdout).not.toMatch(/could not import the requested snapshot/);
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
    [{ 'progress-interval-seconds': '1e9' }, /Input 'progress-interval-seconds' is '1e9'; it must be a number between 1 and 3600/],
    [{ 'progress-interval-seconds': '0' }, /Input 'progress-interval-seconds' is '0'; it must be a number between 1 and 3600/],
    [{ 'database-url': 'postgres://u:hunter2%zz@127.0.0.1/db' }, /Input 'database-url' has a malformed percent-encoding in its password: .*Write a literal '%25' as %2525/ /* '%' is %25 in a workflow command */],
    [{ 'database-url': 'postgres://u:hunter2@127.0.0.1/db?sslmod=require' }, /Input 'database-url' has the parameter 'sslmod', which Lifeboat does not know\. Remove it, or use one of: /],
    [{ 'pg-dump-path': '/nonexistent/pg_dump' }, /Input 'pg-dump-path' is '\/nonexistent\/pg_dump', which does not exist\. Give the path of pg_dump itself .*or leave 'pg-dump-path' empty/],
  ])('%o is refused with a message naming the input', async (override, message) => {
    const bucket = await createBucket();
    const inputs = { space: 'dev', 'database-url': postgresInfo().url, ...bucketInputs(bucket), ...override };
    const run = await runActionBundle('backup', inputs, awsEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(message);
    expect(visibleOutput(run)).not.toContain('hunter2');
    expect(await listKeys(bucket)).toEqual([]);
    expect(await openMultipartUploads(bucket)).toEqual([]);
  });

  /** A backup refused with `message`: exit 1, the message, and nothing in the bucket, not even an open upload. */
  async function expectRefused(override: Record<string, string>, message: RegExp, env: Record<string, string> = {}) {
    const bucket = await createBucket();
    const inputs = { space: 'dev', 'database-url': postgresInfo().url, ...bucketInputs(bucket), ...override };
    const run = await runActionBundle('backup', inputs, { ...awsEnv(), ...env });
    expect(run.code, run.stdout).toBe(1);
    expect(run.stdout).toMatch(message);
    expect(visibleOutput(run)).not.toContain(postgresInfo().password);
    expect(await listKeys(bucket)).toEqual([]);
    expect(await openMultipartUploads(bucket)).toEqual([]);
    return run;
  }

  const withDatabase = (change: (url: URL) => void) => {
    const url = new URL(postgresInfo().url);
    change(url);
    return { 'database-url': url.toString() };
  };

  it('names the database and how to fix it when it does not exist', async () => {
    await expectRefused(
      withDatabase((u) => (u.pathname = '/no_such_db')),
      /Cannot connect to the database 127\.0\.0\.1:\d+\/no_such_db given in 'database-url': .*The database 'no_such_db' does not exist on that server: check the database name at the end of 'database-url'/,
    );
  });

  it('says to check the host and port when nothing listens there', async () => {
    const port = await freePort();
    await expectRefused(withDatabase((u) => (u.port = String(port))), /ECONNREFUSED.*check the host and port in 'database-url', and that the server is running/);
  });

  it('says to check the host when its name does not resolve', async () => {
    await expectRefused(withDatabase((u) => (u.hostname = 'no-such-host.invalid')), /host name cannot be resolved \((ENOTFOUND|EAI_AGAIN)\).*check the host and port in 'database-url'/);
  });

  it('refuses psql given as pg-dump-path, saying what it is', async () => {
    await expectRefused({ 'pg-dump-path': `${postgresInfo().binDir}/psql` }, /Input 'pg-dump-path' is '[^']*\/psql', which is not pg_dump: its --version says 'psql \(PostgreSQL\)[^']*'\. Give the path of pg_dump itself/);
  });

  it('refuses a media bucket that does not exist before the dump', async () => {
    await expectRefused({ 'media-bucket': 'no-such-media-bucket' }, /Cannot read the bucket given in 'media-bucket': the bucket 'no-such-media-bucket' does not exist there\. Check 'media-bucket'.*Nothing was written/);
  });

  // s3rver does not check SigV4 signatures, so a wrong secret passes it; a wrong key id it does refuse.
  // (The SignatureDoesNotMatch mapping is unit-tested in test/unit/preflight.test.ts.)
  it('refuses wrong media credentials before the dump', async () => {
    const media = await createBucket('media');
    await expectRefused(
      { 'media-bucket': media, 'media-aws-access-key-id': 'AKIAWRONGMEDIAKEY', 'media-aws-secret-access-key': 'wrong-media-secret' },
      /Cannot read the bucket given in 'media-bucket': the store does not know the access key id\. Check 'media-aws-access-key-id'.*Nothing was written/,
    );
  });

  it('refuses an unreachable media endpoint before the dump', async () => {
    const media = await createBucket('media');
    const port = await freePort();
    await expectRefused(
      { 'media-bucket': media, 'media-s3-endpoint': `http://127.0.0.1:${port}` },
      /Cannot read the bucket given in 'media-bucket': the store cannot be reached: nothing accepts connections there \(ECONNREFUSED\)\. Check 'media-s3-endpoint'/,
    );
  });

  it('refuses an unreachable cf-api, naming the input and the fix', async () => {
    const port = await freePort();
    await expectRefused(
      {
        'backup-bucket': '', 's3-endpoint': s3Info().endpoint, binding: 'cloudfoundry', 'cf-api': `http://127.0.0.1:${port}`, 'cf-username': 'svc',
        'cf-password': 'cf-pass-hunter2', 'cf-org': 'org', 'cf-space': 'space', 'cf-service-instance': 'backups',
      },
      /Cannot reach the Cloud Foundry API at http:\/\/127\.0\.0\.1:\d+ given in 'cf-api': nothing accepts connections there \(ECONNREFUSED\)\. Check 'cf-api'/,
      { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
    );
  });

  it('refuses a policy-file that is a directory, naming the input, and deletes nothing', async () => {
    const bucket = await createBucket();
    const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));
    mkdirSync(join(workspace, 'policies'));
    const run = await runActionBundle('prune', { ...bucketInputs(bucket), 'policy-file': 'policies' }, { ...awsEnv(), GITHUB_WORKSPACE: workspace });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Input 'policy-file' is 'policies', but \S+policies is a directory\. Give the path of the YAML file itself/);
    expect(run.stdout).not.toMatch(/EISDIR/);
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
    expect(run.stdout).toMatch(/Cannot connect to the database 127\.0\.0\.1:\d+\/postgres given in 'database-url': .*password authentication failed.*Check the user 'postgres' and the password in 'database-url'/);
    const visible = visibleOutput(run);
    expect(visible).not.toContain('wrong-Passw0rd');
  });
});
