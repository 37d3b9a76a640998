/**
 * A GitHub REST API test double served over HTTP on loopback: just the calls Lifeboat's admin team
 * check makes, answering the way api.github.com does.
 *
 *   GET /orgs/{org}/teams/{team_slug}                         200 team | 404 (no such team, or the token may not read it)
 *   GET /orgs/{org}/teams/{team_slug}/memberships/{username}  200 {state, role} | 404 (not a member)
 *   GET /user                                                 200 {login} of the token's owner
 *
 * Tokens are configured: a token with `readOrg: false` behaves like the default GITHUB_TOKEN, which
 * gets 404 for team lookups. An unknown token gets 401. Every request is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenConfig {
  /** The login that owns the token (answer of GET /user). */
  login: string;
  /** Whether the token can read organization teams (read:org / Members: read). */
  readOrg: boolean;
}

export interface GitHubApiConfig {
  /** 'org/slug' → members: login → membership state. */
  teams: Record<string, Record<string, 'active' | 'pending'>>;
  tokens: Record<string, TokenConfig>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  token?: string;
}

export interface GitHubApiDouble {
  url: string;
  requests: RecordedRequest[];
  config: GitHubApiConfig;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };

export async function startGitHubApiDouble(config: GitHubApiConfig): Promise<GitHubApiDouble> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const auth = req.headers.authorization ?? '';
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(auth)?.[1];
    requests.push({ method: req.method ?? 'GET', path, token });

    if (req.method !== 'GET') return send(res, 404, NOT_FOUND);
    const owner = token ? config.tokens[token] : undefined;
    if (!owner) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });

    if (path === '/user') return send(res, 200, { login: owner.login, id: 1, type: 'User' });

    const team = /^\/orgs\/([^/]+)\/teams\/([^/]+)$/.exec(path);
    const membership = /^\/orgs\/([^/]+)\/teams\/([^/]+)\/memberships\/([^/]+)$/.exec(path);
    const [org, slug] = (team ?? membership ?? []).slice(1);
    if (!org || !slug) return send(res, 404, NOT_FOUND);
    const members = config.teams[`${org}/${slug}`];
    // GitHub hides teams from tokens without read:org behind a 404, exactly like a team that does not exist.
    if (!members || !owner.readOrg) return send(res, 404, NOT_FOUND);
    if (team) return send(res, 200, { id: 7, slug, name: slug, organization: { login: org } });

    const username = membership![3]!;
    const state = Object.entries(members).find(([login]) => login.toLowerCase() === username.toLowerCase())?.[1];
    if (!state) return send(res, 404, NOT_FOUND);
    return send(res, 200, { url: `/orgs/${org}/teams/${slug}/memberships/${username}`, role: 'member', state });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    config,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
