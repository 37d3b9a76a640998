/**
 * Backup ids: a UTC timestamp, the trigger and a short random suffix, for example
 * `2026-11-21T231458.123Z-nightly-7f3a`.
 *
 * The fixed-width timestamp comes first so that ids sort by time as plain strings, which
 * lets S3 listings (lexicographic) come back in time order. The suffix keeps two backups
 * started in the same millisecond apart.
 */
import { randomBytes } from 'node:crypto';

export const TRIGGERS = ['predeploy', 'nightly', 'manual', 'pre-restore'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** Triggers a user may ask for; `pre-restore` is made only by restore itself. */
export const USER_TRIGGERS: readonly Trigger[] = ['predeploy', 'nightly', 'manual'];

export function isTrigger(value: string): value is Trigger {
  return (TRIGGERS as readonly string[]).includes(value);
}

const ID_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-([a-z-]+)-([0-9a-f]{4,})$/;

export interface ParsedBackupId {
  id: string;
  createdAt: Date;
  trigger: Trigger;
}

export function formatBackupId(createdAt: Date, trigger: Trigger, suffix = randomBytes(2).toString('hex')): string {
  const iso = createdAt.toISOString(); // 2026-11-21T23:14:58.123Z
  const stamp = `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.${iso.slice(20, 23)}Z`;
  return `${stamp}-${trigger}-${suffix}`;
}

/** Returns undefined for anything that is not a Lifeboat backup id, so stray keys in a bucket are ignored rather than fatal. */
export function parseBackupId(id: string): ParsedBackupId | undefined {
  const match = ID_PATTERN.exec(id);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms, trigger, suffix] = match;
  if (!isTrigger(trigger!)) return undefined;
  const createdAt = new Date(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, +ms!));
  // Date.UTC rolls month 13 into next year; an id that does not format back to itself is not one of ours.
  if (Number.isNaN(createdAt.getTime()) || formatBackupId(createdAt, trigger, suffix) !== id) return undefined;
  return { id, createdAt, trigger };
}

/** Space names become key prefixes and appear in policy files, so keep them to a safe, readable alphabet. */
export const SPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertSpaceName(space: string, inputName = 'space'): string {
  if (!SPACE_PATTERN.test(space)) {
    throw new Error(
      `Input '${inputName}' is '${space}', which is not a valid space name. Use lower-case letters, digits, '-' and '_' (for example 'production').`,
    );
  }
  return space;
}
