/**
 * Edges of reading pg_restore's script that test/unit/restore-script.test.ts leaves open, found by the
 * surviving mutants of `npm run mutate`: line endings, lower-case SQL, statements that only look like
 * grants, and the exact reasons given for skipped lines.
 */
import { describe, expect, it } from 'vitest';
import {
  describeEntry,
  parsePrivilegeStatement,
  parsePsqlError,
  privilegeLineVerdict,
  roleName,
  tokenize,
  type TargetRoles,
} from '../../src/domain/restore-script.js';

const everyRole: TargetRoles = { exists: () => true, usable: () => true };

describe('entries and errors', () => {
  it('adds DATA to the type of a data entry unless the type already ends with it', () => {
    expect(describeEntry({ name: 'x', type: 'DATABASE', schema: '-', data: true })).toBe('DATABASE DATA x');
    expect(describeEntry({ name: 'orders', type: 'TABLE DATA', schema: 'app', data: true })).toBe('TABLE DATA app.orders');
  });

  it('reads an error line ending in CRLF without the carriage return', () => {
    expect(parsePsqlError('psql:<stdin>:12: ERROR:  42P01: relation "x" does not exist\r\n')).toEqual({
      line: 12,
      sqlstate: '42P01',
      message: 'relation "x" does not exist',
    });
  });

  it('takes only lines that psql itself starts, not a quotation of one inside another line', () => {
    expect(parsePsqlError('DETAIL:  see psql:<stdin>:3: ERROR:  boom\n')).toBeUndefined();
    expect(parsePsqlError('NOTICE:  x\npsql:<stdin>:4: FATAL:  57P01: terminating connection\n')).toEqual({
      line: 4,
      sqlstate: '57P01',
      message: 'terminating connection',
    });
  });
});

describe('tokens and role names', () => {
  it('splits on tabs as on spaces', () => {
    expect(tokenize('GRANT\tSELECT ON\tt TO\treader;')).toEqual(['GRANT', 'SELECT', 'ON', 't', 'TO', 'reader', ';']);
  });

  it('keeps the case of an unterminated quoted name and does not drop its last letter', () => {
    expect(roleName('"Abc')).toBe('Abc');
    expect(roleName('"')).toBe('');
    expect(roleName('"A""b"')).toBe('A"b');
  });
});

describe('privilege statements', () => {
  it('recognises a grant in lower case and one ending in CRLF', () => {
    expect(parsePrivilegeStatement('grant select on table t to reader;')).toEqual({ kind: 'grant', grantees: ['reader'], forRole: undefined });
    expect(parsePrivilegeStatement('GRANT SELECT ON TABLE t TO reader;\r')).toEqual({ kind: 'grant', grantees: ['reader'], forRole: undefined });
  });

  it('reads GRANT ALL PRIVILEGES as a plain grant, not as default privileges', () => {
    expect(parsePrivilegeStatement('GRANT ALL PRIVILEGES ON TABLE t TO reader;')).toEqual({ kind: 'grant', grantees: ['reader'], forRole: undefined });
  });

  it('stops the grantee list at CASCADE or RESTRICT', () => {
    expect(parsePrivilegeStatement('REVOKE ALL ON TABLE t FROM a CASCADE;')).toEqual({ kind: 'revoke', grantees: ['a'], forRole: undefined });
    expect(parsePrivilegeStatement('REVOKE ALL ON TABLE t FROM a, b RESTRICT;')).toEqual({ kind: 'revoke', grantees: ['a', 'b'], forRole: undefined });
  });

  it('leaves statements that are not grants alone, even with FROM, TO or SESSION in them', () => {
    expect(parsePrivilegeStatement('DELETE FROM orders;')).toBeUndefined();
    expect(parsePrivilegeStatement('ALTER TABLE t OWNER TO alice;')).toBeUndefined();
    expect(parsePrivilegeStatement('SET search_path = public;')).toBeUndefined();
    expect(parsePrivilegeStatement('SET SESSION ROLE admin;')).toBeUndefined();
  });

  it('skips session-authorization switches, saying why', () => {
    expect(privilegeLineVerdict({ kind: 'session-authorization', role: 'alice' }, everyRole)).toEqual({
      apply: false,
      reason: 'grants are made by the restoring role, which owns every restored object',
    });
  });
});
