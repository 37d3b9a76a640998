/**
 * Backup: one consistent pg_dump snapshot streamed through compression and a SHA-256 meter
 * straight into the backup bucket by multipart upload, then the manifest, last.
 *
 * Nothing is written until the database is reachable, a fitting pg_dump is found and the bucket
 * answers. If the dump or the upload fails, the multipart upload is aborted and no manifest is
 * written, so the failed backup can never be mistaken for a good one.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { formatBackupId, type Trigger } from '../../domain/backup-id.js';
import {
  INDEXED_MANIFEST_FORMAT,
  MANIFEST_FORMAT,
  provenanceFromEnv,
  type ArtifactRecord,
  type Compression,
  type Manifest,
  type MediaRecord,
  type TableCount,
} from '../../domain/manifest.js';
import { now } from '../clock.js';
import { startPgDump } from '../postgres/dump.js';
import { findLatestValid } from '../list/latest.js';
import { putBackCommand, readRestoreJournal } from '../restore/journal.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { choosePgTool, connectOrExplain, parseDatabaseUrl, readServerInfo } from '../postgres/connection.js';
import { createS3Client, normalizePrefix, withConnectionOf, type BucketSettings } from '../s3/client.js';
import { cancellationOf } from '../cancellation.js';
import { assertBucketReadable, assertBucketWritable, BACKUP_BUCKET_INPUTS, MEDIA_BUCKET_INPUTS } from '../s3/preflight.js';
import { backupMedia, mediaServerCopyFloor, type MediaBackupResult, type MediaTraffic, type MediaTuning } from '../media/media.js';
import type { ChunkWriteStats } from '../media/index-store.js';
import { assertCanReadEverything, disableSessionTimeouts, holdSnapshot, watchSession } from '../postgres/snapshot.js';
import { takeBackupLock } from '../media/locks.js';
import { BackupStore, uploadTuningFor, type UploadTuning } from '../s3/store.js';
import { createCompressor, FILE_EXTENSION, formatBytes, formatRate, ByteCounter, Meter } from '../streams.js';
import { LIFEBOAT_VERSION } from '../version.js';
import { createAgeEncryptor } from '../crypto/age-stream.js';
import { openManifest, sealAndSign, type BackupKeys } from '../crypto/manifest-trust.js';
import { backupRetention, immutabilityFor, type ImmutabilityEntry, type ObjectRetention } from '../../domain/immutability.js';
import { bucketHasObjectLock, keepRetainedUntil } from '../s3/object-lock.js';
import { loadPolicy } from '../policy-file.js';

export interface BackupOptions {
  space: string;
  trigger: Trigger;
  databaseUrl: string;
  /** The input the database comes from, named in its errors ('database-url' by default; 'cf-database-instance' for a service key's). */
  /** How logs, summaries and the manifest name the database, when not its URL's host (a tunnel's local port). */
  databaseLabel?: string;
  databaseInput?: string;
  bucket: BucketSettings;
  compression: Compression;
  pgDumpPath?: string;
  /** Count every table's rows in the dump's snapshot, for restore to verify against. */
  rowCounts: boolean;
  progressIntervalMs: number;
  /** Multipart tuning; by default chosen from the database's size (uploadTuningFor). */
  upload?: UploadTuning;
  /** The application's media bucket, backed up under the same id. */
  media?: { source: BucketSettings; tuning?: MediaTuning };
  env?: NodeJS.ProcessEnv;
  /** Client-side encryption and manifest signing (docs/encryption.md). */
  keys?: BackupKeys;
  /** Cancellation (SIGINT/SIGTERM, see cancellation.ts): stops pg_dump and aborts every upload; the backup then fails. */
  signal?: AbortSignal;
  /** The policy file whose 'immutability' says which backups are locked (docs/immutability.md); the default path when undefined. */
  policyFile?: string;
  /** The policy's 'immutability' entries, when the caller already has them (then no policy file is read). */
  immutability?: readonly ImmutabilityEntry[];
}

export interface BackupResult {
  manifest: Manifest;
  /**
   * The backup's size: the bytes stored under its own prefix, every artifact plus the manifest. Media
   * content is shared between backups and not counted here (see manifest.media.totals and mediaTraffic).
   */
  storedBytes: number;
  durationMs: number;
  location: string;
  /** Bytes and objects the media copy moved; absent without a media bucket. */
  mediaTraffic?: MediaTraffic;
  /** The media index chunks the backup wrote, and those it reused unchanged from the previous backup. */
  mediaIndex?: ChunkWriteStats;
  /** The S3 Object Lock on every object the backup wrote (and on the media content it references); absent when not locked. */
  objectLock?: ObjectRetention;
}

export async function runBackup(options: BackupOptions, log: Logger): Promise<BackupResult> {
  try {
    return await backUp(options, log);
  } catch (error) {
    // Whatever a cancellation broke on its way (a request, pg_dump's exit), the cause is the cancellation.
    throw cancellationOf(options.signal) ?? error;
  }
}

async function backUp(options: BackupOptions, log: Logger): Promise<BackupResult> {
  const env = options.env ?? process.env;
  const { signal } = options;
  signal?.throwIfAborted();
  // The policy first, so a broken one fails before anything is touched; only its 'immutability' matters here.
  const immutability = immutabilityFor(
    options.immutability ?? loadPolicy(options.policyFile, log, env.GITHUB_WORKSPACE ?? process.cwd()).immutability,
    options.space,
    options.trigger,
  );
  const parsed = parseDatabaseUrl(options.databaseUrl, options.databaseInput);
  const connection = options.databaseLabel ? { ...parsed, description: options.databaseLabel } : parsed;
  // Made with the cancellation signal, this client fails every request once cancelled, except the abort of a multipart upload.
  const store = new BackupStore(options.bucket, createS3Client(options.bucket, env, signal));

  const client = await connectOrExplain(connection);
  // From here on this session is part of the backup: its failure ends the backup cleanly, never the process.
  const session = watchSession(client, "the backup's snapshot");
  try {
    await disableSessionTimeouts(client);
    const server = await readServerInfo(client);
    await assertCanReadEverything(client, connection.input);
    const pgDump = await choosePgTool('pg_dump', server, options.pgDumpPath, env);
    log.info(`Database ${connection.description}: PostgreSQL ${server.version}; using ${pgDump.path} (${pgDump.version}).`);
    await store.assertReachable();
    // A parallel restore into this space that never finished leaves the database half-restored: a backup of
    // it would look good and might outlive the good ones. The pre-restore backup is taken by a restore that
    // has already completed any pending put-back.
    if (options.trigger !== 'pre-restore') {
      const journal = await readRestoreJournal(store, options.space);
      if (journal) {
        throw new LifeboatError(
          `A parallel restore into '${options.space}' (${journal.target}), started ${journal.startedAt}, did not finish, so its database may be half-restored; no backup was taken. ` +
            `Run any restore into '${options.space}' first: it puts the database back to the pre-restore backup ${journal.preRestoreBackupId} before anything else. Or ${putBackCommand(journal)}.`,
        );
      }
    }
    // Every bucket, before the dump: the backup bucket must take uploads, the media bucket must be readable.
    await assertBucketWritable(store.client, store.bucket, `${store.prefix}backups/${options.space}/`, BACKUP_BUCKET_INPUTS);
    // Locked only when the policy asks for it and the bucket can do it; asked for on a bucket without Object Lock, it is a warning.
    let lockWanted = immutability;
    if (immutability && !(await bucketHasObjectLock(store.client, store.bucket))) {
      log.warning(
        `The policy asks for ${immutability.mode} Object Lock for ${immutability.days} days on '${options.space}' ${options.trigger} backups, but the bucket '${store.bucket}' does not have S3 Object Lock enabled, ` +
          `so this backup is not locked and anyone with delete rights on the bucket can delete it. Object Lock can only be enabled when a bucket is created: see docs/immutability.md.`,
      );
      lockWanted = undefined;
    }
    const recipients = options.keys?.recipients?.length ? options.keys.recipients : undefined;
    if (recipients && options.media && !options.keys?.signingKey) {
      throw new LifeboatError(
        `'encryption-recipients' is set and the backup includes the media bucket, but 'signing-key' is not given: encrypted media content is stored under addresses keyed with a key derived from the signing key, ` +
          `so that nobody reading the bucket can tell which files it holds. Give 'signing-key' (openssl genpkey -algorithm ed25519), or leave out the media bucket.`,
      );
    }
    const mediaSource = options.media ? withConnectionOf(options.media.source, options.bucket) : undefined;
    // One credential on one server reaches both buckets: content is copied inside the store where that wins (docs/media.md).
    const serverCopyFromBytes = mediaSource ? mediaServerCopyFloor(mediaSource, options.bucket, recipients !== undefined, env) : undefined;
    if (mediaSource) {
      await assertBucketReadable(createS3Client(mediaSource, env, signal), mediaSource.bucket, normalizePrefix(mediaSource.prefix), MEDIA_BUCKET_INPUTS);
    }

    const startedAt = now(env);
    const clockStart = Date.now();
    const id = formatBackupId(startedAt, options.trigger);
    if (lockWanted) {
      store.objectLock = backupRetention(lockWanted, startedAt);
      if (store.objectLock.retainUntil.getTime() <= Date.now()) {
        throw new LifeboatError(
          `The backup would be locked until ${store.objectLock.retainUntil.toISOString()}, which has passed (its start time is ${startedAt.toISOString()}; is LIFEBOAT_NOW set?), and S3 refuses a lock in the past. Unset LIFEBOAT_NOW.`,
        );
      }
      log.info(`Object Lock: every object of this backup is locked (${lockWanted.mode}) until ${store.objectLock.retainUntil.toISOString()}.`);
    }
    // `.age` on top of the compression's extension: the name says how to undo it (age -d | zstd -d).
    const file = `database.pgdump${FILE_EXTENSION[options.compression]}${recipients ? '.age' : ''}`;
    const key = store.artifactKey(options.space, id, file);
    log.info(`Backing up space '${options.space}' (${options.trigger}) as ${id} to s3://${store.bucket}/${key}`);

    let snapshot;
    try {
      snapshot = await holdSnapshot(client);
    } catch (error) {
      // Some poolers cannot export snapshots; the dump is still consistent on its own.
      log.warning(`Could not export a snapshot (${errorMessage(error)}); row counts will not be recorded.`);
    }
    try {
      signal?.throwIfAborted();
      const dump = startPgDump(pgDump, connection, { snapshot: snapshot?.snapshotId });
      const stopDump = () => dump.kill();
      signal?.addEventListener('abort', stopDump, { once: true });
      const raw = new ByteCounter();
      const stored = new Meter();
      const body = new PassThrough();
      const progress = setInterval(() => {
        const elapsed = Date.now() - clockStart;
        log.info(
          `… ${formatBytes(raw.bytes)} dumped, ${formatBytes(stored.bytes)} stored, ${formatRate(raw.bytes, elapsed)} after ${Math.round(elapsed / 1000)} s`,
        );
      }, options.progressIntervalMs);
      progress.unref();

      // Counting runs in the snapshot's own transaction: if it fails, that transaction is broken, so the backup fails with it.
      const counting = options.rowCounts && snapshot ? snapshot.countRows() : Promise.resolve(null);
      const flowing = recipients
        ? pipeline(dump.output, raw, createCompressor(options.compression), await createAgeEncryptor(recipients), stored, body)
        : pipeline(dump.output, raw, createCompressor(options.compression), stored, body);
      const uploading = store.upload(key, body, 'application/octet-stream', options.upload ?? uploadTuningFor(server.databaseBytes));
      let tables: TableCount[] | null;
      try {
        // Wait for all three; the first failure wins, and the rest are stopped. The snapshot session failing
        // (terminated, timed out, the server shut down) is a failure too.
        const [, , counted] = await Promise.race([
          session.failed,
          Promise.all([
            flowing.catch((error) => {
              body.destroy(error);
              throw error;
            }),
            uploading.catch((error) => {
              dump.kill();
              throw error;
            }),
            counting,
          ]),
        ]);
        tables = counted;
      } catch (error) {
        dump.kill();
        // With the error, so the upload fails (and is aborted) rather than taking the cut-short body as whole.
        body.destroy(error instanceof Error ? error : new Error(String(error)));
        // Let the upload finish aborting before we report, so no parts are left behind.
        const uploadError: unknown = await uploading.then(() => undefined, (e: unknown) => e);
        // A failed upload stops reading its body, and the dump's pipeline then fails with a bare AbortError:
        // the upload's own error says what happened.
        const cause = (error as Error | undefined)?.name === 'AbortError' && uploadError !== undefined ? uploadError : error;
        throw cause instanceof LifeboatError
          ? cause
          : new LifeboatError(`Backup of ${connection.description} failed: ${errorMessage(cause)}`, { cause });
      } finally {
        clearInterval(progress);
        signal?.removeEventListener('abort', stopDump);
      }

      const size = await store.objectSize(key);
      if (size !== stored.bytes) {
        throw new LifeboatError(`The bucket holds ${size} bytes for ${key}, but ${stored.bytes} were sent; the backup is not complete.`);
      }
      // Some stores (Ceph RGW) ignore the lock given when a multipart upload starts: checked, and set if missing.
      if (store.objectLock) await keepRetainedUntil(store.client, store.bucket, key, store.objectLock);
      const artifact: ArtifactRecord = {
        name: 'database',
        key,
        size,
        sha256: stored.sha256(),
        compression: options.compression,
        format: 'pg_dump-custom',
        uncompressedSize: raw.bytes,
        ...(recipients ? { encryption: 'age' as const } : {}),
      };
      // Media after the database snapshot: an application writes a file before the row that refers to
      // it, so every file the dumped rows refer to already exists when the bucket is listed.
      let media: MediaBackupResult | undefined;
      // Held from before the media work until the manifest is written, so no prune deletes content this
      // backup reuses (media/locks.ts).
      const mediaLock = options.media ? await takeBackupLock(store, options.space, id, log) : undefined;
      const releaseMediaLock = () =>
        mediaLock?.release().catch((error: unknown) =>
          log.warning(
            `Could not delete the backup lock ${mediaLock.key} (${errorMessage(error)}): prune skips its media clean-up until the lock is older than its grace period. Check that the credentials allow s3:DeleteObject.`,
          ),
        );
      if (options.media && mediaSource) {
        const source = mediaSource;
        media = await (async () => {
          const previous = await previousMediaRecord(store, options.space, source, log, options.keys);
          const encryption = recipients ? { recipients, addressKey: options.keys!.signingKey!.addressKey } : undefined;
          return log.group(`Media bucket s3://${source.bucket}`, () =>
            backupMedia({
              source,
              store,
              previous,
              previousIdentities: options.keys?.identities?.identities,
              encryption,
              tuning: options.media!.tuning,
              serverCopyFromBytes,
              log,
              progressIntervalMs: options.progressIntervalMs,
              signal,
            }),
          );
        })().catch(async (error: unknown) => {
          await releaseMediaLock();
          throw error;
        });
      }
      const whole: Manifest = {
        // A media index needs a format older versions refuse (domain/manifest.ts).
        format: media ? INDEXED_MANIFEST_FORMAT : MANIFEST_FORMAT,
        id,
        space: options.space,
        trigger: options.trigger,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date(startedAt.getTime() + (Date.now() - clockStart)).toISOString(),
        tool: { name: 'lifeboat', version: LIFEBOAT_VERSION },
        provenance: provenanceFromEnv(env),
        database: {
          source: connection.description,
          serverVersion: server.version,
          serverVersionNum: server.versionNum,
          pgDumpVersion: pgDump.version,
          tables,
        },
        artifacts: [artifact],
        ...(media ? { media: media.record } : {}),
      };
      // Sealed to the recipients and signed, when configured; `manifest` is what is stored.
      const manifest = await sealAndSign(whole, options.keys ?? {});
      // The commit point: a cancelled backup must never get its manifest. The lock goes either way.
      const manifestBytes = await (async () => {
        signal?.throwIfAborted();
        return store.putManifest(manifest);
      })().finally(releaseMediaLock);
      const durationMs = Date.now() - clockStart;
      // The backup's size, the same in the log, the summary, the list and the `size` output: its own objects.
      const storedBytes = size + manifestBytes;
      const mediaNote = media ? `; media: ${media.record.totals.newObjects} new objects (${formatBytes(media.record.totals.newBytes)}) stored, not counted in the size` : '';
      log.info(
        `Backup ${id} complete: ${formatBytes(storedBytes)} (${options.compression} archive and manifest, from ${formatBytes(raw.bytes)} dumped) in ${(durationMs / 1000).toFixed(1)} s, ${formatRate(raw.bytes, durationMs)}${mediaNote}.`,
      );
      return {
        // For reports: the whole manifest (the stored one may be sealed), with how it was stored.
        manifest: { ...whole, ...(manifest.encryption ? { encryption: manifest.encryption } : {}), ...(manifest.signature ? { signature: manifest.signature } : {}) },
        storedBytes,
        durationMs,
        location: `s3://${store.bucket}/${store.backupPrefix(options.space, id)}`,
        mediaTraffic: media?.traffic,
        mediaIndex: media?.index,
        ...(store.objectLock ? { objectLock: store.objectLock } : {}),
      };
    } finally {
      await snapshot?.release();
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The base for an incremental media copy: the space's newest complete backup of the same media bucket. */
async function previousMediaRecord(store: BackupStore, space: string, source: BucketSettings, log: Logger, keys: BackupKeys | undefined): Promise<MediaRecord | undefined> {
  // The newest backup whose manifest is valid: a broken newer one is skipped, as `latest` does everywhere.
  let media: MediaRecord | undefined;
  try {
    const { latest, invalid } = await findLatestValid(store, await store.listEntries(space), { space });
    for (const { entry, problem } of invalid) log.warning(`Skipping backup ${entry.id} as the base for the media copy: ${problem}`);
    media = latest?.manifest.media;
    if (latest?.manifest.encryption) {
      // The previous backup's object list is sealed: without an identity every object is read again
      // (content already stored is still not written again: its address is the same).
      if (!keys?.identities) {
        log.info(`The previous backup ${latest.manifest.id} is encrypted and 'encryption-identity' is not given, so every media object is read again to learn its content (content already stored is not written again).`);
        return undefined;
      }
      const { manifest } = await openManifest(latest.manifest, { identities: keys.identities, trustedKeys: [] }, { targetSpace: space, signatureRequired: false }, () => undefined);
      media = manifest.media;
    }
  } catch (error) {
    log.warning(`Could not read the previous backup's manifest (${errorMessage(error)}); every media object will be read again.`);
  }
  if (media && media.bucket === source.bucket && media.prefix === normalizePrefix(source.prefix)) return media;
  return undefined;
}
