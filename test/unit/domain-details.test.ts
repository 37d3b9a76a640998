/**
 * Edges of the pure domain that the main unit tests leave open, found by the surviving mutants of
 * `npm run mutate`: tie-breaks, clamps, error names and the exact words people read in refusals.
 */
import { describe, expect, it } from 'vitest';
import { assertSpaceName, formatBackupId, USER_TRIGGERS, type Trigger } from '../../src/domain/backup-id.js';
import { latestComplete, sortNewestFirst, type BackupEntry } from '../../src/domain/catalog.js';
import { parsePolicy, type Policy } from '../../src/domain/policy.js';
import { authorizeRestore, classifyEvent } from '../../src/domain/restore-authorization.js';
import {
  describeRules,
  parseDuration,
  planRetention,
  RetentionPolicyError,
  RetentionRefusedError,
  subtractDuration,
} from '../../src/domain/retention.js';

const HOUR = 60 * 60 * 1000;

function backup(space: string, trigger: Trigger, at: string, status: BackupEntry['status'] = 'complete'): BackupEntry {
  const createdAt = new Date(at);
  return { id: formatBackupId(createdAt, trigger, '0000'), space, trigger, createdAt, sizeBytes: 1, status };
}

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('backup ids and space names', () => {
  it('lets users ask for every trigger but pre-restore', () => {
    expect(USER_TRIGGERS).toEqual(['predeploy', 'nightly', 'manual']);
  });

  it('accepts a valid space name and names the input when refusing one', () => {
    expect(assertSpaceName('production')).toBe('production');
    expect(() => assertSpaceName('Prod')).toThrow(
      "Input 'space' is 'Prod', which is not a valid space name. Use lower-case letters, digits, '-' and '_' (for example 'production').",
    );
    expect(() => assertSpaceName('a b', 'target-space')).toThrow(/^Input 'target-space' is 'a b', which is not a valid space name/);
  });
});

describe('catalog order', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  const later = new Date('2026-01-02T00:00:00Z');

  it('puts the newer backup first even when its id sorts lower', () => {
    const older = { id: 'b', createdAt: at };
    const newer = { id: 'a', createdAt: later };
    expect(sortNewestFirst([older, newer])).toEqual([newer, older]);
    expect(sortNewestFirst([newer, older])).toEqual([newer, older]);
  });

  it('breaks ties in time by id, highest first, whatever the input order', () => {
    const a = { id: 'a', createdAt: at };
    const b = { id: 'b', createdAt: at };
    const c = { id: 'c', createdAt: at };
    for (const input of [[a, b, c], [c, b, a], [b, a, c], [a, c, b]]) {
      expect(sortNewestFirst(input).map((e) => e.id)).toEqual(['c', 'b', 'a']);
    }
  });

  it('keeps entries with the same time and id in their input order', () => {
    const first = { id: 'a', createdAt: at, n: 1 };
    const second = { id: 'a', createdAt: at, n: 2 };
    expect(sortNewestFirst([first, second]).map((e) => e.n)).toEqual([1, 2]);
    expect(sortNewestFirst([second, first]).map((e) => e.n)).toEqual([2, 1]);
  });

  it('filters the latest complete backup by trigger', () => {
    const predeploy = backup('production', 'predeploy', '2026-01-01T00:00:00Z');
    const nightly = backup('production', 'nightly', '2026-01-02T00:00:00Z');
    expect(latestComplete([predeploy, nightly], { trigger: 'predeploy' })).toBe(predeploy);
    expect(latestComplete([predeploy, nightly], { trigger: 'nightly' })).toBe(nightly);
    expect(latestComplete([predeploy, nightly], { trigger: 'manual' })).toBeUndefined();
  });
});

describe('restore refusals in words', () => {
  const policy: Policy = parsePolicy(
    'admin-team: my-org/backup-admins\nrestores:\n  - { from: production, to: staging }\n',
    '.github/lifeboat.yml',
  );

  it('counts a run with no event name as started by a person', () => {
    expect(classifyEvent(undefined)).toBe('manual');
  });

  it('says automation started the run when there is no event name, and that the rule gives no purpose', () => {
    const decision = authorizeRestore(policy, { sourceSpace: 'production', targetSpace: 'staging' }, { kind: 'automated' });
    expect(decision).toMatchObject({
      allowed: false,
      reason: 'The restore production → staging (no purpose given) must be started by a person, but this run was started by automation.',
    });
  });

  it('refers to the person running the restore when the actor is unknown', () => {
    const decision = authorizeRestore(policy, { sourceSpace: 'production', targetSpace: 'staging' }, { kind: 'manual' }, { isAdmin: false });
    expect(decision).toMatchObject({
      allowed: false,
      reason: 'The person running this restore is not a member of the admin team my-org/backup-admins, which manual restores require.',
    });
  });

  it('names an unknown space once when it is both source and target', () => {
    const decision = authorizeRestore(policy, { sourceSpace: 'nope', targetSpace: 'nope' }, { kind: 'manual' }, { isAdmin: true });
    expect(decision).toMatchObject({
      allowed: false,
      reason: "'nope' is not a known space; the spaces are production, staging, dev, preview.",
    });
  });
});

describe('retention errors', () => {
  it('names its errors, so callers can tell a refused policy from a malformed one', () => {
    expect(new RetentionPolicyError('x').name).toBe('RetentionPolicyError');
    expect(new RetentionRefusedError('x').name).toBe('RetentionRefusedError');
    const refused = thrown(() => planRetention([], [{ space: 'dev', trigger: 'nightly', rules: {} }], { now: new Date() }));
    expect(refused).toBeInstanceOf(RetentionRefusedError);
    expect(refused.name).toBe('RetentionRefusedError');
  });

  it('says what is wrong with a duration', () => {
    expect(thrown(() => parseDuration('7 days')).message).toMatch(/^Invalid duration '7 days': not a duration\. Write whole numbers/);
    expect(thrown(() => parseDuration('1d2d')).message).toMatch(/^Invalid duration '1d2d': unit 'd' appears more than once\./);
    expect(thrown(() => parseDuration('99999999999999999999h')).message).toMatch(
      /^Invalid duration '99999999999999999999h': '99999999999999999999' is too large\./,
    );
  });

  it('names the rule and the scope of a bad count or duration', () => {
    expect(thrown(() => describeRules({ keepLast: -1 })).message).toBe(
      'Retention rule keepLast for rules is -1; use a whole number of 0 or more, for example 2.',
    );
    expect(thrown(() => describeRules({ keepWithin: { years: 0, months: 0, weeks: 0, days: -1, hours: 0 } })).message).toBe(
      'Retention rule keepWithin for rules is not a valid duration; use whole numbers of 0 or more.',
    );
    expect(() => describeRules({ keepWithin: { years: 0, months: 0, weeks: 0, days: 1.5, hours: 0 } })).toThrow(RetentionPolicyError);
  });

  it('accepts a keep-within given as a Duration, zero fields and all', () => {
    expect(describeRules({ keepWithin: { years: 0, months: 0, weeks: 1, days: 0, hours: 12 } })).toBe('keep-within 1w12h');
    expect(describeRules({ keepWithin: { years: 0, months: 0, weeks: 0, days: 0, hours: 0 } })).toBe('no rules');
  });

  it('refuses a bad now or grace period with a message naming the option', () => {
    expect(() => planRetention([], [], { now: new Date(Number.NaN) })).toThrow('planRetention: options.now is not a valid date.');
    expect(() => planRetention([], [], { now: new Date(), incompleteGraceMs: -1 })).toThrow(
      'planRetention: incompleteGraceMs is -1; use a number of milliseconds of 0 or more.',
    );
  });
});

describe('retention windows', () => {
  it('clamps a window reaching before the earliest date instead of returning an invalid date', () => {
    const now = new Date('2026-11-21T00:00:00Z');
    const earliest = -8.64e15;
    expect(subtractDuration(now, { years: 0, months: 0, weeks: 0, days: 2e8, hours: 0 }).getTime()).toBe(earliest);
    expect(subtractDuration(now, { years: 0, months: 0, weeks: 0, days: 1e306, hours: 0 }).getTime()).toBe(earliest);
    // Just inside the range: not clamped.
    expect(subtractDuration(now, { years: 0, months: 0, weeks: 0, days: 1e8, hours: 0 }).getTime()).toBe(now.getTime() - 1e8 * 24 * HOUR);
  });

  it('accepts a grace period of zero: an incomplete backup is then removed as soon as it is older than now', () => {
    const now = new Date('2026-11-21T12:00:00Z');
    const started = backup('dev', 'nightly', '2026-11-21T11:59:59Z', 'incomplete');
    const plan = planRetention([started], [], { now, incompleteGraceMs: 0 });
    expect(plan.remove.map((r) => r.reason)).toEqual(['incomplete and older than grace period 0h']);
    expect(plan.keep).toEqual([]);
  });

  it('states the grace period of an incomplete backup in the largest whole unit', () => {
    const now = new Date('2026-11-21T12:00:00Z');
    const running = backup('dev', 'nightly', '2026-11-21T11:59:59Z', 'incomplete');
    const reason = (incompleteGraceMs: number) => planRetention([running], [], { now, incompleteGraceMs }).keep[0]!.reasons;
    expect(reason(2 * HOUR)).toEqual(['incomplete, younger than grace period 2h']);
    expect(reason(90 * 60_000)).toEqual(['incomplete, younger than grace period 90min']);
    expect(reason(30_000)).toEqual(['incomplete, younger than grace period 30s']);
    expect(reason(1_500)).toEqual(['incomplete, younger than grace period 1500ms']);
  });
});
