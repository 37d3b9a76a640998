/**
 * The app-SSH part of the Cloud Foundry double (cloud-foundry-double.ts mounts it): what `cf ssh`
 * asks the API and UAA before it speaks SSH, answered as cloud_controller_ng and UAA do.
 *
 *   API  GET /v3/apps?names=&space_guids=          paginated apps
 *        GET /v3/apps/:guid/ssh_enabled            {enabled, reason}: "Disabled globally" |
 *                                                  "Disabled for space <name>" | "Disabled for app"
 *        GET /v2/info                              app_ssh_endpoint, app_ssh_host_key_fingerprint, app_ssh_oauth_client
 *   UAA  GET /oauth/authorize?response_type=code&client_id=ssh-proxy   (bearer)
 *                                                  302 Location: <uaa>/login?code=<one-time code>
 *
 * One-time codes are kept here and shared with the SSH proxy double (cf-ssh-proxy-double.ts), which
 * accepts each once. Every code issued is recorded, so tests can check none leaks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface DoubleApp {
  guid: string;
  name: string;
  spaceGuid: string;
  state: 'STARTED' | 'STOPPED';
  /** `cf enable-ssh` / `cf disable-ssh`. */
  sshEnabled: boolean;
}

export interface AppSshBehaviour {
  /** `cf disallow-space-ssh` on the apps' space. */
  spaceSshDisabled: boolean;
  /** The platform's allow_app_ssh_access is off. */
  globalSshDisabled: boolean;
}

/** One-time SSH codes: issued by UAA, each consumed once by the SSH proxy. */
export class OneTimeCodes {
  /** Every code ever issued, in order. */
  readonly issued: string[] = [];
  /** Codes already used for a login (successful or not, as UAA's codes are single-use). */
  readonly used = new Set<string>();

  issue(): string {
    // UAA's codes are short random strings.
    const code = randomBytes(8).toString('base64url').slice(0, 10);
    this.issued.push(code);
    return code;
  }

  /** True once for each issued code; false for a reused or unknown one. */
  consume(code: string): boolean {
    if (!this.issued.includes(code) || this.used.has(code)) return false;
    this.used.add(code);
    return true;
  }
}

export interface AppSshRoutes {
  apps: DoubleApp[];
  behaviour: AppSshBehaviour;
  codes: OneTimeCodes;
  /** What /v2/info advertises: set once the SSH proxy double listens. */
  proxy?: { endpoint: string; fingerprint: string; oauthClient?: string };
  /** An app in the double's default space, or in `space` (one of its spaces, by name). */
  addApp(name: string, options?: Partial<Omit<DoubleApp, 'name' | 'spaceGuid'>> & { space?: string }): DoubleApp;
}

type Helpers = {
  send: (res: ServerResponse, status: number, body?: unknown, headers?: Record<string, string>) => void;
  cfError: (res: ServerResponse, status: number, code: number, title: string, detail: string) => void;
  page: <T>(res: ServerResponse, url: URL, items: T[]) => void;
};

export function createAppSshRoutes(context: { spaceGuid: (name?: string) => string; spaceName: (guid: string) => string; api: () => string; login: () => string }) {
  const routes: AppSshRoutes = {
    apps: [],
    behaviour: { spaceSshDisabled: false, globalSshDisabled: false },
    codes: new OneTimeCodes(),
    addApp(name, { space, ...options } = {}) {
      const app: DoubleApp = { guid: randomUUID(), name, spaceGuid: context.spaceGuid(space), state: 'STARTED', sshEnabled: true, ...options };
      routes.apps.push(app);
      return app;
    },
  };

  const appJson = (app: DoubleApp) => ({
    guid: app.guid,
    name: app.name,
    state: app.state,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'cflinuxfs4' } },
    relationships: { space: { data: { guid: app.spaceGuid } } },
    metadata: { labels: {}, annotations: {} },
    links: { self: { href: `${context.api()}/v3/apps/${app.guid}` } },
  });

  /** After the bearer check: true when the request was one of these routes. */
  function handleApi(method: string, url: URL, res: ServerResponse, helpers: Helpers): boolean {
    const list = (name: string) => url.searchParams.get(name)?.split(',').filter(Boolean);
    const match = (values: string[] | undefined, value: string) => !values || values.includes(value);
    if (method === 'GET' && url.pathname === '/v3/apps') {
      helpers.page(res, url, routes.apps.filter((a) => match(list('names'), a.name) && match(list('space_guids'), a.spaceGuid)).map(appJson));
      return true;
    }
    const sshEnabled = /^\/v3\/apps\/([^/]+)\/ssh_enabled$/.exec(url.pathname);
    if (method === 'GET' && sshEnabled) {
      const app = routes.apps.find((a) => a.guid === sshEnabled[1]);
      if (!app) {
        helpers.cfError(res, 404, 10010, 'CF-ResourceNotFound', 'App not found');
        return true;
      }
      const reason = routes.behaviour.globalSshDisabled
        ? 'Disabled globally'
        : routes.behaviour.spaceSshDisabled
          ? `Disabled for space ${context.spaceName(app.spaceGuid)}`
          : !app.sshEnabled
            ? 'Disabled for app'
            : '';
      helpers.send(res, 200, { enabled: reason === '', reason });
      return true;
    }
    if (method === 'GET' && url.pathname === '/v2/info') {
      helpers.send(res, 200, {
        name: 'cloud.gov double',
        build: '',
        support: 'https://cloud.gov/docs/help/',
        version: 0,
        description: 'Cloud Foundry API double',
        authorization_endpoint: context.login(),
        token_endpoint: context.login(),
        min_cli_version: '7.0.0',
        min_recommended_cli_version: '8.0.0',
        api_version: '2.260.0',
        app_ssh_endpoint: routes.proxy?.endpoint ?? '',
        app_ssh_host_key_fingerprint: routes.proxy?.fingerprint ?? '',
        app_ssh_oauth_client: routes.proxy?.oauthClient ?? 'ssh-proxy',
        doppler_logging_endpoint: 'wss://doppler.invalid:443',
      });
      return true;
    }
    return false;
  }

  /** On the UAA server: true when the request was /oauth/authorize. */
  function handleUaa(req: IncomingMessage, res: ServerResponse, validToken: (token: string) => boolean, helpers: Pick<Helpers, 'send'>): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/oauth/authorize') return false;
    const token = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    // Without a token UAA sends a browser to its login page; with a bad one it says so.
    if (!token) {
      helpers.send(res, 302, undefined, { location: `${context.login()}/login` });
      return true;
    }
    if (!validToken(token)) {
      helpers.send(res, 401, { error: 'invalid_token', error_description: 'Invalid access token' });
      return true;
    }
    if (url.searchParams.get('response_type') !== 'code' || url.searchParams.get('client_id') !== (routes.proxy?.oauthClient ?? 'ssh-proxy')) {
      helpers.send(res, 400, { error: 'invalid_request', error_description: 'Unsupported response_type or unknown client_id' });
      return true;
    }
    helpers.send(res, 302, undefined, { location: `${context.login()}/login?code=${routes.codes.issue()}` });
    return true;
  }

  return { routes, handleApi, handleUaa };
}
