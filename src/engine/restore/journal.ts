/**
 * The parallel path's safety net, made to survive a crash. Its pg_restore --jobs runs outside any one
 * transaction, so a killed process or a crashed server leaves the target half-restored, and the automatic
 * put-back of the pre-restore backup never runs. So before the wipe, a journal in the backup bucket records
 * that a parallel restore into the target space is in progress and which pre-restore backup undoes it. It is
 * removed once the restore has succeeded or the put-back is complete. The next restore into that space finds
 * it and completes the put-back before it does anything else.
 */
import { LifeboatError, errorMessage } from '../errors.js';
import type { BackupStore } from '../s3/store.js';

export const RESTORE_JOURNAL_FORMAT = 'lifeboat-restore-journal/1';

export interface RestoreJournal {
  format: typeof RESTORE_JOURNAL_FORMAT;
  targetSpace: string;
  /** host:port/database of the target, never credentials. */
  target: string;
  /** The backup being restored. */
  sourceSpace: string;
  backupId: string;
  /** The backup of the target taken just before the wipe: restoring it puts the target back. */
  preRestoreBackupId: string;
  startedAt: string;
  /** The Actions run that started the restore, when there was one. */
  runUrl?: string;
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.Code === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export async function writeRestoreJournal(store: BackupStore, journal: RestoreJournal): Promise<void> {
  await store.putText(store.restoreJournalKey(journal.targetSpace), JSON.stringify(journal, null, 2) + '\n');
}

/** The journal of an unfinished parallel restore into this space, if there is one. */
export async function readRestoreJournal(store: BackupStore, targetSpace: string): Promise<RestoreJournal | undefined> {
  const key = store.restoreJournalKey(targetSpace);
  let text: string;
  try {
    text = await store.getText(key);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new LifeboatError(`Cannot read the restore journal s3://${store.bucket}/${key}: ${errorMessage(error)}`, { cause: error });
  }
  let journal: RestoreJournal;
  try {
    journal = JSON.parse(text) as RestoreJournal;
  } catch (error) {
    throw new LifeboatError(`The restore journal s3://${store.bucket}/${key} is not valid JSON (${errorMessage(error)}).`, { cause: error });
  }
  if (journal.format !== RESTORE_JOURNAL_FORMAT || journal.targetSpace !== targetSpace || typeof journal.preRestoreBackupId !== 'string') {
    throw new LifeboatError(`The restore journal s3://${store.bucket}/${key} is not a ${RESTORE_JOURNAL_FORMAT} journal for space '${targetSpace}'.`);
  }
  return journal;
}

export async function removeRestoreJournal(store: BackupStore, targetSpace: string): Promise<void> {
  const key = store.restoreJournalKey(targetSpace);
  const outcome = await store.deleteKeys([key]);
  if (outcome.failed.length) {
    throw new LifeboatError(`Cannot delete the restore journal s3://${store.bucket}/${key}: ${outcome.failed[0]!.message}`);
  }
}

/** The command that puts the target back by hand, for messages. */
export function putBackCommand(journal: RestoreJournal): string {
  const space = journal.targetSpace;
  return `restore with source-space: ${space}, target-space: ${space}, backup-id: ${journal.preRestoreBackupId} (the policy must allow ${space} → ${space})`;
}

/**
 * Every unfinished parallel restore in the bucket, for prune: the pre-restore backups they name are the only
 * way to put their targets back, so they must outlive every retention rule until the put-back is done.
 */
export async function pendingPutBacks(store: BackupStore): Promise<RestoreJournal[]> {
  const root = store.restoreJournalKey('x').slice(0, -'x.json'.length);
  const journals: RestoreJournal[] = [];
  for (const object of await store.listObjects(root)) {
    const name = object.key.slice(root.length);
    if (!name.endsWith('.json') || name.includes('/')) continue;
    const journal = await readRestoreJournal(store, name.slice(0, -'.json'.length));
    if (journal) journals.push(journal);
  }
  return journals;
}
