/**
 * `latest` means the newest backup whose manifest is valid, in list and in restore: a newer backup with
 * a corrupt or wrong-schema manifest is reported, never chosen.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests } from '../support/compare.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, getObjectBytes, runActionBundle, runCli, s3Client, s3Info, withClient } from '../support/harness.js';

async function backupAt(url: string, bucket: string, at: string): Promise<string> {
  const s3 = s3Info();
  const result = await runBackup(
    {
      space: 'production', trigger: 'nightly', databaseUrl: url, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
      bucket: { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
      env: { ...process.env, LIFEBOAT_NOW: at },
    },
    memoryLogger(),
  );
  return result.manifest.id;
}

const manifestKey = (id: string) => `backups/production/${id}/manifest.json`;

describe('latest skips backups whose manifest is invalid', () => {
  it('list marks a corrupt and a wrong-schema newest manifest invalid, and restore latest restores the previous good backup, saying why', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const good = await backupAt(source, bucket, '2026-11-01T02:00:00Z');
    const goodState = await tableDigests(source);
    await withClient(source, (c) => c.query(`DELETE FROM audit.events WHERE id > 100`));
    const wrongSchema = await backupAt(source, bucket, '2026-11-02T02:00:00Z');
    const corrupt = await backupAt(source, bucket, '2026-11-03T02:00:00Z');
    // Newest: not JSON at all. Next: JSON, but not a lifeboat-manifest/1 (a required field is gone).
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(corrupt), Body: '{"format": "lifeboat-manifest/1", "id": ' }));
    const edited = JSON.parse((await getObjectBytes(bucket, manifestKey(wrongSchema))).toString('utf8'));
    delete edited.artifacts;
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(wrongSchema), Body: JSON.stringify(edited) }));

    const listed = await runActionBundle('list', { ...bucketInputs(bucket), space: 'production' }, awsEnv());
    expect(listed.code, listed.stdout).toBe(0);
    expect(listed.outputs.latest).toBe(good);
    const backups = JSON.parse(listed.outputs.backups!) as { id: string; status: string; problem?: string }[];
    expect(backups.map((b) => [b.id, b.status])).toEqual([
      [corrupt, 'invalid'],
      [wrongSchema, 'invalid'],
      [good, 'complete'],
    ]);
    expect(backups[0]!.problem).toMatch(/is not valid JSON/);
    expect(backups[1]!.problem).toMatch(/does not match lifeboat-manifest\/1: .*artifacts/);
    expect(listed.summary).toContain(`| production | \`${good}\` | `);
    expect(listed.summary).toContain('<details><summary>Invalid backups (2)</summary>');
    expect(listed.stdout).toMatch(new RegExp(`::warning::Backup ${corrupt.replace(/\./g, '\\.')} of 'production' is not restorable`));

    const s3 = s3Info();
    const cli = await runCli(['list', '--backup-bucket', bucket, '--s3-endpoint', s3.endpoint, '--s3-region', s3.region, '--json'], awsEnv());
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).latest).toBe(good);

    const target = await createDatabase('staging');
    await createSampleApp(target, 2);
    const run = await runActionBundle(
      'restore',
      { ...bucketInputs(bucket), 'source-space': 'production', 'target-space': 'staging', 'database-url': target },
      { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) },
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs['backup-id']).toBe(good);
    expect(await tableDigests(target)).toEqual(goodState);
    expect(run.stdout).toMatch(new RegExp(`::warning::Skipping backup ${corrupt.replace(/\./g, '\\.')}, newer than the one restored: its manifest is invalid.*not valid JSON`));
    expect(run.stdout).toMatch(new RegExp(`::warning::Skipping backup ${wrongSchema.replace(/\./g, '\\.')}, newer than the one restored: its manifest is invalid.*does not match`));
    expect(run.stdout).toContain(`with a valid manifest: ${good} (the newer ${corrupt}, ${wrongSchema} have an invalid manifest)`);
  });
});

describe('the media copy of a backup takes its base from the newest valid manifest', () => {
  it('a broken newest manifest does not make the next backup read every media object again', async () => {
    const s3 = s3Info();
    const settings = (bucket: string) => ({ bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const database = await createDatabase('production');
    const media = await createBucket('media');
    const bucket = await createBucket();
    for (const key of ['a.txt', 'b.txt']) await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: `content of ${key}` }));
    const backupAt = async (at: string) =>
      runBackup(
        {
          space: 'production', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
          bucket: settings(bucket), media: { source: settings(media) }, env: { ...process.env, LIFEBOAT_NOW: at },
        },
        memoryLogger(),
      );
    await backupAt('2026-11-01T02:00:00Z');
    const broken = await backupAt('2026-11-02T02:00:00Z');
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(broken.manifest.id), Body: 'not json' }));
    const logger = memoryLogger();
    const next = await runBackup(
      {
        space: 'production', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
        bucket: settings(bucket), media: { source: settings(media) }, env: { ...process.env, LIFEBOAT_NOW: '2026-11-03T02:00:00Z' },
      },
      logger,
    );
    expect(next.mediaTraffic?.bytesRead).toBe(0);
    expect(next.manifest.media?.totals).toMatchObject({ objects: 2, reusedObjects: 2, newObjects: 0 });
    expect(logger.lines.join("\n")).toMatch(new RegExp(`Skipping backup ${broken.manifest.id.replace(/\./g, '\\.')} as the base for the media copy`));
  });
});
