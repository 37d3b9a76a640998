/**
 * Backup and prune never work on media content at the same time.
 *
 * Media content is shared: a backup may reuse content stored long ago that no manifest names any more,
 * exactly what prune deletes. Each side therefore writes a lock object, then reads the other side's:
 *
 *   backup: writes <prefix>locks/backup/<space>/<id>.json before any media work, then waits while a
 *           live prune lock exists; deletes its lock once its manifest is written (or it failed).
 *   prune:  writes <prefix>locks/prune/<run>.json before it lists media content, then skips the media
 *           clean-up if any live backup lock exists; deletes its lock when its deletions are done.
 *
 * S3 reads its own writes, so of a backup and a prune that overlap, at least one sees the other's lock:
 * either prune skips the clean-up, or the backup starts its media work after prune's last delete, and
 * its existence checks see what is really there. Locks of killed runs expire: a backup lock once it is
 * older than prune's incomplete-grace period (the same age at which prune treats a backup as dead), a
 * prune lock after PRUNE_LOCK_TTL_MS, and prune stops deleting PRUNE_MEDIA_DEADLINE_MS after taking its
 * lock so it never deletes under an expired one. Ages are measured on the store's clock (the lock's own
 * LastModified), so the runner's clock does not matter.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { BackupStore } from '../s3/store.js';

/** A prune lock older than this was left by a killed prune. */
export const PRUNE_LOCK_TTL_MS = 60 * 60_000;
/** Prune deletes no media content later than this after taking its lock: well inside the TTL. */
export const PRUNE_MEDIA_DEADLINE_MS = 30 * 60_000;

/**
 * Test seams, at the two moments where the interleaving matters; never set in production.
 * `pruneBeforeMediaDeletion`: prune holds its lock and has chosen the content to delete.
 * `backupWaitingForPrune`: a backup has seen a live prune lock and waits.
 * `pollMs`: how often a waiting backup looks again.
 */
export const lockSeams: { pruneBeforeMediaDeletion?: () => Promise<void>; backupWaitingForPrune?: () => void; pollMs: number } = { pollMs: 2000 };

export interface HeldLock {
  key: string;
  release(): Promise<void>;
}

function locksRoot(store: BackupStore): string {
  return `${store.prefix}locks/`;
}

async function writeLock(store: BackupStore, key: string, body: object): Promise<{ lock: HeldLock; writtenAt: number }> {
  const writtenAt = Date.now();
  await store.putText(key, JSON.stringify(body) + '\n');
  let released = false;
  return {
    writtenAt,
    lock: {
      key,
      async release() {
        if (released) return;
        released = true;
        // A fresh client: the backup's own fails every request once the backup is cancelled, and the lock must go then too.
        const outcome = await new BackupStore(store.settings).deleteKeys([key]);
        if (outcome.failed.length > 0) throw new Error(outcome.failed[0]!.message);
      },
    },
  };
}

/** Every lock, with the store's time now estimated from our own lock's LastModified. */
async function readLocks(store: BackupStore, ownKey: string, writtenAt: number) {
  const locks = await store.listObjects(locksRoot(store));
  const own = locks.find((l) => l.key === ownKey);
  const storeNow = (own?.lastModified ? Date.parse(own.lastModified) : writtenAt) + (Date.now() - writtenAt);
  const ageOf = (l: { lastModified?: string }) => storeNow - (l.lastModified ? Date.parse(l.lastModified) : storeNow);
  return {
    prunes: locks.filter((l) => l.key.startsWith(`${locksRoot(store)}prune/`) && l.key !== ownKey).map((l) => ({ key: l.key, ageMs: ageOf(l) })),
    backups: locks.filter((l) => l.key.startsWith(`${locksRoot(store)}backup/`) && l.key !== ownKey).map((l) => ({ key: l.key, ageMs: ageOf(l) })),
  };
}

/** Taken by a backup before its media work; returns once no live prune lock exists. */
export async function takeBackupLock(store: BackupStore, space: string, id: string, log: Logger): Promise<HeldLock> {
  const key = `${locksRoot(store)}backup/${space}/${id}.json`;
  const { lock, writtenAt } = await writeLock(store, key, { operation: 'backup', space, id });
  try {
    let announced = false;
    for (;;) {
      const live = (await readLocks(store, key, writtenAt)).prunes.filter((p) => p.ageMs < PRUNE_LOCK_TTL_MS);
      if (live.length === 0) return lock;
      if (!announced) {
        log.info(`A prune is cleaning up media content (${live[0]!.key}); the media copy waits until it is done.`);
        announced = true;
        lockSeams.backupWaitingForPrune?.();
      }
      await sleep(lockSeams.pollMs);
    }
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

export interface PruneLock extends HeldLock {
  /** Backup locks younger than the grace period: backups that may be running. */
  liveBackups: string[];
  /** Locks of killed runs, to be deleted. */
  expired: string[];
  /** Date.now() after which prune must not delete media content. */
  deleteBefore: number;
}

/** Taken by prune before it lists media content. */
export async function takePruneLock(store: BackupStore, graceMs: number): Promise<PruneLock> {
  const key = `${locksRoot(store)}prune/${new Date().toISOString().replace(/[:]/g, '')}-${randomBytes(3).toString('hex')}.json`;
  const { lock, writtenAt } = await writeLock(store, key, { operation: 'prune' });
  try {
    const { prunes, backups } = await readLocks(store, key, writtenAt);
    return {
      ...lock,
      liveBackups: backups.filter((b) => b.ageMs < graceMs).map((b) => b.key),
      expired: [...backups.filter((b) => b.ageMs >= graceMs), ...prunes.filter((p) => p.ageMs >= PRUNE_LOCK_TTL_MS)].map((l) => l.key),
      deleteBefore: writtenAt + PRUNE_MEDIA_DEADLINE_MS,
    };
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}
