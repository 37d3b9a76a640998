/**
 * The tunnel to a platform-only database through an app's container (`cf ssh -N -L`, without the
 * cf CLI), against real protocols on loopback: the CF API + UAA double (apps, ssh_enabled, /v2/info,
 * the one-time code), an SSH proxy double built on ssh2's Server, and a real PostgreSQL that accepts
 * only TLS. The database is known to Lifeboat only by an RDS-like name that does not resolve here;
 * only the SSH proxy double knows where it really listens.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CfClient } from '../../src/engine/platform/cf-api.js';
import { openAppTunnel, type AppTunnel, type AppTunnelOptions } from '../../src/engine/platform/tunnel.js';
import { connectOrExplain, libpqEnv, parseDatabaseUrl } from '../../src/engine/postgres/connection.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { redact } from '../../src/engine/secrets.js';
import { LifeboatError } from '../../src/engine/errors.js';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import type { FingerprintFormat } from '../../src/domain/ssh-fingerprint.js';
import { startCloudFoundryDouble, type CloudFoundryDouble } from '../support/cloud-foundry-double.js';
import { startSshProxyDouble, type SshProxyDouble } from '../support/cf-ssh-proxy-double.js';
import type { DoubleApp } from '../support/cf-app-ssh-routes.js';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

const USERNAME = 'a1b2c3d4-service-account';
const PASSWORD = 'Pw-' + 'tunnel-9Zq4Lm2';
/** The database key's host: an RDS name, resolvable only inside the platform. */
const RDS_HOST = 'lifeboat-test-db.c9x8y7z6w5v4.us-gov-west-1.rds.amazonaws.com';
const RDS_PORT = 5432;
const FORMATS: FingerprintFormat[] = ['sha256-base64', 'sha256-hex', 'sha1-colon-hex', 'md5-colon-hex'];

let cluster: PostgresCluster;
let cf: CloudFoundryDouble;
let proxy: SshProxyDouble;
let app: DoubleApp;
let client: CfClient;
const tunnels: AppTunnel[] = [];

beforeAll(async () => {
  // The server's certificate names the RDS host: verify-full through the tunnel (127.0.0.1) cannot pass.
  cluster = await startPostgresCluster({ ssl: { hostName: RDS_HOST } });
  const admin = parseDatabaseUrl(cluster.url);
  const pgClient = await connectOrExplain(admin);
  await pgClient.query('CREATE DATABASE fac');
  await pgClient.end();
  const fac = await connectOrExplain(parseDatabaseUrl(cluster.urlFor('fac')));
  await fac.query("CREATE TABLE audit (id int PRIMARY KEY, note text); INSERT INTO audit VALUES (1, 'through the tunnel')");
  await fac.end();
});

afterAll(async () => {
  await cluster?.stop();
});

beforeEach(async () => {
  cf = await startCloudFoundryDouble({ username: USERNAME, password: PASSWORD, org: 'gsa-tts', space: 'production', instances: [] });
  app = cf.appSsh.addApp('fac-tunnel');
  proxy = await startSshProxyDouble({
    consumeCode: (code) => cf.appSsh.codes.consume(code),
    appGuids: () => cf.appSsh.apps.map((a) => a.guid),
    routes: [{ host: RDS_HOST, port: RDS_PORT, to: { host: '127.0.0.1', port: cluster.port } }],
  });
  cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: proxy.fingerprint('sha256-base64') };
  client = await CfClient.connect({ api: cf.api, username: USERNAME, password: PASSWORD }, { log: memoryLogger() });
});

afterEach(async () => {
  await Promise.all(tunnels.splice(0).map((t) => t.close()));
  await proxy.close();
  await cf.close();
});

function options(overrides: Partial<AppTunnelOptions> = {}): AppTunnelOptions & { log: ReturnType<typeof memoryLogger> } {
  return { spaceGuid: cf.spaceGuid, spaceName: 'production', app: 'fac-tunnel', destination: { host: RDS_HOST, port: RDS_PORT }, log: memoryLogger(), ...overrides } as never;
}

async function open(overrides: Partial<AppTunnelOptions> = {}): Promise<AppTunnel> {
  const tunnel = await openAppTunnel(client, options(overrides));
  tunnels.push(tunnel);
  return tunnel;
}

/** The URL Lifeboat would build from the database key, pointed at the tunnel. */
function tunnelUrl(tunnel: AppTunnel, sslmode = 'require', extra = ''): string {
  return `postgres://postgres:${encodeURIComponent(cluster.password)}@${tunnel.host}:${tunnel.port}/fac?sslmode=${sslmode}${extra}`;
}

/**
 * This process's TCP sockets (listening or connected) on a port, from the kernel's table.
 * ss filters by port itself: a full CI run leaves thousands of TIME-WAIT sockets behind, and
 * the unfiltered table once overflowed execFileSync's 1 MiB buffer (spawnSync ss ENOBUFS).
 */
function ownSockets(port: number): string[] {
  const out = execFileSync('ss', ['-Htanp', `( sport = :${port} or dport = :${port} )`], { maxBuffer: 64 * 1024 * 1024 }).toString();
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`) && new RegExp(`:${port}\\s`).test(line + ' '));
}

async function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('through the tunnel', () => {
  it('node-postgres and psql reach the TLS-only database by its RDS name, with sslmode=require', async () => {
    const tunnel = await open();
    expect(tunnel.host).toBe('127.0.0.1');
    expect(tunnel.port).not.toBe(cluster.port);
    expect(tunnel.destination).toBe(`${RDS_HOST}:${RDS_PORT}`);

    const connection = parseDatabaseUrl(tunnelUrl(tunnel));
    const pgClient = await connectOrExplain(connection);
    const { rows } = await pgClient.query<{ note: string; ssl: boolean }>(
      'SELECT (SELECT note FROM audit WHERE id = 1) AS note, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl',
    );
    await pgClient.end();
    expect(rows[0]).toEqual({ note: 'through the tunnel', ssl: true });

    // A libpq tool, with the connection in its environment only.
    const psql = await execFileAsync(
      'psql',
      ['-X', '-At', '-c', "SELECT note || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) FROM audit"],
      { env: libpqEnv(connection, 'lifeboat-test') },
    );
    expect(psql.stdout.trim()).toBe('through the tunnel true');
    const dump = await execFileAsync('pg_dump', ['--schema-only', '--table=audit'], { env: libpqEnv(connection, 'lifeboat-test') });
    expect(dump.stdout).toContain('CREATE TABLE public.audit');

    // Every forwarded connection went to the RDS name, unresolved, and was accepted.
    expect(proxy.channels.length).toBeGreaterThanOrEqual(3);
    expect(proxy.channels.every((c) => c.destination === `${RDS_HOST}:${RDS_PORT}` && c.accepted)).toBe(true);
    // One login, as cf:<app guid>/0, with the one code UAA issued.
    expect(proxy.authAttempts).toEqual([{ username: `cf:${app.guid}/0`, method: 'password', password: cf.appSsh.codes.issued[0], accepted: true }]);
    expect(cf.appSsh.codes.issued).toHaveLength(1);
  });

  it('close() leaves no listener, no forwarded connection and no SSH connection, on either side', async () => {
    const tunnel = await open();
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel)));
    await pgClient.query('SELECT 1');
    const proxyPort = Number(proxy.endpoint.split(':')[1]);
    expect(ownSockets(tunnel.port).length).toBeGreaterThan(0);
    expect(proxy.openConnections()).toBe(1);
    expect(proxy.openChannels()).toBe(1);

    // Closing with a client still connected through it: that connection is cut too.
    const cut = new Promise<Error>((resolve) => pgClient.once('error', resolve));
    await tunnel.close();
    expect(await tunnel.closed).toBeUndefined();
    expect(tunnel.failure).toBeUndefined();
    await cut;
    await pgClient.end().catch(() => undefined);
    await expect.poll(() => proxy.openConnections()).toBe(0);
    await expect.poll(() => proxy.openChannels()).toBe(0);
    await expect.poll(() => ownSockets(tunnel.port).filter((l) => !/TIME-WAIT/.test(l))).toEqual([]);
    // Client side of the SSH connection: none of this process's sockets goes to the proxy any more
    // (the proxy double's own listening socket is in this process too, so look for connected ones).
    await expect.poll(() => ownSockets(proxyPort).filter((l) => /^ESTAB/.test(l))).toEqual([]);
    expect(await refusesConnections(tunnel.port)).toBe(true);
    // Idempotent.
    await tunnel.close();
  });

  it.each(FORMATS)('accepts the proxy host key advertised as %s', async (format) => {
    cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: proxy.fingerprint(format) };
    const tunnel = await open();
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel)));
    expect((await pgClient.query<{ n: number }>('SELECT count(*)::int AS n FROM audit')).rows[0]!.n).toBe(1);
    await pgClient.end();
  });

  it('gets a fresh one-time code for every SSH connection', async () => {
    await open();
    await open();
    expect(cf.appSsh.codes.issued).toHaveLength(2);
    expect(new Set(cf.appSsh.codes.issued).size).toBe(2);
    expect(proxy.authAttempts.map((a) => [a.password, a.accepted])).toEqual(cf.appSsh.codes.issued.map((c) => [c, true]));
  });

  it('never logs the code or the token: both are registered as secrets', async () => {
    const opts = options();
    const tunnel = await openAppTunnel(client, opts);
    tunnels.push(tunnel);
    const secrets = cf.issuedSecrets();
    expect(secrets).toContain(cf.appSsh.codes.issued[0]);
    for (const secret of secrets) {
      expect(redact(`x ${secret} y`)).toBe('x *** y');
      expect(opts.log.lines.join('\n')).not.toContain(secret);
    }
    expect(opts.log.lines.join('\n')).toContain(`Tunnel open: 127.0.0.1:${tunnel.port} → ${RDS_HOST}:${RDS_PORT}.`);
  });
});

describe('the process holding the tunnel is killed', () => {
  it('SIGKILL leaves no SSH connection, channel or listener behind', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/tunnel-holder.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        LIFEBOAT_TEST_TUNNEL: JSON.stringify({ api: cf.api, username: USERNAME, password: PASSWORD, spaceGuid: cf.spaceGuid, app: 'fac-tunnel', host: RDS_HOST, port: RDS_PORT }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /port (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`the tunnel holder exited (${code}): ${stderr}`)));
    });
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl({ host: '127.0.0.1', port } as AppTunnel)));
    pgClient.on('error', () => undefined);
    await pgClient.query('SELECT 1');
    expect(proxy.openConnections()).toBe(1);
    expect(proxy.openChannels()).toBe(1);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The kernel closed the dead process's sockets: the proxy sees its SSH connection and channel end.
    await expect.poll(() => proxy.openConnections()).toBe(0);
    await expect.poll(() => proxy.openChannels()).toBe(0);
    expect(await refusesConnections(port)).toBe(true);
    await expect(pgClient.query('SELECT 1')).rejects.toThrow();
    await pgClient.end().catch(() => undefined);
  });
});

describe('keepalive', () => {
  async function idleThrough(keepaliveIntervalMs: number): Promise<AppTunnel> {
    await proxy.close();
    proxy = await startSshProxyDouble({
      consumeCode: (code) => cf.appSsh.codes.consume(code),
      appGuids: () => [app.guid],
      routes: [{ host: RDS_HOST, port: RDS_PORT, to: { host: '127.0.0.1', port: cluster.port } }],
      idleTimeoutMs: 1_000,
    });
    cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: proxy.fingerprint('sha256-base64') };
    const tunnel = await open({ keepaliveIntervalMs });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    return tunnel;
  }

  it('keeps an idle tunnel open past the far side\'s idle timeout', async () => {
    const tunnel = await idleThrough(300);
    expect(tunnel.failure).toBeUndefined();
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel)));
    expect((await pgClient.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
    await pgClient.end();
  });

  it('(without keepalives the same idle period loses the tunnel, and it says so)', async () => {
    const tunnel = await idleThrough(0);
    expect(await tunnel.closed).toBeInstanceOf(LifeboatError);
  });
});

describe('refusals', () => {
  it.each(FORMATS)('a host key whose %s fingerprint differs is refused before any credential is sent', async (format) => {
    const impostor = await startSshProxyDouble({ consumeCode: (c) => cf.appSsh.codes.consume(c), appGuids: () => [app.guid], routes: [] });
    try {
      // The API advertises the real proxy's key; the connection reaches another server.
      cf.appSsh.proxy = { endpoint: impostor.endpoint, fingerprint: proxy.fingerprint(format) };
      const error = await failure(open());
      expect(error).toBeInstanceOf(LifeboatError);
      expect(error.message).toContain('host key');
      expect(error.message).toContain('fingerprint');
      expect(error.message).toContain(impostor.fingerprint(format));
      expect(error.message).toContain(proxy.fingerprint(format));
      expect(error.message).toContain('No credential was sent');
      expect(impostor.authAttempts).toEqual([]);
      await expect.poll(() => impostor.openConnections()).toBe(0);
    } finally {
      await impostor.close();
    }
  });

  it('an advertised fingerprint in no known format is refused before connecting', async () => {
    cf.appSsh.proxy = { endpoint: proxy.endpoint, fingerprint: 'SHA256:' + proxy.fingerprint('sha256-base64') };
    const error = await failure(open());
    expect(error.message).toMatch(/is in no format Lifeboat knows/);
    expect(proxy.authAttempts).toEqual([]);
    expect(cf.appSsh.codes.issued).toEqual([]);
  });

  it('a reused one-time code is refused by the proxy, and the error says so', async () => {
    await open();
    const used = cf.appSsh.codes.issued[0]!;
    // UAA hands out the code already spent (as if someone else had used it first).
    const issue = cf.appSsh.codes.issue.bind(cf.appSsh.codes);
    cf.appSsh.codes.issue = () => {
      issue();
      return used;
    };
    const error = await failure(open());
    expect(error).toBeInstanceOf(LifeboatError);
    expect(error.message).toMatch(/refused the login as cf:[0-9a-f-]+\/0 with the one-time code from UAA\. A code is good for one connection/);
    expect(error.message).not.toContain(used);
    expect(proxy.authAttempts.map((a) => a.accepted)).toEqual([true, false]);
    await expect.poll(() => proxy.openConnections()).toBe(1); // only the first tunnel's
  });

  it('SSH disabled for the space names cf allow-space-ssh', async () => {
    cf.appSsh.behaviour.spaceSshDisabled = true;
    const error = await failure(open());
    expect(error.message).toContain('`cf allow-space-ssh production`');
    expect(error.message).not.toContain('enable-ssh');
    expect(error.message).toContain('"Disabled for space production"');
    expect(cf.appSsh.codes.issued).toEqual([]);
    expect(proxy.authAttempts).toEqual([]);
  });

  it('SSH disabled for the app names cf enable-ssh', async () => {
    app.sshEnabled = false;
    const error = await failure(open());
    expect(error.message).toContain('`cf enable-ssh fac-tunnel` then `cf restart fac-tunnel`');
    expect(error.message).not.toContain('allow-space-ssh');
    expect(cf.appSsh.codes.issued).toEqual([]);
  });

  it('SSH disabled on the whole platform says only operators can change it', async () => {
    cf.appSsh.behaviour.globalSshDisabled = true;
    const error = await failure(open());
    expect(error.message).toMatch(/disabled on this whole Cloud Foundry platform .*Only the platform's operators/);
  });

  it('an unknown or stopped app is named with the fix', async () => {
    expect((await failure(open({ app: 'nope' }))).message).toMatch(/The app 'nope' given in 'cf-tunnel-app' is not in the space 'production'/);
    app.state = 'STOPPED';
    expect((await failure(open())).message).toContain('`cf start fac-tunnel`');
  });

  it.each([
    [{ host: 'another-db.c9x8y7z6w5v4.us-gov-west-1.rds.amazonaws.com', port: RDS_PORT }],
    [{ host: RDS_HOST, port: 5433 }],
  ])('a destination the proxy does not allow (%o) is refused, and the connection through it fails', async (destination) => {
    const opts = options({ destination });
    const tunnel = await openAppTunnel(client, opts);
    tunnels.push(tunnel);
    const error = await failure(connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel))));
    expect(error).toBeInstanceOf(LifeboatError);
    expect(proxy.channels).toEqual([{ destination: `${destination.host}:${destination.port}`, app: app.guid, accepted: false, open: false }]);
    await expect.poll(() => opts.log.lines.join('\n')).toContain(`The SSH proxy would not connect the tunnel to ${destination.host}:${destination.port}`);
  });

  it('a dropped SSH connection is reported and the tunnel stops listening', async () => {
    const opts = options();
    const tunnel = await openAppTunnel(client, opts);
    tunnels.push(tunnel);
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel)));
    pgClient.on('error', () => undefined);
    proxy.dropAll();
    const dropped = await tunnel.closed;
    expect(dropped).toBeInstanceOf(LifeboatError);
    expect(dropped!.message).toMatch(/The SSH tunnel to .* through the app 'fac-tunnel' (was closed by the other side|failed)/);
    expect(tunnel.failure).toBe(dropped);
    expect(opts.log.lines.some((l) => l.startsWith('warning: The SSH tunnel to'))).toBe(true);
    await expect(pgClient.query('SELECT 1')).rejects.toThrow();
    expect(await refusesConnections(tunnel.port)).toBe(true);
  });

  it('an AbortSignal stops the tunnel from opening, but not an open tunnel, which a cancelled operation still needs on its way out', async () => {
    const controller = new AbortController();
    const tunnel = await open({ signal: controller.signal });
    controller.abort(new Error('SIGTERM'));
    // After the cancellation, a fresh connection (a restore terminating its session) still gets through.
    const pgClient = await connectOrExplain(parseDatabaseUrl(tunnelUrl(tunnel)));
    expect((await pgClient.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
    await pgClient.end();
    expect(tunnel.failure).toBeUndefined();
    await tunnel.close();
    expect(await tunnel.closed).toBeUndefined();
    expect(await refusesConnections(tunnel.port)).toBe(true);
    await expect.poll(() => proxy.openConnections()).toBe(0);

    const aborted = new AbortController();
    aborted.abort(new Error('SIGINT'));
    expect((await failure(open({ signal: aborted.signal }))).message).toMatch(/cancelled/);
  });
});
