/**
 * Sweeping open multipart uploads. A backup killed outright (kill -9, a lost runner) cannot abort its
 * uploads, and S3 keeps and bills their parts until someone does. Prune aborts the uploads under
 * Lifeboat's own prefixes (backups/ and media/sha256/) that were started longer ago than the
 * incomplete-grace period, by the same reasoning that lets it delete incomplete backups that old: no
 * running backup is that old. A bucket lifecycle rule (AbortIncompleteMultipartUpload) is the belt
 * to these braces; see docs/prune.md.
 */
import { forEachConcurrently } from '../concurrency.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { abortUpload, type OpenUpload } from '../s3/client.js';
import type { BackupStore } from '../s3/store.js';

export interface UploadSweep {
  /** Open uploads found under Lifeboat's prefixes. */
  open: number;
  /** Older than the grace period: aborted (in a dry run, that would be). */
  aborted: { key: string; initiated?: string }[];
  /** Younger than the grace period (possibly a backup running now), kept. */
  tooYoung: number;
  failed: { key: string; message: string }[];
  /** Why nothing was swept, when it was not. */
  skipped?: string;
}

export async function sweepStaleUploads(
  store: BackupStore,
  options: { now: Date; graceMs: number; dryRun: boolean; space?: string },
  log: Logger,
): Promise<UploadSweep> {
  const roots = [`${store.prefix}backups/${options.space ? `${options.space}/` : ''}`, store.allMediaRoot()];
  let open: OpenUpload[];
  try {
    open = (await Promise.all(roots.map((root) => store.listOpenUploads(root)))).flat();
  } catch (error) {
    const skipped =
      `Open multipart uploads were not swept: listing them failed (${errorMessage(error)}). ` +
      `The credentials need s3:ListBucketMultipartUploads and s3:AbortMultipartUpload; see docs/prune.md for a lifecycle rule that does this too.`;
    log.warning(skipped);
    return { open: 0, aborted: [], tooYoung: 0, failed: [], skipped };
  }
  const cutoff = options.now.getTime() - options.graceMs;
  // An upload whose start the store does not report is kept: it could be running.
  const stale = open.filter((u) => u.initiated !== undefined && u.initiated.getTime() <= cutoff);
  const sweep: UploadSweep = { open: open.length, aborted: [], tooYoung: open.length - stale.length, failed: [] };
  const record = (u: OpenUpload) => sweep.aborted.push({ key: u.key, initiated: u.initiated?.toISOString() });
  if (options.dryRun) stale.forEach(record);
  else {
    await forEachConcurrently(stale, 4, async (upload) => {
      try {
        await abortUpload(store.client, store.bucket, upload);
        record(upload);
      } catch (error) {
        sweep.failed.push({ key: upload.key, message: errorMessage(error) });
      }
    });
  }
  if (open.length > 0) {
    log.info(
      `Open multipart uploads: ${open.length} found; ${sweep.aborted.length} older than the grace period ${options.dryRun ? 'would be aborted' : 'aborted'}` +
        `${sweep.tooYoung ? `, ${sweep.tooYoung} younger kept (possibly a backup running now)` : ''}.`,
    );
  }
  for (const { key, message } of sweep.failed.slice(0, 5)) {
    log.warning(`Could not abort the open upload of ${key} (${message}); the next prune will try again. The credentials need s3:AbortMultipartUpload.`);
  }
  return sweep;
}
