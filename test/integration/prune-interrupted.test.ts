/**
 * A prune killed (SIGKILL, no chance to clean up) in the middle of a large deletion leaves a consistent
 * store, and the next prune finishes the job.
 */
import { describe, expect, it } from 'vitest';
import { awsEnv, bucketInputs, createBucket, runActionBundle } from '../support/harness.js';
import { HOUR, inspectBucket, names, pruneKilledAfter, seedBackups, workspace, type SeededBackup } from './prune-fixtures.js';

const NOW = '2026-11-21T06:00:00.000Z';

describe('prune killed between deletes', () => {
  it('leaves every backup complete with all its artifacts, or incomplete; the next prunes finish the job, even for young backups', async () => {
    const bucket = await createBucket();
    // 300 nightly backups of 8 artifacts each, one every 4 minutes over the last 20 hours: all younger than
    // the 24-hour grace period, so once half deleted only the journal tells the next prune to finish them.
    const end = Date.parse(NOW) - HOUR;
    const backups = await seedBackups(
      bucket,
      Array.from({ length: 300 }, (_, i) => ({ space: 'production', trigger: 'nightly' as const, at: end - (299 - i) * 4 * 60_000, artifacts: 8 })),
    );
    const keep: SeededBackup[] = backups.slice(-5);
    const ws = workspace('retention:\n  - { space: production, trigger: nightly, keep-last: 5 }\n');

    // Killed once the store has deleted the manifests (one request): the artifact deletions are still on their way.
    const first = await pruneKilledAfter(bucket, ws, NOW, 1);
    expect(first.killed, first.log).toBe(true);
    const afterFirst = await inspectBucket(bucket); // also checks that every remaining manifest's artifacts exist
    expect(afterFirst.complete).toEqual(names(keep));
    expect(afterFirst.incomplete, 'every other backup is clearly incomplete, none deleted yet').toEqual(names(backups.slice(0, 295)));
    expect(afterFirst.journals, 'the journal of the killed prune is left behind').toHaveLength(1);

    // Killed again, once the store has handled the first batch of artifact deletions, while the others wait.
    const second = await pruneKilledAfter(bucket, ws, NOW, 1);
    expect(second.killed, second.log).toBe(true);
    expect(second.log).toContain('Deleting the manifests of 0 backups first, then 2360 artifact objects.');
    expect(second.log).toContain('left incomplete by an interrupted prune, which had started deleting it');
    const afterSecond = await inspectBucket(bucket);
    expect(afterSecond.complete).toEqual(names(keep));
    expect(afterSecond.incomplete.length, 'some remnants were deleted').toBeLessThan(295);
    expect(afterSecond.incomplete.length, 'some remnants are left').toBeGreaterThan(0);
    expect(afterSecond.journals).toHaveLength(2);

    // The next prune, the action this time, finishes: exactly the 5 newest remain, and no journal.
    const run = await runActionBundle('prune', bucketInputs(bucket), { ...awsEnv(), LIFEBOAT_NOW: NOW, GITHUB_WORKSPACE: ws });
    expect(run.code, run.everything).toBe(0);
    // The remnants are younger than the grace period: the journals are why they go now.
    expect(run.stdout).toContain('left incomplete by an interrupted prune, which had started deleting it');
    expect(run.stdout).not.toContain('incomplete and older than grace period');
    const final = await inspectBucket(bucket);
    expect(final.complete).toEqual(names(keep));
    expect(final.incomplete).toEqual([]);
    expect(final.journals).toEqual([]);
    expect(JSON.parse(run.outputs.kept!).sort()).toEqual(keep.map((b) => b.id).sort());
  });
});
