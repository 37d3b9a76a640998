/**
 * A Cloud Foundry API v3 and UAA test double, served over HTTP on loopback (two servers, as the
 * API and the login server are two hosts on cloud.gov). It implements the calls Lifeboat makes and
 * answers the way cloud_controller_ng and UAA do:
 *
 *   UAA  POST /oauth/token                                   password grant, client cf (Basic cf: or client_id=cf)
 *   API  GET  /                                              links.login, links.uaa
 *        GET  /v3/organizations?names=
 *        GET  /v3/spaces?names=&organization_guids=            several spaces in the org
 *        GET  /v3/service_instances?names=&space_guids=        an instance of the space, or shared into it
 *        POST /v3/service_credential_bindings               202 + Location: <api>/v3/jobs/<guid>
 *        GET  /v3/service_credential_bindings?names=&service_instance_guids=&type=   paginated
 *        GET  /v3/service_credential_bindings/:guid[/details]
 *        DELETE /v3/service_credential_bindings/:guid        202 + job; 404 when gone; 422 while in progress
 *        GET  /v3/jobs/:guid                                  PROCESSING, then COMPLETE (or FAILED)
 *
 * Jobs are asynchronous for real: a job stays PROCESSING for `pollsToComplete` polls (and as
 * long as `behaviour.holdJobs` is set; `release()` completes held ones), and only then does the
 * key get (or lose) its credentials.
 * Each key's credentials are made by the instance's `credentials()` function when the key is asked
 * for (in the tests: the real local S3 server, or a login role made on the real test PostgreSQL),
 * and handed to `revoke()` when the key is deleted, as a broker drops the user it made.
 * Every key created and deleted is recorded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAppSshRoutes, type AppSshRoutes } from './cf-app-ssh-routes.js';

export interface DoubleInstance {
  name: string;
  type?: 'managed' | 'user-provided';
  /** The space the instance lives in (the options' `space` by default). */
  space?: string;
  /** Spaces it is shared into (cf share-service). */
  sharedWith?: string[];
  /** Credentials of a new key. */
  credentials: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Undoes what credentials() made, when the key is deleted (or its creation fails). */
  revoke?: (credentials: Record<string, unknown>) => Promise<void>;
}

/** Where the test S3 server is, as the harness's s3Info() gives it. */
export interface TestS3 {
  accessKeyId: string;
  secretAccessKey: string;
  endpoint: string;
  region: string;
}

/** A managed S3 instance whose keys carry credentials as cloud.gov's S3 broker writes them, for a bucket on the test S3 server. */
export function s3BrokerInstance(s3: TestS3, name: string, bucket: string, place: { space?: string; sharedWith?: string[] } = {}): DoubleInstance {
  return {
    name,
    ...place,
    credentials: () => ({
      uri: `s3://${s3.accessKeyId}:${s3.secretAccessKey}@${new URL(s3.endpoint).host}/${bucket}`,
      insecure_skip_verify: false,
      access_key_id: s3.accessKeyId,
      secret_access_key: s3.secretAccessKey,
      region: s3.region,
      bucket,
      endpoint: s3.endpoint,
      fips_endpoint: s3.endpoint,
      additional_buckets: [],
    }),
  };
}

export interface CloudFoundryDoubleOptions {
  username: string;
  password: string;
  org: string;
  /** The default space; `spaces` adds others in the same org. */
  space: string;
  spaces?: string[];
  /** Spaces where the account may create keys (SpaceDeveloper); every space by default. */
  developerIn?: string[];
  instances: DoubleInstance[];
  /** Polls a job answers PROCESSING before it completes. */
  pollsToComplete?: number;
  /** Largest page of a listing. */
  maxPerPage?: number;
  /** Lifetime of access tokens, in seconds. */
  tokenLifetimeS?: number;
}

export interface DoubleKey {
  guid: string;
  name: string;
  instanceGuid: string;
  instanceName: string;
  createdAt: string;
  updatedAt: string;
  lastOperation: { type: 'create' | 'delete'; state: 'in progress' | 'succeeded' | 'failed' };
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  credentials?: Record<string, unknown>;
  /** Made when the key was created, handed out once its job completes. */
  pending?: Record<string, unknown>;
  deleted: boolean;
}

interface Job {
  guid: string;
  operation: string;
  state: 'PROCESSING' | 'COMPLETE' | 'FAILED';
  polls: number;
  errors: { code: number; title: string; detail: string }[];
  finish: () => { code: number; title: string; detail: string } | undefined;
  /** The broker's work that goes with the job's end (revoking credentials): the job is reported done once it is. */
  settled?: Promise<unknown>;
  createdAt: string;
}

export interface Behaviour {
  /** UAA answers as for an expired password. */
  expiredPassword: boolean;
  /** Jobs stay PROCESSING until this is cleared. */
  holdJobs: boolean;
  /** /details requests hang until this is cleared (a step can be killed while waiting). */
  holdDetails: boolean;
  /** Creation jobs fail (as after a broker error), leaving the key in state failed. */
  failCreate: boolean;
  /** Deletion jobs fail. */
  failDelete: boolean;
}

export interface CloudFoundryDouble {
  api: string;
  login: string;
  orgGuid: string;
  spaceGuid: string;
  spaceGuids: Record<string, string>;
  instanceGuid(name: string): string;
  behaviour: Behaviour;
  /** Every key ever made, deleted ones included. */
  keys: DoubleKey[];
  /** Keys that exist now. */
  live(): DoubleKey[];
  /** Names of keys made through the API, and of keys deleted through it, in order. */
  created: string[];
  deleted: string[];
  requests: { method: string; path: string; status?: number }[];
  /** Access tokens issued, and every credential value handed out: for secret checks. */
  issuedSecrets(): string[];
  /** Adds a finished key directly (a key some earlier run left behind). */
  seedKey(instance: string, name: string, options?: { createdAt?: Date; state?: DoubleKey['lastOperation'] }): DoubleKey;
  /** Apps, SSH switches, /v2/info's SSH proxy and one-time codes (cf-app-ssh-routes.ts). */
  appSsh: AppSshRoutes;
  /** Clears holdJobs and holdDetails and answers the held /details requests. */
  release(): void;
  close(): Promise<void>;
}

const LABEL_KEY = /^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { ...(body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...headers });
  res.end(body !== undefined ? JSON.stringify(body) : undefined);
}

function cfError(res: ServerResponse, status: number, code: number, title: string, detail: string): void {
  send(res, status, { errors: [{ code, title, detail }] });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startCloudFoundryDouble(options: CloudFoundryDoubleOptions): Promise<CloudFoundryDouble> {
  const pollsToComplete = options.pollsToComplete ?? 2;
  const maxPerPage = options.maxPerPage ?? 5000;
  const tokens = new Map<string, number>();
  const behaviour: Behaviour = { expiredPassword: false, holdJobs: false, holdDetails: false, failCreate: false, failDelete: false };
  const orgGuid = randomUUID();
  const spaceGuids: Record<string, string> = Object.fromEntries([...new Set([options.space, ...(options.spaces ?? [])])].map((name) => [name, randomUUID()]));
  const spaceGuid = spaceGuids[options.space]!;
  const instances = options.instances.map((i) => ({
    ...i,
    guid: randomUUID(),
    type: i.type ?? 'managed',
    spaceGuid: spaceGuids[i.space ?? options.space]!,
    sharedGuids: (i.sharedWith ?? []).map((name) => spaceGuids[name]!),
  }));
  /** Credentials being made or revoked: close() waits for them. */
  const settling = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    settling.add(promise);
    void promise.finally(() => settling.delete(promise)).catch(() => undefined);
    return promise;
  };
  const keys: DoubleKey[] = [];
  const jobs = new Map<string, Job>();
  const created: string[] = [];
  const deleted: string[] = [];
  const requests: CloudFoundryDouble['requests'] = [];
  const handedOut = new Set<string>();
  let heldDetails: (() => void)[] = [];
  let api = '';
  let login = '';
  const appSsh = createAppSshRoutes({
    spaceGuid: (name) => spaceGuids[name ?? options.space]!,
    spaceName: (guid) => Object.entries(spaceGuids).find(([, g]) => g === guid)?.[0] ?? options.space,
    api: () => api,
    login: () => login,
  });

  const uaa = createServer(async (req, res) => {
    const body = new URLSearchParams(await readBody(req));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? '', path: `uaa:${path}` });
    // App SSH: the one-time code (cf-app-ssh-routes.ts).
    if (appSsh.handleUaa(req, res, (t) => (tokens.get(t) ?? 0) >= Date.now(), { send })) return;
    if (req.method !== 'POST' || path !== '/oauth/token') return send(res, 404, { error: 'not_found' });
    const basic = /^basic\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const client = basic ? Buffer.from(basic, 'base64').toString('utf8') : `${body.get('client_id') ?? ''}:${body.get('client_secret') ?? ''}`;
    if (client !== 'cf:') return send(res, 401, { error: 'unauthorized', error_description: 'Bad credentials' });
    if (body.get('grant_type') !== 'password') return send(res, 400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' });
    if (body.get('username') !== options.username || body.get('password') !== options.password) {
      return send(res, 401, { error: 'unauthorized', error_description: 'Bad credentials' });
    }
    if (behaviour.expiredPassword) {
      return send(res, 401, { error: 'access_denied', error_description: 'Your current password has expired. Please reset your password.' });
    }
    const token = randomBytes(24).toString('hex');
    const refresh = randomBytes(24).toString('hex');
    const lifetime = options.tokenLifetimeS ?? 599;
    tokens.set(token, Date.now() + lifetime * 1000);
    handedOut.add(token).add(refresh);
    send(res, 200, { access_token: token, token_type: 'bearer', refresh_token: refresh, expires_in: lifetime, scope: 'cloud_controller.read cloud_controller.write', jti: randomUUID() });
  });

  const bindingJson = (k: DoubleKey) => ({
    guid: k.guid,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
    name: k.name,
    type: 'key',
    last_operation: { type: k.lastOperation.type, state: k.lastOperation.state, description: null, created_at: k.updatedAt, updated_at: k.updatedAt },
    metadata: k.metadata,
    relationships: { service_instance: { data: { guid: k.instanceGuid } } },
    links: {
      self: { href: `${api}/v3/service_credential_bindings/${k.guid}` },
      details: { href: `${api}/v3/service_credential_bindings/${k.guid}/details` },
      service_instance: { href: `${api}/v3/service_instances/${k.instanceGuid}` },
    },
  });

  const page = <T>(res: ServerResponse, url: URL, items: T[]) => {
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 50) || 50, maxPerPage);
    const pageNo = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    const pages = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number) => {
      const u = new URL(url.pathname + url.search, api);
      u.searchParams.set('page', String(n));
      u.searchParams.set('per_page', String(perPage));
      return { href: u.toString() };
    };
    send(res, 200, {
      pagination: {
        total_results: items.length,
        total_pages: pages,
        first: link(1),
        last: link(pages),
        next: pageNo < pages ? link(pageNo + 1) : null,
        previous: pageNo > 1 ? link(pageNo - 1) : null,
      },
      resources: items.slice((pageNo - 1) * perPage, pageNo * perPage),
    });
  };

  const newJob = (operation: string, finish: Job['finish']): Job => {
    const job: Job = { guid: randomUUID(), operation, state: 'PROCESSING', polls: 0, errors: [], finish, createdAt: new Date().toISOString() };
    jobs.set(job.guid, job);
    return job;
  };

  const complete = (job: Job) => {
    const error = job.finish();
    job.state = error ? 'FAILED' : 'COMPLETE';
    if (error) job.errors.push(error);
  };

  const touch = (k: DoubleKey, op: DoubleKey['lastOperation']) => {
    k.lastOperation = op;
    k.updatedAt = new Date().toISOString();
  };

  const makeKey = (instance: (typeof instances)[number], name: string, metadata: DoubleKey['metadata'], createdAt = new Date()): DoubleKey => {
    const key: DoubleKey = {
      guid: randomUUID(),
      name,
      instanceGuid: instance.guid,
      instanceName: instance.name,
      createdAt: createdAt.toISOString(),
      updatedAt: createdAt.toISOString(),
      lastOperation: { type: 'create', state: 'in progress' },
      metadata,
      deleted: false,
    };
    keys.push(key);
    return key;
  };

  const makeCredentials = async (instance: (typeof instances)[number]) => {
    const credentials = await instance.credentials();
    for (const value of Object.values(credentials)) if (typeof value === 'string') handedOut.add(value);
    return credentials;
  };
  const revoke = (instance: (typeof instances)[number], credentials: Record<string, unknown> | undefined) =>
    credentials && instance.revoke ? track(instance.revoke(credentials)) : undefined;

  const validMetadata = (metadata: unknown): string | undefined => {
    const m = (metadata ?? {}) as { labels?: Record<string, unknown>; annotations?: Record<string, unknown> };
    for (const [k, v] of Object.entries(m.labels ?? {})) {
      if (!LABEL_KEY.test(k)) return `Metadata label key error: '${k}' is not a valid key`;
      if (typeof v !== 'string' || !LABEL_VALUE.test(v)) return `Metadata label value error: '${String(v)}' is not a valid label value`;
    }
    for (const [k, v] of Object.entries(m.annotations ?? {})) {
      if (!LABEL_KEY.test(k)) return `Metadata annotation key error: '${k}' is not a valid key`;
      if (typeof v !== 'string' || v.length > 5000) return `Metadata annotation error: value of '${k}' is too long or not a string`;
    }
    return undefined;
  };

  const cf = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const entry: CloudFoundryDouble['requests'][number] = { method, path: url.pathname };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    const text = await readBody(req);

    if (url.pathname === '/' && method === 'GET') {
      return send(res, 200, {
        links: {
          self: { href: api },
          cloud_controller_v2: { href: `${api}/v2`, meta: { version: '2.260.0' } },
          cloud_controller_v3: { href: `${api}/v3`, meta: { version: '3.195.0' } },
          login: { href: login },
          uaa: { href: login },
        },
      });
    }
    const token = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const expiry = token ? tokens.get(token) : undefined;
    if (!expiry || expiry < Date.now()) return cfError(res, 401, 1000, 'CF-InvalidAuthToken', 'Invalid Auth Token');

    const list = (name: string) => url.searchParams.get(name)?.split(',').filter(Boolean);
    const match = (values: string[] | undefined, value: string) => !values || values.includes(value);
    const path = url.pathname;

    if (method === 'GET' && path === '/v3/organizations') {
      return page(res, url, match(list('names'), options.org) ? [{ guid: orgGuid, name: options.org, created_at: '2024-01-01T00:00:00Z' }] : []);
    }
    if (method === 'GET' && path === '/v3/spaces') {
      const found = Object.entries(spaceGuids).filter(([name, guid]) => match(list('names'), name) && match(list('guids'), guid) && match(list('organization_guids'), orgGuid));
      return page(res, url, found.map(([name, guid]) => ({ guid, name, relationships: { organization: { data: { guid: orgGuid } } } })));
    }
    if (method === 'GET' && path === '/v3/service_instances') {
      // As the Cloud Controller does: space_guids matches the instances of those spaces and those shared into them.
      const spaces = list('space_guids');
      const found = instances.filter((i) => match(list('names'), i.name) && (!spaces || spaces.includes(i.spaceGuid) || i.sharedGuids.some((g) => spaces.includes(g))));
      return page(res, url, found.map((i) => ({ guid: i.guid, name: i.name, type: i.type, relationships: { space: { data: { guid: i.spaceGuid } } } })));
    }
    if (method === 'GET' && path === '/v3/service_credential_bindings') {
      const found = keys.filter(
        (k) =>
          !k.deleted &&
          match(list('names'), k.name) &&
          match(list('service_instance_guids'), k.instanceGuid) &&
          match(list('service_instance_names'), k.instanceName) &&
          match(list('type'), 'key'),
      );
      return page(res, url, found.map(bindingJson));
    }
    if (method === 'POST' && path === '/v3/service_credential_bindings') {
      let body: { type?: string; name?: string; relationships?: { service_instance?: { data?: { guid?: string } } }; metadata?: DoubleKey['metadata'] };
      try {
        body = JSON.parse(text);
      } catch {
        return cfError(res, 400, 1001, 'CF-MessageParseError', 'Request invalid due to parse error: invalid request body');
      }
      if (body.type !== 'key' && body.type !== 'app') return cfError(res, 422, 10008, 'CF-UnprocessableEntity', "Type must be one of 'app', 'key'");
      if (body.type === 'key' && !body.name) return cfError(res, 422, 10008, 'CF-UnprocessableEntity', "Name can't be blank");
      const instance = instances.find((i) => i.guid === body.relationships?.service_instance?.data?.guid);
      if (!instance) return cfError(res, 422, 10008, 'CF-UnprocessableEntity', `The service instance could not be found: '${body.relationships?.service_instance?.data?.guid}'.`);
      if (instance.type === 'user-provided') {
        return cfError(res, 422, 10008, 'CF-UnprocessableEntity', "Service credential bindings of type 'key' are not supported for user-provided service instances.");
      }
      const instanceSpace = Object.entries(spaceGuids).find(([, guid]) => guid === instance.spaceGuid)![0];
      if (options.developerIn && !options.developerIn.includes(instanceSpace)) {
        return cfError(res, 403, 10003, 'CF-NotAuthorized', 'You are not authorized to perform the requested action');
      }
      const metadataError = validMetadata(body.metadata);
      if (metadataError) return cfError(res, 422, 10008, 'CF-UnprocessableEntity', metadataError);
      if (keys.some((k) => !k.deleted && k.instanceGuid === instance.guid && k.name === body.name)) {
        return cfError(
          res,
          422,
          10008,
          'CF-UnprocessableEntity',
          `The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '${body.name}'.`,
        );
      }
      const key = makeKey(instance, body.name!, { labels: body.metadata?.labels ?? {}, annotations: body.metadata?.annotations ?? {} });
      created.push(key.name);
      key.pending = await track(makeCredentials(instance));
      const job = newJob('service_bindings.create', () => {
        if (behaviour.failCreate) {
          touch(key, { type: 'create', state: 'failed' });
          job.settled = revoke(instance, key.pending);
          key.pending = undefined;
          return { code: 10009, title: 'CF-UnableToPerform', detail: 'bind could not be completed: Service broker error: the broker is broken' };
        }
        key.credentials = key.pending;
        key.pending = undefined;
        touch(key, { type: 'create', state: 'succeeded' });
        return undefined;
      });
      return send(res, 202, undefined, { location: `${api}/v3/jobs/${job.guid}` });
    }
    const one = /^\/v3\/service_credential_bindings\/([^/]+)(\/details)?$/.exec(path);
    if (one) {
      const key = keys.find((k) => k.guid === one[1] && !k.deleted);
      if (!key) return cfError(res, 404, 10010, 'CF-ResourceNotFound', 'Service credential binding not found');
      if (method === 'GET' && !one[2]) return send(res, 200, bindingJson(key));
      if (method === 'GET' && one[2]) {
        const answer = () => {
          if (key.deleted || !key.credentials) return cfError(res, 404, 10010, 'CF-ResourceNotFound', 'Service credential binding not found');
          send(res, 200, { credentials: key.credentials });
        };
        if (behaviour.holdDetails) heldDetails.push(answer);
        else answer();
        return;
      }
      if (method === 'DELETE' && !one[2]) {
        if (key.lastOperation.state === 'in progress') {
          return cfError(
            res,
            422,
            90008,
            'CF-AsyncServiceBindingOperationInProgress',
            `An operation for the service binding between app  and service instance ${key.instanceName} is in progress.`,
          );
        }
        touch(key, { type: 'delete', state: 'in progress' });
        const job = newJob('service_bindings.delete', () => {
          if (behaviour.failDelete) {
            touch(key, { type: 'delete', state: 'failed' });
            return { code: 10009, title: 'CF-UnableToPerform', detail: 'unbind could not be completed: Service broker error: the broker is broken' };
          }
          key.deleted = true;
          deleted.push(key.name);
          job.settled = revoke(instances.find((i) => i.guid === key.instanceGuid)!, key.credentials ?? key.pending);
          return undefined;
        });
        return send(res, 202, undefined, { location: `${api}/v3/jobs/${job.guid}` });
      }
    }
    const jobMatch = /^\/v3\/jobs\/([^/]+)$/.exec(path);
    if (method === 'GET' && jobMatch) {
      const job = jobs.get(jobMatch[1]!);
      if (!job) return cfError(res, 404, 10010, 'CF-ResourceNotFound', 'Job not found');
      if (job.state === 'PROCESSING') {
        job.polls++;
        if (!behaviour.holdJobs && job.polls >= pollsToComplete) complete(job);
      }
      if (job.state !== 'PROCESSING') await job.settled?.catch(() => undefined);
      return send(res, 200, {
        guid: job.guid,
        created_at: job.createdAt,
        updated_at: new Date().toISOString(),
        operation: job.operation,
        state: job.state,
        errors: job.errors,
        warnings: [],
        links: { self: { href: `${api}/v3/jobs/${job.guid}` } },
      });
    }
    // App SSH: apps, ssh_enabled, /v2/info (cf-app-ssh-routes.ts).
    if (appSsh.handleApi(method, url, res, { send, cfError, page })) return;
    cfError(res, 404, 10000, 'CF-NotFound', 'Unknown request');
  });

  login = await listen(uaa);
  api = await listen(cf);

  return {
    api,
    login,
    orgGuid,
    spaceGuid,
    spaceGuids,
    instanceGuid: (name) => instances.find((i) => i.name === name)!.guid,
    behaviour,
    keys,
    live: () => keys.filter((k) => !k.deleted),
    created,
    deleted,
    requests,
    issuedSecrets: () => [...handedOut, ...appSsh.routes.codes.issued].filter((s) => s.length >= 3),
    appSsh: appSsh.routes,
    seedKey(instanceName, name, seed = {}) {
      const instance = instances.find((i) => i.name === instanceName)!;
      const key = makeKey(instance, name, { labels: { 'lifeboat.managed': 'true' }, annotations: {} }, seed.createdAt);
      void track(makeCredentials(instance)).then((credentials) => (key.credentials = credentials));
      key.lastOperation = seed.state ?? { type: 'create', state: 'succeeded' };
      return key;
    },
    release,
    async close() {
      release();
      while (settling.size) await Promise.allSettled([...settling]);
      cf.closeAllConnections();
      uaa.closeAllConnections();
      await Promise.all([new Promise((r) => cf.close(r)), new Promise((r) => uaa.close(r))]);
    },
  };

  function release(): void {
    behaviour.holdJobs = false;
    behaviour.holdDetails = false;
    // The broker finishes its work whether or not anyone polls the job.
    for (const job of jobs.values()) if (job.state === 'PROCESSING') complete(job);
    const held = heldDetails;
    heldDetails = [];
    for (const answer of held) answer();
  }
}
