/**
 * Drill: prove a backup restores, without touching any real space.
 *
 *   1. Drop what killed drills left: every lifeboat_drill_* database this role owns whose drill is gone.
 *   2. Create a scratch database (or take a given empty one) on the server of 'database-url'.
 *   3. Restore the backup into it through restore's own code path (runRestore: verify every stored byte
 *      and the archive's table of contents first, restore in one transaction, check every row count).
 *   4. Run the user's SQL assertions, read-only.
 *   5. Drop the scratch database, however the drill ends (a given database is emptied instead).
 *   Media: a random sample of the backup's media objects (or all) is read from the backup bucket and hashed.
 *
 * A drill is alive while its holder session is: one connection to the server's 'database-url' database,
 * with application_name set to the scratch database's name, opened before the database is created and
 * closed after it is dropped. A killed drill's connection closes with its process, so the next drill
 * sees a scratch database with no holder and drops it. PostgreSQL's advisory locks would be scoped to
 * one database; pg_stat_activity is cluster-wide, so drills connecting through different databases of
 * one server still see each other.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { Trigger } from '../../domain/backup-id.js';
import { isScratchDatabaseName, judgeAssertion, scratchDatabaseName, DRILL_DATABASE_PREFIX, Reservoir, type Assertion } from '../../domain/drill.js';
import type { MediaObjectRecord, MediaRecord } from '../../domain/manifest.js';
import { mediaRecords } from '../media/index-store.js';
import { plural } from '../../domain/report.js';
import { forEachAsync, forEachConcurrently } from '../concurrency.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { connectOrExplain, parseDatabaseUrl, type DatabaseConnection } from '../postgres/connection.js';
import { wipeInOwnTransaction } from '../restore/apply.js';
import { createAgeDecryptor } from '../crypto/age-stream.js';
import type { ReadKeys } from '../crypto/manifest-trust.js';
import { loadPolicy } from '../policy-file.js';
import type { SigningPolicy } from '../../domain/policy.js';
import { runRestore, type RestoreAuthorization, type RestoreResult } from '../restore/restore.js';
import type { BucketSettings } from '../s3/client.js';
import { BackupStore } from '../s3/store.js';
import { Meter } from '../streams.js';

export interface DrillOptions {
  space: string;
  /** A backup id, or 'latest' (the newest good backup of the space, of `trigger` when given). */
  backupId: string;
  trigger?: Trigger;
  /** The server where the scratch database is made; its role needs CREATEDB. Its own database is only connected to. */
  databaseUrl: string;
  /** An existing EMPTY database to restore into instead of a scratch one (it is emptied again at the end). */
  drillDatabase?: string;
  bucket: BucketSettings;
  assertions: Assertion[];
  mediaSample: number | 'all';
  pgRestorePath?: string;
  /** age identities for an encrypted backup, and public keys for signed ones (docs/encryption.md). */
  keys?: ReadKeys;
  /** The policy file, for its signing rules; the default path when not given. */
  policyFile?: string;
  signal?: AbortSignal;
  progressIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface AssertionResult {
  name: string;
  line: number;
  ok: boolean;
  why?: string;
  durationMs: number;
}

export interface DrillResult {
  space: string;
  backupId: string;
  trigger: Trigger;
  backupFinishedAt: string;
  /** The scratch (or given) database, host:port/name. */
  database: string;
  scratch: boolean;
  /** Leftovers of killed drills dropped before this one. */
  droppedLeftovers: string[];
  /** Restore's own result: verification, method, row-count checks. */
  restore: RestoreResult;
  /** The measured RTO: from the start of the restore until the database was restored and its row counts checked. */
  rtoMs: number;
  tablesChecked: number | null;
  assertions: AssertionResult[];
  media?: {
    objects: number;
    /** Objects whose content was read and hashed (content shared by a sampled object is read once). */
    sampled: number;
    bytes: number;
    /** Objects whose content does not match or cannot be read. */
    mismatched: number;
    /** What is wrong, at most MEDIA_PROBLEMS_KEPT of them and a line for the rest. */
    problems: string[];
  };
  /** Whether the scratch database was dropped (or the given one emptied). */
  cleanedUp: boolean;
  ok: boolean;
  problems: string[];
  durationMs: number;
}

/** The authorization a drill restores under: it never targets a space, only its own scratch database. */
/**
 * The drill is its own authorization (it never touches a space). It trusts the policy's signing keys, and
 * where the policy requires signed backups for the drilled space, it requires them of the drill too: a
 * drill proves what a recovery of that space would do.
 */
function drillAuthorization(space: string, scratchName: string, signing: SigningPolicy | undefined): RestoreAuthorization {
  return {
    kind: 'automated',
    rule: { from: space, to: '(scratch database)', purpose: 'restore drill into a scratch database', automated: true },
    ...(signing ? { signing: { publicKeys: signing.publicKeys, requiredFor: signing.requiredFor.includes(space) ? [scratchName] : [] } } : {}),
  };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function runDrill(options: DrillOptions, log: Logger): Promise<DrillResult> {
  const started = Date.now();
  const server = parseDatabaseUrl(options.databaseUrl);
  const store = new BackupStore(options.bucket);
  const policy = loadPolicy(options.policyFile, log, options.env?.GITHUB_WORKSPACE ?? process.env.GITHUB_WORKSPACE ?? process.cwd());
  await store.assertReachable();

  const name = options.drillDatabase ?? scratchDatabaseName(new Date(), randomBytes(4).toString('hex'));
  const scratch = options.drillDatabase === undefined;
  // The holder session: alive exactly as long as this drill. Opened before the database exists.
  const holder = await connectOrExplain(server, 'database-url', scratch ? name : undefined);
  let created = false;
  /** A given database is emptied at the end only once it was shown empty: never one the drill refused. */
  let taken = false;
  let cleanedUp = false;
  const target: DatabaseConnection = withDatabase(server, name);
  let result: DrillResult;
  try {
    const droppedLeftovers = await dropLeftovers(holder, log);
    if (scratch) {
      try {
        await holder.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new LifeboatError(
          code === '42501'
            ? `Cannot create the scratch database ${name} on ${server.description} ('database-url'): its role lacks CREATEDB. Grant it (ALTER ROLE … CREATEDB), or give an empty database in 'drill-database'.`
            : `Cannot create the scratch database ${name} on ${server.description} ('database-url'): ${errorMessage(error)}`,
          { cause: error },
        );
      }
      created = true;
      log.info(`Created the scratch database ${name} on ${server.description}; it is dropped when the drill ends, however it ends.`);
    } else {
      await assertEmpty(target, log);
      taken = true;
    }

    const restoreStarted = Date.now();
    const restore = await runRestore(
      {
        sourceSpace: options.space,
        // Not a space: the scratch database's own name. Restore's journal of parallel restores is keyed by
        // it, and a drill restores in one transaction (jobs 1), so none is ever written.
        targetSpace: scratch ? name : `${DRILL_DATABASE_PREFIX}given`,
        backupId: options.backupId,
        trigger: options.trigger,
        databaseUrl: target.url,
        databaseLabel: target.description,
        bucket: options.bucket,
        jobs: 1,
        parallelThresholdBytes: Number.MAX_SAFE_INTEGER,
        pgRestorePath: options.pgRestorePath,
        skipMedia: true,
        privileges: 'drop',
        signal: options.signal,
        progressIntervalMs: options.progressIntervalMs,
        caller: { kind: 'cli', automated: true },
        ...(options.keys ? { keys: options.keys } : {}),
        env: options.env,
      },
      log,
      drillAuthorization(options.space, scratch ? name : `${DRILL_DATABASE_PREFIX}given`, policy.signing),
    );
    const rtoMs = Date.now() - restoreStarted;
    const manifest = restore.manifest;
    log.info(`Restored ${manifest.id} into ${target.description} in ${(rtoMs / 1000).toFixed(1)} s (the measured RTO)${restore.checks ? `; the row counts of ${restore.checks.length} tables match the backup` : ''}.`);

    const problems: string[] = [];
    if (!restore.checks) problems.push(`Backup ${manifest.id} recorded no row counts, so the restored data could not be checked against it.`);
    const assertions = await runAssertions(target, options.assertions, log, options.signal);
    for (const a of assertions) if (!a.ok) problems.push(`Assertion '${a.name}' (line ${a.line}) failed: ${a.why}.`);

    let media: DrillResult['media'];
    if (manifest.media) {
      media = await log.group(`Verify the content of ${options.mediaSample === 'all' ? 'every' : 'a sample of the'} media object(s)`, () =>
        drillMedia(store, manifest.media!, options.mediaSample, log, options.keys?.identities?.identities),
      );
      problems.push(...media.problems);
    }
    options.signal?.throwIfAborted();
    result = {
      space: options.space,
      backupId: manifest.id,
      trigger: manifest.trigger,
      backupFinishedAt: manifest.finishedAt,
      database: target.description,
      scratch,
      droppedLeftovers,
      restore,
      rtoMs,
      tablesChecked: restore.checks?.length ?? null,
      assertions,
      ...(media ? { media } : {}),
      cleanedUp: false,
      ok: problems.length === 0,
      problems,
      durationMs: Date.now() - started,
    };
  } finally {
    try {
      if (created) {
        // FORCE: a session the drill left (an assertion still running when it was cancelled) must not keep it.
        await holder.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        log.info(`Dropped the scratch database ${name}.`);
        cleanedUp = true;
      } else if (taken) {
        await wipeInOwnTransaction(target);
        log.info(`Emptied the given database ${target.description} again.`);
        cleanedUp = true;
      }
    } catch (error) {
      log.warning(
        `Could not ${created ? `drop the scratch database ${name}` : `empty ${target.description}`}: ${errorMessage(error)}. ` +
          (created ? 'The next drill on this server drops it.' : 'Empty it by hand.'),
      );
    } finally {
      await holder.end().catch(() => undefined);
    }
  }
  result.cleanedUp = cleanedUp;
  return result;
}

/** The same server and credentials, another database. */
function withDatabase(server: DatabaseConnection, database: string): DatabaseConnection {
  const url = new URL(server.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  const parsed = parseDatabaseUrl(url.toString(), server.input ?? 'database-url');
  return parsed;
}

/**
 * Drops the scratch databases of drills that are gone: named as a drill names them, owned by this role,
 * and with no holder session (application_name = its name) anywhere on the server.
 */
async function dropLeftovers(holder: pg.Client, log: Logger): Promise<string[]> {
  const { rows } = await holder.query<{ datname: string; mine: boolean; held: boolean }>(
    `SELECT d.datname,
            pg_get_userbyid(d.datdba) = current_user AS mine,
            EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = d.datname) AS held
       FROM pg_database d
      WHERE d.datname LIKE 'lifeboat\\_drill\\_%'
      ORDER BY d.datname`,
  );
  const dropped: string[] = [];
  for (const row of rows) {
    if (!isScratchDatabaseName(row.datname) || row.held) continue;
    if (!row.mine) {
      log.warning(`The scratch database ${row.datname} was left by a drill of another role; that role's next drill drops it.`);
      continue;
    }
    try {
      await holder.query(`DROP DATABASE IF EXISTS ${quoteIdent(row.datname)} WITH (FORCE)`);
      dropped.push(row.datname);
      log.info(`Dropped ${row.datname}, left by a drill that was killed before it could drop it.`);
    } catch (error) {
      log.warning(`Could not drop ${row.datname}, left by an earlier drill: ${errorMessage(error)}`);
    }
  }
  return dropped;
}

/** A given 'drill-database' must be empty: a drill must never replace a database that holds anything. */
async function assertEmpty(target: DatabaseConnection, log: Logger): Promise<void> {
  const client = await connectOrExplain(target, 'drill-database');
  try {
    const { rows } = await client.query<{ objects: string }>(
      `SELECT count(*) AS objects FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`,
    );
    const objects = Number(rows[0]!.objects);
    if (objects > 0) {
      throw new LifeboatError(
        `Input 'drill-database' names ${target.description}, which is not empty (${plural(objects, 'table, view, sequence or index', 'tables, views, sequences or indexes')}). ` +
          `A drill replaces what is there, so it only takes an empty database. Give an empty one, or leave 'drill-database' out to let the drill create a scratch database.`,
      );
    }
    log.info(`The given database ${target.description} is empty; the drill restores into it and empties it again at the end.`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Each assertion in its own read-only transaction, with a statement timeout; a failure never stops the others. */
async function runAssertions(target: DatabaseConnection, assertions: readonly Assertion[], log: Logger, signal?: AbortSignal): Promise<AssertionResult[]> {
  if (!assertions.length) return [];
  const client = await connectOrExplain(target);
  const results: AssertionResult[] = [];
  try {
    for (const assertion of assertions) {
      signal?.throwIfAborted();
      const started = Date.now();
      let result: AssertionResult;
      try {
        await client.query("BEGIN READ ONLY; SET LOCAL statement_timeout = '5min'");
        const response = await client.query({ text: assertion.sql, rowMode: 'array' });
        const verdict = judgeAssertion(response.rows as unknown[][]);
        result = { name: assertion.name, line: assertion.line, durationMs: Date.now() - started, ...verdict };
      } catch (error) {
        const code = (error as { code?: string }).code;
        result = { name: assertion.name, line: assertion.line, ok: false, why: `it raised an error${code ? ` (SQLSTATE ${code})` : ''}: ${errorMessage(error)}`, durationMs: Date.now() - started };
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
      if (result.ok) log.info(`✓ Assertion '${assertion.name}' holds.`);
      else log.warning(`✗ Assertion '${assertion.name}' (line ${assertion.line}) failed: ${result.why}.`);
      results.push(result);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return results;
}

/** At most this many media problems are kept as text (every one is logged and counted): a damaged bucket must not fill memory. */
const MEDIA_PROBLEMS_KEPT = 50;
/** Content keys recently read by a full check ('all'), so neighbours sharing content are read once, in bounded memory. */
const RECENT_CONTENT = 4096;

/**
 * Reads the media content from the backup bucket and hashes it against the manifest: a random sample, or
 * every object ('all'). The index is streamed either way, so memory holds the sample (or the objects in
 * flight), never the bucket. With 'all', content shared by objects far apart in key order is read again.
 */
async function drillMedia(
  store: BackupStore,
  media: MediaRecord,
  size: number | 'all',
  log: Logger,
  identities?: readonly string[],
): Promise<NonNullable<DrillResult['media']>> {
  const problems: string[] = [];
  let mismatched = 0;
  let bytes = 0;
  let objects = 0;
  let sampled = 0;
  const report = (problem: string) => {
    mismatched++;
    log.warning(problem);
    if (problems.length < MEDIA_PROBLEMS_KEPT) problems.push(problem);
  };
  const check = async (object: MediaObjectRecord) => {
    sampled++;
    const key = store.mediaContentKey(object);
    const meter = new Meter();
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    try {
      // Encrypted content is decrypted (age authenticates it) and its plaintext hashed against the manifest.
      if (object.address !== undefined) await pipeline(await store.getObjectStream(key), createAgeDecryptor(identities ?? []), meter, sink);
      else await pipeline(await store.getObjectStream(key), meter, sink);
    } catch (error) {
      report(`Media object '${object.key}': its content at s3://${store.bucket}/${key} cannot be read: ${errorMessage(error)}`);
      return;
    }
    bytes += meter.bytes;
    const sha256 = meter.sha256();
    if (meter.bytes !== object.size || sha256 !== object.sha256) {
      report(`Media object '${object.key}': its stored content has ${meter.bytes} bytes and SHA-256 ${sha256}, the manifest records ${object.size} bytes and ${object.sha256}.`);
    }
  };

  if (size === 'all') {
    const recent = new Set<string>();
    const fresh = async function* () {
      for await (const object of mediaRecords(media, store, identities)) {
        objects++;
        const key = store.mediaContentKey(object);
        if (recent.has(key)) continue;
        recent.add(key);
        if (recent.size > RECENT_CONTENT) recent.delete(recent.values().next().value!);
        yield object;
      }
    };
    await forEachAsync(fresh(), 8, check);
  } else {
    const reservoir = new Reservoir<MediaObjectRecord>(size);
    for await (const object of mediaRecords(media, store, identities)) reservoir.add(object);
    objects = reservoir.seen;
    await forEachConcurrently([...new Map(reservoir.items.map((o) => [store.mediaContentKey(o), o])).values()], 8, check);
  }
  if (mismatched > problems.length) problems.push(`…and ${mismatched - problems.length} more media objects that do not match (each is in the log).`);
  log.info(`Read and hashed the content of ${sampled} of ${objects} media objects: ${mismatched ? `${mismatched} do not match` : 'all match the manifest'}.`);
  return { objects, sampled, bytes, mismatched, problems };
}
