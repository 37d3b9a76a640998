/**
 * Where an operation's credentials come from, shared by the actions and the CLI.
 *
 *   binding: none          (default) database-url, the bucket inputs and the AWS_* environment
 *   binding: cloudfoundry  service keys made for this operation alone, deleted again when it ends:
 *                          on the backup bucket's instance (cf-service-instance), and where the
 *                          operation uses them, on the database's (cf-database-instance, reached
 *                          directly or through cf-tunnel-app) and the media bucket's (cf-media-instance);
 *                          all in one space (cf-space), instances shared into it included
 *
 * An operation adopts binding in three places (see docs/cloud-gov.md, "For maintainers"):
 *   inputs  `const request = readBindingRequest(read, PROFILE)`; `bucket: request.draft`, and
 *           `request.fromBinding` says whether the database and media come from keys
 *   action  `withActionBinding(request, 'restore', (bound) => …)` (binding-action.ts) and
 *           `post: '../../dist/unbind/index.js'` in its action.yml, with the inputs declared
 *   CLI     `withCliBinding(request, 'restore', log, (bound) => …)` and the inputs in its flags
 */
import { cancellationHandled } from '../../engine/cancellation.js';
import { errorMessage, InputError } from '../../engine/errors.js';
import type { Logger } from '../../engine/logger.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { checkMediaInstance, chooseDatabaseSource, type KeyPurpose } from '../../domain/platform-binding.js';
import {
  memoryJournal,
  parseApiUrl,
  PlatformSession,
  type BindingJournal,
  type BucketOverrides,
  type CfBindings,
  type CfTarget,
  type PlatformPlan,
  type SessionOptions,
  type SweepOptions,
  type SweepResult,
} from '../../engine/platform/index.js';
import { bucketSettings, choice, MEDIA_INPUTS, optional, required, secretInput, type InputReader } from './inputs.js';

export const BINDING_MODES = ['none', 'cloudfoundry'] as const;
export type BindingMode = (typeof BINDING_MODES)[number];

const CF_INPUTS = ['cf-api', 'cf-username', 'cf-password', 'cf-org', 'cf-space', 'cf-service-instance'];
/** The database's service instance, and the app to tunnel through to it. */
export const CF_DATABASE_INPUTS = ['cf-database-instance', 'cf-tunnel-app'];
/** The media bucket's service instance. */
export const CF_MEDIA_INPUTS = ['cf-media-instance'];
const ALL_CF_INPUTS = [...CF_INPUTS, ...CF_DATABASE_INPUTS, ...CF_MEDIA_INPUTS];

/** The inputs (and CLI flags) of binding the backup bucket, declared by every action (list needs no more). */
export const BINDING_INPUTS = ['binding', ...CF_INPUTS];
/** Backup and restore: the backup bucket, the database and the media bucket. */
export const PLATFORM_INPUTS = [...BINDING_INPUTS, ...CF_DATABASE_INPUTS, ...CF_MEDIA_INPUTS];
/** Prune: the backup bucket, and the database and media instances whose stale keys it sweeps. */
export const PRUNE_BINDING_INPUTS = [...BINDING_INPUTS, 'cf-database-instance', 'cf-media-instance'];

/** What an operation uses besides the backup bucket. */
export interface BindingProfile {
  /** It connects to a database: 'database-url', or 'cf-database-instance' (and 'cf-tunnel-app'). */
  database?: { role: string; example: string };
  /** It may use a media bucket: 'media-bucket', or 'cf-media-instance'. */
  media?: boolean;
  /** 'cf-database-instance' and 'cf-media-instance' name instances whose stale keys are swept, never bound (prune). */
  sweepOnly?: boolean;
}

/** Whether the database URL and the media bucket are filled in from keys once bound. */
export interface FromBinding {
  database: boolean;
  media: boolean;
}

/** The inputs read and checked; in cloudfoundry mode the credentials (and usually the bucket names) come later, from the keys. */
export type BucketRequest =
  | { mode: 'none'; draft: BucketSettings; fromBinding: FromBinding }
  | { mode: 'cloudfoundry'; draft: BucketSettings; fromBinding: FromBinding; plan: PlatformPlan; target: CfTarget; instance: string; overrides: BucketOverrides };

/** The placeholder bucket name of a draft whose bucket comes from the service key. */
export const BUCKET_FROM_BINDING = '(from the service key)';

function stray(names: string[], mode: string): InputError {
  const many = names.length > 1;
  return new InputError(
    `Input${many ? 's' : ''} ${names.map((n) => `'${n}'`).join(', ')} ${many ? 'are' : 'is'} set but 'binding' is '${mode}'. Set binding: cloudfoundry to bind through Cloud Foundry, or remove ${many ? 'them' : 'it'}.`,
  );
}

/** Runs a pure decision about the inputs, turning its Error into an InputError (the message is already for the user). */
function decide<T>(decision: () => T): T {
  try {
    return decision();
  } catch (error) {
    throw new InputError(errorMessage(error), { cause: error });
  }
}

/**
 * Reads and checks the binding inputs (and, with `profile`, whether the database and the media
 * bucket come from keys). Nothing is contacted yet, so a typo fails before any key exists.
 */
export function readBindingRequest(read: InputReader, profile: BindingProfile = {}): BucketRequest {
  const mode = choice(read, 'binding', BINDING_MODES, 'none');
  const databaseInstance = optional(read, 'cf-database-instance');
  const tunnelApp = optional(read, 'cf-tunnel-app');
  const mediaInstance = optional(read, 'cf-media-instance');
  if (mode === 'none') {
    const given = ALL_CF_INPUTS.filter((name) => optional(read, name));
    if (given.length) throw stray(given, mode);
  }
  const database =
    profile.database &&
    decide(() =>
      chooseDatabaseSource({ binding: mode, databaseUrl: Boolean(optional(read, 'database-url')), databaseInstance, tunnelApp, ...profile.database! }),
    );
  if (profile.media) decide(() => checkMediaInstance(mode, mediaInstance, MEDIA_INPUTS.filter((name) => optional(read, name))));
  const fromBinding: FromBinding = { database: database?.kind === 'instance', media: Boolean(profile.media && mediaInstance) };
  if (mode === 'none') return { mode, draft: bucketSettings(read), fromBinding };

  const keys = ['aws-access-key-id', 'aws-secret-access-key', 'aws-session-token'].filter((name) => optional(read, name));
  if (keys.length) {
    throw new InputError(
      `With binding: cloudfoundry the bucket's credentials come from a service key; remove ${keys.map((n) => `'${n}'`).join(', ')}.`,
    );
  }
  const username = secretInput(read, 'cf-username');
  const password = secretInput(read, 'cf-password');
  if (!username || !password) {
    throw new InputError(
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
  const target: CfTarget = { api, username, password, org: required(read, 'cf-org', 'my-agency'), space: required(read, 'cf-space', 'production') };
  const instance = required(read, 'cf-service-instance', 'backups');
  const sweepOnly: { instance: string; purpose: KeyPurpose }[] = profile.sweepOnly
    ? [
        ...(databaseInstance ? [{ instance: databaseInstance, purpose: 'database' as const }] : []),
        ...(mediaInstance ? [{ instance: mediaInstance, purpose: 'media bucket' as const }] : []),
      ]
    : [];
  const plan: PlatformPlan = {
    target,
    backupBucket: { instance, overrides },
    ...(fromBinding.media
      ? {
          mediaBucket: {
            instance: mediaInstance!,
            overrides: {
              bucket: optional(read, 'media-bucket'),
              bucketInput: 'media-bucket',
              prefix: optional(read, 'media-prefix') ?? '',
              endpoint: optional(read, 'media-s3-endpoint'),
              region: optional(read, 'media-s3-region'),
            },
          },
        }
      : {}),
    ...(database?.kind === 'instance' ? { database: { instance: database.instance, ...(database.tunnelApp ? { tunnelApp: database.tunnelApp } : {}) } } : {}),
    ...(sweepOnly.length ? { sweepOnly } : {}),
  };
  return {
    mode,
    fromBinding,
    plan,
    target,
    instance,
    overrides,
    draft: { bucket: overrides.bucket ?? BUCKET_FROM_BINDING, prefix: overrides.prefix, endpoint: overrides.endpoint, region: overrides.region },
  };
}

/** The backup bucket's inputs alone (list). */
export function readBucketRequest(read: InputReader): BucketRequest {
  return readBindingRequest(read);
}

/** What an operation works with once bound, and how to give its credentials back. */
export interface BoundResources {
  /** The backup bucket. */
  settings: BucketSettings;
  /** The database's URL from its key (sslmode=require); undefined when 'database-url' gives it. */
  databaseUrl?: string;
  /** How logs and summaries name that database (the key's host, not a tunnel's local port). */
  databaseLabel?: string;
  /** The media bucket from its key; undefined when the inputs give it (or there is none). */
  media?: BucketSettings;
  /** The operation's platform session; undefined with binding: none. */
  session?: PlatformSession;
  bindings?: CfBindings;
  /** Deletes every key this operation made and closes its tunnel (nothing to do with binding: none). Throws naming what is left. */
  release(): Promise<void>;
  /**
   * Deletes Lifeboat keys older than the threshold (default 24 h) on every instance the inputs name,
   * never this operation's own keys. For prune. Resolves to undefined with binding: none.
   */
  sweepStaleKeys(options?: Partial<SweepOptions>): Promise<SweepResult | undefined>;
}

/**
 * Binds everything the request names (with binding: cloudfoundry) or passes the settings through
 * (binding: none). `onOpen` gets the session as soon as it exists, before any key, so a signal
 * handler can clean up a half-made binding. If binding fails after a key was made, the keys are
 * deleted before this throws.
 */
export async function bindForOperation(
  request: BucketRequest,
  operation: string,
  log: Logger,
  journal: BindingJournal,
  options: Omit<SessionOptions, 'onOpen'> & { onOpen?: (session: PlatformSession) => void } = {},
): Promise<BoundResources> {
  if (request.mode === 'none') {
    return { settings: request.draft, release: async () => undefined, sweepStaleKeys: async () => undefined };
  }
  const session = await PlatformSession.open(request.plan, operation, journal, log, options);
  return {
    settings: session.backupBucket!,
    databaseUrl: session.databaseUrl,
    databaseLabel: session.databaseLabel,
    media: session.mediaBucket,
    session,
    bindings: session.bindings,
    release: () => session.release(),
    sweepStaleKeys: (sweep = {}) => session.sweepStaleKeys(sweep),
  };
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * For the CLI, which has no post step: binds, runs `body`, and deletes the keys in all cases,
 * on SIGINT and SIGTERM too. A failure to delete a key is an error (exit status 1) even when
 * the operation itself succeeded: credentials would be left behind.
 */
export async function withCliBinding<T>(request: BucketRequest, operation: string, log: Logger, body: (bound: BoundResources) => Promise<T>): Promise<T> {
  let session: PlatformSession | undefined;
  const handlers = Object.entries(SIGNALS).map(([signal, number]) => {
    const handler = () => {
      log.warning(`${signal} received: deleting the service keys before exiting…`);
      const cleanup = session?.release() ?? Promise.resolve();
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
    const bound = await bindForOperation(request, operation, log, memoryJournal, { onOpen: (opened) => (session = opened) });
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
