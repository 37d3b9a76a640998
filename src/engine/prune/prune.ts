/**
 * Prune: apply the policy file's retention rules to the backup bucket.
 *
 * One listing gives every backup and its keys; the retention engine (domain/retention.ts) decides what to
 * keep and why; then the deletion runs in an order that is safe to interrupt at any point:
 *
 * 1. The journal (engine/prune-journal.ts) records which backups are about to go.
 * 2. The manifests of those backups are deleted, in batches of up to 1,000 keys. A backup without its
 *    manifest is incomplete: list shows it as not restorable and restore refuses it. From here on, no
 *    manifest can point to data that is gone.
 * 3. Only then their artifacts, and only of backups whose manifest is confirmed deleted.
 * 4. The journal is deleted once everything it names is gone.
 *
 * A prune killed anywhere leaves every backup either complete, with all its artifacts, or incomplete; the
 * next prune removes the incomplete remnants (by the journal, or by their age) and finishes the job.
 */
import type { BackupEntry } from '../../domain/catalog.js';
import type { Policy } from '../../domain/policy.js';
import { planRetention, RetentionPolicyError, type RetentionPlan } from '../../domain/retention.js';
import { now as clockNow } from '../clock.js';
import { pendingPutBacks } from '../restore/journal.js';
import { LifeboatError, errorMessage } from '../errors.js';
import { findMediaGarbage } from '../media/media.js';
import { SpillList } from '../media/external-sort.js';
import { lockSeams, takePruneLock, type PruneLock } from '../media/locks.js';
import type { Logger } from '../logger.js';
import { readJournals, unfinishedDeletions, writeJournal, type PruneJournal } from './journal.js';
import { sweepStaleUploads, type UploadSweep } from './uploads.js';
import type { BucketSettings } from '../s3/client.js';
import { BackupStore, MAX_KEYS_PER_DELETE, type ListedBackup } from '../s3/store.js';
import { formatBytes } from '../streams.js';
import { forEachAsync, forEachConcurrently } from '../concurrency.js';
import { holdLockedBackups, lockedUntil, type LockedBackup, type ObjectRetention } from '../../domain/immutability.js';
import { bucketHasObjectLock, DEFAULT_LOCK_SKEW_MS, readRetention } from '../s3/object-lock.js';

export interface PruneOptions {
  bucket: BucketSettings;
  policy: Policy;
  /** Only this space; every space when undefined. */
  space?: string;
  incompleteGraceMs: number;
  /** Plan and report, change nothing. */
  dryRun: boolean;
  /** For LIFEBOAT_NOW. */
  env?: NodeJS.ProcessEnv;
  /** DeleteObjects requests in flight at once. */
  deleteConcurrency?: number;
  /** Where the plan's lines go, before anything is deleted; the logger by default. The CLI prints them on stdout. */
  printPlan?: (line: string) => void;
  /** A lock ending this close to now still counts as locked (the store's clock may be behind); DEFAULT_LOCK_SKEW_MS by default. */
  lockSkewMs?: number;
}

export interface PruneFailure {
  entry: BackupEntry;
  /** `complete`: its manifest could not be deleted, so nothing of it was touched. `incomplete`: some artifacts remain. */
  state: 'complete' | 'incomplete';
  message: string;
}

export interface PruneResult {
  now: Date;
  dryRun: boolean;
  /** Where the rules came from: the policy file's path, or `the default policy`. */
  policySource: string;
  space?: string;
  plan: RetentionPlan;
  /** Backups fully deleted: every key gone. Empty in a dry run. */
  deleted: BackupEntry[];
  failed: PruneFailure[];
  objectsDeleted: number;
  bytesFreed: number;
  deleteRequests: number;
  durationMs: number;
  /** Media content clean-up; absent when the bucket holds no media content. */
  media?: MediaCleanup;
  /** Open multipart uploads older than the grace period, aborted (dry run: that would be). */
  uploads?: UploadSweep;
  /**
   * Backups the rules would delete but that S3 Object Lock still holds: kept whole (they are in plan.keep),
   * each with the date it becomes deletable. Absent when the bucket has no Object Lock.
   */
  locked?: LockedBackup[];
}

export interface MediaCleanup {
  stored: number;
  referenced: number;
  /** Unreferenced content deleted (or, in a dry run, that would be). */
  deleted: number;
  bytesFreed: number;
  /** Unreferenced content kept because it is younger than the grace period. */
  tooYoung: number;
  /** Why the clean-up did not run, when it did not. */
  skipped?: string;
  /** Unreferenced content kept because S3 Object Lock still holds it. */
  locked?: number;
}

export async function runPrune(options: PruneOptions, log: Logger): Promise<PruneResult> {
  const clockStart = Date.now();
  const now = clockNow(options.env);
  const { policy, space } = options;
  const policySource = policy.sourcePath ?? 'the default policy';
  if (space !== undefined && !policy.spaces.includes(space)) {
    throw new LifeboatError(
      `Input 'space' is '${space}', which is not a space of ${policySource} (${policy.spaces.join(', ')}). Check the name, or leave 'space' empty to prune every space.`,
    );
  }
  // Checked before anything is read, so a broken policy fails the same way on an empty bucket.
  plan([], options, now, new Set());

  const store = new BackupStore(options.bucket);
  await store.assertReachable();
  const journals = await readJournals(store, log);
  const listed = await store.listBackups(space);
  const unfinished = unfinishedDeletions(journals);
  let retention = plan(
    listed.map((b) => b.entry),
    options,
    now,
    unfinished,
  );

  // A pre-restore backup that an unfinished parallel restore needs for its put-back is kept, whatever the rules say.
  for (const journal of await pendingPutBacks(store)) {
    const index = retention.remove.findIndex((r) => r.entry.space === journal.targetSpace && r.entry.id === journal.preRestoreBackupId);
    if (index < 0) continue;
    const [held] = retention.remove.splice(index, 1);
    retention.keep.push({ entry: held!.entry, reasons: [`needed to put ${journal.targetSpace} back: a parallel restore into it did not finish`] });
    retention.keep.sort((a, b) => b.entry.createdAt.getTime() - a.entry.createdAt.getTime() || (a.entry.id < b.entry.id ? 1 : -1));
    log.warning(
      `Keeping ${journal.preRestoreBackupId} of '${journal.targetSpace}' although the rules would delete it: a parallel restore into '${journal.targetSpace}' started ${journal.startedAt} did not finish, ` +
        `and this backup is what puts it back. The next restore into '${journal.targetSpace}' completes the put-back.`,
    );
  }

  // S3 Object Lock: a backup any of whose objects is still locked is kept whole, never half-deleted, and
  // nothing is ever asked to delete a locked object (on a versioned bucket that would only hide it behind a
  // delete marker). The lock is judged by the real clock, not LIFEBOAT_NOW: the store enforces it by its own.
  const locking = await bucketHasObjectLock(store.client, store.bucket);
  let locked: LockedBackup[] | undefined;
  if (locking) {
    const listedOf = new Map(listed.map((b) => [b.entry, b]));
    const locks = new Map<BackupEntry, ObjectRetention>();
    const realNow = new Date();
    await forEachConcurrently(retention.remove, 8, async ({ entry }) => {
      const keys = listedOf.get(entry)!.keys;
      const retentions = await Promise.all(keys.map((key) => readRetention(store.client, store.bucket, key)));
      const lock = lockedUntil(retentions, realNow, options.lockSkewMs ?? DEFAULT_LOCK_SKEW_MS);
      if (lock) locks.set(entry, lock);
    });
    ({ plan: retention, locked } = holdLockedBackups(retention, locks));
  }

  const scope = space ? `space ${space}` : 'every space';
  const printPlan = options.printPlan ?? ((line: string) => log.info(line));
  printPlan(
    `Prune of ${scope} in ${store.describe()} at ${now.toISOString()} with the retention rules of ${policySource}: ` +
      `keep ${retention.keep.length}, delete ${retention.remove.length}${options.dryRun ? ' (dry run: nothing will be deleted)' : ''}.`,
  );
  if (policy.retention.length === 0) log.info(`${policySource} has no retention rules, so every complete backup is kept.`);
  for (const line of formatPlan(retention)) printPlan(line);
  for (const { entry, lock } of locked ?? []) {
    log.info(`${entry.space}/${entry.id} is kept: the rules would delete it, but S3 Object Lock (${lock.mode}) holds it until ${lock.retainUntil.toISOString()}; it becomes deletable then.`);
  }
  for (const { entry } of retention.rescued) {
    const days = ((now.getTime() - entry.createdAt.getTime()) / 86_400_000).toFixed(1);
    log.warning(
      `Space ${entry.space}: its rules would delete every complete backup, so only the newest, ${entry.id} (${days} days old), is kept. Have its backups stopped?`,
    );
  }

  const result: PruneResult = {
    now,
    dryRun: options.dryRun,
    policySource,
    space,
    plan: retention,
    deleted: [],
    failed: [],
    objectsDeleted: 0,
    bytesFreed: 0,
    deleteRequests: 0,
    durationMs: 0,
    ...(locked ? { locked } : {}),
  };
  // Parts of uploads that killed backups left open; their backups, if listed at all, are incomplete and go by the plan.
  result.uploads = await sweepStaleUploads(store, { now, graceMs: options.incompleteGraceMs, dryRun: options.dryRun, space }, log);
  if (options.dryRun) {
    // The media the real run would delete: content unreferenced once the planned backups are gone.
    const planned = new Set(retention.remove.map((r) => `${r.entry.space}/${r.entry.id}`));
    result.media = await cleanUpMedia(store, now, options, log, true, planned, locking);
    result.durationMs = Date.now() - clockStart;
    return result;
  }

  const listedByEntry = new Map(listed.map((b) => [b.entry, b]));
  const doomed = retention.remove.map((r) => listedByEntry.get(r.entry)!);
  let ownJournal: string | undefined;
  if (doomed.length > 0) {
    ownJournal = await writeJournal(
      store,
      now,
      doomed.map((b) => ({ space: b.entry.space, id: b.entry.id })),
    );
    await deleteBackups(store, doomed, options, result, log);
  }

  // Media content is shared between backups, so it goes only after the backups themselves, judged from a
  // fresh reading of the manifests that remain. If the prune is killed before this, the next one does it.
  if (result.failed.length === 0) result.media = await cleanUpMedia(store, now, options, log, false, undefined, locking);

  if (result.failed.length === 0) {
    // Our own journal, and the journals of earlier prunes whose remnants this prune has now removed. A journal
    // naming a space outside this prune's scope is left for a prune of that space.
    const done = [
      ...(ownJournal ? [ownJournal] : []),
      ...journals.filter((j) => inScope(j, space)).map((j) => j.key),
    ];
    if (done.length > 0) {
      const cleared = await store.deleteKeys(done);
      for (const { key, message } of cleared.failed) log.warning(`Could not delete the prune journal ${key} (${message}); the next prune will.`);
    }
  }
  result.durationMs = Date.now() - clockStart;
  log.info(
    `Deleted ${result.deleted.length} backups (${result.objectsDeleted} objects, ${formatBytes(result.bytesFreed)}) in ${result.deleteRequests} delete requests, ` +
      `${(result.durationMs / 1000).toFixed(1)} s; kept ${retention.keep.length}.`,
  );
  return result;
}

function plan(entries: BackupEntry[], options: PruneOptions, now: Date, unfinished: ReadonlySet<string>): RetentionPlan {
  try {
    return planRetention(entries, options.policy.retention, {
      now,
      incompleteGraceMs: options.incompleteGraceMs,
      unfinishedDeletions: unfinished,
    });
  } catch (error) {
    if (error instanceof RetentionPolicyError) {
      throw new LifeboatError(`The retention rules of ${options.policy.sourcePath ?? 'the default policy'} cannot be applied: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function cleanUpMedia(
  store: BackupStore,
  now: Date,
  options: PruneOptions,
  log: Logger,
  dryRun: boolean,
  assumeDeleted?: ReadonlySet<string>,
  locking = false,
): Promise<MediaCleanup | undefined> {
  const skip = (skipped: string): MediaCleanup => {
    log.warning(skipped);
    return { stored: 0, referenced: 0, deleted: 0, bytesFreed: 0, tooYoung: 0, skipped };
  };
  // The lock protocol of media/locks.ts: no backup does media work while this prune may delete content.
  let lock: PruneLock | undefined;
  if (!dryRun) {
    try {
      lock = await takePruneLock(store, options.incompleteGraceMs);
    } catch (error) {
      return skip(`Media clean-up skipped: the prune lock could not be written (${errorMessage(error)}).`);
    }
  }
  try {
    if (lock && lock.liveBackups.length > 0) {
      return skip(
        `Media clean-up skipped: ${lock.liveBackups.length} backup(s) may be running (${lock.liveBackups.slice(0, 3).join(', ')}), and may reuse old content. The next prune will do it.`,
      );
    }
    let found;
    try {
      found = await findMediaGarbage(store, now, options.incompleteGraceMs, undefined, assumeDeleted);
    } catch (error) {
      return skip(errorMessage(error));
    }
    if (found.stored === 0) return undefined;
    try {
      // Unreferenced content still under Object Lock is not garbage yet: never asked to be deleted.
      let lockedContent = 0;
      let garbage = found.garbage;
      let garbageBytes = found.garbageBytes;
      if (locking && garbage.count > 0) {
        const realNow = new Date();
        const free = new SpillList<{ key: string; size: number }>();
        garbageBytes = 0;
        await forEachAsync(garbage.items(), 16, async (item) => {
          const lock = lockedUntil([await readRetention(store.client, store.bucket, item.key)], realNow, options.lockSkewMs ?? DEFAULT_LOCK_SKEW_MS);
          if (lock) lockedContent++;
          else {
            await free.push(item);
            garbageBytes += item.size;
          }
        });
        await garbage.dispose();
        garbage = free;
        found = { ...found, garbage };
      }
      const cleanup: MediaCleanup = {
        stored: found.stored,
        referenced: found.referenced,
        deleted: 0,
        bytesFreed: 0,
        tooYoung: found.tooYoung,
        ...(locking ? { locked: lockedContent } : {}),
      };
      if (dryRun) {
        cleanup.deleted = garbage.count;
        cleanup.bytesFreed = garbageBytes;
      } else if (garbage.count > 0) {
        await lockSeams.pruneBeforeMediaDeletion?.();
        // A few DeleteObjects requests at a time, the lock's deadline checked between them.
        const step = MAX_KEYS_PER_DELETE * (options.deleteConcurrency ?? 4);
        for await (const batch of garbage.batches(step)) {
          // Never delete under an expired lock: a backup may take it for a killed prune's and start.
          if (Date.now() >= lock!.deleteBefore) {
            log.warning(`Media clean-up stopped after ${cleanup.deleted} objects: it has run too long to hold its lock. The next prune deletes the rest.`);
            break;
          }
          const sizes = new Map(batch.map((g) => [g.key, g.size]));
          const outcome = await store.deleteKeys([...sizes.keys()], { concurrency: options.deleteConcurrency ?? 4 });
          for (const key of outcome.deleted) {
            cleanup.deleted++;
            cleanup.bytesFreed += sizes.get(key) ?? 0;
          }
          for (const { key, message } of outcome.failed.slice(0, 5)) log.warning(`Could not delete unreferenced media content ${key} (${message}); the next prune will.`);
        }
      }
    if (lock && lock.expired.length > 0) {
      const cleared = await store.deleteKeys(lock.expired);
      log.info(`Removed ${cleared.deleted.length} lock(s) left by killed backups or prunes.`);
    }
    log.info(
      `Media content: ${cleanup.stored} stored, ${cleanup.referenced} in use; ${cleanup.deleted} unreferenced ${dryRun ? 'would be deleted' : 'deleted'} (${formatBytes(cleanup.bytesFreed)})` +
        `${cleanup.tooYoung ? `, ${cleanup.tooYoung} unreferenced but younger than the grace period kept` : ''}` +
        `${lockedContent ? `, ${lockedContent} unreferenced but still under Object Lock kept` : ''}.`,
      );
      return cleanup;
    } finally {
      await found.garbage.dispose();
    }
  } finally {
    await lock?.release().catch((error: unknown) => log.warning(`Could not delete the prune lock ${lock!.key} (${errorMessage(error)}); it expires by itself.`));
  }
}

function inScope(journal: PruneJournal, space: string | undefined): boolean {
  return space === undefined || journal.backups.every((b) => b.space === space);
}

/** Manifests first, then artifacts of the backups whose manifest is confirmed gone. */
async function deleteBackups(store: BackupStore, doomed: readonly ListedBackup[], options: PruneOptions, result: PruneResult, log: Logger) {
  const concurrency = options.deleteConcurrency ?? 4;
  const manifestOf = (b: ListedBackup) => store.manifestKey(b.entry.space, b.entry.id);
  const withManifest = doomed.filter((b) => b.keys.includes(manifestOf(b)));
  const artifactCount = doomed.reduce((n, b) => n + b.keys.length, 0) - withManifest.length;
  log.info(`Deleting the manifests of ${withManifest.length} backups first, then ${artifactCount} artifact objects.`);

  const manifests = await store.deleteKeys(withManifest.map(manifestOf), { concurrency });
  result.deleteRequests += manifests.requests;
  const manifestFailures = new Map(manifests.failed.map((f) => [f.key, f.message]));
  const proceeding: ListedBackup[] = [];
  for (const backup of doomed) {
    const failure = manifestFailures.get(manifestOf(backup));
    if (failure === undefined) proceeding.push(backup);
    else result.failed.push({ entry: backup.entry, state: 'complete', message: `its manifest could not be deleted: ${failure}` });
  }
  const artifactKeys = proceeding.flatMap((b) => b.keys.filter((k) => k !== manifestOf(b)));
  if (withManifest.length > 0) {
    log.info(`Manifests deleted (${manifests.deleted.length} of ${withManifest.length}); deleting ${artifactKeys.length} artifact objects.`);
  }
  const artifacts = await store.deleteKeys(artifactKeys, {
    concurrency,
    onBatch: (done, total) => log.info(`… ${done} of ${total} artifact objects deleted`),
  });
  result.deleteRequests += artifacts.requests;
  const artifactFailures = new Map(artifacts.failed.map((f) => [f.key, f.message]));
  for (const backup of proceeding) {
    const failures = backup.keys.map((k) => artifactFailures.get(k)).filter((m): m is string => m !== undefined);
    if (failures.length > 0) {
      result.failed.push({
        entry: backup.entry,
        state: 'incomplete',
        message: `${failures.length} of its objects could not be deleted (${failures[0]}); it is incomplete now and the next prune will remove it`,
      });
      continue;
    }
    result.deleted.push(backup.entry);
    result.objectsDeleted += backup.keys.length;
    result.bytesFreed += backup.entry.sizeBytes;
  }
}

/** The plan as lines of text, space by space and newest first: each backup, what happens to it and why. */
export function formatPlan(plan: RetentionPlan): string[] {
  const rows = [
    ...plan.keep.map((k) => ({ entry: k.entry, action: 'keep', why: k.reasons.join('; ') })),
    ...plan.remove.map((r) => ({ entry: r.entry, action: 'DELETE', why: r.reason })),
  ];
  if (rows.length === 0) return ['No backups found.'];
  const spaces = [...new Set(rows.map((r) => r.entry.space))].sort();
  const lines: string[] = [];
  for (const space of spaces) {
    const inSpace = rows
      .filter((r) => r.entry.space === space)
      .sort((a, b) => b.entry.createdAt.getTime() - a.entry.createdAt.getTime() || (a.entry.id < b.entry.id ? 1 : -1));
    const kept = inSpace.filter((r) => r.action === 'keep').length;
    lines.push(`Space ${space}: keep ${kept}, delete ${inSpace.length - kept}`);
    for (const row of inSpace) {
      const state = row.entry.status === 'complete' ? '' : ' (incomplete)';
      lines.push(`  ${row.action.padEnd(6)}  ${row.entry.id}${state}  ${row.why}`);
    }
  }
  return lines;
}

/** The JSON shape of the CLI's --json output. */
export function toPruneOutput(result: PruneResult) {
  const backup = (e: BackupEntry) => ({ id: e.id, space: e.space, trigger: e.trigger, createdAt: e.createdAt.toISOString(), status: e.status });
  return {
    dryRun: result.dryRun,
    now: result.now.toISOString(),
    policy: result.policySource,
    kept: result.plan.keep.map((k) => ({ ...backup(k.entry), reasons: k.reasons })),
    deleted: (result.dryRun ? result.plan.remove.map((r) => r.entry) : result.deleted).map((e) => ({
      ...backup(e),
      reason: result.plan.remove.find((r) => r.entry === e)!.reason,
    })),
    rescued: result.plan.rescued.map((k) => k.entry.id),
    failed: result.failed.map((f) => ({ ...backup(f.entry), state: f.state, message: f.message })),
    objectsDeleted: result.objectsDeleted,
    bytesFreed: result.bytesFreed,
    deleteRequests: result.deleteRequests,
    ...(result.media ? { media: result.media } : {}),
    ...(result.uploads ? { uploads: result.uploads } : {}),
    ...(result.locked ? { locked: lockedOutput(result) } : {}),
  };
}

/** The `locked` output: backups the rules would delete that Object Lock holds, with when each becomes deletable. */
export function lockedOutput(result: PruneResult) {
  return (result.locked ?? []).map(({ entry, lock }) => ({ id: entry.id, space: entry.space, mode: lock.mode, deletableAt: lock.retainUntil.toISOString() }));
}

/** Ids for the `deleted` output: what was deleted, or in a dry run what would be. */
export function deletedIds(result: PruneResult): string[] {
  return (result.dryRun ? result.plan.remove.map((r) => r.entry) : result.deleted).map((e) => e.id);
}

export function keptIds(result: PruneResult): string[] {
  return result.plan.keep.map((k) => k.entry.id);
}

/** Throws, after the outputs are set, when some planned deletions failed. */
export function assertNoFailures(result: PruneResult): void {
  if (result.failed.length === 0) return;
  const lines = result.failed.slice(0, 10).map((f) => `  ${f.entry.space}/${f.entry.id}: ${f.message}`);
  if (result.failed.length > 10) lines.push(`  … and ${result.failed.length - 10} more`);
  throw new LifeboatError(
    `${result.failed.length} of the ${result.plan.remove.length} backups planned for deletion could not be deleted fully:\n${lines.join('\n')}\n` +
      `Every backup is still either complete or clearly incomplete; check the credentials allow s3:DeleteObject, then run prune again to finish.`,
  );
}
