import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../src/domain/policy.js';
import {
  assertRestoreAllowed,
  authorizeRestore,
  classifyEvent,
  classifyInvocation,
  requiredChecks,
  RestoreRefused,
  type Invocation,
  type RestoreDecision,
  type RestoreRequest,
} from '../../src/domain/restore-authorization.js';

/** The default matrix, plus an admin team, read from a file as the action would. */
const WITH_ADMINS: Policy = parsePolicy('admin-team: my-org/backup-admins\n', '.github/lifeboat.yml');

const schedule: Invocation = { kind: 'automated', eventName: 'schedule' };
const byHand: Invocation = { kind: 'manual', actor: 'user1', eventName: 'workflow_dispatch' };
const admin = { isAdmin: true };
const notAdmin = { isAdmin: false };

function refusal(decision: RestoreDecision): { reason: string; fix: string } {
  if (decision.allowed) throw new Error(`expected a refusal, got allowed by ${decision.rule.from} → ${decision.rule.to}`);
  return decision;
}

function allowedRule(decision: RestoreDecision): string {
  if (!decision.allowed) throw new Error(`expected allowed, got refused: ${decision.reason} ${decision.fix}`);
  return `${decision.rule.from} → ${decision.rule.to}`;
}

describe('classifyEvent', () => {
  it.each(['schedule', 'workflow_run', 'repository_dispatch', 'deployment', 'deployment_status'])('treats %s as automated', (event) => {
    expect(classifyEvent(event)).toBe('automated');
  });

  it.each(['workflow_dispatch', 'push', 'pull_request', 'issue_comment', 'release', 'merge_group', 'some_future_event'])(
    'treats %s as started by a person',
    (event) => {
      expect(classifyEvent(event)).toBe('manual');
    },
  );

  it('treats runs outside Actions (no event name) as manual', () => {
    expect(classifyEvent(undefined)).toBe('manual');
    expect(classifyEvent('')).toBe('manual');
  });

  it('matches event names exactly, never by prefix, substring or case', () => {
    for (const event of ['Schedule', 'schedule ', 'schedules', 'sched', 'workflow', 'deployment_status_x']) {
      expect(classifyEvent(event)).toBe('manual');
    }
  });
});

describe('authorizeRestore: the restore matrix comes first', () => {
  it('refuses an unknown space and names the known spaces', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'prod', targetSpace: 'staging' }, byHand, admin));
    expect(reason).toBe("'prod' is not a known space; the spaces are production, staging, dev, preview.");
    expect(fix).toBe("Use one of those, or add the space under 'spaces:' in .github/lifeboat.yml.");
  });

  it('names both spaces when neither is known', () => {
    const { reason } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'qa', targetSpace: 'uat' }, schedule));
    expect(reason).toMatch(/^'qa' and 'uat' are not known spaces; the spaces are production, staging, dev, preview\.$/);
  });

  it('refuses a pair not in the matrix and lists the allowed targets for that source', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'dev', targetSpace: 'production' }, byHand, admin));
    expect(reason).toBe("The policy does not allow restoring from 'dev' to 'production'; from 'dev' it allows: dev, preview.");
    expect(fix).toContain("add '- { from: dev, to: production, purpose: <why>, automated: false }' under 'restores:' in .github/lifeboat.yml");
  });

  it('says so when the source has no allowed targets at all', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'staging', targetSpace: 'dev' }, schedule));
    expect(reason).toBe("The policy allows no restores from 'staging'.");
    expect(fix).toContain("from: staging, to: dev");
  });

  it('refuses a disallowed pair before asking for an admin check or a confirmation', () => {
    const request: RestoreRequest = { sourceSpace: 'preview', targetSpace: 'production' };
    expect(requiredChecks(WITH_ADMINS, request, byHand)).toEqual({});
    // No adminCheck passed: a disallowed pair must be refused, not throw for the missing check.
    expect(refusal(authorizeRestore(WITH_ADMINS, request, byHand)).reason).toBe("The policy allows no restores from 'preview'.");
  });

  it('compares space names whole, never by prefix or substring', () => {
    const policy = parsePolicy(
      'spaces: [user1, user10]\nprotected-spaces: [user10]\nrestores:\n  - { from: user1, to: user10, automated: true }\n',
      'lifeboat.yml',
    );
    expect(allowedRule(authorizeRestore(policy, { sourceSpace: 'user1', targetSpace: 'user10', confirm: 'user10' }, schedule))).toBe('user1 → user10');
    expect(refusal(authorizeRestore(policy, { sourceSpace: 'user1', targetSpace: 'user1' }, schedule)).reason).toMatch(/^The policy does not allow/);
    expect(refusal(authorizeRestore(policy, { sourceSpace: 'user', targetSpace: 'user10' }, schedule)).reason).toMatch(/^'user' is not a known space/);
    expect(refusal(authorizeRestore(policy, { sourceSpace: 'user10', targetSpace: 'user10' }, schedule)).reason).toBe(
      "The policy allows no restores from 'user10'.",
    );
    // A confirmation that merely contains or starts with the space name is not a confirmation.
    expect(refusal(authorizeRestore(policy, { sourceSpace: 'user1', targetSpace: 'user10', confirm: 'user1' }, schedule)).reason).toMatch(/protected space/);
  });

  it('names the policy file the policy came from', () => {
    const policy = parsePolicy('restores: []\n', 'deploy/lifeboat.yml');
    expect(refusal(authorizeRestore(policy, { sourceSpace: 'dev', targetSpace: 'dev' }, schedule)).fix).toContain('in deploy/lifeboat.yml');
  });
});

describe('authorizeRestore: automated runs', () => {
  it('allows a pair marked automated without any admin check', () => {
    const request = { sourceSpace: 'production', targetSpace: 'staging' };
    expect(requiredChecks(DEFAULT_POLICY, request, schedule)).toEqual({});
    expect(requiredChecks(WITH_ADMINS, request, schedule)).toEqual({});
    expect(allowedRule(authorizeRestore(DEFAULT_POLICY, request, schedule))).toBe('production → staging');
  });

  it('refuses a pair that must be started by a person, naming the event and both fixes', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'dev', targetSpace: 'preview' }, { kind: 'automated', eventName: 'workflow_run' }));
    expect(reason).toBe("The restore dev → preview (testing) must be started by a person, but this run was started by the 'workflow_run' event.");
    expect(fix).toContain("set 'automated: true' on that rule under 'restores:' in .github/lifeboat.yml");
    expect(fix).toContain('as a member of the admin team');
  });

  it('refuses an automated restore into a protected space without confirm', () => {
    const policy = parsePolicy('restores:\n  - { from: production, to: production, automated: true }\n', 'lifeboat.yml');
    const request = { sourceSpace: 'production', targetSpace: 'production' };
    expect(refusal(authorizeRestore(policy, request, schedule)).fix).toBe("Set the input 'confirm: production' and run again.");
    expect(allowedRule(authorizeRestore(policy, { ...request, confirm: 'production' }, schedule))).toBe('production → production');
  });
});

describe('authorizeRestore: manual runs', () => {
  const request = { sourceSpace: 'dev', targetSpace: 'preview' };

  it('refuses when the policy names no admin team, saying how to name one', () => {
    expect(requiredChecks(DEFAULT_POLICY, request, byHand)).toEqual({});
    const { reason, fix } = refusal(authorizeRestore(DEFAULT_POLICY, request, byHand));
    expect(reason).toBe('Manual restores are allowed only for members of an admin team, and .github/lifeboat.yml names none.');
    expect(fix).toBe("Add 'admin-team: org/team-slug' (for example 'admin-team: my-org/backup-admins') to .github/lifeboat.yml.");
  });

  it('asks for an admin check when a team is named', () => {
    expect(requiredChecks(WITH_ADMINS, request, byHand)).toEqual({ adminTeam: { org: 'my-org', slug: 'backup-admins' } });
  });

  it('throws if the caller skips the admin check it was asked for', () => {
    expect(() => authorizeRestore(WITH_ADMINS, request, byHand)).toThrow(/call requiredChecks first/);
  });

  it('refuses a non-admin, naming the actor and the team', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, request, byHand, notAdmin));
    expect(reason).toBe("'user1' is not a member of the admin team my-org/backup-admins, which manual restores require.");
    expect(fix).toBe('Ask a member of my-org/backup-admins to run the restore, or ask to be added to that team.');
  });

  it('refuses a non-admin even for a pair that automation may run', () => {
    const decision = authorizeRestore(WITH_ADMINS, { sourceSpace: 'production', targetSpace: 'staging' }, byHand, notAdmin);
    expect(refusal(decision).reason).toMatch(/is not a member of the admin team/);
  });

  it('allows an admin', () => {
    expect(allowedRule(authorizeRestore(WITH_ADMINS, request, byHand, admin))).toBe('dev → preview');
    expect(allowedRule(authorizeRestore(WITH_ADMINS, { sourceSpace: 'production', targetSpace: 'staging' }, byHand, admin))).toBe('production → staging');
  });

  it('names every reason that applies: a failed team check and a missing confirmation, each with its fix', () => {
    const decision = authorizeRestore(WITH_ADMINS, { sourceSpace: 'production', targetSpace: 'production' }, byHand, notAdmin);
    if (decision.allowed) throw new Error('expected a refusal');
    expect(decision.reasons).toEqual([
      {
        reason: "'user1' is not a member of the admin team my-org/backup-admins, which manual restores require.",
        fix: 'Ask a member of my-org/backup-admins to run the restore, or ask to be added to that team.',
      },
      {
        reason: "'production' is a protected space: restoring overwrites its data, so the target's name must be typed as confirmation.",
        fix: "Set the input 'confirm: production' and run again.",
      },
    ]);
    expect(decision.reason).toBe(`${decision.reasons[0]!.reason} ${decision.reasons[1]!.reason}`);
    expect(decision.fix).toBe(`${decision.reasons[0]!.fix} ${decision.reasons[1]!.fix}`);
    let caught: unknown;
    try {
      assertRestoreAllowed(decision);
    } catch (error) {
      caught = error;
    }
    expect((caught as RestoreRefused).message).toBe(
      `Restore refused for 2 reasons: (1) ${decision.reasons[0]!.reason} To fix: ${decision.reasons[0]!.fix} (2) ${decision.reasons[1]!.reason} To fix: ${decision.reasons[1]!.fix}`,
    );
  });

  it('names both an automated run of a pair that needs a person and a missing confirmation', () => {
    const policy = parsePolicy('protected-spaces: [production, preview]\n', 'p.yml');
    const decision = authorizeRestore(policy, { sourceSpace: 'dev', targetSpace: 'preview', confirm: 'dev' }, schedule);
    if (decision.allowed) throw new Error('expected a refusal');
    expect(decision.reasons.map((r) => r.reason)).toEqual([
      "The restore dev → preview (testing) must be started by a person, but this run was started by the 'schedule' event.",
      "'preview' is a protected space: restoring overwrites its data, so the target's name must be typed as confirmation (got 'dev').",
    ]);
  });

  it('names only the confirmation when the team check passes', () => {
    const decision = authorizeRestore(WITH_ADMINS, { sourceSpace: 'production', targetSpace: 'production' }, byHand, admin);
    if (decision.allowed) throw new Error('expected a refusal');
    expect(decision.reasons).toHaveLength(1);
  });
});

describe('authorizeRestore: protected spaces need confirm=<target>', () => {
  const request = { sourceSpace: 'production', targetSpace: 'production' };

  it('refuses without a confirmation, telling what to set', () => {
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, request, byHand, admin));
    expect(reason).toBe("'production' is a protected space: restoring overwrites its data, so the target's name must be typed as confirmation.");
    expect(fix).toBe("Set the input 'confirm: production' and run again.");
  });

  it.each(['Production', 'prod', 'production ', 'staging', 'yes', 'true'])('refuses confirm %j', (confirm) => {
    const { reason } = refusal(authorizeRestore(WITH_ADMINS, { ...request, confirm }, byHand, admin));
    expect(reason).toContain(`(got '${confirm}')`);
  });

  it('allows the exact target name', () => {
    expect(allowedRule(authorizeRestore(WITH_ADMINS, { ...request, confirm: 'production' }, byHand, admin))).toBe('production → production');
  });

  it('needs no confirmation for an unprotected target', () => {
    expect(allowedRule(authorizeRestore(DEFAULT_POLICY, { sourceSpace: 'dev', targetSpace: 'dev' }, schedule))).toBe('dev → dev');
  });
});

describe('RestoreRefused and assertRestoreAllowed', () => {
  it('returns the rule when allowed', () => {
    const rule = assertRestoreAllowed(authorizeRestore(DEFAULT_POLICY, { sourceSpace: 'production', targetSpace: 'staging' }, schedule));
    expect(rule).toEqual({ from: 'production', to: 'staging', purpose: 'keep staging in sync', automated: true });
  });

  it('throws RestoreRefused carrying the reason and the fix', () => {
    const decision = authorizeRestore(DEFAULT_POLICY, { sourceSpace: 'staging', targetSpace: 'production' }, schedule);
    let caught: unknown;
    try {
      assertRestoreAllowed(decision);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RestoreRefused);
    const refused = caught as RestoreRefused;
    expect(refused.name).toBe('RestoreRefused');
    expect(refused.reason).toBe("The policy allows no restores from 'staging'.");
    expect(refused.message).toBe(`Restore refused: ${refused.reason} To fix: ${refused.fix}`);
  });
});

describe('classifyInvocation: --automated outside Actions', () => {
  it('outside Actions a run is manual unless declared automated', () => {
    expect(classifyInvocation({ inActions: false })).toEqual({ kind: 'manual' });
    expect(classifyInvocation({ inActions: false, eventName: 'schedule' })).toEqual({ kind: 'manual' });
    expect(classifyInvocation({ inActions: false, declaredAutomated: false })).toEqual({ kind: 'manual' });
    expect(classifyInvocation({ inActions: false, declaredAutomated: true })).toEqual({ kind: 'automated', declared: true });
  });

  it('in Actions the event decides, unless the run is declared automated', () => {
    expect(classifyInvocation({ inActions: true, eventName: 'schedule' })).toEqual({ kind: 'automated' });
    expect(classifyInvocation({ inActions: true, eventName: 'workflow_dispatch' })).toEqual({ kind: 'manual' });
    expect(classifyInvocation({ inActions: true, eventName: 'workflow_dispatch', declaredAutomated: true })).toEqual({ kind: 'automated', declared: true });
  });
});

describe('authorizeRestore: a run declared automated (--automated)', () => {
  const declared: Invocation = { kind: 'automated', declared: true };

  it('is allowed for a pair the policy marks automated, with no team check', () => {
    const sync = { sourceSpace: 'production', targetSpace: 'staging' };
    expect(requiredChecks(WITH_ADMINS, sync, declared)).toEqual({});
    expect(allowedRule(authorizeRestore(WITH_ADMINS, sync, declared))).toBe('production → staging');
    expect(allowedRule(authorizeRestore(DEFAULT_POLICY, sync, declared))).toBe('production → staging');
  });

  it('is refused for a manual pair, saying --automated is the reason and how to run it instead', () => {
    const recovery = { sourceSpace: 'dev', targetSpace: 'preview' };
    expect(requiredChecks(WITH_ADMINS, recovery, declared)).toEqual({});
    const { reason, fix } = refusal(authorizeRestore(WITH_ADMINS, recovery, declared));
    expect(reason).toBe(
      "--automated was given, but the policy marks the restore dev → preview (testing) as one a person starts: --automated is honoured only for pairs marked 'automated: true'.",
    );
    expect(fix).toBe(
      "Run it without --automated, as a member of the admin team my-org/backup-admins with that person's own --github-token; or, if this pair should run unattended, set 'automated: true' on that rule under 'restores:' in .github/lifeboat.yml.",
    );
    const noTeam = refusal(authorizeRestore(DEFAULT_POLICY, recovery, declared));
    expect(noTeam.fix).toMatch(/^Run it without --automated, as a member of the admin team with that person's own --github-token; /);
  });

  it('still needs the confirmation of a protected target', () => {
    const policy = parsePolicy('protected-spaces: [staging]\n', '.github/lifeboat.yml');
    const { reason } = refusal(authorizeRestore(policy, { sourceSpace: 'production', targetSpace: 'staging' }, declared));
    expect(reason).toMatch(/'staging' is a protected space/);
    expect(allowedRule(authorizeRestore(policy, { sourceSpace: 'production', targetSpace: 'staging', confirm: 'staging' }, declared))).toBe('production → staging');
  });

  it('an event-classified automated run of a manual pair keeps its own message', () => {
    const { reason } = refusal(authorizeRestore(WITH_ADMINS, { sourceSpace: 'dev', targetSpace: 'preview' }, schedule));
    expect(reason).toMatch(/was started by the 'schedule' event/);
  });
});
