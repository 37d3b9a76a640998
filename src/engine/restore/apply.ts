/**
 * Applying a verified backup to the target, two ways:
 *
 * - transactional (the default): the archive streams from the bucket through its hash, the
 *   decompressor and `pg_restore --single-transaction --file=-` into ONE psql session, after the wipe
 *   and before the row-count check. Lifeboat opens the transaction itself and sends the only COMMIT
 *   that can succeed, last, after every check passed. Nothing is written to local disk.
 * - parallel: the wipe in its own transaction, then `pg_restore --jobs=N` straight into the target from
 *   a local copy, then the row-count check. Not atomic; restore.ts guards it with a pre-restore backup.
 *
 * Why the one transaction cannot end half-done:
 * - explicit BEGIN, never psql's --single-transaction: psql that loses its input (the runner killed
 *   Lifeboat, the pipe broke) disconnects with the transaction open, and the server rolls it back.
 *   --single-transaction would COMMIT at end of input, whatever part of the script arrived;
 * - a commit guard: a deferred constraint trigger on a temporary table refuses every COMMIT unless
 *   `lifeboat.commit_allowed` was set in the same transaction, which only Lifeboat's final statement
 *   does. A COMMIT anywhere in the script (pg_restore wraps large objects in one of its own without
 *   --single-transaction; a future version might add others) fails and rolls everything back;
 * - pg_restore's own BEGIN/COMMIT are removed by the script filter (script-filter.ts), which also
 *   checks they were there, so an unexpected script shape is a refusal, not a surprise;
 * - the archive's SHA-256 and sizes are compared with the manifest as the bytes are applied; the COMMIT
 *   is sent only if they match (the object could have changed since the verification pass);
 * - on failure or cancellation psql is killed and its server session terminated, so the rollback has
 *   happened, and the locks are gone, before Lifeboat says so.
 *
 * Either way ownership from the source is dropped (--no-owner): every object is created by, and so owned
 * by, the role the target's database-url connects as. Grants follow `privileges`: `drop` (--no-privileges)
 * or `keep` (grants to roles the target has; the others are skipped and reported).
 */
import { spawn } from 'node:child_process';
import type pg from 'pg';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRecord, TableCount } from '../../domain/manifest.js';
import { describeEntry, entryAtLine, isPrivilegeError, parsePsqlError, type TargetRoles } from '../../domain/restore-script.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { connectOrExplain, databaseOnlyArgument, libpqEnv, type DatabaseConnection, type PgTool } from '../postgres/connection.js';
import type { BackupStore } from '../s3/store.js';
import { reportProgress } from '../progress.js';
import { redact } from '../secrets.js';
import { formatBytes, formatRate, type ByteCounter, Meter } from '../streams.js';
import { decryptorFor } from '../crypto/manifest-trust.js';
import { decompressionInput, describeDecompression, generatorStdin, handOver, startDecompression, stopDecompression } from './decompression.js';
import { describeExit, runTool } from './artifacts.js';
import { RestoreScriptFilter, type SkippedGrant } from './script-filter.js';
import { parseVerification, VERIFY_MARKER, verificationSql, wipeSql, type TableCheck } from './sql.js';

const STDERR_LIMIT = 64 * 1024;

/** pg_restore's summary line when it carried on past errors; it must never pass as success. */
const ERRORS_IGNORED = /errors ignored on restore:\s*(\d+)/i;

/** Whether a pg_restore run failed: a non-zero exit, a signal, or errors it reported but ignored. */
export function pgRestoreFailed(result: { code: number | null; signal?: NodeJS.Signals | null; stderr: string; spawnError?: Error }): boolean {
  return result.code !== 0 || Boolean(result.signal) || Boolean(result.spawnError) || ERRORS_IGNORED.test(result.stderr);
}

/** A failed one-transaction restore: rolled back, so the target is as it was before this attempt. */
export class RolledBackError extends LifeboatError {
  /** What went wrong, without the sentence about the rollback. */
  readonly detail: string;
  constructor(detail: string) {
    super(`The restore failed and was rolled back; the target is as it was. ${detail}`);
    this.detail = redact(detail);
  }
}

export interface RestoreTools {
  pgRestore: PgTool;
  psql: PgTool;
}

/** Environment for libpq tools: the password travels in PGPASSWORD, never on the command line. */
function toolEnv(connection: DatabaseConnection, appName: string): NodeJS.ProcessEnv {
  return libpqEnv(connection, appName);
}

/** How grants from the source are treated: dropped (every object owned by the target's role, no grants) or kept. */
export type PrivilegesMode = 'drop' | 'keep';

export interface ApplyOptions {
  privileges: PrivilegesMode;
  /** Aborting it (SIGINT, SIGTERM) rolls the restore back. */
  signal?: AbortSignal;
  progressIntervalMs?: number;
  /** age identities, for an encrypted archive. */
  identities?: readonly string[];
}

export interface AppliedRestore {
  /** Per-table comparison with the backup's row counts; null when the backup recorded none. */
  checks: TableCheck[] | null;
  /** With privileges: keep, grants skipped because the target lacks the role (the first 200). */
  skippedGrants: SkippedGrant[];
  skippedGrantCount: number;
}

const PID_MARKER = 'LIFEBOAT-PID ';
const COMMITTED_MARKER = 'LIFEBOAT-COMMITTED';

/**
 * Opens the transaction and arms the commit guard. psql meta-commands go first: pg_restore's script
 * starts with \restrict, after which psql accepts none.
 */
export function transactionPreamble(): string {
  return `\\set VERBOSITY verbose
SET client_min_messages = warning;
BEGIN;
SELECT '${PID_MARKER}' || pg_catalog.pg_backend_pid();
CREATE FUNCTION pg_temp.lifeboat_commit_guard() RETURNS trigger LANGUAGE plpgsql AS $lifeboat_guard$
BEGIN
  IF pg_catalog.current_setting('lifeboat.commit_allowed', true) IS DISTINCT FROM 'yes' THEN
    RAISE EXCEPTION 'lifeboat: a COMMIT before Lifeboat''s checks was refused, so the whole restore is rolled back'
      USING HINT = 'Something in the restore script tried to commit early; report it with the pg_restore version.';
  END IF;
  RETURN NULL;
END
$lifeboat_guard$;
CREATE TEMPORARY TABLE lifeboat_commit_guard (armed boolean);
CREATE CONSTRAINT TRIGGER lifeboat_commit_guard AFTER INSERT ON pg_temp.lifeboat_commit_guard
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.lifeboat_commit_guard();
INSERT INTO pg_temp.lifeboat_commit_guard VALUES (true);
`;
}

/**
 * psql for the restore session. Never --single-transaction: that would COMMIT at the end of input,
 * however the input ended. --file=- (not plain stdin) makes psql prefix each error with
 * "psql:<stdin>:LINE:", which names the archive entry.
 */
export function restoreSessionArgs(connection: DatabaseConnection): string[] {
  return ['--no-psqlrc', '--set=ON_ERROR_STOP=1', '--quiet', '--no-align', '--tuples-only', '--no-password', '--file=-', databaseOnlyArgument(connection)];
}

/** The only COMMIT that passes the guard. */
export const FINAL_COMMIT = `SET LOCAL lifeboat.commit_allowed = 'yes';
COMMIT;
SELECT '${COMMITTED_MARKER}';
`;

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Roles of the target, for privileges: keep. */
async function readTargetRoles(connection: DatabaseConnection): Promise<TargetRoles> {
  const client = await connectOrExplain(connection);
  try {
    const { rows } = await client.query<{ rolname: string; member: boolean }>(
      "SELECT rolname, pg_catalog.pg_has_role(current_user, oid, 'MEMBER') AS member FROM pg_catalog.pg_roles",
    );
    const roles = new Map(rows.map((r) => [r.rolname, r.member]));
    return { exists: (name) => roles.has(name), usable: (name) => roles.get(name) === true };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Ends a restore session from outside and waits until the server has rolled it back, so "the target is
 * as it was" is true when it is said, and no lock of the dead session blocks the next run.
 */
async function terminateSession(connection: DatabaseConnection, pid: number): Promise<void> {
  const client = await connectOrExplain(connection).catch(() => undefined);
  if (!client) return;
  try {
    await client.query("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE pid = $1 AND application_name = 'lifeboat-restore'", [pid]);
    for (let i = 0; i < 200; i++) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = $1', [pid]);
      if (!rowCount) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    // The session ends with its connection anyway; this only makes it prompt.
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A pipeline destination that writes into a child's stdin for as long as the child reads it, then
 * drains the rest. pg_restore stops reading once it has the archive's last entry, which may be a few
 * bytes before the end of the stream; the rest must still pass through the meters, so the whole object
 * is hashed, and a closed pipe is then not an error. (Whether the child succeeded is its exit status's
 * business, checked separately.)
 */
function feedUntilClosed(stdin: Writable, options: { end?: boolean } = {}) {
  return async (source: AsyncIterable<Buffer>): Promise<void> => {
    let closed = false;
    const markClosed = (): void => {
      closed = true;
    };
    stdin.once('close', markClosed);
    stdin.once('error', markClosed);
    for await (const chunk of source) {
      if (closed || stdin.destroyed) continue;
      if (!stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stdin.off('drain', done);
            stdin.off('close', done);
            resolve();
          };
          stdin.on('drain', done);
          stdin.on('close', done);
        });
      }
    }
    if (options.end !== false && !closed) stdin.end();
  };
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error };

function exitOf(child: ReturnType<typeof spawn>): Promise<Exit> {
  return new Promise((resolve) => {
    child.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Wipes the target and restores one artifact of a backup into it, streamed from the bucket, in one
 * transaction that commits only when pg_restore succeeded, the bytes applied are exactly the ones the
 * manifest describes, and (when the backup recorded them) every table's row count matches. Throws
 * RolledBackError, with the target as it was, on any failure or on cancellation.
 */
export async function applyInOneTransaction(
  tools: RestoreTools,
  connection: DatabaseConnection,
  store: BackupStore,
  artifact: ArtifactRecord,
  expected: readonly TableCount[] | null,
  options: ApplyOptions,
  log: Logger,
): Promise<AppliedRestore> {
  if (options.signal?.aborted) throw new RolledBackError('The restore was cancelled before it started.');
  const roles = options.privileges === 'keep' ? await readTargetRoles(connection) : undefined;
  // Made before anything starts: an encrypted archive without an identity fails with nothing begun.
  const decryptor = decryptorFor(artifact, options.identities);
  // Open the archive before the target session: a missing object then fails with nothing begun.
  const body = await store.getObjectStream(artifact.key);

  const env = toolEnv(connection, 'lifeboat-restore');
  const psql = spawn(tools.psql.path, restoreSessionArgs(connection), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const decompression = startDecompression(artifact.compression, env);
  const generator = spawn(
    tools.pgRestore.path,
    ['--no-owner', ...(options.privileges === 'drop' ? ['--no-privileges'] : []), '--single-transaction', '--file=-'],
    { env, stdio: [generatorStdin(decompression), 'pipe', 'pipe'] },
  );
  handOver(decompression);
  log.info(`The archive is ${describeDecompression(decompression, artifact.compression)}.`);
  const psqlExit = exitOf(psql);
  const generatorExit = exitOf(generator);

  const preamble = transactionPreamble() + wipeSql();
  const filter = new RestoreScriptFilter({ firstLine: lineCount(preamble) + 1, privileges: options.privileges, roles });

  let psqlStderr = '';
  let generatorStderr = '';
  let pid: number | undefined;
  let committed = false;
  let verifyLine: string | undefined;
  let onVerified: (() => void) | undefined;
  let pending = '';
  psql.stderr.on('data', (d: Buffer) => (psqlStderr = (psqlStderr + d.toString()).slice(-STDERR_LIMIT)));
  generator.stderr!.on('data', (d: Buffer) => (generatorStderr = (generatorStderr + d.toString()).slice(-STDERR_LIMIT)));
  // psql prints the results of the script's own SELECTs (setval and the like); keep only our marked lines.
  psql.stdout.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    if (pending.length > STDERR_LIMIT && !pending.startsWith('LIFEBOAT')) pending = '';
    for (const line of lines) {
      if (line.startsWith(PID_MARKER)) pid = Number(line.slice(PID_MARKER.length));
      else if (line.startsWith(VERIFY_MARKER)) {
        verifyLine = line;
        onVerified?.();
      } else if (line === COMMITTED_MARKER) committed = true;
    }
  });
  // psql stops reading when it stops on an error; its exit is reported below, so a broken pipe is not news.
  psql.stdin.on('error', () => undefined);
  generator.stdin?.on('error', () => undefined);

  let stopped: string | undefined;
  let killedPsql = false;
  let commitSent = false;
  const stop = (why: string): void => {
    if (stopped || commitSent) return;
    stopped = why;
    body.destroy();
    stopDecompression(decompression);
    generator.kill('SIGKILL');
    killedPsql = psql.exitCode === null && psql.signalCode === null;
    psql.kill('SIGKILL');
  };
  const onAbort = (): void => stop('It was cancelled before it could commit.');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // If psql stops first (an error in the script), pg_restore and the download would block: stop them.
  void psqlExit.then(() => {
    body.destroy();
    stopDecompression(decompression);
    if (generator.exitCode === null && generator.signalCode === null) generator.kill('SIGKILL');
  });

  const stored = new Meter();
  const started = Date.now();
  const progress = setInterval(() => {
    const elapsed = Date.now() - started;
    log.info(`Applied ${formatBytes(stored.bytes)} of ${formatBytes(artifact.size)} (${((100 * stored.bytes) / Math.max(1, artifact.size)).toFixed(0)}%), ${formatRate(stored.bytes, elapsed)}.`);
  }, options.progressIntervalMs ?? 10_000);
  progress.unref();

  try {
    psql.stdin.write(preamble);
    const into = feedUntilClosed(decompressionInput(decompression, generator.stdin));
    const input = (
      decompression.kind === 'command'
        ? decryptor
          ? pipeline(body, stored, decryptor, into)
          : pipeline(body, stored, into)
        : decryptor
          ? pipeline(body, stored, decryptor, decompression.decompressor, decompression.raw, into)
          : pipeline(body, stored, decompression.decompressor, decompression.raw, into)
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    const script = pipeline(generator.stdout as Readable, filter, feedUntilClosed(psql.stdin, { end: false })).then(
      () => undefined,
      (error: unknown) => error,
    );
    const scriptDone = Promise.all([input, generatorExit, script]);
    const first = await Promise.race([scriptDone.then(() => 'script' as const), psqlExit.then(() => 'psql' as const)]);

    const problems: string[] = [];
    if (first === 'script' && !stopped) {
      const [inputError, generated, scriptError] = await scriptDone;
      const generatorResult = { ...generated, stderr: generatorStderr };
      if (pgRestoreFailed(generatorResult)) {
        const ignored = ERRORS_IGNORED.exec(generatorStderr);
        const note = ignored && generated.code === 0 ? ` It reported ${ignored[1]} error(s) it ignored, which Lifeboat treats as a failure.` : '';
        problems.push(`${note.trim()} ${describeExit('pg_restore', generatorResult)}`.trim());
        if (decompression.kind === 'command') {
          const unpacked = await decompression.exit;
          if (unpacked.code !== 0) problems.push(describeExit('zstd --decompress', { ...unpacked, stderr: decompression.stderr() }));
        }
      }
      if (inputError) problems.push(`Reading the archive s3://${store.bucket}/${artifact.key} failed: ${errorMessage(inputError)}.`);
      if (scriptError) problems.push(`Passing pg_restore's script to psql failed: ${errorMessage(scriptError)}.`);
      if (!inputError) problems.push(...archiveMismatches(artifact, stored, decompression.kind === 'in-process' ? decompression.raw : undefined));
      if (problems.length === 0 && (!filter.sawOpeningBegin || !filter.sawClosingCommit)) {
        problems.push(
          `pg_restore ${tools.pgRestore.version}'s script did not open with BEGIN and close with COMMIT as --single-transaction makes it do; ` +
            `Lifeboat will not commit a script whose transaction control it does not understand.`,
        );
      }
      if (problems.length === 0 && expected) {
        // The row-count check first, and the COMMIT only once its result is in: a cancellation during
        // the check still rolls back, and the COMMIT itself is then a matter of milliseconds.
        const verified = new Promise<void>((resolve) => (onVerified = resolve));
        psql.stdin.write(verificationSql(expected, 'inserted-in-this-transaction'));
        await Promise.race([verified, psqlExit]);
      }
      if (problems.length === 0 && !stopped && psql.exitCode === null && psql.signalCode === null) {
        commitSent = true;
        psql.stdin.end(FINAL_COMMIT);
      }
    }
    if (!commitSent) stop(stopped ?? (problems.join('\n') || 'psql stopped before the script was complete'));
    const finished = await psqlExit;
    if (pending === COMMITTED_MARKER) committed = true;
    if (!commitSent || !committed) {
      if (pid !== undefined) await terminateSession(connection, pid);
      if (problems.length) throw new RolledBackError(problems.join('\n'));
      if (options.signal?.aborted) throw new RolledBackError(stopped ?? 'It was cancelled before it could commit.');
      const psqlFailed = finished.code !== 0 || Boolean(finished.signal) || Boolean(finished.spawnError);
      if (!killedPsql && psqlFailed) throw new RolledBackError(explainPsqlFailure(psqlStderr, finished, filter, preamble));
      if (!commitSent) throw new RolledBackError(`psql ended before the restore script was complete. ${describeExit('psql', { ...finished, stderr: psqlStderr })}`);
      throw new LifeboatError(`psql exited without confirming the COMMIT; the restore's outcome is unknown. ${describeExit('psql', { ...finished, stderr: psqlStderr })}`);
    }
    const checks = expected ? (parseVerification(verifyLine ?? '') ?? null) : null;
    if (expected && !checks) throw new LifeboatError('The restore committed, but psql did not print the row-count check; the result is unverified.');
    log.info(
      `Restored ${formatBytes(artifact.uncompressedSize)} in one transaction (${formatRate(stored.bytes, Date.now() - started)} of stored archive)` +
        (checks ? `; row counts of ${checks.length} tables match the backup.` : '.'),
    );
    if (filter.skippedGrantCount > 0) {
      log.warning(`${filter.skippedGrantCount} grant(s) were skipped because the target lacks their roles (privileges: keep); the summary lists them.`);
    }
    return { checks, skippedGrants: filter.skippedGrants, skippedGrantCount: filter.skippedGrantCount };
  } finally {
    clearInterval(progress);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** What the bytes applied say against the manifest: the stored size and SHA-256, and the size after decompression. */
/** `raw`: the decompressed bytes, when they passed through Lifeboat (see decompression.ts). */
function archiveMismatches(artifact: ArtifactRecord, stored: Meter, raw?: ByteCounter): string[] {
  const problems: string[] = [];
  const sha256 = stored.sha256();
  if (sha256 !== artifact.sha256) {
    problems.push(`The archive's SHA-256 while it was applied was ${sha256}, but the manifest records ${artifact.sha256}: the stored object changed or was corrupted in transit.`);
  }
  if (stored.bytes !== artifact.size) problems.push(`${stored.bytes} bytes of the archive were read where the manifest records ${artifact.size}.`);
  if (raw && raw.bytes !== artifact.uncompressedSize) problems.push(`${raw.bytes} bytes after decompression where the manifest records ${artifact.uncompressedSize}.`);
  return problems;
}

/** psql's first error, with the archive entry it belongs to and, for a missing privilege, the fix. */
function explainPsqlFailure(stderr: string, exit: Exit, filter: RestoreScriptFilter, preamble: string): string {
  const error = parsePsqlError(stderr);
  if (!error) return describeExit('psql', { ...exit, stderr });
  const where =
    error.line <= lineCount(preamble)
      ? "in Lifeboat's wipe of the target, before anything was restored"
      : error.line >= filter.linesEmittedUpTo
        ? "in Lifeboat's row-count check or final commit"
        : (() => {
            const entry = entryAtLine(filter.entries, error.line);
            return entry ? `while restoring ${describeEntry(entry)} (line ${error.line} of the restore script)` : `at line ${error.line} of the restore script`;
          })();
  const code = error.sqlstate ? ` [SQLSTATE ${error.sqlstate}]` : '';
  const fix = isPrivilegeError(error)
    ? ' The role in database-url lacks a privilege this needs: connect as the database owner or a role that owns these objects (or a superuser), or grant it the privilege named above.'
    : '';
  return redact(`PostgreSQL refused a statement ${where}: ${error.message}${code}.${fix}\npsql said:\n${stderr.trim().split('\n').slice(0, 12).join('\n')}`);
}

/** The wipe alone, committed: the first step of the parallel path, and of its rollback. */
export async function wipeInOwnTransaction(connection: DatabaseConnection): Promise<void> {
  const client = await connectOrExplain(connection);
  try {
    await client.query('BEGIN');
    await client.query(wipeSql());
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new LifeboatError(`Wiping the target ${connection.description} failed (nothing was dropped): ${errorMessage(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `pg_restore --jobs=N --exit-on-error` into the wiped target. Throws on any error pg_restore reports. */
/** Aborting `signal` stops pg_restore; the caller then puts the target back. */
export async function restoreInParallel(
  tools: RestoreTools,
  connection: DatabaseConnection,
  archiveFile: string,
  jobs: number,
  privileges: PrivilegesMode,
  signal?: AbortSignal,
  progress?: { log: Logger; intervalMs?: number },
): Promise<void> {
  // pg_restore --jobs says nothing while it works: the target's size, read on a session of its own, shows it is moving.
  let sizeClient: Promise<pg.Client> | undefined;
  const reporter = progress
    ? reportProgress(progress.log, progress.intervalMs, async (elapsed) => {
        sizeClient ??= connectOrExplain(connection);
        const { rows } = await (await sizeClient).query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
        return `… pg_restore --jobs=${jobs}: the target database holds ${formatBytes(Number(rows[0]!.size))} after ${elapsed}`;
      })
    : undefined;
  let result;
  try {
    result = await runTool(
      tools.pgRestore.path,
      ['--no-owner', ...(privileges === 'drop' ? ['--no-privileges'] : []), '--exit-on-error', `--jobs=${jobs}`, '--no-password', databaseOnlyArgument(connection), archiveFile],
      toolEnv(connection, 'lifeboat-restore'),
      signal,
    );
  } finally {
    reporter?.stop();
    await sizeClient?.then((client) => client.end()).catch(() => undefined);
  }
  if (signal?.aborted) throw new LifeboatError('pg_restore --jobs was stopped: the restore was cancelled.');
  if (pgRestoreFailed(result)) {
    const ignored = ERRORS_IGNORED.exec(result.stderr);
    const note = ignored && result.code === 0 ? ` It reported ${ignored[1]} error(s) it ignored, which Lifeboat treats as a failure.` : '';
    throw new LifeboatError(`pg_restore --jobs=${jobs} failed.${note} ${describeExit('pg_restore', result)}`);
  }
}

/** The row-count check on its own (parallel path): throws when the target does not match the backup. */
export async function verifyTarget(connection: DatabaseConnection, expected: readonly TableCount[]): Promise<TableCheck[]> {
  const client = await connectOrExplain(connection);
  try {
    const results = (await client.query(verificationSql(expected, 'scan'))) as unknown as { rows: Record<string, unknown>[] }[];
    const marked = results
      .flatMap((r) => r.rows ?? [])
      .flatMap((row) => Object.values(row))
      .filter((v): v is string => typeof v === 'string' && v.startsWith('LIFEBOAT-VERIFY '));
    const checks = parseVerification(marked.join('\n'));
    if (!checks) throw new Error('the check returned no result');
    return checks;
  } catch (error) {
    throw new LifeboatError(redact(errorMessage(error)), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
