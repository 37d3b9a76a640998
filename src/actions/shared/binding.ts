/**
 * Where an operation's bucket credentials come from, shared by the actions and the CLI.
 *
 *   binding: none          (default) the bucket inputs and the AWS_* environment, as before
 *   binding: cloudfoundry  a service key made on the bucket's service instance for this operation
 *                          alone (cf-api, cf-username, cf-password, cf-org, cf-space,
 *                          cf-service-instance), deleted again when the operation ends
 *
 * An operation adopts binding in three places (see docs/cloud-gov.md, "For maintainers"):
 *   inputs  `const request = readBucketRequest(read)` and `bucket: request.draft`
 *   action  `withActionBucket(request, 'restore', (bucket) => …)` (binding-action.ts) and
 *           `post: '../../dist/unbind/index.js'` in its action.yml, with BINDING_INPUTS declared
 *   CLI     `withCliBucket(request, 'restore', log, (bucket) => …)` and `...BINDING_INPUTS` in flags
 */
import { cancellationHandled } from '../../engine/cancellation.js';
import { errorMessage, LifeboatError } from '../../engine/errors.js';
import type { Logger } from '../../engine/logger.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import {
  bindS3Bucket,
  CfBindings,
  DEFAULT_STALE_KEY_AGE_MS,
  memoryJournal,
  parseApiUrl,
  type BindingJournal,
  type BucketOverrides,
  type CfTarget,
  type SweepOptions,
  type SweepResult,
} from '../../engine/platform/index.js';
import { bucketSettings, choice, optional, required, secretInput, type InputReader } from './inputs.js';

export const BINDING_MODES = ['none', 'cloudfoundry'] as const;
export type BindingMode = (typeof BINDING_MODES)[number];

const CF_INPUTS = ['cf-api', 'cf-username', 'cf-password', 'cf-org', 'cf-space', 'cf-service-instance'];

/** The inputs (and CLI flags) of binding, declared by every action that binds its bucket. */
export const BINDING_INPUTS = ['binding', ...CF_INPUTS];

/** The bucket inputs read and checked; in cloudfoundry mode the credentials (and usually the bucket name) come later, from the binding. */
export type BucketRequest =
  | { mode: 'none'; draft: BucketSettings }
  | { mode: 'cloudfoundry'; draft: BucketSettings; target: CfTarget; instance: string; overrides: BucketOverrides };

/** The placeholder bucket name of a draft whose bucket comes from the service key. */
export const BUCKET_FROM_BINDING = '(from the service key)';

/** Reads and checks the binding and bucket inputs. Nothing is contacted yet, so a typo fails before any key exists. */
export function readBucketRequest(read: InputReader): BucketRequest {
  const mode = choice(read, 'binding', BINDING_MODES, 'none');
  if (mode === 'none') {
    const stray = CF_INPUTS.filter((name) => optional(read, name));
    if (stray.length) {
      throw new LifeboatError(
        `Input${stray.length > 1 ? 's' : ''} ${stray.map((n) => `'${n}'`).join(', ')} ${stray.length > 1 ? 'are' : 'is'} set but 'binding' is 'none'. Set binding: cloudfoundry to bind the bucket through Cloud Foundry, or remove ${stray.length > 1 ? 'them' : 'it'}.`,
      );
    }
    return { mode, draft: bucketSettings(read) };
  }
  const keys = ['aws-access-key-id', 'aws-secret-access-key', 'aws-session-token'].filter((name) => optional(read, name));
  if (keys.length) {
    throw new LifeboatError(
      `With binding: cloudfoundry the bucket's credentials come from a service key; remove ${keys.map((n) => `'${n}'`).join(', ')}.`,
    );
  }
  const username = secretInput(read, 'cf-username');
  const password = secretInput(read, 'cf-password');
  if (!username || !password) {
    throw new LifeboatError(
      "Inputs 'cf-username' and 'cf-password' are required with binding: cloudfoundry: the credentials of a cloud-gov-service-account service key, from secrets. For example: cf-username: ${{ secrets.CF_USERNAME }}",
    );
  }
  const api = parseApiUrl(required(read, 'cf-api', 'https://api.fr.cloud.gov')).href.replace(/\/$/, '');
  const overrides: BucketOverrides = {
    bucket: optional(read, 'backup-bucket'),
    prefix: optional(read, 'backup-prefix') ?? '',
    endpoint: optional(read, 's3-endpoint'),
    region: optional(read, 's3-region'),
  };
  return {
    mode,
    target: { api, username, password, org: required(read, 'cf-org', 'my-agency'), space: required(read, 'cf-space', 'production') },
    instance: required(read, 'cf-service-instance', 'backups'),
    overrides,
    draft: { bucket: overrides.bucket ?? BUCKET_FROM_BINDING, prefix: overrides.prefix, endpoint: overrides.endpoint, region: overrides.region },
  };
}

/** A bucket ready to use, and how to give its credentials back. */
export interface BoundBucket {
  settings: BucketSettings;
  /** The session's bindings; undefined with binding: none. */
  bindings?: CfBindings;
  /** Deletes every key this operation made (nothing to do with binding: none). Throws UnbindError. */
  release(): Promise<void>;
  /**
   * Deletes Lifeboat keys of the bucket's instance older than the threshold (default 24 h),
   * never this operation's own key. For prune. Resolves to undefined with binding: none.
   */
  sweepStaleKeys(options?: Partial<SweepOptions>): Promise<SweepResult | undefined>;
}

/**
 * Binds the bucket (with binding: cloudfoundry) or passes the settings through (binding: none).
 * `onOpen` gets the session as soon as it exists, before any key, so a signal handler can clean
 * up a half-made binding. If binding fails after a key was made, the key is deleted before this
 * throws.
 */
export async function bindBucket(
  request: BucketRequest,
  operation: string,
  log: Logger,
  journal: BindingJournal,
  options: { env?: NodeJS.ProcessEnv; onOpen?: (bindings: CfBindings) => void } = {},
): Promise<BoundBucket> {
  if (request.mode === 'none') {
    return { settings: request.draft, release: async () => undefined, sweepStaleKeys: async () => undefined };
  }
  const bindings = await CfBindings.open(request.target, operation, journal, log);
  options.onOpen?.(bindings);
  let settings: BucketSettings;
  try {
    settings = await bindS3Bucket(bindings, request.instance, request.overrides, log, { env: options.env });
  } catch (error) {
    if (bindings.outstanding.length) {
      await bindings.unbindAll().catch((cleanup: unknown) => log.warning(errorMessage(cleanup)));
    }
    throw error;
  }
  return {
    settings,
    bindings,
    release: () => bindings.unbindAll(),
    sweepStaleKeys: (sweep = {}) => bindings.sweepStaleKeys(request.instance, { olderThanMs: DEFAULT_STALE_KEY_AGE_MS, ...sweep }),
  };
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * For the CLI, which has no post step: binds, runs `body`, and deletes the key in all cases,
 * on SIGINT and SIGTERM too. A failure to delete the key is an error (exit status 1) even when
 * the operation itself succeeded: credentials to the backups would be left behind.
 */
export async function withCliBucket<T>(request: BucketRequest, operation: string, log: Logger, body: (bucket: BoundBucket) => Promise<T>): Promise<T> {
  let session: CfBindings | undefined;
  const handlers = Object.entries(SIGNALS).map(([signal, number]) => {
    const handler = () => {
      log.warning(`${signal} received: deleting the service key before exiting…`);
      const cleanup = session?.unbindAll() ?? Promise.resolve();
      cleanup.then(
        () => process.exit(128 + number),
        (error: unknown) => {
          log.warning(errorMessage(error));
          process.exit(1);
        },
      );
    };
    // Inside `cancellable` the operation stops on the signal and the key is deleted on the way out, below.
    if (request.mode === 'cloudfoundry' && !cancellationHandled()) process.once(signal, handler);
    return [signal, handler] as const;
  });
  try {
    const bound = await bindBucket(request, operation, log, memoryJournal, { onOpen: (b) => (session = b) });
    let result: T;
    try {
      result = await body(bound);
    } catch (error) {
      await bound.release().catch((cleanup: unknown) => log.warning(errorMessage(cleanup)));
      throw error;
    }
    await bound.release();
    return result;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
