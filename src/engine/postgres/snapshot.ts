/**
 * Holds a repeatable-read transaction open while pg_dump runs, exports its snapshot for pg_dump
 * to use, and counts the rows of every table in that same snapshot. The counts therefore describe
 * exactly what the dump holds, which is what restore checks the target against afterwards.
 */
import type pg from 'pg';
import type { TableCount } from '../../domain/manifest.js';

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
