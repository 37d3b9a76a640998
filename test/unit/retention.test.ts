import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBackupId, TRIGGERS, type Trigger } from '../../src/domain/backup-id.js';
import type { BackupEntry, BackupStatus } from '../../src/domain/catalog.js';
import { DEFAULT_POLICY } from '../../src/domain/policy.js';
import {
  backupKey,
  describeRules,
  formatDuration,
  parseDuration,
  planRetention,
  RetentionPolicyError,
  RetentionRefusedError,
  subtractDuration,
  type KeepRules,
  type PlanOptions,
  type RetentionPlan,
  type RetentionRuleSet,
} from '../../src/domain/retention.js';

/** FAC's retention: the policy file's defaults are the one place it is written down. */
const DEFAULT_RETENTION = DEFAULT_POLICY.retention;

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

let serial = 0;
function backup(space: string, trigger: Trigger, at: string | number | Date, status: BackupStatus = 'complete'): BackupEntry {
  const createdAt = new Date(at);
  const suffix = (serial++ % 0x10000).toString(16).padStart(4, '0');
  return { id: formatBackupId(createdAt, trigger, suffix), space, trigger, createdAt, sizeBytes: 1024, status };
}

const ids = (list: readonly { entry: BackupEntry }[]) => list.map((item) => item.entry.id);
const times = (list: readonly { entry: BackupEntry }[]) => list.map((item) => item.entry.createdAt.toISOString());

function reasonsFor(plan: RetentionPlan, entry: BackupEntry): string[] {
  const kept = plan.keep.find((k) => k.entry === entry);
  if (!kept) throw new Error(`${entry.id} was not kept`);
  return kept.reasons;
}

function removalFor(plan: RetentionPlan, entry: BackupEntry): string {
  const removed = plan.remove.find((r) => r.entry === entry);
  if (!removed) throw new Error(`${entry.id} was not removed`);
  return removed.reason;
}

/** The policy applied to a single (space, trigger), for the restic examples. */
function only(rules: KeepRules): RetentionRuleSet[] {
  return [{ space: 'production', trigger: 'nightly', rules }];
}

describe('parseDuration', () => {
  it.each([
    ['7d', { days: 7 }],
    ['24h', { hours: 24 }],
    ['1d12h', { days: 1, hours: 12 }],
    ['2w', { weeks: 2 }],
    ['1y6m', { years: 1, months: 6 }],
    ['1y2m3d3h', { years: 1, months: 2, days: 3, hours: 3 }],
    ['1y1d1m', { years: 1, months: 1, days: 1 }], // restic accepts units in any order
    [' 13d23h ', { days: 13, hours: 23 }],
    ['0d', {}],
  ])('parses %j', (text, expected) => {
    expect(parseDuration(text)).toEqual({ years: 0, months: 0, weeks: 0, days: 0, hours: 0, ...expected });
  });

  it.each(['', '   ', '7', 'd', '7x', '7 d', '-1d', '+1d', '1.5d', '7D', '1d1d', '30min', '1d 2h', 'P7D', '99999999999999999999d'])(
    'rejects %j, quoting it and showing a valid example',
    (text) => {
      expect(() => parseDuration(text)).toThrow(RetentionPolicyError);
      expect(() => parseDuration(text)).toThrow(`'${text}'`);
      expect(() => parseDuration(text)).toThrow(/for example '7d'/);
    },
  );

  it('formats durations canonically, so parse and format round-trip', () => {
    expect(formatDuration(parseDuration('3h1y2w'))).toBe('1y2w3h');
    expect(formatDuration(parseDuration('0d'))).toBe('0h');
    fc.assert(
      fc.property(
        fc.record({
          years: fc.nat(20),
          months: fc.nat(30),
          weeks: fc.nat(10),
          days: fc.nat(400),
          hours: fc.nat(100),
        }),
        (duration) => {
          expect(parseDuration(formatDuration(duration))).toEqual(duration);
        },
      ),
    );
  });
});

describe('subtractDuration', () => {
  const at = (iso: string) => new Date(iso);

  it.each([
    ['2026-11-21T02:00:00.000Z', '7d', '2026-11-14T02:00:00.000Z'],
    ['2026-11-21T02:00:00.000Z', '1d12h', '2026-11-19T14:00:00.000Z'],
    ['2026-11-21T02:00:00.000Z', '2w', '2026-11-07T02:00:00.000Z'],
    ['2026-11-21T02:00:00.000Z', '1y6m', '2025-05-21T02:00:00.000Z'],
    ['2026-01-15T10:30:00.000Z', '1m', '2025-12-15T10:30:00.000Z'], // across the year boundary
    ['2026-03-31T12:00:00.000Z', '1m', '2026-03-01T00:00:00.000Z'], // no 31 February: the end of February
    ['2024-03-30T12:00:00.000Z', '1m', '2024-03-01T00:00:00.000Z'], // leap year, still no 30 February
    ['2024-03-29T12:00:00.000Z', '1m', '2024-02-29T12:00:00.000Z'],
    ['2024-02-29T08:00:00.000Z', '1y', '2023-03-01T00:00:00.000Z'],
    ['2026-03-31T12:00:00.000Z', '1m1d', '2026-02-28T00:00:00.000Z'], // months first, then days
  ])('%s minus %s is %s', (now, duration, expected) => {
    expect(subtractDuration(at(now), parseDuration(duration)).toISOString()).toBe(expected);
  });

  it('never moves the cut-off backwards as now moves forwards (so keep-within only ever lets go)', () => {
    const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) });
    fc.assert(
      fc.property(instant, instant, fc.constantFrom('1m', '2m', '1y', '1m14d', '13m2h', '1y1m1w1d1h'), (a, b, text) => {
        const [earlier, later] = a <= b ? [a, b] : [b, a];
        const duration = parseDuration(text);
        expect(subtractDuration(new Date(earlier), duration).getTime()).toBeLessThanOrEqual(
          subtractDuration(new Date(later), duration).getTime(),
        );
      }),
      { examples: [[Date.UTC(2026, 2, 31, 12), Date.UTC(2026, 3, 1, 0), '1m']] },
    );
  });

  it('clamps a window reaching before the earliest date instead of producing an invalid date', () => {
    expect(subtractDuration(at('2026-01-01T00:00:00Z'), parseDuration('9000000y')).getTime()).toBe(-8.64e15);
  });
});

describe("restic's worked examples (doc/060_forget.rst, internal/restic/snapshot_policy_test.go)", () => {
  it('one backup every Sunday for 12 weeks: keep-daily 4 keeps the last four Sundays', () => {
    const sundays = [
      '2019-09-01', '2019-09-08', '2019-09-15', '2019-09-22', '2019-09-29', '2019-10-06',
      '2019-10-13', '2019-10-20', '2019-10-27', '2019-11-03', '2019-11-10', '2019-11-17',
    ].map((day) => backup('production', 'nightly', `${day}T11:00:00Z`));

    const plan = planRetention(sundays, only({ keepDaily: 4 }), { now: new Date('2019-11-18T00:00:00Z') });

    expect(times(plan.keep)).toEqual([
      '2019-11-17T11:00:00.000Z',
      '2019-11-10T11:00:00.000Z',
      '2019-11-03T11:00:00.000Z',
      '2019-10-27T11:00:00.000Z',
    ]);
    expect(plan.remove).toHaveLength(8);
    expect(plan.keep[0]!.reasons).toContain('keep-daily 4 (2019-11-17)');
    expect(removalFor(plan, sundays[0]!)).toBe('not kept by production/nightly rules (keep-daily 4)');
  });

  it('one backup a day for 100 years: keep-daily 7, keep-weekly 5, keep-monthly 12, keep-yearly 75', () => {
    // Ends on a Sunday, so the 7 dailies are one ISO week and hold exactly one of the weeklies.
    const end = Date.UTC(2019, 10, 17, 3);
    const history: BackupEntry[] = [];
    for (let t = Date.UTC(1919, 10, 18, 3); t <= end; t += DAY) history.push(backup('production', 'nightly', t));

    const plan = planRetention(history, only({ keepDaily: 7, keepWeekly: 5, keepMonthly: 12, keepYearly: 75 }), {
      now: new Date(end + HOUR),
    });

    // Built from the docs' description rather than from the engine's walk.
    const day = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d, 3)).toISOString();
    const dailies = [17, 16, 15, 14, 13, 12, 11].map((d) => day(2019, 11, d));
    const weeklies = [day(2019, 11, 17), day(2019, 11, 10), day(2019, 11, 3), day(2019, 10, 27), day(2019, 10, 20)];
    const monthlies = [day(2019, 11, 17), ...Array.from({ length: 11 }, (_, i) => new Date(Date.UTC(2019, 10 - i, 0, 3)).toISOString())];
    const yearlies = [day(2019, 11, 17), ...Array.from({ length: 74 }, (_, i) => day(2018 - i, 12, 31))];
    const expected = [...new Set([...dailies, ...weeklies, ...monthlies, ...yearlies])].sort().reverse();

    // "7 daily and 4 last-day-of-the-week ones (since the 7 dailies already include 1 weekly). Additionally,
    // 12 or 11 last-day-of-the-month snapshots ... 75 or 74 last-day-of-the-year snapshots": here the
    // monthlies overlap the dailies once (11 more) and the yearlies overlap twice (2019 is a daily,
    // 2018-12-31 a monthly), so 7 + 4 + 11 + 73.
    expect(expected).toHaveLength(7 + 4 + 11 + 73);
    expect(times(plan.keep)).toEqual(expected);
    expect(plan.keep.length + plan.remove.length).toBe(history.length);
    const reasonCount = (label: string) => plan.keep.filter((k) => k.reasons.some((r) => r.startsWith(label))).length;
    expect([reasonCount('keep-daily'), reasonCount('keep-weekly'), reasonCount('keep-monthly'), reasonCount('keep-yearly')]).toEqual([
      7, 5, 12, 75,
    ]);
    expect(plan.keep.at(-1)!.reasons).toEqual(['keep-yearly 75 (1945)']);
  });

  describe("restic's unit test history", () => {
    // testExpireSnapshots from snapshot_policy_test.go (without tags), deliberately unsorted.
    const resticHistory = [
      '2014-09-01 10:20:30', '2014-09-02 10:20:30', '2014-09-05 10:20:30', '2014-09-06 10:20:30', '2014-09-08 10:20:30',
      '2014-09-09 10:20:30', '2014-09-10 10:20:30', '2014-09-11 10:20:30', '2014-09-20 10:20:30', '2014-09-22 10:20:30',
      '2014-08-08 10:20:30', '2014-08-10 10:20:30', '2014-08-12 10:20:30', '2014-08-13 10:20:30', '2014-08-13 10:20:30.1',
      '2014-08-15 10:20:30', '2014-08-18 10:20:30', '2014-08-20 10:20:30', '2014-08-21 10:20:30', '2014-08-22 10:20:30',
      '2014-10-01 10:20:30', '2014-10-02 10:20:30', '2014-10-05 10:20:30', '2014-10-06 10:20:30', '2014-10-08 10:20:30',
      '2014-10-09 10:20:30', '2014-10-10 10:20:30', '2014-10-11 10:20:30', '2014-10-20 10:20:30', '2014-10-22 10:20:30',
      '2014-11-08 10:20:30', '2014-11-10 10:20:30', '2014-11-12 10:20:30', '2014-11-13 10:20:30', '2014-11-13 10:20:30.1',
      '2014-11-15 10:20:30', '2014-11-18 10:20:30', '2014-11-20 10:20:30', '2014-11-21 10:20:30', '2014-11-22 10:20:30',
      '2015-09-01 10:20:30', '2015-09-02 10:20:30', '2015-09-05 10:20:30', '2015-09-06 10:20:30', '2015-09-08 10:20:30',
      '2015-09-09 10:20:30', '2015-09-10 10:20:30', '2015-09-11 10:20:30', '2015-09-20 10:20:30', '2015-09-22 10:20:30',
      '2015-08-08 10:20:30', '2015-08-10 10:20:30', '2015-08-12 10:20:30', '2015-08-13 10:20:30', '2015-08-13 10:20:30.1',
      '2015-08-15 10:20:30', '2015-08-18 10:20:30', '2015-08-20 10:20:30', '2015-08-21 10:20:30', '2015-08-22 10:20:30',
      '2015-10-01 10:20:30', '2015-10-02 10:20:30', '2015-10-05 10:20:30', '2015-10-06 10:20:30', '2015-10-08 10:20:30',
      '2015-10-09 10:20:30', '2015-10-10 10:20:30', '2015-10-11 10:20:30', '2015-10-20 10:20:30', '2015-10-22 10:20:30',
      '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-11-08 10:20:30',
      '2015-11-10 10:20:30', '2015-11-12 10:20:30', '2015-11-13 10:20:30', '2015-11-13 10:20:30.1', '2015-11-15 10:20:30',
      '2015-11-18 10:20:30', '2015-11-20 10:20:30', '2015-11-21 10:20:30', '2015-11-22 10:20:30', '2016-01-01 01:02:03',
      '2016-01-01 01:03:03', '2016-01-01 07:08:03', '2016-01-03 07:02:03', '2016-01-04 10:23:03', '2016-01-04 11:23:03',
      '2016-01-04 12:23:03', '2016-01-04 12:24:03', '2016-01-04 12:28:03', '2016-01-04 12:30:03', '2016-01-04 16:23:03',
      '2016-01-05 09:02:03', '2016-01-06 08:02:03', '2016-01-07 10:02:03', '2016-01-08 20:02:03', '2016-01-09 21:02:03',
      '2016-01-12 21:02:03', '2016-01-12 21:08:03', '2016-01-18 12:02:03',
    ].map((text) => backup('production', 'nightly', `${text.replace(' ', 'T')}Z`));
    const now = new Date('2016-01-20T00:00:00Z');
    const iso = (text: string) => new Date(`${text.replace(' ', 'T')}Z`).toISOString();
    // restic has no safety rule 1, so its expectations leave that reason out.
    const ruleReasons = (kept: { reasons: string[] }) => kept.reasons.filter((r) => !r.startsWith('newest complete backup'));

    it('keep-daily 3, keep-weekly 4 (golden file policy_keep_snapshots_13): ISO weeks, 2016-01-03 is in 2015-W53', () => {
      const plan = planRetention(resticHistory, only({ keepDaily: 3, keepWeekly: 4 }), { now });
      expect(times(plan.keep)).toEqual(['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-03 07:02:03'].map(iso));
      expect(plan.keep.map(ruleReasons)).toEqual([
        ['keep-daily 3 (2016-01-18)', 'keep-weekly 4 (2016-W03)'],
        ['keep-daily 3 (2016-01-12)', 'keep-weekly 4 (2016-W02)'],
        ['keep-daily 3 (2016-01-09)', 'keep-weekly 4 (2016-W01)'],
        ['keep-weekly 4 (2015-W53)'],
      ]);
    });

    it('keep-daily 7, keep-weekly 2, keep-monthly 3, keep-yearly 10 (golden file policy_keep_snapshots_17)', () => {
      const plan = planRetention(resticHistory, only({ keepDaily: 7, keepWeekly: 2, keepMonthly: 3, keepYearly: 10 }), { now });
      const kinds = (reasons: string[]) => reasons.map((r) => r.split(' ')[0]);
      expect(plan.keep.map((k) => [k.entry.createdAt.toISOString(), kinds(ruleReasons(k))])).toEqual([
        [iso('2016-01-18 12:02:03'), ['keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly']],
        [iso('2016-01-12 21:08:03'), ['keep-daily', 'keep-weekly']],
        [iso('2016-01-09 21:02:03'), ['keep-daily']],
        [iso('2016-01-08 20:02:03'), ['keep-daily']],
        [iso('2016-01-07 10:02:03'), ['keep-daily']],
        [iso('2016-01-06 08:02:03'), ['keep-daily']],
        [iso('2016-01-05 09:02:03'), ['keep-daily']],
        [iso('2015-11-22 10:20:30'), ['keep-monthly', 'keep-yearly']],
        [iso('2015-10-22 10:20:30'), ['keep-monthly']],
        // The yearly count is not used up, yet the oldest backup (2014-08-08) goes: no restic 0.17 "oldest" rule.
        [iso('2014-11-22 10:20:30'), ['keep-yearly']],
      ]);
    });

    it('keep-hourly counts only hours that have a backup, and keeps the newest of each', () => {
      const plan = planRetention(resticHistory, only({ keepHourly: 5 }), { now });
      expect(times(plan.keep)).toEqual(
        ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-08 20:02:03', '2016-01-07 10:02:03'].map(iso),
      );
      // 12:23, 12:24, 12:28 and 12:30 on 2016-01-04 share an hour: with enough count, only 12:30 stays.
      const wide = planRetention(resticHistory, only({ keepHourly: 12 }), { now });
      const jan4 = wide.keep.filter((k) => k.entry.createdAt.toISOString().startsWith('2016-01-04'));
      expect(jan4.map((k) => k.reasons)).toEqual([
        ['keep-hourly 12 (2016-01-04T16)'],
        ['keep-hourly 12 (2016-01-04T12)'],
        ['keep-hourly 12 (2016-01-04T11)'],
        ['keep-hourly 12 (2016-01-04T10)'],
      ]);
      expect(jan4[1]!.entry.createdAt.toISOString()).toBe(iso('2016-01-04 12:30:03'));
    });

    it('keep-last 2 with keep-daily 10 ORs the rules: a backup matching both is counted by both', () => {
      const plan = planRetention(resticHistory, only({ keepLast: 2, keepDaily: 10 }), { now });
      expect(plan.keep).toHaveLength(10);
      expect(plan.keep[0]!.reasons).toEqual(['keep-last 2 (#1)', 'keep-daily 10 (2016-01-18)', 'newest complete backup of space production']);
      // The third-newest (21:02 on the 12th) shares a day with the second and matches neither rule.
      expect(plan.keep[1]!.reasons).toEqual(['keep-last 2 (#2)', 'keep-daily 10 (2016-01-12)']);
      expect(plan.keep[2]!.entry.createdAt.toISOString()).toBe(iso('2016-01-09 21:02:03'));
      expect(times(plan.keep).at(-1)).toBe(iso('2016-01-01 07:08:03'));
    });
  });
});

describe('FAC defaults over a realistic 10-day history', () => {
  const DAYS = Array.from({ length: 10 }, (_, i) => Date.UTC(2026, 10, 12 + i)); // 12..21 November 2026
  const now = new Date('2026-11-21T06:00:00Z');

  function history(predeployTimes: readonly number[]) {
    const prodNightly = DAYS.map((d) => backup('production', 'nightly', d + 2 * HOUR));
    const devNightly = DAYS.map((d) => backup('dev', 'nightly', d + 2 * HOUR));
    const predeploys = predeployTimes.map((t) => backup('production', 'predeploy', t));
    return { prodNightly, devNightly, predeploys, all: [...prodNightly, ...devNightly, ...predeploys] };
  }

  it('keeps 7 days of production nightlies, the last 2 predeploys and 1 day of dev nightlies, and nothing else', () => {
    const predeployTimes = ['2026-11-12T15:42:10Z', '2026-11-14T09:03:55Z', '2026-11-17T18:27:31Z', '2026-11-19T11:11:11Z', '2026-11-20T22:48:05Z'];
    const { prodNightly, devNightly, predeploys, all } = history(predeployTimes.map(Date.parse));

    const plan = planRetention(all, DEFAULT_RETENTION, { now });

    // The cut-off is 2026-11-14T06:00Z, so the 02:00 nightly of the 14th is just outside.
    const expected = [...prodNightly.slice(3), predeploys[3]!, predeploys[4]!, devNightly[9]!];
    expect(new Set(ids(plan.keep))).toEqual(new Set(expected.map((e) => e.id)));
    expect(plan.keep).toHaveLength(10);
    expect(plan.remove).toHaveLength(15);

    expect(reasonsFor(plan, predeploys[4]!)).toEqual(['keep-last 2 (#1)']);
    expect(reasonsFor(plan, predeploys[3]!)).toEqual(['keep-last 2 (#2)']);
    expect(reasonsFor(plan, prodNightly[9]!)).toEqual(['keep-within 7d', 'newest complete backup of space production']);
    expect(reasonsFor(plan, prodNightly[3]!)).toEqual(['keep-within 7d']);
    expect(reasonsFor(plan, devNightly[9]!)).toEqual(['keep-within 1d', 'newest complete backup of space dev']);
    expect(removalFor(plan, prodNightly[2]!)).toBe('not kept by production/nightly rules (keep-within 7d)');
    expect(removalFor(plan, predeploys[2]!)).toBe('not kept by production/predeploy rules (keep-last 2)');
    expect(removalFor(plan, devNightly[8]!)).toBe('not kept by dev/nightly rules (keep-within 1d)');
  });

  it('plans are newest first', () => {
    const { all } = history([Date.parse('2026-11-13T10:00:00Z'), Date.parse('2026-11-18T10:00:00Z'), Date.parse('2026-11-20T10:00:00Z')]);
    const plan = planRetention([...all].reverse(), DEFAULT_RETENTION, { now });
    const isNewestFirst = (list: readonly { entry: BackupEntry }[]) =>
      list.every((item, i) => i === 0 || list[i - 1]!.entry.createdAt >= item.entry.createdAt);
    expect(isNewestFirst(plan.keep)).toBe(true);
    expect(isNewestFirst(plan.remove)).toBe(true);
    expect(plan.keep[0]!.entry.id).toBe(ids(plan.keep).toSorted().at(-1));
  });

  it('with predeploys at random times, keeps exactly the two newest of them', () => {
    const predeployTime = fc.integer({ min: DAYS[0]!, max: now.getTime() - 1 });
    fc.assert(
      fc.property(fc.uniqueArray(predeployTime, { maxLength: 12 }), (predeployTimes) => {
        const { prodNightly, devNightly, predeploys, all } = history(predeployTimes);
        const plan = planRetention(all, DEFAULT_RETENTION, { now });
        const newestPredeploys = [...predeploys].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, 2);
        const expected = [...prodNightly.slice(3), ...newestPredeploys, devNightly[9]!];
        expect(new Set(ids(plan.keep))).toEqual(new Set(expected.map((e) => e.id)));
      }),
    );
  });
});

describe('safety rules', () => {
  const now = new Date('2026-11-21T12:00:00Z');
  const ago = (ms: number) => now.getTime() - ms;

  it('keeps backups whose space and trigger no rule set names, and says so', () => {
    const manual = backup('production', 'manual', ago(400 * DAY));
    const preRestore = backup('dev', 'pre-restore', ago(90 * DAY));
    const stagingNightly = backup('staging', 'nightly', ago(30 * DAY));
    const newer = backup('production', 'nightly', ago(HOUR));
    const plan = planRetention([manual, preRestore, stagingNightly, newer], DEFAULT_RETENTION, { now });
    expect(plan.remove).toEqual([]);
    expect(reasonsFor(plan, manual)).toEqual(['no rule covers trigger manual in space production']);
    expect(reasonsFor(plan, preRestore)).toEqual(['no rule covers trigger pre-restore in space dev', 'newest complete backup of space dev']);
    expect(reasonsFor(plan, stagingNightly)[0]).toBe('no rule covers trigger nightly in space staging');
  });

  it('keeps incomplete backups within the grace period, removes them after, and never counts them for keep-last', () => {
    const running = backup('production', 'predeploy', ago(HOUR), 'incomplete');
    const failed = backup('production', 'predeploy', ago(25 * HOUR), 'incomplete');
    const failedManual = backup('production', 'manual', ago(3 * DAY), 'incomplete');
    const complete = [3, 4, 5].map((d) => backup('production', 'predeploy', ago(d * DAY)));
    const plan = planRetention([running, failed, failedManual, ...complete], DEFAULT_RETENTION, { now });

    expect(reasonsFor(plan, running)).toEqual(['incomplete, younger than grace period 24h']);
    expect(removalFor(plan, failed)).toBe('incomplete and older than grace period 24h');
    expect(removalFor(plan, failedManual)).toBe('incomplete and older than grace period 24h');
    // keep-last 2 counts complete backups only, and an incomplete one is never the "newest complete".
    expect(reasonsFor(plan, complete[0]!)).toEqual(['keep-last 2 (#1)', 'newest complete backup of space production']);
    expect(reasonsFor(plan, complete[1]!)).toEqual(['keep-last 2 (#2)']);
    expect(removalFor(plan, complete[2]!)).toBe('not kept by production/predeploy rules (keep-last 2)');
  });

  it('uses the grace period it is given, keeping an incomplete backup exactly at the limit', () => {
    const atLimit = backup('dev', 'nightly', ago(2 * HOUR), 'incomplete');
    const pastLimit = backup('dev', 'nightly', ago(2 * HOUR + 1), 'incomplete');
    const complete = backup('dev', 'nightly', ago(HOUR));
    const plan = planRetention([atLimit, pastLimit, complete], DEFAULT_RETENTION, { now, incompleteGraceMs: 2 * HOUR });
    expect(reasonsFor(plan, atLimit)).toEqual(['incomplete, younger than grace period 2h']);
    expect(removalFor(plan, pastLimit)).toBe('incomplete and older than grace period 2h');
  });

  it('keep-within keeps a backup exactly at the cut-off and removes one a millisecond older', () => {
    const atCutoff = backup('production', 'nightly', ago(7 * DAY));
    const justOlder = backup('production', 'nightly', ago(7 * DAY + 1));
    const newest = backup('production', 'nightly', ago(HOUR));
    const plan = planRetention([atCutoff, justOlder, newest], DEFAULT_RETENTION, { now });
    expect(reasonsFor(plan, atCutoff)).toEqual(['keep-within 7d']);
    expect(removalFor(plan, justOlder)).toBe('not kept by production/nightly rules (keep-within 7d)');
  });

  it('rescues the newest complete backup of a space when rules drop it but other backups of the space survive', () => {
    // Production nightlies stopped 9 days ago; the older predeploys are still kept by keep-last.
    const predeploys = [20, 15].map((d) => backup('production', 'predeploy', ago(d * DAY)));
    const nightlies = [11, 10, 9].map((d) => backup('production', 'nightly', ago(d * DAY)));
    const plan = planRetention([...predeploys, ...nightlies], DEFAULT_RETENTION, { now });
    expect(reasonsFor(plan, nightlies[2]!)).toEqual([
      'newest complete backup of space production, kept by the safety rule although production/nightly rules (keep-within 7d) would delete it',
    ]);
    expect(ids(plan.rescued)).toEqual([nightlies[2]!.id]);
    expect(ids(plan.remove)).toEqual([nightlies[1]!.id, nightlies[0]!.id]);
    expect(ids(plan.keep)).toEqual([nightlies[2]!.id, predeploys[1]!.id, predeploys[0]!.id]);
  });

  it('refuses a rule set with no rules, or only zero counts, even before it meets a backup', () => {
    const entries = [backup('production', 'nightly', ago(HOUR)), backup('production', 'manual', ago(DAY))];
    for (const rules of [{}, { keepLast: 0 }, { keepLast: 0, keepDaily: 0, keepWithin: '0d' }] satisfies KeepRules[]) {
      const policy: RetentionRuleSet[] = [{ space: 'production', trigger: 'nightly', rules }];
      expect(() => planRetention(entries, policy, { now })).toThrow(RetentionRefusedError);
      expect(() => planRetention(entries, policy, { now })).toThrow(/policy would delete every backup of production\/nightly: .*Nothing was deleted.*keepLast: 1/);
      expect(() => planRetention([], policy, { now })).toThrow(RetentionRefusedError);
    }
  });

  it('keeps the newest complete backup of a space whose backups stopped 8 days ago, deletes the rest, and flags it as rescued', () => {
    // dev/nightly keeps 1 day; the nightlies stopped 8 days ago. No refusal: the newest stays, the rest go.
    const devNightlies = [10, 9, 8].map((d) => backup('dev', 'nightly', ago(d * DAY)));
    const prodNightly = backup('production', 'nightly', ago(HOUR));
    const inProgress = backup('dev', 'nightly', ago(HOUR), 'incomplete');
    const plan = planRetention([...devNightlies, prodNightly, inProgress], DEFAULT_RETENTION, { now });

    expect(ids(plan.remove)).toEqual([devNightlies[1]!.id, devNightlies[0]!.id]);
    expect(reasonsFor(plan, devNightlies[2]!)).toEqual([
      'newest complete backup of space dev, kept by the safety rule although dev/nightly rules (keep-within 1d) would delete it',
    ]);
    expect(ids(plan.rescued)).toEqual([devNightlies[2]!.id]);
    // The running backup does not count as the newest complete one, and the healthy space is not flagged.
    expect(reasonsFor(plan, inProgress)).toEqual(['incomplete, younger than grace period 24h']);
    expect(reasonsFor(plan, prodNightly)).toEqual(['keep-within 7d', 'newest complete backup of space production']);
  });

  it('when every backup of production stopped 8 days ago, keeps the 2 predeploys and the newest nightly', () => {
    const nightlies = [12, 11, 10, 9, 8].map((d) => backup('production', 'nightly', ago(d * DAY)));
    const predeploys = [20, 15, 9.5].map((d) => backup('production', 'predeploy', ago(d * DAY)));
    const plan = planRetention([...nightlies, ...predeploys], DEFAULT_RETENTION, { now });
    expect(ids(plan.keep)).toEqual([nightlies[4]!.id, predeploys[2]!.id, predeploys[1]!.id]);
    expect(ids(plan.rescued)).toEqual([nightlies[4]!.id]);
    expect(plan.remove).toHaveLength(5);
  });

  it('removes at once the incomplete remnants of backups an interrupted prune had started deleting, whatever their age', () => {
    const halfDeletedYoung = backup('production', 'predeploy', ago(2 * HOUR), 'incomplete');
    const halfDeletedOld = backup('production', 'predeploy', ago(3 * DAY), 'incomplete');
    const running = backup('production', 'predeploy', ago(HOUR), 'incomplete');
    // Listed in the journal, but its manifest is still there: the prune died before touching it.
    const untouched = backup('production', 'predeploy', ago(5 * HOUR));
    const newer = [backup('production', 'predeploy', ago(4 * HOUR)), backup('production', 'predeploy', ago(3 * HOUR))];
    const unfinishedDeletions = new Set([halfDeletedYoung, halfDeletedOld, untouched].map((b) => backupKey(b.space, b.id)));
    const plan = planRetention([halfDeletedYoung, halfDeletedOld, running, untouched, ...newer], DEFAULT_RETENTION, { now, unfinishedDeletions });

    expect(removalFor(plan, halfDeletedYoung)).toBe('left incomplete by an interrupted prune, which had started deleting it');
    expect(removalFor(plan, halfDeletedOld)).toBe('left incomplete by an interrupted prune, which had started deleting it');
    expect(reasonsFor(plan, running)).toEqual(['incomplete, younger than grace period 24h']);
    // A complete backup is judged by the rules as usual: the journal never overrides them.
    expect(removalFor(plan, untouched)).toBe('not kept by production/predeploy rules (keep-last 2)');
    expect(ids(plan.keep)).toEqual([running.id, newer[1]!.id, newer[0]!.id]);

    // Without the journal the young remnant would wait out the grace period.
    const blind = planRetention([halfDeletedYoung, ...newer], DEFAULT_RETENTION, { now });
    expect(reasonsFor(blind, halfDeletedYoung)).toEqual(['incomplete, younger than grace period 24h']);
  });

  it('rejects malformed rules and duplicate rule sets with messages that name the rule set', () => {
    const entries = [backup('production', 'nightly', ago(HOUR))];
    const plan = (rules: KeepRules) => () => planRetention(entries, only(rules), { now });
    expect(plan({ keepLast: -1 })).toThrow(/keepLast for production\/nightly is -1/);
    expect(plan({ keepDaily: 1.5 })).toThrow(/keepDaily for production\/nightly is 1.5/);
    expect(plan({ keepWithin: '7 days' })).toThrow(/keepWithin for production\/nightly: Invalid duration '7 days'/);
    expect(plan({ keepWithin: { years: 0, months: -1, weeks: 0, days: 0, hours: 0 } })).toThrow(RetentionPolicyError);
    const twice: RetentionRuleSet[] = [...only({ keepLast: 1 }), ...only({ keepWithin: '7d' })];
    expect(() => planRetention(entries, twice, { now })).toThrow(/more than one rule set for production\/nightly/);
    expect(() => planRetention(entries, DEFAULT_RETENTION, { now: new Date(Number.NaN) })).toThrow(RangeError);
    expect(() => planRetention(entries, DEFAULT_RETENTION, { now, incompleteGraceMs: -1 })).toThrow(RangeError);
  });

  it('describes rules the way reasons show them', () => {
    expect(describeRules({ keepDaily: 7, keepLast: 2, keepWithin: '1d12h', keepYearly: 0 })).toBe('keep-last 2, keep-within 1d12h, keep-daily 7');
    expect(describeRules({})).toBe('no rules');
  });

  it("the default policy's retention is FAC's, and the engine accepts it as it is", () => {
    expect(DEFAULT_RETENTION.map((r) => `${r.space}/${r.trigger}: ${describeRules(r.rules)}`)).toEqual([
      'production/predeploy: keep-last 2',
      'production/nightly: keep-within 7d',
      'dev/nightly: keep-within 1d',
    ]);
    expect(planRetention([], DEFAULT_RETENTION, { now })).toEqual({ keep: [], remove: [], rescued: [] });
  });
});

describe('properties', () => {
  const NOW = Date.UTC(2026, 10, 21, 12);
  const SPACES = ['production', 'dev'] as const;
  const RULED_TRIGGERS = ['predeploy', 'nightly', 'manual'] as const satisfies readonly Trigger[];

  const entriesArb = fc
    .array(
      fc.record({
        space: fc.constantFrom(...SPACES),
        trigger: fc.constantFrom(...TRIGGERS),
        // Whole minutes over ~two months, a few in the future (clock skew), so periods collide often.
        minutesAgo: fc.integer({ min: -120, max: 60 * 24 * 60 }),
        status: fc.constantFrom<BackupStatus>('complete', 'complete', 'complete', 'incomplete'),
      }),
      { maxLength: 40 },
    )
    .map((records) =>
      records.map((r, i): BackupEntry => {
        const createdAt = new Date(NOW - r.minutesAgo * 60_000);
        return { id: formatBackupId(createdAt, r.trigger, i.toString(16).padStart(4, '0')), space: r.space, trigger: r.trigger, createdAt, sizeBytes: 1, status: r.status };
      }),
    );

  const count = fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined });
  const mixedRules = fc
    .record({
      keepLast: count,
      keepHourly: count,
      keepDaily: count,
      keepWeekly: count,
      keepMonthly: count,
      keepYearly: count,
      keepWithin: fc.option(fc.constantFrom('1h', '36h', '1d', '7d', '2w', '1m', '1m14d'), { nil: undefined }),
    })
    // A rule set that keeps nothing is refused outright (tested above); the properties are about real plans.
    .map((rules): KeepRules => (describeRules(rules) === 'no rules' ? { ...rules, keepLast: 1 } : rules));
  // keep-within alone is the only rule that can drop the newest backup of its group, which is where safety
  // rule 1 comes in, so it is generated often.
  const rulesArb: fc.Arbitrary<KeepRules> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ keepWithin: fc.constantFrom('1h', '36h', '1d', '7d', '2w') }) },
    { weight: 3, arbitrary: mixedRules },
  );

  const policyArb = fc.uniqueArray(
    fc.record({ space: fc.constantFrom(...SPACES), trigger: fc.constantFrom(...RULED_TRIGGERS), rules: rulesArb }),
    { selector: (r) => `${r.space}/${r.trigger}`, maxLength: 6 },
  );

  function plan(entries: readonly BackupEntry[], policy: readonly RetentionRuleSet[], now: number, options: Partial<PlanOptions> = {}) {
    return planRetention(entries, policy, { ...options, now: new Date(now) });
  }

  const keptIds = (p: RetentionPlan) => new Set(ids(p.keep));

  function newestComplete(entries: readonly BackupEntry[], space: string): BackupEntry | undefined {
    return entries
      .filter((e) => e.space === space && e.status === 'complete')
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))[0];
  }

  it('never removes the newest complete backup of any space, and never refuses a policy in which every rule set has a rule', () => {
    fc.assert(
      fc.property(entriesArb, policyArb, fc.integer({ min: -DAY, max: 400 * DAY }), (entries, policy, offset) => {
        const p = plan(entries, policy, NOW + offset);
        const kept = keptIds(p);
        for (const space of SPACES) {
          const newest = newestComplete(entries, space);
          if (newest) expect(kept.has(newest.id)).toBe(true);
        }
      }),
    );
  });

  it('rescues only the newest complete backup of a space, only when its own rules would delete it', () => {
    fc.assert(
      fc.property(entriesArb, policyArb, fc.nat(60 * DAY), (entries, policy, offset) => {
        const p = plan(entries, policy, NOW + offset);
        for (const rescued of p.rescued) {
          expect(rescued.entry).toBe(newestComplete(entries, rescued.entry.space));
          expect(rescued.reasons).toHaveLength(1);
          expect(rescued.reasons[0]).toMatch(/^newest complete backup of space .*, kept by the safety rule although/);
          expect(p.keep).toContain(rescued);
        }
        // Every kept backup whose only reason is the safety rule is listed as rescued.
        const onlySafety = p.keep.filter((k) => k.reasons.every((r) => r.startsWith('newest complete backup of space')));
        expect(onlySafety.filter((k) => !p.rescued.includes(k)).map((k) => k.reasons)).toEqual([]);
      }),
    );
  });

  it('puts every entry in exactly one of keep and remove', () => {
    fc.assert(
      fc.property(entriesArb, policyArb, (entries, policy) => {
        const p = plan(entries, policy, NOW);
        const planned = [...ids(p.keep), ...ids(p.remove)];
        expect(planned.toSorted()).toEqual(entries.map((e) => e.id).toSorted());
        expect(p.keep.every((k) => k.reasons.length > 0)).toBe(true);
      }),
    );
  });

  it('is idempotent: a second prune, over what the first kept, removes nothing', () => {
    fc.assert(
      fc.property(entriesArb, policyArb, fc.integer({ min: 0, max: 3 * DAY }), fc.nat(30 * DAY), (entries, policy, graceMs, offset) => {
        const first = plan(entries, policy, NOW + offset, { incompleteGraceMs: graceMs });
        const second = plan(
          first.keep.map((k) => k.entry),
          policy,
          NOW + offset,
          { incompleteGraceMs: graceMs },
        );
        expect(ids(second.remove)).toEqual([]);
        expect(ids(second.keep)).toEqual(ids(first.keep));
      }),
    );
  });

  it('only lets go as time passes with no new backups: what is kept later was kept earlier', () => {
    fc.assert(
      fc.property(entriesArb, policyArb, fc.nat(90 * DAY), fc.nat(90 * DAY), (entries, policy, a, b) => {
        const [earlier, later] = a <= b ? [NOW + a, NOW + b] : [NOW + b, NOW + a];
        const before = plan(entries, policy, earlier);
        const after = plan(entries, policy, later);
        const keptBefore = keptIds(before);
        // The guaranteed newest is kept at both times, so it needs no exception here.
        expect(ids(after.keep).filter((id) => !keptBefore.has(id))).toEqual([]);
        // And eventually the rules let go of everything they cover but the newest complete backup of each space.
        expect(after.keep.length).toBeLessThanOrEqual(before.keep.length);
      }),
    );
  });

  it('refuses a policy exactly when one of its rule sets keeps nothing, whatever the backups and the time', () => {
    const emptyRules = fc.constantFrom<KeepRules>({}, { keepLast: 0 }, { keepWithin: '0d' }, { keepDaily: 0, keepYearly: 0, keepWithin: '0h' });
    fc.assert(
      fc.property(entriesArb, policyArb, emptyRules, fc.nat(), fc.nat(400 * DAY), (entries, policy, empty, index, offset) => {
        expect(() => plan(entries, policy, NOW + offset)).not.toThrow();
        const broken = [...policy];
        const target = broken[index % Math.max(1, broken.length)];
        if (target) broken[index % broken.length] = { ...target, rules: empty };
        else broken.push({ space: 'dev', trigger: 'nightly', rules: empty });
        expect(() => plan(entries, broken, NOW + offset)).toThrow(RetentionRefusedError);
      }),
    );
  });

  it('removes every incomplete backup an interrupted prune had started deleting, and changes nothing else', () => {
    fc.assert(
      fc.property(
        entriesArb.chain((entries) => fc.tuple(fc.constant(entries), fc.subarray(entries))),
        policyArb,
        ([entries, journal], policy) => {
          const unfinishedDeletions = new Set(journal.map((e) => backupKey(e.space, e.id)));
          const blind = plan(entries, policy, NOW);
          const informed = plan(entries, policy, NOW, { unfinishedDeletions });
          const promoted = new Set(journal.filter((e) => e.status === 'incomplete').map((e) => e.id));
          expect(ids(informed.keep)).toEqual(ids(blind.keep).filter((id) => !promoted.has(id)));
          expect(ids(informed.remove).toSorted()).toEqual([...new Set([...ids(blind.remove), ...promoted])].toSorted());
        },
      ),
    );
  });

  it('is deterministic whatever the input order', () => {
    fc.assert(
      fc.property(
        entriesArb.chain((entries) => fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length }))),
        policyArb,
        ([entries, shuffled], policy) => {
          const first = plan(entries, policy, NOW);
          const second = plan(shuffled, policy, NOW);
          expect(second.keep.map((k) => [k.entry.id, k.reasons])).toEqual(first.keep.map((k) => [k.entry.id, k.reasons]));
          expect(second.remove.map((r) => [r.entry.id, r.reason])).toEqual(first.remove.map((r) => [r.entry.id, r.reason]));
          expect(ids(second.rescued)).toEqual(ids(first.rescued));
        },
      ),
    );
  });
});
