import { describe, expect, it } from 'vitest';
import { commitMatches, DEFAULT_FRESHNESS, defaultFreshness, evaluateFreshness, parseMaxAge, type GoodBackup } from '../../src/domain/freshness.js';
import { parsePolicy, PolicyError } from '../../src/domain/policy.js';

const H = 3_600_000;
const NOW = new Date('2026-11-21T12:00:00Z');
const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * H);
const good = (space: string, trigger: GoodBackup['trigger'], hoursAgo: number, commit?: string): GoodBackup => ({
  id: `${space}-${trigger}-${hoursAgo}`,
  space,
  trigger,
  finishedAt: at(hoursAgo),
  ...(commit ? { commit } : {}),
});

describe('parseMaxAge', () => {
  it('reads hours, days and weeks, alone and combined', () => {
    expect(parseMaxAge('26h')).toBe(26 * H);
    expect(parseMaxAge('1d')).toBe(24 * H);
    expect(parseMaxAge('1w')).toBe(168 * H);
    expect(parseMaxAge('1d2h')).toBe(26 * H);
    expect(parseMaxAge('2h1d')).toBe(26 * H);
    expect(parseMaxAge('1w1d1h')).toBe((168 + 24 + 1) * H);
  });
  it('rejects zero, repeated units, other units, and text around it', () => {
    for (const bad of ['0h', '0d0h', '1h1h', '26', 'h', '26m', '1y', '26 h', ' 26h', '26h ', '', '-1h', '1.5h', 'x26h', '26hx']) {
      expect(parseMaxAge(bad), bad).toBeUndefined();
    }
    expect(parseMaxAge('99999999999999999h')).toBeUndefined();
  });
});

describe('defaults', () => {
  it("are FAC's: production and dev nightly within 26 h, and production predeploy for a given commit", () => {
    expect(DEFAULT_FRESHNESS).toEqual([
      { space: 'production', trigger: 'nightly', maxAge: '26h' },
      { space: 'dev', trigger: 'nightly', maxAge: '26h' },
      { space: 'production', trigger: 'predeploy', deployedCommit: true },
    ]);
    expect(Object.isFrozen(DEFAULT_FRESHNESS)).toBe(true);
    expect(defaultFreshness(['production', 'staging'])).toEqual([DEFAULT_FRESHNESS[0], DEFAULT_FRESHNESS[2]]);
    expect(defaultFreshness(['dev'])).toEqual([DEFAULT_FRESHNESS[1]]);
    expect(defaultFreshness([])).toEqual([]);
  });
});

describe('evaluateFreshness', () => {
  const rule = { space: 'production', trigger: 'nightly' as const, maxAge: '26h' };

  it('passes at exactly the limit and fails one millisecond past it', () => {
    const exactly: GoodBackup = { ...good('production', 'nightly', 0), finishedAt: new Date(NOW.getTime() - 26 * H) };
    const [ok] = evaluateFreshness([rule], [exactly], NOW);
    expect(ok).toMatchObject({ ok: true, kind: 'age', ageMs: 26 * H, maxAgeMs: 26 * H, backup: exactly });
    expect(ok!.message).toBe(`The newest good production nightly backup, ${exactly.id}, is 26.0 h old (at most 26h).`);
    const late: GoodBackup = { ...exactly, finishedAt: new Date(NOW.getTime() - 26 * H - 1) };
    const [stale] = evaluateFreshness([rule], [late], NOW);
    expect(stale).toMatchObject({ ok: false, ageMs: 26 * H + 1 });
    expect(stale!.message).toBe(`The newest good production nightly backup, ${late.id}, is 26.0 h old: older than 26h, the policy's limit.`);
  });

  it('judges the newest backup of the rule’s own space and trigger only', () => {
    const backups = [good('production', 'nightly', 30), good('production', 'nightly', 2), good('production', 'nightly', 50), good('production', 'manual', 1), good('dev', 'nightly', 1)];
    const [finding] = evaluateFreshness([rule], backups, NOW);
    expect(finding!.backup!.id).toBe('production-nightly-2');
    expect(finding!.ok).toBe(true);
    const [old] = evaluateFreshness([rule], [good('production', 'nightly', 30), good('production', 'manual', 1), good('staging', 'nightly', 1)], NOW);
    expect(old!.ok).toBe(false);
    expect(old!.backup!.id).toBe('production-nightly-30');
  });

  it('fails when there is no backup at all', () => {
    const [finding] = evaluateFreshness([rule], [good('dev', 'nightly', 1)], NOW);
    expect(finding).toEqual({ rule, kind: 'age', ok: false, maxAgeMs: 26 * H, message: 'No good production nightly backup at all; the policy wants one at most 26h old.' });
  });

  it('looks for the deployed commit only when one is given, matching a short SHA as a prefix', () => {
    const predeploy = { space: 'production', trigger: 'predeploy' as const, deployedCommit: true };
    const backups = [good('production', 'predeploy', 5, 'abcdef1234567890'), good('production', 'predeploy', 1, '1111111aaaa'), good('production', 'nightly', 1, '9999999')];
    expect(evaluateFreshness([predeploy], backups, NOW)).toEqual([
      { rule: predeploy, kind: 'commit', ok: true, skipped: true, message: "No deployed commit given ('commit'), so no production predeploy backup was looked for." },
    ]);
    const [found] = evaluateFreshness([predeploy], backups, NOW, 'ABCDEF1');
    expect(found).toMatchObject({ ok: true, backup: { id: 'production-predeploy-5' } });
    expect(found!.skipped).toBeUndefined();
    expect(found!.message).toBe('A good production predeploy backup of commit ABCDEF1 exists: production-predeploy-5.');
    const [missing] = evaluateFreshness([predeploy], backups, NOW, '9999999');
    expect(missing).toEqual({
      rule: predeploy,
      kind: 'commit',
      ok: false,
      message: 'No good production predeploy backup records commit 9999999 (2 good production predeploy backup(s) looked at); the deploy went out without one.',
    });
  });

  it('gives two findings for a rule with both checks, age first', () => {
    const both = { space: 'production', trigger: 'predeploy' as const, maxAge: '1h', deployedCommit: true };
    const findings = evaluateFreshness([both], [good('production', 'predeploy', 2, 'abcdef1')], NOW, 'abcdef1');
    expect(findings.map((f) => [f.kind, f.ok])).toEqual([
      ['age', false],
      ['commit', true],
    ]);
  });

  it('a rule without deployed-commit never looks for the commit', () => {
    expect(evaluateFreshness([rule], [good('production', 'nightly', 1, 'abcdef1')], NOW, 'abcdef1').map((f) => f.kind)).toEqual(['age']);
  });

  it('commitMatches needs a recorded commit', () => {
    expect(commitMatches(undefined, 'abcdef1')).toBe(false);
    expect(commitMatches('abcdef1', 'abcdef12')).toBe(false);
    expect(commitMatches('ABCDEF12', 'abcdef1')).toBe(true);
  });
});

describe('policy: freshness', () => {
  const problems = (text: string): string[] => {
    try {
      parsePolicy(text, 'p.yml');
      return [];
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      return error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
    }
  };

  it('is absent unless the file has the key', () => {
    expect(parsePolicy('retention: []\n', 'p.yml').freshness).toBeUndefined();
    expect('freshness' in parsePolicy('spaces: [production]\nprotected-spaces: []\n', 'p.yml')).toBe(false);
  });

  it('reads max-age and deployed-commit rules', () => {
    const policy = parsePolicy(
      'freshness:\n  - { space: production, trigger: nightly, max-age: 26h }\n  - { space: production, trigger: predeploy, deployed-commit: true }\n  - { space: dev, trigger: manual, max-age: 1w, deployed-commit: false }\n',
      'p.yml',
    );
    expect(policy.freshness).toEqual([
      { space: 'production', trigger: 'nightly', maxAge: '26h' },
      { space: 'production', trigger: 'predeploy', deployedCommit: true },
      { space: 'dev', trigger: 'manual', maxAge: '1w' },
    ]);
    expect(parsePolicy('freshness: []\n', 'p.yml').freshness).toEqual([]);
  });

  it('reports each bad rule with its line and column', () => {
    expect(problems('freshness:\n  - { space: production, trigger: nightly, max-age: 26 }\n')).toEqual([
      "2:53: freshness[0].max-age must be an age such as '26h', '1d12h' or '1w' (units: w, d, h), found the number 26 (a number needs a unit)",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nightly, max-age: 1h1h }\n')).toEqual([
      "2:53: freshness[0].max-age must be an age such as '26h', '1d12h' or '1w' (units: w, d, h), found the string '1h1h' (each unit at most once, and more than zero)",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nightly, max-age: 2 days }\n')).toEqual([
      "2:53: freshness[0].max-age must be an age such as '26h', '1d12h' or '1w' (units: w, d, h), found the string '2 days'",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nightly }\n')).toEqual([
      "2:5: freshness[0] has no rule; add 'max-age' (for example 'max-age: 26h') or 'deployed-commit: true'",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nightly, deployed-commit: false }\n')).toEqual([
      "2:5: freshness[0] checks nothing ('deployed-commit: false' and no 'max-age'); remove it or add 'max-age'",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nightly, deployed-commit: yes }\n')).toEqual([
      "2:61: freshness[0].deployed-commit must be true or false, found the string 'yes'",
    ]);
    expect(problems('freshness:\n  - { space: prod, trigger: nightly, max-age: 1h }\n')).toEqual([
      "2:14: unknown space 'prod' in freshness[0].space (did you mean 'production'?); the spaces are production, staging, dev, preview",
    ]);
    expect(problems('freshness:\n  - { space: production, trigger: nighty, max-age: 1h }\n')).toEqual([
      "2:35: unknown trigger 'nighty' in freshness[0].trigger (did you mean 'nightly'?); triggers are predeploy, nightly, manual, pre-restore",
    ]);
    expect(problems('freshness:\n  - { trigger: nightly, max-age: 1h }\n')).toEqual(["2:5: freshness[0] is missing 'space'"]);
    expect(problems('freshness:\n  - { space: dev, max-age: 1h }\n')).toEqual(["2:5: freshness[0] is missing 'trigger'"]);
    expect(problems('freshness:\n  - { space: dev, trigger: nightly, maxage: 1h }\n')).toEqual([
      "2:37: unknown key 'maxage' in freshness[0] (did you mean 'max-age'?)",
    ]);
    expect(problems('freshness:\n  - { space: dev, trigger: nightly, max-age: 1h }\n  - { space: dev, trigger: nightly, max-age: 2h }\n')).toEqual([
      "3:5: freshness[1] repeats space 'dev' with trigger 'nightly', already set by freshness[0]",
    ]);
    expect(problems('freshness: 26h\n')).toEqual(["1:12: 'freshness' must be a list, found the string '26h'"]);
  });
});
