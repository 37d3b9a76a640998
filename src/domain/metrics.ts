/**
 * Backup metrics per space and trigger, for the check action's JSON document and its Prometheus
 * exposition: when the last good backup finished, how old it is, how long it took, how big it is, how
 * many backups there are in each state, and how its duration and size compare with the previous ones.
 * Pure: the check reads the bucket and hands the backups here.
 */
import type { Trigger } from './backup-id.js';
import type { BackupStatus } from './catalog.js';

/** A backup as the metrics see it. Timing comes from its manifest, so only good backups have it. */
export interface MeasuredBackup {
  id: string;
  space: string;
  trigger: Trigger;
  status: BackupStatus;
  /** Bytes stored under the backup's prefix, from the listing. */
  sizeBytes: number;
  /** From the manifest; absent for incomplete and invalid backups, and for good ones whose manifest was not read. */
  startedAt?: Date;
  finishedAt?: Date;
}

/** How many previous good backups the trend compares with, at most. */
export const TREND_WINDOW = 10;
/** Fewer previous good backups than this and there is no trend: one odd night is not a baseline. */
export const TREND_MINIMUM = 3;
/** A duration above this many times the median of the previous ones is flagged (MosAIc alerts on 2 × average). */
export const SLOW_FACTOR = 2;

export interface Trend {
  /** Previous good backups compared with (up to TREND_WINDOW). */
  previous: number;
  medianDurationSeconds: number;
  medianSizeBytes: number;
  /** Last / median; null when the median is 0. */
  durationRatio: number | null;
  sizeRatio: number | null;
  /** The last duration is more than SLOW_FACTOR × the median of the previous ones. */
  slow: boolean;
}

export interface GroupMetrics {
  space: string;
  trigger: Trigger;
  counts: Record<BackupStatus, number>;
  /** The newest good backup (complete, valid manifest, timing read); absent when there is none. */
  last?: {
    id: string;
    finishedAt: string;
    ageSeconds: number;
    durationSeconds: number;
    sizeBytes: number;
  };
  /** Absent with fewer than TREND_MINIMUM previous good backups. */
  trend?: Trend;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function ratio(value: number, base: number): number | null {
  return base > 0 ? value / base : null;
}

const seconds = (b: MeasuredBackup) => (b.finishedAt!.getTime() - b.startedAt!.getTime()) / 1000;
const timed = (b: MeasuredBackup) => b.status === 'complete' && b.startedAt !== undefined && b.finishedAt !== undefined;

/** Metrics of each space and trigger present, in space then trigger order. */
export function computeMetrics(backups: readonly MeasuredBackup[], now: Date): GroupMetrics[] {
  const groups = new Map<string, MeasuredBackup[]>();
  for (const b of backups) {
    const key = `${b.space}\u0000${b.trigger}`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  const result: GroupMetrics[] = [];
  for (const key of [...groups.keys()].sort()) {
    const members = groups.get(key)!;
    const { space, trigger } = members[0]!;
    const counts: Record<BackupStatus, number> = { complete: 0, incomplete: 0, invalid: 0 };
    for (const m of members) counts[m.status]++;
    const good = members.filter(timed).sort((a, b) => b.finishedAt!.getTime() - a.finishedAt!.getTime());
    const metrics: GroupMetrics = { space, trigger, counts };
    const newest = good[0];
    if (newest) {
      metrics.last = {
        id: newest.id,
        finishedAt: newest.finishedAt!.toISOString(),
        ageSeconds: (now.getTime() - newest.finishedAt!.getTime()) / 1000,
        durationSeconds: seconds(newest),
        sizeBytes: newest.sizeBytes,
      };
      const previous = good.slice(1, 1 + TREND_WINDOW);
      if (previous.length >= TREND_MINIMUM) {
        const medianDurationSeconds = median(previous.map(seconds));
        const medianSizeBytes = median(previous.map((b) => b.sizeBytes));
        metrics.trend = {
          previous: previous.length,
          medianDurationSeconds,
          medianSizeBytes,
          durationRatio: ratio(metrics.last.durationSeconds, medianDurationSeconds),
          sizeRatio: ratio(newest.sizeBytes, medianSizeBytes),
          slow: metrics.last.durationSeconds > SLOW_FACTOR * medianDurationSeconds,
        };
      }
    }
    result.push(metrics);
  }
  return result;
}

/** One Prometheus metric family: a gauge, its help, and its samples. */
export interface MetricFamily {
  name: string;
  help: string;
  labelNames: readonly string[];
  samples: { labels: Record<string, string>; value: number }[];
}

/** What the check found, besides the per-group metrics, for the check-wide gauges. */
export interface CheckTotals {
  ok: boolean;
  problems: number;
  warnings: number;
  verifiedArtifacts: number;
  verifiedBytes: number;
  /** Freshness findings that were evaluated (not skipped), by group. */
  fresh: { space: string; trigger: Trigger; ok: boolean }[];
  now: Date;
}

/**
 * The metrics as gauge families. Names follow Prometheus conventions (base units, `_seconds`, `_bytes`,
 * `_timestamp_seconds`); a group without a good backup has no last-* samples rather than a made-up 0,
 * so `absent()` alerts and the age rule both fire.
 */
export function metricFamilies(groups: readonly GroupMetrics[], totals: CheckTotals): MetricFamily[] {
  const st = ['space', 'trigger'] as const;
  const family = (name: string, help: string, labelNames: readonly string[] = st): MetricFamily => ({ name, help, labelNames, samples: [] });
  const lastSuccess = family('lifeboat_backup_last_success_timestamp_seconds', 'When the newest good backup finished, as a Unix time.');
  const age = family('lifeboat_backup_age_seconds', 'Age of the newest good backup when the check ran.');
  const duration = family('lifeboat_backup_last_duration_seconds', 'How long the newest good backup took.');
  const size = family('lifeboat_backup_last_size_bytes', 'Bytes stored by the newest good backup (its artifacts and manifest).');
  const medianDuration = family('lifeboat_backup_median_duration_seconds', 'Median duration of the previous good backups (up to 10).');
  const medianSize = family('lifeboat_backup_median_size_bytes', 'Median size of the previous good backups (up to 10).');
  const slow = family('lifeboat_backup_slow', '1 when the newest good backup took more than 2 × the median of the previous ones.');
  const count = family('lifeboat_backups', 'Backups in the bucket, by status.', ['space', 'trigger', 'status']);
  const fresh = family('lifeboat_backup_fresh', "1 when the newest good backup meets the policy's freshness rule, else 0.");
  for (const g of groups) {
    const labels = { space: g.space, trigger: g.trigger };
    for (const status of ['complete', 'incomplete', 'invalid'] as const) count.samples.push({ labels: { ...labels, status }, value: g.counts[status] });
    if (g.last) {
      lastSuccess.samples.push({ labels, value: Date.parse(g.last.finishedAt) / 1000 });
      age.samples.push({ labels, value: g.last.ageSeconds });
      duration.samples.push({ labels, value: g.last.durationSeconds });
      size.samples.push({ labels, value: g.last.sizeBytes });
    }
    if (g.trend) {
      medianDuration.samples.push({ labels, value: g.trend.medianDurationSeconds });
      medianSize.samples.push({ labels, value: g.trend.medianSizeBytes });
      slow.samples.push({ labels, value: g.trend.slow ? 1 : 0 });
    }
  }
  for (const f of totals.fresh) {
    const labels = { space: f.space, trigger: f.trigger };
    const existing = fresh.samples.find((s) => s.labels.space === f.space && s.labels.trigger === f.trigger);
    // Several rules on one group: it is fresh only if all of them hold.
    if (existing) existing.value = Math.min(existing.value, f.ok ? 1 : 0);
    else fresh.samples.push({ labels, value: f.ok ? 1 : 0 });
  }
  const single = (name: string, help: string, value: number): MetricFamily => ({ name, help, labelNames: [], samples: [{ labels: {}, value }] });
  return [
    lastSuccess,
    age,
    duration,
    size,
    medianDuration,
    medianSize,
    slow,
    count,
    fresh,
    single('lifeboat_check_success', '1 when the check passed, else 0.', totals.ok ? 1 : 0),
    single('lifeboat_check_problems', 'Problems the check found (each fails it).', totals.problems),
    single('lifeboat_check_warnings', 'Warnings the check reported (incomplete backups, slow backups, stale keys).', totals.warnings),
    single('lifeboat_check_verified_artifacts', 'Artifacts whose stored bytes the check read and hashed.', totals.verifiedArtifacts),
    single('lifeboat_check_verified_bytes', 'Bytes the check read and hashed.', totals.verifiedBytes),
    single('lifeboat_check_timestamp_seconds', 'When the check ran, as a Unix time.', totals.now.getTime() / 1000),
  ];
}
