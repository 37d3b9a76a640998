/**
 * The catalog: what backups exist, in what state, newest first. Built from a bucket listing
 * alone (no manifest downloads), so listing hundreds of backups costs one LIST per 1,000 keys.
 */
import type { Trigger } from './backup-id.js';

/**
 * complete: the manifest exists (as far as the listing shows); incomplete: it does not; invalid: it
 * exists but was read and is not a valid manifest (corrupt JSON, wrong schema, or another backup's).
 */
export type BackupStatus = 'complete' | 'incomplete' | 'invalid';

export interface BackupEntry {
  id: string;
  space: string;
  trigger: Trigger;
  createdAt: Date;
  /** Bytes stored under the backup's own prefix (artifacts and manifest). */
  sizeBytes: number;
  /** Complete means the manifest exists: it is written last, so its presence is the commit point. */
  status: BackupStatus;
  /** Why an invalid backup's manifest was rejected. */
  problem?: string;
}

export interface CatalogFilter {
  space?: string;
  trigger?: Trigger;
}

/** Newest first; ids break ties so the order is total and stable. */
export function sortNewestFirst<T extends { createdAt: Date; id: string }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

export function filterEntries(entries: readonly BackupEntry[], filter: CatalogFilter): BackupEntry[] {
  return entries.filter((e) => (!filter.space || e.space === filter.space) && (!filter.trigger || e.trigger === filter.trigger));
}

/** The newest complete backup: never an incomplete one, which may still be running or may have failed. */
export function latestComplete(entries: readonly BackupEntry[], filter: CatalogFilter = {}): BackupEntry | undefined {
  return sortNewestFirst(filterEntries(entries, filter)).find((e) => e.status === 'complete');
}
