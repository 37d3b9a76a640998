import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, DURATION_PATTERN, parsePolicy, PolicyError } from '../../src/domain/policy.js';

const PATH = '.github/lifeboat.yml';

/** The problems a file produces, as `line:column: message`, or [] when it parses. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, PATH);
    return [];
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
  }
}

/** Expects exactly one problem and returns it. */
function onlyProblem(text: string): string {
  const found = problems(text);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('DEFAULT_POLICY', () => {
  it("holds FAC's spaces, restore matrix, protection and retention, with no admin team", () => {
    expect(DEFAULT_POLICY.spaces).toEqual(['production', 'staging', 'dev', 'preview']);
    expect(DEFAULT_POLICY.protectedSpaces).toEqual(['production']);
    expect(DEFAULT_POLICY.adminTeam).toBeUndefined();
    expect(DEFAULT_POLICY.sourcePath).toBeUndefined();
    expect(DEFAULT_POLICY.restores.map((r) => [r.from, r.to, r.automated])).toEqual([
      ['production', 'production', false],
      ['production', 'staging', true],
      ['dev', 'dev', true],
      ['dev', 'preview', false],
    ]);
    expect(DEFAULT_POLICY.retention).toEqual([
      { space: 'production', trigger: 'predeploy', rules: { keepLast: 2 } },
      { space: 'production', trigger: 'nightly', rules: { keepWithin: '7d' } },
      { space: 'dev', trigger: 'nightly', rules: { keepWithin: '1d' } },
    ]);
  });

  it('is frozen, so no caller can change the shared defaults', () => {
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY.restores)).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY.restores[0])).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY.retention[0]!.rules)).toBe(true);
  });
});

describe('parsePolicy: valid files', () => {
  it('treats an empty file or one with only comments as all defaults, remembering the path', () => {
    for (const text of ['', '# nothing here yet\n', '---\n']) {
      const policy = parsePolicy(text, PATH);
      expect(policy.sourcePath).toBe(PATH);
      expect({ ...policy, sourcePath: undefined }).toEqual({ ...DEFAULT_POLICY });
    }
  });

  it('reads every key', () => {
    const policy = parsePolicy(
      `spaces: [prod, stage]
admin-team: my-org/backup-admins
protected-spaces: [prod, stage]
restores:
  - from: prod
    to: stage
    purpose: keep stage in sync
    automated: true
  - { from: stage, to: stage }
retention:
  - space: prod
    trigger: nightly
    keep-last: 3
    keep-within: 1d12h
    keep-hourly: 24
    keep-daily: 7
    keep-weekly: 4
    keep-monthly: 12
    keep-yearly: 0
`,
      PATH,
    );
    expect(policy).toEqual({
      spaces: ['prod', 'stage'],
      adminTeam: { org: 'my-org', slug: 'backup-admins' },
      protectedSpaces: ['prod', 'stage'],
      restores: [
        { from: 'prod', to: 'stage', purpose: 'keep stage in sync', automated: true },
        // purpose and automated are optional; automated defaults to the stricter false.
        { from: 'stage', to: 'stage', purpose: '', automated: false },
      ],
      retention: [
        {
          space: 'prod',
          trigger: 'nightly',
          rules: { keepLast: 3, keepWithin: '1d12h', keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 0 },
        },
      ],
      sourcePath: PATH,
    });
  });

  it('falls back to the default for each omitted key', () => {
    const policy = parsePolicy('admin-team: my-org/admins\n', PATH);
    expect(policy.adminTeam).toEqual({ org: 'my-org', slug: 'admins' });
    expect(policy.spaces).toEqual(DEFAULT_POLICY.spaces);
    expect(policy.restores).toEqual(DEFAULT_POLICY.restores);
    expect(policy.protectedSpaces).toEqual(DEFAULT_POLICY.protectedSpaces);
    expect(policy.retention).toEqual(DEFAULT_POLICY.retention);
  });

  it('replaces the whole default restore matrix when restores is given', () => {
    const policy = parsePolicy('restores:\n  - { from: dev, to: preview, automated: true }\n', PATH);
    expect(policy.restores).toEqual([{ from: 'dev', to: 'preview', purpose: '', automated: true }]);
  });

  it('allows an empty restore matrix, retention list and protected list', () => {
    const policy = parsePolicy('restores: []\nretention: []\nprotected-spaces: []\n', PATH);
    expect(policy.restores).toEqual([]);
    expect(policy.retention).toEqual([]);
    expect(policy.protectedSpaces).toEqual([]);
  });

  it('keeps only the default restores and retention whose spaces are declared', () => {
    const policy = parsePolicy('spaces: [production, dev]\n', PATH);
    expect(policy.restores.map((r) => `${r.from}>${r.to}`)).toEqual(['production>production', 'dev>dev']);
    expect(policy.retention.map((r) => `${r.space}/${r.trigger}`)).toEqual(['production/predeploy', 'production/nightly', 'dev/nightly']);
    expect(policy.protectedSpaces).toEqual(['production']);
  });

  it('treats an empty admin-team as no admin team', () => {
    expect(parsePolicy('admin-team:\n', PATH).adminTeam).toBeUndefined();
  });

  it('accepts anchors and aliases', () => {
    const policy = parsePolicy('spaces: &all [a, b]\nprotected-spaces: *all\nrestores: []\nretention: []\n', PATH);
    expect(policy.protectedSpaces).toEqual(['a', 'b']);
  });
});

describe('parsePolicy: durations', () => {
  it.each(['7d', '24h', '1d12h', '2w', '1y6m', '0d', '90d'])('accepts keep-within: %s', (duration) => {
    const policy = parsePolicy(`retention:\n  - { space: dev, trigger: nightly, keep-last: 1, keep-within: ${duration} }\n`, PATH);
    expect(policy.retention[0]!.rules.keepWithin).toBe(duration);
  });

  it.each(['7', "'7'", '7days', 'd', '1.5d', '7D', "' 7d'", '-1d', '1s', "''", '1d1d', '2h1h'])('rejects keep-within: %s', (duration) => {
    const problem = onlyProblem(`retention:\n  - { space: dev, trigger: nightly, keep-within: ${duration} }\n`);
    expect(problem).toMatch(/^2:\d+: retention\[0\]\.keep-within must be a duration such as '7d'/);
  });

  it('hints that a bare number needs a unit', () => {
    expect(onlyProblem('retention:\n  - space: dev\n    trigger: nightly\n    keep-within: 7\n')).toBe(
      "4:18: retention[0].keep-within must be a duration such as '7d', '24h' or '1d12h' (units: y, m = months, w, d, h), found the number 7 (a number needs a unit)",
    );
  });

  it('exports the duration pattern it checks with', () => {
    expect(DURATION_PATTERN.test('1y6m')).toBe(true);
    expect(DURATION_PATTERN.test('1y 6m')).toBe(false);
  });
});

describe('parsePolicy: errors point at the line', () => {
  it('formats the thrown error as path:line:column lines', () => {
    const text = 'retention:\n  - space: dev\n    trigger: nightly\n    keep-lst: 2\n';
    expect(() => parsePolicy(text, PATH)).toThrow(
      `${PATH} is not a valid Lifeboat policy (1 problem):\n  ${PATH}:4:5: unknown key 'keep-lst' in retention[0] (did you mean 'keep-last'?)`,
    );
  });

  it('reports invalid YAML syntax with its line', () => {
    expect(onlyProblem('spaces: [a, b\nrestores: []\n')).toMatch(/^2:1: invalid YAML: /);
    expect(onlyProblem('spaces: [a]\nretention:\n  - space: a\n   trigger: nightly\n')).toMatch(/^4:\d+: invalid YAML: /);
  });

  it('reports a key given twice (a YAML error) at the second one', () => {
    expect(onlyProblem('spaces: [a]\nspaces: [b]\n')).toMatch(/^2:1: invalid YAML: Map keys must be unique/);
  });

  it('rejects a file that is not a mapping', () => {
    expect(onlyProblem('- production\n')).toBe('1:1: expected a mapping (key: value) at the top level, found a list');
  });

  it('rejects unknown top-level keys, suggesting a close one', () => {
    expect(onlyProblem('spaces: [production]\nprotectedSpaces: []\n')).toBe(
      "2:1: unknown key 'protectedSpaces' at the top level (did you mean 'protected-spaces'?)",
    );
    expect(onlyProblem('admin_team: a/b\n')).toContain("unknown key 'admin_team' at the top level (did you mean 'admin-team'?)");
  });

  it('lists the allowed keys when no known key is close', () => {
    const problem = onlyProblem('restores:\n  - from: dev\n    to: dev\n    colour: red\n');
    expect(problem).toBe("4:5: unknown key 'colour' in restores[0]; allowed keys are from, to, purpose, automated");
    expect(onlyProblem('bogus: 1\n')).toBe(
      "1:1: unknown key 'bogus' at the top level; allowed keys are spaces, admin-team, protected-spaces, restores, retention, replica-retention, signing, freshness, immutability",
    );
  });

  it('reports a misspelt rule key once, not also as a missing rule', () => {
    expect(onlyProblem('retention:\n  - { space: dev, trigger: nightly, keep-lsat: 1 }\n')).toBe(
      "2:37: unknown key 'keep-lsat' in retention[0] (did you mean 'keep-last'?)",
    );
  });

  it('rejects unknown spaces in restores, retention and protected-spaces', () => {
    expect(problems(`spaces: [production, dev]
protected-spaces: [prodution]
restores:
  - from: prod
    to: qa
retention:
  - space: staging
    trigger: nightly
    keep-last: 1
`)).toEqual([
      "2:20: unknown space 'prodution' in protected-spaces[0] (did you mean 'production'?); the spaces are production, dev",
      "4:11: unknown space 'prod' in restores[0].from (did you mean 'production'?); the spaces are production, dev",
      "5:9: unknown space 'qa' in restores[0].to; the spaces are production, dev",
      "7:12: unknown space 'staging' in retention[0].space; the spaces are production, dev",
    ]);
  });

  it('checks referenced spaces against the default spaces when spaces is omitted', () => {
    expect(onlyProblem('restores:\n  - { from: production, to: qa }\n')).toBe(
      "2:29: unknown space 'qa' in restores[0].to; the spaces are production, staging, dev, preview",
    );
  });

  it('rejects invalid trigger names, suggesting a close one', () => {
    expect(onlyProblem('retention:\n  - space: dev\n    trigger: nightlly\n    keep-last: 1\n')).toBe(
      "3:14: unknown trigger 'nightlly' in retention[0].trigger (did you mean 'nightly'?); triggers are predeploy, nightly, manual, pre-restore",
    );
  });

  it('rejects a malformed admin-team', () => {
    expect(onlyProblem('admin-team: backup-admins\n')).toBe(
      "1:13: 'admin-team' is 'backup-admins'; write it as 'org/team-slug', for example 'my-org/backup-admins'",
    );
    expect(onlyProblem('admin-team: "@my-org/admins"\n')).toContain("without the leading '@'");
    expect(onlyProblem('admin-team: my-org/team/extra\n')).toMatch(/^1:13: 'admin-team' is 'my-org\/team\/extra'/);
    expect(onlyProblem('admin-team: [my-org/admins]\n')).toBe("1:13: 'admin-team' must be a non-empty string, found a list");
  });

  it('rejects wrong types', () => {
    expect(problems(`spaces: production
restores:
  - from: dev
    to: dev
    purpose: 42
    automated: yes
retention:
  - space: dev
    trigger: nightly
    keep-last: -1
    keep-daily: 1.5
    keep-weekly: "4"
`)).toEqual([
      "1:9: 'spaces' must be a list, found the string 'production'",
      '5:14: restores[0].purpose must be a non-empty string, found the number 42',
      "6:16: restores[0].automated must be true or false, found the string 'yes'",
      '10:16: retention[0].keep-last must be a whole number of backups (0 or more), found the number -1',
      '11:17: retention[0].keep-daily must be a whole number of backups (0 or more), found the number 1.5',
      "12:18: retention[0].keep-weekly must be a whole number of backups (0 or more), found the string '4'",
    ]);
    expect(onlyProblem('restores:\n  - dev\n')).toBe("2:5: expected a mapping (key: value) in restores[0], found the string 'dev'");
    expect(onlyProblem('retention: {}\n')).toBe("1:12: 'retention' must be a list, found a mapping");
  });

  it('rejects bad, duplicate and missing space names', () => {
    expect(problems('spaces: [Production, dev, dev, 3]\nprotected-spaces: []\n')).toEqual([
      "1:10: spaces[0] 'Production' is not a valid space name; use lower-case letters, digits, '-' and '_', starting with a letter or digit",
      "1:27: spaces[2] 'dev' is listed twice",
      '1:32: spaces[3] must be a non-empty string, found the number 3',
    ]);
    expect(onlyProblem('spaces: []\n')).toBe("1:9: 'spaces' is empty; name at least one space, for example 'spaces: [production]'");
  });

  it('asks for protected-spaces when spaces leaves out a space protected by default', () => {
    expect(onlyProblem('spaces: [prod, dev]\n')).toBe(
      "1:1: 'spaces' leaves out 'production', which is protected by default, so say which spaces need a typed confirmation before a restore overwrites them: add 'protected-spaces: [<space>, ...]' (or 'protected-spaces: []' for none)",
    );
    expect(parsePolicy('spaces: [prod, dev]\nprotected-spaces: [prod]\n', PATH).protectedSpaces).toEqual(['prod']);
  });

  it('rejects missing required keys in restores and retention', () => {
    expect(problems('restores:\n  - to: dev\nretention:\n  - keep-last: 1\n')).toEqual([
      "2:5: restores[0] is missing 'from'",
      "4:5: retention[0] is missing 'space'",
      "4:5: retention[0] is missing 'trigger'",
    ]);
  });

  it('rejects repeated restore pairs and repeated retention entries', () => {
    expect(problems(`restores:
  - { from: dev, to: dev }
  - { from: dev, to: dev, automated: true }
retention:
  - { space: dev, trigger: nightly, keep-last: 1 }
  - { space: dev, trigger: nightly, keep-last: 2 }
protected-spaces: [production, production]
`)).toEqual([
      '3:5: restores[1] repeats the restore dev → dev already allowed by restores[0]',
      "6:5: retention[1] repeats space 'dev' with trigger 'nightly', already set by retention[0]",
      "7:32: protected-spaces[1] 'production' is listed twice",
    ]);
  });

  it('rejects a retention entry with no rule, or one that keeps nothing', () => {
    expect(onlyProblem('retention:\n  - space: dev\n    trigger: nightly\n')).toBe(
      '2:5: retention[0] has no rule; add at least one of keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly',
    );
    expect(onlyProblem('retention:\n  - { space: dev, trigger: nightly, keep-last: 0, keep-within: 0d }\n')).toMatch(
      /^2:5: retention\[0\] keeps nothing \(every rule is zero\)/,
    );
    // A single non-zero rule is enough.
    expect(problems('retention:\n  - { space: dev, trigger: nightly, keep-last: 0, keep-within: 10d }\n')).toEqual([]);
  });

  it('collects every problem, in file order, into one error', () => {
    const text = 'retention:\n  - { space: dev, trigger: never, keep-last: x }\nadmin-team: nope\nrestores: nope\n';
    let caught: unknown;
    try {
      parsePolicy(text, PATH);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PolicyError);
    const error = caught as PolicyError;
    expect(error.sourcePath).toBe(PATH);
    expect(error.issues.map((i) => [i.line, i.column])).toEqual([
      [2, 28],
      [2, 46],
      [3, 13],
      [4, 11],
    ]);
    expect(error.message).toMatch(/^\.github\/lifeboat\.yml is not a valid Lifeboat policy \(4 problems\):\n/);
    expect(error.message.split('\n')).toHaveLength(5);
  });

  it('uses the path it is given in messages', () => {
    expect(() => parsePolicy('bogus: 1\n', 'config/policy.yml')).toThrow(/config\/policy\.yml:1:1: unknown key 'bogus'/);
  });
});

describe('parsePolicy: signing', () => {
  it('reads the trusted public keys and the spaces that require signatures, without duplicates', () => {
    const policy = parsePolicy('signing:\n  public-keys: [KEY1, KEY2]\n  required-for: [production, staging, production]\n', PATH);
    expect(policy.signing).toEqual({ publicKeys: ['KEY1', 'KEY2'], requiredFor: ['production', 'staging'] });
  });

  it('takes keys without required spaces, and leaves signing out when the file does', () => {
    expect(parsePolicy('signing:\n  public-keys: [KEY1]\n', PATH).signing).toEqual({ publicKeys: ['KEY1'], requiredFor: [] });
    expect(parsePolicy('spaces: [production]\nprotected-spaces: [production]\n', PATH).signing).toBeUndefined();
    expect(DEFAULT_POLICY.signing).toBeUndefined();
  });

  it('refuses required spaces without keys to check with, naming the fix', () => {
    expect(onlyProblem('signing:\n  required-for: [production]\n')).toBe(
      "2:17: 'signing.required-for' needs the keys to check signatures with: add 'signing.public-keys' with the backup job's public key (openssl pkey -in signing-key.pem -pubout)",
    );
  });

  it('refuses an undeclared space, a misspelt key and a key that is not text', () => {
    expect(onlyProblem('signing:\n  public-keys: [K]\n  required-for: [prod]\n')).toBe(
      "3:18: unknown space 'prod' in signing.required-for[0] (did you mean 'production'?); the spaces are production, staging, dev, preview",
    );
    expect(onlyProblem('signing:\n  public-key: [K]\n')).toBe("2:3: unknown key 'public-key' in 'signing' (did you mean 'public-keys'?)");
    expect(onlyProblem('signing:\n  public-keys: [[K]]\n')).toBe('2:17: signing.public-keys[0] must be a non-empty string, found a list');
    expect(onlyProblem('signing: yes\n')).toBe("1:10: expected a mapping (key: value) in 'signing', found the string 'yes'");
  });
});
