/**
 * A comparable picture of a whole database, for databases nobody on the project wrote (the
 * regression database): every pg_dump --schema-only entry, keyed by its TOC header, with its
 * privileges; a digest of every table's, materialized view's and large object's contents; and every
 * sequence's position.
 *
 * Differences are listed per entry (missing, extra, changed), so a restore's differences from its
 * source can be checked one by one against those of a plain pg_dump | pg_restore.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { postgresInfo, withClient } from './harness.js';

export interface DatabaseSnapshot {
  /** "TYPE; name; schema" → the entry's SQL, without comments and blank lines. */
  schema: Record<string, string>;
  /** qualified relation name (or "large objects") → "rows:md5" ("1:last_value is_called" for a sequence), or "error: …". */
  data: Record<string, string>;
}

export interface Difference {
  where: 'schema' | 'data';
  kind: 'missing' | 'extra' | 'changed';
  key: string;
  /** The value on the restored side (undefined when missing). */
  restored?: string;
  source?: string;
}

/** pg_dump --schema-only, without owners (a restore maps every owner to its role) but with privileges. */
export function schemaEntries(url: string): Record<string, string> {
  const pgDump = join(postgresInfo().binDir, 'pg_dump');
  const text = execFileSync(pgDump, ['--schema-only', '--no-owner', `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const found: [string, string][] = [];
  let key = 'preamble';
  let body: string[] = [];
  for (const line of text.split('\n')) {
    const header = /^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/.exec(line);
    if (header) {
      found.push([key, body.join('\n')]);
      key = `${header[2]}; ${header[1]}; ${header[3]}`;
      body = [];
      continue;
    }
    if (line === '' || line.startsWith('--') || line.startsWith('\\restrict') || line.startsWith('\\unrestrict')) continue;
    body.push(line);
  }
  found.push([key, body.join('\n')]);
  // Entries with the same header (rare) are told apart by their text, not by dump order, which can
  // depend on OIDs.
  found.sort(([ka, ba], [kb, bb]) => (ka < kb ? -1 : ka > kb ? 1 : ba < bb ? -1 : ba > bb ? 1 : 0));
  const entries: Record<string, string> = {};
  for (const [k, b] of found) {
    let unique = k;
    for (let n = 2; unique in entries; n++) unique = `${k} #${n}`;
    entries[unique] = b;
  }
  return entries;
}

/** Output settings pinned so that both sides print every value the same way, whatever their database settings. */
const PINNED_SETTINGS = `
  SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET timezone = 'UTC'; SET extra_float_digits = 1;
  SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET search_path = pg_catalog; SET xmloption = content;
  SET statement_timeout = 0; SET row_security = off`;

export async function dataDigests(url: string): Promise<Record<string, string>> {
  return withClient(url, async (client: pg.Client) => {
    await client.query(PINNED_SETTINGS);
    const { rows: relations } = await client.query<{ name: string; kind: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind AS kind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'S') AND c.relpersistence <> 't'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        ORDER BY 1`,
    );
    const out: Record<string, string> = {};
    for (const { name, kind } of relations) {
      try {
        // A sequence's position (log_cnt is how many values the server has pre-logged: not state to restore).
        // ONLY: each inheritance child and partition is digested on its own.
        const { rows } = await client.query<{ n: string; digest: string | null }>(
          kind === 'S'
            ? `SELECT 1 AS n, last_value || ' ' || is_called AS digest FROM ${name}`
            : `SELECT count(*) AS n, md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")) AS digest FROM ONLY ${name} t`,
        );
        out[name] = `${rows[0]!.n}:${rows[0]!.digest ?? ''}`;
      } catch (error) {
        out[name] = `error: ${(error as Error).message}`;
      }
    }
    const { rows } = await client.query<{ n: string; digest: string | null }>(
      `SELECT count(*) AS n, md5(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid)) AS digest FROM pg_largeobject_metadata`,
    );
    out['large objects'] = `${rows[0]!.n}:${rows[0]!.digest ?? ''}`;
    return out;
  });
}

export async function snapshotDatabase(url: string): Promise<DatabaseSnapshot> {
  return { schema: schemaEntries(url), data: await dataDigests(url) };
}

export function differences(source: DatabaseSnapshot, restored: DatabaseSnapshot): Difference[] {
  const out: Difference[] = [];
  for (const where of ['schema', 'data'] as const) {
    const a = source[where];
    const b = restored[where];
    for (const key of Object.keys(a)) {
      if (!(key in b)) out.push({ where, kind: 'missing', key, source: a[key] });
      else if (a[key] !== b[key]) out.push({ where, kind: 'changed', key, source: a[key], restored: b[key] });
    }
    for (const key of Object.keys(b)) if (!(key in a)) out.push({ where, kind: 'extra', key, restored: b[key] });
  }
  return out;
}

/** The differences of `restored` that `baseline` does not have too, with the same restored value. */
export function differencesNotIn(restored: Difference[], baseline: Difference[]): Difference[] {
  const expected = new Map(baseline.map((d) => [`${d.where}|${d.kind}|${d.key}`, d]));
  return restored.filter((d) => {
    const same = expected.get(`${d.where}|${d.kind}|${d.key}`);
    return !same || same.restored !== d.restored;
  });
}

/**
 * At most `limit` differences, one a line, rarest kinds first (a stray publication is not hidden behind
 * six hundred grants), then how many of each kind were left out.
 */
export function describeDifferences(list: Difference[], limit = 40): string {
  const group = (d: Difference) => `${d.where} ${d.kind}: ${d.where === 'schema' ? d.key.split(';')[0] : d.key === 'large objects' ? d.key : 'table'}`;
  const counts = new Map<string, number>();
  for (const d of list) counts.set(group(d), (counts.get(group(d)) ?? 0) + 1);
  const sorted = [...list].sort((a, b) => counts.get(group(a))! - counts.get(group(b))!);
  const lines = sorted.slice(0, limit).map((d) => '  ' + describeDifference(d));
  const rest = sorted.slice(limit);
  if (rest.length > 0) {
    const left = new Map<string, number>();
    for (const d of rest) left.set(group(d), (left.get(group(d)) ?? 0) + 1);
    lines.push(`  … and ${rest.length} more: ${[...left].map(([g, n]) => `${n} × ${g}`).join(', ')}`);
  }
  return lines.join('\n');
}

export function describeDifference(d: Difference, width = 300): string {
  const value = (v?: string) => (v === undefined ? '' : v.length > width ? v.slice(0, width) + '…' : v);
  switch (d.kind) {
    case 'missing':
      return `${d.where} missing: ${d.key}`;
    case 'extra':
      return `${d.where} extra: ${d.key}: ${value(d.restored)}`;
    case 'changed':
      return `${d.where} changed: ${d.key}: source ${value(d.source)} → restored ${value(d.restored)}`;
  }
}
