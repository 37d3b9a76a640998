/**
 * Reading inputs, shared by the actions (from INPUT_* through @actions/core) and the CLI (from
 * flags). Each action's inputs module turns raw strings into a typed, validated object with these
 * helpers, so both front ends accept and reject exactly the same things.
 */
import { assertSpaceName, isTrigger, USER_TRIGGERS, type Trigger } from '../../domain/backup-id.js';
import { errorMessage, InputError } from '../../engine/errors.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { registerSecret } from '../../engine/secrets.js';

/** Returns the raw value of an input by its kebab-case name, or undefined/'' when not given. */
export type InputReader = (name: string) => string | undefined;

export function optional(read: InputReader, name: string): string | undefined {
  const value = read(name)?.trim();
  return value ? value : undefined;
}

export function required(read: InputReader, name: string, example: string): string {
  const value = optional(read, name);
  if (!value) throw new InputError(`Input '${name}' is required but was not given. For example: ${name}: ${example}`);
  return value;
}

export function secretInput(read: InputReader, name: string): string | undefined {
  const value = optional(read, name);
  registerSecret(value);
  return value;
}

export function choice<T extends string>(read: InputReader, name: string, allowed: readonly T[], fallback: T): T {
  const value = optional(read, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(`Input '${name}' is '${value}'; it must be one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

export function positiveNumber(read: InputReader, name: string, fallback: number, options: { min?: number; max?: number } = {}): number {
  const text = optional(read, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  const min = options.min ?? Number.MIN_VALUE;
  if (!Number.isFinite(value) || value < min || (options.max !== undefined && value > options.max)) {
    const range = options.max !== undefined ? `between ${options.min ?? 0} and ${options.max}` : `at least ${options.min ?? 'above 0'}`;
    throw new InputError(`Input '${name}' is '${text}'; it must be a number ${range}.`);
  }
  return value;
}

/** YAML 1.2 core-schema booleans, with a default for the empty string (core.getBooleanInput throws on ''). */
export function booleanInput(read: InputReader, name: string, fallback: boolean): boolean {
  const text = optional(read, name);
  if (text === undefined) return fallback;
  if (['true', 'True', 'TRUE'].includes(text)) return true;
  if (['false', 'False', 'FALSE'].includes(text)) return false;
  throw new InputError(`Input '${name}' is '${text}'; it must be true or false.`);
}

/** A space name (lower-case letters, digits, '-' and '_'), checked; the error is an InputError. */
export function spaceName(value: string, name = 'space'): string {
  try {
    return assertSpaceName(value, name);
  } catch (error) {
    throw new InputError(errorMessage(error));
  }
}

export function userTrigger(read: InputReader, name = 'trigger', fallback: Trigger = 'manual'): Trigger {
  return choice(read, name, USER_TRIGGERS, fallback);
}

export function optionalTriggerFilter(read: InputReader, name = 'trigger'): Trigger | undefined {
  const value = optional(read, name);
  if (value === undefined) return undefined;
  if (!isTrigger(value)) throw new InputError(`Input '${name}' is '${value}'; it must be one of: predeploy, nightly, manual, pre-restore.`);
  return value;
}

/**
 * A bucket's inputs, named `<prefix>aws-access-key-id` and so on. The key id and the secret go
 * together; when both are empty, `credentials` is undefined and the caller's default applies.
 */
function readBucket(read: InputReader, prefix: '' | 'media-' | 'replica-', bucket: string, prefixInput: string, withoutKeys: string): BucketSettings {
  const accessKeyId = optional(read, `${prefix}aws-access-key-id`);
  const secretAccessKey = secretInput(read, `${prefix}aws-secret-access-key`);
  const sessionToken = secretInput(read, `${prefix}aws-session-token`);
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new InputError(
      `Inputs '${prefix}aws-access-key-id' and '${prefix}aws-secret-access-key' go together: give both, or neither to use ${withoutKeys}.`,
    );
  }
  return {
    bucket,
    prefix: optional(read, prefixInput) ?? '',
    endpoint: optional(read, `${prefix}s3-endpoint`),
    region: optional(read, `${prefix}s3-region`),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
  };
}

/** The backup bucket: where it is and how to reach it. Credentials default to the AWS SDK chain (AWS_* variables). */
export function bucketSettings(read: InputReader): BucketSettings {
  return readBucket(read, '', required(read, 'backup-bucket', 'my-app-backups'), 'backup-prefix', 'the AWS_* environment variables');
}

/**
 * The application's media bucket, when one is given. Endpoint, region and credentials left empty are
 * taken from the backup bucket when the operation runs (see withConnectionOf), since one credential
 * often reaches both; on cloud.gov each bucket has its own.
 */
export function mediaSettings(read: InputReader): BucketSettings | undefined {
  const bucket = optional(read, 'media-bucket');
  return bucket ? readBucket(read, 'media-', bucket, 'media-prefix', "the backup bucket's credentials") : undefined;
}

/** The media inputs, in the order the action.yml files and CLI flags list them. */
export const MEDIA_INPUTS = [
  'media-bucket',
  'media-prefix',
  'media-s3-endpoint',
  'media-s3-region',
  'media-aws-access-key-id',
  'media-aws-secret-access-key',
  'media-aws-session-token',
] as const;

/**
 * The replica bucket (docs/replication.md), when one is given: a second store, often on another
 * provider, so nothing is taken from the backup bucket's connection. Endpoint and region default as for
 * any bucket; credentials default to the AWS_* environment variables only when both replica keys are
 * empty (the same chain as the backup bucket's, so give replica keys whenever the stores differ).
 */
export function replicaSettings(read: InputReader): BucketSettings | undefined {
  const bucket = optional(read, 'replica-bucket');
  if (!bucket) {
    // Keys or an endpoint without a bucket are a mistake that would otherwise pass in silence.
    const stray = REPLICA_INPUTS.filter((name) => name !== 'replica-bucket' && optional(read, name));
    for (const name of stray) if (name.includes('secret') || name.includes('token')) secretInput(read, name);
    if (stray.length > 0) {
      throw new InputError(`Input${stray.length > 1 ? 's' : ''} ${stray.map((n) => `'${n}'`).join(', ')} ${stray.length > 1 ? 'are' : 'is'} given but 'replica-bucket' is not. Set 'replica-bucket' to the replica's bucket, or remove the replica inputs.`);
    }
    return undefined;
  }
  return readBucket(read, 'replica-', bucket, 'replica-prefix', 'the AWS_* environment variables');
}

/** The replica inputs, in the order the action.yml files and CLI flags list them. */
export const REPLICA_INPUTS = [
  'replica-bucket',
  'replica-prefix',
  'replica-s3-endpoint',
  'replica-s3-region',
  'replica-aws-access-key-id',
  'replica-aws-secret-access-key',
  'replica-aws-session-token',
] as const;

/** Which store list and restore read: the backup bucket, or its replica. */
export type StoreChoice = 'primary' | 'replica';

/** The `store` input: 'replica' needs the replica inputs. */
export function storeChoice(read: InputReader, replica: BucketSettings | undefined): StoreChoice {
  const store = choice(read, 'store', ['primary', 'replica'] as const, 'primary');
  if (store === 'replica' && !replica) throw new InputError("Input 'store' is 'replica' but 'replica-bucket' is not given. Set 'replica-bucket' (and its replica-* inputs), or 'store: primary'.");
  return store;
}
