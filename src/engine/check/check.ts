/**
 * Check: are the backups what the policy expects? Read-only. It lists the bucket, reads the newest
 * manifests of each space and trigger (for freshness, the deployed commit and the trend), then reads
 * every stored byte of the newest backup(s) of each space and compares size and SHA-256 with the manifest,
 * streamed and hashed with no disk, and checks that their media content is present with the right size.
 *
 * Problems fail the check (its failure is the alert): a rule not met, an artifact missing or different
 * from its manifest, media content missing, an invalid manifest. Warnings do not: incomplete backups
 * (one may be running now), a backup over 2 × the median duration, stale service keys.
 */
import { sortNewestFirst, type BackupEntry } from '../../domain/catalog.js';
import { evaluateFreshness, type FreshnessFinding, type FreshnessRule, type GoodBackup } from '../../domain/freshness.js';
import type { Manifest } from '../../domain/manifest.js';
import { computeMetrics, TREND_WINDOW, type GroupMetrics, type MeasuredBackup } from '../../domain/metrics.js';
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { plural } from '../../domain/report.js';
import { forEachConcurrently } from '../concurrency.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { manifestProblem } from '../list/latest.js';
import { verifyMediaPresent } from '../media/media.js';
import { verifyStoredArtifact } from '../restore/artifacts.js';
import type { BucketSettings } from '../s3/client.js';
import { BackupStore } from '../s3/store.js';

export interface CheckOptions {
  bucket: BucketSettings;
  /** Only this space (its rules, its backups); every space when undefined. */
  space?: string;
  /** How many of the newest good backups of each space have their stored bytes read (0: none). */
  verifyLast: number;
  /** The deployed commit, for deployed-commit rules. */
  commit?: string;
  rules: readonly FreshnessRule[];
  now: Date;
  progressIntervalMs?: number;
}

export interface VerifiedBackup {
  space: string;
  id: string;
  artifacts: number;
  bytes: number;
  /** Media objects whose content was found with the right size (absent: the backup has no media). */
  mediaObjects?: number;
  /** Empty when every byte matched. */
  problems: string[];
}

export interface StaleKey {
  instance: string;
  name: string;
  createdAt?: string;
}

export interface CheckResult {
  ok: boolean;
  now: Date;
  /** s3://bucket/prefix */
  location: string;
  rules: readonly FreshnessRule[];
  findings: FreshnessFinding[];
  metrics: GroupMetrics[];
  verified: VerifiedBackup[];
  incomplete: BackupEntry[];
  invalid: { space: string; id: string; problem: string }[];
  /** Lifeboat service keys older than a day, with binding: cloudfoundry; undefined when not looked for. */
  staleKeys?: StaleKey[];
  problems: string[];
  warnings: string[];
}

/** Manifests read per space and trigger: the newest, and the previous ones the trend compares with. */
const MANIFESTS_PER_GROUP = TREND_WINDOW + 1;

export async function runCheck(options: CheckOptions, log: Logger): Promise<CheckResult> {
  const store = new BackupStore(options.bucket);
  await store.assertReachable();
  const entries = await store.listEntries(options.space);
  const rules = options.rules.filter((r) => !options.space || r.space === options.space);
  log.info(`${plural(entries.length, 'backup')} in ${store.describe()}${options.space ? ` for space '${options.space}'` : ''}; ${plural(rules.length, 'freshness rule')}.`);

  // The newest manifests of each space and trigger, read a few at a time.
  const groups = new Map<string, BackupEntry[]>();
  for (const entry of sortNewestFirst(entries)) {
    if (entry.status !== 'complete') continue;
    const key = `${entry.space}/${entry.trigger}`;
    const list = groups.get(key) ?? [];
    if (list.length < MANIFESTS_PER_GROUP) groups.set(key, [...list, entry]);
  }
  const manifests = new Map<string, Manifest>();
  const invalid: CheckResult['invalid'] = [];
  await forEachConcurrently([...groups.values()].flat(), 8, async (entry) => {
    const read = await manifestProblem(store, entry);
    if (typeof read === 'string') invalid.push({ space: entry.space, id: entry.id, problem: read });
    else manifests.set(`${entry.space}/${entry.id}`, read);
  });
  invalid.sort((a, b) => (a.id < b.id ? 1 : -1));

  const good: GoodBackup[] = [];
  const measured: MeasuredBackup[] = entries.map((entry) => {
    const manifest = manifests.get(`${entry.space}/${entry.id}`);
    const isInvalid = invalid.some((i) => i.space === entry.space && i.id === entry.id);
    const base: MeasuredBackup = { id: entry.id, space: entry.space, trigger: entry.trigger, status: isInvalid ? 'invalid' : entry.status, sizeBytes: entry.sizeBytes };
    if (!manifest) return base;
    const finishedAt = new Date(manifest.finishedAt);
    good.push({ id: entry.id, space: entry.space, trigger: entry.trigger, finishedAt, ...(manifest.provenance?.commit ? { commit: manifest.provenance.commit } : {}) });
    return { ...base, startedAt: new Date(manifest.startedAt), finishedAt };
  });

  const findings = evaluateFreshness(rules, good, options.now, options.commit);
  const metrics = computeMetrics(measured, options.now);
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const f of findings) {
    if (f.skipped) log.info(f.message);
    else if (f.ok) log.info(`✓ ${f.message}`);
    else problems.push(f.message);
  }
  for (const i of invalid) problems.push(`Backup ${i.id} of '${i.space}' has an invalid manifest: ${i.problem}`);

  // The stored bytes of the newest good backup(s) of each space.
  const verified: VerifiedBackup[] = [];
  const spaces = [...new Set(good.map((g) => g.space))].sort();
  for (const space of spaces) {
    const newest = good
      .filter((g) => g.space === space)
      .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime())
      .slice(0, options.verifyLast);
    for (const backup of newest) {
      const manifest = manifests.get(`${space}/${backup.id}`)!;
      verified.push(await log.group(`Verify the stored bytes of ${space} ${backup.id}`, () => verifyBackup(store, manifest, log, options.progressIntervalMs)));
    }
  }
  for (const v of verified) problems.push(...v.problems);

  const incomplete = sortNewestFirst(entries.filter((e) => e.status === 'incomplete'));
  for (const e of incomplete) {
    warnings.push(`Backup ${e.id} of '${e.space}' is incomplete (no manifest): it failed, was killed, or is running now. Prune removes it once it is old enough.`);
  }
  for (const m of metrics) {
    if (m.trend?.slow) {
      warnings.push(
        `The newest ${m.space} ${m.trigger} backup took ${m.last!.durationSeconds.toFixed(0)} s, more than 2 × the median of the previous ${m.trend.previous} (${m.trend.medianDurationSeconds.toFixed(0)} s).`,
      );
    }
  }
  for (const p of problems) log.warning(p);
  for (const w of warnings) log.warning(w);
  return { ok: problems.length === 0, now: options.now, location: store.describe(), rules, findings, metrics, verified, incomplete, invalid, problems, warnings };
}

/** Every artifact streamed and hashed against the manifest, and the media content's presence and size. */
async function verifyBackup(store: BackupStore, manifest: Manifest, log: Logger, progressIntervalMs?: number): Promise<VerifiedBackup> {
  const result: VerifiedBackup = { space: manifest.space, id: manifest.id, artifacts: 0, bytes: 0, problems: [] };
  for (const artifact of manifest.artifacts) {
    try {
      await verifyStoredArtifact(store, manifest, artifact, log, progressIntervalMs);
      result.artifacts++;
      result.bytes += artifact.size;
    } catch (error) {
      result.problems.push(error instanceof RestoreRefused ? error.reason : `Artifact '${artifact.name}' of backup ${manifest.id} could not be checked: ${errorMessage(error)}`);
    }
  }
  if (manifest.media) {
    try {
      await verifyMediaPresent(manifest.media, store);
      result.mediaObjects = manifest.media.totals.objects;
      log.info(`All ${manifest.media.totals.objects} media objects' content of ${manifest.id} is present with the right size.`);
    } catch (error) {
      result.mediaObjects = 0;
      result.problems.push(`Backup ${manifest.id} of '${manifest.space}': ${errorMessage(error)}`);
    }
  }
  return result;
}
