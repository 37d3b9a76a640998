/**
 * A small Cloud Foundry API v3 client: just the calls Lifeboat's bindings make, over Node's fetch.
 *
 *   GET    /v3/organizations?names=                                  find the org
 *   GET    /v3/spaces?names=&organization_guids=                     find the space
 *   GET    /v3/service_instances?names=&space_guids=                 find the service instance
 *   POST   /v3/service_credential_bindings {type: key, …}            202 + Location: /v3/jobs/<guid>
 *   GET    /v3/jobs/:guid                                            PROCESSING | POLLING | COMPLETE | FAILED
 *   GET    /v3/service_credential_bindings?names=&service_instance_guids=&type=key
 *   GET    /v3/service_credential_bindings/:guid[/details]
 *   DELETE /v3/service_credential_bindings/:guid                     202 + job, or 204; 404 when gone
 *
 * The bearer token is sent only to the API's own origin (pagination and job links are checked),
 * and is renewed by the password grant when it nears expiry or the API says it is invalid.
 */
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { JOB_BACKOFF, pollUntil, sleep, type Backoff } from './poll.js';
import { discoverLoginUrl, parseApiUrl, passwordGrant, REQUEST_TIMEOUT_MS, type UaaToken } from './uaa.js';
import { requestSshCode } from './ssh-code.js';

export interface CfLogin {
  /** The API's address, e.g. https://api.fr.cloud.gov. */
  api: string;
  username: string;
  password: string;
}

export interface CfErrorItem {
  code?: number;
  title?: string;
  detail?: string;
}

/** A CF API answer that was not a success: its status and the v3 `errors` array. */
export class CfApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly errors: CfErrorItem[],
  ) {
    super(`${method} ${path} answered ${status}${errors.length ? `: ${describeErrors(errors)}` : ''}`);
    this.name = 'CfApiError';
  }

  has(title: string): boolean {
    return this.errors.some((e) => e.title === title);
  }
}

export function describeErrors(errors: readonly CfErrorItem[]): string {
  return errors.map((e) => [e.title, e.detail].filter(Boolean).join(': ')).join('; ');
}

export interface CfResource {
  guid: string;
  name: string;
  created_at?: string;
  updated_at?: string;
}

export interface CfCredentialBinding extends CfResource {
  type: 'key' | 'app';
  last_operation?: { type: 'create' | 'update' | 'delete'; state: 'initial' | 'in progress' | 'succeeded' | 'failed'; description?: string | null } | null;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  relationships?: { service_instance?: { data?: { guid?: string } } };
}

export interface CfJob {
  guid: string;
  operation?: string;
  state: 'PROCESSING' | 'POLLING' | 'COMPLETE' | 'FAILED';
  errors?: CfErrorItem[];
  warnings?: { detail?: string }[];
}

interface Paginated<T> {
  pagination?: { next?: { href?: string } | null };
  resources?: T[];
}

export interface CfClientOptions {
  log: Logger;
  /** How to wait for asynchronous jobs. */
  jobBackoff?: Backoff;
}

const TRANSIENT = new Set([502, 503, 504]);

export class CfClient {
  private token?: UaaToken;

  private constructor(
    readonly api: URL,
    private readonly login: URL,
    private readonly credentials: CfLogin,
    private readonly options: CfClientOptions,
  ) {}

  /** Finds the login server from the API root and gets a token: fails here, clearly, on a wrong or expired password. */
  static async connect(credentials: CfLogin, options: CfClientOptions): Promise<CfClient> {
    const api = parseApiUrl(credentials.api);
    const login = await discoverLoginUrl(api);
    const client = new CfClient(api, login, credentials, options);
    await client.authenticate();
    options.log.debug(`Authenticated to ${api.origin} through ${login.origin}.`);
    return client;
  }

  get origin(): string {
    return this.api.origin;
  }

  get jobBackoff(): Backoff {
    return this.options.jobBackoff ?? JOB_BACKOFF;
  }

  private async authenticate(): Promise<string> {
    this.token = await passwordGrant(this.login, this.credentials.username, this.credentials.password);
    return this.token.accessToken;
  }

  private async bearer(): Promise<string> {
    if (!this.token || Date.now() >= this.token.expiresAt) return this.authenticate();
    return this.token.accessToken;
  }

  /** A path on the API, or an absolute link the API gave, which must be on the API's own origin. */
  private resolve(pathOrUrl: string): URL {
    const url = new URL(pathOrUrl, this.api.href.replace(/\/?$/, '/'));
    if (url.origin !== this.api.origin) {
      throw new LifeboatError(`The Cloud Foundry API at ${this.api.origin} linked to ${url.origin}; Lifeboat sends its token only to the API itself.`);
    }
    return url;
  }

  /**
   * Sends one request with the bearer token. Renews the token once on 401; retries reads and
   * deletes (idempotent) on network errors and 502/503/504. Returns the response for statuses in
   * `accept`; throws CfApiError for other statuses.
   */
  async request(
    method: 'GET' | 'POST' | 'DELETE',
    pathOrUrl: string,
    options: { body?: unknown; accept?: number[] } = {},
  ): Promise<{ status: number; location?: string; json: unknown }> {
    const url = this.resolve(pathOrUrl);
    const accept = options.accept ?? [200];
    const idempotent = method !== 'POST';
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            authorization: `bearer ${await this.bearer()}`,
            ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        if (idempotent && attempt < 3) {
          await sleep(1000 * attempt);
          continue;
        }
        if (error instanceof LifeboatError) throw error;
        throw new LifeboatError(`Cannot reach the Cloud Foundry API at ${this.api.origin} (${method} ${url.pathname}): ${errorMessage(error)}.`, {
          cause: error,
        });
      }
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (accept.includes(response.status)) {
        return { status: response.status, location: response.headers.get('location') ?? undefined, json };
      }
      if (response.status === 401 && !renewed) {
        renewed = true;
        await this.authenticate();
        continue;
      }
      if (idempotent && TRANSIENT.has(response.status) && attempt < 3) {
        await sleep(1000 * attempt);
        continue;
      }
      const errors = (json as { errors?: CfErrorItem[] } | undefined)?.errors ?? [];
      throw new CfApiError(method, url.pathname, response.status, errors);
    }
  }

  async get<T>(pathOrUrl: string): Promise<T> {
    return (await this.request('GET', pathOrUrl)).json as T;
  }

  /** Every resource of a listing, following pagination.next. */
  async list<T>(path: string, query: Record<string, string>): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = `${path}?${new URLSearchParams({ ...query, per_page: query.per_page ?? '100' })}`;
    while (next) {
      const page: Paginated<T> = await this.get<Paginated<T>>(next);
      out.push(...(page.resources ?? []));
      next = page.pagination?.next?.href ?? undefined;
    }
    return out;
  }

  /** The one resource of a listing filtered by name, or undefined. */
  async findOne<T extends CfResource>(path: string, query: Record<string, string>): Promise<T | undefined> {
    const found = await this.list<T>(path, query);
    return found[0];
  }

  /**
   * Waits for an asynchronous job (polling with backoff, never a fixed sleep). Throws a
   * LifeboatError with the job's errors when it FAILED, and one naming the job on timeout.
   */
  async waitForJob(location: string, what: string): Promise<CfJob> {
    return pollUntil<CfJob>(
      async () => {
        const job = await this.get<CfJob>(location);
        if (job.state === 'COMPLETE') return job;
        if (job.state === 'FAILED') {
          throw new LifeboatError(`Cloud Foundry could not ${what}: ${describeErrors(job.errors ?? []) || 'the job failed without saying why'}.`);
        }
        return undefined;
      },
      this.jobBackoff,
      (elapsed) =>
        new LifeboatError(
          `Cloud Foundry did not finish ${what} within ${Math.round(elapsed / 1000)} s (job ${this.resolve(location).pathname} is still running).`,
        ),
    );
  }

  async findOrganization(name: string): Promise<CfResource | undefined> {
    return this.findOne<CfResource>('/v3/organizations', { names: name });
  }

  async findSpace(name: string, orgGuid: string): Promise<CfResource | undefined> {
    return this.findOne<CfResource>('/v3/spaces', { names: name, organization_guids: orgGuid });
  }

  async findServiceInstance(name: string, spaceGuid: string): Promise<(CfResource & { type?: string }) | undefined> {
    return this.findOne<CfResource & { type?: string }>('/v3/service_instances', { names: name, space_guids: spaceGuid });
  }

  async listKeys(instanceGuid: string, names?: string[]): Promise<CfCredentialBinding[]> {
    return this.list<CfCredentialBinding>('/v3/service_credential_bindings', {
      service_instance_guids: instanceGuid,
      type: 'key',
      ...(names ? { names: names.join(',') } : {}),
    });
  }

  async getBinding(guid: string): Promise<CfCredentialBinding | undefined> {
    try {
      return await this.get<CfCredentialBinding>(`/v3/service_credential_bindings/${encodeURIComponent(guid)}`);
    } catch (error) {
      if (error instanceof CfApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  // --- App SSH (tunnel.ts) ---

  /**
   * A one-time code for the app SSH proxy, from the login server this client authenticates with
   * (see ssh-code.ts). Registered as a secret before it is returned. Renews the token once if UAA
   * says it is no longer valid.
   */
  async sshOneTimeCode(oauthClient: string): Promise<string> {
    const code = await requestSshCode(this.login, await this.bearer(), oauthClient, { renewable: true });
    return code ?? (await requestSshCode(this.login, await this.authenticate(), oauthClient, { renewable: false }))!;
  }
}
