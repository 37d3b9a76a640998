/**
 * The life of Lifeboat's service keys: bind (create a key of type `key` on a service instance and
 * read its credentials), unbind (delete it), and sweep (delete keys that crashed runs left behind).
 *
 * Bindings are generic: any number of service instances can be bound in one session, and
 * `unbindAll` deletes every key the session created. What must survive a crash is kept in a
 * BindingState (no secrets in it: names and guids only), which is handed to a journal every time it
 * changes: the actions save it with core.saveState for their post step, the CLI keeps it in memory.
 *
 * The state is recorded *before* a key is created (its planned name), and again once its guid is
 * known, so that whoever cleans up can find the key by name if the process died in between.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { PURPOSE_INPUT, type KeyPurpose } from '../../domain/platform-binding.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { CfApiError, CfClient, describeErrors, type CfCredentialBinding, type CfLogin } from './cf-api.js';
import { maskCredentials } from './s3-credentials.js';
import { pollUntil } from './poll.js';

/** Every key Lifeboat creates has a name starting with this; the sweep only ever deletes such keys. */
export const KEY_PREFIX = 'lifeboat-';

/** Where keys are made: an API, an org and a space in it. */
export interface CfPlace {
  api: string;
  org: string;
  space: string;
}

export interface CfTarget extends CfPlace, CfLogin {}

export interface KeyRecord {
  /** Name of the service instance. */
  instance: string;
  instanceGuid?: string;
  /** Name of the service key. */
  name: string;
  /** What the key gives access to; a state saved before there were several kinds has only backup bucket keys. */
  purpose?: KeyPurpose;
  /** Known once the key exists. */
  guid?: string;
  state: 'planned' | 'created' | 'deleted';
}

/** What a clean-up needs: no secrets, only where the keys are and what they are called. */
export interface BindingState extends CfPlace {
  v: 1;
  operation: string;
  keys: KeyRecord[];
}

export interface BindingJournal {
  save(state: BindingState): void;
}

export const memoryJournal: BindingJournal = { save: () => undefined };

/** A key created and its (already masked) credentials. */
export interface BoundKey {
  record: KeyRecord;
  credentials: unknown;
  where: string;
}

/** What a key gives access to, for messages: "the backup bucket", "the database". */
export function purposeOf(record: KeyRecord): string {
  return `the ${record.purpose ?? 'backup bucket'}`;
}

/** How to delete a key by hand. */
export function deleteCommand(record: KeyRecord): string {
  return `cf delete-service-key ${record.instance} ${record.name} -f`;
}

/** A failed clean-up: names every key left behind, what it gives access to, and how to delete it by hand. */
export class UnbindError extends LifeboatError {
  constructor(
    readonly left: { record: KeyRecord; message: string }[],
    /** Anything else that could not be undone (a tunnel), said first. */
    also?: string,
  ) {
    super(
      (also ? `${also} ` : '') +
        `Could not delete ${left.length === 1 ? 'a service key' : `${left.length} service keys`}; until deleted, ${left.length === 1 ? 'its' : 'their'} credentials stay valid. ` +
        left
          .map(({ record, message }) => `Key '${record.name}' of '${record.instance}' (access to ${purposeOf(record)}): ${message.replace(/\.$/, '')}. Delete it by hand: ${deleteCommand(record)}`)
          .join(' '),
    );
    this.name = 'UnbindError';
  }
}

export interface BindOptions {
  env?: NodeJS.ProcessEnv;
  /** What the key is for (the backup bucket by default): in the state, messages and the input named in errors. */
  purpose?: KeyPurpose;
  /** Credential fields that are not masked (the S3 broker's by default). */
  publicFields?: readonly string[];
}

function slug(text: string, max: number): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, max)
      .replace(/-+$/, '') || 'x'
  );
}

/**
 * A key name that says it is Lifeboat's and which run made it:
 * lifeboat-<operation>-<repository>-<run id>-<attempt>-<random> in GitHub Actions,
 * lifeboat-<operation>-<host>-<yyyymmddhhmmss>-<random> elsewhere.
 */
export function keyName(operation: string, env: NodeJS.ProcessEnv = process.env, random = randomBytes(3).toString('hex')): string {
  if (env.GITHUB_RUN_ID) {
    const repo = slug(env.GITHUB_REPOSITORY?.split('/').pop() ?? 'repo', 30);
    return `${KEY_PREFIX}${slug(operation, 12)}-${repo}-${slug(env.GITHUB_RUN_ID, 20)}-${slug(env.GITHUB_RUN_ATTEMPT ?? '1', 5)}-${random}`;
  }
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${KEY_PREFIX}${slug(operation, 12)}-${slug(hostname(), 30)}-${stamp}-${random}`;
}

/** CF metadata for a key: labels to select by, annotations a person reads in `cf curl`. */
export function keyMetadata(operation: string, env: NodeJS.ProcessEnv = process.env, createdAt = new Date()) {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const annotations: Record<string, string | undefined> = {
    'lifeboat.created-at': createdAt.toISOString(),
    'lifeboat.operation': operation,
    'lifeboat.repository': env.GITHUB_REPOSITORY,
    'lifeboat.run-id': env.GITHUB_RUN_ID,
    'lifeboat.run-attempt': env.GITHUB_RUN_ATTEMPT,
    'lifeboat.run-url': env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined,
    'lifeboat.host': env.GITHUB_RUN_ID ? undefined : hostname(),
  };
  return {
    labels: { 'lifeboat.managed': 'true', 'lifeboat.operation': slug(operation, 63) },
    annotations: Object.fromEntries(Object.entries(annotations).filter(([, v]) => v)) as Record<string, string>,
  };
}

export interface SweepOptions {
  /** Keys created longer ago than this are deleted. */
  olderThanMs: number;
  /** The time to compare with; defaults to now. */
  now?: Date;
  /** Names never to delete, besides this session's own keys. */
  keep?: readonly string[];
  /** Delete nothing: list the stale keys in `stale` (the check action reports them). */
  reportOnly?: boolean;
}

export interface SweepResult {
  deleted: string[];
  failed: { name: string; message: string }[];
  /** Lifeboat keys left alone because they are younger than the threshold or kept. */
  kept: string[];
  /** With reportOnly: the keys that are stale, by instance, not deleted. */
  stale?: { instance: string; name: string; createdAt?: string }[];
}

/** Keys that crashed runs leave behind are deleted by the sweep once this old, by default. */
export const DEFAULT_STALE_KEY_AGE_MS = 24 * 60 * 60 * 1000;

export class CfBindings {
  private spaceGuid?: string;

  private constructor(
    private readonly client: CfClient,
    readonly state: BindingState,
    private readonly journal: BindingJournal,
    private readonly log: Logger,
  ) {}

  /** Logs in; nothing is created yet. */
  static async open(target: CfTarget, operation: string, journal: BindingJournal, log: Logger, client?: CfClient): Promise<CfBindings> {
    const cf = client ?? (await CfClient.connect(target, { log }));
    return new CfBindings(cf, { v: 1, api: cf.api.href.replace(/\/$/, ''), org: target.org, space: target.space, operation, keys: [] }, journal, log);
  }

  /** Picks up a saved state (in a post step) to delete what it records. */
  static async resume(state: BindingState, login: { username: string; password: string }, journal: BindingJournal, log: Logger, client?: CfClient): Promise<CfBindings> {
    const cf = client ?? (await CfClient.connect({ api: state.api, ...login }, { log }));
    return new CfBindings(cf, { ...state, keys: state.keys.map((k) => ({ ...k })) }, journal, log);
  }

  get cf(): CfClient {
    return this.client;
  }

  /** Keys created (or maybe created) and not yet deleted. */
  get outstanding(): KeyRecord[] {
    return this.state.keys.filter((k) => k.state !== 'deleted');
  }

  private save(): void {
    this.journal.save(this.state);
  }

  private where(): string {
    return `org '${this.state.org}', space '${this.state.space}' at ${this.client.origin}`;
  }

  /** The guid of the space ('cf-space'), looked up once. */
  async resolveSpace(): Promise<string> {
    if (this.spaceGuid) return this.spaceGuid;
    const org = await this.client.findOrganization(this.state.org);
    if (!org) {
      throw new LifeboatError(`No organization named '${this.state.org}' is visible to the service account at ${this.client.origin}. Check 'cf-org', and that the account has a role in it.`);
    }
    const space = await this.client.findSpace(this.state.space, org.guid);
    if (!space) {
      throw new LifeboatError(`No space named '${this.state.space}' in org '${this.state.org}' is visible to the service account. Check 'cf-space', and that the account has a role in it.`);
    }
    this.spaceGuid = space.guid;
    return space.guid;
  }

  /**
   * The guid of a service instance of the space, or shared into it from another space (the Cloud
   * Controller lists both for space_guids). `input` is the input that names it, for errors.
   */
  async findInstance(name: string, input = 'cf-service-instance'): Promise<string> {
    const instance = await this.client.findServiceInstance(name, await this.resolveSpace());
    if (!instance) {
      throw new LifeboatError(
        `No service instance named '${name}' in ${this.where()}, nor shared into it. Check '${input}' (cf services lists them; an instance of another space must be shared into this one: cf share-service).`,
      );
    }
    if (instance.type === 'user-provided') {
      throw new LifeboatError(`The service instance '${name}' is user-provided; service keys can only be made for managed instances such as cloud.gov's s3.`);
    }
    return instance.guid;
  }

  private async findKeyByName(record: KeyRecord): Promise<CfCredentialBinding | undefined> {
    const instanceGuid = record.instanceGuid ?? (await this.findInstance(record.instance, PURPOSE_INPUT[record.purpose ?? 'backup bucket']));
    const found = await this.client.listKeys(instanceGuid, [record.name]);
    return found.find((b) => b.name === record.name);
  }

  /**
   * Creates a service key on the named instance, waits for its job, and returns its credentials,
   * every secret value of which is masked before this returns.
   */
  async bind(instance: string, options: BindOptions = {}): Promise<BoundKey> {
    const env = options.env ?? process.env;
    const purpose = options.purpose ?? 'backup bucket';
    const instanceGuid = await this.findInstance(instance, PURPOSE_INPUT[purpose]);
    const record: KeyRecord = { instance, instanceGuid, name: keyName(this.state.operation, env), purpose, state: 'planned' };
    this.state.keys.push(record);
    this.save(); // before the key exists: a crash from here on leaves a name to look for
    const where = `service key '${record.name}' of '${instance}' (${purpose})`;
    this.log.info(`Creating ${where} in ${this.where()}…`);

    let created: { status: number; location?: string; json: unknown };
    try {
      created = await this.client.request(
        'POST',
        '/v3/service_credential_bindings',
        {
          body: {
            type: 'key',
            name: record.name,
            relationships: { service_instance: { data: { guid: instanceGuid } } },
            metadata: keyMetadata(this.state.operation, env),
          },
          accept: [201, 202],
        },
      );
    } catch (error) {
      if (error instanceof CfApiError && error.status === 403) {
        throw new LifeboatError(
          `The service account may not create a service key on '${instance}' (${purpose}) from ${this.where()} (403: ${describeErrors(error.errors)}). ` +
            `It needs the SpaceDeveloper role in the instance's own space (a space-deployer service account has it in its own space); for an instance shared from another space, that is the other space.`,
          { cause: error },
        );
      }
      throw new LifeboatError(`Could not create ${where}: ${errorMessage(error)}.`, { cause: error });
    }

    if (created.status === 201) {
      record.guid = (created.json as CfCredentialBinding | undefined)?.guid;
    } else {
      // 202: the binding exists from now on, in progress; learn its guid before waiting, for the state.
      record.guid = (await this.findKeyByName(record))?.guid;
      if (record.guid) {
        record.state = 'created';
        this.save();
      }
      if (!created.location) throw new LifeboatError(`Cloud Foundry accepted ${where} but gave no job to follow (no Location header).`);
      await this.client.waitForJob(created.location, `create ${where}`);
      record.guid ??= (await this.findKeyByName(record))?.guid;
    }
    if (!record.guid) throw new LifeboatError(`Cloud Foundry reported ${where} created, but it cannot be found.`);
    if (record.state !== 'created') {
      record.state = 'created';
      this.save();
    }

    const details = await this.client.get<{ credentials?: unknown }>(`/v3/service_credential_bindings/${record.guid}/details`);
    maskCredentials(details.credentials, options.publicFields); // first thing: nothing may print them unmasked
    this.log.info(`Created ${where}.`);
    return { record, credentials: details.credentials, where };
  }

  /** Waits while another operation on the binding (e.g. its creation) is in progress. */
  private async waitUntilIdle(guid: string, what: string): Promise<void> {
    await pollUntil(
      async () => {
        const binding = await this.client.getBinding(guid);
        return !binding || binding.last_operation?.state !== 'in progress' ? true : undefined;
      },
      this.client.jobBackoff,
      (elapsed) => new LifeboatError(`${what} was still busy after ${Math.round(elapsed / 1000)} s.`),
    );
  }

  /** Deletes one key; a key that is already gone (or was never created) counts as deleted. */
  async unbind(record: KeyRecord): Promise<void> {
    if (record.state === 'deleted') return;
    const what = `service key '${record.name}' of '${record.instance}' (${record.purpose ?? 'backup bucket'})`;
    const guid = record.guid ?? (await this.findKeyByName(record))?.guid;
    if (!guid) {
      this.log.info(`The ${what} was never created; nothing to delete.`);
      record.state = 'deleted';
      this.save();
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await this.client.request('DELETE', `/v3/service_credential_bindings/${guid}`, { accept: [202, 204, 404] });
        if (answer.status === 202) {
          if (!answer.location) throw new LifeboatError(`Cloud Foundry accepted deleting the ${what} but gave no job to follow.`);
          await this.client.waitForJob(answer.location, `delete the ${what}`);
        }
        this.log.info(answer.status === 404 ? `The ${what} was already deleted.` : `Deleted the ${what}.`);
        break;
      } catch (error) {
        // CF refuses to delete a binding while its creation is still in progress: wait for that, then delete.
        if (error instanceof CfApiError && error.status === 422 && attempt < 3 && /in progress/i.test(describeErrors(error.errors) + error.errors.map((e) => e.title).join(' '))) {
          this.log.info(`The ${what} is still being created; waiting to delete it…`);
          await this.waitUntilIdle(guid, `The ${what}`);
          continue;
        }
        throw error;
      }
    }
    record.guid = guid;
    record.state = 'deleted';
    this.save();
  }

  /** Deletes every key of this session; throws an UnbindError naming each key it could not delete. */
  async unbindAll(): Promise<void> {
    const left: { record: KeyRecord; message: string }[] = [];
    for (const record of this.outstanding) {
      try {
        await this.unbind(record);
      } catch (error) {
        left.push({ record, message: errorMessage(error) });
      }
    }
    if (left.length) throw new UnbindError(left);
  }

  /**
   * Deletes Lifeboat's keys on an instance that are older than `olderThanMs`: those that runs
   * which crashed before their clean-up left behind. Never touches keys without the lifeboat-
   * prefix, this session's own keys, or names in `keep`. Failures are reported, not thrown.
   */
  async sweepStaleKeys(instance: string, options: SweepOptions & { purpose?: KeyPurpose }): Promise<SweepResult> {
    const instanceGuid =
      this.state.keys.find((k) => k.instance === instance && k.instanceGuid)?.instanceGuid ?? (await this.findInstance(instance, PURPOSE_INPUT[options.purpose ?? 'backup bucket']));
    const cutoff = (options.now ?? new Date()).getTime() - options.olderThanMs;
    const keep = new Set([...(options.keep ?? []), ...this.state.keys.map((k) => k.name)]);
    const result: SweepResult = { deleted: [], failed: [], kept: [] };
    for (const key of await this.client.listKeys(instanceGuid)) {
      if (!key.name.startsWith(KEY_PREFIX)) continue;
      const created = Date.parse(key.created_at ?? '');
      if (keep.has(key.name) || !Number.isFinite(created) || created > cutoff) {
        result.kept.push(key.name);
        continue;
      }
      if (options.reportOnly) {
        (result.stale ??= []).push({ instance, name: key.name, ...(key.created_at ? { createdAt: key.created_at } : {}) });
        continue;
      }
      const record: KeyRecord = { instance, instanceGuid, name: key.name, guid: key.guid, purpose: options.purpose, state: 'created' };
      try {
        this.log.info(`Deleting stale service key '${key.name}' of '${instance}' (created ${key.created_at}).`);
        await this.unbindOther(record);
        result.deleted.push(key.name);
      } catch (error) {
        result.failed.push({ name: key.name, message: errorMessage(error) });
        this.log.warning(`Could not delete stale service key '${key.name}' of '${instance}': ${errorMessage(error)}. Delete it by hand: cf delete-service-key ${instance} ${key.name} -f`);
      }
    }
    return result;
  }

  /** Deletes a key that is not this session's, without recording it in the state. */
  private async unbindOther(record: KeyRecord): Promise<void> {
    const other = new CfBindings(this.client, { ...this.state, keys: [record] }, memoryJournal, this.log);
    other.spaceGuid = this.spaceGuid;
    await other.unbind(record);
  }
}
