import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../src/domain/catalog.js';
import {
  backupRetention,
  holdLockedBackups,
  immutabilityFor,
  lockedReason,
  lockedUntil,
  parseObjectRetention,
  retentionExtension,
  s3LockMode,
  type ObjectRetention,
} from '../../src/domain/immutability.js';
import { parsePolicy, PolicyError } from '../../src/domain/policy.js';
import type { RetentionPlan } from '../../src/domain/retention.js';

const PATH = '.github/lifeboat.yml';
const at = (iso: string) => new Date(iso);
const gov = (iso: string): ObjectRetention => ({ mode: 'governance', retainUntil: at(iso) });
const comp = (iso: string): ObjectRetention => ({ mode: 'compliance', retainUntil: at(iso) });

function problems(text: string): string[] {
  try {
    parsePolicy(text, PATH);
    return [];
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
  }
}

describe('parsePolicy: immutability', () => {
  it('reads entries per space and trigger, and is absent when not given', () => {
    const policy = parsePolicy(
      'immutability:\n  - { space: production, trigger: nightly, mode: governance, days: 30 }\n  - { space: dev, trigger: manual, mode: compliance, days: 1 }\n',
      PATH,
    );
    expect(policy.immutability).toEqual([
      { space: 'production', trigger: 'nightly', mode: 'governance', days: 30 },
      { space: 'dev', trigger: 'manual', mode: 'compliance', days: 1 },
    ]);
    expect(parsePolicy('spaces: [production]\n', PATH).immutability).toBeUndefined();
    expect(parsePolicy('immutability: []\n', PATH).immutability).toEqual([]);
    expect(parsePolicy('immutability:\n  - { space: dev, trigger: nightly, mode: compliance, days: 36500 }\n', PATH).immutability![0]!.days).toBe(36500);
  });

  it('reports each bad value with its line, column, and the fix', () => {
    expect(problems('immutability: yes\n')).toEqual(["1:15: 'immutability' must be a list, found the string 'yes'"]);
    expect(problems('immutability:\n  - { space: prod, trigger: nightly, mode: governance, days: 30 }\n')).toEqual([
      "2:14: unknown space 'prod' in immutability[0].space (did you mean 'production'?); the spaces are production, staging, dev, preview",
    ]);
    expect(problems('immutability:\n  - { space: dev, trigger: nighty, mode: governance, days: 30 }\n')).toEqual([
      "2:28: unknown trigger 'nighty' in immutability[0].trigger (did you mean 'nightly'?); triggers are predeploy, nightly, manual, pre-restore",
    ]);
    const [mode] = problems('immutability:\n  - { space: dev, trigger: nightly, mode: governence, days: 30 }\n');
    expect(mode).toMatch(/^2:43: unknown mode 'governence' in immutability\[0\]\.mode \(did you mean 'governance'\?\); use 'governance' .* or 'compliance'/);
    expect(problems('immutability:\n  - { space: dev, trigger: nightly, mode: 3, days: 30 }\n')).toEqual([
      "2:43: immutability[0].mode must be a non-empty string, found the number 3",
    ]);
    for (const days of ['0', '-1', '1.5', '36501', "'30'", '30d']) {
      expect(problems(`immutability:\n  - { space: dev, trigger: nightly, mode: governance, days: ${days} }\n`)).toEqual([
        expect.stringMatching(/^2:61: immutability\[0\]\.days must be a whole number of days from 1 to 36500, found /),
      ]);
    }
    expect(problems('immutability:\n  - { space: dev, trigger: nightly, mode: governance, days: 1, period: 3 }\n')).toEqual([
      "2:64: unknown key 'period' in immutability[0]; allowed keys are space, trigger, mode, days",
    ]);
    expect(problems('immutability:\n  - { space: dev, trigger: nightly }\n')).toEqual([
      "2:5: immutability[0] is missing 'mode'",
      "2:5: immutability[0] is missing 'days'",
    ]);
    expect(problems('immutability:\n  - { mode: governance, days: 2 }\n')).toEqual([
      "2:5: immutability[0] is missing 'space'",
      "2:5: immutability[0] is missing 'trigger'",
    ]);
    expect(problems('immutability:\n  - dev\n')).toEqual(['2:5: expected a mapping (key: value) in immutability[0], found the string \'dev\'']);
    expect(
      problems('immutability:\n  - { space: dev, trigger: nightly, mode: governance, days: 1 }\n  - { space: dev, trigger: nightly, mode: compliance, days: 2 }\n'),
    ).toEqual(["3:5: immutability[1] repeats space 'dev' with trigger 'nightly', already set by immutability[0]"]);
    // An entry with a problem is reported once, and does not make a later entry with the same pair a repeat.
    const entry = (space: string, trigger: string, mode: string, days: string) => `  - { space: ${space}, trigger: ${trigger}, mode: ${mode}, days: ${days} }\n`;
    expect(problems('immutability:\n' + entry('dev', 'nightly', 'strict', '1') + entry('dev', 'nightly', 'governance', '1'))).toHaveLength(1);
    expect(problems('immutability:\n' + entry('dev', 'nightly', 'governance', '0') + entry('dev', 'nightly', 'governance', '1'))).toHaveLength(1);
    expect(problems('immutability:\n' + entry('prod', 'nightly', 'governance', '1') + entry('stage', 'nightly', 'governance', '1'))).toHaveLength(2);
    expect(problems('immutability:\n' + entry('dev', 'nighty', 'governance', '1') + entry('dev', 'daily', 'governance', '1'))).toHaveLength(2);
    // The same space with another trigger is a different entry.
    expect(problems('immutability:\n  - { space: dev, trigger: nightly, mode: governance, days: 1 }\n  - { space: dev, trigger: manual, mode: governance, days: 1 }\n')).toEqual([]);
  });
});

describe('immutabilityFor and backupRetention', () => {
  const entries = [
    { space: 'production', trigger: 'nightly' as const, mode: 'governance' as const, days: 30 },
    { space: 'dev', trigger: 'nightly' as const, mode: 'compliance' as const, days: 1 },
  ];
  it('finds the entry of the space and trigger, and none otherwise', () => {
    expect(immutabilityFor(entries, 'dev', 'nightly')).toBe(entries[1]);
    expect(immutabilityFor(entries, 'production', 'nightly')).toBe(entries[0]);
    expect(immutabilityFor(entries, 'dev', 'manual')).toBeUndefined();
    expect(immutabilityFor(entries, 'staging', 'nightly')).toBeUndefined();
    expect(immutabilityFor(undefined, 'dev', 'nightly')).toBeUndefined();
  });
  it('retains until the start plus whole days', () => {
    expect(backupRetention(entries[0]!, at('2026-01-31T02:00:00.123Z'))).toEqual(gov('2026-03-02T02:00:00.123Z'));
    expect(backupRetention(entries[1]!, at('2026-12-31T23:59:59Z'))).toEqual(comp('2027-01-01T23:59:59Z'));
  });
  it('spells modes the way S3 does, both ways', () => {
    expect(s3LockMode('governance')).toBe('GOVERNANCE');
    expect(s3LockMode('compliance')).toBe('COMPLIANCE');
    const until = at('2030-01-01T00:00:00Z');
    expect(parseObjectRetention('GOVERNANCE', until)).toEqual({ mode: 'governance', retainUntil: until });
    expect(parseObjectRetention('COMPLIANCE', until)).toEqual({ mode: 'compliance', retainUntil: until });
    expect(parseObjectRetention(undefined, until)).toBeUndefined();
    expect(parseObjectRetention('governance', until)).toBeUndefined();
    expect(parseObjectRetention('COMPLIANCE', undefined)).toBeUndefined();
    expect(parseObjectRetention('COMPLIANCE', new Date(Number.NaN))).toBeUndefined();
  });
});

describe('retentionExtension', () => {
  it('sets the wanted retention on content without one', () => {
    expect(retentionExtension(undefined, gov('2030-01-02T00:00:00Z'))).toEqual(gov('2030-01-02T00:00:00Z'));
  });
  it('needs nothing when the content is already kept as long and as strictly', () => {
    expect(retentionExtension(gov('2030-01-02T00:00:00Z'), gov('2030-01-02T00:00:00Z'))).toBeUndefined();
    expect(retentionExtension(gov('2030-01-03T00:00:00Z'), gov('2030-01-02T00:00:00Z'))).toBeUndefined();
    expect(retentionExtension(comp('2030-01-02T00:00:00Z'), gov('2030-01-02T00:00:00Z'))).toBeUndefined();
    expect(retentionExtension(comp('2030-01-02T00:00:00Z'), comp('2030-01-01T23:59:59.999Z'))).toBeUndefined();
  });
  it('extends to the later date, by one millisecond too, in the mode the content has', () => {
    expect(retentionExtension(gov('2030-01-02T00:00:00Z'), gov('2030-01-02T00:00:00.001Z'))).toEqual(gov('2030-01-02T00:00:00.001Z'));
    expect(retentionExtension(comp('2030-01-01T00:00:00Z'), gov('2030-01-05T00:00:00Z'))).toEqual(comp('2030-01-05T00:00:00Z'));
    // S3 refuses a mode change without s3:BypassGovernanceRetention, which the backup credential must not have.
    expect(retentionExtension(gov('2030-01-01T00:00:00Z'), comp('2030-01-05T00:00:00Z'))).toEqual(gov('2030-01-05T00:00:00Z'));
  });
  it('never shortens', () => {
    expect(retentionExtension(gov('2030-02-01T00:00:00Z'), comp('2030-01-01T00:00:00Z'))).toBeUndefined();
    expect(retentionExtension(comp('2030-02-01T00:00:00Z'), gov('2030-01-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('lockedUntil', () => {
  const now = at('2030-01-01T00:00:00Z');
  it('is undefined when nothing is locked at now', () => {
    expect(lockedUntil([], now)).toBeUndefined();
    expect(lockedUntil([undefined, undefined], now)).toBeUndefined();
    expect(lockedUntil([gov('2030-01-01T00:00:00Z'), comp('2029-12-31T00:00:00Z')], now)).toBeUndefined();
  });
  it('is the latest lock when any object is locked', () => {
    expect(lockedUntil([gov('2030-01-01T00:00:00.001Z')], now)).toEqual(gov('2030-01-01T00:00:00.001Z'));
    expect(lockedUntil([undefined, gov('2030-01-02T00:00:00Z'), comp('2030-01-03T00:00:00Z'), gov('2029-01-01T00:00:00Z')], now)).toEqual(
      comp('2030-01-03T00:00:00Z'),
    );
    expect(lockedUntil([comp('2030-01-03T00:00:00Z'), gov('2030-01-02T00:00:00Z')], now)).toEqual(comp('2030-01-03T00:00:00Z'));
  });
  it('reports compliance when two locks end at the same time', () => {
    expect(lockedUntil([gov('2030-01-03T00:00:00Z'), comp('2030-01-03T00:00:00Z')], now)).toEqual(comp('2030-01-03T00:00:00Z'));
    expect(lockedUntil([comp('2030-01-03T00:00:00Z'), gov('2030-01-03T00:00:00Z')], now)).toEqual(comp('2030-01-03T00:00:00Z'));
    expect(lockedUntil([gov('2030-01-03T00:00:00Z'), gov('2030-01-03T00:00:00Z')], now)).toEqual(gov('2030-01-03T00:00:00Z'));
    // An earlier compliance lock does not replace a later governance one.
    expect(lockedUntil([gov('2030-01-03T00:00:00Z'), comp('2030-01-02T00:00:00Z')], now)).toEqual(gov('2030-01-03T00:00:00Z'));
    expect(lockedUntil([comp('2030-01-02T00:00:00Z')], now)).toEqual(comp('2030-01-02T00:00:00Z'));
  });
  it('counts a lock ending within the clock skew margin as still locked', () => {
    expect(lockedUntil([gov('2029-12-31T23:59:00Z')], now, 60_000)).toBeUndefined();
    expect(lockedUntil([gov('2029-12-31T23:59:00.001Z')], now, 60_000)).toEqual(gov('2029-12-31T23:59:00.001Z'));
  });
});

describe('holdLockedBackups', () => {
  const entry = (id: string, createdAt: string): BackupEntry => ({ id, space: 'dev', trigger: 'nightly', createdAt: at(createdAt), sizeBytes: 1, status: 'complete' });
  const newest = entry('20300103T000000Z-nightly', '2030-01-03T00:00:00Z');
  const middle = entry('20300102T000000Z-nightly', '2030-01-02T00:00:00Z');
  const oldest = entry('20300101T000000Z-nightly', '2030-01-01T00:00:00Z');
  const plan: RetentionPlan = {
    keep: [{ entry: newest, reasons: ['keep-last 1 (#1)'] }],
    remove: [
      { entry: middle, reason: 'not kept by any rule' },
      { entry: oldest, reason: 'not kept by any rule' },
    ],
    rescued: [],
  };
  it('leaves the plan alone when nothing planned for removal is locked', () => {
    const held = holdLockedBackups(plan, new Map([[newest, gov('2031-01-01T00:00:00Z')]]));
    expect(held.plan).toBe(plan);
    expect(held.locked).toEqual([]);
  });
  it('keeps locked backups whole, newest first, with the date they become deletable', () => {
    const lock = comp('2030-02-01T00:00:00Z');
    const held = holdLockedBackups(plan, new Map([[oldest, lock]]));
    expect(held.locked).toEqual([{ entry: oldest, lock }]);
    expect(held.plan.remove).toEqual([{ entry: middle, reason: 'not kept by any rule' }]);
    expect(held.plan.keep).toEqual([
      { entry: newest, reasons: ['keep-last 1 (#1)'] },
      { entry: oldest, reasons: ['locked (compliance) until 2030-02-01T00:00:00.000Z: the rules would delete it, and it becomes deletable then'] },
    ]);
    const both = holdLockedBackups(plan, new Map([[oldest, lock], [middle, gov('2030-01-10T00:00:00Z')]]));
    expect(both.plan.remove).toEqual([]);
    expect(both.plan.keep.map((k) => k.entry)).toEqual([newest, middle, oldest]);
    expect(both.locked.map((l) => l.entry)).toEqual([middle, oldest]);
    expect(plan.remove).toHaveLength(2);
  });
  it('orders backups made at the same time by id', () => {
    const twin = entry('20300103T000000Z-manual', '2030-01-03T00:00:00Z');
    const twinPlan: RetentionPlan = { keep: [{ entry: newest, reasons: ['r'] }], remove: [{ entry: twin, reason: 'x' }], rescued: [] };
    expect(holdLockedBackups(twinPlan, new Map([[twin, gov('2031-01-01T00:00:00Z')]])).plan.keep.map((k) => k.entry.id)).toEqual([newest.id, twin.id]);
    const later: RetentionPlan = { keep: [{ entry: twin, reasons: ['r'] }], remove: [{ entry: newest, reason: 'x' }], rescued: [] };
    expect(holdLockedBackups(later, new Map([[newest, gov('2031-01-01T00:00:00Z')]])).plan.keep.map((k) => k.entry.id)).toEqual([newest.id, twin.id]);
  });
  it('words the reason with the mode and the date', () => {
    expect(lockedReason(gov('2030-01-01T00:00:00Z'))).toBe('locked (governance) until 2030-01-01T00:00:00.000Z: the rules would delete it, and it becomes deletable then');
  });
});
