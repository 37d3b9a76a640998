import { parseBackupId } from '../../domain/backup-id.js';
import { InputError } from '../../engine/errors.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { callerFromEnv, DEFAULT_JOBS, DEFAULT_PARALLEL_THRESHOLD_MB, type RestoreOptions } from '../../engine/restore/restore.js';
import { DATABASE_FROM_BINDING } from '../backup/inputs.js';
import type { BindingProfile, BoundResources, FromBinding } from '../shared/binding.js';
import { readKeyInputs } from '../shared/key-inputs.js';
import { booleanInput, bucketSettings, choice, mediaSettings, optional, optionalTriggerFilter, positiveNumber, replicaSettings, required, secretInput, spaceName, storeChoice, type InputReader } from '../shared/inputs.js';

export const RestoreOutputs = {
  BackupId: 'backup-id',
  Verified: 'verified',
  Method: 'method',
  PreRestoreBackupId: 'pre-restore-backup-id',
} as const;

/** The options with what the binding made: the backup bucket, and the target's database URL and media bucket from their keys. */
export function boundRestoreOptions(options: RestoreOptions, bound: BoundResources): RestoreOptions {
  return { ...options, bucket: bound.settings, databaseUrl: bound.databaseUrl ?? options.databaseUrl, databaseLabel: bound.databaseLabel, media: bound.media ?? options.media };
}

/**
 * What restore binds besides the backup bucket: the TARGET's database and media bucket (in 'cf-space',
 * the target space). With 'skip-media' the media instance is not bound.
 */
export function restoreBinding(read: InputReader): BindingProfile {
  return {
    database: {
      role: 'it is the TARGET database, whose contents the restore replaces',
      example: 'database-url: ${{ secrets.STAGING_DATABASE_URL }}',
    },
    media: !booleanInput(read, 'skip-media', false),
  };
}

/** `bucket` defaults to the bucket inputs; with binding the caller passes readBindingRequest(read, restoreBinding(read)).draft and .fromBinding. */
export function getRestoreOptions(
  read: InputReader,
  env: NodeJS.ProcessEnv = process.env,
  draftBucket?: BucketSettings,
  fromBinding: FromBinding = { database: false, media: false },
): RestoreOptions {
  const databaseUrl = secretInput(read, 'database-url');
  const githubToken = secretInput(read, 'github-token');
  if (!databaseUrl && !fromBinding.database) {
    throw new InputError(
      "Input 'database-url' is required but was not given: it is the TARGET database, whose contents the restore replaces. For example: database-url: ${{ secrets.STAGING_DATABASE_URL }}",
    );
  }
  const backupId = optional(read, 'backup-id') ?? 'latest';
  if (backupId !== 'latest' && !parseBackupId(backupId)) {
    throw new InputError(
      `Input 'backup-id' is '${backupId}', which is neither 'latest' nor a Lifeboat backup id (such as 2026-11-21T020000.000Z-nightly-7f3a). See the list action for the ids.`,
    );
  }
  const trigger = optionalTriggerFilter(read);
  if (trigger && backupId !== 'latest') {
    throw new InputError(`Input 'trigger' chooses which backup 'latest' means; with an explicit 'backup-id' (${backupId}) leave it out.`);
  }
  const jobs = positiveNumber(read, 'jobs', DEFAULT_JOBS, { min: 1, max: 64 });
  if (!Number.isInteger(jobs)) throw new InputError(`Input 'jobs' is '${jobs}'; it must be a whole number between 1 and 64.`);
  const thresholdMb = positiveNumber(read, 'parallel-threshold-mb', DEFAULT_PARALLEL_THRESHOLD_MB, { min: 0, max: 1_048_576 });
  const bucket = draftBucket ?? bucketSettings(read);
  const keys = readKeyInputs(read);
  const replica = replicaSettings(read);
  const store = storeChoice(read, replica);
  return {
    sourceSpace: spaceName(required(read, 'source-space', 'production'), 'source-space'),
    targetSpace: spaceName(required(read, 'target-space', 'staging'), 'target-space'),
    backupId,
    trigger,
    databaseUrl: databaseUrl ?? DATABASE_FROM_BINDING,
    databaseInput: fromBinding.database ? 'cf-database-instance' : 'database-url',
    bucket,
    media: fromBinding.media ? undefined : mediaSettings(read),
    skipMedia: booleanInput(read, 'skip-media', false),
    githubToken,
    confirm: optional(read, 'confirm'),
    policyFile: optional(read, 'policy-file'),
    jobs,
    parallelThresholdBytes: Math.round(thresholdMb * 1024 * 1024),
    pgRestorePath: optional(read, 'pg-restore-path'),
    privileges: choice(read, 'privileges', ['drop', 'keep'] as const, 'drop'),
    caller: callerFromEnv(env),
    ...(keys ? { keys } : {}),
    ...(replica ? { replica } : {}),
    store,
    env,
  };
}
