/**
 * Restore: put a backup of a source space into a target space, replacing everything in the target.
 *
 * The order is the safety argument, so it is fixed:
 *   1. Authorize, before anything is read: the restore matrix, then (for manual runs) the admin team
 *      through the GitHub API, then the typed confirmation for protected targets.
 *   2. Resolve the backup (an id, or `latest` complete backup of the source space) and read its manifest.
 *   3. Verify before touching the target: download every artifact, check size and SHA-256 against the
 *      manifest, and have pg_restore read the archive's table of contents.
 *   4. Apply, so that a failure leaves the target as it was:
 *      - below `parallel-threshold-mb` (or with jobs = 1), wipe + restore + row-count check run as ONE
 *        transaction; any error rolls all of it back;
 *      - at or above it, a `pre-restore` backup of the target is taken first, then wipe, parallel
 *        pg_restore and the row-count check; on any failure the target is wiped again and the
 *        pre-restore backup is restored in one transaction.
 *   5. Verify after: every table's row count against the counts recorded in the backup's snapshot.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Trigger } from '../../domain/backup-id.js';
import { provenanceFromEnv, type Manifest, type TableCount } from '../../domain/manifest.js';
import type { Policy, RestoreRule, SigningPolicy } from '../../domain/policy.js';
import { openManifest, type ReadKeys } from '../crypto/manifest-trust.js';
import type { SignatureStatus } from '../../domain/sealing.js';
import { parseVerificationKeys, recipientsOf } from '../crypto/keys.js';
import {
  assertRestoreAllowed,
  authorizeRestore,
  classifyInvocation,
  requiredChecks,
  RestoreRefused,
  type AdminCheck,
  type InvocationKind,
  type RestoreRequest,
} from '../../domain/restore-authorization.js';
import { runBackup } from '../backup/backup.js';
import { LifeboatError, errorMessage } from '../errors.js';
import { githubApiFromEnv, isActiveTeamMember, tokenOwner, TOKEN_PERMISSION_HINT } from './github-teams.js';
import type { Logger } from '../logger.js';
import { loadPolicy } from '../policy-file.js';
import { choosePgTool, choosePsql, connectOrExplain, installHint, parseDatabaseUrl, readServerInfo, type DatabaseConnection } from '../postgres/connection.js';
import { applyInOneTransaction, RolledBackError, restoreInParallel, verifyTarget, wipeInOwnTransaction, type PrivilegesMode, type RestoreTools } from './apply.js';
import { databaseArtifact, downloadArchive, readTableOfContents, verifyStoredArtifact } from './artifacts.js';
import type { SkippedGrant } from './script-filter.js';
import { assertTargetWipeable } from './wipe-check.js';
import { putBackCommand, readRestoreJournal, removeRestoreJournal, RESTORE_JOURNAL_FORMAT, writeRestoreJournal, type RestoreJournal } from './journal.js';
import type { TableCheck } from './sql.js';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, normalizePrefix, withConnectionOf, type BucketSettings } from '../s3/client.js';
import { describeS3Error } from '../s3/errors.js';
import { restoreMedia, verifyMediaPresent, type MediaRestoreResult } from '../media/media.js';
import { BackupStore } from '../s3/store.js';
import { locatedIn } from '../replica/locate.js';
import { findLatestValid, manifestProblem } from '../list/latest.js';
import { formatBytes } from '../streams.js';

export const DEFAULT_PARALLEL_THRESHOLD_MB = 1024;
/**
 * One job, so the default is the streamed one-transaction restore at every size: it needs no local disk
 * and no pre-restore backup, and it is atomic. The parallel path is opt-in (docs/restore.md has the
 * measurements behind this choice).
 */
export const DEFAULT_JOBS = 1;

/**
 * Who is asking. In GitHub Actions the run's event and actor decide; outside (the CLI on a laptop or in
 * a task) a person is at the keyboard, and the owner of `github-token` is taken as that person, unless
 * the CLI's --automated declares the run automated (`automated`; see classifyInvocation).
 */
export type RestoreCaller = ({ kind: 'github-actions'; eventName?: string; actor?: string } | { kind: 'cli' }) & { automated?: boolean };

export function callerFromEnv(env: NodeJS.ProcessEnv): RestoreCaller {
  if (env.GITHUB_ACTIONS !== 'true') return { kind: 'cli' };
  // Re-runs are started by the person who re-ran them, not by whoever started the first attempt.
  return { kind: 'github-actions', eventName: env.GITHUB_EVENT_NAME || undefined, actor: env.GITHUB_TRIGGERING_ACTOR || env.GITHUB_ACTOR || undefined };
}

export interface RestoreOptions {
  sourceSpace: string;
  targetSpace: string;
  /** A backup id, or 'latest': the newest complete backup of the source space (matching `trigger`). */
  backupId: string;
  trigger?: Trigger;
  /** The target database. */
  databaseUrl: string;
  /** The input the database comes from, named in its errors ('database-url' by default; 'cf-database-instance' for a service key's). */
  /** How logs, summaries and the manifest name the database, when not its URL's host (a tunnel's local port). */
  databaseLabel?: string;
  databaseInput?: string;
  bucket: BucketSettings;
  githubToken?: string;
  confirm?: string;
  policyFile?: string;
  jobs: number;
  /** Uncompressed dump size from which the parallel path is used (when jobs > 1). */
  parallelThresholdBytes: number;
  pgRestorePath?: string;
  /** The target space's media bucket; required when the backup holds media, unless skipMedia. */
  media?: BucketSettings;
  /** Restore only the database of a backup that also holds media. */
  skipMedia?: boolean;
  /** Grants from the source: 'drop' (default; no grants, everything owned by the target's role) or 'keep'. */
  privileges?: PrivilegesMode;
  /** Aborted on SIGINT/SIGTERM: the restore rolls back (or, on the parallel path, puts the target back). */
  signal?: AbortSignal;
  progressIntervalMs?: number;
  caller: RestoreCaller;
  env?: NodeJS.ProcessEnv;
  /** age identities to decrypt with, and public keys to check signatures with (docs/encryption.md). */
  keys?: ReadKeys;
  /** The replica bucket (docs/replication.md): the fallback, or with store 'replica' the only store read. */
  replica?: BucketSettings;
  store?: 'primary' | 'replica';
  /** Where the media bucket's unset connection settings come from, when not `bucket` (the backup bucket's, when `bucket` is the replica). */
  mediaConnection?: BucketSettings;
}

export interface RestoreAuthorization {
  kind: InvocationKind;
  /** The run was declared automated (the CLI's --automated), not shown to be by its event. */
  declared?: boolean;
  rule: RestoreRule;
  actor?: string;
  eventName?: string;
  /** The admin team checked, as org/slug, when one was. */
  adminTeam?: string;
  /** The policy's signing rules, for the manifest check that follows. */
  signing?: SigningPolicy;
}

export interface RestoreResult {
  manifest: Manifest;
  sourceSpace: string;
  targetSpace: string;
  /** host:port/database of the target, never credentials. */
  target: string;
  authorization: RestoreAuthorization;
  method: 'transactional' | 'parallel';
  jobs: number;
  preRestoreBackupId?: string;
  /** Per-table comparison with the backup's row counts; null when the backup recorded none. */
  checks: TableCheck[] | null;
  privileges: PrivilegesMode;
  /** With privileges: keep, grants skipped because the target lacks their roles (the first 200, and the count). */
  skippedGrants: SkippedGrant[];
  skippedGrantCount: number;
  durationMs: number;
  pgRestoreVersion: string;
  /** The manifest's signature, as checked before anything else. */
  signature?: SignatureStatus;
  /** What the media mirror did; absent when the backup holds no media or it was skipped. */
  media?: MediaRestoreResult & { bucket: string };
  /** Set when the backup came from the replica: asked for, or fallen back to (and why). */
  store?: { used: 'replica'; fellBackBecause?: string };
}

function refuse(reason: string, fix: string): RestoreRefused {
  return new RestoreRefused({ reason, fix });
}

/**
 * Step 1 alone: the policy and the caller decide whether this restore may happen. The actions call it
 * before binding the backup bucket, so a refused restore creates no credentials and reads nothing.
 */
export async function authorizeRestoreRun(options: RestoreOptions, log: Logger): Promise<RestoreAuthorization> {
  const env = options.env ?? process.env;
  const policy = loadPolicy(options.policyFile, log, env.GITHUB_WORKSPACE ?? process.cwd());
  return { ...(await authorize(policy, options, env, log)), ...(policy.signing ? { signing: policy.signing } : {}) };
}

/**
 * Restore, from the backup bucket or its replica (docs/replication.md). With `store: replica` only the
 * replica is used. Otherwise, when a replica is given and the backup bucket fails as a store (it cannot
 * be reached, or its backup is missing or fails verification) before the target is touched, the same
 * restore runs again from the replica, whose backup must pass every check the primary's had to.
 */
export async function runRestore(options: RestoreOptions, log: Logger, authorized?: RestoreAuthorization): Promise<RestoreResult> {
  const replica = options.replica;
  // The target's media bucket takes unset connection settings from the backup bucket's, whichever store is read.
  const fromReplica = (bucket: BucketSettings): RestoreOptions => ({ ...options, bucket, mediaConnection: options.bucket });
  if (options.store === 'replica') {
    if (!replica) throw new LifeboatError("'store' is 'replica' but 'replica-bucket' is not given.");
    log.info(`Restoring from the replica s3://${replica.bucket}/${normalizePrefix(replica.prefix)} ('store: replica').`);
    const result = await restoreFrom(fromReplica(replica), log, authorized, { touched: false });
    return { ...result, store: { used: 'replica' } };
  }
  const authorization = authorized ?? (await authorizeRestoreRun(options, log));
  const attempt: RestoreAttempt = { touched: false };
  try {
    return await restoreFrom(options, log, authorization, attempt);
  } catch (error) {
    if (!replica || attempt.touched || !STORE_FAILURES.has(error as object) || options.signal?.aborted) throw error;
    const reason = errorMessage(error);
    log.warning(
      `The backup bucket s3://${options.bucket.bucket} could not be used, and nothing in the target was touched: ${reason}\n` +
        `Falling back to the replica s3://${replica.bucket}/${normalizePrefix(replica.prefix)}: its backup must pass the same checks.`,
    );
    const replicaAttempt: RestoreAttempt = { touched: false };
    try {
      const result = await restoreFrom(fromReplica(replica), log, authorization, replicaAttempt);
      log.warning(`Restored from the REPLICA s3://${replica.bucket}, not the backup bucket, because: ${reason}`);
      return { ...result, store: { used: 'replica', fellBackBecause: reason } };
    } catch (replicaError) {
      if (replicaAttempt.touched || options.signal?.aborted || (!(replicaError instanceof RestoreRefused) && !STORE_FAILURES.has(replicaError as object))) throw replicaError;
      // Nothing was touched in either attempt: a refusal, with the reasons of both stores.
      const where = (store: string, e: unknown) =>
        e instanceof RestoreRefused ? e.reasons.map((r) => ({ reason: `${store}: ${r.reason}`, fix: r.fix })) : [{ reason: `${store}: ${errorMessage(e)}`, fix: 'Check that store and its inputs.' }];
      throw new RestoreRefused({
        reason: 'Neither the backup bucket nor the replica could be used.',
        fix: 'Restore another backup.',
        reasons: [...where(`The backup bucket s3://${options.bucket.bucket}`, error), ...where(`The replica s3://${replica.bucket}`, replicaError)],
      });
    }
  }
}

/** Whether the target has been touched yet: after that, a failure is never retried from another store. */
interface RestoreAttempt {
  touched: boolean;
}

/** Failures of the store itself (unreachable, backup missing, damaged or refused by verification), which the replica may not share. */
const STORE_FAILURES = new WeakSet<object>();

async function asStoreFailure<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (typeof error === 'object' && error !== null) STORE_FAILURES.add(error);
    throw error;
  }
}

async function restoreFrom(options: RestoreOptions, log: Logger, authorized: RestoreAuthorization | undefined, attempt: RestoreAttempt): Promise<RestoreResult> {
  const env = options.env ?? process.env;
  const started = Date.now();
  const { sourceSpace, targetSpace } = options;

  const authorization = authorized ?? (await authorizeRestoreRun(options, log));
  log.info(
    `Restore ${sourceSpace} → ${targetSpace} allowed (${authorization.rule.purpose || 'no purpose given'}; ${authorization.kind}${authorization.declared ? ' by --automated' : ''}` +
      `${authorization.eventName ? `, event ${authorization.eventName}` : ''}${authorization.actor ? `, by ${authorization.actor}` : ''}).`,
  );

  // Keys first (the policy's public keys included): a malformed one is refused before anything is read or changed.
  const keys = readKeysWithPolicy(options.keys, authorization.signing);
  const signatureRequired = authorization.signing?.requiredFor.includes(targetSpace) ?? false;

  const store = new BackupStore(options.bucket);
  await asStoreFailure(store.assertReachable(options.bucket === options.replica ? 'replica-bucket' : 'backup-bucket'));

  const parsed = parseDatabaseUrl(options.databaseUrl, options.databaseInput);
  const connection = options.databaseLabel ? { ...parsed, description: options.databaseLabel } : parsed;
  const client = await connectOrExplain(connection);
  const server = await readServerInfo(client).finally(() => client.end().catch(() => undefined));
  const pgRestore = await choosePgTool('pg_restore', server, options.pgRestorePath, env);
  const psql = await choosePsql(pgRestore, server, env);
  // Before anything else: an earlier parallel restore into this space that never finished is undone first.
  await completeInterruptedRestore(store, options.targetSpace, { pgRestore, psql }, connection, env, log, keys, signatureRequired, attempt);
  const stored = await asStoreFailure(resolveBackup(store, options, log));
  // Before anything else is read: the signature, then the sealed part (which also proves the identity).
  const opened = await asStoreFailure(openManifest(stored, keys, { targetSpace, signatureRequired }, (message) => log.warning(message)));
  const { signature } = opened;
  // Artifacts are read from this store's own backup prefix (a replica may have another prefix; replica/locate.ts).
  const manifest = locatedIn(store, opened.manifest);
  if (signature.kind === 'verified') log.info(`The manifest of ${manifest.id} is signed by trusted key ${signature.keyId}, and the signature matches.`);
  if (manifest.encryption) log.info(`Backup ${manifest.id} is encrypted to ${manifest.encryption.recipients.join(', ')}; the identity given decrypts it.`);
  const identities = keys.identities?.identities;
  const dumpMajor = Number.parseInt(manifest.database.pgDumpVersion, 10);
  if (Number.isFinite(dumpMajor) && dumpMajor > pgRestore.major) {
    throw refuse(
      `Backup ${manifest.id} was made by pg_dump ${manifest.database.pgDumpVersion}, and pg_restore ${pgRestore.version} (${pgRestore.path}) cannot read archives of a newer pg_dump.`,
      installHint('pg_restore', dumpMajor),
    );
  }
  const tools: RestoreTools = { pgRestore, psql };
  log.info(`Target ${connection.description}: PostgreSQL ${server.version}; using ${pgRestore.path} (${pgRestore.version}) and ${psql.path}.`);

  // Before anything is downloaded: a target holding objects this role may not drop is refused at once,
  // naming them all (the wipe checks again inside the restore's transaction).
  await assertTargetWipeable(connection);
  const mediaTarget = chooseMediaTarget(manifest, options, log);
  // Before anything touches the target database: a media bucket that cannot take the backup's objects
  // would otherwise be found only after the database had been replaced.
  if (mediaTarget) await assertMediaTargetWritable(mediaTarget);
  const privileges = options.privileges ?? 'drop';
  const artifact = databaseArtifact(manifest);
  const size = artifact.uncompressedSize;
  const parallel = options.jobs > 1 && size >= options.parallelThresholdBytes;
  const workDir = parallel ? await mkdtemp(join(env.RUNNER_TEMP || tmpdir(), 'lifeboat-restore-')) : undefined;
  try {
    // Verify before touching the target: pg_restore reads the archive's table of contents, every byte
    // stored is hashed against the manifest, and every media object's content is present. The parallel
    // path's download then also checks the bytes it writes; the streamed path checks them as it applies.
    // The three checks only read, so they run side by side: the hash pass takes the time, the others hide in it.
    const archiveFile = await asStoreFailure(log.group(`Verify backup ${manifest.id}`, async () => {
      const [file] = await allSettledOrFirstError([
        workDir
          ? downloadArchive(store, manifest, artifact, workDir, log, options.progressIntervalMs, identities)
          : verifyStoredArtifact(store, manifest, artifact, log, options.progressIntervalMs).then(() => undefined),
        readTableOfContents(store, manifest, artifact, pgRestore, identities).then((entries) =>
          log.info(`pg_restore ${pgRestore.version} reads the archive's table of contents: ${entries} entries.`),
        ),
        mediaTarget && manifest.media
          ? verifyMediaPresent(manifest.media, store).then(() =>
              log.info(`All ${manifest.media!.totals.objects} media objects' content is present in the backup bucket.`),
            )
          : Promise.resolve(),
      ] as const);
      return file;
    }));
    // From here on the target changes: a failure is never retried from another store.
    attempt.touched = true;
    // The database first: its restore is all-or-nothing. The media mirror follows only once it succeeded.
    const withMedia = async <T extends object>(result: T): Promise<T & { media?: RestoreResult['media'] }> => {
      if (!mediaTarget || !manifest.media) return result;
      let media: MediaRestoreResult;
      try {
        // Both buckets' clients are cancelled with the restore: a cancelled media copy stops at once and
        // aborts its multipart uploads into the media bucket, which nothing else would ever clean up.
        const cancellableStore = new BackupStore(options.bucket, createS3Client(options.bucket, env, options.signal));
        media = await log.group(`Restore media into s3://${mediaTarget.bucket}`, () =>
          restoreMedia(manifest.media!, cancellableStore, mediaTarget, log, undefined, options.progressIntervalMs, identities, undefined, options.signal),
        );
      } catch (error) {
        if (options.signal?.aborted) {
          throw new LifeboatError(
            `The database of ${targetSpace} was restored from ${manifest.id} and verified, but the media copy into s3://${mediaTarget.bucket} ('media-bucket') was cancelled part-way, its uploads aborted. ` +
              `Run the same restore again; it copies only the media that still differ.`,
            { cause: error },
          );
        }
        throw new LifeboatError(
          `The database of ${targetSpace} was restored from ${manifest.id} and verified, but restoring the media into s3://${mediaTarget.bucket} ('media-bucket') failed: ` +
            `${describeS3Failure(error)} Fix the media bucket and run the same restore again; it copies only the media that still differ.`,
          { cause: error },
        );
      }
      return { ...result, media: { ...media, bucket: mediaTarget.bucket } };
    };
    const expected = manifest.database.tables;
    if (!expected) log.warning(`Backup ${manifest.id} recorded no row counts, so the restored data cannot be checked against it.`);

    const base = {
      manifest,
      signature,
      sourceSpace,
      targetSpace,
      target: connection.description,
      authorization,
      jobs: parallel ? options.jobs : 1,
      pgRestoreVersion: pgRestore.version,
      privileges,
    };
    const applyOptions = { privileges, signal: options.signal, progressIntervalMs: options.progressIntervalMs, identities };
    if (!archiveFile) {
      log.info(`Restoring ${formatBytes(size)} streamed from the bucket in one transaction: on any error or cancellation nothing in the target changes.`);
      const applied = await log.group(`Restore into ${targetSpace} (one transaction)`, () =>
        applyInOneTransaction(tools, connection, store, artifact, expected, applyOptions, log),
      );
      return await withMedia({ ...base, method: 'transactional' as const, ...applied, durationMs: Date.now() - started });
    }

    log.info(
      `Restoring ${formatBytes(size)} with pg_restore --jobs=${options.jobs} (at least ${formatBytes(options.parallelThresholdBytes)}, the parallel threshold); ` +
        `a pre-restore backup of the target is taken first and restored if anything fails.`,
    );
    const { checks, preRestoreBackupId } = await restoreWithSafetyNet(
      { ...options, env, privileges },
      tools,
      store,
      connection,
      manifest.id,
      archiveFile,
      expected,
      log,
      // The target's data is encrypted like the backup restored over it, to the identities' own recipients.
      manifest.encryption && keys.identities ? await recipientsOf(keys.identities) : undefined,
    );
    return await withMedia({
      ...base,
      method: 'parallel' as const,
      checks,
      skippedGrants: [],
      skippedGrantCount: 0,
      preRestoreBackupId,
      durationMs: Date.now() - started,
    });
  } finally {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

/** The keys given as inputs, plus the public keys the policy file lists. */
function readKeysWithPolicy(keys: ReadKeys | undefined, signing: SigningPolicy | undefined): ReadKeys {
  const fromPolicy = signing?.publicKeys.length ? parseVerificationKeys(signing.publicKeys, 'signing.public-keys (policy file)') : [];
  return { identities: keys?.identities, trustedKeys: [...(keys?.trustedKeys ?? []), ...fromPolicy] };
}

/** A backup with media restores it too, into the target's media bucket, unless told to skip it. */
function chooseMediaTarget(manifest: Manifest, options: RestoreOptions, log: Logger): BucketSettings | undefined {
  if (!manifest.media) {
    if (options.media) log.info(`Backup ${manifest.id} holds no media; 'media-bucket' is not used.`);
    return undefined;
  }
  if (options.skipMedia) {
    log.warning(`Backup ${manifest.id} holds ${manifest.media.totals.objects} media objects; 'skip-media' is set, so only the database is restored.`);
    return undefined;
  }
  if (!options.media) {
    throw refuse(
      `Backup ${manifest.id} holds the media bucket too (${manifest.media.totals.objects} objects), but 'media-bucket' (the target space's media bucket) is not given.`,
      `Set 'media-bucket' to ${options.targetSpace}'s media bucket (with binding: cloudfoundry, 'cf-media-instance' to its service instance), or 'skip-media: true' to restore only the database.`,
    );
  }
  return withConnectionOf(options.media, options.mediaConnection ?? options.bucket);
}

/** An S3 failure from its code and HTTP status (some servers, like Ceph RGW, send an empty message). */
/** A media failure in a sentence: Lifeboat's own words, or the store's error told from its code and status. */
function describeS3Failure(error: unknown): string {
  if (error instanceof LifeboatError) return error.message;
  return `${describeS3Error(error) ?? errorMessage(error)}.`;
}

/**
 * Proves the target media bucket exists and takes writes, with a small probe object put and deleted
 * again. Refuses, naming the input, before the target database is touched.
 */
/**
 * Waits for every promise, then throws the first failure in the order given (not the first to happen),
 * so the same bad backup always gives the same refusal, and no check is left running behind an error.
 */
async function allSettledOrFirstError<T extends readonly unknown[]>(work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function assertMediaTargetWritable(target: BucketSettings): Promise<void> {
  const client = createS3Client(target);
  const probeKey = `${normalizePrefix(target.prefix)}.lifeboat-restore-probe-${randomBytes(6).toString('hex')}`;
  try {
    await client.send(new PutObjectCommand({ Bucket: target.bucket, Key: probeKey, Body: 'Lifeboat checks it can write here before a restore.\n' }));
    await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: probeKey }));
  } catch (error) {
    throw refuse(
      `Cannot restore the media into s3://${target.bucket} given in 'media-bucket': ${describeS3Failure(error)} Nothing was changed.`,
      `Check 'media-bucket', 'media-s3-endpoint', 'media-s3-region' and the media bucket's credentials (media-aws-*), or set 'skip-media: true' to restore only the database.`,
    );
  } finally {
    client.destroy();
  }
}

async function authorize(policy: Policy, options: RestoreOptions, env: NodeJS.ProcessEnv, log: Logger): Promise<RestoreAuthorization> {
  const { caller } = options;
  const eventName = caller.kind === 'github-actions' ? caller.eventName : undefined;
  const { kind, declared } = classifyInvocation({ inActions: caller.kind === 'github-actions', eventName, declaredAutomated: caller.automated });
  let actor = caller.kind === 'github-actions' ? caller.actor : undefined;
  const request: RestoreRequest = { sourceSpace: options.sourceSpace, targetSpace: options.targetSpace, confirm: options.confirm };

  // The matrix is checked first, inside requiredChecks and authorizeRestore: a pair that is never
  // allowed is refused without asking GitHub anything.
  const checks = requiredChecks(policy, request, { kind, actor, eventName, declared });
  let adminCheck: AdminCheck | undefined;
  let adminTeam: string | undefined;
  if (checks.adminTeam) {
    const team = checks.adminTeam;
    adminTeam = `${team.org}/${team.slug}`;
    if (!options.githubToken) {
      throw refuse(
        `Manual restores are allowed only for members of ${adminTeam}, and checking membership needs a GitHub token that can read the team, but 'github-token' is empty.`,
        `Set 'github-token' to such a token (for example github-token: \${{ secrets.LIFEBOAT_TEAM_TOKEN }}): ${TOKEN_PERMISSION_HINT}.`,
      );
    }
    const api = githubApiFromEnv(options.githubToken, env);
    if (caller.kind === 'cli') {
      actor = await tokenOwner(api);
      log.info(`Outside GitHub Actions: the restore is run by '${actor}', the owner of github-token.`);
    }
    if (!actor) {
      throw refuse(
        'Cannot tell who started this run: GITHUB_TRIGGERING_ACTOR and GITHUB_ACTOR are both unset.',
        'Run the restore from a GitHub Actions workflow, or with the CLI outside Actions using a github-token of your own.',
      );
    }
    const isAdmin = await isActiveTeamMember(api, team, actor);
    log.info(`'${actor}' is ${isAdmin ? '' : 'not '}an active member of ${adminTeam}.`);
    adminCheck = { isAdmin };
  }
  const rule = assertRestoreAllowed(authorizeRestore(policy, request, { kind, actor, eventName, declared }, adminCheck));
  return { kind, declared, rule, actor, eventName, adminTeam };
}

async function resolveBackup(store: BackupStore, options: RestoreOptions, log: Logger): Promise<Manifest> {
  const { sourceSpace } = options;
  const listFix = `List what can be restored with the list action (space: ${sourceSpace}).`;
  const entries = await store.listEntries(sourceSpace);
  if (options.backupId === 'latest') {
    let found;
    try {
      found = await findLatestValid(store, entries, { space: sourceSpace, trigger: options.trigger });
    } catch (error) {
      throw refuse(`The manifests of '${sourceSpace}' cannot be read from ${store.describe()}: ${errorMessage(error)}`, `Check the bucket inputs and credentials. ${listFix}`);
    }
    const which = options.trigger ? ` with trigger '${options.trigger}'` : '';
    // A broken newer backup is reported, never chosen: `latest` is the newest one that can be trusted.
    for (const { entry, problem } of found.invalid) {
      log.warning(`Skipping backup ${entry.id}, newer than the one restored: its manifest is invalid, so it cannot be trusted. ${problem}`);
    }
    if (!found.latest) {
      const skipped = found.invalid.length ? ` (${found.invalid.length} backup(s) with an invalid manifest were skipped: ${found.invalid.map((i) => i.entry.id).join(', ')})` : '';
      throw refuse(`There is no complete backup of space '${sourceSpace}'${which} with a valid manifest in ${store.describe()}${skipped}.`, `Make one with the backup action first, or check 'source-space', 'trigger' and the bucket inputs. ${listFix}`);
    }
    const { entry, manifest } = found.latest;
    log.info(
      `Latest complete backup of '${sourceSpace}'${options.trigger ? ` (${options.trigger})` : ''} with a valid manifest: ${entry.id}` +
        `${found.invalid.length ? ` (the newer ${found.invalid.map((i) => i.entry.id).join(', ')} ${found.invalid.length === 1 ? 'has' : 'have'} an invalid manifest)` : ''}.`,
    );
    return manifest;
  }
  const id = options.backupId;
  const entry = entries.find((e) => e.id === id);
  if (!entry) {
    throw refuse(`Backup ${id} does not exist in space '${sourceSpace}' of ${store.describe()}.`, `Check 'backup-id' and 'source-space'. ${listFix}`);
  }
  if (entry.status !== 'complete') {
    throw refuse(
      `Backup ${id} of space '${sourceSpace}' is incomplete (it has no manifest: it failed, was interrupted or is still running).`,
      `Restore a complete backup instead. ${listFix}`,
    );
  }
  let manifest: Manifest | string;
  try {
    manifest = await manifestProblem(store, entry);
  } catch (error) {
    throw refuse(`The manifest of backup ${id} cannot be read: ${errorMessage(error)}`, `Restore another backup. ${listFix}`);
  }
  if (typeof manifest === 'string') throw refuse(`The manifest of backup ${id} cannot be read: ${manifest}`, `Restore another backup. ${listFix}`);
  return manifest;
}

/** The parallel path: pre-restore backup, wipe, pg_restore --jobs, check; on failure, back to the pre-restore backup. */
async function restoreWithSafetyNet(
  options: RestoreOptions & { env: NodeJS.ProcessEnv; privileges: PrivilegesMode },
  tools: RestoreTools,
  store: BackupStore,
  connection: DatabaseConnection,
  backupId: string,
  archiveFile: string,
  expected: readonly TableCount[] | null,
  log: Logger,
  recipients?: readonly string[],
): Promise<{ checks: TableCheck[] | null; preRestoreBackupId: string }> {
  const siblingPgDump = join(dirname(tools.pgRestore.path), 'pg_dump');
  let pre;
  try {
    pre = await log.group(`Pre-restore backup of ${options.targetSpace}`, () =>
      runBackup(
        {
          space: options.targetSpace,
          trigger: 'pre-restore',
          databaseUrl: options.databaseUrl,
          databaseInput: options.databaseInput,
          databaseLabel: options.databaseLabel,
          bucket: options.bucket,
          compression: 'zstd',
          pgDumpPath: existsSync(siblingPgDump) ? siblingPgDump : undefined,
          rowCounts: true,
          progressIntervalMs: 10_000,
          env: options.env,
          // Cancelled during the pre-restore backup, nothing has touched the target yet: just stop.
          signal: options.signal,
          ...(recipients ? { keys: { recipients } } : {}),
        },
        log,
      ),
    );
  } catch (error) {
    throw new LifeboatError(`Could not take the pre-restore backup of the target, so the restore did not start and the target is unchanged: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const preId = pre.manifest.id;
  log.info(`Pre-restore backup ${preId} taken (${pre.location}).`);
  const journal: RestoreJournal = {
    format: RESTORE_JOURNAL_FORMAT,
    targetSpace: options.targetSpace,
    target: connection.description,
    sourceSpace: options.sourceSpace,
    backupId,
    preRestoreBackupId: preId,
    startedAt: new Date().toISOString(),
    ...(provenanceFromEnv(options.env)?.runUrl ? { runUrl: provenanceFromEnv(options.env)!.runUrl } : {}),
  };
  try {
    await writeRestoreJournal(store, journal);
  } catch (error) {
    throw new LifeboatError(`Could not write the restore journal ${store.restoreJournalKey(options.targetSpace)}, so the restore did not start and the target is unchanged: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  let result: { checks: TableCheck[] | null; preRestoreBackupId: string };
  try {
    result = await log.group(`Restore into ${options.targetSpace} (pg_restore --jobs=${options.jobs})`, async () => {
      await wipeInOwnTransaction(connection);
      await restoreInParallel(tools, connection, archiveFile, options.jobs, options.privileges, options.signal, { log, intervalMs: options.progressIntervalMs });
      options.signal?.throwIfAborted();
      const checks = expected ? await verifyTarget(connection, expected) : null;
      if (checks) log.info(`Row counts of ${checks.length} tables match the backup.`);
      return { checks, preRestoreBackupId: preId };
    });
  } catch (error) {
    const cause = errorMessage(error);
    log.warning(`The parallel restore failed: ${cause}\nRolling the target back to the pre-restore backup ${preId}.`);
    try {
      await log.group(`Roll back ${options.targetSpace} to ${preId}`, async () => {
        // Streamed in one transaction, with no cancellation signal: the put-back must finish.
        await applyInOneTransaction(tools, connection, store, databaseArtifact(pre.manifest), pre.manifest.database.tables, { privileges: 'keep' }, log);
      });
    } catch (rollbackError) {
      const why = rollbackError instanceof RolledBackError ? rollbackError.detail : errorMessage(rollbackError);
      throw new LifeboatError(
        `The parallel restore failed (${cause}), and rolling back to the pre-restore backup ${preId} failed too (${why}). ` +
          `The target may be partly restored. Its state before the restore is saved as backup ${preId} in space '${options.targetSpace}', ` +
          `and the restore journal stays, so the next restore into '${options.targetSpace}' completes the put-back before anything else; ` +
          `or ${putBackCommand(journal)}.`,
        { cause: error },
      );
    }
    await removeRestoreJournal(store, options.targetSpace).catch((journalError: unknown) =>
      log.warning(`The target is back to ${preId}, but the restore journal could not be removed (${errorMessage(journalError)}); the next restore into '${options.targetSpace}' will put it back to ${preId} again, which is harmless.`),
    );
    throw new LifeboatError(
      `The parallel restore failed: ${cause}\nThe target was rolled back to the pre-restore backup ${preId}, taken just before the restore: it is as it was.`,
      { cause: error },
    );
  }
  try {
    await removeRestoreJournal(store, options.targetSpace);
  } catch (error) {
    // A journal left behind would make the next restore undo this one: that must not pass in silence.
    throw new LifeboatError(
      `The restore into '${options.targetSpace}' succeeded and was verified, but its journal ${store.restoreJournalKey(options.targetSpace)} could not be deleted (${errorMessage(error)}). ` +
        `Delete it by hand; otherwise the next restore into '${options.targetSpace}' puts the target back to the pre-restore backup ${preId} first.`,
      { cause: error },
    );
  }
  return result;
}

/**
 * An earlier parallel restore into this space was interrupted (its process killed, its runner lost, the
 * server crashed) after the wipe: the journal says so. The target is put back to that restore's
 * pre-restore backup, in one transaction, before this run does anything else; then the journal is removed.
 */
async function completeInterruptedRestore(
  store: BackupStore,
  targetSpace: string,
  tools: RestoreTools,
  connection: DatabaseConnection,
  env: NodeJS.ProcessEnv,
  log: Logger,
  keys: ReadKeys | undefined,
  signatureRequired: boolean,
  attempt: RestoreAttempt = { touched: false },
): Promise<void> {
  const journal = await readRestoreJournal(store, targetSpace);
  if (!journal) return;
  const preId = journal.preRestoreBackupId;
  const what = `A parallel restore of ${journal.backupId} into '${targetSpace}' (${journal.target}), started ${journal.startedAt}${journal.runUrl ? ` by ${journal.runUrl}` : ''}, did not finish`;
  if (signatureRequired) {
    // Pre-restore backups are unsigned (restore holds no signing key), and anyone who can write to the
    // bucket could plant a journal and a "pre-restore backup": where signatures are required, a person decides.
    throw refuse(
      `${what}, so its target may be half-restored; the journal names the pre-restore backup ${preId}, which is not signed, and the policy requires signed backups for '${targetSpace}', so Lifeboat will not apply it on its own. Nothing was changed.`,
      `Check that ${preId} and ${store.restoreJournalKey(targetSpace)} were written by that restore (its run's log names them), then either restore a signed backup into '${targetSpace}' after deleting the journal, or put the target back by hand (docs/encryption.md, "Put-back where signatures are required").`,
    );
  }
  if (journal.target !== connection.description) {
    throw refuse(
      `${what}, and its target may be half-restored; this run's 'database-url' is ${connection.description}, a different database, so Lifeboat will not put it back from here.`,
      `Run the restore with the 'database-url' of ${journal.target} to complete the put-back first, or ${putBackCommand(journal)}.`,
    );
  }
  log.warning(`${what}: the target may be half-restored. Putting it back to the pre-restore backup ${preId} before anything else.`);
  const dir = await mkdtemp(join(env.RUNNER_TEMP || tmpdir(), 'lifeboat-put-back-'));
  attempt.touched = true;
  try {
    await log.group(`Complete the put-back of ${targetSpace} to ${preId}`, async () => {
      // Restore's own pre-restore backup: unsigned (restore holds no signing key), encrypted when the restore was.
      const { manifest: preManifest } = await openManifest(
        await store.getManifest(targetSpace, preId),
        { identities: keys?.identities, trustedKeys: [] },
        { targetSpace, signatureRequired: false },
        () => undefined,
      );
      await applyInOneTransaction(tools, connection, store, databaseArtifact(preManifest), preManifest.database.tables, { privileges: 'keep', identities: keys?.identities?.identities }, log);
    });
  } catch (error) {
    const why = error instanceof RolledBackError ? error.detail : errorMessage(error);
    throw new LifeboatError(
      `${what}, and putting the target back to the pre-restore backup ${preId} failed: ${why}. Nothing else was done; the journal stays, so the next restore into '${targetSpace}' tries again. ` +
        `Fix the cause, or ${putBackCommand(journal)}.`,
      { cause: error },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await removeRestoreJournal(store, targetSpace);
  log.info(`The target is back to the pre-restore backup ${preId}, as it was before the interrupted restore; its journal is removed.`);
}
