/**
 * Talking to PostgreSQL: the connection given as a URL, the server's version, and the choice of
 * a pg_dump that is not older than the server (pg_dump refuses to dump a newer server, and does
 * so only after it has started; we want to fail before anything is written).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { LifeboatError, errorMessage } from '../errors.js';
import { registerSecret } from '../secrets.js';

const execFileAsync = promisify(execFile);

export interface DatabaseConnection {
  /** The full URL, for in-process clients only. */
  url: string;
  /** The URL without its password: safe to pass on a command line. */
  urlWithoutPassword: string;
  password?: string;
  /** host:port/database, for logs and manifests. */
  description: string;
  /** Environment for libpq tools: the password travels here, never in argv. */
  env: NodeJS.ProcessEnv;
}

export function parseDatabaseUrl(raw: string, inputName = 'database-url'): DatabaseConnection {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    // Do not echo the value: it may hold a password.
    throw new LifeboatError(
      `Input '${inputName}' is not a valid URL. Use the form postgres://user:password@host:5432/database (percent-encode special characters in the password).`,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new LifeboatError(
      `Input '${inputName}' uses the scheme '${url.protocol.replace(/:$/, '')}'; Lifeboat needs a postgres:// or postgresql:// URL.`,
    );
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  registerSecret(password);
  registerSecret(raw);
  if (!url.pathname || url.pathname === '/') {
    throw new LifeboatError(`Input '${inputName}' names no database. Add it to the path: postgres://user@host:5432/<database>.`);
  }
  const withoutPassword = new URL(url.toString());
  withoutPassword.password = '';
  const database = decodeURIComponent(url.pathname.slice(1));
  return {
    url: url.toString(),
    urlWithoutPassword: withoutPassword.toString(),
    password,
    description: `${url.hostname}:${url.port || '5432'}/${database}`,
    env: {
      ...(password ? { PGPASSWORD: password } : {}),
      // A long dump must not be cut off by server-side timeouts meant for the application.
      PGOPTIONS: '-c statement_timeout=0 -c idle_in_transaction_session_timeout=0 -c lock_timeout=0',
      PGAPPNAME: 'lifeboat',
    },
  };
}

export function connectClient(connection: DatabaseConnection, applicationName = 'lifeboat'): pg.Client {
  // node-postgres lets a connection string override separate options, so the password travels in the URL here.
  return new pg.Client({ connectionString: connection.url, application_name: applicationName });
}

export interface ServerInfo {
  version: string;
  versionNum: number;
  major: number;
  /** pg_database_size of the connected database: the expected order of the dump's size. */
  databaseBytes: number;
}

export async function readServerInfo(client: pg.Client): Promise<ServerInfo> {
  const { rows } = await client.query<{ version: string; num: string; size: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, pg_database_size(current_database()) AS size",
  );
  const versionNum = Number(rows[0]!.num);
  return { version: rows[0]!.version.split(' ')[0]!, versionNum, major: Math.floor(versionNum / 10000), databaseBytes: Number(rows[0]!.size) };
}

export async function connectOrExplain(connection: DatabaseConnection, inputName = 'database-url'): Promise<pg.Client> {
  const client = connectClient(connection);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new LifeboatError(
      `Cannot connect to the database ${connection.description} given in '${inputName}': ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

export interface PgTool {
  path: string;
  version: string;
  major: number;
}

async function probeTool(path: string): Promise<PgTool | undefined> {
  try {
    const { stdout } = await execFileAsync(path, ['--version']);
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!match) return undefined;
    return { path, version: `${match[1]}${match[2] ? '.' + match[2] : ''}`, major: Number(match[1]) };
  } catch {
    return undefined;
  }
}

function candidatePaths(tool: string, env: NodeJS.ProcessEnv): string[] {
  const paths: string[] = [];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, tool))) paths.push(join(dir, tool));
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const version of readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))) {
      const path = join(root, version, 'bin', tool);
      if (existsSync(path)) paths.push(path);
    }
  }
  return [...new Set(paths)];
}

export function installHint(tool: string, major: number): string {
  return (
    `Install a matching client: sudo apt-get install -y postgresql-client-${major}` +
    ` (on GitHub's Ubuntu runners add the PGDG repository first: sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y),` +
    ` or give the path of a ${tool} ${major} or newer in the '${tool.replace('_', '-')}-path' input.`
  );
}

/**
 * Picks the PostgreSQL client tool (pg_dump, pg_restore) for a server: an explicit path must fit;
 * otherwise the closest major not older than the server, from PATH and /usr/lib/postgresql/N/bin.
 */
export async function choosePgTool(
  tool: 'pg_dump' | 'pg_restore',
  server: ServerInfo,
  explicitPath?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PgTool> {
  if (explicitPath) {
    const probed = await probeTool(explicitPath);
    if (!probed) {
      throw new LifeboatError(`Input '${tool.replace('_', '-')}-path' is '${explicitPath}', which is not a working ${tool}.`);
    }
    if (probed.major < server.major) {
      throw new LifeboatError(
        `${tool} at '${explicitPath}' is version ${probed.version}, older than the PostgreSQL ${server.version} server; ${tool} must not be older than the server. ${installHint(tool, server.major)}`,
      );
    }
    return probed;
  }
  const found = (await Promise.all(candidatePaths(tool, env).map(probeTool))).filter((t): t is PgTool => Boolean(t));
  const fitting = found.filter((t) => t.major >= server.major).sort((a, b) => a.major - b.major);
  if (fitting[0]) return fitting[0];
  const seen = found.length ? found.map((t) => `${t.path} (${t.version})`).join(', ') : 'none';
  throw new LifeboatError(
    `No ${tool} fits the PostgreSQL ${server.version} server: ${tool} must be version ${server.major} or newer. Found: ${seen}. ${installHint(tool, server.major)}`,
  );
}

/**
 * Finds psql to go with a chosen pg_restore: the one beside it first (same version, so it understands
 * everything that pg_restore writes, such as \restrict), otherwise the closest not older than both the
 * server and that pg_restore, from PATH and /usr/lib/postgresql/N/bin.
 */
export async function choosePsql(pgRestore: PgTool, server: ServerInfo, env: NodeJS.ProcessEnv = process.env): Promise<PgTool> {
  const sibling = join(dirname(pgRestore.path), 'psql');
  if (existsSync(sibling)) {
    const probed = await probeTool(sibling);
    if (probed && probed.major >= pgRestore.major) return probed;
  }
  const minimum = Math.max(server.major, pgRestore.major);
  const found = (await Promise.all(candidatePaths('psql', env).map(probeTool))).filter((t): t is PgTool => Boolean(t));
  const fitting = found.filter((t) => t.major >= minimum).sort((a, b) => a.major - b.major);
  if (fitting[0]) return fitting[0];
  const seen = found.length ? found.map((t) => `${t.path} (${t.version})`).join(', ') : 'none';
  throw new LifeboatError(
    `No psql fits: restore needs psql ${minimum} or newer, ideally the one installed beside ${pgRestore.path}. Found: ${seen}. ` +
      `Install a matching client: sudo apt-get install -y postgresql-client-${minimum} (on GitHub's Ubuntu runners add the PGDG repository first: sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y).`,
  );
}
