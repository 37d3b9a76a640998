/**
 * The retention engine behind `prune`: given the catalog and the retention policy, decide which backups
 * to keep and which to delete, and say why for each one. Pure: the caller supplies `now` and does the I/O.
 *
 * The rules follow restic's `forget` (internal/restic/snapshot_policy.go), so people who know restic can
 * read a policy without surprises:
 *
 * - The rules of one rule set are ORed: a backup is kept if any rule keeps it.
 * - `keepLast N` keeps the N newest backups.
 * - `keepHourly/Daily/Weekly/Monthly/Yearly N` walk the backups newest first and keep the newest backup of
 *   each hour/day/ISO week/month/year, counting only periods that have a backup, until N periods are used.
 *   Periods are UTC calendar periods, not windows relative to now. Restic 0.17 added a rule that keeps the
 *   oldest backup too when a count is not used up; Lifeboat does not, so a count means at most N backups.
 * - `keepWithin D` keeps every backup made at or after `now - D`. Restic measures back from the newest
 *   snapshot instead; Lifeboat measures from now, so that when backups stop the rules visibly let go of
 *   them (and the plan says the newest survives only by safety rule 1, see `rescued`) instead of keeping
 *   a stale history forever without anyone noticing.
 *
 * On top of restic, safety rules that hold whatever the policy says:
 *
 * 1. The newest complete backup of every space is never removed, even when the rules would remove it
 *    (backups stopped for longer than every keep-within window, say). The plan lists such backups in
 *    `rescued`, so the caller can warn that a space is living on its last restore point.
 * 2. Backups whose (space, trigger) no rule set names are kept (manual and pre-restore backups, usually).
 * 3. Rules only see complete backups. An incomplete backup is kept while it is younger than the grace
 *    period (it may still be running) and removed after, whatever its trigger: it cannot be restored, so
 *    keeping it protects nothing. Its age comes from its id, which is the time the backup started, so a
 *    backup that an interrupted prune left half-deleted is judged by when it was made, not by when the
 *    prune died. One that an interrupted prune had started deleting (`unfinishedDeletions`) is removed
 *    at once, whatever its age: nothing can be running under an id a prune already chose to delete.
 * 4. A policy that would delete everything by construction is refused before it meets a backup: a rule
 *    set with no effective rule (none given, every count 0, keep-within 0). See RetentionRefusedError.
 *    With rule 1 in place, no well-formed rule set can empty a space, so there is no data-driven refusal.
 */
import type { Trigger } from './backup-id.js';
import { sortNewestFirst, type BackupEntry } from './catalog.js';

export interface Duration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
}

/** What one rule set keeps. Counts of 0 and a zero duration are the same as leaving the rule out. */
export interface KeepRules {
  readonly keepLast?: number;
  /** A Duration, or its text form such as `7d` (see parseDuration), as written in the policy file. */
  readonly keepWithin?: Duration | string;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

/** The rules for the backups of one space made by one trigger; the shape of a policy file's `retention` entry. */
export interface RetentionRuleSet {
  readonly space: string;
  readonly trigger: Trigger;
  readonly rules: KeepRules;
}

export interface PlanOptions {
  now: Date;
  /** How long an incomplete backup may be still running; defaults to 24 hours. */
  incompleteGraceMs?: number;
  /**
   * `space/id` of backups that an earlier prune decided to delete but may not have finished deleting
   * (read from its journal). Those of them that are now incomplete are removed whatever their age.
   */
  unfinishedDeletions?: ReadonlySet<string>;
}

export interface KeptBackup<T extends BackupEntry = BackupEntry> {
  entry: T;
  /** Every reason that applies, e.g. `keep-last 2 (#1)` and `newest complete backup of space production`. */
  reasons: string[];
}

export interface RemovedBackup<T extends BackupEntry = BackupEntry> {
  entry: T;
  reason: string;
}

/** Both lists are newest first, and every catalog entry is in exactly one of them. */
export interface RetentionPlan<T extends BackupEntry = BackupEntry> {
  keep: KeptBackup<T>[];
  remove: RemovedBackup<T>[];
  /**
   * The kept backups that only safety rule 1 saved: their rule set would have removed them, and each is
   * the last complete backup of its space. A sign that backups of that space have stopped. Also in `keep`.
   */
  rescued: KeptBackup<T>[];
}

/** A policy that cannot be applied as written: a malformed rule, or two rule sets for the same backups. */
export class RetentionPolicyError extends Error {
  override readonly name: string = 'RetentionPolicyError';
}

/** The policy would delete every backup it covers by construction (a rule set that keeps nothing), so nothing is deleted at all. */
export class RetentionRefusedError extends RetentionPolicyError {
  override readonly name: string = 'RetentionRefusedError';
}

export const DEFAULT_INCOMPLETE_GRACE_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------------------
// Durations

const DURATION_UNITS = { y: 'years', m: 'months', w: 'weeks', d: 'days', h: 'hours' } as const;
type DurationUnit = keyof typeof DURATION_UNITS;

const ZERO_DURATION: Duration = { years: 0, months: 0, weeks: 0, days: 0, hours: 0 };

/**
 * Parses restic's `--keep-within` format plus weeks: one or more `<whole number><unit>` with units
 * y (years), m (months, not minutes), w (weeks), d (days), h (hours), each unit at most once, in any order.
 * Examples: `7d`, `24h`, `1d12h`, `2w`, `1y6m`.
 */
export function parseDuration(text: string): Duration {
  const trimmed = text.trim();
  const invalid = (why: string) =>
    new RetentionPolicyError(
      `Invalid duration '${text}': ${why}. Write whole numbers followed by units y (years), m (months), w (weeks), d (days), h (hours), for example '7d' or '1y6m'.`,
    );
  if (!/^(\d+[ymwdh])+$/.test(trimmed)) throw invalid('not a duration');

  const parts: Record<string, number> = {};
  for (const [, digits, unit] of trimmed.matchAll(/(\d+)([ymwdh])/g)) {
    const field = DURATION_UNITS[unit as DurationUnit];
    // '1d1d' is more likely a typo than a wish for two days.
    if (field in parts) throw invalid(`unit '${unit}' appears more than once`);
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) throw invalid(`'${digits}' is too large`);
    parts[field] = value;
  }
  return { ...ZERO_DURATION, ...parts };
}

/** The canonical text form, largest unit first (`1y6m`, `2w3d`); a zero duration is `0h`. */
export function formatDuration(duration: Duration): string {
  const text = (Object.entries(DURATION_UNITS) as [DurationUnit, keyof Duration][])
    .filter(([, field]) => duration[field] !== 0)
    .map(([unit, field]) => `${duration[field]}${unit}`)
    .join('');
  return text === '' ? '0h' : text;
}

function isZeroDuration(duration: Duration): boolean {
  return Object.values(DURATION_UNITS).every((field) => duration[field] === 0);
}

const MS_PER_HOUR = 60 * 60 * 1000;
const MS_PER_DAY = 24 * MS_PER_HOUR;
const EARLIEST_DATE_MS = -8.64e15;

/**
 * `now - duration` on the UTC calendar: years and months move the calendar date, weeks, days and hours are
 * fixed lengths (UTC has no daylight saving, so a day is always 24 hours).
 *
 * When the same day does not exist in the target month (one month before 31 March), the result is the end
 * of the shorter month, i.e. the first instant of the month after it. JavaScript and Go would roll over to
 * early March instead, which makes the cut-off jump backwards as `now` moves from 31 March to 1 April,
 * and a later prune would then keep a backup that an earlier prune was willing to delete.
 *
 * A result before the earliest representable date is clamped to it: such a window simply covers everything.
 */
export function subtractDuration(now: Date, duration: Duration): Date {
  let ms = subtractMonths(now, duration.years * 12 + duration.months);
  ms -= (duration.weeks * 7 + duration.days) * MS_PER_DAY + duration.hours * MS_PER_HOUR;
  return new Date(Number.isFinite(ms) && ms >= EARLIEST_DATE_MS ? ms : EARLIEST_DATE_MS);
}

function subtractMonths(now: Date, months: number): number {
  if (months === 0) return now.getTime();
  const targetYear = now.getUTCFullYear();
  const targetMonth = now.getUTCMonth() - months; // setUTCFullYear normalises months outside 0..11
  // setUTCFullYear rather than Date.UTC, which reads years 0-99 as 1900-1999.
  const lastDayOfTarget = new Date(0);
  lastDayOfTarget.setUTCFullYear(targetYear, targetMonth + 1, 0);
  const result = new Date(0);
  if (now.getUTCDate() > lastDayOfTarget.getUTCDate()) {
    result.setUTCFullYear(targetYear, targetMonth + 1, 1);
  } else {
    result.setUTCFullYear(targetYear, targetMonth, now.getUTCDate());
    result.setUTCHours(now.getUTCHours(), now.getUTCMinutes(), now.getUTCSeconds(), now.getUTCMilliseconds());
  }
  return result.getTime();
}

// ---------------------------------------------------------------------------------------------------------
// Calendar periods, as sortable keys that double as the human readable label in reasons

const CALENDAR_RULES = [
  { rule: 'keepHourly', label: 'keep-hourly', periodOf: (d: Date) => d.toISOString().slice(0, 13) }, // 2026-11-20T14
  { rule: 'keepDaily', label: 'keep-daily', periodOf: (d: Date) => d.toISOString().slice(0, 10) }, // 2026-11-20
  { rule: 'keepWeekly', label: 'keep-weekly', periodOf: isoWeekOf }, // 2026-W47
  { rule: 'keepMonthly', label: 'keep-monthly', periodOf: (d: Date) => d.toISOString().slice(0, 7) }, // 2026-11
  { rule: 'keepYearly', label: 'keep-yearly', periodOf: (d: Date) => String(d.getUTCFullYear()) }, // 2026
] as const;

/** ISO 8601 week with its ISO year, as restic uses: 1 January 2016 (a Friday) is in 2015-W53. */
function isoWeekOf(date: Date): string {
  const mondayBased = (date.getUTCDay() + 6) % 7;
  // The Thursday of a week decides which year the week belongs to.
  const thursday = new Date(0);
  thursday.setUTCFullYear(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - mondayBased + 3);
  const isoYear = thursday.getUTCFullYear();
  const januaryFirst = new Date(0);
  januaryFirst.setUTCFullYear(isoYear, 0, 1);
  const week = 1 + Math.floor((thursday.getTime() - januaryFirst.getTime()) / (7 * MS_PER_DAY));
  return `${isoYear}-W${String(week).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Policy validation

const COUNT_RULES = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;

interface ResolvedRuleSet {
  scope: string; // production/nightly
  keepLast: number;
  keepWithin: Duration | undefined;
  calendar: { label: string; count: number; periodOf: (d: Date) => string }[];
  description: string;
}

/** How `unfinishedDeletions` names a backup: `production/2026-11-21T020000.000Z-nightly-7f3a`. */
export function backupKey(space: string, id: string): string {
  return `${space}/${id}`;
}

function scopeOf(space: string, trigger: string): string {
  return `${space}/${trigger}`;
}

/** Describes rules the way reasons and messages show them, e.g. `keep-last 2, keep-within 7d`. */
export function describeRules(rules: KeepRules): string {
  const resolved = resolveRules(rules, 'rules');
  return resolved.description === '' ? 'no rules' : resolved.description;
}

function resolveRules(rules: KeepRules, scope: string): ResolvedRuleSet {
  for (const rule of COUNT_RULES) {
    const count = rules[rule];
    if (count !== undefined && !(Number.isSafeInteger(count) && count >= 0)) {
      throw new RetentionPolicyError(`Retention rule ${rule} for ${scope} is ${count}; use a whole number of 0 or more, for example 2.`);
    }
  }
  let keepWithin: Duration | undefined;
  if (typeof rules.keepWithin === 'string') {
    try {
      keepWithin = parseDuration(rules.keepWithin);
    } catch (error) {
      throw new RetentionPolicyError(`Retention rule keepWithin for ${scope}: ${(error as Error).message}`);
    }
  } else if (rules.keepWithin !== undefined) {
    keepWithin = rules.keepWithin;
    if (!Object.values(DURATION_UNITS).every((field) => Number.isSafeInteger(keepWithin![field]) && keepWithin![field] >= 0)) {
      throw new RetentionPolicyError(`Retention rule keepWithin for ${scope} is not a valid duration; use whole numbers of 0 or more.`);
    }
  }
  if (keepWithin && isZeroDuration(keepWithin)) keepWithin = undefined;

  const keepLast = rules.keepLast ?? 0;
  const calendar = CALENDAR_RULES.map(({ rule, label, periodOf }) => ({ label, count: rules[rule] ?? 0, periodOf })).filter(
    (c) => c.count > 0,
  );
  const description = [
    ...(keepLast > 0 ? [`keep-last ${keepLast}`] : []),
    ...(keepWithin ? [`keep-within ${formatDuration(keepWithin)}`] : []),
    ...calendar.map((c) => `${c.label} ${c.count}`),
  ].join(', ');
  return { scope, keepLast, keepWithin, calendar, description };
}

function resolvePolicy(policy: readonly RetentionRuleSet[]): Map<string, ResolvedRuleSet> {
  const resolved = new Map<string, ResolvedRuleSet>();
  for (const ruleSet of policy) {
    const scope = scopeOf(ruleSet.space, ruleSet.trigger);
    // ORing two rule sets silently would hide which one the author meant to be in charge.
    if (resolved.has(scope)) {
      throw new RetentionPolicyError(`The retention policy has more than one rule set for ${scope}; merge them into one.`);
    }
    const rules = resolveRules(ruleSet.rules, scope);
    // Refused up front, whatever the catalog holds: a rule set that keeps nothing is a mistake in the policy,
    // and waiting until it meets its first backup would let a broken policy pass review. Safety rule 1 would
    // still save the newest backup of the space, but a policy is refused for what it says, not for what the
    // safety net would catch.
    if (rules.description === '') {
      throw new RetentionRefusedError(
        `Retention policy would delete every backup of ${scope}: its rule set keeps nothing (no rules, or every count is 0). ` +
          `Nothing was deleted. Give it at least one rule, for example { keepLast: 1 } or { keepWithin: '7d' }, or remove the rule set to keep every backup of ${scope}.`,
      );
    }
    resolved.set(scope, rules);
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------------------
// Planning

interface Decision<T extends BackupEntry> {
  id: string;
  createdAt: Date;
  entry: T;
  keepReasons: string[];
  removeReason: string | undefined;
}

export function planRetention<T extends BackupEntry>(
  entries: readonly T[],
  policy: readonly RetentionRuleSet[],
  options: PlanOptions,
): RetentionPlan<T> {
  const now = options.now;
  if (Number.isNaN(now.getTime())) throw new RangeError('planRetention: options.now is not a valid date.');
  const graceMs = options.incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
  if (!(Number.isFinite(graceMs) && graceMs >= 0)) {
    throw new RangeError(`planRetention: incompleteGraceMs is ${graceMs}; use a number of milliseconds of 0 or more.`);
  }
  const unfinished = options.unfinishedDeletions ?? new Set<string>();
  const ruleSets = resolvePolicy(policy);
  const grace = describeMs(graceMs);

  // Wrapping each entry (rather than keying maps by entry) keeps duplicates in the input apart, so every
  // input entry still lands in exactly one list.
  const decisions = sortNewestFirst(
    entries.map((entry): Decision<T> => ({ id: entry.id, createdAt: entry.createdAt, entry, keepReasons: [], removeReason: undefined })),
  );

  const groups = new Map<string, Decision<T>[]>();
  for (const decision of decisions) {
    const { entry } = decision;
    if (entry.status !== 'complete') {
      if (unfinished.has(backupKey(entry.space, entry.id))) {
        decision.removeReason = 'left incomplete by an interrupted prune, which had started deleting it';
      } else if (now.getTime() - entry.createdAt.getTime() > graceMs) {
        decision.removeReason = `incomplete and older than grace period ${grace}`;
      } else {
        decision.keepReasons.push(`incomplete, younger than grace period ${grace}`);
      }
      continue;
    }
    const scope = scopeOf(entry.space, entry.trigger);
    if (!ruleSets.has(scope)) {
      decision.keepReasons.push(`no rule covers trigger ${entry.trigger} in space ${entry.space}`);
      continue;
    }
    const group = groups.get(scope) ?? [];
    group.push(decision);
    groups.set(scope, group);
  }

  for (const [scope, group] of groups) {
    const rules = ruleSets.get(scope)!;
    applyRules(group, rules, now);
    for (const decision of group) {
      if (decision.keepReasons.length === 0) decision.removeReason = `not kept by ${scope} rules (${rules.description})`;
    }
  }

  // Safety rule 1, whatever the rules decided: the newest complete backup of each space stays.
  const seenSpaces = new Set<string>();
  const rescued = new Set<Decision<T>>();
  for (const decision of decisions) {
    const { entry } = decision;
    if (entry.status !== 'complete' || seenSpaces.has(entry.space)) continue;
    seenSpaces.add(entry.space);
    if (decision.removeReason === undefined) {
      decision.keepReasons.push(`newest complete backup of space ${entry.space}`);
    } else {
      const scope = scopeOf(entry.space, entry.trigger);
      decision.keepReasons.push(
        `newest complete backup of space ${entry.space}, kept by the safety rule although ${scope} rules (${ruleSets.get(scope)!.description}) would delete it`,
      );
      decision.removeReason = undefined;
      rescued.add(decision);
    }
  }

  const plan: RetentionPlan<T> = { keep: [], remove: [], rescued: [] };
  for (const decision of decisions) {
    const { entry, keepReasons, removeReason } = decision;
    if (removeReason === undefined) {
      const kept = { entry, reasons: keepReasons };
      plan.keep.push(kept);
      if (rescued.has(decision)) plan.rescued.push(kept);
    } else {
      plan.remove.push({ entry, reason: removeReason });
    }
  }
  return plan;
}

/** restic's walk: one pass, newest first, each calendar rule remembering the last period it kept. */
function applyRules<T extends BackupEntry>(group: readonly Decision<T>[], rules: ResolvedRuleSet, now: Date): void {
  const cutoff = rules.keepWithin ? subtractDuration(now, rules.keepWithin).getTime() : undefined;
  const calendar = rules.calendar.map((c) => ({ ...c, remaining: c.count, lastPeriod: undefined as string | undefined }));
  group.forEach((decision, index) => {
    if (index < rules.keepLast) decision.keepReasons.push(`keep-last ${rules.keepLast} (#${index + 1})`);
    if (cutoff !== undefined && decision.createdAt.getTime() >= cutoff) {
      decision.keepReasons.push(`keep-within ${formatDuration(rules.keepWithin!)}`);
    }
    for (const rule of calendar) {
      if (rule.remaining === 0) continue;
      const period = rule.periodOf(decision.createdAt);
      // The walk is in time order, so a new period key means a new, older period.
      if (period === rule.lastPeriod) continue;
      rule.lastPeriod = period;
      rule.remaining--;
      decision.keepReasons.push(`${rule.label} ${rule.count} (${period})`);
    }
  });
}

/** 86400000 → `24h`, for reasons about the grace period. */
function describeMs(ms: number): string {
  if (ms % MS_PER_HOUR === 0) return `${ms / MS_PER_HOUR}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}min`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
