/**
 * The benchmark at a tiny size: it must run end to end and produce complete, sane results. No timing
 * is asserted; the numbers at this size mean nothing. The bench starts its own PostgreSQL and S3 server.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { BenchResults } from '../../scripts/bench/report.js';
import { ROOT } from '../support/harness.js';

const EXPECTED = [
  'backup.pg_dump_z0',
  'backup.pg_dump_fc',
  'backup.lifeboat',
  'backup.lifeboat_encrypted',
  'backup.dump_then_upload',
  'parallel_dump.fd_jobs',
  'restore.pg_restore_j1',
  'restore.pg_restore_single_tx',
  'restore.lifeboat_transactional',
  'restore.lifeboat_encrypted',
  'restore.pg_restore_jobs',
  'restore.lifeboat_parallel',
  'restore.download_then_pg_restore',
  'media.list_bucket',
  'media.plain_copy',
  'media.lifeboat_first',
  'media.lifeboat_first_get_put',
  'media.lifeboat_first_copy_all',
  'media.lifeboat_unchanged',
  'media.lifeboat_changed',
  'media.lifeboat_prune',
  'media_scale.small.list_bucket',
  'media_scale.small.first',
  'media_scale.small.restore',
  'media_scale.list_bucket',
  'media_scale.first',
  'media_scale.unchanged',
  'media_scale.changed',
  'media_scale.restore',
  'media_scale.prune',
  'catalog.list_keys',
  'catalog.lifeboat_list',
  'catalog.lifeboat_prune',
  'diag.lifeboat_uncompressed',
  'diag.lifeboat_part8',
  'diag.get',
  'diag.get_decompress_file',
];

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run bench (smoke, tiny size)', () => {
  // The whole bench at a tiny size: about two minutes on a busy 2-core machine, more than the default timeout.
  it('measures every contender and writes complete JSON and markdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-smoke-'));
    const out = join(dir, 'results.json');
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const run = await runBench(['--size', '2MB', '--media-objects', '50', '--media-large', '1', '--backups', '50', '--media-scale-objects', '200', '--media-scale-small', '100', '--repeat', '1', '--quiet', '--out', out]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('| Contender |');

    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults;
    expect(results.format).toBe('lifeboat-bench/1');
    expect(existsSync(join(dir, 'results.md'))).toBe(true);
    expect(results.checks.filter((c) => !c.ok)).toEqual([]);

    const ids = results.measurements.map((m) => m.id);
    for (const id of EXPECTED) expect(ids, id).toContain(id);
    if (existsSync('/usr/bin/zstd')) expect(ids).toContain('diag.cli_zstd');
    for (const m of results.measurements) {
      expect(m.wallMs, m.id).toBeGreaterThan(0);
      expect(m.runsMs.length, m.id).toBeGreaterThanOrEqual(1);
      expect(m.localDiskPeakBytes, m.id).toBeGreaterThanOrEqual(0);
      if (m.nodePeakRssBytes !== null) expect(m.nodePeakRssBytes, m.id).toBeGreaterThan(20 * 1024 * 1024);
      if (m.baseline) expect(m.ratio, m.id).toBeGreaterThan(0);
    }
    const byId = (id: string) => results.measurements.find((m) => m.id === id)!;

    const db = results.dataset.database;
    expect(db.rawDumpBytes).toBeGreaterThan(0);
    expect(db.tables.map((t) => t.name).sort()).toEqual(['accounts', 'attachments', 'documents', 'events', 'orders']);
    for (const table of db.tables) expect(table.rows, table.name).toBeGreaterThan(0);

    // Backup: bytes stored, compressed below the raw dump, and no temp disk for Lifeboat.
    const lifeboat = byId('backup.lifeboat');
    expect(lifeboat.storedBytes).toBeGreaterThan(0);
    expect(lifeboat.storedBytes!).toBeLessThan(db.rawDumpBytes);
    expect(lifeboat.localDiskPeakBytes).toBe(0);
    expect(lifeboat.details.rawDumpBytes).toBeGreaterThan(0);
    expect(lifeboat.ratio).toBeCloseTo(lifeboat.wallMs / byId('backup.pg_dump_fc').wallMs, 6);
    expect(byId('backup.pg_dump_fc').storedBytes).toBeGreaterThan(0);
    expect(byId('backup.dump_then_upload').storedBytes).toBeGreaterThan(0);
    expect(byId('backup.dump_then_upload').localDiskPeakBytes).toBeGreaterThan(0);
    expect(byId('parallel_dump.fd_jobs').storedBytes).toBeGreaterThan(0);

    // Restore: both Lifeboat paths ran the way they were asked to, and checked their row counts.
    expect(byId('restore.lifeboat_transactional').details).toMatchObject({ method: 'transactional', jobs: 1 });
    expect(byId('restore.lifeboat_parallel').details).toMatchObject({ method: 'parallel', jobs: 2 });
    expect(byId('restore.lifeboat_transactional').details.tablesChecked).toBe(5);

    // Media: the first backup holds every object; the unchanged one reads nothing; 1% rewrites one.
    expect(results.dataset.media).toMatchObject({ objects: 51, largeObjects: 1, changedObjects: 1 });
    expect(byId('media.lifeboat_first').details.mediaTotals).toMatchObject({ objects: 51 });
    expect(byId('media.lifeboat_unchanged').details.mediaTraffic).toEqual({ bytesRead: 0, bytesWritten: 0, objectsWritten: 0 });
    expect(byId('media.lifeboat_changed').details.mediaTraffic).toMatchObject({ objectsWritten: 1 });
    expect(byId('media.plain_copy').details.objects).toBe(51);

    // Media at scale: both sizes seeded, read back and measured; the unchanged incremental's writes read from storage.
    const scale = results.dataset.mediaScale!;
    expect(scale.runs.map((r) => r.objects)).toEqual([100, 200]);
    expect(scale.runs.map((r) => r.changedObjects)).toEqual([2, 3]);
    expect(byId('media_scale.list_bucket').details).toMatchObject({ objects: 200, bytes: scale.runs[1]!.bytes });
    expect(byId('media_scale.first').details.mediaTotals).toMatchObject({ objects: 200 });
    expect(byId('media_scale.restore').details.media).toMatchObject({ uploaded: 200, deleted: 0 });
    expect(byId('media_scale.prune').details).toMatchObject({ kept: 1, deleted: 2, failed: 0 });
    // The unchanged incremental writes at least its manifest and archive.
    const writes = scale.runs[1]!.unchangedWrites[0]!;
    expect(writes.objects).toBeGreaterThanOrEqual(2);
    expect(writes.byPrefix.some((g) => g.prefix.endsWith('manifest.json'))).toBe(true);
    expect(scale.model.map((m) => m.operation)).toHaveLength(6);
    for (const m of scale.model) expect(m.at.map((p) => p.objects), m.operation).toEqual([100, 200]);

    // List and prune over the seeded backups.
    expect(results.dataset.catalog?.backups).toBe(50);
    expect(byId('catalog.lifeboat_list').details).toMatchObject({ backups: 50, complete: 50 });
    expect(byId('catalog.list_keys').details.objects).toBe(100);
    const prune = byId('catalog.lifeboat_prune').details as { kept: number; deleted: number; failed: number };
    expect(prune.kept + prune.deleted).toBe(50);
    expect(prune.deleted).toBeGreaterThan(0);
    expect(prune.failed).toBe(0);

    // Every target has a verdict (true or false), none left unmeasured.
    expect(results.targets.map((t) => t.id).sort()).toEqual(
      [
        'backup-encrypted',
        'backup-no-temp-disk',
        'backup-rss',
        'backup-vs-dump-then-upload',
        'backup-vs-pg-dump',
        'list',
        'media-unchanged',
        'media-scale-rss-first',
        'media-scale-rss-unchanged',
        'media-scale-rss-restore',
        'media-scale-rss-prune',
        'media-scale-incremental-vs-listing',
        'media-scale-incremental-writes',
        'restore-encrypted',
        'restore-no-local-disk',
        'restore-parallel',
        'restore-rss',
        'restore-transactional',
      ].sort(),
    );
    for (const t of results.targets) expect(typeof t.pass, t.id).toBe('boolean');
    // Every group, two media-scale sizes included, on a shared 2-core machine: more than the default 2 minutes.
  }, 360_000);
});
