import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  describeEntry,
  entryAtLine,
  isPrivilegeError,
  parseEntryHeader,
  parsePrivilegeStatement,
  parsePsqlError,
  privilegeLineVerdict,
  roleName,
  tokenize,
  type TargetRoles,
} from '../../src/domain/restore-script.js';
import { RestoreScriptFilter } from '../../src/engine/restore/script-filter.js';

describe('archive entry headers', () => {
  it('reads definition and data headers, with the line they stand at', () => {
    expect(parseEntryHeader('-- Name: orders; Type: TABLE; Schema: app; Owner: -', 7)).toEqual({ line: 7, data: false, name: 'orders', type: 'TABLE', schema: 'app' });
    expect(parseEntryHeader('-- Data for Name: orders; Type: TABLE DATA; Schema: app; Owner: alice', 9)).toEqual({
      line: 9,
      data: true,
      name: 'orders',
      type: 'TABLE DATA',
      schema: 'app',
    });
    expect(parseEntryHeader('-- Name: orders; Type: TABLE; Schema: app', 1)).toBeUndefined();
    expect(parseEntryHeader(' -- Name: x; Type: TABLE; Schema: app; Owner: -', 1)).toBeUndefined();
    expect(parseEntryHeader('CREATE TABLE x ();', 1)).toBeUndefined();
  });

  it('describes entries the way a person searches for them', () => {
    expect(describeEntry({ name: 'f()', type: 'FUNCTION', schema: 'public', data: false })).toBe('FUNCTION public.f()');
    expect(describeEntry({ name: 'p', type: 'PUBLICATION', schema: '-', data: false })).toBe('PUBLICATION p');
    expect(describeEntry({ name: 'p', type: 'PUBLICATION', schema: '', data: false })).toBe('PUBLICATION p');
    expect(describeEntry({ name: 'orders', type: 'TABLE DATA', schema: 'app', data: true })).toBe('TABLE DATA app.orders');
    expect(describeEntry({ name: 'mv', type: 'MATERIALIZED VIEW', schema: 'app', data: true })).toBe('MATERIALIZED VIEW DATA app.mv');
    expect(describeEntry({ name: 'BLOBS', type: 'BLOBS', schema: '-', data: true })).toBe('BLOBS BLOBS');
    expect(describeEntry({ name: 'LOs', type: 'LARGE OBJECTS', schema: '-', data: true })).toBe('LARGE OBJECTS LOs');
  });

  it('finds the entry a line belongs to', () => {
    const entries = [10, 20, 30, 40].map((line) => ({ line, data: false, name: `e${line}`, type: 'TABLE', schema: 's' }));
    expect(entryAtLine(entries, 5)).toBeUndefined();
    expect(entryAtLine(entries, 10)?.name).toBe('e10');
    expect(entryAtLine(entries, 19)?.name).toBe('e10');
    expect(entryAtLine(entries, 20)?.name).toBe('e20');
    expect(entryAtLine(entries, 35)?.name).toBe('e30');
    expect(entryAtLine(entries, 1000)?.name).toBe('e40');
    expect(entryAtLine([], 3)).toBeUndefined();
    expect(entryAtLine(entries.slice(0, 1), 10)?.name).toBe('e10');
  });
});

describe("psql's errors", () => {
  it('reads the line, SQLSTATE and message of the first error', () => {
    const stderr = 'psql:<stdin>:12: WARNING:  something\npsql:<stdin>:57: ERROR:  42501: must be owner of type integer\nLOCATION:  x\npsql:<stdin>:60: ERROR:  later';
    expect(parsePsqlError(stderr)).toEqual({ line: 57, sqlstate: '42501', message: 'must be owner of type integer' });
    expect(parsePsqlError('psql:<stdin>:3: FATAL:  terminating connection')).toEqual({ line: 3, sqlstate: undefined, message: 'terminating connection' });
    expect(parsePsqlError('ERROR:  no location')).toBeUndefined();
  });

  it('knows a missing privilege by its SQLSTATE, or by the words when there is none', () => {
    expect(isPrivilegeError({ sqlstate: '42501', message: 'anything' })).toBe(true);
    expect(isPrivilegeError({ sqlstate: '42P07', message: 'must be owner of x' })).toBe(false);
    expect(isPrivilegeError({ message: 'must be owner of table t' })).toBe(true);
    expect(isPrivilegeError({ message: 'permission denied for schema s' })).toBe(true);
    expect(isPrivilegeError({ message: 'relation already exists' })).toBe(false);
    expect(isPrivilegeError({ message: 'x must be owner of' })).toBe(false);
  });
});

describe('privilege statements', () => {
  it('tokenizes quoted identifiers whole', () => {
    expect(tokenize('GRANT SELECT ON TABLE "a b"."c,d" TO "x ""y""", z;')).toEqual(['GRANT', 'SELECT', 'ON', 'TABLE', '"a b"', '.', '"c,d"', 'TO', '"x ""y"""', ',', 'z', ';']);
    expect(tokenize('TO "unterminated')).toEqual(['TO', '"unterminated']);
  });

  it('folds bare role names and unquotes quoted ones', () => {
    expect(roleName('Reporting')).toBe('reporting');
    expect(roleName('"Reporting"')).toBe('Reporting');
    expect(roleName('"a ""b"""')).toBe('a "b"');
  });

  it('finds the grantees of GRANT and REVOKE, and the role of default privileges', () => {
    expect(parsePrivilegeStatement('GRANT SELECT ON TABLE app.t TO reporting;')).toEqual({ kind: 'grant', grantees: ['reporting'], forRole: undefined });
    expect(parsePrivilegeStatement('GRANT ALL ON TABLE app.t TO "Ops", audit WITH GRANT OPTION;')).toEqual({ kind: 'grant', grantees: ['Ops', 'audit'], forRole: undefined });
    expect(parsePrivilegeStatement('REVOKE ALL ON SCHEMA public FROM PUBLIC;')).toEqual({ kind: 'revoke', grantees: ['PUBLIC'], forRole: undefined });
    expect(parsePrivilegeStatement('GRANT SELECT(a) ON TABLE app.t TO r GRANTED BY owner;')).toEqual({ kind: 'grant', grantees: ['r'], forRole: undefined });
    expect(parsePrivilegeStatement('ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA app GRANT SELECT ON TABLES TO reader;')).toEqual({
      kind: 'grant',
      grantees: ['reader'],
      forRole: 'owner',
    });
    expect(parsePrivilegeStatement('ALTER DEFAULT PRIVILEGES FOR USER "Owner" REVOKE ALL ON FUNCTIONS FROM PUBLIC;')).toEqual({
      kind: 'revoke',
      grantees: ['PUBLIC'],
      forRole: 'Owner',
    });
    expect(parsePrivilegeStatement('ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reader;')).toEqual({ kind: 'grant', grantees: ['reader'], forRole: undefined });
    expect(parsePrivilegeStatement('SET SESSION AUTHORIZATION grantor;')).toEqual({ kind: 'session-authorization', role: 'grantor' });
    expect(parsePrivilegeStatement('RESET SESSION AUTHORIZATION;')).toEqual({ kind: 'session-authorization' });
  });

  it('leaves everything else alone', () => {
    expect(parsePrivilegeStatement('GRANT SELECT ON TABLE app.t TO reporting')).toBeUndefined();
    expect(parsePrivilegeStatement('CREATE TABLE t (a int);')).toBeUndefined();
    expect(parsePrivilegeStatement('GRANT reader;')).toBeUndefined();
    expect(parsePrivilegeStatement('GRANT SELECT ON TABLE t TO;')).toBeUndefined();
    expect(parsePrivilegeStatement('SET SESSION AUTHORIZATION DEFAULT extra;')).toBeUndefined();
    expect(parsePrivilegeStatement('')).toBeUndefined();
    expect(parsePrivilegeStatement('ALTER DEFAULT PRIVILEGES IN SCHEMA s;')).toBeUndefined();
  });

  const roles: TargetRoles = { exists: (n) => ['reader', 'owner', 'stranger'].includes(n), usable: (n) => n === 'owner' };

  it('applies what the target can take, and says why it skips the rest', () => {
    expect(privilegeLineVerdict({ kind: 'grant', grantees: ['reader', 'PUBLIC'] }, roles)).toEqual({ apply: true });
    expect(privilegeLineVerdict({ kind: 'grant', grantees: ['ghost'] }, roles)).toEqual({ apply: false, reason: "role 'ghost' does not exist in the target" });
    expect(privilegeLineVerdict({ kind: 'revoke', grantees: ['ghost', 'reader', 'spook'] }, roles)).toEqual({
      apply: false,
      reason: "roles 'ghost', 'spook' do not exist in the target",
    });
    expect(privilegeLineVerdict({ kind: 'grant', grantees: ['reader'], forRole: 'owner' }, roles)).toEqual({ apply: true });
    expect(privilegeLineVerdict({ kind: 'grant', grantees: ['reader'], forRole: 'gone' }, roles)).toEqual({ apply: false, reason: "role 'gone' does not exist in the target" });
    expect(privilegeLineVerdict({ kind: 'grant', grantees: ['reader'], forRole: 'stranger' }, roles)).toEqual({
      apply: false,
      reason: "the restoring role is not a member of 'stranger'",
    });
    expect(privilegeLineVerdict({ kind: 'session-authorization', role: 'reader' }, roles).apply).toBe(false);
  });
});

async function filtered(script: string, options: Partial<ConstructorParameters<typeof RestoreScriptFilter>[0]> = {}, chunkSize = 7) {
  const filter = new RestoreScriptFilter({ firstLine: 100, privileges: 'drop', ...options });
  const chunks: Buffer[] = [];
  for (let i = 0; i < script.length; i += chunkSize) chunks.push(Buffer.from(script.slice(i, i + chunkSize)));
  const out = await text(Readable.from(chunks).pipe(filter));
  return { out, filter };
}

const SCRIPT = [
  '--',
  '\\restrict KEY',
  'BEGIN;',
  'SET statement_timeout = 0;',
  '--',
  '-- Name: public; Type: SCHEMA; Schema: -; Owner: -',
  '--',
  'CREATE SCHEMA public;',
  '--',
  '-- Data for Name: t; Type: TABLE DATA; Schema: app; Owner: -',
  '--',
  'COPY app.t (a, b) FROM stdin;',
  '1\tBEGIN;',
  '2\tCOMMIT;',
  '\\.',
  '--',
  '-- Name: TABLE t; Type: ACL; Schema: app; Owner: -',
  '--',
  'GRANT SELECT ON TABLE app.t TO reader;',
  'GRANT SELECT ON TABLE app.t TO ghost;',
  'COMMIT;',
  '',
  '--',
  '-- PostgreSQL database dump complete',
  '--',
  '\\unrestrict KEY',
  '',
].join('\n');

describe('the script filter', () => {
  it("removes pg_restore's opening BEGIN and closing COMMIT, leaves COPY data alone, and numbers the lines", async () => {
    const { out, filter } = await filtered(SCRIPT);
    const lines = out.split('\n');
    expect(filter.sawOpeningBegin).toBe(true);
    expect(filter.sawClosingCommit).toBe(true);
    expect(filter.strayCommits).toBe(0);
    expect(lines).not.toContain('BEGIN;');
    expect(lines).not.toContain('COMMIT;');
    expect(lines).toContain('1\tBEGIN;');
    expect(lines).toContain('2\tCOMMIT;');
    expect(lines).toContain('CREATE SCHEMA IF NOT EXISTS public;');
    expect(lines).toContain('\\unrestrict KEY');
    // One line out for every line in: psql's line numbers still find the entry.
    expect(lines.length).toBe(SCRIPT.split('\n').length);
    expect(filter.entries.map((e) => [e.line, e.type])).toEqual([
      [105, 'SCHEMA'],
      [109, 'TABLE DATA'],
      [116, 'ACL'],
    ]);
    expect(filter.linesEmittedUpTo).toBe(100 + SCRIPT.split('\n').length - 1);
  });

  it('passes a COMMIT in the middle of the script on, and counts it', async () => {
    const { out, filter } = await filtered('BEGIN;\nCREATE TABLE a ();\nCOMMIT;\n-- note\nCREATE TABLE b ();\nCOMMIT;\n');
    expect(filter.strayCommits).toBe(1);
    expect(filter.sawClosingCommit).toBe(true);
    expect(out).toBe("-- (pg_restore's BEGIN removed: Lifeboat's transaction is already open)\nCREATE TABLE a ();\nCOMMIT;\n-- note\nCREATE TABLE b ();\n-- (pg_restore's COMMIT removed: Lifeboat commits after its checks)\n");
  });

  it('reports a script without the closing COMMIT', async () => {
    const { filter } = await filtered('BEGIN;\nCREATE TABLE a ();\n');
    expect(filter.sawOpeningBegin).toBe(true);
    expect(filter.sawClosingCommit).toBe(false);
    const { filter: second } = await filtered('CREATE TABLE a ();\nCOMMIT;\n');
    expect(second.sawOpeningBegin).toBe(false);
  });

  it('with privileges: keep, skips grants to roles the target lacks, and lists them', async () => {
    const roles: TargetRoles = { exists: (n) => n === 'reader', usable: () => true };
    const { out, filter } = await filtered(SCRIPT, { privileges: 'keep', roles });
    expect(out).toContain('GRANT SELECT ON TABLE app.t TO reader;');
    expect(out).not.toContain('TO ghost;');
    expect(out).toContain("-- (skipped by Lifeboat: role 'ghost' does not exist in the target)");
    expect(filter.skippedGrantCount).toBe(1);
    expect(filter.skippedGrants).toEqual([{ entry: 'ACL app.TABLE t', statement: 'GRANT SELECT ON TABLE app.t TO ghost;', reason: "role 'ghost' does not exist in the target" }]);
  });

  it('with privileges: drop, never rewrites a grant line', async () => {
    const { out, filter } = await filtered(SCRIPT, { privileges: 'drop' });
    expect(out).toContain('GRANT SELECT ON TABLE app.t TO ghost;');
    expect(filter.skippedGrantCount).toBe(0);
  });

  it('passes very long lines through unread, and a final line without a newline', async () => {
    const long = 'SELECT ' + "'x'".repeat(400_000) + ';';
    const script = `BEGIN;\n${long}\nCOMMIT;\nSELECT 1;`;
    const { out, filter } = await filtered(script, {}, 65536);
    expect(out).toContain(long + '\n');
    expect(out.endsWith('SELECT 1;')).toBe(true);
    expect(filter.strayCommits).toBe(1);
  });

  it('finds the end of COPY data split across chunks of any size', async () => {
    for (const size of [1, 2, 3, 5, 64]) {
      const { out, filter } = await filtered('BEGIN;\nCOPY a FROM stdin;\n\\.x\n\\.\nCOMMIT;\n', {}, size);
      expect(out, `chunk size ${size}`).toContain('\\.x\n\\.\n-- (pg_restore');
      expect(filter.sawClosingCommit).toBe(true);
    }
  });
});
