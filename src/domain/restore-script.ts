/**
 * Reading the SQL script that `pg_restore --file=-` writes, one line at a time, without executing it:
 * which archive entry a line belongs to, which roles a GRANT or REVOKE names, and which entry a psql
 * error points at. Pure: the streaming filter (src/engine/restore/script-filter.ts) feeds it lines.
 */

/** One archive (TOC) entry, as pg_restore announces it in the comment before its SQL. */
export interface ScriptEntry {
  /** 1-based line of psql's input at which the entry's header comment stands. */
  line: number;
  name: string;
  type: string;
  schema: string;
  /** Whether this is the entry's data ("Data for Name: …") rather than its definition. */
  data: boolean;
}

const ENTRY_HEADER = /^-- (Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/;

/** The entry a header comment line announces, or undefined for any other line. */
export function parseEntryHeader(line: string, lineNumber: number): ScriptEntry | undefined {
  const match = ENTRY_HEADER.exec(line);
  if (!match) return undefined;
  return { line: lineNumber, data: match[1] !== undefined, name: match[2]!, type: match[3]!, schema: match[4]! };
}

/** Names an entry the way a person looks for it: "TABLE DATA public.orders", "FUNCTION public.f()". */
export function describeEntry(entry: Pick<ScriptEntry, 'name' | 'type' | 'schema' | 'data'>): string {
  const qualified = entry.schema === '-' || entry.schema === '' ? entry.name : `${entry.schema}.${entry.name}`;
  return `${entry.data && !/DATA$|BLOBS|LARGE OBJECTS/.test(entry.type) ? `${entry.type} DATA` : entry.type} ${qualified}`;
}

/** The last entry that starts at or before `line` (entries are in line order), if any. */
export function entryAtLine(entries: readonly ScriptEntry[], line: number): ScriptEntry | undefined {
  let low = 0;
  let high = entries.length - 1;
  let found: ScriptEntry | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const entry = entries[middle]!;
    if (entry.line <= line) {
      found = entry;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/** The first error psql reported with ON_ERROR_STOP and VERBOSITY verbose: its input line, SQLSTATE and text. */
export interface ScriptError {
  line: number;
  sqlstate?: string;
  message: string;
}

const PSQL_ERROR = /^psql:[^:\n]*:(\d+): (?:ERROR|FATAL):\s+(?:([0-9A-Z]{5}): )?(.*)$/m;

export function parsePsqlError(stderr: string): ScriptError | undefined {
  const match = PSQL_ERROR.exec(stderr);
  if (!match) return undefined;
  return { line: Number(match[1]), sqlstate: match[2], message: match[3]!.trim() };
}

/** SQLSTATE class 42501 and friends: the restoring role lacks a privilege or ownership. */
export function isPrivilegeError(error: Pick<ScriptError, 'sqlstate' | 'message'>): boolean {
  return error.sqlstate === '42501' || (error.sqlstate === undefined && /^(must be owner of|permission denied)/.test(error.message));
}

/**
 * Splits an SQL line into identifier-level tokens: "quoted identifiers" (with "" inside) stay whole,
 * everything else splits on white space, commas and the final semicolon (which become tokens too).
 */
export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === ',' || c === ';') {
      tokens.push(c);
      i++;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        const close = line.indexOf('"', j);
        if (close < 0) {
          j = line.length;
          break;
        }
        if (line[close + 1] === '"') {
          j = close + 2;
          continue;
        }
        j = close + 1;
        break;
      }
      tokens.push(line.slice(i, j));
      i = j;
    } else {
      let j = i;
      while (j < line.length && !' \t,;"'.includes(line[j]!)) j++;
      tokens.push(line.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

/** A role name as written in SQL ("Quoted ""x""" or bare, which folds to lower case) as stored in pg_roles. */
export function roleName(token: string): string {
  if (token.startsWith('"')) return token.slice(1, token.endsWith('"') && token.length > 1 ? -1 : undefined).replace(/""/g, '"');
  return token.toLowerCase();
}

/** What a privilege line of the script asks of roles, when it is one. */
export type PrivilegeStatement =
  | { kind: 'grant' | 'revoke'; grantees: string[]; forRole?: string }
  | { kind: 'session-authorization'; role?: string };

/**
 * Recognises the privilege statements pg_dump writes for ACL and DEFAULT ACL entries, one a line:
 * `GRANT … TO a, "b";`, `REVOKE … FROM PUBLIC;`, `ALTER DEFAULT PRIVILEGES FOR ROLE r … GRANT … TO x;`
 * and the `SET SESSION AUTHORIZATION r;` / `RESET SESSION AUTHORIZATION;` pairs around grants made by
 * someone other than the owner. Returns undefined for anything else.
 */
export function parsePrivilegeStatement(line: string): PrivilegeStatement | undefined {
  const tokens = tokenize(line.trim());
  if (tokens.length === 0 || tokens[tokens.length - 1] !== ';') return undefined;
  const upper = tokens.map((t) => (t.startsWith('"') ? t : t.toUpperCase()));
  if (upper[0] === 'RESET' && upper[1] === 'SESSION' && upper[2] === 'AUTHORIZATION') return { kind: 'session-authorization' };
  if (upper[0] === 'SET' && upper[1] === 'SESSION' && upper[2] === 'AUTHORIZATION' && tokens.length === 5) {
    return { kind: 'session-authorization', role: roleName(tokens[3]!) };
  }
  let start = 0;
  let forRole: string | undefined;
  if (upper[0] === 'ALTER' && upper[1] === 'DEFAULT' && upper[2] === 'PRIVILEGES') {
    start = 3;
    if (upper[3] === 'FOR' && (upper[4] === 'ROLE' || upper[4] === 'USER')) {
      forRole = roleName(tokens[5]!);
      start = 6;
    }
    while (start < upper.length && upper[start] !== 'GRANT' && upper[start] !== 'REVOKE') start++;
  }
  const verb = upper[start];
  if (verb !== 'GRANT' && verb !== 'REVOKE') return undefined;
  const keyword = verb === 'GRANT' ? 'TO' : 'FROM';
  const at = upper.lastIndexOf(keyword);
  if (at <= start) return undefined;
  const grantees: string[] = [];
  for (let i = at + 1; i < tokens.length; i++) {
    const token = upper[i]!;
    if (token === ';' || token === 'WITH' || token === 'GRANTED' || token === 'CASCADE' || token === 'RESTRICT') break;
    if (token === ',') continue;
    grantees.push(token === 'PUBLIC' ? 'PUBLIC' : roleName(tokens[i]!));
  }
  if (grantees.length === 0) return undefined;
  return { kind: verb === 'GRANT' ? 'grant' : 'revoke', grantees, forRole };
}

/** Roles of the target: whether each exists and whether the restoring role may act for it. */
export interface TargetRoles {
  exists(name: string): boolean;
  /** Whether the restoring role is a member of `name` (needed for ALTER DEFAULT PRIVILEGES FOR ROLE). */
  usable(name: string): boolean;
}

/**
 * With `privileges: keep`, whether a privilege line can be applied to this target, and if not why. A
 * grant to a role the target lacks would fail the whole restore, so it is skipped and reported instead.
 * Session-authorization switches are always skipped: every object is owned by the restoring role
 * (--no-owner), so it can make every grant itself, and switching would need a superuser.
 */
export function privilegeLineVerdict(statement: PrivilegeStatement, roles: TargetRoles): { apply: true } | { apply: false; reason: string } {
  if (statement.kind === 'session-authorization') return { apply: false, reason: 'grants are made by the restoring role, which owns every restored object' };
  if (statement.forRole !== undefined) {
    if (!roles.exists(statement.forRole)) return { apply: false, reason: `role '${statement.forRole}' does not exist in the target` };
    if (!roles.usable(statement.forRole)) return { apply: false, reason: `the restoring role is not a member of '${statement.forRole}'` };
  }
  const missing = statement.grantees.filter((g) => g !== 'PUBLIC' && !roles.exists(g));
  if (missing.length > 0) return { apply: false, reason: `role${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist in the target` };
  return { apply: true };
}
