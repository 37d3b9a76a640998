import { DEFAULT_POLICY_PATH } from '../../domain/policy.js';
import { DEFAULT_INCOMPLETE_GRACE_MS, parseDuration } from '../../domain/retention.js';
import { InputError } from '../../engine/errors.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import type { BindingProfile } from '../shared/binding.js';
import { booleanInput, bucketSettings, choice, optional, replicaSettings, spaceName, type InputReader } from '../shared/inputs.js';

/** Prune binds only the backup bucket; it sweeps the stale keys of the database and media instances too. */
export const PRUNE_BINDING: BindingProfile = { sweepOnly: true };

export const PruneOutputs = {
  Deleted: 'deleted',
  Kept: 'kept',
  AbortedUploads: 'aborted-uploads',
  Locked: 'locked',
  ReplicaDeleted: 'replica-deleted',
  ReplicaKept: 'replica-kept',
} as const;

/** Which stores a prune works on: every one given (the backup bucket, and the replica when given), or one. */
export type PruneStores = 'all' | 'primary' | 'replica';

export interface PruneInputs {
  bucket: BucketSettings;
  /** An explicit policy file, which must exist; undefined for the default path (or the defaults when it is absent). */
  policyFile?: string;
  space?: string;
  incompleteGraceMs: number;
  dryRun: boolean;
  /** The replica, when it is to be pruned too (or alone, with store: replica). */
  replica?: BucketSettings;
  stores: PruneStores;
}

const HOUR_MS = 60 * 60 * 1000;
/** Shorter than this, a slow backup could be deleted while it is still uploading. */
const MIN_GRACE_MS = HOUR_MS;

/** `bucket` defaults to the bucket inputs; with binding the caller passes readBindingRequest(read, PRUNE_BINDING).draft. */
export function getPruneInputs(read: InputReader, draftBucket?: BucketSettings): PruneInputs {
  const space = optional(read, 'space');
  const policyFile = optional(read, 'policy-file');
  const replica = replicaSettings(read);
  const stores = choice(read, 'store', ['all', 'primary', 'replica'] as const, 'all');
  if (stores === 'replica' && !replica) throw new InputError("Input 'store' is 'replica' but 'replica-bucket' is not given. Set 'replica-bucket' (and its replica-* inputs), or 'store: all'.");
  return {
    bucket: draftBucket ?? bucketSettings(read),
    // The action's default is the default path, which may be absent (then FAC's defaults apply); only a
    // path someone chose must exist.
    policyFile: policyFile === DEFAULT_POLICY_PATH ? undefined : policyFile,
    space: space ? spaceName(space) : undefined,
    incompleteGraceMs: graceInput(read, 'incomplete-grace'),
    dryRun: booleanInput(read, 'dry-run', false),
    ...(replica && stores !== 'primary' ? { replica } : {}),
    stores,
  };
}

/** A duration in weeks, days and hours (`24h`, `2d`, `1d12h`): months and years have no fixed length. */
function graceInput(read: InputReader, name: string): number {
  const text = optional(read, name);
  if (text === undefined) return DEFAULT_INCOMPLETE_GRACE_MS;
  const problem = (why: string) =>
    new InputError(`Input '${name}' is '${text}'; ${why}. Use a duration in weeks, days or hours such as '24h', '2d' or '1d12h'.`);
  let duration;
  try {
    duration = parseDuration(text);
  } catch {
    throw problem('it is not a duration');
  }
  if (duration.years || duration.months) throw problem('months and years are not allowed here ("m" is months, not minutes)');
  const ms = ((duration.weeks * 7 + duration.days) * 24 + duration.hours) * HOUR_MS;
  if (ms < MIN_GRACE_MS) throw problem('it must be at least 1h, so that a backup still running is never deleted');
  return ms;
}
