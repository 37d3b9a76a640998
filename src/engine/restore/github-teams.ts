/**
 * The admin team check: is a GitHub user an active member of `org/team-slug`? Asked through the REST
 * API at GITHUB_API_URL, so GitHub Enterprise Server works the same as github.com.
 *
 * Two calls, in this order:
 *   1. GET /orgs/{org}/teams/{team_slug}: proves the token can see the team at all. GitHub answers 404
 *      (not 403) both for a team that does not exist and for a token that may not read it, so a failure
 *      here names the permission the token needs, instead of calling everyone "not a member".
 *   2. GET /orgs/{org}/teams/{team_slug}/memberships/{username}: 200 with state "active" is a member;
 *      404, or state "pending" (invited, not yet accepted), is not.
 *
 * Membership is a whole-login lookup by the API, never a substring test on a list of names.
 */
import { getOctokit } from '@actions/github';
import type { AdminTeam } from '../../domain/policy.js';
import { LifeboatError, errorMessage } from '../errors.js';
import { registerSecret } from '../secrets.js';

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

export interface GitHubApi {
  token: string;
  /** GITHUB_API_URL, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  baseUrl: string;
}

export const TOKEN_PERMISSION_HINT =
  "it needs the read:org scope (classic personal access token) or the 'Members: read' organization permission (fine-grained token or GitHub App); the default GITHUB_TOKEN cannot read team membership";

export function githubApiFromEnv(token: string, env: NodeJS.ProcessEnv = process.env): GitHubApi {
  return { token, baseUrl: (env.GITHUB_API_URL || DEFAULT_GITHUB_API_URL).replace(/\/+$/, '') };
}

function client(api: GitHubApi) {
  registerSecret(api.token);
  return getOctokit(api.token, { baseUrl: api.baseUrl });
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

function teamName(team: AdminTeam): string {
  return `${team.org}/${team.slug}`;
}

/** True only for an active member; throws LifeboatError when the question cannot be answered. */
export async function isActiveTeamMember(api: GitHubApi, team: AdminTeam, username: string): Promise<boolean> {
  const octokit = client(api);
  const name = teamName(team);
  try {
    await octokit.request('GET /orgs/{org}/teams/{team_slug}', { org: team.org, team_slug: team.slug });
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || status === 403) {
      throw new LifeboatError(
        `The github-token cannot read team ${name} (GitHub answered ${status} at ${api.baseUrl}: ${errorMessage(error)}): ${TOKEN_PERMISSION_HINT}. ` +
          `Check also that the team exists and that 'admin-team' in the policy file is spelt as org/team-slug.`,
      );
    }
    if (status === 401) {
      throw new LifeboatError(`The github-token was rejected by ${api.baseUrl} (401 Bad credentials): it is invalid or expired. Give a valid token in 'github-token'.`);
    }
    throw new LifeboatError(`Could not check membership of team ${name} at ${api.baseUrl}: ${errorMessage(error)}`, { cause: error });
  }

  try {
    const { data } = await octokit.request('GET /orgs/{org}/teams/{team_slug}/memberships/{username}', {
      org: team.org,
      team_slug: team.slug,
      username,
    });
    return (data as { state?: string }).state === 'active';
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return false;
    if (status === 403) {
      throw new LifeboatError(`The github-token cannot read the members of team ${name} (GitHub answered 403: ${errorMessage(error)}): ${TOKEN_PERMISSION_HINT}.`);
    }
    if (status === 401) {
      throw new LifeboatError(`The github-token was rejected by ${api.baseUrl} (401 Bad credentials): it is invalid or expired. Give a valid token in 'github-token'.`);
    }
    throw new LifeboatError(`Could not check membership of '${username}' in team ${name} at ${api.baseUrl}: ${errorMessage(error)}`, { cause: error });
  }
}

/** The login that owns a token (GET /user): who is at the keyboard when the CLI runs outside Actions. */
export async function tokenOwner(api: GitHubApi): Promise<string> {
  try {
    const { data } = await client(api).request('GET /user');
    const login = (data as { login?: unknown }).login;
    if (typeof login !== 'string' || !login) throw new Error('the answer names no login');
    return login;
  } catch (error) {
    const status = statusOf(error);
    if (status === 401) {
      throw new LifeboatError(`The github-token was rejected by ${api.baseUrl} (401 Bad credentials): it is invalid or expired. Give a valid token in 'github-token'.`);
    }
    throw new LifeboatError(
      `Could not find out whose github-token this is (GET /user at ${api.baseUrl}): ${errorMessage(error)}. Outside GitHub Actions, manual restores need a token of your own user.`,
      { cause: error },
    );
  }
}
