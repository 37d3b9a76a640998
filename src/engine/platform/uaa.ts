/**
 * UAA, Cloud Foundry's login server: where it is (the API root's links) and a token for a service
 * account by the password grant, as the cf CLI gets one (client `cf`, empty secret).
 *
 *   GET  {api}/                 → {"links": {"login": {"href"}, "uaa": {"href"}, ...}}
 *   POST {login}/oauth/token    grant_type=password&username=…&password=…  (Basic cf:)
 *                               → {"access_token", "token_type": "bearer", "expires_in", "refresh_token"}
 *
 * Every token is registered as a secret the moment it arrives.
 */
import { LifeboatError, errorMessage, networkFailure } from '../errors.js';
import { registerSecret } from '../secrets.js';

export interface UaaToken {
  accessToken: string;
  /** When to stop using it (ms since the epoch), with a margin before its real expiry. */
  expiresAt: number;
}

/** Seconds before a token's expiry at which it is replaced. */
const EXPIRY_MARGIN_S = 60;

export const REQUEST_TIMEOUT_MS = 30_000;

/** Only loopback may be spoken to without TLS: a password or token must never cross a network in clear. */
export function assertSafeUrl(url: URL, what: string): void {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || /^127\./.test(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return;
  throw new LifeboatError(`${what} is ${url.origin}; it must use https:// (plain http is accepted only on loopback, for tests).`);
}

/** The cf-api input as a URL: https:// is added when no scheme is given, as the cf CLI does. */
export function parseApiUrl(text: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new LifeboatError(`Input 'cf-api' is '${text}', which is not a URL. For example: cf-api: https://api.fr.cloud.gov`);
  }
  if (url.username || url.password) {
    throw new LifeboatError("Input 'cf-api' must not contain a username or password; give them in 'cf-username' and 'cf-password'.");
  }
  assertSafeUrl(url, "Input 'cf-api'");
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  url.hash = '';
  return url;
}

/** Reads the login server's address from the API root document. */
export async function discoverLoginUrl(api: URL): Promise<URL> {
  let response: Response;
  try {
    response = await fetch(api.href.replace(/\/?$/, '/'), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    const why = networkFailure(error) ?? errorMessage(error);
    throw new LifeboatError(
      `Cannot reach the Cloud Foundry API at ${api.origin} given in 'cf-api': ${why}. Check 'cf-api' (on cloud.gov: https://api.fr.cloud.gov) and that this runner can reach it.`,
      { cause: error },
    );
  }
  const body = (await response.json().catch(() => undefined)) as { links?: Record<string, { href?: string } | null> } | undefined;
  const href = body?.links?.login?.href ?? body?.links?.uaa?.href;
  if (!response.ok || !href) {
    throw new LifeboatError(
      `${api.origin} (input 'cf-api') does not look like a Cloud Foundry API: GET / answered ${response.status} without links.login. For example: cf-api: https://api.fr.cloud.gov`,
    );
  }
  const login = new URL(href);
  assertSafeUrl(login, `The login server named by ${api.origin}`);
  return login;
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

/** UAA's answer for an expired password: 401/403 {"error":"access_denied"|"unauthorized","error_description":"Your current password has expired…"}. */
export function isExpiredPasswordAnswer(body: { error?: string; error_description?: string } | undefined): boolean {
  const text = `${body?.error ?? ''} ${body?.error_description ?? ''}`;
  return /password[^.]*\bexpired\b|\bexpired\b[^.]*password/i.test(text);
}

export function expiredPasswordMessage(login: URL, said: string): string {
  return [
    `The Cloud Foundry service account's password has expired (${login.origin} said: "${said}").`,
    'cloud.gov expires service-account passwords every 90 days.',
    'Make new credentials by recreating the service key of the cloud-gov-service-account instance:',
    '`cf delete-service-key <service-account> <key>`, `cf create-service-key <service-account> <key>`, `cf service-key <service-account> <key>`,',
    "then store the new username and password in the GitHub secrets passed as 'cf-username' and 'cf-password'.",
    'See docs/cloud-gov.md.',
  ].join(' ');
}

/** The password grant. Throws a LifeboatError that says what to do on refused or expired credentials. */
export async function passwordGrant(login: URL, username: string, password: string): Promise<UaaToken> {
  registerSecret(password);
  const url = new URL('oauth/token', login.href.replace(/\/?$/, '/'));
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('cf:').toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const why = networkFailure(error) ?? errorMessage(error);
    throw new LifeboatError(
      `Cannot reach the Cloud Foundry login server at ${login.origin}, which the API in 'cf-api' names: ${why}. Check 'cf-api', and that this runner can reach the login server.`,
      { cause: error },
    );
  }
  const body = (await response.json().catch(() => undefined)) as TokenResponse | undefined;
  // Mask before anything can print the body.
  registerSecret(body?.access_token);
  registerSecret(body?.refresh_token);
  if (response.ok && body?.access_token) {
    const lifetime = Math.max((body.expires_in ?? 600) - EXPIRY_MARGIN_S, 30);
    return { accessToken: body.access_token, expiresAt: Date.now() + lifetime * 1000 };
  }
  const said = body?.error_description ?? body?.error ?? `HTTP ${response.status}`;
  if (isExpiredPasswordAnswer(body)) throw new LifeboatError(expiredPasswordMessage(login, said));
  if (response.status === 400 || response.status === 401 || response.status === 403) {
    throw new LifeboatError(
      `${login.origin} refused the service account's username and password (${response.status}: ${said}). Check the secrets passed as 'cf-username' and 'cf-password': they are the username and password of a service key of a cloud-gov-service-account instance (see docs/cloud-gov.md).`,
    );
  }
  throw new LifeboatError(`The Cloud Foundry login server at ${login.origin} failed to issue a token (${response.status}: ${said}).`);
}
