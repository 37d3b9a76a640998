/**
 * Scale, and a strategy from the seed documents (Hop3's ADR 016: "retain daily backups for 30 days and
 * monthly backups for 12 months"): 1,000 daily backups pruned in seconds, with batched deletes.
 */
import { describe, expect, it } from 'vitest';
import { awsEnv, bucketInputs, createBucket, runCli } from '../support/harness.js';
import { DAY, inspectBucket, names, seedBackups, workspace } from './prune-fixtures.js';

const NOW = '2026-11-21T06:00:00.000Z';

describe('prune at scale', () => {
  it('prunes 1,000 daily backups to "daily for 30 days plus monthly for 12 months" in seconds, two delete requests in all', async () => {
    const bucket = await createBucket();
    const last = Date.UTC(2026, 10, 21, 2);
    const backups = await seedBackups(
      bucket,
      Array.from({ length: 1000 }, (_, i) => ({ space: 'production', trigger: 'nightly' as const, at: last - (999 - i) * DAY })),
    );
    const ws = workspace('retention:\n  - { space: production, trigger: nightly, keep-daily: 30, keep-monthly: 12 }\n');

    // Worked out from the calendar, not from the engine's walk: one backup a day, so the 30 newest are the
    // dailies; the monthlies are the last backup of each of the 12 newest months (21 November 2026, then
    // the last day of October 2026 back to December 2025).
    const byMonth = new Map<string, (typeof backups)[number]>();
    for (const b of backups) {
      const month = b.createdAt.toISOString().slice(0, 7);
      if (!byMonth.has(month) || byMonth.get(month)!.createdAt < b.createdAt) byMonth.set(month, b);
    }
    const monthlies = [...byMonth.keys()].sort().slice(-12).map((m) => byMonth.get(m)!);
    expect(monthlies.map((b) => b.createdAt.toISOString().slice(0, 10))).toEqual([
      '2025-12-31', '2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31',
      '2026-06-30', '2026-07-31', '2026-08-31', '2026-09-30', '2026-10-31', '2026-11-21',
    ]);
    const expected = [...new Set([...backups.slice(-30), ...monthlies])];
    expect(expected).toHaveLength(40);

    const started = Date.now();
    const run = await runCli(['prune', '--json', '--backup-bucket', bucket, '--s3-endpoint', bucketInputs(bucket)['s3-endpoint']!], {
      ...awsEnv(),
      LIFEBOAT_NOW: NOW,
      GITHUB_WORKSPACE: ws,
    });
    const seconds = (Date.now() - started) / 1000;
    expect(run.code, run.everything).toBe(0);
    const report = JSON.parse(run.stdout) as { deleted: { id: string }[]; kept: { id: string; reasons: string[] }[]; deleteRequests: number; objectsDeleted: number };
    expect(report.deleted).toHaveLength(960);
    expect(report.objectsDeleted).toBe(1920);
    // 960 manifests in one request, then 960 artifacts in another.
    expect(report.deleteRequests).toBe(2);
    expect(seconds, 'the whole CLI run, process start to exit').toBeLessThan(10);
    expect(report.kept.find((k) => k.id === monthlies[0]!.id)!.reasons).toEqual(['keep-monthly 12 (2025-12)']);
    expect(report.kept.find((k) => k.id === backups[999]!.id)!.reasons).toEqual([
      'keep-daily 30 (2026-11-21)',
      'keep-monthly 12 (2026-11)',
      'newest complete backup of space production',
    ]);

    const state = await inspectBucket(bucket);
    expect(state.complete).toEqual(names(expected));
    expect(state.incomplete).toEqual([]);
    expect(state.journals).toEqual([]);
  });
});
