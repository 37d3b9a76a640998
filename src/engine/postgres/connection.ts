/**
 * Talking to PostgreSQL: the connection given as a URL, the server's version, and the choice of
 * a pg_dump that is not older than the server (pg_dump refuses to dump a newer server, and does
 * so only after it has started; we want to fail before anything is written).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { LifeboatError, errorMessage, networkFailure } from '../errors.js';
import { registerSecret } from '../secrets.js';

const execFileAsync = promisify(execFile);

export interface DatabaseConnection {
  /** The full URL, for in-process clients only: never on a command line, never logged. */
  url: string;
  password?: string;
  /** The database's name (not a secret). */
  database: string;
  /** host:port/database, for logs and manifests. */
  description: string;
  /** The input the connection came from, for messages: 'database-url' or 'cf-database-instance'. */
  input?: string;
  /**
   * Every connection detail for libpq tools (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE…):
   * tools get no --dbname at all, so nothing about the connection, the password least of all, is on
   * their command line, where every user of the machine can read it (/proc/<pid>/cmdline).
   */
  env: NodeJS.ProcessEnv;
}

/** The libpq URL parameters Lifeboat accepts, and the environment variable each one travels in. */
const QUERY_PARAMETER_ENV: Record<string, string> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  dbname: 'PGDATABASE',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  passfile: 'PGPASSFILE',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  sslnegotiation: 'PGSSLNEGOTIATION',
  requiressl: 'PGREQUIRESSL',
  channel_binding: 'PGCHANNELBINDING',
  gssencmode: 'PGGSSENCMODE',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  application_name: 'PGAPPNAME',
  options: 'PGOPTIONS',
};

/** Connection variables of the runner's own environment that would otherwise override or redirect the URL's. */
const INHERITED_TARGET_VARIABLES = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSERVICE'];

/** A long dump or restore must not be cut off by server-side timeouts meant for the application. */
const NO_TIMEOUTS = '-c statement_timeout=0 -c idle_in_transaction_session_timeout=0 -c lock_timeout=0';

function decodeComponent(raw: string, part: string, inputName: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    // Do not echo the value: it may be the password.
    throw new LifeboatError(
      `Input '${inputName}' has a malformed percent-encoding in its ${part}: a '%' must be followed by two hexadecimal digits. ` +
        `Write a literal '%' as %25 (percent-encode special characters: encodeURIComponent in JavaScript, urllib.parse.quote in Python).`,
    );
  }
}

export function parseDatabaseUrl(raw: string, inputName = 'database-url'): DatabaseConnection {
  registerSecret(raw.trim());
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
  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) params.set(name, value);
  // Secrets first, in every form they can appear in, before anything can fail and print a message.
  const queryPassword = params.get('password');
  registerSecret(url.password);
  registerSecret(queryPassword);
  const rawQueryPassword = /[?&]password=([^&#]*)/.exec(raw)?.[1];
  registerSecret(rawQueryPassword);
  const userinfoPassword = url.password ? decodeComponent(url.password, 'password', inputName) : undefined;
  registerSecret(userinfoPassword);
  const password = userinfoPassword || queryPassword || undefined;

  const unknown = [...params.keys()].filter((name) => !(name in QUERY_PARAMETER_ENV));
  if (unknown.length) {
    throw new LifeboatError(
      `Input '${inputName}' has the parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}, which Lifeboat does not know. ` +
        `Remove ${unknown.length > 1 ? 'them' : 'it'}, or use one of: ${Object.keys(QUERY_PARAMETER_ENV).join(', ')}.`,
    );
  }
  const database = params.get('dbname') ?? decodeComponent(url.pathname.slice(1), 'database name', inputName);
  if (!database) {
    throw new LifeboatError(`Input '${inputName}' names no database. Add it to the path: postgres://user@host:5432/<database>.`);
  }
  const user = url.username ? decodeComponent(url.username, 'user name', inputName) : params.get('user');
  const host = params.get('host') ?? url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = params.get('port') ?? url.port;

  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of params) env[QUERY_PARAMETER_ENV[name]!] = value;
  Object.assign(env, {
    PGDATABASE: database,
    ...(host ? { PGHOST: host } : {}),
    ...(port ? { PGPORT: port } : {}),
    ...(user ? { PGUSER: user } : {}),
    ...(password ? { PGPASSWORD: password } : {}),
    PGOPTIONS: params.has('options') ? `${params.get('options')} ${NO_TIMEOUTS}` : NO_TIMEOUTS,
    PGAPPNAME: params.get('application_name') ?? 'lifeboat',
  });
  return {
    url: url.toString(),
    password,
    database,
    description: `${host || 'localhost'}:${port || '5432'}/${database}`,
    input: inputName,
    env,
  };
}

/**
 * For pg_restore, which writes a script to stdout unless it is given --dbname: a connection string
 * naming only the database (no secret); everything else comes from the environment (libpqEnv).
 */
export function databaseOnlyArgument(connection: DatabaseConnection): string {
  return `--dbname=dbname='${connection.database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The environment of a libpq tool (pg_dump, pg_restore, psql) for a connection: the runner's own,
 * without connection variables that would redirect it, and the connection's. Tools are never given
 * --dbname, so this is the whole connection.
 */
export function libpqEnv(connection: DatabaseConnection, applicationName: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_TARGET_VARIABLES) delete env[name];
  return { ...env, ...connection.env, PGAPPNAME: applicationName };
}

export function connectClient(connection: DatabaseConnection, applicationName = 'lifeboat'): pg.Client {
  // node-postgres lets a connection string override separate options, so the password travels in the URL here.
  // An sslmode means what it means to libpq (and to pg_dump, psql): require is encrypted, not verified.
  const url = new URL(connection.url);
  if (url.searchParams.has('sslmode') && !url.searchParams.has('uselibpqcompat')) url.searchParams.set('uselibpqcompat', 'true');
  return new pg.Client({ connectionString: url.toString(), application_name: applicationName });
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

export async function connectOrExplain(connection: DatabaseConnection, inputName = connection.input ?? 'database-url'): Promise<pg.Client> {
  const client = connectClient(connection);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new LifeboatError(
      `Cannot connect to the database ${connection.description} given in '${inputName}': ${errorMessage(error)}. ${connectionAdvice(error, connection, inputName)}`,
      { cause: error },
    );
  }
}

/** What to do about a failed connection, from PostgreSQL's SQLSTATE or the network error's code. */
function connectionAdvice(error: unknown, connection: DatabaseConnection, inputName: string): string {
  const code = (error as { code?: string }).code;
  const user = connection.env.PGUSER ?? 'the user';
  switch (code) {
    case '3D000':
      return `The database '${connection.database}' does not exist on that server: check the database name at the end of '${inputName}' (postgres://user@host:5432/<database>).`;
    case '28P01':
      return `Check the user '${user}' and the password in '${inputName}'; percent-encode special characters in the password (encodeURIComponent).`;
    case '28000':
      return `The server does not accept this user from this machine (pg_hba.conf) or the user does not exist: check the user in '${inputName}' and the server's access rules.`;
    case '57P03':
      return 'The server is starting up or shutting down: run again once it accepts connections.';
    case '53300':
      return 'The server has no free connection slots (too many clients): run again later, or raise max_connections.';
  }
  const network = networkFailure(error);
  if (network) {
    return `The host or port looks wrong, or the server is not reachable from this machine (${network}): check the host and port in '${inputName}', and that the server is running and accepts connections from here.`;
  }
  return `Check '${inputName}'.`;
}

export interface PgTool {
  path: string;
  version: string;
  major: number;
}

/** Runs `<path> --version`; a PgTool only when the output names this very tool (psql is not pg_dump). */
async function probeTool(path: string, tool = basename(path)): Promise<PgTool | undefined> {
  try {
    const { stdout } = await execFileAsync(path, ['--version']);
    const match = new RegExp(`^${tool}\\s+\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?`).exec(stdout.trim());
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
    const input = `${tool.replace('_', '-')}-path`;
    const fix = `Give the path of ${tool} itself (e.g. /usr/lib/postgresql/${server.major}/bin/${tool}), or leave '${input}' empty to let Lifeboat find one.`;
    if (!existsSync(explicitPath)) throw new LifeboatError(`Input '${input}' is '${explicitPath}', which does not exist. ${fix}`);
    const probed = await probeTool(explicitPath, tool);
    if (!probed) {
      const said = await execFileAsync(explicitPath, ['--version']).then(
        ({ stdout }) => `its --version says '${stdout.trim().split('\n')[0]!.slice(0, 80)}'`,
        (error: unknown) => `it does not run (${errorMessage(error).split('\n')[0]})`,
      );
      throw new LifeboatError(`Input '${input}' is '${explicitPath}', which is not ${tool}: ${said}. ${fix}`);
    }
    if (probed.major < server.major) {
      throw new LifeboatError(
        `${tool} at '${explicitPath}' is version ${probed.version}, older than the PostgreSQL ${server.version} server; ${tool} must not be older than the server. ${installHint(tool, server.major)}`,
      );
    }
    return probed;
  }
  const found = (await Promise.all(candidatePaths(tool, env).map((path) => probeTool(path)))).filter((t): t is PgTool => Boolean(t));
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
  const found = (await Promise.all(candidatePaths("psql", env).map((path) => probeTool(path)))).filter((t): t is PgTool => Boolean(t));
  const fitting = found.filter((t) => t.major >= minimum).sort((a, b) => a.major - b.major);
  if (fitting[0]) return fitting[0];
  const seen = found.length ? found.map((t) => `${t.path} (${t.version})`).join(', ') : 'none';
  throw new LifeboatError(
    `No psql fits: restore needs psql ${minimum} or newer, ideally the one installed beside ${pgRestore.path}. Found: ${seen}. ` +
      `Install a matching client: sudo apt-get install -y postgresql-client-${minimum} (on GitHub's Ubuntu runners add the PGDG repository first: sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y).`,
  );
}
