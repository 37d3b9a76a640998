/**
 * Applying a verified archive to the target, two ways:
 *
 * - transactional: one psql session with --single-transaction whose input is the wipe, then the SQL that
 *   `pg_restore --file=-` writes (streamed, never held in memory), then the row-count check. Any error,
 *   including a wrong count, rolls everything back: the target is either fully restored or untouched.
 * - parallel: the wipe in its own transaction, then `pg_restore --jobs=N` straight into the target, then
 *   the row-count check. Not atomic; restore.ts guards it with a pre-restore backup.
 *
 * Either way, ownership and privileges from the source are dropped (--no-owner --no-privileges): every
 * object is created by, and so owned by, the role the target's database-url connects as.
 */
import { spawn } from 'node:child_process';
import type { TableCount } from '../../domain/manifest.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { connectOrExplain, databaseOnlyArgument, libpqEnv, type DatabaseConnection, type PgTool } from '../postgres/connection.js';
import { describeExit, runTool, type VerifiedArchive } from './artifacts.js';
import { parseVerification, verificationSql, wipeSql, type TableCheck } from './sql.js';
import { redact } from '../secrets.js';

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

/**
 * Wipes and restores in one transaction. Returns the per-table comparison (null when the backup recorded
 * no row counts); throws LifeboatError, with the target rolled back, on any failure.
 */
export async function applyInOneTransaction(
  tools: RestoreTools,
  connection: DatabaseConnection,
  archive: VerifiedArchive,
  expected: readonly TableCount[] | null,
  log: Logger,
): Promise<TableCheck[] | null> {
  const env = toolEnv(connection, 'lifeboat-restore');
  const psql = spawn(
    tools.psql.path,
    ['--no-psqlrc', '--single-transaction', '--set=ON_ERROR_STOP=1', '--quiet', '--no-align', '--tuples-only', '--no-password'],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const generator = spawn(tools.pgRestore.path, ['--no-owner', '--no-privileges', '--file=-', archive.file], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let psqlStderr = '';
  let generatorStderr = '';
  const markerLines: string[] = [];
  let pending = '';
  psql.stderr.on('data', (d: Buffer) => (psqlStderr = (psqlStderr + d.toString()).slice(-STDERR_LIMIT)));
  generator.stderr.on('data', (d: Buffer) => (generatorStderr = (generatorStderr + d.toString()).slice(-STDERR_LIMIT)));
  // psql prints the results of the script's own SELECTs (setval and the like); keep only our marked line.
  psql.stdout.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('LIFEBOAT-VERIFY ')) markerLines.push(line);
    if (pending.length > STDERR_LIMIT && !pending.startsWith('LIFEBOAT')) pending = '';
  });
  // psql stops reading when it stops on an error; its exit is reported below, so a broken pipe here is not news.
  psql.stdin.on('error', () => undefined);

  const psqlExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    psql.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    psql.on('close', (code, signal) => resolve({ code, signal }));
  });
  const generatorExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    generator.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    generator.on('close', (code, signal) => resolve({ code, signal }));
  });
  // If psql stops first (an error in the script), pg_restore would block on a full pipe: stop it.
  void psqlExit.then(() => {
    if (generator.exitCode === null && generator.signalCode === null) generator.kill('SIGKILL');
  });

  psql.stdin.write(wipeSql({ recreatePublic: !archive.createsPublicSchema }));
  generator.stdout.pipe(psql.stdin, { end: false });

  const generated = await generatorExit;
  const generatorResult = { ...generated, stderr: generatorStderr };
  const generatorFailed = pgRestoreFailed(generatorResult);
  let killedByUs = false;
  if (generatorFailed) {
    // Never let psql reach the end of its input: that would COMMIT whatever part of the script it got.
    // Killed mid-transaction, its session ends and the server rolls the transaction back.
    if (psql.exitCode === null && psql.signalCode === null) {
      killedByUs = true;
      psql.kill('SIGKILL');
    }
  } else {
    if (expected) psql.stdin.write(verificationSql(expected));
    psql.stdin.end();
  }
  const finished = await psqlExit;
  if (pending.startsWith('LIFEBOAT-VERIFY ')) markerLines.push(pending);

  const psqlFailed = finished.code !== 0 || Boolean(finished.signal) || Boolean(finished.spawnError);
  if (psqlFailed && !killedByUs) {
    // psql stopped on an error of its own; pg_restore then only saw a broken pipe, so psql's words are the cause.
    throw new RolledBackError(describeExit('psql', { ...finished, stderr: psqlStderr }));
  }
  if (generatorFailed) {
    const ignored = ERRORS_IGNORED.exec(generatorStderr);
    const note = ignored && generated.code === 0 ? ` It reported ${ignored[1]} error(s) it ignored, which Lifeboat treats as a failure.` : '';
    if (!psqlFailed) {
      // Cannot happen while psql's input stays open, but if it ever does, say so rather than claim a rollback.
      throw new LifeboatError(`pg_restore failed, but psql had already finished; the target may be partly restored.${note} ${describeExit('pg_restore', generatorResult)}`);
    }
    throw new RolledBackError(`${note.trim()} ${describeExit('pg_restore', generatorResult)}`.trim());
  }
  if (!expected) return null;
  const checks = parseVerification(markerLines.join('\n'));
  if (!checks) throw new LifeboatError('The restore committed, but psql did not print the row-count check; the result is unverified.');
  log.info(`Restored in one transaction; row counts of ${checks.length} tables match the backup.`);
  return checks;
}

/** The wipe alone, committed: the first step of the parallel path, and of its rollback. */
export async function wipeInOwnTransaction(connection: DatabaseConnection, recreatePublic: boolean): Promise<void> {
  const client = await connectOrExplain(connection);
  try {
    await client.query('BEGIN');
    await client.query(wipeSql({ recreatePublic }));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new LifeboatError(`Wiping the target ${connection.description} failed (nothing was dropped): ${errorMessage(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `pg_restore --jobs=N --exit-on-error` into the wiped target. Throws on any error pg_restore reports. */
export async function restoreInParallel(tools: RestoreTools, connection: DatabaseConnection, archive: VerifiedArchive, jobs: number): Promise<void> {
  const result = await runTool(
    tools.pgRestore.path,
    ['--no-owner', '--no-privileges', '--exit-on-error', `--jobs=${jobs}`, '--no-password', databaseOnlyArgument(connection), archive.file],
    toolEnv(connection, 'lifeboat-restore'),
  );
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
    const results = (await client.query(verificationSql(expected))) as unknown as { rows: Record<string, unknown>[] }[];
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
