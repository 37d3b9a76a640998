/**
 * Immutability (S3 Object Lock): the pure decisions. Which lock a backup gets, until when, how a lock on
 * shared media content is extended, and which backups prune must leave alone. The engine does the I/O
 * (engine/s3/object-lock.ts); see docs/immutability.md for the design.
 *
 * - A backup of a space and trigger that the policy's `immutability` names gets that entry's mode on every
 *   object it writes, retained until its start time plus `days`. One date for all its objects, so the
 *   backup becomes deletable as a whole.
 * - Locks are only ever extended: a later backup reusing media content raises the content's retain-until
 *   date to its own, and never lowers a date or weakens compliance to governance.
 * - Prune never deletes a backup any of whose objects is locked; it keeps it whole and says when it
 *   becomes deletable (the latest retain-until date of its objects).
 */
import type { Trigger } from './backup-id.js';
import type { BackupEntry } from './catalog.js';
import type { RetentionPlan } from './retention.js';

export const LOCK_MODES = ['governance', 'compliance'] as const;
export type LockMode = (typeof LOCK_MODES)[number];

/** One entry of the policy file's `immutability` list. */
export interface ImmutabilityEntry {
  space: string;
  trigger: Trigger;
  mode: LockMode;
  /** Whole days from the backup's start. */
  days: number;
}

/** An object's lock: its mode and the time until which it cannot be deleted or overwritten. */
export interface ObjectRetention {
  mode: LockMode;
  retainUntil: Date;
}

/** S3 caps retention at 100 years; a larger number is surely a typo. */
export const MAX_LOCK_DAYS = 36_500;

const DAY_MS = 86_400_000;

/** The entry that applies to backups of this space and trigger, if any. */
export function immutabilityFor(entries: readonly ImmutabilityEntry[] | undefined, space: string, trigger: Trigger): ImmutabilityEntry | undefined {
  return entries?.find((e) => e.space === space && e.trigger === trigger);
}

/** The retention every object of a backup started at `startedAt` gets under `entry`. */
export function backupRetention(entry: Pick<ImmutabilityEntry, 'mode' | 'days'>, startedAt: Date): ObjectRetention {
  return { mode: entry.mode, retainUntil: new Date(startedAt.getTime() + entry.days * DAY_MS) };
}

/** The S3 API's spelling of a mode. */
export function s3LockMode(mode: LockMode): 'GOVERNANCE' | 'COMPLIANCE' {
  return mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
}

/** An object's retention from the S3 API's fields; undefined when it has none (or an unknown mode). */
export function parseObjectRetention(mode: string | undefined, retainUntil: Date | undefined): ObjectRetention | undefined {
  if (retainUntil === undefined || Number.isNaN(retainUntil.getTime())) return undefined;
  if (mode === 'COMPLIANCE') return { mode: 'compliance', retainUntil };
  if (mode === 'GOVERNANCE') return { mode: 'governance', retainUntil };
  return undefined;
}

/**
 * What to set on content already stored, so that it is kept at least until `wanted.retainUntil`: the
 * later date, in the content's own mode. Undefined when the current date already covers `wanted`, so no
 * request is needed. Never shortens. The mode is never changed, because S3 refuses to change a mode without
 * s3:BypassGovernanceRetention (governance to compliance included), which the backup credential must not
 * have: content first stored under governance stays governance (see docs/immutability.md).
 */
export function retentionExtension(current: ObjectRetention | undefined, wanted: ObjectRetention): ObjectRetention | undefined {
  if (current === undefined) return wanted;
  if (current.retainUntil.getTime() >= wanted.retainUntil.getTime()) return undefined;
  return { mode: current.mode, retainUntil: wanted.retainUntil };
}

/**
 * When a set of objects (one backup's, or one piece of content) can all be deleted: undefined when none is
 * locked at `now`, else the latest retain-until date. A lock ending within `skewMs` of now counts as still
 * locked, because the store judges by its own clock, which may be behind ours.
 */
export function lockedUntil(retentions: readonly (ObjectRetention | undefined)[], now: Date, skewMs = 0): ObjectRetention | undefined {
  let latest: ObjectRetention | undefined;
  for (const retention of retentions) {
    if (retention === undefined || retention.retainUntil.getTime() + skewMs <= now.getTime()) continue;
    const later = latest === undefined || retention.retainUntil.getTime() > latest.retainUntil.getTime();
    // On the same date, the stronger mode is the one to report.
    const stronger = latest !== undefined && retention.retainUntil.getTime() === latest.retainUntil.getTime() && retention.mode === 'compliance';
    if (later || stronger) latest = retention;
  }
  return latest;
}

export interface LockedBackup<T extends BackupEntry = BackupEntry> {
  entry: T;
  /** The latest lock among its objects: it becomes deletable at `retainUntil`. */
  lock: ObjectRetention;
}

/** The reason shown in prune's plan for a backup the rules would delete but whose objects are locked. */
export function lockedReason(lock: ObjectRetention): string {
  return `locked (${lock.mode}) until ${lock.retainUntil.toISOString()}: the rules would delete it, and it becomes deletable then`;
}

/**
 * Prune's plan with the lock in mind: every backup planned for removal that `locks` says is locked moves,
 * whole, to `keep`, with the date it becomes deletable. Both lists stay newest first.
 */
export function holdLockedBackups<T extends BackupEntry>(
  plan: RetentionPlan<T>,
  locks: ReadonlyMap<T, ObjectRetention>,
): { plan: RetentionPlan<T>; locked: LockedBackup<T>[] } {
  const locked: LockedBackup<T>[] = [];
  const remove = plan.remove.filter((removed) => {
    const lock = locks.get(removed.entry);
    if (lock === undefined) return true;
    locked.push({ entry: removed.entry, lock });
    return false;
  });
  if (locked.length === 0) return { plan, locked };
  const keep = [...plan.keep, ...locked.map(({ entry, lock }) => ({ entry, reasons: [lockedReason(lock)] }))].sort(
    (a, b) => b.entry.createdAt.getTime() - a.entry.createdAt.getTime() || (a.entry.id < b.entry.id ? 1 : -1),
  );
  return { plan: { ...plan, keep, remove }, locked };
}
