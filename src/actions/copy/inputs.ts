import { parseBackupId } from '../../domain/backup-id.js';
import { InputError } from '../../engine/errors.js';
import type { CopyOptions } from '../../engine/replica/copy.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { bucketSettings, optional, replicaSettings, spaceName, type InputReader } from '../shared/inputs.js';

export const CopyOutputs = {
  Copied: 'copied',
  Present: 'present',
} as const;

/** The copy's options; `draftBucket` is the binding's draft (binding: cloudfoundry) or the bucket inputs. */
export function getCopyOptions(read: InputReader, env: NodeJS.ProcessEnv = process.env, draftBucket?: BucketSettings): CopyOptions {
  const primary = draftBucket ?? bucketSettings(read);
  const replica = replicaSettings(read);
  if (!replica) throw new InputError("Input 'replica-bucket' is required but was not given: it is the bucket backups are copied to. For example: replica-bucket: my-app-backups-replica");
  const space = optional(read, 'space');
  const backupId = optional(read, 'backup-id');
  if (backupId !== undefined && !parseBackupId(backupId)) {
    throw new InputError(`Input 'backup-id' is '${backupId}', which is not a Lifeboat backup id (such as 2026-11-21T020000.000Z-nightly-7f3a). Leave it empty to copy every backup the replica lacks.`);
  }
  if (backupId !== undefined && space === undefined) throw new InputError(`Input 'backup-id' needs 'space': the space backup ${backupId} belongs to.`);
  return {
    primary,
    replica,
    space: space ? spaceName(space) : undefined,
    ...(backupId ? { backupId } : {}),
    env,
  };
}
