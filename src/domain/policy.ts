/**
 * The policy file (`.github/lifeboat.yml` by default): which spaces exist, which restores are allowed
 * and by whom, which spaces need a typed confirmation, and how long backups are kept.
 *
 * ```yaml
 * spaces: [production, staging, dev, preview]
 * admin-team: my-org/backup-admins     # optional; members may run manual restores
 * protected-spaces: [production]       # restoring into these needs confirm=<space name>
 * restores:
 *   - { from: production, to: staging, purpose: keep staging in sync, automated: true }
 * retention:
 *   - { space: production, trigger: nightly, keep-within: 7d }
 * replica-retention:                  # optional: the replica's rules (docs/replication.md); default: retention
 *   - { space: production, trigger: nightly, keep-within: 90d }
 * immutability:                        # optional (docs/immutability.md): S3 Object Lock on what backups write
 *   - { space: production, trigger: nightly, mode: governance, days: 30 }
 * signing:                             # optional (docs/encryption.md)
 *   public-keys: [MCowBQYDK2VwAyEA…]   # the backup job's Ed25519 public key(s)
 *   required-for: [production]         # restores into these refuse unsigned backups
 * freshness:                           # optional; what the check action expects (src/domain/freshness.ts)
 *   - { space: production, trigger: nightly, max-age: 26h }
 * ```
 *
 * Every top-level key is optional and, when omitted, takes its value from DEFAULT_POLICY. A key that is
 * given replaces its default entirely: lists are never merged, so a file's `restores` is the whole restore
 * matrix and cannot silently inherit a default pair. When `spaces` is given, omitted `restores` and
 * `retention` keep only the default entries whose spaces are all declared. An omitted `protected-spaces`
 * is an error if `spaces` leaves out a default protected space, because a production space under another
 * name would otherwise lose its protection without anyone deciding so.
 *
 * Validation is strict and reports every problem at once, each with its line and column, because a typo
 * in a policy file should never quietly widen or narrow who may overwrite a database.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { isTrigger, SPACE_PATTERN, TRIGGERS, type Trigger } from './backup-id.js';
import { parseDuration } from './retention.js';
import { MAX_AGE_PATTERN, parseMaxAge, type FreshnessRule } from './freshness.js';
import { LOCK_MODES, MAX_LOCK_DAYS, type ImmutabilityEntry, type LockMode } from './immutability.js';

export const DEFAULT_POLICY_PATH = '.github/lifeboat.yml';

export interface RestoreRule {
  from: string;
  to: string;
  /** Why this restore exists; shown in messages so people know what a rule is for. */
  purpose: string;
  /** Whether a machine-started run (schedule, workflow_run, ...) may do it without a person. */
  automated: boolean;
}

export interface AdminTeam {
  org: string;
  slug: string;
}

export interface RetentionRules {
  keepLast?: number;
  /** A duration such as `7d` or `1d12h`; units y, m (months), w, d, h. Parsed by the retention engine. */
  keepWithin?: string;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export interface RetentionEntry {
  space: string;
  trigger: Trigger;
  rules: RetentionRules;
}

/** Manifest signatures: which keys restore trusts, and which target spaces refuse unsigned backups. */
export interface SigningPolicy {
  /** Ed25519 public keys, as written (PEM or one base64 line); the engine parses them. */
  publicKeys: readonly string[];
  requiredFor: readonly string[];
}

export interface Policy {
  spaces: readonly string[];
  adminTeam?: AdminTeam;
  protectedSpaces: readonly string[];
  restores: readonly RestoreRule[];
  retention: readonly RetentionEntry[];
  /**
   * The replica's retention (docs/replication.md), when it differs: usually longer. Like `retention`, a
   * whole list: a space and trigger it does not name is kept forever on the replica.
   */
  replicaRetention?: readonly RetentionEntry[];
  signing?: SigningPolicy;
  /** The check action's rules, when the file has a `freshness` key; otherwise defaultFreshness(spaces) applies. */
  freshness?: readonly FreshnessRule[];
  /** Object Lock retention per space and trigger (docs/immutability.md); none when omitted. */
  immutability?: readonly ImmutabilityEntry[];
  /** The file this policy was read from, for messages; undefined for the built-in defaults. */
  sourcePath?: string;
}

/** FAC's rules, used when there is no policy file and for every key a file leaves out. Frozen because it is shared. */
export const DEFAULT_POLICY: Policy = deepFreeze({
  spaces: ['production', 'staging', 'dev', 'preview'],
  protectedSpaces: ['production'],
  restores: [
    { from: 'production', to: 'production', purpose: 'recovery', automated: false },
    { from: 'production', to: 'staging', purpose: 'keep staging in sync', automated: true },
    { from: 'dev', to: 'dev', purpose: 'testing', automated: true },
    { from: 'dev', to: 'preview', purpose: 'testing', automated: false },
  ],
  retention: [
    { space: 'production', trigger: 'predeploy', rules: { keepLast: 2 } },
    { space: 'production', trigger: 'nightly', rules: { keepWithin: '7d' } },
    { space: 'dev', trigger: 'nightly', rules: { keepWithin: '1d' } },
  ],
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export const DURATION_PATTERN = /^(\d+[ymwdh])+$/;

function isParsableDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** `org/team-slug`: a GitHub login, then a team slug. A leading '@' (as in mentions) is not part of it. */
const ADMIN_TEAM_PATTERN = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\/([A-Za-z0-9][A-Za-z0-9._-]*)$/;

const TOP_LEVEL_KEYS = ['spaces', 'admin-team', 'protected-spaces', 'restores', 'retention', 'replica-retention', 'signing', 'freshness', 'immutability'] as const;
const IMMUTABILITY_KEYS = ['space', 'trigger', 'mode', 'days'] as const;
const SIGNING_KEYS = ['public-keys', 'required-for'] as const;
const FRESHNESS_KEYS = ['space', 'trigger', 'max-age', 'deployed-commit'] as const;
const RESTORE_KEYS = ['from', 'to', 'purpose', 'automated'] as const;
const COUNT_RULE_KEYS = {
  'keep-last': 'keepLast',
  'keep-hourly': 'keepHourly',
  'keep-daily': 'keepDaily',
  'keep-weekly': 'keepWeekly',
  'keep-monthly': 'keepMonthly',
  'keep-yearly': 'keepYearly',
} as const;
const RULE_KEYS = ['keep-last', 'keep-within', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;
const RETENTION_KEYS = ['space', 'trigger', ...RULE_KEYS] as const;

export interface PolicyIssue {
  line: number;
  column: number;
  message: string;
}

/** Every problem found in one policy file; `issues` lets callers annotate each line (e.g. GitHub annotations). */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly sourcePath: string,
    readonly issues: readonly PolicyIssue[],
  ) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(
      `${sourcePath} is not a valid Lifeboat policy (${count}):\n` +
        issues.map((i) => `  ${sourcePath}:${i.line}:${i.column}: ${i.message}`).join('\n'),
    );
  }
}

export function parsePolicy(text: string, sourcePath: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const reader = new PolicyReader(doc, lineCounter);

  // Reading a half-parsed document would only add confusing follow-on errors.
  if (doc.errors.length > 0) {
    for (const error of doc.errors) reader.report(error.pos[0], `invalid YAML: ${error.message}`);
  } else {
    const policy = reader.readPolicy();
    if (reader.issues.length === 0) return { ...policy, sourcePath };
  }
  const issues = [...reader.issues].sort((a, b) => a.line - b.line || a.column - b.column);
  throw new PolicyError(sourcePath, issues);
}

/** A key's value together with where to point when it is wrong. */
interface Field {
  value: Node | undefined;
  /** The value's offset, or the key's when the value is missing. */
  offset: number;
  keyOffset: number;
}

type Fields<K extends string> = Partial<Record<K, Field>>;

class PolicyReader {
  readonly issues: PolicyIssue[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  report(offset: number, message: string): void {
    const { line, col } = this.lineCounter.linePos(offset);
    this.issues.push({ line, column: col, message });
  }

  readPolicy(): Omit<Policy, 'sourcePath'> {
    const root = this.deref(this.doc.contents ?? undefined);
    // An empty file (or one holding only comments) means "all defaults".
    if (root === undefined || (isScalar(root) && root.value === null)) return DEFAULT_POLICY;

    const top = this.readFields(root, 0, 'at the top level', TOP_LEVEL_KEYS);
    if (!top) return DEFAULT_POLICY;

    // Undefined `known` means the space list itself is broken; skip membership checks rather than pile on errors.
    const spaces = top.spaces ? this.readSpaceList(top.spaces) : DEFAULT_POLICY.spaces;
    const known = spaces;
    const declared = (space: string) => known === undefined || known.includes(space);

    const adminTeam = top['admin-team'] ? this.readAdminTeam(top['admin-team']) : DEFAULT_POLICY.adminTeam;

    let protectedSpaces: readonly string[];
    if (top['protected-spaces']) {
      protectedSpaces = this.readProtectedSpaces(top['protected-spaces'], known);
    } else {
      protectedSpaces = DEFAULT_POLICY.protectedSpaces;
      const missing = protectedSpaces.filter((space) => !declared(space));
      if (top.spaces && missing.length > 0) {
        const names = missing.map((s) => `'${s}'`).join(', ');
        this.report(
          top.spaces.keyOffset,
          `'spaces' leaves out ${names}, which is protected by default, so say which spaces need a typed confirmation before a restore overwrites them: add 'protected-spaces: [<space>, ...]' (or 'protected-spaces: []' for none)`,
        );
      }
    }

    const restores = top.restores
      ? this.readRestores(top.restores, known)
      : DEFAULT_POLICY.restores.filter((r) => declared(r.from) && declared(r.to));
    const retention = top.retention
      ? this.readRetention(top.retention, known)
      : DEFAULT_POLICY.retention.filter((r) => declared(r.space));

    const replicaRetention = top['replica-retention'] ? this.readRetention(top['replica-retention'], known, 'replica-retention') : undefined;
    const signing = top.signing ? this.readSigning(top.signing, known) : undefined;
    const freshness = top.freshness ? this.readFreshness(top.freshness, known) : undefined;
    const immutability = top.immutability ? this.readImmutability(top.immutability, known) : undefined;

    return {
      spaces: spaces ?? [],
      ...(adminTeam ? { adminTeam } : {}),
      protectedSpaces,
      restores,
      retention,
      ...(replicaRetention ? { replicaRetention } : {}),
      ...(signing ? { signing } : {}),
      ...(freshness ? { freshness } : {}),
      ...(immutability ? { immutability } : {}),
    };
  }

  private readImmutability(field: Field, known: readonly string[] | undefined): ImmutabilityEntry[] {
    const items = this.readList(field, "'immutability'") ?? [];
    const entries: ImmutabilityEntry[] = [];
    const seen = new Map<string, string>();
    items.forEach((item, index) => {
      const where = `immutability[${index}]`;
      const fields = this.readFields(item, field.offset, `in ${where}`, IMMUTABILITY_KEYS);
      if (!fields) return;
      const itemOffset = offsetOf(item, field.offset);
      const space = this.readRequired(fields.space, itemOffset, where, 'space', (f) => this.readKnownSpace(f.value, f.offset, `${where}.space`, known));
      const trigger = this.readRequired(fields.trigger, itemOffset, where, 'trigger', (f) => this.readTrigger(f, `${where}.trigger`));
      const mode = this.readRequired(fields.mode, itemOffset, where, 'mode', (f) => this.readLockMode(f, `${where}.mode`));
      const days = this.readRequired(fields.days, itemOffset, where, 'days', (f) => this.readLockDays(f, `${where}.days`));
      if (space === undefined || trigger === undefined || mode === undefined || days === undefined) return;
      const key = `${space}/${trigger}`;
      const earlier = seen.get(key);
      if (earlier) {
        this.report(itemOffset, `${where} repeats space '${space}' with trigger '${trigger}', already set by ${earlier}`);
        return;
      }
      seen.set(key, where);
      entries.push({ space, trigger, mode, days });
    });
    return entries;
  }

  private readLockMode(field: Field, label: string): LockMode | undefined {
    const value = this.readString(field.value, field.offset, label);
    if (value === undefined) return undefined;
    if ((LOCK_MODES as readonly string[]).includes(value)) return value as LockMode;
    this.report(
      field.offset,
      `unknown mode '${value}' in ${label}${suggestion(value, LOCK_MODES)}; use 'governance' (a credential with s3:BypassGovernanceRetention can still delete) or 'compliance' (nobody can delete until the date, not even the account's root)`,
    );
    return undefined;
  }

  private readLockDays(field: Field, label: string): number | undefined {
    const value = isScalar(field.value) ? field.value.value : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_LOCK_DAYS) return value;
    this.report(field.offset, `${label} must be a whole number of days from 1 to ${MAX_LOCK_DAYS}, found ${describe(field.value)}`);
    return undefined;
  }

  private readSigning(field: Field, known: readonly string[] | undefined): SigningPolicy | undefined {
    const fields = this.readFields(field.value, field.offset, "in 'signing'", SIGNING_KEYS);
    if (!fields) return undefined;
    const publicKeys: string[] = [];
    if (fields['public-keys']) {
      (this.readList(fields['public-keys'], "'signing.public-keys'") ?? []).forEach((item, index) => {
        const key = this.readString(item, fields['public-keys']!.offset, `signing.public-keys[${index}]`);
        if (key !== undefined) publicKeys.push(key);
      });
    }
    const requiredFor: string[] = [];
    if (fields['required-for']) {
      (this.readList(fields['required-for'], "'signing.required-for'") ?? []).forEach((item, index) => {
        const space = this.readKnownSpace(item, fields['required-for']!.offset, `signing.required-for[${index}]`, known);
        if (space !== undefined && !requiredFor.includes(space)) requiredFor.push(space);
      });
    }
    if (requiredFor.length > 0 && publicKeys.length === 0) {
      this.report(
        fields['required-for']!.offset,
        "'signing.required-for' needs the keys to check signatures with: add 'signing.public-keys' with the backup job's public key (openssl pkey -in signing-key.pem -pubout)",
      );
      return undefined;
    }
    return { publicKeys, requiredFor };
  }

  private readSpaceList(field: Field): string[] | undefined {
    const items = this.readList(field, "'spaces'");
    if (!items) return undefined;
    if (items.length === 0) {
      this.report(field.offset, "'spaces' is empty; name at least one space, for example 'spaces: [production]'");
      return undefined;
    }
    const spaces: string[] = [];
    items.forEach((item, index) => {
      const where = `spaces[${index}]`;
      const space = this.readString(item, field.offset, where);
      if (space === undefined) return;
      if (!SPACE_PATTERN.test(space)) {
        this.report(offsetOf(item, field.offset), `${where} '${space}' is not a valid space name; use lower-case letters, digits, '-' and '_', starting with a letter or digit`);
      } else if (spaces.includes(space)) {
        this.report(offsetOf(item, field.offset), `${where} '${space}' is listed twice`);
      } else {
        spaces.push(space);
      }
    });
    return spaces;
  }

  private readAdminTeam(field: Field): AdminTeam | undefined {
    // `admin-team:` with no value means "no admin team", the same as leaving the key out.
    if (isScalar(field.value) && field.value.value === null) return undefined;
    const value = this.readString(field.value, field.offset, "'admin-team'");
    if (value === undefined) return undefined;
    const match = ADMIN_TEAM_PATTERN.exec(value);
    if (!match) {
      const hint = value.startsWith('@') ? " without the leading '@'" : '';
      this.report(field.offset, `'admin-team' is '${value}'; write it as 'org/team-slug'${hint}, for example 'my-org/backup-admins'`);
      return undefined;
    }
    return { org: match[1]!, slug: match[2]! };
  }

  private readProtectedSpaces(field: Field, known: readonly string[] | undefined): string[] {
    const items = this.readList(field, "'protected-spaces'") ?? [];
    const result: string[] = [];
    items.forEach((item, index) => {
      const where = `protected-spaces[${index}]`;
      const space = this.readKnownSpace(item, field.offset, where, known);
      if (space === undefined) return;
      if (result.includes(space)) this.report(offsetOf(item, field.offset), `${where} '${space}' is listed twice`);
      else result.push(space);
    });
    return result;
  }

  private readRestores(field: Field, known: readonly string[] | undefined): RestoreRule[] {
    const items = this.readList(field, "'restores'") ?? [];
    const rules: RestoreRule[] = [];
    const seen = new Map<string, string>();
    items.forEach((item, index) => {
      const where = `restores[${index}]`;
      const fields = this.readFields(item, field.offset, `in ${where}`, RESTORE_KEYS);
      if (!fields) return;
      const itemOffset = offsetOf(item, field.offset);
      const from = this.readRequired(fields.from, itemOffset, where, 'from', (f) => this.readKnownSpace(f.value, f.offset, `${where}.from`, known));
      const to = this.readRequired(fields.to, itemOffset, where, 'to', (f) => this.readKnownSpace(f.value, f.offset, `${where}.to`, known));
      const purpose = fields.purpose ? this.readString(fields.purpose.value, fields.purpose.offset, `${where}.purpose`) : '';
      const automated = fields.automated ? this.readBoolean(fields.automated, `${where}.automated`) : false;
      if (from === undefined || to === undefined || purpose === undefined || automated === undefined) return;

      const pair = `${from} → ${to}`;
      const earlier = seen.get(pair);
      if (earlier) {
        this.report(itemOffset, `${where} repeats the restore ${pair} already allowed by ${earlier}`);
        return;
      }
      seen.set(pair, where);
      rules.push({ from, to, purpose, automated });
    });
    return rules;
  }

  private readRetention(field: Field, known: readonly string[] | undefined, name = 'retention'): RetentionEntry[] {
    const items = this.readList(field, `'${name}'`) ?? [];
    const entries: RetentionEntry[] = [];
    const seen = new Map<string, string>();
    items.forEach((item, index) => {
      const where = `${name}[${index}]`;
      const issuesBefore = this.issues.length;
      const fields = this.readFields(item, field.offset, `in ${where}`, RETENTION_KEYS);
      // A misspelt rule key is already reported; saying the entry has no rule as well would be noise.
      const hadUnknownKeys = this.issues.length > issuesBefore;
      if (!fields) return;
      const itemOffset = offsetOf(item, field.offset);
      const space = this.readRequired(fields.space, itemOffset, where, 'space', (f) => this.readKnownSpace(f.value, f.offset, `${where}.space`, known));
      const trigger = this.readRequired(fields.trigger, itemOffset, where, 'trigger', (f) => this.readTrigger(f, `${where}.trigger`));

      const rules: RetentionRules = {};
      let rulesValid = true;
      for (const [key, property] of Object.entries(COUNT_RULE_KEYS) as [keyof typeof COUNT_RULE_KEYS, keyof RetentionRules][]) {
        const ruleField = fields[key];
        if (!ruleField) continue;
        const count = this.readCount(ruleField, `${where}.${key}`);
        if (count === undefined) rulesValid = false;
        else (rules as Record<string, number>)[property] = count;
      }
      if (fields['keep-within']) {
        const within = this.readDuration(fields['keep-within'], `${where}.keep-within`);
        if (within === undefined) rulesValid = false;
        else rules.keepWithin = within;
      }

      if (!RULE_KEYS.some((key) => fields[key])) {
        if (hadUnknownKeys) return;
        this.report(itemOffset, `${where} has no rule; add at least one of ${RULE_KEYS.join(', ')}`);
        return;
      }
      if (rulesValid && keepsNothing(rules)) {
        // Almost certainly a mistake, and one that prune would act on by deleting every backup it covers.
        this.report(itemOffset, `${where} keeps nothing (every rule is zero), so prune would delete all its backups; keep at least one, for example 'keep-last: 1'`);
        return;
      }
      if (space === undefined || trigger === undefined || !rulesValid) return;

      const key = `${space}/${trigger}`;
      const earlier = seen.get(key);
      if (earlier) {
        this.report(itemOffset, `${where} repeats space '${space}' with trigger '${trigger}', already set by ${earlier}`);
        return;
      }
      seen.set(key, where);
      entries.push({ space, trigger, rules });
    });
    return entries;
  }

  private readFreshness(field: Field, known: readonly string[] | undefined): FreshnessRule[] {
    const items = this.readList(field, "'freshness'") ?? [];
    const rules: FreshnessRule[] = [];
    const seen = new Map<string, string>();
    items.forEach((item, index) => {
      const where = `freshness[${index}]`;
      const issuesBefore = this.issues.length;
      const fields = this.readFields(item, field.offset, `in ${where}`, FRESHNESS_KEYS);
      // A misspelt key is already reported; saying the entry has no rule as well would be noise.
      const hadUnknownKeys = this.issues.length > issuesBefore;
      if (!fields) return;
      const itemOffset = offsetOf(item, field.offset);
      const space = this.readRequired(fields.space, itemOffset, where, 'space', (f) => this.readKnownSpace(f.value, f.offset, `${where}.space`, known));
      const trigger = this.readRequired(fields.trigger, itemOffset, where, 'trigger', (f) => this.readTrigger(f, `${where}.trigger`));
      const maxAge = fields['max-age'] ? this.readMaxAge(fields['max-age'], `${where}.max-age`) : undefined;
      const deployedCommit = fields['deployed-commit'] ? this.readBoolean(fields['deployed-commit'], `${where}.deployed-commit`) : undefined;
      if (!fields['max-age'] && !fields['deployed-commit']) {
        if (hadUnknownKeys) return;
        this.report(itemOffset, `${where} has no rule; add 'max-age' (for example 'max-age: 26h') or 'deployed-commit: true'`);
        return;
      }
      if (!fields['max-age'] && deployedCommit === false) {
        this.report(itemOffset, `${where} checks nothing ('deployed-commit: false' and no 'max-age'); remove it or add 'max-age'`);
        return;
      }
      if (space === undefined || trigger === undefined) return;
      if ((fields['max-age'] && maxAge === undefined) || (fields['deployed-commit'] && deployedCommit === undefined)) return;
      const key = `${space}/${trigger}`;
      const earlier = seen.get(key);
      if (earlier) {
        this.report(itemOffset, `${where} repeats space '${space}' with trigger '${trigger}', already set by ${earlier}`);
        return;
      }
      seen.set(key, where);
      rules.push({ space, trigger, ...(maxAge !== undefined ? { maxAge } : {}), ...(deployedCommit ? { deployedCommit } : {}) });
    });
    return rules;
  }

  private readMaxAge(field: Field, label: string): string | undefined {
    const value = isScalar(field.value) ? field.value.value : undefined;
    if (typeof value === 'string' && parseMaxAge(value) !== undefined) return value;
    const hint =
      typeof value === 'number'
        ? ' (a number needs a unit)'
        : typeof value === 'string' && MAX_AGE_PATTERN.test(value)
          ? ' (each unit at most once, and more than zero)'
          : '';
    this.report(field.offset, `${label} must be an age such as '26h', '1d12h' or '1w' (units: w, d, h), found ${describe(field.value)}${hint}`);
    return undefined;
  }

  // --- Node readers: each reports its own problem and returns undefined when the value is unusable. ---

  private readFields<K extends string>(node: Node | undefined, fallback: number, where: string, allowed: readonly K[]): Fields<K> | undefined {
    const map = this.deref(node);
    if (!isMap(map)) {
      this.report(offsetOf(map, fallback), `expected a mapping (key: value) ${where}, found ${describe(map)}`);
      return undefined;
    }
    const fields: Fields<K> = {};
    for (const pair of map.items) {
      const key = pair.key as Node | null;
      const keyOffset = offsetOf(key ?? undefined, offsetOf(map, fallback));
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.report(keyOffset, `keys ${where} must be plain names, found ${describe(key ?? undefined)}`);
        continue;
      }
      const name = key.value;
      if (!(allowed as readonly string[]).includes(name)) {
        // A close match is the likely fix; otherwise list what is allowed.
        const hint = suggestion(name, allowed) || `; allowed keys are ${allowed.join(', ')}`;
        this.report(keyOffset, `unknown key '${name}' ${where}${hint}`);
        continue;
      }
      const value = this.deref((pair.value as Node | null) ?? undefined);
      fields[name as K] = { value, offset: offsetOf(value, keyOffset), keyOffset };
    }
    return fields;
  }

  private readRequired<T>(field: Field | undefined, itemOffset: number, where: string, key: string, read: (field: Field) => T | undefined): T | undefined {
    if (field) return read(field);
    this.report(itemOffset, `${where} is missing '${key}'`);
    return undefined;
  }

  private readList(field: Field, label: string): (Node | undefined)[] | undefined {
    const seq = field.value;
    if (!isSeq(seq)) {
      this.report(field.offset, `${label} must be a list, found ${describe(seq)}`);
      return undefined;
    }
    return seq.items.map((item) => this.deref((item as Node | null) ?? undefined));
  }

  private readString(node: Node | undefined, fallback: number, label: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return node.value;
    this.report(offsetOf(node, fallback), `${label} must be a non-empty string, found ${describe(node)}`);
    return undefined;
  }

  private readKnownSpace(node: Node | undefined, fallback: number, label: string, known: readonly string[] | undefined): string | undefined {
    const space = this.readString(node, fallback, label);
    if (space === undefined || known === undefined || known.includes(space)) return space;
    this.report(offsetOf(node, fallback), `unknown space '${space}' in ${label}${suggestion(space, known)}; the spaces are ${known.join(', ')}`);
    return undefined;
  }

  private readTrigger(field: Field, label: string): Trigger | undefined {
    const value = this.readString(field.value, field.offset, label);
    if (value === undefined) return undefined;
    if (isTrigger(value)) return value;
    this.report(field.offset, `unknown trigger '${value}' in ${label}${suggestion(value, TRIGGERS)}; triggers are ${TRIGGERS.join(', ')}`);
    return undefined;
  }

  private readBoolean(field: Field, label: string): boolean | undefined {
    if (isScalar(field.value) && typeof field.value.value === 'boolean') return field.value.value;
    this.report(field.offset, `${label} must be true or false, found ${describe(field.value)}`);
    return undefined;
  }

  private readCount(field: Field, label: string): number | undefined {
    const value = isScalar(field.value) ? field.value.value : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    this.report(field.offset, `${label} must be a whole number of backups (0 or more), found ${describe(field.value)}`);
    return undefined;
  }

  private readDuration(field: Field, label: string): string | undefined {
    const value = isScalar(field.value) ? field.value.value : undefined;
    // The retention engine's own parser decides, so a duration the file accepts is one prune can use.
    if (typeof value === 'string' && DURATION_PATTERN.test(value) && isParsableDuration(value)) return value;
    const hint = typeof value === 'number' ? ' (a number needs a unit)' : typeof value === 'string' && DURATION_PATTERN.test(value) ? ' (each unit at most once)' : '';
    this.report(
      field.offset,
      `${label} must be a duration such as '7d', '24h' or '1d12h' (units: y, m = months, w, d, h), found ${describe(field.value)}${hint}`,
    );
    return undefined;
  }

  /** Follows `*alias` references so anchors work like the values they point to. */
  private deref(node: Node | undefined): Node | undefined {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target === undefined) this.report(offsetOf(node, 0), `alias '*${node.source}' refers to no anchor`);
    return target;
  }
}

function offsetOf(node: Node | undefined, fallback: number): number {
  return node?.range?.[0] ?? fallback;
}

function describe(node: Node | undefined): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || value === undefined || value === '') return 'nothing';
    if (typeof value === 'string') return `the string '${value}'`;
    if (typeof value === 'number') return `the number ${value}`;
    if (typeof value === 'boolean') return `${value}`;
  }
  return 'an unsupported value';
}

/** The rules prune applies to a store: the replica's own when the policy has them, else the same as the backup bucket's. */
export function retentionFor(policy: Pick<Policy, 'retention' | 'replicaRetention'>, store: 'primary' | 'replica'): readonly RetentionEntry[] {
  return store === 'replica' && policy.replicaRetention !== undefined ? policy.replicaRetention : policy.retention;
}

function keepsNothing(rules: RetentionRules): boolean {
  const counts = [rules.keepLast, rules.keepHourly, rules.keepDaily, rules.keepWeekly, rules.keepMonthly, rules.keepYearly];
  const keepsByCount = counts.some((count) => count !== undefined && count > 0);
  const keepsByAge = rules.keepWithin !== undefined && /[1-9]/.test(rules.keepWithin);
  return !keepsByCount && !keepsByAge;
}

/** ` (did you mean 'x'?)` for a close candidate, else ''. Whole-name comparison only: never substring matching. */
function suggestion(value: string, candidates: readonly string[]): string {
  const normalise = (s: string) => s.toLowerCase().replaceAll('_', '-');
  const wanted = normalise(value);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalise(candidate));
    if (distance <= 2 && (!best || distance < best.distance)) best = { candidate, distance };
  }
  // A clear abbreviation ('prod' for 'production') is also worth suggesting.
  const abbreviated = wanted.length >= 3 ? candidates.filter((c) => normalise(c).startsWith(wanted)) : [];
  const pick = best?.candidate ?? (abbreviated.length === 1 ? abbreviated[0] : undefined);
  return pick === undefined ? '' : ` (did you mean '${pick}'?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
