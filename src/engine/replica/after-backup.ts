/**
 * Backup with a replica: once the backup is complete in the backup bucket, it is copied to the replica.
 * The copy's failure never undoes the backup: the caller reports the backup as done (its outputs and
 * summary), then fails the step with the copy's error, so nobody mistakes a backup with one copy for one
 * with two.
 */
import { cancellationOf } from '../cancellation.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BackupResult } from '../backup/backup.js';
import type { BucketSettings } from '../s3/client.js';
import { runCopy, type CopyResult } from './copy.js';

export type ReplicaOutcome = { copied: CopyResult } | { failed: LifeboatError };

export async function copyAfterBackup(
  primary: BucketSettings,
  replica: BucketSettings,
  backup: BackupResult,
  log: Logger,
  options: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<ReplicaOutcome> {
  const { id, space } = backup.manifest;
  try {
    const copied = await log.group(`Copy ${id} to the replica s3://${replica.bucket}`, () =>
      runCopy({ primary, replica, space, backupId: id, signal: options.signal, env: options.env }, log),
    );
    return { copied };
  } catch (error) {
    // A cancellation stays a cancellation: the run was asked to stop.
    const cancelled = cancellationOf(options.signal);
    if (cancelled) throw cancelled;
    return {
      failed: new LifeboatError(
        `Backup ${id} of '${space}' is complete and good in the backup bucket, but copying it to the replica s3://${replica.bucket} ('replica-bucket') failed: ${errorMessage(error)} ` +
          `Fix the replica inputs or the replica's store and run the copy action (or the next backup, which copies only what the replica lacks of it).`,
        { cause: error },
      ),
    };
  }
}
