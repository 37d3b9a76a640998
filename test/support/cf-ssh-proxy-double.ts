/**
 * A double of Cloud Foundry's SSH proxy (diego-ssh's ssh-proxy): a real SSH server on loopback,
 * built on ssh2's Server, with a host key made for each run.
 *
 * - Authentication: password only, as `cf:<app guid>/<instance>` with a one-time code UAA issued
 *   (the CF double's OneTimeCodes); each code works once, a reused or unknown one is refused.
 * - Channels: `direct-tcpip` only, and only to the routes it is given (the database key's host
 *   name and port, e.g. an RDS name that does not resolve on this machine), each mapped to a real
 *   address (the test PostgreSQL), optionally only from one app's containers. Anything else is
 *   refused (administratively prohibited).
 * - Records: every authentication attempt (so a test can prove none was made), every channel and
 *   whether it is open, and the open connections (so a test can prove nothing is left open).
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
// ssh2 is CommonJS, and Node's ESM loader does not see its Server or utils as named exports.
import ssh2, { type Connection } from 'ssh2';

const { Server, utils } = ssh2;
import { fingerprintOf, type FingerprintFormat } from '../../src/domain/ssh-fingerprint.js';

export interface ProxyRoute {
  /** What the client asks for: the key's host name (unresolved) and port. */
  host: string;
  port: number;
  /** Where the proxy really connects. */
  to: { host: string; port: number };
  /**
   * Only from this app's containers (its GUID), as a space's security groups let only its own apps
   * reach its database; from any app when absent.
   */
  fromApp?: string;
}

export interface SshProxyDoubleOptions {
  /** Consumes a one-time code: true once per issued code. */
  consumeCode: (code: string) => boolean;
  /** The apps whose instances may be reached (their GUIDs); instance 0 only. */
  appGuids: () => string[];
  routes: ProxyRoute[];
  /** Cuts a connection that has been silent this long (no data, no keepalive), as a load balancer's idle timeout does. */
  idleTimeoutMs?: number;
}

export interface AuthAttempt {
  username: string;
  method: string;
  /** The password sent, when the method is password. */
  password?: string;
  accepted: boolean;
}

export interface ChannelRecord {
  destination: string;
  /** The GUID of the app whose container the connection was logged in to. */
  app: string;
  accepted: boolean;
  open: boolean;
}

export interface SshProxyDouble {
  /** host:port, as app_ssh_endpoint gives it. */
  endpoint: string;
  /** The host key's SSH wire encoding. */
  hostKey: Buffer;
  fingerprint(format: FingerprintFormat): string;
  authAttempts: AuthAttempt[];
  channels: ChannelRecord[];
  /** SSH connections open now. */
  openConnections(): number;
  /** Forwarded channels open now. */
  openChannels(): number;
  /** Cuts every client connection, as a proxy restart does. */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startSshProxyDouble(options: SshProxyDoubleOptions): Promise<SshProxyDouble> {
  // ssh2 1.17's keygen drops a leading zero byte of some ed25519 keys (about 1 in 400), making a key
  // it cannot parse itself ("Malformed OpenSSH public key"): make another until it parses.
  let keys = utils.generateKeyPairSync('ed25519');
  let parsed = utils.parseKey(keys.public);
  while (parsed instanceof Error || utils.parseKey(keys.private) instanceof Error) {
    keys = utils.generateKeyPairSync('ed25519');
    parsed = utils.parseKey(keys.public);
  }
  const hostKey = parsed.getPublicSSH();
  const authAttempts: AuthAttempt[] = [];
  const channels: ChannelRecord[] = [];
  const connections = new Set<Connection>();
  const upstreams = new Set<Socket>();

  const server = new Server({ hostKeys: [keys.private] }, (client) => {
    connections.add(client);
    let loggedInApp = '';
    // What a connection forwards ends with it, as the real proxy's does.
    const forwarded = new Set<() => void>();
    client.on('close', () => {
      connections.delete(client);
      for (const end of forwarded) end();
    });
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      const password = ctx.method === 'password' ? ctx.password : undefined;
      const user = /^cf:([0-9a-f-]+)\/(\d+)$/.exec(ctx.username);
      const known = Boolean(user && options.appGuids().includes(user[1]!) && user[2] === '0');
      // A code is spent by any attempt that presents it, as UAA's codes are.
      const accepted = ctx.method === 'password' && options.consumeCode(password!) && known;
      authAttempts.push({ username: ctx.username, method: ctx.method, ...(password !== undefined ? { password } : {}), accepted });
      if (accepted) {
        loggedInApp = user![1]!;
        ctx.accept();
      }
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      (client as Connection & { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
      client.on('session', (_accept, reject) => reject());
      client.on('tcpip', (accept, reject, info) => {
        const destination = `${info.destIP}:${info.destPort}`;
        const route = options.routes.find((r) => r.host === info.destIP && r.port === info.destPort && (!r.fromApp || r.fromApp === loggedInApp));
        const record: ChannelRecord = { destination, app: loggedInApp, accepted: Boolean(route), open: false };
        channels.push(record);
        if (!route) return reject();
        const upstream = createConnection(route.to.port, route.to.host);
        upstream.setNoDelay(true);
        upstreams.add(upstream);
        const end = () => {
          record.open = false;
          upstream.destroy();
          forwarded.delete(end);
        };
        forwarded.add(end);
        upstream.once('connect', () => {
          const channel = accept();
          record.open = true;
          channel.once('close', end);
          upstream.once('close', () => channel.close());
          channel.on('error', () => undefined);
          upstream.pipe(channel).pipe(upstream);
        });
        upstream.once('error', () => {
          if (!record.open) reject();
        });
        upstream.once('close', () => upstreams.delete(upstream));
      });
    });
  });

  // Our own TCP listener hands each socket to the SSH server, so it can watch the socket's silence.
  const tcp = createServer((socket) => {
    // Any packet (a forwarded query, a keepalive) resets the timeout.
    if (options.idleTimeoutMs) socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
    server.injectSocket(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as AddressInfo;

  return {
    endpoint: `127.0.0.1:${port}`,
    hostKey,
    fingerprint: (format) => fingerprintOf(hostKey, format),
    authAttempts,
    channels,
    openConnections: () => connections.size,
    openChannels: () => channels.filter((c) => c.open).length,
    dropAll() {
      for (const client of connections) client.end();
      for (const upstream of upstreams) upstream.destroy();
    },
    async close() {
      for (const client of connections) client.end();
      for (const upstream of upstreams) upstream.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
