/** The replica's own retention (docs/replication.md): `replica-retention`, read as strictly as `retention`. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, parsePolicy, PolicyError, retentionFor } from '../../src/domain/policy.js';

const PATH = '.github/lifeboat.yml';

function problems(text: string): string[] {
  try {
    parsePolicy(text, PATH);
    return [];
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
  }
}

describe('replica-retention', () => {
  it('is absent by default, and the replica then follows retention', () => {
    const policy = parsePolicy('retention:\n  - { space: dev, trigger: nightly, keep-last: 2 }\n', PATH);
    expect(policy.replicaRetention).toBeUndefined();
    expect('replicaRetention' in policy).toBe(false);
    expect(retentionFor(policy, 'replica')).toBe(policy.retention);
    expect(retentionFor(policy, 'primary')).toBe(policy.retention);
    expect(DEFAULT_POLICY.replicaRetention).toBeUndefined();
  });

  it('is read like retention and used for the replica only', () => {
    const policy = parsePolicy(
      'retention:\n  - { space: production, trigger: nightly, keep-within: 7d }\nreplica-retention:\n  - { space: production, trigger: nightly, keep-within: 90d, keep-monthly: 12 }\n',
      PATH,
    );
    expect(policy.replicaRetention).toEqual([{ space: 'production', trigger: 'nightly', rules: { keepWithin: '90d', keepMonthly: 12 } }]);
    expect(retentionFor(policy, 'replica')).toBe(policy.replicaRetention);
    expect(retentionFor(policy, 'primary')).toBe(policy.retention);
    expect(policy.retention).toEqual([{ space: 'production', trigger: 'nightly', rules: { keepWithin: '7d' } }]);
  });

  it('an empty list keeps everything on the replica, whatever retention says', () => {
    const policy = parsePolicy('replica-retention: []\n', PATH);
    expect(policy.replicaRetention).toEqual([]);
    expect(retentionFor(policy, 'replica')).toEqual([]);
    expect(retentionFor(policy, 'primary')).toEqual(DEFAULT_POLICY.retention);
  });

  it('reports its problems with line, column and its own name', () => {
    expect(problems('replica-retention:\n  - { space: prod, trigger: nightly, keep-last: 2 }\n')).toEqual([
      "2:14: unknown space 'prod' in replica-retention[0].space (did you mean 'production'?); the spaces are production, staging, dev, preview",
    ]);
    expect(problems('replica-retention:\n  - space: dev\n    trigger: nightly\n    keep-lst: 2\n')).toEqual([
      "4:5: unknown key 'keep-lst' in replica-retention[0] (did you mean 'keep-last'?)",
    ]);
    expect(problems('replica-retention:\n  - { space: dev, trigger: nightly, keep-last: 0 }\n')).toEqual([
      '2:5: replica-retention[0] keeps nothing (every rule is zero), so prune would delete all its backups; keep at least one, for example \'keep-last: 1\'',
    ]);
    expect(problems('replica-retention: 7d\n')).toEqual(["1:20: 'replica-retention' must be a list, found the string '7d'"]);
    expect(problems('replica-retention:\n  - { space: dev, trigger: nightly, keep-last: 1 }\n  - { space: dev, trigger: nightly, keep-last: 3 }\n')).toEqual([
      "3:5: replica-retention[1] repeats space 'dev' with trigger 'nightly', already set by replica-retention[0]",
    ]);
    expect(problems('replica-retention:\n  - { space: dev, keep-last: 1 }\n')).toEqual(["2:5: replica-retention[0] is missing 'trigger'"]);
  });

  it('suggests the key when it is misspelt at the top level', () => {
    expect(problems('replica-retension: []\n')).toEqual(["1:1: unknown key 'replica-retension' at the top level (did you mean 'replica-retention'?)"]);
  });
});
