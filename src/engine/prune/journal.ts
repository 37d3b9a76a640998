/**
 * The prune journal: before a prune deletes anything, it writes down which backups it is about to delete,
 * and it removes that note once every one of them is gone.
 *
 * Deleting a backup takes several requests (its manifest first, then its artifacts), so a prune that is
 * killed can leave a backup half deleted: no manifest, some artifacts. Such a remnant looks exactly like a
 * backup that is still running, and the grace period protects it. When the remnant is older than the grace
 * period (judged from its id, the time the backup started), the next prune removes it anyway; the journal
 * is what lets the next prune also finish off a remnant that is younger than that, for example a predeploy
 * backup from an hour ago that keep-last had already let go of.
 *
 * The journal can only ever hasten the removal of backups that have no manifest, which cannot be restored,
 * and whose ids a prune had already chosen to delete: no backup can be running under such an id, because
 * ids are unique. A complete backup named in a journal is judged by the rules like any other.
 *
 *   <prefix>prune-journal/<started-at>-<random>.json
 *   { "format": "lifeboat-prune-journal/1", "startedAt": "...", "backups": [{ "space": "...", "id": "..." }] }
 */
import { randomBytes } from 'node:crypto';
import { backupKey } from '../../domain/retention.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BackupStore } from '../s3/store.js';

export const JOURNAL_FORMAT = 'lifeboat-prune-journal/1';

export interface JournalBackup {
  space: string;
  id: string;
}

export interface PruneJournal {
  key: string;
  startedAt: string;
  backups: JournalBackup[];
}

/** Every journal left in the bucket. One that cannot be read is reported and skipped, never fatal. */
export async function readJournals(store: BackupStore, log: Logger): Promise<PruneJournal[]> {
  const journals: PruneJournal[] = [];
  for (const { key } of await store.listObjects(store.pruneJournalPrefix())) {
    if (!key.endsWith('.json')) continue;
    try {
      const parsed = JSON.parse(await store.getText(key)) as Partial<PruneJournal> & { format?: unknown };
      const backups = parsed.backups;
      if (
        parsed.format !== JOURNAL_FORMAT ||
        !Array.isArray(backups) ||
        !backups.every((b) => typeof b?.space === 'string' && typeof b?.id === 'string')
      ) {
        throw new Error(`not a ${JOURNAL_FORMAT} document`);
      }
      journals.push({ key, startedAt: String(parsed.startedAt ?? ''), backups });
    } catch (error) {
      log.warning(`Ignoring the prune journal s3://${store.bucket}/${key}, which cannot be read (${errorMessage(error)}).`);
    }
  }
  return journals;
}

/** `space/id` of every backup an earlier prune had set out to delete. */
export function unfinishedDeletions(journals: readonly PruneJournal[]): Set<string> {
  return new Set(journals.flatMap((j) => j.backups.map((b) => backupKey(b.space, b.id))));
}

/** Writes the journal of this prune; returns its key. Failing here stops the prune before it deletes anything. */
export async function writeJournal(store: BackupStore, startedAt: Date, backups: readonly JournalBackup[]): Promise<string> {
  const stamp = startedAt.toISOString().replace(/[:]/g, '');
  const key = `${store.pruneJournalPrefix()}${stamp}-${randomBytes(4).toString('hex')}.json`;
  const body = JSON.stringify({ format: JOURNAL_FORMAT, startedAt: startedAt.toISOString(), backups }, null, 1);
  await store.putText(key, body);
  return key;
}
