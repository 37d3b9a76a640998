import { describe, expect, it } from 'vitest';
import type { Trigger } from '../../src/domain/backup-id.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, runActionBundle, runCli } from '../support/harness.js';
import {
  bucketSnapshot,
  DAY,
  HOUR,
  inspectBucket,
  names,
  realBackup,
  s3Proxy,
  seedBackups,
  workspace,
  type Seed,
  type SeededBackup,
} from './prune-fixtures.js';

/** Day 10 of the history, 06:00 UTC: after the nightly backups, when the nightly prune runs. */
const NOW = '2026-11-21T06:00:00.000Z';
const NIGHTLY_DAYS = Array.from({ length: 10 }, (_, i) => Date.UTC(2026, 10, 12 + i, 2)); // 12..21 November, 02:00
const PREDEPLOYS = ['2026-11-12T15:42:10Z', '2026-11-14T09:03:55Z', '2026-11-17T18:27:31Z', '2026-11-19T11:11:11Z', '2026-11-20T22:48:05Z'];

interface FacHistory {
  prodNightly: SeededBackup[];
  devNightly: SeededBackup[];
  predeploys: SeededBackup[];
  all: SeededBackup[];
  /** What FAC's rules keep at NOW. */
  expectedKept: SeededBackup[];
}

/**
 * 10 days of nightly backups of production and dev, and 5 predeploy backups of production. With `real`, four
 * of them are real backups of a real database (three that are kept and one that goes), the rest are written
 * through the S3 API.
 */
async function facHistory(bucket: string, real: boolean): Promise<FacHistory> {
  const at = (t: number | string) => new Date(t).toISOString();
  const realOnes = new Set(real ? [at(NIGHTLY_DAYS[0]!), at(NIGHTLY_DAYS[9]!), at(PREDEPLOYS[4]!)] : []);
  const seeds: Seed[] = [];
  const plan: { space: string; trigger: Trigger; at: string }[] = [
    ...NIGHTLY_DAYS.map((t) => ({ space: 'production', trigger: 'nightly' as const, at: at(t) })),
    ...NIGHTLY_DAYS.map((t) => ({ space: 'dev', trigger: 'nightly' as const, at: at(t) })),
    ...PREDEPLOYS.map((t) => ({ space: 'production', trigger: 'predeploy' as const, at: at(t) })),
  ];
  const made = new Map<(typeof plan)[number], SeededBackup>();
  const source = real ? await createDatabase('app') : undefined;
  if (source) await createSampleApp(source);
  for (const item of plan) {
    // Production's oldest, newest and last predeploy, and dev's newest nightly are real backups.
    const isReal = source && realOnes.has(item.at) && (item.space === 'production' || item.at === at(NIGHTLY_DAYS[9]!));
    if (isReal) made.set(item, await realBackup(bucket, source, item.space, item.trigger, item.at));
    else seeds.push({ space: item.space, trigger: item.trigger, at: item.at });
  }
  const seeded = await seedBackups(bucket, seeds);
  const all = plan.map((item) => made.get(item) ?? seeded.find((s) => s.space === item.space && s.trigger === item.trigger && s.createdAt.toISOString() === item.at)!);
  const prodNightly = all.slice(0, 10);
  const devNightly = all.slice(10, 20);
  const predeploys = all.slice(20);
  // Worked out by hand: keep-within 7d from 21 Nov 06:00 reaches back to 14 Nov 06:00, so the nightlies of
  // the 15th to the 21st; keep-last 2 keeps the predeploys of the 19th and 20th; keep-within 1d keeps dev's 21st.
  const expectedKept = [...prodNightly.slice(3), predeploys[3]!, predeploys[4]!, devNightly[9]!];
  return { prodNightly, devNightly, predeploys, all, expectedKept };
}

function pruneEnv(ws: string, now = NOW): Record<string, string> {
  return { ...awsEnv(), LIFEBOAT_NOW: now, GITHUB_WORKSPACE: ws };
}

const parseIds = (text: string | undefined) => JSON.parse(text ?? 'null') as string[];
const idsOf = (backups: readonly SeededBackup[]) => backups.map((b) => b.id).sort();

describe('prune action bundle (dist/prune)', () => {
  it("leaves exactly FAC's set of a real 10-day history, reports it in its outputs and summary, and a second prune deletes nothing", async () => {
    const bucket = await createBucket();
    const history = await facHistory(bucket, true);
    expect(history.all).toHaveLength(25);
    const ws = workspace(); // no policy file: FAC's defaults

    const run = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(ws));
    expect(run.code, run.everything).toBe(0);

    const kept = history.expectedKept;
    const deleted = history.all.filter((b) => !kept.includes(b));
    expect(parseIds(run.outputs.deleted).sort()).toEqual(idsOf(deleted));
    expect(parseIds(run.outputs.kept).sort()).toEqual(idsOf(kept));
    expect(deleted).toHaveLength(15);

    const state = await inspectBucket(bucket);
    expect(state.complete).toEqual(names(kept));
    expect(state.incomplete).toEqual([]);
    expect(state.journals, 'the journal is removed once the prune is done').toEqual([]);

    expect(run.stdout).toContain("No policy file at .github/lifeboat.yml: using the default policy");
    expect(run.summary).toMatch(/^## ✅ Lifeboat prune: 15 backups deleted, 10 kept$/m);
    expect(run.summary).toContain(`| \`${history.predeploys[2]!.id}\` | production | deleted | not kept by production/predeploy rules (keep-last 2) |`);
    expect(run.summary).toContain(`| \`${history.prodNightly[9]!.id}\` | production | keep | keep-within 7d; newest complete backup of space production |`);

    const before = await bucketSnapshot(bucket);
    const again = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(ws));
    expect(again.code, again.everything).toBe(0);
    expect(parseIds(again.outputs.deleted)).toEqual([]);
    expect(parseIds(again.outputs.kept).sort()).toEqual(idsOf(kept));
    expect(await bucketSnapshot(bucket)).toEqual(before);
  });

  it('dry run: prints each backup with the rules that keep it or the reason it would go, and changes nothing', async () => {
    const bucket = await createBucket();
    const history = await facHistory(bucket, false);
    const before = await bucketSnapshot(bucket);
    const ws = workspace();

    const run = await runActionBundle('prune', { ...bucketInputs(bucket), 'dry-run': 'true' }, pruneEnv(ws));
    expect(run.code, run.everything).toBe(0);
    expect(await bucketSnapshot(bucket)).toEqual(before);

    const wouldDelete = history.all.filter((b) => !history.expectedKept.includes(b));
    expect(parseIds(run.outputs.deleted).sort()).toEqual(idsOf(wouldDelete));
    expect(parseIds(run.outputs.kept).sort()).toEqual(idsOf(history.expectedKept));
    expect(run.stdout).toContain('keep 10, delete 15 (dry run: nothing will be deleted)');
    expect(run.stdout).toContain(`keep    ${history.predeploys[4]!.id}  keep-last 2 (#1)`);
    expect(run.stdout).toContain(`keep    ${history.devNightly[9]!.id}  keep-within 1d; newest complete backup of space dev`);
    expect(run.stdout).toContain(`DELETE  ${history.devNightly[8]!.id}  not kept by dev/nightly rules (keep-within 1d)`);
    expect(run.stdout).toContain(`DELETE  ${history.prodNightly[2]!.id}  not kept by production/nightly rules (keep-within 7d)`);
    expect(run.summary).toMatch(/^## ✅ Lifeboat prune: dry run, 15 backups would be deleted, 10 kept$/m);
    expect(run.summary).toContain('| would delete |');

    // The CLI, from the shipped bundle, the same way.
    const cli = await runCli(['prune', '--dry-run', '--backup-bucket', bucket, '--s3-endpoint', bucketInputs(bucket)['s3-endpoint']!], pruneEnv(ws));
    expect(cli.code, cli.everything).toBe(0);
    expect(cli.stdout).toContain(`Prune of every space in s3://${bucket}/ at 2026-11-21T06:00:00.000Z with the retention rules of the default policy: keep 10, delete 15 (dry run: nothing will be deleted).`);
    expect(cli.stderr).not.toContain('DELETE');
    expect(cli.stdout).toContain(`DELETE  ${history.predeploys[0]!.id}  not kept by production/predeploy rules (keep-last 2)`);
    expect(cli.stdout).toContain('Would delete 15 backups and keep 10.');
    const json = await runCli(['prune', '--dry-run', '--json', '--backup-bucket', bucket, '--s3-endpoint', bucketInputs(bucket)['s3-endpoint']!], pruneEnv(ws));
    expect(json.code, json.everything).toBe(0);
    const report = JSON.parse(json.stdout) as { dryRun: boolean; deleted: { id: string; reason: string }[]; kept: { id: string; reasons: string[] }[] };
    expect(report.dryRun).toBe(true);
    expect(report.deleted.map((d) => d.id).sort()).toEqual(idsOf(wouldDelete));
    expect(report.kept.find((k) => k.id === history.prodNightly[3]!.id)!.reasons).toEqual(['keep-within 7d']);
    expect(await bucketSnapshot(bucket)).toEqual(before);
  });

  it('keeps the newest backup of a space whose backups stopped 8 days ago, warns about it, and keeps manual and pre-restore backups', async () => {
    const bucket = await createBucket();
    const now = Date.parse(NOW);
    const stoppedAt = now - 8 * DAY;
    const nightly = (space: string) =>
      seedBackups(bucket, Array.from({ length: 5 }, (_, i) => ({ space, trigger: 'nightly' as const, at: stoppedAt - (4 - i) * DAY })));
    const devNightly = await nightly('dev');
    const prodNightly = await nightly('production');
    const predeploys = await seedBackups(bucket, [3, 2, 1].map((d) => ({ space: 'production', trigger: 'predeploy' as const, at: stoppedAt - d * DAY - 5 * HOUR })));
    const others = await seedBackups(bucket, [
      { space: 'production', trigger: 'manual', at: now - 40 * DAY },
      { space: 'dev', trigger: 'pre-restore', at: now - 20 * DAY },
      { space: 'staging', trigger: 'nightly', at: now - 30 * DAY }, // no rule covers staging
    ]);

    const run = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(workspace()));
    expect(run.code, run.everything).toBe(0);

    const kept = [devNightly[4]!, prodNightly[4]!, predeploys[1]!, predeploys[2]!, ...others];
    expect(parseIds(run.outputs.kept).sort()).toEqual(idsOf(kept));
    expect((await inspectBucket(bucket)).complete).toEqual(names(kept));
    expect(run.stdout).toMatch(new RegExp(`::warning::Space dev: its rules would delete every complete backup, so only the newest, ${devNightly[4]!.id} \\(8\\.0 days old\\), is kept`));
    expect(run.stdout).toContain(`::warning::Space production: its rules would delete every complete backup, so only the newest, ${prodNightly[4]!.id}`);
    expect(run.stdout).toContain(
      `keep    ${devNightly[4]!.id}  newest complete backup of space dev, kept by the safety rule although dev/nightly rules (keep-within 1d) would delete it`,
    );
    expect(run.stdout).toContain(`keep    ${others[0]!.id}  no rule covers trigger manual in space production`);
    expect(run.stdout).toContain(`keep    ${others[1]!.id}  no rule covers trigger pre-restore in space dev`);
    expect(run.summary).toContain('> [!WARNING]');
  });

  it('deletes an incomplete backup only once it is older than the grace period, judged from its id', async () => {
    const bucket = await createBucket();
    const now = Date.parse(NOW);
    const complete = await seedBackups(bucket, [
      { space: 'production', trigger: 'predeploy', at: now - 3 * HOUR },
      { space: 'dev', trigger: 'nightly', at: now - 4 * HOUR },
    ]);
    const [running, failedYesterday, failedLastWeek] = await seedBackups(bucket, [
      { space: 'production', trigger: 'predeploy', at: now - 2 * HOUR, complete: false },
      { space: 'dev', trigger: 'nightly', at: now - 30 * HOUR, complete: false },
      { space: 'production', trigger: 'manual', at: now - 7 * DAY, complete: false, artifacts: 3 },
    ]);

    // A longer grace period keeps the 30-hour-old one too.
    const patient = await runActionBundle('prune', { ...bucketInputs(bucket), 'incomplete-grace': '2d', 'dry-run': 'true' }, pruneEnv(workspace()));
    expect(patient.code, patient.everything).toBe(0);
    expect(parseIds(patient.outputs.deleted)).toEqual([failedLastWeek!.id]);

    const run = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(workspace()));
    expect(run.code, run.everything).toBe(0);
    expect(parseIds(run.outputs.deleted).sort()).toEqual(idsOf([failedYesterday!, failedLastWeek!]));
    expect(run.stdout).toContain(`keep    ${running!.id} (incomplete)  incomplete, younger than grace period 24h`);
    expect(run.stdout).toContain(`DELETE  ${failedYesterday!.id} (incomplete)  incomplete and older than grace period 24h`);
    const state = await inspectBucket(bucket);
    expect(state.incomplete).toEqual(names([running!]));
    expect(state.complete).toEqual(names(complete));

    const tooShort = await runActionBundle('prune', { ...bucketInputs(bucket), 'incomplete-grace': '30m' }, pruneEnv(workspace()));
    expect(tooShort.code).toBe(1);
    expect(tooShort.stdout).toContain("Input 'incomplete-grace' is '30m'; months and years are not allowed here");
  });

  it('follows the policy file, limits itself to the space it is given, and refuses a space the policy does not know', async () => {
    const bucket = await createBucket();
    const history = await facHistory(bucket, false);
    const ws = workspace(
      ['spaces: [production, dev]', 'protected-spaces: [production]', 'retention:', '  - { space: dev, trigger: nightly, keep-last: 3 }', '  - { space: production, trigger: nightly, keep-last: 1 }', ''].join('\n'),
    );
    const run = await runActionBundle('prune', { ...bucketInputs(bucket), space: 'dev' }, pruneEnv(ws));
    expect(run.code, run.everything).toBe(0);
    expect(run.stdout).toContain('Policy read from .github/lifeboat.yml.');
    expect(parseIds(run.outputs.deleted).sort()).toEqual(idsOf(history.devNightly.slice(0, 7)));
    const state = await inspectBucket(bucket);
    expect(state.complete).toEqual(names([...history.prodNightly, ...history.predeploys, ...history.devNightly.slice(7)]));

    const typo = await runActionBundle('prune', { ...bucketInputs(bucket), space: 'prod' }, pruneEnv(ws));
    expect(typo.code).toBe(1);
    expect(typo.stdout).toContain("Input 'space' is 'prod', which is not a space of .github/lifeboat.yml (production, dev)");
  });

  it('refuses, with every problem located, when the policy file is invalid, and deletes nothing', async () => {
    const bucket = await createBucket();
    await facHistory(bucket, false);
    const before = await bucketSnapshot(bucket);
    const ws = workspace(
      ['retention:', '  - { space: production, trigger: nightly, keep-withn: 7d }', '  - { space: dev, trigger: nightly, keep-last: 0 }', ''].join('\n'),
    );
    const run = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(ws));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error title=Invalid Lifeboat policy,file=\.github\/lifeboat\.yml,line=2,col=\d+::unknown key 'keep-withn' in retention\[0\] \(did you mean 'keep-within'\?\)/);
    expect(run.stdout).toMatch(/::error title=Invalid Lifeboat policy,file=\.github\/lifeboat\.yml,line=3,col=\d+::retention\[1\] keeps nothing/);
    expect(run.stdout).toMatch(/::error::lifeboat prune failed: \.github\/lifeboat\.yml is not a valid Lifeboat policy \(2 problems\)/);
    expect(run.stdout).toContain('Nothing was deleted.');
    expect(await bucketSnapshot(bucket)).toEqual(before);

    const missing = await runActionBundle('prune', { ...bucketInputs(bucket), 'policy-file': 'ops/retention.yml' }, pruneEnv(workspace()));
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("Input 'policy-file' is 'ops/retention.yml', but there is no file at");
    expect(await bucketSnapshot(bucket)).toEqual(before);
  });

  it('when the store refuses deletes, fails naming each backup, never leaves a manifest without its data, and the next prune finishes', async () => {
    const bucket = await createBucket();
    const history = await facHistory(bucket, false);
    const doomed = history.all.filter((b) => !history.expectedKept.includes(b));
    const ws = workspace();
    const everything = names(history.all);

    // The manifests' delete request is refused: nothing is touched, every backup stays complete.
    const denyManifests = await s3Proxy({ denyDelete: (n) => n === 1 });
    const first = await runActionBundle('prune', { ...bucketInputs(bucket), 's3-endpoint': denyManifests.endpoint }, pruneEnv(ws));
    denyManifests.cutOff();
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('::error::lifeboat prune failed: 15 of the 15 backups planned for deletion could not be deleted fully');
    expect(first.stdout).toContain(`dev/${history.devNightly[8]!.id}: its manifest could not be deleted: access denied: the credentials are not allowed to do this (AccessDenied, HTTP 403)`);
    expect(first.stdout).toContain('Manifests deleted (0 of 15); deleting 0 artifact objects.');
    expect(parseIds(first.outputs.deleted)).toEqual([]);
    expect(first.summary).toMatch(/^## ❌ Lifeboat prune: 15 backups could not be deleted/m);
    expect(first.summary).toContain('| ❌ delete failed |');
    const afterFirst = await inspectBucket(bucket);
    expect(afterFirst.complete).toEqual(everything);
    expect(afterFirst.journals).toHaveLength(1);

    // The artifacts' delete request is refused: the backups are incomplete now, not restorable, and say so.
    const denyArtifacts = await s3Proxy({ denyDelete: (n) => n === 2 });
    const second = await runActionBundle('prune', { ...bucketInputs(bucket), 's3-endpoint': denyArtifacts.endpoint }, pruneEnv(ws));
    denyArtifacts.cutOff();
    expect(second.code).toBe(1);
    expect(second.stdout).toContain('it is incomplete now and the next prune will remove it');
    const afterSecond = await inspectBucket(bucket);
    expect(afterSecond.complete).toEqual(names(history.expectedKept));
    expect(afterSecond.incomplete).toEqual(names(doomed));

    // With deletes allowed again, the next prune finishes: the remnants go, and so do both journals.
    const third = await runActionBundle('prune', bucketInputs(bucket), pruneEnv(ws));
    expect(third.code, third.everything).toBe(0);
    expect(parseIds(third.outputs.deleted).sort()).toEqual(idsOf(doomed));
    const final = await inspectBucket(bucket);
    expect(final.complete).toEqual(names(history.expectedKept));
    expect(final.incomplete).toEqual([]);
    expect(final.journals).toEqual([]);
  });
});
