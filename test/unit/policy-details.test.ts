/**
 * The details of policy parsing that decide what a user reads when a file is wrong: one issue per problem
 * (never a follow-on issue for a value already reported), the exact wording of hints and suggestions, and
 * the order of issues. Written against the surviving mutants of `npm run mutate`.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, parsePolicy, PolicyError } from '../../src/domain/policy.js';

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

const SPACES_ARE = 'the spaces are production, staging, dev, preview';

describe('DEFAULT_POLICY restore purposes', () => {
  it('says what each default restore is for', () => {
    expect(DEFAULT_POLICY.restores.map((r) => r.purpose)).toEqual(['recovery', 'keep staging in sync', 'testing', 'testing']);
  });
});

describe('PolicyError', () => {
  it('is named PolicyError, so callers and logs can tell it from other failures', () => {
    const error = (() => {
      try {
        parsePolicy('bogus: 1\n', PATH);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as Error).name).toBe('PolicyError');
    expect((error as PolicyError).sourcePath).toBe(PATH);
  });
});

describe('parsePolicy: what a file says', () => {
  it('accepts a one-letter organisation in admin-team', () => {
    expect(parsePolicy('admin-team: a/backup-admins\n', PATH).adminTeam).toEqual({ org: 'a', slug: 'backup-admins' });
  });

  it('keeps only the default retention entries whose space is declared when retention is omitted', () => {
    const policy = parsePolicy('spaces: [production, staging]\n', PATH);
    expect(policy.retention).toEqual([
      { space: 'production', trigger: 'predeploy', rules: { keepLast: 2 } },
      { space: 'production', trigger: 'nightly', rules: { keepWithin: '7d' } },
    ]);
  });

  it('keeps retention entries for different space/trigger pairs apart', () => {
    const policy = parsePolicy(
      'retention:\n  - { space: dev, trigger: nightly, keep-last: 3 }\n  - { space: dev, trigger: predeploy, keep-last: 1 }\n  - { space: staging, trigger: nightly, keep-within: 2w }\n',
      PATH,
    );
    expect(policy.retention).toEqual([
      { space: 'dev', trigger: 'nightly', rules: { keepLast: 3 } },
      { space: 'dev', trigger: 'predeploy', rules: { keepLast: 1 } },
      { space: 'staging', trigger: 'nightly', rules: { keepWithin: '2w' } },
    ]);
  });
});

describe('parsePolicy: one issue per problem', () => {
  it('rejects a file that is a plain string instead of falling back to the defaults', () => {
    expect(problems('hello\n')).toEqual(["1:1: expected a mapping (key: value) at the top level, found the string 'hello'"]);
  });

  it('reports space names that are not strings once each, not again as duplicates', () => {
    expect(problems('spaces: [1, 2]\nprotected-spaces: []\n')).toEqual([
      '1:10: spaces[0] must be a non-empty string, found the number 1',
      '1:13: spaces[1] must be a non-empty string, found the number 2',
    ]);
  });

  it('reports a protected-spaces that is not a list once, naming the key', () => {
    expect(problems('protected-spaces: 5\n')).toEqual(["1:19: 'protected-spaces' must be a list, found the number 5"]);
  });

  it('reports the same unknown protected space once per mention, not also as listed twice', () => {
    expect(problems('protected-spaces: [nope, nope]\n')).toEqual([
      `1:20: unknown space 'nope' in protected-spaces[0]; ${SPACES_ARE}`,
      `1:26: unknown space 'nope' in protected-spaces[1]; ${SPACES_ARE}`,
    ]);
  });

  it('reports a restores that is not a list, naming the key', () => {
    expect(problems('restores: true\n')).toEqual(["1:11: 'restores' must be a list, found true"]);
  });

  it("names the missing 'to' of a restore", () => {
    expect(problems('restores: [{ from: dev }]\n')).toEqual(["1:12: restores[0] is missing 'to'"]);
  });

  it('reports broken restores once each, never as repeats of each other', () => {
    // Each pair of entries is broken the same way; the broken entries must not count as allowed pairs.
    expect(problems('restores: [{from: nope, to: staging}, {from: nope, to: staging}]\n')).toEqual([
      `1:19: unknown space 'nope' in restores[0].from; ${SPACES_ARE}`,
      `1:46: unknown space 'nope' in restores[1].from; ${SPACES_ARE}`,
    ]);
    expect(problems('restores: [{from: dev, to: nope}, {from: dev, to: nope}]\n')).toEqual([
      `1:28: unknown space 'nope' in restores[0].to; ${SPACES_ARE}`,
      `1:51: unknown space 'nope' in restores[1].to; ${SPACES_ARE}`,
    ]);
    expect(problems('restores: [{from: dev, to: dev, purpose: 5}, {from: dev, to: dev, purpose: 5}]\n')).toEqual([
      '1:42: restores[0].purpose must be a non-empty string, found the number 5',
      '1:76: restores[1].purpose must be a non-empty string, found the number 5',
    ]);
    expect(problems('restores: [{from: dev, to: dev, automated: 1}, {from: dev, to: dev, automated: 1}]\n')).toEqual([
      '1:44: restores[0].automated must be true or false, found the number 1',
      '1:80: restores[1].automated must be true or false, found the number 1',
    ]);
  });

  it('rejects an empty purpose, and describes a boolean where a string belongs', () => {
    expect(problems("restores: [{from: dev, to: dev, purpose: ''}]\n")).toEqual(['1:42: restores[0].purpose must be a non-empty string, found nothing']);
    expect(problems('restores: [{from: dev, to: dev, purpose: true}]\n')).toEqual(['1:42: restores[0].purpose must be a non-empty string, found true']);
  });

  it('points at a key that has no value, and says nothing was found', () => {
    expect(problems('restores: [ {from} ]\n')).toEqual([
      "1:13: restores[0] is missing 'to'",
      '1:14: restores[0].from must be a non-empty string, found nothing',
    ]);
  });

  it('reports a retention entry that is not a mapping', () => {
    expect(problems('retention: [5]\n')).toEqual(['1:13: expected a mapping (key: value) in retention[0], found the number 5']);
  });

  it('reports broken retention entries once each, never as repeats of each other', () => {
    expect(problems('retention: [{space: nope, trigger: nightly, keep-last: 1}, {space: nope, trigger: nightly, keep-last: 1}]\n')).toEqual([
      `1:21: unknown space 'nope' in retention[0].space; ${SPACES_ARE}`,
      `1:68: unknown space 'nope' in retention[1].space; ${SPACES_ARE}`,
    ]);
    expect(problems('retention: [{space: dev, trigger: 5, keep-last: 1}, {space: dev, trigger: 5, keep-last: 1}]\n')).toEqual([
      '1:35: retention[0].trigger must be a non-empty string, found the number 5',
      '1:75: retention[1].trigger must be a non-empty string, found the number 5',
    ]);
    expect(problems('retention: [{space: dev, trigger: nightly, keep-last: x}, {space: dev, trigger: nightly, keep-last: x}]\n')).toEqual([
      "1:55: retention[0].keep-last must be a whole number of backups (0 or more), found the string 'x'",
      "1:101: retention[1].keep-last must be a whole number of backups (0 or more), found the string 'x'",
    ]);
  });

  it('reports a key that is not a plain name, describing it', () => {
    expect(problems('1: a\n')).toEqual(['1:1: keys at the top level must be plain names, found the number 1']);
    expect(problems('~: a\n')).toEqual(['1:1: keys at the top level must be plain names, found nothing']);
  });

  it('reports an alias whose anchor does not exist', () => {
    expect(problems('spaces: *nope\n')).toEqual(["1:1: 'spaces' must be a list, found nothing", "1:9: alias '*nope' refers to no anchor"]);
  });

  it('sorts issues on the same line by column', () => {
    // Found in another order: the unknown key while reading the top level, the bad space name later.
    expect(problems('{ spaces: [BAD], bogus: 1, protected-spaces: [] }\n')).toEqual([
      "1:12: spaces[0] 'BAD' is not a valid space name; use lower-case letters, digits, '-' and '_', starting with a letter or digit",
      "1:18: unknown key 'bogus' at the top level; allowed keys are spaces, admin-team, protected-spaces, restores, retention, replica-retention, signing, freshness, immutability",
    ]);
  });

  it('gives the YAML parser message without the parser pointing at the source itself', () => {
    // The issue's own line and column locate the problem; a pretty-printed excerpt would repeat it.
    const [problem] = problems('spaces: [a\n');
    expect(problem).toBe('2:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]');
  });
});

describe('parsePolicy: duration hints', () => {
  const within = (value: string) => problems(`retention: [{space: dev, trigger: nightly, keep-within: ${value}}]\n`);
  const must = "1:57: retention[0].keep-within must be a duration such as '7d', '24h' or '1d12h' (units: y, m = months, w, d, h), found";

  it('hints that each unit may appear once', () => {
    expect(within('1d1d')).toEqual([`${must} the string '1d1d' (each unit at most once)`]);
  });
  it('hints that a number needs a unit', () => {
    expect(within('7')).toEqual([`${must} the number 7 (a number needs a unit)`]);
  });
  it('gives no hint for text that is not a duration at all', () => {
    expect(within('7x')).toEqual([`${must} the string '7x'`]);
    expect(within('true')).toEqual([`${must} true`]);
  });
});

describe('parsePolicy: suggestions', () => {
  const unknownSpace = (spaces: string, name: string) =>
    problems(`spaces: [${spaces}]\nprotected-spaces: []\nrestores: [{from: ${name}, to: ${name}}]\n`)[0];

  it('suggests the closest space, the first of equally close ones', () => {
    expect(unknownSpace('staginga, stagingb', 'stagingaa')).toContain("(did you mean 'staginga'?)");
    expect(unknownSpace('stagingb, staginga', 'stagingaa')).toContain("(did you mean 'staginga'?)");
    expect(unknownSpace('staginga, stagingb', 'stagingc')).toContain("(did you mean 'staginga'?)");
  });

  it("treats '_' and '-' as the same letter", () => {
    expect(unknownSpace('my-app-prod-eu', 'my_app_prod_eu')).toContain("(did you mean 'my-app-prod-eu'?)");
    expect(problems('retention: [{space: dev, trigger: nightly, keep_mon: 1}]\n')).toEqual([
      "1:44: unknown key 'keep_mon' in retention[0] (did you mean 'keep-monthly'?)",
    ]);
  });

  it('suggests a name that a value of three letters or more abbreviates, when only one does', () => {
    expect(problems('restores: [{from: pro, to: staging}]\n')).toEqual([
      `1:19: unknown space 'pro' in restores[0].from (did you mean 'production'?); ${SPACES_ARE}`,
    ]);
    // Shorter than three letters: too little to guess from.
    expect(problems('restores: [{from: s, to: staging}]\n')).toEqual([`1:19: unknown space 's' in restores[0].from; ${SPACES_ARE}`]);
    // 'pre' abbreviates both predeploy and pre-restore.
    expect(problems('retention: [{space: dev, trigger: pre, keep-last: 1}]\n')).toEqual([
      "1:35: unknown trigger 'pre' in retention[0].trigger; triggers are predeploy, nightly, manual, pre-restore",
    ]);
  });

  it('counts every letter of the value when measuring closeness', () => {
    // Three letters away from 'dev' (too far); ignoring the last letter would make it two.
    expect(problems('restores: [{from: devxyz, to: staging}]\n')).toEqual([`1:19: unknown space 'devxyz' in restores[0].from; ${SPACES_ARE}`]);
  });
});
