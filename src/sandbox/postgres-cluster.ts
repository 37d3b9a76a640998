/**
 * A throwaway PostgreSQL cluster: initdb into a temp dir, a free loopback port, stopped and
 * deleted at the end. Used by the tests and the demo, never by the actions.
 *
 * initdb and postgres refuse to run as root, so when we are root every server command runs
 * as the `postgres` user through runuser, and the directories are handed to that user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresCluster {
  /** Superuser URL with a password, over TCP on 127.0.0.1. */
  url: string;
  port: number;
  password: string;
  binDir: string;
  /** Server major version, e.g. 15. */
  major: number;
  urlFor(database: string, user?: string, password?: string): string;
  /** With `ssl`: the self-signed certificate the server presents (its own CA), for sslrootcert. */
  certificate?: string;
  /** The same as crash(): an immediate shutdown (pg_ctl stop -m immediate), every session cut off at once. */
  shutDownImmediately(): Promise<void>;
  stop(): Promise<void>;
  /** Immediate shutdown, as a crash looks to clients (for fault tests). */
  crash(): Promise<void>;
  /** Starts the server again after crash(), on the same data and port. */
  restart(): Promise<void>;
}

export interface StartClusterOptions {
  /** Directory holding initdb and postgres; defaults to the newest /usr/lib/postgresql/N/bin. */
  binDir?: string;
  /** Extra environment for the server processes (e.g. LD_LIBRARY_PATH for a bundled server). */
  env?: NodeJS.ProcessEnv;
  /**
   * TLS on, with a self-signed certificate made by openssl for `ssl.hostName` (default localhost),
   * and pg_hba.conf accepting TCP connections only over TLS (hostssl): a plain connection is refused
   * (SQLSTATE 28000), as on cloud.gov's RDS from PostgreSQL 15 on. The URLs then carry sslmode=require.
   */
  ssl?: boolean | { hostName?: string };
}

export function findSystemPostgresBinDir(): string {
  const fromEnv = process.env.LIFEBOAT_PG_BINDIR;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  if (majors.length === 0) {
    throw new Error(
      'No PostgreSQL server found under /usr/lib/postgresql. Install one with: sudo apt-get install -y postgresql (or set LIFEBOAT_PG_BINDIR).',
    );
  }
  return join(root, String(majors[0]), 'bin');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const runningAsRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function asServerUser(command: string, args: string[]): [string, string[]] {
  return runningAsRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export async function startPostgresCluster(options: StartClusterOptions = {}): Promise<PostgresCluster> {
  const binDir = options.binDir ?? findSystemPostgresBinDir();
  const base = mkdtempSync(join(tmpdir(), 'lifeboat-pg-'));
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  mkdirSync(socketDir);
  const password = randomBytes(12).toString('hex');
  const pwFile = join(base, 'pwfile');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (runningAsRoot) {
    const { uid, gid } = postgresUser();
    for (const path of [base, socketDir, pwFile]) chownSync(path, uid, gid);
  }
  const env = { ...process.env, ...options.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };

  const [initCmd, initArgs] = asServerUser(join(binDir, 'initdb'), [
    '-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
    '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync',
  ]);
  try {
    execFileSync(initCmd, initArgs, { env, stdio: 'pipe' });
  } catch (error) {
    rmSync(base, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${stderr || String(error)}`);
  }

  const sslArgs: string[] = [];
  let certificate: string | undefined;
  if (options.ssl) {
    const hostName = (typeof options.ssl === 'object' && options.ssl.hostName) || 'localhost';
    certificate = join(base, 'server.crt');
    const key = join(base, 'server.key');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${hostName}`,
      '-addext', `subjectAltName=DNS:${hostName}`, '-keyout', key, '-out', certificate,
    ], { stdio: 'pipe' });
    chmodSync(key, 0o600);
    if (runningAsRoot) {
      const { uid, gid } = postgresUser();
      for (const path of [key, certificate]) chownSync(path, uid, gid);
    }
    // Only TLS over TCP; the Unix socket (pg_ctl) stays trusted.
    writeFileSync(join(dataDir, 'pg_hba.conf'), ['local all all trust', 'hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256', ''].join('\n'));
    sslArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${certificate}`, '-c', `ssl_key_file=${key}`);
  }

  const port = await freePort();
  const [pgCmd, pgArgs] = asServerUser(join(binDir, 'postgres'), [
    '-D', dataDir, '-p', String(port), '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    '-c', 'max_connections=200', ...sslArgs,
  ]);
  let serverLog = '';
  const startServer = (): ChildProcess => {
    const child = spawn(pgCmd, pgArgs, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      serverLog = (serverLog + chunk.toString()).slice(-8000);
    });
    return child;
  };
  let server: ChildProcess = startServer();

  const urlFor = (database: string, user = 'postgres', pass = password) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}/${encodeURIComponent(database)}${options.ssl ? '?sslmode=require' : ''}`;
  const url = urlFor('postgres');
  // node-postgres reads sslmode=require as full verification, and a URL's sslmode overrides its ssl option: the probe gives neither.
  const probeUrl = url.replace(/\?sslmode=require$/, '');
  const probeSsl = options.ssl ? { rejectUnauthorized: false } : false;

  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
      // pg_ctl's fast shutdown reaches the server whether or not a runuser wrapper sits between us.
      const [ctlCmd, ctlArgs] = asServerUser(join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w']);
      try {
        execFileSync(ctlCmd, ctlArgs, { env, stdio: 'ignore' });
      } catch {
        server.kill('SIGINT');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(base, { recursive: true, force: true });
  };

  /** Waits until the server accepts connections; returns its major version. */
  const ready = async (): Promise<number> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (server.exitCode !== null) {
        rmSync(base, { recursive: true, force: true });
        throw new Error(`PostgreSQL exited during start-up:\n${serverLog}`);
      }
      const client = new pg.Client({ connectionString: probeUrl, ssl: probeSsl });
      try {
        await client.connect();
        const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
        await client.end();
        return Math.floor(Number(rows[0]!.v) / 10000);
      } catch {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) {
          await stop();
          throw new Error(`PostgreSQL did not accept connections within 30 s:\n${serverLog}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  /** A crash, as far as clients can tell: immediate shutdown (no checkpoint; recovery runs at the next start). */
  const crash = async () => {
    if (server.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    const [ctlCmd, ctlArgs] = asServerUser(join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
    try {
      execFileSync(ctlCmd, ctlArgs, { env, stdio: 'ignore' });
    } catch {
      server.kill('SIGQUIT');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  };

  /** Starts the server again on the same data directory and port, after crash(). */
  const restart = async () => {
    if (server.exitCode === null) throw new Error('restart() is for a stopped cluster: call crash() first');
    server = startServer();
    await ready();
  };

  const major = await ready();
  return { url, port, password, binDir, major, urlFor, certificate, stop, crash, restart, shutDownImmediately: crash };
}
