/**
 * Holds a repeatable-read transaction open while pg_dump runs, exports its snapshot for pg_dump
 * to use, and counts the rows of every table in that same snapshot. The counts therefore describe
 * exactly what the dump holds, which is what restore checks the target against afterwards.
 */
import type pg from 'pg';
import type { TableCount } from '../../domain/manifest.js';
import { LifeboatError, errorMessage } from '../errors.js';

export interface SnapshotHolder {
  snapshotId: string;
  countRows(): Promise<TableCount[]>;
  release(): Promise<void>;
}

const quoteIdent = (name: string) => '"' + name.replace(/"/g, '""') + '"';

/** Ordinary tables that pg_dump dumps the data of: not system tables, not members of extensions. */
const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS table
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

export async function listTables(client: pg.Client): Promise<{ schema: string; table: string }[]> {
  return (await client.query<{ schema: string; table: string }>(TABLES_SQL)).rows;
}

export async function countRows(client: pg.Client): Promise<TableCount[]> {
  const counts: TableCount[] = [];
  for (const { schema, table } of await listTables(client)) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`);
    counts.push({ schema, table, rows: Number(rows[0]!.n) });
  }
  return counts;
}

/**
 * The snapshot session must outlive the dump, so it gets what pg_dump gives its own session: no
 * statement, lock, idle or transaction timeout. Managed PostgreSQL often sets them per role or
 * database (idle_in_transaction_session_timeout especially), and the snapshot session sits idle in its
 * transaction for as long as pg_dump runs. Settings this server does not have are skipped.
 */
export async function disableSessionTimeouts(client: pg.Client): Promise<void> {
  await client.query(
    `SELECT set_config(name, '0', false) FROM pg_settings
     WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'idle_session_timeout', 'transaction_timeout')`,
  );
}

export interface SessionWatch {
  /** Rejects, with an explanation, when the session fails: terminated, the server shut down, the network lost. */
  failed: Promise<never>;
}

/**
 * Listens for the failure of a long-held session. Without a listener, node-postgres emits an 'error'
 * event nobody handles and the process dies ("Unhandled 'error' event") with the upload left open.
 */
export function watchSession(client: pg.Client, what: string): SessionWatch {
  let reject!: (error: Error) => void;
  const failed = new Promise<never>((_, r) => (reject = r));
  failed.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
  client.on('error', (error: Error) => {
    const code = (error as { code?: string }).code;
    const why =
      code === '57P01'
        ? 'the session was terminated (pg_terminate_backend, or the server is shutting down)'
        : code === '25P03'
          ? 'the server ended it for idling in its transaction (idle_in_transaction_session_timeout)'
          : code === '57P02' || code === '57P03'
            ? 'the server shut down or is restarting'
            : 'the connection failed';
    reject(
      new LifeboatError(
        `The database session holding ${what} ended: ${why} (${errorMessage(error)}). Nothing was recorded; run the backup again once the server is available.`,
        { cause: error },
      ),
    );
  });
  return { failed };
}

/** Relations pg_dump must read (the data of ordinary tables and sequences, in schemas it can use) that the role cannot. */
const UNREADABLE_SQL = `
  SELECT n.nspname AS schema, c.relname AS name, CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
         has_schema_privilege(n.oid, 'USAGE') AS schema_usage
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'S')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    AND (NOT has_schema_privilege(n.oid, 'USAGE')
         OR (c.relkind = 'r' AND NOT has_table_privilege(c.oid, 'SELECT'))
         OR (c.relkind = 'S' AND NOT has_sequence_privilege(c.oid, 'SELECT')))
  ORDER BY 1, 2`;

/**
 * Refuses, before anything is written, a role that cannot read everything pg_dump dumps. Otherwise
 * the first sign is a misleading "could not import the requested snapshot" (the row count fails first,
 * which aborts the snapshot's transaction) or pg_dump failing after part of the dump was uploaded.
 */
export async function assertCanReadEverything(client: pg.Client, inputName = 'database-url'): Promise<void> {
  const { rows } = await client.query<{ schema: string; name: string; kind: string; schema_usage: boolean }>(UNREADABLE_SQL);
  if (rows.length === 0) return;
  const { rows: who } = await client.query<{ role: string }>('SELECT current_user AS role');
  const role = who[0]!.role;
  const missing = rows
    .slice(0, 10)
    .map((r) => (r.schema_usage ? `SELECT on ${r.kind} ${quoteIdent(r.schema)}.${quoteIdent(r.name)}` : `USAGE on schema ${quoteIdent(r.schema)} (for ${r.kind} ${quoteIdent(r.name)})`));
  if (rows.length > 10) missing.push(`… and ${rows.length - 10} more`);
  const schemas = [...new Set(rows.map((r) => quoteIdent(r.schema)))].join(', ');
  throw new LifeboatError(
    `The database role ${quoteIdent(role)} given in '${inputName}' cannot read everything the backup must dump; it lacks ${missing.join('; ')}. ` +
      `Grant it, e.g. GRANT USAGE ON SCHEMA ${schemas} TO ${quoteIdent(role)}; GRANT SELECT ON ALL TABLES IN SCHEMA ${schemas} TO ${quoteIdent(role)}; ` +
      `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${schemas} TO ${quoteIdent(role)}; or on PostgreSQL 14 and later GRANT pg_read_all_data TO ${quoteIdent(role)}; ` +
      `or use the database owner's role in '${inputName}'. Nothing was written.`,
  );
}

export async function holdSnapshot(client: pg.Client): Promise<SnapshotHolder> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
  let open = true;
  return {
    snapshotId: rows[0]!.id,
    countRows: () => countRows(client),
    async release() {
      if (!open) return;
      open = false;
      await client.query('ROLLBACK').catch(() => undefined);
    },
  };
}
