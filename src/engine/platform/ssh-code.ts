/**
 * The one-time code that is the password of an app SSH session (`cf ssh-code`):
 *
 *   GET {login}/oauth/authorize?response_type=code&client_id=<app_ssh_oauth_client>   (bearer token)
 *     → 302 Location: …?code=<one-time code>
 *
 * The redirect is not followed: the code is in its Location. The cf CLI asks the API root's `uaa`
 * link; Lifeboat asks the login server CfClient already authenticates with (links.login, else
 * links.uaa; on cloud.gov both are the same UAA), so the token goes to no other host.
 * Each code is good for one SSH connection, briefly; it is registered as a secret at once.
 */
import { LifeboatError, errorMessage, networkFailure } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { REQUEST_TIMEOUT_MS } from './uaa.js';

/**
 * Asks for a code. Returns undefined on 401 when `renewable` (the caller renews its token and asks
 * once more); throws a LifeboatError for every other failure.
 */
export async function requestSshCode(login: URL, bearer: string, oauthClient: string, options: { renewable: boolean }): Promise<string | undefined> {
  const url = new URL('oauth/authorize', login.href.replace(/\/?$/, '/'));
  url.search = new URLSearchParams({ response_type: 'code', client_id: oauthClient }).toString();
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json', authorization: `bearer ${bearer}` },
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const why = networkFailure(error) ?? errorMessage(error);
    throw new LifeboatError(`Cannot reach the Cloud Foundry login server at ${login.origin} for an SSH code: ${why}.`, { cause: error });
  }
  await response.body?.cancel();
  const location = response.headers.get('location');
  const redirect = location ? new URL(location, url) : undefined;
  const code = redirect?.searchParams.get('code');
  // Mask before anything can print the Location.
  registerSecret(code ?? undefined);
  if (response.status >= 300 && response.status < 400 && code) return code;
  if (response.status === 401 && options.renewable) return undefined;
  const said = redirect?.searchParams.get('error_description') ?? redirect?.searchParams.get('error');
  throw new LifeboatError(
    `The Cloud Foundry login server at ${login.origin} gave no one-time SSH code (GET /oauth/authorize for the client '${oauthClient}' answered ${response.status}` +
      `${said ? `: ${said}` : redirect ? ' with a redirect carrying no code' : ''}). ` +
      'The service account needs a space role that allows SSH (SpaceDeveloper) in the space of the app given in \'cf-tunnel-app\'; see docs/cloud-gov.md.',
  );
}
