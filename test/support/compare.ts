/** Ways to compare two databases: per-table row digests and a schema-only dump. */
import { execFileSync } from 'node:child_process';
import { withClient } from './harness.js';

export async function tableDigests(url: string): Promise<Record<string, { rows: number; digest: string }>> {
  return withClient(url, async (client) => {
    const { rows: tables } = await client.query<{ schema: string; table: string }>(
      `SELECT table_schema AS schema, table_name AS table FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const out: Record<string, { rows: number; digest: string }> = {};
    for (const { schema, table } of tables) {
      const { rows } = await client.query<{ n: string; digest: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM "${schema}"."${table}" t`,
      );
      out[`${schema}.${table}`] = { rows: Number(rows[0]!.n), digest: rows[0]!.digest ?? '' };
    }
    return out;
  });
}

export function schemaDump(url: string, pgDump = 'pg_dump'): string {
  return execFileSync(pgDump, ['--schema-only', '--no-owner', '--no-privileges', `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    .split('\n')
    .filter((line) => !line.startsWith('-- Dumped') && !line.startsWith('\\restrict') && !line.startsWith('\\unrestrict'))
    .join('\n');
}

/**
 * Everything pg_dump can see of a database, as text: schema, data, large objects, owners and grants.
 * Two equal full dumps mean the database is the same, byte for byte, as far as a restore could change it.
 */
export function fullDump(url: string, pgDump = 'pg_dump'): string {
  return execFileSync(pgDump, ['--blobs', `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 })
    .split('\n')
    .filter((line) => !line.startsWith('-- Dumped') && !line.startsWith('\\restrict') && !line.startsWith('\\unrestrict'))
    .join('\n');
}
