import { LifeboatError } from '../../engine/errors.js';
import { assertSpaceName } from '../../domain/backup-id.js';
import { COMPRESSIONS } from '../../domain/manifest.js';
import type { BackupOptions } from '../../engine/backup.js';
import { DEFAULT_UPLOAD_TUNING } from '../../engine/store.js';
import { booleanInput, bucketSettings, choice, optional, positiveNumber, required, secretInput, userTrigger, type InputReader } from '../shared/inputs.js';

export const BackupOutputs = {
  BackupId: 'backup-id',
  Size: 'size',
} as const;

export function getBackupOptions(read: InputReader, env: NodeJS.ProcessEnv = process.env): BackupOptions {
  const databaseUrl = secretInput(read, 'database-url');
  if (!databaseUrl) {
    throw new LifeboatError("Input 'database-url' is required but was not given. For example: database-url: ${{ secrets.DATABASE_URL }}");
  }
  const partSizeMb = positiveNumber(read, 'part-size-mb', DEFAULT_UPLOAD_TUNING.partSize / 1024 / 1024, { min: 5, max: 5120 });
  return {
    space: assertSpaceName(required(read, 'space', 'production')),
    trigger: userTrigger(read),
    databaseUrl,
    bucket: bucketSettings(read),
    compression: choice(read, 'compression', COMPRESSIONS, 'zstd'),
    pgDumpPath: optional(read, 'pg-dump-path'),
    rowCounts: booleanInput(read, 'row-counts', true),
    progressIntervalMs: positiveNumber(read, 'progress-interval-seconds', 10, { min: 1 }) * 1000,
    upload: { partSize: Math.round(partSizeMb * 1024 * 1024), queueSize: DEFAULT_UPLOAD_TUNING.queueSize },
    env,
  };
}
