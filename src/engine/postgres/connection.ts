/**
 * Talking to PostgreSQL: the connection given as a URL, the server's version, and the choice of
 * a pg_dump that is not older than the server (pg_dump refuses to dump a newer server, and does
 * so only after it has started; we want to fail before anything is written).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { LifeboatError, errorMessage, networkFailure } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { mayFallBack, resolveSslMode, sslAttempts, SslModeError, type SslAttempt, type SslMode } from '../../domain/ssl-mode.js';

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
  try {
    resolveSslMode({ sslmode: params.get('sslmode'), requiressl: params.get('requiressl'), environment: process.env.PGSSLMODE }, `Input '${inputName}'`);
  } catch (error) {
    if (error instanceof SslModeError) throw new LifeboatError(error.message);
    throw error;
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

/** URL parameters that node-postgres would read its own way (sslmode=require as full verification): Lifeboat gives pg `ssl` itself. */
const SSL_PARAMETERS = ['sslmode', 'requiressl', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslnegotiation'];

/** How node-postgres connects for a URL: the URL without its SSL parameters, and libpq's meaning of them. */
export interface PgSslPlan {
  url: string;
  mode: SslMode;
  attempts: SslAttempt[];
  /** The files of the TLS settings, as libpq finds them: the URL, else PGSSL* variables, else ~/.postgresql/. */
  rootCert?: string;
  cert?: string;
  key?: string;
  crl?: string;
  negotiation?: string;
}

function defaultFile(name: string): string | undefined {
  const path = join(homedir(), '.postgresql', name);
  return existsSync(path) ? path : undefined;
}

export function pgSslPlan(connection: Pick<DatabaseConnection, 'url'>, env: NodeJS.ProcessEnv = process.env, inputName = 'database-url'): PgSslPlan {
  const url = new URL(connection.url);
  const param = (name: string, variable: string) => url.searchParams.get(name) ?? env[variable] ?? undefined;
  let mode: SslMode;
  try {
    mode = resolveSslMode({ sslmode: url.searchParams.get('sslmode') ?? undefined, requiressl: url.searchParams.get('requiressl') ?? undefined, environment: env.PGSSLMODE }, `Input '${inputName}'`);
  } catch (error) {
    throw error instanceof SslModeError ? new LifeboatError(error.message) : error;
  }
  const explicitRoot = param('sslrootcert', 'PGSSLROOTCERT');
  const rootCert = explicitRoot ?? defaultFile('root.crt');
  if (rootCert === 'system' && mode !== 'verify-full') {
    // As libpq 16+: the system's public CAs vouch for anyone's host name, so only verify-full means anything with them.
    throw new LifeboatError(`Input '${inputName}' has sslrootcert=system with sslmode=${mode}; libpq allows sslrootcert=system only with sslmode=verify-full.`);
  }
  for (const name of SSL_PARAMETERS) url.searchParams.delete(name);
  return {
    url: url.toString(),
    mode,
    attempts: sslAttempts(mode, { rootCertificate: rootCert !== undefined }),
    rootCert,
    cert: param('sslcert', 'PGSSLCERT') ?? defaultFile('postgresql.crt'),
    key: param('sslkey', 'PGSSLKEY') ?? defaultFile('postgresql.key'),
    crl: param('sslcrl', 'PGSSLCRL') ?? defaultFile('root.crl'),
    negotiation: param('sslnegotiation', 'PGSSLNEGOTIATION'),
  };
}

function readSslFile(path: string, what: string, inputName: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new LifeboatError(`Cannot read the ${what} ${path} named in '${inputName}' (or the PGSSL* environment): ${errorMessage(error)}.`, { cause: error });
  }
}

/** node-postgres's `ssl` option for one attempt, with libpq's meaning. */
export function pgTlsOptions(plan: PgSslPlan, attempt: SslAttempt, inputName = 'database-url'): false | ConnectionOptions {
  if (!attempt.tls) return false;
  const options: ConnectionOptions = {};
  if (plan.cert && plan.key) {
    options.cert = readSslFile(plan.cert, 'client certificate (sslcert)', inputName);
    options.key = readSslFile(plan.key, 'client key (sslkey)', inputName);
  }
  if (attempt.verify === 'none') return { ...options, rejectUnauthorized: false };
  if (!plan.rootCert) {
    throw new LifeboatError(
      `Input '${inputName}' asks for sslmode=${plan.mode}, which checks the server's certificate, but names no root certificate: ` +
        "add sslrootcert=<file of the CA certificates> (for Amazon RDS, its CA bundle), or sslrootcert=system with sslmode=verify-full for the system's CAs, as libpq needs.",
    );
  }
  if (plan.rootCert !== 'system') options.ca = readSslFile(plan.rootCert, 'root certificate (sslrootcert)', inputName);
  if (plan.crl) options.crl = readSslFile(plan.crl, 'certificate revocation list (sslcrl)', inputName);
  options.rejectUnauthorized = true;
  // verify-ca: the chain is checked, the host name is not (libpq's meaning).
  if (attempt.verify === 'ca') options.checkServerIdentity = () => undefined;
  return options;
}

/** A client for one attempt: node-postgres is given the URL without SSL parameters and libpq's `ssl`. */
export function connectClient(connection: DatabaseConnection, applicationName = 'lifeboat', attempt?: SslAttempt): pg.Client {
  const plan = pgSslPlan(connection, process.env, connection.input);
  const ssl = pgTlsOptions(plan, attempt ?? plan.attempts[0]!, connection.input);
  // node-postgres lets a connection string override separate options, so the password travels in the URL here.
  const client = new pg.Client({
    connectionString: plan.url,
    application_name: applicationName,
    ssl,
    ...(ssl && plan.negotiation ? { sslnegotiation: plan.negotiation } : {}),
  } as pg.ClientConfig);
  // A lost connection (a tunnel that dropped, a server restart) is also emitted as 'error' on the
  // client, which with no listener ends the whole process, keys and clean-up left undone. The query
  // in progress, or the next one, fails with it: that is where it is handled and explained.
  client.on('error', () => undefined);
  return client;
}

/** Connects as libpq would for the URL's sslmode: each attempt in turn, falling back only where libpq does. */
export async function connectPg(connection: DatabaseConnection, applicationName = 'lifeboat'): Promise<pg.Client> {
  const plan = pgSslPlan(connection, process.env, connection.input);
  for (let i = 0; ; i++) {
    const attempt = plan.attempts[i]!;
    const client = connectClient(connection, applicationName, attempt);
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      const next = plan.attempts[i + 1];
      const failure = {
        sqlstate: (error as { code?: string }).code,
        // node-postgres's own words when the server answers 'N' to the SSL request; it has no code for it.
        serverHasNoTls: error instanceof Error && error.message === 'The server does not support SSL connections',
      };
      if (!next || !mayFallBack(plan.mode, attempt, failure)) throw error;
    }
  }
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

export async function connectOrExplain(connection: DatabaseConnection, inputName = connection.input ?? 'database-url', applicationName?: string): Promise<pg.Client> {
  try {
    return await connectPg(connection, applicationName);
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
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
      return `The server does not accept this user from this machine (pg_hba.conf) or the user does not exist: check the user in '${inputName}' and the server's access rules (a server that accepts only encrypted connections needs sslmode=require or stricter).`;
    case '57P03':
      return 'The server is starting up or shutting down: run again once it accepts connections.';
    case '53300':
      return 'The server has no free connection slots (too many clients): run again later, or raise max_connections.';
  }
  if (error instanceof Error && error.message === 'The server does not support SSL connections') {
    return `The URL's sslmode requires TLS and this server offers none: use a server with ssl=on, or (on a trusted network only) sslmode=prefer in '${inputName}'.`;
  }
  const tlsCode = [(error as { code?: unknown }).code, (error as { cause?: { code?: unknown } }).cause?.code].find(
    (c): c is string => typeof c === 'string' && /CERT|SELF_SIGNED|TLS/.test(c),
  );
  if (tlsCode) {
    return `The server's TLS certificate did not pass the check the URL's sslmode asks for (${tlsCode}): give the certificate of its CA with sslrootcert=<file> in '${inputName}', connect by the host name the certificate names (sslmode=verify-full), or use sslmode=require to encrypt without verifying, as libpq means it.`;
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
