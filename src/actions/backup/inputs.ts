import { InputError } from '../../engine/errors.js';
import { COMPRESSIONS } from '../../domain/manifest.js';
import { DEFAULT_POLICY_PATH } from '../../domain/policy.js';
import type { BackupOptions } from '../../engine/backup/backup.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { DEFAULT_UPLOAD_TUNING } from '../../engine/s3/store.js';
import { backupKeyInputs } from '../shared/key-inputs.js';
import type { BindingProfile, BoundResources, FromBinding } from '../shared/binding.js';
import { booleanInput, bucketSettings, choice, mediaSettings, optional, positiveNumber, required, secretInput, spaceName, userTrigger, type InputReader } from '../shared/inputs.js';

export const BackupOutputs = {
  BackupId: 'backup-id',
  Size: 'size',
} as const;

/** What backup binds besides the backup bucket: its database and its media bucket. */
export const BACKUP_BINDING: BindingProfile = { database: { role: '', example: 'database-url: ${{ secrets.DATABASE_URL }}' }, media: true };

/** The database URL of options whose database comes from a service key, until the key is made. */
export const DATABASE_FROM_BINDING = '(from the service key of cf-database-instance)';

/** The options with what the binding made: the backup bucket, and the database URL and media bucket from their keys. */
export function boundBackupOptions(options: BackupOptions, bound: BoundResources): BackupOptions {
  return {
    ...options,
    bucket: bound.settings,
    databaseUrl: bound.databaseUrl ?? options.databaseUrl,
    databaseLabel: bound.databaseLabel,
    ...(bound.media ? { media: { ...options.media, source: bound.media } } : {}),
  };
}

/**
 * The backup's options. `bucket` defaults to the bucket inputs (binding: none); with binding the
 * caller passes readBindingRequest(read, BACKUP_BINDING).draft and .fromBinding, and puts the bound
 * settings (bucket, database URL, media bucket) in place later.
 */
export function getBackupOptions(
  read: InputReader,
  env: NodeJS.ProcessEnv = process.env,
  bucket?: BucketSettings,
  fromBinding: FromBinding = { database: false, media: false },
): BackupOptions {
  const databaseUrl = secretInput(read, 'database-url');
  if (!databaseUrl && !fromBinding.database) {
    throw new InputError("Input 'database-url' is required but was not given. For example: database-url: ${{ secrets.DATABASE_URL }}");
  }
  // Empty: chosen from the database's size when the backup starts (uploadTuningFor).
  const partSizeMb = optional(read, 'part-size-mb') === undefined ? undefined : positiveNumber(read, 'part-size-mb', 0, { min: 5, max: 5120 });
  const media = fromBinding.media ? undefined : mediaSettings(read);
  const keys = backupKeyInputs(read);
  return {
    space: spaceName(required(read, 'space', 'production')),
    trigger: userTrigger(read),
    databaseUrl: databaseUrl ?? DATABASE_FROM_BINDING,
    databaseInput: fromBinding.database ? 'cf-database-instance' : 'database-url',
    bucket: bucket ?? bucketSettings(read),
    compression: choice(read, 'compression', COMPRESSIONS, 'zstd'),
    pgDumpPath: optional(read, 'pg-dump-path'),
    policyFile: optional(read, 'policy-file') === DEFAULT_POLICY_PATH ? undefined : optional(read, 'policy-file'),
    rowCounts: booleanInput(read, 'row-counts', true),
    // At most an hour: Node's timers cannot wait longer than 24.8 days and fire at once instead.
    progressIntervalMs: positiveNumber(read, 'progress-interval-seconds', 10, { min: 1, max: 3600 }) * 1000,
    ...(partSizeMb ? { upload: { partSize: Math.round(partSizeMb * 1024 * 1024), queueSize: DEFAULT_UPLOAD_TUNING.queueSize } } : {}),
    ...(media ? { media: { source: media } } : {}),
    ...(keys ? { keys } : {}),
    env,
  };
}
