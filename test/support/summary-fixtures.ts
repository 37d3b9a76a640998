/**
 * Every job summary Lifeboat writes, success and failure for each action, made from realistic results
 * (long ids, several spaces, media, skipped grants, a refusal with two reasons, a tool's multi-line
 * output). The unit tests read their words; test/integration/summaries-browser.test.ts renders them as
 * GitHub does and checks them in Chromium.
 */
import type { BackupEntry } from '../../src/domain/catalog.js';
import type { Manifest } from '../../src/domain/manifest.js';
import { RestoreRefused } from '../../src/domain/restore-authorization.js';
import type { BackupResult } from '../../src/engine/backup/backup.js';
import type { PruneResult } from '../../src/engine/prune/prune.js';
import type { RestoreResult } from '../../src/engine/restore/restore.js';
import type { BackupDetails } from '../../src/engine/list/list.js';
import { backupSummary, explainError, failureSummary, listSummary, pruneSummary, restoreSummary, type FailedRun } from '../../src/engine/summaries.js';
import { LifeboatError } from '../../src/engine/errors.js';

export const NOW = new Date('2026-11-21T05:07:00.000Z');

export const entry = (id: string, space: string, status: BackupEntry['status'] = 'complete', sizeBytes = 48_213_556): BackupEntry => {
  const stamp = id.slice(0, 17);
  const createdAt = new Date(`${stamp.slice(0, 13)}:${stamp.slice(13, 15)}:${stamp.slice(15, 17)}.000Z`);
  const trigger = id.split('-').slice(3, -1).join('-') as BackupEntry['trigger'];
  return { id, space, trigger, createdAt, sizeBytes, status };
};

const media = {
  bucket: 'fac-media-production-3f9e1c2a-5b7d-4e8f-9a1b-2c3d4e5f6a7b',
  prefix: 'uploads/',
  objects: [],
  totals: { objects: 18_204, bytes: 9_876_543_210, newObjects: 37, newBytes: 12_345_678, reusedObjects: 18_167, reusedBytes: 9_864_197_532 },
};

export const manifest: Manifest = {
  format: 'lifeboat-manifest/1',
  id: '2026-11-21T020000.000Z-nightly-7f3a',
  space: 'production',
  trigger: 'nightly',
  startedAt: '2026-11-21T02:00:00.000Z',
  finishedAt: '2026-11-21T02:03:12.400Z',
  tool: { name: 'lifeboat', version: '0.1.0' },
  provenance: null,
  database: {
    source: 'cg-aws-broker-prodabcdef0123456789.ci7nkegdizyy.us-gov-west-1.rds.amazonaws.com:5432/fac_production',
    serverVersion: '16.4',
    serverVersionNum: 160004,
    pgDumpVersion: '17.2',
    tables: [
      { schema: 'public', table: 'audit_singleauditchecklist', rows: 312_004 },
      { schema: 'public', table: 'dissemination_general', rows: 1 },
      { schema: 'public', table: 'support_cognizantassignment_with_a_rather_long_table_name_for_wrapping', rows: 0 },
    ],
  },
  artifacts: [
    {
      name: 'database',
      key: 'lifeboat/backups/production/2026-11-21T020000.000Z-nightly-7f3a/database.pgdump.zst',
      size: 48_200_000,
      sha256: '9f2c1e7b3a5d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6',
      compression: 'zstd',
      format: 'pg_dump-custom',
      uncompressedSize: 412_300_000,
    },
  ],
  media,
};

export const backupResult: BackupResult = {
  manifest,
  storedBytes: 48_213_556,
  durationMs: 192_400,
  location: 's3://fac-backups-3f9e1c2a-5b7d-4e8f-9a1b-2c3d4e5f6a7b/lifeboat/backups/production/2026-11-21T020000.000Z-nightly-7f3a/',
  mediaTraffic: { bytesRead: 12_345_678, bytesWritten: 12_345_678, objectsWritten: 37 },
};

export const listed: BackupEntry[] = [
  entry('2026-11-21T040000.000Z-predeploy-aa01', 'staging'),
  entry('2026-11-21T031500.000Z-manual-0b0c', 'production', 'incomplete', 1_048_576),
  entry('2026-11-21T020000.000Z-nightly-7f3a', 'production'),
  { ...entry('2026-11-20T020000.000Z-nightly-11d2', 'production', 'invalid'), problem: 'The manifest is not valid JSON (Unexpected end of JSON input at position 2048).' },
  entry('2026-11-19T020000.000Z-nightly-0c3e', 'production'),
  entry('2026-11-14T020000.000Z-nightly-9a9a', 'dev'),
  entry('2026-11-02T120000.000Z-pre-restore-42ab', 'staging'),
];

export const latestPerSpace = [listed[5]!, listed[2]!, listed[0]!];

export const details = new Map<string, BackupDetails>([
  ['2026-11-21T040000.000Z-predeploy-aa01', { databaseBytes: 402_000_000, tables: 3 }],
  ['2026-11-21T020000.000Z-nightly-7f3a', { databaseBytes: 412_300_000, tables: 3, media: media.totals }],
  ['2026-11-19T020000.000Z-nightly-0c3e', { databaseBytes: 1, tables: 1 }],
  ['2026-11-14T020000.000Z-nightly-9a9a', { databaseBytes: 0, tables: null, error: 'Access Denied (403) reading the manifest' }],
]);

export const restoreResult: RestoreResult = {
  manifest,
  sourceSpace: 'production',
  targetSpace: 'staging',
  target: 'cg-aws-broker-stagingabcdef0123456789.ci7nkegdizyy.us-gov-west-1.rds.amazonaws.com:5432/fac_staging',
  authorization: { kind: 'manual', rule: { from: 'production', to: 'staging', purpose: 'refresh staging with production data', automated: false }, actor: 'octocat', adminTeam: 'GSA-TTS/fac-admins' },
  method: 'parallel',
  jobs: 4,
  preRestoreBackupId: '2026-11-21T050000.000Z-pre-restore-5e6f',
  checks: [
    { schema: 'public', table: 'audit_singleauditchecklist', expected: 312_004, found: 312_004 },
    { schema: 'public', table: 'dissemination_general', expected: 1, found: 1 },
    { schema: 'public', table: 'support_cognizantassignment_with_a_rather_long_table_name_for_wrapping', expected: 0, found: 0 },
  ],
  privileges: 'keep',
  skippedGrants: [
    { entry: 'TABLE public.audit_singleauditchecklist', statement: 'GRANT SELECT ON TABLE public.audit_singleauditchecklist TO fac_readonly_reporting_role_for_the_dashboard;', reason: "role 'fac_readonly_reporting_role_for_the_dashboard' does not exist in the target" },
  ],
  skippedGrantCount: 1,
  durationMs: 754_000,
  pgRestoreVersion: '17.2',
  media: { uploaded: 37, unchanged: 18_167, deleted: 2, traffic: { bytesRead: 12_345_678, bytesWritten: 12_345_678, objectsWritten: 37 }, bucket: 'fac-media-staging-8a7b6c5d-4e3f-2a1b-0c9d-8e7f6a5b4c3d' },
};

const kept = (e: BackupEntry, ...reasons: string[]) => ({ entry: e, reasons });

export const pruneResult: PruneResult = {
  now: NOW,
  dryRun: false,
  policySource: '.github/lifeboat.yml',
  plan: {
    keep: [kept(listed[0]!, 'keep-last 7 (#1)'), kept(listed[2]!, 'keep-daily 30 (#1)', 'newest complete backup of space production'), kept(listed[5]!, 'keep-last 7 (#1)')],
    remove: [
      { entry: listed[4]!, reason: 'not kept by any rule of production (keep-daily 30, keep-weekly 12, keep-monthly 12)' },
      { entry: listed[6]!, reason: 'pre-restore backups are kept 14 days' },
      { entry: listed[1]!, reason: 'incomplete for longer than the grace period (24h)' },
    ],
    rescued: [kept(listed[5]!, 'keep-last 7 (#1)')],
  },
  deleted: [listed[4]!, listed[1]!],
  failed: [{ entry: listed[6]!, state: 'complete', message: 'Access Denied (403): the credentials may not delete objects (s3:DeleteObject)' }],
  objectsDeleted: 5,
  bytesFreed: 49_262_132,
  deleteRequests: 2,
  durationMs: 3_100,
  media: { stored: 18_300, referenced: 18_204, deleted: 90, bytesFreed: 123_456_789, tooYoung: 6 },
  uploads: { open: 2, aborted: [{ key: 'lifeboat/backups/production/x/database.pgdump.zst' }], tooYoung: 1, failed: [] },
};

const refusal = new RestoreRefused({
  reason: '',
  fix: '',
  reasons: [
    {
      reason: "'production' is a protected space: restoring overwrites its data, so the target's name must be typed as confirmation (got 'prod').",
      fix: "Set the input 'confirm: production' and run again.",
    },
    {
      reason: 'octocat is not a member of GSA-TTS/fac-admins, which the policy requires for a manual restore into production.',
      fix: 'Ask a member of GSA-TTS/fac-admins to run it, or have the policy file changed.',
    },
  ],
});

const backupFailure = new LifeboatError(
  "Cannot connect to the database cg-aws-broker-prodabcdef0123456789.ci7nkegdizyy.us-gov-west-1.rds.amazonaws.com:5432/fac_production given in 'database-url': the connection timed out (ETIMEDOUT): a firewall, or a wrong address. " +
    'Check that this runner can reach the database: a GitHub-hosted runner cannot reach a private one; use binding: cloudfoundry with a tunnel, or a self-hosted runner.',
);

const pgRestoreFailure = new LifeboatError(
  'The parallel restore failed: pg_restore --jobs=4 failed. pg_restore exited with code 1.\npg_restore said:\npg_restore: error: could not execute query: ERROR:  relation "public.audit_singleauditchecklist" does not exist\nCommand was: ALTER TABLE ONLY public.audit_singleauditchecklist ADD CONSTRAINT audit_singleauditchecklist_pkey PRIMARY KEY (id);\nThe target was rolled back to the pre-restore backup 2026-11-21T050000.000Z-pre-restore-5e6f, taken just before the restore: it is as it was.',
);

const listFailure = new LifeboatError(
  "Cannot use the bucket 'fac-backups' given in 'backup-bucket': Access Denied (403). Check 'backup-bucket', 's3-endpoint', 's3-region' and the AWS credentials.",
);

const pruneFailure = new Error(
  "The policy file .github/lifeboat.yml is invalid:\nline 12, column 5: retention.production.keep-daily must be a whole number (got 'thirty')\nNothing was deleted.",
);

const failed = (run: FailedRun, error: unknown) => failureSummary(run, explainError(error, (error as Error).message), NOW);

/** Each summary by name: `<action>-success` and `<action>-failure` (restore has a refusal too). */
export function allSummaries(): Record<string, string> {
  return {
    'backup-success': backupSummary(backupResult, NOW),
    'backup-failure': failed({ action: 'backup', subject: 'of production', facts: ['Trigger: nightly; bucket: fac-backups'] }, backupFailure),
    'restore-success': restoreSummary(restoreResult, NOW),
    'restore-refused': failed({ action: 'restore', subject: 'staging → production', refused: true, facts: ['Backup asked for: latest'] }, refusal),
    'restore-failure': failed({ action: 'restore', subject: 'production → staging', facts: ['Backup asked for: 2026-11-21T020000.000Z-nightly-7f3a'] }, pgRestoreFailure),
    'list-success': listSummary({ backups: listed, latestPerSpace, filterText: '', details }, NOW),
    'list-failure': failed({ action: 'list', facts: ['Bucket: fac-backups'] }, listFailure),
    'prune-success': pruneSummary({ ...pruneResult, failed: [], deleted: [listed[4]!, listed[6]!, listed[1]!] }),
    'prune-partial-failure': pruneSummary(pruneResult),
    'prune-failure': failed({ action: 'prune', subject: 'of every space' }, pruneFailure),
  };
}
