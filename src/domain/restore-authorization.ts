/**
 * Whether a restore may go ahead. Pure: team membership is looked up elsewhere (GitHub API) and passed in.
 *
 * Callers work in two steps so that the API is only asked when the answer matters:
 *
 * ```ts
 * const checks = requiredChecks(policy, request, invocation);
 * const adminCheck = checks.adminTeam ? { isAdmin: await isTeamMember(checks.adminTeam, actor) } : undefined;
 * const rule = assertRestoreAllowed(authorizeRestore(policy, request, invocation, adminCheck));
 * ```
 *
 * The restore matrix is checked first: a pair that is never allowed is refused on that ground alone, before
 * anything else is looked at (no other check could make it allowed). For an allowed pair, who started the
 * run and the typed confirmation for protected spaces are both checked, and a refusal names every one that
 * failed, so a single re-run with both fixed succeeds.
 * Every comparison of names is whole-string equality: no prefixes, substrings or case folding.
 */
import { DEFAULT_POLICY_PATH, type AdminTeam, type Policy, type RestoreRule } from './policy.js';

export interface RestoreRequest {
  sourceSpace: string;
  targetSpace: string;
  /** Must equal the target space's name when the target is protected. */
  confirm?: string;
}

export type InvocationKind = 'automated' | 'manual';

export interface Invocation {
  kind: InvocationKind;
  /** The GitHub login that started the run, for messages. */
  actor?: string;
  /** GITHUB_EVENT_NAME, for messages. */
  eventName?: string;
  /** The caller declared the run automated (the CLI's --automated) rather than an event showing it. */
  declared?: boolean;
}

/** Result of the membership lookup named by requiredChecks. */
export interface AdminCheck {
  isAdmin: boolean;
}

export interface RequiredChecks {
  /** When set, the caller must find out whether the actor belongs to this team and pass it as an AdminCheck. */
  adminTeam?: AdminTeam;
}

export interface RefusalReason {
  reason: string;
  fix: string;
}

/** A refusal's `reason` and `fix` join those of every failed check, in order; `reasons` keeps them apart. */
export type RestoreDecision = { allowed: true; rule: RestoreRule } | { allowed: false; reason: string; fix: string; reasons: RefusalReason[] };

/**
 * Events that no person chose to start at that moment: a clock, another workflow finishing, an outside
 * system calling the API, or a deployment tool. Everything else (workflow_dispatch, push, pull_request,
 * issue_comment, release, ...) counts as started by a person. Unknown or future events therefore count as
 * manual, which is the stricter side: a manual restore needs an admin, an automated one only needs
 * `automated: true` on its rule.
 */
export const MACHINE_STARTED_EVENTS: ReadonlySet<string> = new Set([
  'schedule',
  'workflow_run',
  'repository_dispatch',
  'deployment',
  'deployment_status',
]);

/** Outside Actions (no event name, e.g. the CLI on a laptop) a person is at the keyboard: manual. */
export function classifyEvent(eventName: string | undefined): InvocationKind {
  return eventName !== undefined && MACHINE_STARTED_EVENTS.has(eventName) ? 'automated' : 'manual';
}

/**
 * Who started a run, from what its surface knows. In GitHub Actions the event shows it (classifyEvent).
 * Outside Actions nothing does, so a person is assumed, unless the command line declares the run automated
 * (`lifeboat restore --automated`, for cron or a platform task). A declaration proves nothing, so it opens
 * no more than any automation may do anyway: the pairs the policy marks `automated: true`, and never the
 * protected-space confirmation. A declared run of a manual pair is refused (checkWhoStartedIt), never
 * quietly treated as manual, so a cron job cannot end up waiting on a team check it cannot pass.
 */
export function classifyInvocation(caller: { inActions: boolean; eventName?: string; declaredAutomated?: boolean }): Pick<Invocation, 'kind' | 'declared'> {
  if (caller.declaredAutomated) return { kind: 'automated', declared: true };
  return { kind: caller.inActions ? classifyEvent(caller.eventName) : 'manual' };
}

/** What the caller must look up before calling authorizeRestore; empty when the answer would not change the decision. */
export function requiredChecks(policy: Policy, request: RestoreRequest, invocation: Invocation): RequiredChecks {
  if (!checkMatrix(policy, request).allowed) return {};
  if (invocation.kind === 'manual' && policy.adminTeam) return { adminTeam: policy.adminTeam };
  return {};
}

/**
 * Decides a restore. `adminCheck` is required exactly when requiredChecks named an admin team; leaving it
 * out then is a programming error and throws rather than guessing.
 */
export function authorizeRestore(policy: Policy, request: RestoreRequest, invocation: Invocation, adminCheck?: AdminCheck): RestoreDecision {
  const matrix = checkMatrix(policy, request);
  if (!matrix.allowed) return matrix;
  const { rule } = matrix;
  const who = checkWhoStartedIt(policy, rule, invocation, adminCheck);
  const confirmation = checkConfirmation(policy, request);
  const failed = [who, confirmation].filter((d): d is Extract<RestoreDecision, { allowed: false }> => !d.allowed);
  if (failed.length === 0) return { allowed: true, rule };
  return refuseAll(failed.flatMap((d) => d.reasons));
}

function checkWhoStartedIt(policy: Policy, rule: RestoreRule, invocation: Invocation, adminCheck: AdminCheck | undefined): RestoreDecision {
  const file = policyFile(policy);
  const pair = `${rule.from} → ${rule.to}`;

  if (invocation.kind === 'automated') {
    if (!rule.automated && invocation.declared) {
      const team = policy.adminTeam ? ` ${formatTeam(policy.adminTeam)}` : '';
      return refuse(
        `--automated was given, but the policy marks the restore ${pair} (${rule.purpose || 'no purpose given'}) as one a person starts: --automated is honoured only for pairs marked 'automated: true'.`,
        `Run it without --automated, as a member of the admin team${team} with that person's own --github-token; or, if this pair should run unattended, set 'automated: true' on that rule under 'restores:' in ${file}.`,
      );
    }
    if (!rule.automated) {
      const startedBy = invocation.eventName ? `the '${invocation.eventName}' event` : 'automation';
      return refuse(
        `The restore ${pair} (${rule.purpose || 'no purpose given'}) must be started by a person, but this run was started by ${startedBy}.`,
        `Start it by hand (for example with workflow_dispatch) as a member of the admin team, or, if it should run unattended, set 'automated: true' on that rule under 'restores:' in ${file}.`,
      );
    }
  } else {
    const team = policy.adminTeam;
    if (!team) {
      return refuse(
        `Manual restores are allowed only for members of an admin team, and ${file} names none.`,
        `Add 'admin-team: org/team-slug' (for example 'admin-team: my-org/backup-admins') to ${file}.`,
      );
    }
    if (!adminCheck) {
      throw new Error(`authorizeRestore needs the result of the admin team check for ${formatTeam(team)}; call requiredChecks first and pass its result.`);
    }
    if (!adminCheck.isAdmin) {
      const who = invocation.actor ? `'${invocation.actor}'` : 'The person running this restore';
      return refuse(
        `${who} is not a member of the admin team ${formatTeam(team)}, which manual restores require.`,
        `Ask a member of ${formatTeam(team)} to run the restore, or ask to be added to that team.`,
      );
    }
  }

  return { allowed: true, rule };
}

function checkConfirmation(policy: Policy, request: RestoreRequest): RestoreDecision | { allowed: true } {
  if (policy.protectedSpaces.includes(request.targetSpace) && request.confirm !== request.targetSpace) {
    const given = request.confirm ? ` (got '${request.confirm}')` : '';
    return refuse(
      `'${request.targetSpace}' is a protected space: restoring overwrites its data, so the target's name must be typed as confirmation${given}.`,
      `Set the input 'confirm: ${request.targetSpace}' and run again.`,
    );
  }
  return { allowed: true };
}

export class RestoreRefused extends Error {
  override readonly name = 'RestoreRefused';
  readonly reason: string;
  readonly fix: string;

  readonly reasons: RefusalReason[];

  constructor(decision: { reason: string; fix: string; reasons?: RefusalReason[] }) {
    const reasons = decision.reasons ?? [{ reason: decision.reason, fix: decision.fix }];
    super(
      reasons.length === 1
        ? `Restore refused: ${reasons[0]!.reason} To fix: ${reasons[0]!.fix}`
        : `Restore refused for ${reasons.length} reasons: ${reasons.map((r, i) => `(${i + 1}) ${r.reason} To fix: ${r.fix}`).join(' ')}`,
    );
    this.reason = decision.reason;
    this.fix = decision.fix;
    this.reasons = reasons;
  }
}

/** Returns the matching rule, or throws RestoreRefused with the reason and fix. */
export function assertRestoreAllowed(decision: RestoreDecision): RestoreRule {
  if (!decision.allowed) throw new RestoreRefused(decision);
  return decision.rule;
}

function checkMatrix(policy: Policy, request: RestoreRequest): RestoreDecision {
  const { sourceSpace, targetSpace } = request;
  const file = policyFile(policy);
  const unknown = [sourceSpace, targetSpace].filter((space, index, all) => !policy.spaces.includes(space) && all.indexOf(space) === index);
  if (unknown.length > 0) {
    const names = unknown.map((s) => `'${s}'`).join(' and ');
    return refuse(
      `${names} ${unknown.length === 1 ? 'is not a known space' : 'are not known spaces'}; the spaces are ${policy.spaces.join(', ')}.`,
      `Use one of those, or add the space under 'spaces:' in ${file}.`,
    );
  }

  const rule = policy.restores.find((r) => r.from === sourceSpace && r.to === targetSpace);
  if (rule) return { allowed: true, rule };

  const targets = policy.restores.filter((r) => r.from === sourceSpace).map((r) => r.to);
  const addRule = `add '- { from: ${sourceSpace}, to: ${targetSpace}, purpose: <why>, automated: false }' under 'restores:' in ${file}`;
  if (targets.length === 0) {
    return refuse(`The policy allows no restores from '${sourceSpace}'.`, `If this restore is intended, ${addRule}.`);
  }
  return refuse(
    `The policy does not allow restoring from '${sourceSpace}' to '${targetSpace}'; from '${sourceSpace}' it allows: ${targets.join(', ')}.`,
    `Choose one of those targets, or, if this restore is intended, ${addRule}.`,
  );
}

function refuse(reason: string, fix: string): RestoreDecision {
  return refuseAll([{ reason, fix }]);
}

function refuseAll(reasons: RefusalReason[]): RestoreDecision {
  return { allowed: false, reason: reasons.map((r) => r.reason).join(' '), fix: reasons.map((r) => r.fix).join(' '), reasons };
}

function policyFile(policy: Policy): string {
  return policy.sourcePath ?? DEFAULT_POLICY_PATH;
}

function formatTeam(team: AdminTeam): string {
  return `${team.org}/${team.slug}`;
}
