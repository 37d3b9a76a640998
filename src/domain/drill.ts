/**
 * The pure parts of a restore drill: the scratch database's name, the user's SQL assertions and how
 * each is judged, and which media objects are sampled.
 *
 * Assertions: a file or inline text of SQL queries, each ending with `;` at the end of a line. A line
 * `-- name: <text>` just before a query names it (otherwise its first line does). Each query must
 * return exactly one row whose first column is boolean true: `SELECT max(at) > now() - interval '2 days' FROM audit;`.
 */

/** Every scratch database's name starts with this, and nothing else Lifeboat makes does. */
export const DRILL_DATABASE_PREFIX = 'lifeboat_drill_';

/** lifeboat_drill_20261121t020000_1a2b3c: the time it was made, and a random tail; 37 characters, under PostgreSQL's 63. */
export function scratchDatabaseName(at: Date, randomHex: string): string {
  if (!/^[0-9a-f]{6,16}$/.test(randomHex)) throw new Error(`The random part of a scratch database name must be 6 to 16 hex digits, not '${randomHex}'.`);
  const stamp = at.toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase();
  return `${DRILL_DATABASE_PREFIX}${stamp}_${randomHex}`;
}

/** Whether a database is one a drill made: the prefix, then only what scratchDatabaseName writes. */
export function isScratchDatabaseName(name: string): boolean {
  return /^lifeboat_drill_\d{8}t\d{6}_[0-9a-f]{6,16}$/.test(name);
}

export interface Assertion {
  name: string;
  sql: string;
  /** 1-based line where the query starts, for messages. */
  line: number;
}

/** Splits the assertions text into queries (see the module comment); comments and blank lines between them are dropped. */
export function parseAssertions(text: string): Assertion[] {
  const assertions: Assertion[] = [];
  let name: string | undefined;
  let body: string[] = [];
  let start = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trimEnd();
    if (body.length === 0) {
      const named = /^\s*--\s*name:\s*(.+)$/.exec(line);
      if (named) {
        name = named[1]!.trim();
        return;
      }
      if (line.trim() === '' || /^\s*--/.test(line)) return;
      start = index + 1;
    }
    body.push(line);
    if (line.endsWith(';')) {
      const sql = body.join('\n').replace(/;$/, '').trim();
      if (sql !== '') assertions.push({ name: name ?? firstLine(sql), sql, line: start });
      name = undefined;
      body = [];
    }
  });
  if (body.length) {
    throw new Error(`The assertion starting on line ${start} does not end with ';' at the end of a line; end each query with ';'.`);
  }
  return assertions;
}

function firstLine(sql: string): string {
  const line = sql.split('\n')[0]!;
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}

export type AssertionVerdict = { ok: true } | { ok: false; why: string };

/** An assertion passes when it returns exactly one row whose first column is boolean true. */
export function judgeAssertion(rows: readonly (readonly unknown[])[]): AssertionVerdict {
  if (rows.length !== 1) return { ok: false, why: `it returned ${rows.length} rows; an assertion must return exactly one` };
  const row = rows[0]!;
  if (row.length === 0) return { ok: false, why: 'its row has no columns; the first column must be true' };
  const value = row[0];
  if (value === true) return { ok: true };
  if (value === false) return { ok: false, why: 'it returned false' };
  if (value === null || value === undefined) return { ok: false, why: 'it returned NULL' };
  return { ok: false, why: `its first column is ${JSON.stringify(value)}, not a boolean; write the condition itself, e.g. SELECT count(*) > 0 FROM …` };
}

/** `all`, or a whole number of objects (0 for none). */
export function parseSampleSize(text: string): number | 'all' | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'all') return 'all';
  if (!/^\d+$/.test(value)) return undefined;
  const count = Number(value);
  return Number.isSafeInteger(count) ? count : undefined;
}

/**
 * A uniform random sample of `size` items (all of them for 'all' or a size at least their number),
 * by a partial Fisher–Yates shuffle; `random` returns numbers in [0, 1), so tests can fix it.
 */
export function sample<T>(items: readonly T[], size: number | 'all', random: () => number = Math.random): T[] {
  const pool = [...items];
  const wanted = size === 'all' ? pool.length : Math.min(size, pool.length);
  for (let i = 0; i < wanted; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, wanted);
}

/** A uniform random sample of at most `size` items from a stream of unknown length, holding only the sample (Algorithm R). */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;

  constructor(
    private readonly size: number,
    private readonly random: () => number = Math.random,
  ) {}

  add(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.size) this.items[slot] = item;
  }
}
