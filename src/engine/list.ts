/** List: what can be restored, newest first, from one bucket listing. */
import { filterEntries, latestComplete, sortNewestFirst, type BackupEntry, type CatalogFilter } from '../domain/catalog.js';
import type { BucketSettings } from './s3.js';
import { BackupStore } from './store.js';

export interface ListResult {
  /** Every matching backup, newest first, complete and incomplete. */
  backups: BackupEntry[];
  /** The newest complete backup matching the filter. */
  latest?: BackupEntry;
}

export async function runList(bucket: BucketSettings, filter: CatalogFilter): Promise<ListResult> {
  const store = new BackupStore(bucket);
  await store.assertReachable();
  const entries = filterEntries(await store.listEntries(filter.space), filter);
  return { backups: sortNewestFirst(entries), latest: latestComplete(entries) };
}

/** The JSON shape of the `backups` output. */
export function toListOutput(entries: readonly BackupEntry[]) {
  return entries.map((e) => ({
    id: e.id,
    space: e.space,
    trigger: e.trigger,
    createdAt: e.createdAt.toISOString(),
    sizeBytes: e.sizeBytes,
    status: e.status,
  }));
}
