import { describe, expect, it } from 'vitest';
import { DRILL_DATABASE_PREFIX, isScratchDatabaseName, judgeAssertion, parseAssertions, parseSampleSize, sample, scratchDatabaseName } from '../../src/domain/drill.js';

describe('scratch database names', () => {
  it('carry the prefix, the time and the random tail, and are recognized', () => {
    const name = scratchDatabaseName(new Date('2026-11-21T02:03:04.567Z'), '1a2b3c4d');
    expect(name).toBe('lifeboat_drill_20261121t020304_1a2b3c4d');
    expect(name.startsWith(DRILL_DATABASE_PREFIX)).toBe(true);
    expect(DRILL_DATABASE_PREFIX).toBe('lifeboat_drill_');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(isScratchDatabaseName(name)).toBe(true);
    expect(scratchDatabaseName(new Date('2026-11-21T02:03:04Z'), 'abcdef')).toBe('lifeboat_drill_20261121t020304_abcdef');
    expect(scratchDatabaseName(new Date('2026-11-21T02:03:04Z'), '0123456789abcdef')).toBe('lifeboat_drill_20261121t020304_0123456789abcdef');
  });
  it('refuse a random part that is not 6 to 16 hex digits', () => {
    for (const bad of ['abcde', '0123456789abcdef0', 'ABCDEF', 'abcdeg', 'abc def', '']) {
      expect(() => scratchDatabaseName(new Date(), bad), bad).toThrow(`The random part of a scratch database name must be 6 to 16 hex digits, not '${bad}'.`);
    }
  });
  it('recognize only names a drill writes', () => {
    for (const other of [
      'lifeboat_drill_',
      'lifeboat_drill_20261121t020304',
      'lifeboat_drill_20261121t020304_abc',
      'lifeboat_drill_20261121T020304_abcdef',
      'xlifeboat_drill_20261121t020304_abcdef',
      'lifeboat_drill_20261121t020304_abcdef_',
      'lifeboat_drill_2026112t020304_abcdef',
      'lifeboat_drill_20261121t02030_abcdef',
      'production',
    ]) {
      expect(isScratchDatabaseName(other), other).toBe(false);
    }
  });
});

describe('parseAssertions', () => {
  it('splits queries at a ; that ends a line, named by -- name: or their first line', () => {
    const text = [
      '-- Drill assertions for production',
      '',
      '-- name: recent audit',
      "SELECT max(at) > now() - interval '2 days'",
      '  FROM audit;',
      'SELECT count(*) > 0 FROM users;   ',
      '--name:   spaced name  ',
      "SELECT 'a;b' <> '';",
      '',
    ].join('\n');
    expect(parseAssertions(text)).toEqual([
      { name: 'recent audit', sql: "SELECT max(at) > now() - interval '2 days'\n  FROM audit", line: 4 },
      { name: 'SELECT count(*) > 0 FROM users', sql: 'SELECT count(*) > 0 FROM users', line: 6 },
      { name: 'spaced name', sql: "SELECT 'a;b' <> ''", line: 8 },
    ]);
  });
  it('reads CRLF files, skips empty statements, and shortens long first lines', () => {
    const long = `SELECT ${'x'.repeat(100)} IS NOT NULL;`;
    const [first, second] = parseAssertions(`SELECT true;\r\n;\r\n${long}\r\n`);
    expect(first).toEqual({ name: 'SELECT true', sql: 'SELECT true', line: 1 });
    expect(second!.name).toBe(`${long.slice(0, 77)}…`);
    expect(second!.name.length).toBe(78);
    expect(second!.line).toBe(3);
    expect(parseAssertions(`SELECT ${'y'.repeat(73)};`)[0]!.name).toBe(`SELECT ${'y'.repeat(73)}`);
    expect(parseAssertions('')).toEqual([]);
    expect(parseAssertions('-- only a comment\n\n')).toEqual([]);
  });
  it('a query whose first line carries a trailing comment is a query, not a comment', () => {
    expect(parseAssertions('  -- name:   indented  \nSELECT true -- why\n  ;')).toEqual([{ name: 'indented', sql: 'SELECT true -- why', line: 2 }]);
  });
  it('a name applies to the next query only', () => {
    expect(parseAssertions('-- name: first\nSELECT 1 = 1;\nSELECT 2 = 2;').map((a) => a.name)).toEqual(['first', 'SELECT 2 = 2']);
  });
  it('refuses a query that does not end with ;', () => {
    expect(() => parseAssertions('SELECT true;\n\nSELECT false\n')).toThrow("The assertion starting on line 3 does not end with ';' at the end of a line; end each query with ';'.");
  });
});

describe('judgeAssertion', () => {
  it('passes exactly one row whose first column is true', () => {
    expect(judgeAssertion([[true]])).toEqual({ ok: true });
    expect(judgeAssertion([[true, 'detail']])).toEqual({ ok: true });
  });
  it('fails everything else, saying why', () => {
    expect(judgeAssertion([[false]])).toEqual({ ok: false, why: 'it returned false' });
    expect(judgeAssertion([[null]])).toEqual({ ok: false, why: 'it returned NULL' });
    expect(judgeAssertion([[undefined]])).toEqual({ ok: false, why: 'it returned NULL' });
    expect(judgeAssertion([])).toEqual({ ok: false, why: 'it returned 0 rows; an assertion must return exactly one' });
    expect(judgeAssertion([[true], [true]])).toEqual({ ok: false, why: 'it returned 2 rows; an assertion must return exactly one' });
    expect(judgeAssertion([[]])).toEqual({ ok: false, why: 'its row has no columns; the first column must be true' });
    expect(judgeAssertion([['t']])).toEqual({ ok: false, why: 'its first column is "t", not a boolean; write the condition itself, e.g. SELECT count(*) > 0 FROM …' });
    expect(judgeAssertion([[1]])).toEqual({ ok: false, why: 'its first column is 1, not a boolean; write the condition itself, e.g. SELECT count(*) > 0 FROM …' });
  });
});

describe('media sample', () => {
  it('parses a count or all', () => {
    expect(parseSampleSize('all')).toBe('all');
    expect(parseSampleSize(' ALL ')).toBe('all');
    expect(parseSampleSize('0')).toBe(0);
    expect(parseSampleSize('20')).toBe(20);
    for (const bad of ['', 'some', '-1', '1.5', '1e3', '99999999999999999999']) expect(parseSampleSize(bad), bad).toBeUndefined();
  });
  it('takes distinct items, all of them for all or a size beyond their number', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(sample(items, 0)).toEqual([]);
    expect(sample(items, 'all').sort()).toEqual(items);
    expect(sample(items, 100).sort()).toEqual(items);
    const three = sample(items, 3);
    expect(new Set(three).size).toBe(3);
    expect(three.every((i) => items.includes(i))).toBe(true);
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('is a partial Fisher–Yates shuffle driven by random()', () => {
    // random() = 0 always keeps the order; just under 1 always swaps with the last.
    expect(sample([1, 2, 3, 4], 2, () => 0)).toEqual([1, 2]);
    expect(sample([1, 2, 3, 4], 2, () => 0.999)).toEqual([4, 1]);
    expect(sample([1, 2, 3, 4], 'all', () => 0.999)).toEqual([4, 1, 2, 3]);
    const values = [0.5, 0.5];
    expect(sample(['a', 'b', 'c', 'd'], 2, () => values.shift()!)).toEqual(['c', 'a']);
  });
});
