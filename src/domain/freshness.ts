/**
 * Freshness: whether each space has the backups the policy expects, now. Pure: the check action reads
 * the bucket and hands the newest backups of each space and trigger here, with the time.
 *
 * ```yaml
 * freshness:
 *   - { space: production, trigger: nightly, max-age: 26h }        # the newest good nightly is at most 26 h old
 *   - { space: production, trigger: predeploy, deployed-commit: true } # with the check's `commit` input: a predeploy of that commit exists
 * ```
 *
 * With no `freshness` key, FAC's defaults apply to the spaces the policy declares: the newest nightly
 * of production and of dev at most 26 h old, and (only when `commit` is given) a predeploy backup of
 * production made for that commit.
 */
import type { Trigger } from './backup-id.js';

export interface FreshnessRule {
  space: string;
  trigger: Trigger;
  /** Text as written (`26h`, `1d2h`, `1w`); the newest good backup must have finished within it. */
  maxAge?: string;
  /** When the check is given a deployed commit, a good backup of this space and trigger must record it. */
  deployedCommit?: boolean;
}

export const DEFAULT_FRESHNESS: readonly FreshnessRule[] = Object.freeze([
  Object.freeze({ space: 'production', trigger: 'nightly' as const, maxAge: '26h' }),
  Object.freeze({ space: 'dev', trigger: 'nightly' as const, maxAge: '26h' }),
  Object.freeze({ space: 'production', trigger: 'predeploy' as const, deployedCommit: true }),
]);

/** The default rules whose space the policy declares (a policy without dev has no dev rule). */
export function defaultFreshness(spaces: readonly string[]): FreshnessRule[] {
  return DEFAULT_FRESHNESS.filter((rule) => spaces.includes(rule.space));
}

const HOUR_MS = 3_600_000;
const UNIT_MS: Record<string, number> = { w: 7 * 24 * HOUR_MS, d: 24 * HOUR_MS, h: HOUR_MS };
export const MAX_AGE_PATTERN = /^(\d+[wdh])+$/;

/**
 * `26h`, `1d2h`, `2w`: whole numbers with units w (weeks), d (days) and h (hours), each at most once.
 * Months and years are left out on purpose: a freshness limit is hours, and `m` would read as minutes.
 * Returns undefined for anything else, and for zero (a limit nothing can meet).
 */
export function parseMaxAge(text: string): number | undefined {
  if (!MAX_AGE_PATTERN.test(text)) return undefined;
  const seen = new Set<string>();
  let total = 0;
  for (const [, digits, unit] of text.matchAll(/(\d+)([wdh])/g)) {
    if (seen.has(unit!)) return undefined;
    seen.add(unit!);
    total += Number(digits) * UNIT_MS[unit!]!;
  }
  return Number.isSafeInteger(total) && total > 0 ? total : undefined;
}

/** A good backup as the check saw it: complete, with a valid manifest. */
export interface GoodBackup {
  id: string;
  space: string;
  trigger: Trigger;
  finishedAt: Date;
  /** provenance.commit of its manifest, when it ran in GitHub Actions. */
  commit?: string;
}

export interface FreshnessFinding {
  rule: FreshnessRule;
  /** 'age': max-age; 'commit': deployed-commit. */
  kind: 'age' | 'commit';
  ok: boolean;
  /** Not checked: a deployed-commit rule when no commit was given. */
  skipped?: boolean;
  /** The backup the finding is about: the newest good one for age, the one of the commit for commit. */
  backup?: GoodBackup;
  ageMs?: number;
  maxAgeMs?: number;
  message: string;
}

/** A commit as given: 7 to 40 hex digits (a short SHA matches as a prefix). */
export const COMMIT_PATTERN = /^[0-9a-f]{7,40}$/;

export function commitMatches(recorded: string | undefined, given: string): boolean {
  return recorded !== undefined && recorded.toLowerCase().startsWith(given.toLowerCase());
}

const HOURS = (ms: number) => `${(ms / HOUR_MS).toFixed(1)} h`;

/**
 * Evaluates every rule against the good backups (any order). A rule with both max-age and deployed-commit
 * gives two findings. Age is measured from the backup's end: the moment it became restorable.
 */
export function evaluateFreshness(rules: readonly FreshnessRule[], good: readonly GoodBackup[], now: Date, commit?: string): FreshnessFinding[] {
  const findings: FreshnessFinding[] = [];
  for (const rule of rules) {
    const matching = good
      .filter((b) => b.space === rule.space && b.trigger === rule.trigger)
      .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
    const what = `${rule.space} ${rule.trigger}`;
    if (rule.maxAge !== undefined) {
      const maxAgeMs = parseMaxAge(rule.maxAge)!;
      const newest = matching[0];
      if (!newest) {
        findings.push({ rule, kind: 'age', ok: false, maxAgeMs, message: `No good ${what} backup at all; the policy wants one at most ${rule.maxAge} old.` });
      } else {
        const ageMs = now.getTime() - newest.finishedAt.getTime();
        const ok = ageMs <= maxAgeMs;
        findings.push({
          rule,
          kind: 'age',
          ok,
          backup: newest,
          ageMs,
          maxAgeMs,
          message: ok
            ? `The newest good ${what} backup, ${newest.id}, is ${HOURS(ageMs)} old (at most ${rule.maxAge}).`
            : `The newest good ${what} backup, ${newest.id}, is ${HOURS(ageMs)} old: older than ${rule.maxAge}, the policy's limit.`,
        });
      }
    }
    if (rule.deployedCommit) {
      if (commit === undefined) {
        findings.push({ rule, kind: 'commit', ok: true, skipped: true, message: `No deployed commit given ('commit'), so no ${what} backup was looked for.` });
      } else {
        const found = matching.find((b) => commitMatches(b.commit, commit));
        findings.push({
          rule,
          kind: 'commit',
          ok: found !== undefined,
          ...(found ? { backup: found } : {}),
          message: found
            ? `A good ${what} backup of commit ${commit} exists: ${found.id}.`
            : `No good ${what} backup records commit ${commit} (${matching.length} good ${what} backup(s) looked at); the deploy went out without one.`,
        });
      }
    }
  }
  return findings;
}
