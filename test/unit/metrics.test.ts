import { describe, expect, it } from 'vitest';
import { computeMetrics, median, metricFamilies, SLOW_FACTOR, TREND_MINIMUM, TREND_WINDOW, type MeasuredBackup } from '../../src/domain/metrics.js';

const NOW = new Date('2026-11-21T12:00:00Z');
const H = 3_600_000;

/** A good nightly of production that finished `hoursAgo` hours before NOW and took `seconds`. */
function good(hoursAgo: number, seconds: number, sizeBytes = 1000, space = 'production', trigger: MeasuredBackup['trigger'] = 'nightly'): MeasuredBackup {
  const finishedAt = new Date(NOW.getTime() - hoursAgo * H);
  return { id: `${space}-${hoursAgo}`, space, trigger, status: 'complete', sizeBytes, finishedAt, startedAt: new Date(finishedAt.getTime() - seconds * 1000) };
}

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones, whatever the order', () => {
    expect(median([])).toBe(0);
    expect(median([5])).toBe(5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 1])).toBe(5.5);
  });
});

describe('computeMetrics', () => {
  it('reports the newest good backup, counts by status, and groups by space and trigger in order', () => {
    const backups: MeasuredBackup[] = [
      good(30, 60),
      good(6, 90, 2048),
      { id: 'x', space: 'production', trigger: 'nightly', status: 'incomplete', sizeBytes: 7 },
      { id: 'y', space: 'production', trigger: 'nightly', status: 'invalid', sizeBytes: 9 },
      // Complete but its manifest was not read: counted, never taken as the last one.
      { id: 'z', space: 'production', trigger: 'nightly', status: 'complete', sizeBytes: 1 },
      good(1, 5, 10, 'dev'),
      good(2, 5, 10, 'production', 'manual'),
    ];
    const metrics = computeMetrics(backups, NOW);
    expect(metrics.map((m) => `${m.space}/${m.trigger}`)).toEqual(['dev/nightly', 'production/manual', 'production/nightly']);
    const prod = metrics[2]!;
    expect(prod.counts).toEqual({ complete: 3, incomplete: 1, invalid: 1 });
    expect(prod.last).toEqual({ id: 'production-6', finishedAt: new Date(NOW.getTime() - 6 * H).toISOString(), ageSeconds: 6 * 3600, durationSeconds: 90, sizeBytes: 2048 });
    expect(prod.trend).toBeUndefined();
  });

  it('has no last backup when none is good', () => {
    const [m] = computeMetrics([{ id: 'x', space: 'dev', trigger: 'nightly', status: 'incomplete', sizeBytes: 1, startedAt: NOW, finishedAt: NOW }], NOW);
    expect(m).toEqual({ space: 'dev', trigger: 'nightly', counts: { complete: 0, incomplete: 1, invalid: 0 } });
  });

  it(`needs ${TREND_MINIMUM} previous good backups for a trend, and compares with at most ${TREND_WINDOW}`, () => {
    expect(TREND_MINIMUM).toBe(3);
    expect(TREND_WINDOW).toBe(10);
    expect(computeMetrics([good(1, 10), good(25, 10), good(49, 10)], NOW)[0]!.trend).toBeUndefined();
    const three = computeMetrics([good(1, 10), good(25, 10), good(49, 20), good(73, 30, 3000)], NOW)[0]!;
    expect(three.trend).toEqual({ previous: 3, medianDurationSeconds: 20, medianSizeBytes: 1000, durationRatio: 0.5, sizeRatio: 1, slow: false });
    // Eleven previous ones: only the ten newest count (the oldest, a very slow one, would move the median).
    const many = [good(1, 10), ...Array.from({ length: 10 }, (_, i) => good(25 + 24 * i, 4)), good(500, 1000), good(600, 1000), good(700, 1000)];
    const trend = computeMetrics(many, NOW)[0]!.trend!;
    expect(trend.previous).toBe(10);
    expect(trend.medianDurationSeconds).toBe(4);
  });

  it(`flags a duration over ${SLOW_FACTOR} × the median, not one equal to it`, () => {
    expect(SLOW_FACTOR).toBe(2);
    const history = [good(25, 10), good(49, 10), good(73, 10)];
    expect(computeMetrics([good(1, 20), ...history], NOW)[0]!.trend).toMatchObject({ slow: false, durationRatio: 2 });
    expect(computeMetrics([good(1, 20.5), ...history], NOW)[0]!.trend).toMatchObject({ slow: true, durationRatio: 2.05 });
  });

  it('gives no ratio against a zero median', () => {
    const zero = [good(25, 0, 0), good(49, 0, 0), good(73, 0, 0)];
    expect(computeMetrics([good(1, 1, 5), ...zero], NOW)[0]!.trend).toEqual({ previous: 3, medianDurationSeconds: 0, medianSizeBytes: 0, durationRatio: null, sizeRatio: null, slow: true });
  });
});

describe('metricFamilies', () => {
  const totals = { ok: false, problems: 2, warnings: 1, verifiedArtifacts: 3, verifiedBytes: 4096, now: NOW, fresh: [] as { space: string; trigger: MeasuredBackup['trigger']; ok: boolean }[] };

  it('names gauges in base units and gives each group its samples', () => {
    const groups = computeMetrics([good(2, 30, 500), good(26, 10), good(50, 10), good(74, 10), { id: 'i', space: 'dev', trigger: 'nightly', status: 'incomplete', sizeBytes: 3 }], NOW);
    const families = metricFamilies(groups, { ...totals, fresh: [{ space: 'production', trigger: 'nightly', ok: true }, { space: 'dev', trigger: 'nightly', ok: false }] });
    const byName = Object.fromEntries(families.map((f) => [f.name, f]));
    expect(families.map((f) => f.name)).toEqual([
      'lifeboat_backup_last_success_timestamp_seconds',
      'lifeboat_backup_age_seconds',
      'lifeboat_backup_last_duration_seconds',
      'lifeboat_backup_last_size_bytes',
      'lifeboat_backup_median_duration_seconds',
      'lifeboat_backup_median_size_bytes',
      'lifeboat_backup_slow',
      'lifeboat_backups',
      'lifeboat_backup_fresh',
      'lifeboat_check_success',
      'lifeboat_check_problems',
      'lifeboat_check_warnings',
      'lifeboat_check_verified_artifacts',
      'lifeboat_check_verified_bytes',
      'lifeboat_check_timestamp_seconds',
    ]);
    for (const f of families) expect(f.help.length, f.name).toBeGreaterThan(10);
    const prod = { space: 'production', trigger: 'nightly' };
    expect(byName.lifeboat_backup_last_success_timestamp_seconds!.samples).toEqual([{ labels: prod, value: (NOW.getTime() - 2 * H) / 1000 }]);
    expect(byName.lifeboat_backup_age_seconds!.samples).toEqual([{ labels: prod, value: 7200 }]);
    expect(byName.lifeboat_backup_last_duration_seconds!.samples).toEqual([{ labels: prod, value: 30 }]);
    expect(byName.lifeboat_backup_last_size_bytes!.samples).toEqual([{ labels: prod, value: 500 }]);
    expect(byName.lifeboat_backup_median_duration_seconds!.samples).toEqual([{ labels: prod, value: 10 }]);
    expect(byName.lifeboat_backup_median_size_bytes!.samples).toEqual([{ labels: prod, value: 1000 }]);
    expect(byName.lifeboat_backup_slow!.samples).toEqual([{ labels: prod, value: 1 }]);
    expect(byName.lifeboat_backups!.labelNames).toEqual(['space', 'trigger', 'status']);
    expect(byName.lifeboat_backups!.samples).toEqual([
      { labels: { space: 'dev', trigger: 'nightly', status: 'complete' }, value: 0 },
      { labels: { space: 'dev', trigger: 'nightly', status: 'incomplete' }, value: 1 },
      { labels: { space: 'dev', trigger: 'nightly', status: 'invalid' }, value: 0 },
      { labels: { ...prod, status: 'complete' }, value: 4 },
      { labels: { ...prod, status: 'incomplete' }, value: 0 },
      { labels: { ...prod, status: 'invalid' }, value: 0 },
    ]);
    expect(byName.lifeboat_backup_fresh!.samples).toEqual([
      { labels: prod, value: 1 },
      { labels: { space: 'dev', trigger: 'nightly' }, value: 0 },
    ]);
    expect(byName.lifeboat_backup_age_seconds!.labelNames).toEqual(['space', 'trigger']);
    expect(byName.lifeboat_check_success!).toEqual({ name: 'lifeboat_check_success', help: '1 when the check passed, else 0.', labelNames: [], samples: [{ labels: {}, value: 0 }] });
    expect(byName.lifeboat_check_problems!.samples[0]!.value).toBe(2);
    expect(byName.lifeboat_check_warnings!.samples[0]!.value).toBe(1);
    expect(byName.lifeboat_check_verified_artifacts!.samples[0]!.value).toBe(3);
    expect(byName.lifeboat_check_verified_bytes!.samples[0]!.value).toBe(4096);
    expect(byName.lifeboat_check_timestamp_seconds!.samples[0]!.value).toBe(NOW.getTime() / 1000);
    expect(metricFamilies([], { ...totals, ok: true }).find((f) => f.name === 'lifeboat_check_success')!.samples[0]!.value).toBe(1);
  });

  it('leaves out last-* samples of a group with no good backup, and trend samples without a trend', () => {
    const families = metricFamilies(computeMetrics([good(1, 5)], NOW), totals);
    const count = (name: string) => families.find((f) => f.name === name)!.samples.length;
    expect(count('lifeboat_backup_age_seconds')).toBe(1);
    expect(count('lifeboat_backup_median_duration_seconds')).toBe(0);
    expect(count('lifeboat_backup_median_size_bytes')).toBe(0);
    expect(count('lifeboat_backup_slow')).toBe(0);
    const none = metricFamilies(computeMetrics([{ id: 'x', space: 'dev', trigger: 'nightly', status: 'invalid', sizeBytes: 1 }], NOW), totals);
    for (const name of ['lifeboat_backup_last_success_timestamp_seconds', 'lifeboat_backup_age_seconds', 'lifeboat_backup_last_duration_seconds', 'lifeboat_backup_last_size_bytes']) {
      expect(none.find((f) => f.name === name)!.samples, name).toEqual([]);
    }
  });

  it('a group with several rules is fresh only when all hold, in either order', () => {
    const fresh = (list: boolean[]) =>
      metricFamilies([], { ...totals, fresh: list.map((ok) => ({ space: 'production', trigger: 'predeploy' as const, ok })) }).find((f) => f.name === 'lifeboat_backup_fresh')!.samples;
    expect(fresh([true, false])).toEqual([{ labels: { space: 'production', trigger: 'predeploy' }, value: 0 }]);
    expect(fresh([false, true])).toEqual([{ labels: { space: 'production', trigger: 'predeploy' }, value: 0 }]);
    expect(fresh([true, true])).toEqual([{ labels: { space: 'production', trigger: 'predeploy' }, value: 1 }]);
  });
});
