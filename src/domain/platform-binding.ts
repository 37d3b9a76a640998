/**
 * Pure decisions of the platform binding (binding: cloudfoundry) beyond the backup bucket: which
 * inputs name the database and the media bucket, and what a database service key's credentials
 * mean. No network, no secrets registry: the engine masks (src/engine/platform/) before it calls
 * anything here with real credentials.
 */

export type BindingMode = 'none' | 'cloudfoundry';

/** What each key is for: it names the key in logs, errors and the clean-up instructions. */
export type KeyPurpose = 'backup bucket' | 'media bucket' | 'database';

/** The input that names the service instance of each purpose. */
export const PURPOSE_INPUT: Record<KeyPurpose, string> = {
  'backup bucket': 'cf-service-instance',
  'media bucket': 'cf-media-instance',
  database: 'cf-database-instance',
};

/**
 * Fields of an aws-rds service key that only say where the database is. They are not masked:
 * `port` is "5432", and masking it would turn every 5432 in a log (byte counts, row counts) into
 * asterisks; the host and the database name are what a person needs to see which database a log is
 * about, and the broker's database names can be short words. None of them gives access without
 * `username` and `password`, which are masked, as are `uri` (it holds both) and every field not
 * listed here.
 */
export const RDS_PUBLIC_FIELDS: readonly string[] = ['host', 'port', 'db_name', 'name'];

/** A database service key's credentials: the aws-rds broker's `host`, `port`, `db_name`, `username`, `password`, or its `uri`. */
export interface RdsCredentials {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
}

/** Where a connection goes: the key's host and port, or a tunnel's local end. */
export interface Endpoint {
  host: string;
  port: number;
}

function field(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed || undefined;
}

function decode(text: string, part: string, where: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Never echo the value: it may be the password.
    throw new Error(`The 'uri' of ${where} has a malformed percent-encoding in its ${part}.`);
  }
}

/** The parts of the key's `uri` (postgres://user:password@host:port/database). Never echoes it: it holds the password. */
function parseUri(uri: string, where: string): Partial<Record<'host' | 'port' | 'database' | 'username' | 'password', string>> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`The 'uri' of ${where} is not a URL.`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`The 'uri' of ${where} uses the scheme '${url.protocol.replace(/:$/, '')}', not postgres://. Is 'cf-database-instance' a PostgreSQL service (cloud.gov's aws-rds)?`);
  }
  const parts = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || undefined,
    port: url.port || undefined,
    database: url.pathname.length > 1 ? decode(url.pathname.slice(1), 'database name', where) : undefined,
    username: url.username ? decode(url.username, 'user name', where) : undefined,
    password: url.password ? decode(url.password, 'password', where) : undefined,
  };
  return Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined));
}

/**
 * Reads a database service key's credentials; `where` names the key in errors. The separate
 * fields win over `uri` (the broker writes both, with the same values); `uri` fills what they lack.
 * Errors name fields, never values, except the port, which is not secret.
 */
export function parseRdsCredentials(credentials: unknown, where: string): RdsCredentials {
  const c = (credentials !== null && typeof credentials === 'object' && !Array.isArray(credentials) ? credentials : {}) as Record<string, unknown>;
  const uri = field(c, 'uri');
  const fromUri = uri ? parseUri(uri, where) : {};
  const host = field(c, 'host') ?? fromUri.host;
  const portText = field(c, 'port') ?? fromUri.port ?? '5432';
  const database = field(c, 'db_name') ?? field(c, 'name') ?? fromUri.database;
  const username = field(c, 'username') ?? fromUri.username;
  const password = field(c, 'password') ?? fromUri.password;
  const missing = [
    ['host', host],
    ['db_name', database],
    ['username', username],
    ['password', password],
  ]
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length) {
    const fields = Object.keys(c).sort().join(', ') || 'none';
    throw new Error(
      `The credentials of ${where} have no ${missing.join(', ')} (fields: ${fields}), nor a 'uri' that gives ${missing.length > 1 ? 'them' : 'it'}. Is 'cf-database-instance' a PostgreSQL service (cloud.gov's aws-rds)?`,
    );
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`The credentials of ${where} give the port '${portText}', which is not a TCP port (1 to 65535).`);
  }
  return { host: host!, port, database: database!, username: username!, password: password! };
}

/**
 * The postgres:// URL for a database key's credentials, reached at `at` (the key's own host and port,
 * or the local end of a tunnel). SSL is required: cloud.gov's RDS requires it from PostgreSQL 15 on,
 * and through a tunnel the certificate cannot match the forwarded name, so it is libpq's
 * `sslmode=require` (encrypted, not verified against a name).
 */
export function rdsDatabaseUrl(credentials: RdsCredentials, at: Endpoint = credentials): string {
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  const user = encodeURIComponent(credentials.username);
  const password = encodeURIComponent(credentials.password);
  return `postgres://${user}:${password}@${host}:${at.port}/${encodeURIComponent(credentials.database)}?sslmode=require`;
}

/** Where an operation's database comes from. */
export type DatabaseSource = { kind: 'url' } | { kind: 'instance'; instance: string; tunnelApp?: string };

export interface DatabaseInputs {
  binding: BindingMode;
  /** Whether 'database-url' is given. */
  databaseUrl: boolean;
  databaseInstance?: string;
  tunnelApp?: string;
  /** The sentence that says what the database is, when none is given (e.g. "it is the TARGET database, whose contents the restore replaces"). */
  role: string;
  /** An example database-url input line. */
  example: string;
}

/** Chooses between 'database-url' and 'cf-database-instance' (and 'cf-tunnel-app'), refusing every combination that does not make sense. */
export function chooseDatabaseSource(given: DatabaseInputs): DatabaseSource {
  if (given.tunnelApp && !given.databaseInstance) {
    throw new Error(
      "Input 'cf-tunnel-app' opens a tunnel to the database of 'cf-database-instance', which is not given. Set 'cf-database-instance' (with binding: cloudfoundry), or remove 'cf-tunnel-app'.",
    );
  }
  if (given.databaseInstance) {
    if (given.binding !== 'cloudfoundry') {
      throw new Error(
        "Input 'cf-database-instance' is set but 'binding' is 'none'. Set binding: cloudfoundry to get the database's credentials from a service key, or remove it and give 'database-url'.",
      );
    }
    if (given.databaseUrl) {
      throw new Error(
        "Inputs 'database-url' and 'cf-database-instance' both name the database; give only one: 'cf-database-instance' to connect with a service key made for this step, or 'database-url'.",
      );
    }
    return { kind: 'instance', instance: given.databaseInstance, ...(given.tunnelApp ? { tunnelApp: given.tunnelApp } : {}) };
  }
  if (!given.databaseUrl) {
    const orInstance = given.binding === 'cloudfoundry' ? " With binding: cloudfoundry, give 'cf-database-instance' instead (the database's service instance)." : '';
    throw new Error(`Input 'database-url' is required but was not given${given.role ? `: ${given.role}` : ''}. For example: ${given.example}${orInstance}`);
  }
  return { kind: 'url' };
}

/**
 * Media inputs that the media instance's key replaces: its credentials. The media bucket's name,
 * endpoint and region come from the key too, but may be given as overrides (as 'backup-bucket' for
 * the backup bucket), and 'media-prefix' still applies.
 */
export const MEDIA_INPUTS_REPLACED_BY_KEY: readonly string[] = ['media-aws-access-key-id', 'media-aws-secret-access-key', 'media-aws-session-token'];

/** Checks 'cf-media-instance' against the other media inputs; `givenMediaInputs` are the names of those that are set. */
export function checkMediaInstance(binding: BindingMode, mediaInstance: string | undefined, givenMediaInputs: readonly string[]): void {
  if (!mediaInstance) return;
  if (binding !== 'cloudfoundry') {
    throw new Error("Input 'cf-media-instance' is set but 'binding' is 'none'. Set binding: cloudfoundry to bind the media bucket through a service key, or remove it.");
  }
  const clashing = MEDIA_INPUTS_REPLACED_BY_KEY.filter((name) => givenMediaInputs.includes(name));
  if (clashing.length) {
    throw new Error(`With 'cf-media-instance', the media bucket's credentials come from its service key; remove ${clashing.map((n) => `'${n}'`).join(', ')}.`);
  }
}
