import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { formatBackupId } from '../../src/domain/backup-id.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { seedBackups } from './prune-fixtures.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, runActionBundle, runCli, s3Client, s3Info } from '../support/harness.js';

async function backupAt(database: string, bucket: string, space: string, trigger: 'nightly' | 'predeploy' | 'manual', at: string) {
  const s3 = s3Info();
  const result = await runBackup(
    {
      space, trigger, databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
      bucket: { bucket, prefix: 'lb/', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
      env: { ...process.env, LIFEBOAT_NOW: at },
    },
    memoryLogger(),
  );
  return result.manifest.id;
}

describe('list', () => {
  it('lists newest first, filters by space and trigger, and never offers an incomplete backup as latest', async () => {
    const database = await createDatabase('listed');
    const bucket = await createBucket();
    const ids = {
      prodOld: await backupAt(database, bucket, 'production', 'nightly', '2026-11-01T02:00:00Z'),
      prodPredeploy: await backupAt(database, bucket, 'production', 'predeploy', '2026-11-02T15:30:00Z'),
      devNightly: await backupAt(database, bucket, 'dev', 'nightly', '2026-11-03T02:00:00Z'),
      prodNew: await backupAt(database, bucket, 'production', 'nightly', '2026-11-04T02:00:00Z'),
    };
    // An interrupted backup, newer than everything: an artifact and no manifest.
    const incomplete = formatBackupId(new Date('2026-11-05T02:00:00Z'), 'nightly');
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: `lb/backups/production/${incomplete}/database.pgdump.zst`, Body: 'partial' }));
    // Stray keys that are not Lifeboat backups are ignored.
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: 'lb/backups/production/notes.txt', Body: 'x' }));

    const inputs = { ...bucketInputs(bucket), 'backup-prefix': 'lb' };
    const all = await runActionBundle('list', inputs, awsEnv());
    expect(all.code, all.stdout).toBe(0);
    const backups = JSON.parse(all.outputs.backups!) as { id: string; status: string; space: string; trigger: string; createdAt: string; sizeBytes: number }[];
    expect(backups.map((b) => b.id)).toEqual([incomplete, ids.prodNew, ids.devNightly, ids.prodPredeploy, ids.prodOld]);
    expect(backups[0]).toMatchObject({ status: 'incomplete', space: 'production', trigger: 'nightly', createdAt: '2026-11-05T02:00:00.000Z', sizeBytes: 7 });
    expect(backups.slice(1).every((b) => b.status === 'complete' && b.sizeBytes > 0)).toBe(true);
    expect(all.outputs.latest).toBe(ids.prodNew);
    expect(all.summary).toContain('Incomplete, not restorable (1)');
    expect(all.summary).toMatch(/^## ✅ Lifeboat backups: 4 restorable backups\n/);
    // Each space's own latest, not the newest of all spaces.
    expect(all.summary).toContain(`| production | \`${ids.prodNew}\` | `);
    expect(all.summary).toContain(`| dev | \`${ids.devNightly}\` | `);

    const prodNightly = await runActionBundle('list', { ...inputs, space: 'production', trigger: 'nightly' }, awsEnv());
    expect(JSON.parse(prodNightly.outputs.backups!).map((b: { id: string }) => b.id)).toEqual([incomplete, ids.prodNew, ids.prodOld]);
    expect(prodNightly.outputs.latest).toBe(ids.prodNew);

    const predeploy = await runActionBundle('list', { ...inputs, trigger: 'predeploy' }, awsEnv());
    expect(predeploy.outputs.latest).toBe(ids.prodPredeploy);

    const dev = await runActionBundle('list', { ...inputs, space: 'dev' }, awsEnv());
    expect(JSON.parse(dev.outputs.backups!).map((b: { id: string }) => b.id)).toEqual([ids.devNightly]);

    const none = await runActionBundle('list', { ...inputs, space: 'staging' }, awsEnv());
    expect(none.code).toBe(0);
    expect(JSON.parse(none.outputs.backups!)).toEqual([]);
    expect(none.outputs.latest).toBe('');

    const cli = await runCli(['list', '--json', '--backup-bucket', bucket, '--backup-prefix', 'lb', '--s3-endpoint', s3Info().endpoint, '--space', 'production'], awsEnv());
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).latest).toBe(ids.prodNew);
  });

  it('lists hundreds of backups across listing pages', async () => {
    const bucket = await createBucket();
    const start = Date.parse('2026-01-01T02:00:00Z');
    // 600 backups of two objects each (an artifact and a valid manifest): 1,200 keys, more than one 1,000-key listing page.
    const seeded = await seedBackups(bucket, Array.from({ length: 600 }, (_, i) => ({ space: 'production', trigger: 'nightly' as const, at: start + i * 3_600_000 })));
    const ids = seeded.map((b) => b.id);
    const run = await runActionBundle('list', bucketInputs(bucket), awsEnv());
    expect(run.code, run.stdout).toBe(0);
    const listed = JSON.parse(run.outputs.backups!).map((b: { id: string }) => b.id);
    expect(listed).toEqual([...ids].sort().reverse());
    expect(run.outputs.latest).toBe(listed[0]);
  });
});

describe('CLI', () => {
  it('backs up and lists through dist/cli, reading secrets from LIFEBOAT_* variables', async () => {
    const database = await createDatabase('cli');
    const bucket = await createBucket();
    const env = { ...awsEnv(), LIFEBOAT_DATABASE_URL: database };
    const backup = await runCli(['backup', '--space', 'dev', '--trigger', 'nightly', '--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint], env);
    expect(backup.code, backup.stderr).toBe(0);
    const id = backup.stdout.trim();
    expect(id).toMatch(/-nightly-/);
    expect(backup.stderr).toContain(`Backup ${id} complete`);
    expect(backup.everything).not.toContain(new URL(database).password);

    const list = await runCli(['list', '--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`latest restorable: ${id}`);
  });

  it('rejects unknown commands and flags', async () => {
    const unknown = await runCli(['restroe']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown command 'restroe'");
    const badFlag = await runCli(['list', '--bucket', 'x']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/Unknown flag --bucket for 'lifeboat list'\. Did you mean --backup-bucket\?/);
  });
});
