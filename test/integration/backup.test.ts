import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/domain/manifest.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests, schemaDump } from '../support/compare.js';
import {
  awsEnv,
  bucketInputs,
  createBucket,
  createDatabase,
  getObjectBytes,
  listKeys,
  postgresInfo,
  runActionBundle,
  visibleOutput,
} from '../support/harness.js';

async function restoreDumpInto(dump: Buffer): Promise<string> {
  const target = await createDatabase('restored');
  const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-dump-')), 'db.pgdump');
  writeFileSync(file, dump);
  execFileSync(join(postgresInfo().binDir, 'pg_restore'), ['--no-owner', '--exit-on-error', `--dbname=${target}`, file]);
  return target;
}

describe('backup action bundle (dist/backup)', () => {
  it('stores a pg_dump that restores to the same schema and data, with a manifest whose checksums match the stored bytes', async () => {
    const source = await createDatabase('source');
    await createSampleApp(source);
    const bucket = await createBucket();

    const run = await runActionBundle(
      'backup',
      { space: 'production', trigger: 'nightly', 'database-url': source, ...bucketInputs(bucket) },
      { ...awsEnv(), GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '42', GITHUB_SHA: 'abc123', GITHUB_ACTOR: 'octocat', GITHUB_REF: 'refs/heads/main' },
    );
    expect(run.stderr + run.stdout, 'backup should succeed').not.toMatch(/::error/);
    expect(run.code).toBe(0);

    const id = run.outputs['backup-id']!;
    expect(id).toMatch(/^\d{4}-\d{2}-\d{2}T\d{6}\.\d{3}Z-nightly-[0-9a-f]{4}$/);
    const keys = await listKeys(bucket);
    const manifestKey = `backups/production/${id}/manifest.json`;
    expect(keys.map((k) => k.key).sort()).toEqual([`backups/production/${id}/database.pgdump.zst`, manifestKey].sort());
    expect(Number(run.outputs.size)).toBe(keys.reduce((sum, k) => sum + k.size, 0));

    const manifestText = (await getObjectBytes(bucket, manifestKey)).toString('utf8');
    expect(manifestText).not.toContain(postgresInfo().password);
    expect(visibleOutput(run)).not.toContain(postgresInfo().password);
    const manifest = parseManifest(manifestText, manifestKey);
    expect(manifest).toMatchObject({ id, space: 'production', trigger: 'nightly' });
    expect(manifest.provenance).toMatchObject({ repository: 'acme/app', runId: '42', commit: 'abc123', actor: 'octocat', runUrl: 'https://github.com/acme/app/actions/runs/42' });
    expect(manifest.database.serverVersionNum).toBeGreaterThan(100000);
    expect(manifest.database.pgDumpVersion).toMatch(/^\d+/);
    expect(new Date(manifest.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(manifest.startedAt).getTime());

    const [artifact] = manifest.artifacts;
    const stored = await getObjectBytes(bucket, artifact!.key);
    expect(artifact!.size).toBe(stored.length);
    expect(artifact!.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect(artifact!.compression).toBe('zstd');
    const dump = zstdDecompressSync(stored);
    expect(artifact!.uncompressedSize).toBe(dump.length);
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');

    const digests = await tableDigests(source);
    expect(manifest.database.tables).toEqual(
      Object.entries(digests).map(([name, d]) => ({ schema: name.split('.')[0], table: name.split('.')[1], rows: d.rows })),
    );

    const restored = await restoreDumpInto(dump);
    expect(await tableDigests(restored)).toEqual(digests);
    expect(schemaDump(restored)).toEqual(schemaDump(source));

    expect(run.summary).toMatch(/^## ✅ Lifeboat backup of production: complete\n/);
    expect(run.summary).toContain(`**\`${id}\`** · `);
  });

  it.each(['gzip', 'none'] as const)('honours compression %s', async (compression) => {
    const source = await createDatabase('source');
    await createSampleApp(source);
    const bucket = await createBucket();
    const run = await runActionBundle('backup', { space: 'dev', 'database-url': source, compression, ...bucketInputs(bucket) }, awsEnv());
    expect(run.code, run.stdout).toBe(0);
    const id = run.outputs['backup-id']!;
    expect(id).toContain('-manual-');
    const key = `backups/dev/${id}/database.pgdump${compression === 'gzip' ? '.gz' : ''}`;
    const stored = await getObjectBytes(bucket, key);
    const dump = compression === 'gzip' ? gunzipSync(stored) : stored;
    const restored = await restoreDumpInto(dump);
    expect(await tableDigests(restored)).toEqual(await tableDigests(source));
  });

  it('records LIFEBOAT_NOW as the backup time', async () => {
    const source = await createDatabase('source');
    const bucket = await createBucket();
    const run = await runActionBundle(
      'backup',
      { space: 'dev', trigger: 'predeploy', 'database-url': source, ...bucketInputs(bucket) },
      { ...awsEnv(), LIFEBOAT_NOW: '2025-03-04T05:06:07Z' },
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs['backup-id']).toMatch(/^2025-03-04T050607\.000Z-predeploy-/);
  });
});
