/**
 * A tunnel to a database that only the platform can reach, through an app's container, as
 * `cf ssh -N -L 127.0.0.1:<port>:<db-host>:<db-port> <app>` makes one, without the cf CLI:
 *
 *   1. GET /v3/apps?names=<app>&space_guids=<space>    the app's GUID (its web process has the same GUID)
 *   2. GET /v3/apps/:guid/ssh_enabled                  {enabled, reason}: say which cf command fixes it
 *   3. GET /v2/info                                    app_ssh_endpoint (host:port), app_ssh_host_key_fingerprint,
 *                                                      app_ssh_oauth_client
 *   4. a one-time code from UAA (ssh-code.ts)          the password; a fresh one for every SSH connection
 *   5. SSH as cf:<app-guid>/<instance>                 the host key is checked against the advertised
 *                                                      fingerprint before any credential is sent
 *   6. a listener on 127.0.0.1:<free port>             each connection → direct-tcpip to the database's
 *                                                      host NAME (resolved inside the platform) and port
 *
 * The tunnel never reconnects by itself: if the SSH connection drops, `closed` settles with the error,
 * the listener stops, and whatever runs through it fails at once (a restore must not silently resume
 * on a new connection). pg_dump, pg_restore and psql then connect to 127.0.0.1:<port> with
 * sslmode=require (encrypted; the certificate names the RDS host, not 127.0.0.1, so it is not verified).
 */
import { createServer, type Server, type Socket } from 'node:net';
import ssh2, { type Client, type ClientChannel, type PasswordAuthMethod } from 'ssh2';
import { FingerprintError, fingerprintFormat, hostKeyMismatchMessage, verifyHostKey } from '../../domain/ssh-fingerprint.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CfClient, CfResource } from './cf-api.js';

export interface AppTunnelOptions {
  /** The space the app runs in. */
  spaceGuid: string;
  /** The space's name, for the `cf allow-space-ssh <space>` advice. */
  spaceName?: string;
  /** The app whose container the tunnel goes through (input 'cf-tunnel-app'). */
  app: string;
  /** The app instance's index; 0 unless told. */
  instance?: number;
  /** Where the platform's side of the tunnel connects: the database key's host name (sent unresolved) and port. */
  destination: { host: string; port: number };
  log: Logger;
  /**
   * Aborting stops the tunnel from opening. Once open, the tunnel stays until close(): a cancelled
   * operation still needs the database on its way out (a restore terminates its session and waits
   * for the rollback, or puts the target back to the pre-restore backup), and closes the tunnel last.
   */
  signal?: AbortSignal;
  /** SSH keepalive period, so a long quiet restore does not lose the tunnel to an idle timeout. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** How long the SSH handshake and login may take. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface AppTunnel {
  /** Where to connect: always loopback. */
  readonly host: '127.0.0.1';
  readonly port: number;
  /** "host:port" of the far end, for logs. */
  readonly destination: string;
  /**
   * Settles when the tunnel is over: with undefined after close(), with the error when the SSH
   * connection dropped or failed (never rejects, so nobody has to listen for it).
   */
  readonly closed: Promise<LifeboatError | undefined>;
  /** The drop error, once there is one; undefined while the tunnel is up or after a clean close(). */
  readonly failure: LifeboatError | undefined;
  /** Closes the listener, every forwarded connection and the SSH connection. Idempotent. */
  close(): Promise<void>;
}

interface SshInfo {
  endpoint: string;
  fingerprint: string;
  oauthClient: string;
}

interface CfApp extends CfResource {
  state?: 'STARTED' | 'STOPPED';
}

/** Why cloud_controller_ng says SSH is off ("Disabled globally", "Disabled for space <name>", "Disabled for app"), and the fix. */
export function sshDisabledMessage(app: string, space: string | undefined, reason: string | undefined): string {
  const spaceName = space ?? '<space>';
  const text = (reason ?? '').toLowerCase();
  const fixes: string[] = [];
  if (text.includes('global')) {
    return (
      `SSH to apps is disabled on this whole Cloud Foundry platform (the API says: "${reason}"), so Lifeboat cannot tunnel to the database through '${app}'. ` +
      "Only the platform's operators can change this."
    );
  }
  if (text.includes('space') || !text.includes('app')) fixes.push(`\`cf allow-space-ssh ${spaceName}\``);
  if (text.includes('app') || !text.includes('space')) fixes.push(`\`cf enable-ssh ${app}\` then \`cf restart ${app}\``);
  return (
    `SSH is disabled for the app '${app}' given in 'cf-tunnel-app'${reason ? ` (the API says: "${reason}")` : ''}, so Lifeboat cannot tunnel to the database through it. ` +
    `Allow it with ${fixes.join(' and ')} (a space manager or developer can), or name another app in 'cf-tunnel-app'. See docs/cloud-gov.md.`
  );
}

async function findApp(cf: CfClient, options: AppTunnelOptions): Promise<CfApp> {
  const app = await cf.findOne<CfApp>('/v3/apps', { names: options.app, space_guids: options.spaceGuid });
  if (!app) {
    throw new LifeboatError(
      `The app '${options.app}' given in 'cf-tunnel-app' is not in the space${options.spaceName ? ` '${options.spaceName}'` : ''} (or the service account cannot see it). ` +
        "Check the app's name with `cf apps`, and that the service account has a role in that space.",
    );
  }
  if (app.state === 'STOPPED') {
    throw new LifeboatError(`The app '${options.app}' given in 'cf-tunnel-app' is stopped, so there is no container to tunnel through. Start it with \`cf start ${options.app}\`.`);
  }
  return app;
}

async function assertSshEnabled(cf: CfClient, appGuid: string, options: AppTunnelOptions): Promise<void> {
  const answer = await cf.get<{ enabled?: boolean; reason?: string }>(`/v3/apps/${encodeURIComponent(appGuid)}/ssh_enabled`);
  if (answer?.enabled === true) return;
  throw new LifeboatError(sshDisabledMessage(options.app, options.spaceName, answer?.reason || undefined));
}

/** The SSH proxy's address, host key fingerprint and OAuth client, from /v2/info as the issue and `cf ssh` (v6) read them. */
async function readSshInfo(cf: CfClient): Promise<SshInfo> {
  const info = await cf.get<{ app_ssh_endpoint?: string; app_ssh_host_key_fingerprint?: string; app_ssh_oauth_client?: string } | undefined>('/v2/info');
  if (!info?.app_ssh_endpoint) {
    throw new LifeboatError(`The Cloud Foundry API at ${cf.origin} advertises no app SSH endpoint (app_ssh_endpoint in /v2/info): this platform does not offer \`cf ssh\`, so no tunnel can be made.`);
  }
  return { endpoint: info.app_ssh_endpoint, fingerprint: info.app_ssh_host_key_fingerprint ?? '', oauthClient: info.app_ssh_oauth_client || 'ssh-proxy' };
}

/** "host:port" (IPv6 in brackets) as app_ssh_endpoint gives it; port 22 when absent, as `cf ssh` does. */
export function parseSshEndpoint(endpoint: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:/\s]+))(?::(\d{1,5}))?$/.exec(endpoint.trim());
  const port = Number(match?.[3] ?? 22);
  if (!match || port < 1 || port > 65535) {
    throw new LifeboatError(`The Cloud Foundry API advertises the app SSH endpoint '${endpoint}', which is not host:port.`);
  }
  return { host: match[1] ?? match[2]!, port };
}

function abortError(signal: AbortSignal): LifeboatError {
  return new LifeboatError(`Opening the tunnel was cancelled (${errorMessage(signal.reason)}).`);
}

/** Logs in to the SSH proxy with a fresh one-time code. Resolves with the ready connection. */
async function connectSsh(cf: CfClient, info: SshInfo, username: string, options: AppTunnelOptions): Promise<Client> {
  const { host, port } = parseSshEndpoint(info.endpoint);
  const where = `${host}:${port}`;
  // Fails here, before any connection, when the fingerprint is missing or in no known format.
  try {
    fingerprintFormat(info.fingerprint);
  } catch (error) {
    throw error instanceof FingerprintError ? new LifeboatError(error.message) : error;
  }
  const code = await cf.sshOneTimeCode(info.oauthClient);
  const client = new ssh2.Client();
  let refusal: LifeboatError | undefined;
  return new Promise<Client>((resolve, reject) => {
    const onAbort = () => {
      client.end();
      reject(abortError(options.signal!));
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => options.signal?.removeEventListener('abort', onAbort);
    client.once('ready', () => {
      settle();
      // Queries are small request/answer exchanges: Nagle's algorithm would hold each for a delayed ACK.
      client.setNoDelay(true);
      resolve(client);
    });
    client.once('error', (error: Error & { level?: string }) => {
      settle();
      client.end();
      if (refusal) return reject(refusal);
      if (error.level === 'client-authentication') {
        return reject(
          new LifeboatError(
            `The SSH proxy at ${where} refused the login as ${username} with the one-time code from UAA. A code is good for one connection and a short time; ` +
              `also check that instance ${options.instance ?? 0} of the app '${options.app}' is running (\`cf app ${options.app}\`) and that the service account may SSH to it (SpaceDeveloper in its space).`,
            { cause: error },
          ),
        );
      }
      reject(new LifeboatError(`Cannot open SSH to the app SSH proxy at ${where}: ${errorMessage(error)}.`, { cause: error }));
    });
    client.connect({
      host,
      port,
      username,
      // One attempt, by password, and nothing else (no agent, no keys, no keyboard-interactive).
      authHandler: [{ type: 'password', username, password: code } as PasswordAuthMethod],
      hostVerifier: (key: Buffer) => {
        // Runs during key exchange, before authentication: on refusal no code is ever sent.
        const verdict = verifyHostKey(key, info.fingerprint);
        if (verdict.ok) return true;
        refusal = new LifeboatError(hostKeyMismatchMessage(where, verdict));
        return false;
      },
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 4,
      readyTimeout: options.readyTimeoutMs ?? 30_000,
    });
  });
}

/**
 * Opens the tunnel: checks the app and its SSH, logs in to the SSH proxy, and listens on a free
 * loopback port. Throws a LifeboatError that says what to fix; nothing is left open on failure.
 */
export async function openAppTunnel(cf: CfClient, options: AppTunnelOptions): Promise<AppTunnel> {
  const { log, destination } = options;
  const instance = options.instance ?? 0;
  const far = `${destination.host}:${destination.port}`;
  if (options.signal?.aborted) throw abortError(options.signal);
  const app = await findApp(cf, options);
  await assertSshEnabled(cf, app.guid, options);
  const info = await readSshInfo(cf);
  // The web process has the app's GUID: `cf ssh` logs in as cf:<process-guid>/<index>.
  const username = `cf:${app.guid}/${instance}`;
  log.info(`Opening an SSH tunnel to ${far} through instance ${instance} of the app '${options.app}' (SSH proxy ${info.endpoint}).`);
  const ssh = await connectSsh(cf, info, username, options);

  const sockets = new Set<Socket>();
  const channels = new Set<ClientChannel>();
  let failure: LifeboatError | undefined;
  let ending = false;
  let sshGone = false;
  ssh.once('close', () => (sshGone = true));
  let markClosed!: (value: LifeboatError | undefined) => void;
  const closed = new Promise<LifeboatError | undefined>((resolve) => (markClosed = resolve));

  const server: Server = createServer((socket) => {
    if (ending) return socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (error) => log.debug(`A connection through the tunnel to ${far} failed on this side: ${errorMessage(error)}.`));
    socket.setNoDelay(true);
    socket.pause();
    ssh.forwardOut('127.0.0.1', socket.remotePort ?? 0, destination.host, destination.port, (error, channel) => {
      if (error) {
        const reason = (error as Error & { reason?: number }).reason;
        log.warning(
          `The SSH proxy would not connect the tunnel to ${far}${reason !== undefined ? ` (channel open failure, reason ${reason})` : ''}: ${errorMessage(error)}. ` +
            "Check the database key's host and port, and that the app's space may reach the database (its security groups).",
        );
        socket.destroy();
        return;
      }
      if (ending || socket.destroyed) {
        channel.close();
        socket.destroy();
        return;
      }
      channels.add(channel);
      channel.once('close', () => {
        channels.delete(channel);
        socket.destroy();
      });
      channel.on('error', (e: Error) => log.debug(`A connection through the tunnel to ${far} failed on the platform's side: ${errorMessage(e)}.`));
      socket.once('close', () => channel.close());
      socket.pipe(channel).pipe(socket);
      socket.resume();
    });
  });

  const shutDown = async (error: LifeboatError | undefined): Promise<void> => {
    if (ending) return closed.then(() => undefined);
    ending = true;
    failure = error;
    const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const channel of channels) channel.close();
    for (const socket of sockets) socket.destroy();
    const sshClosed = new Promise<void>((resolve) => {
      if (sshGone) return resolve();
      ssh.once('close', () => resolve());
      ssh.end();
      // ssh2 emits close once the socket is gone; do not wait forever for a dead peer.
      setTimeout(() => {
        ssh.destroy();
        resolve();
      }, 2_000).unref();
    });
    await Promise.all([listenerClosed, sshClosed]);
    markClosed(error);
  };

  ssh.on('error', (error: Error) => {
    if (ending) return;
    const dropped = new LifeboatError(`The SSH tunnel to ${far} through the app '${options.app}' failed: ${errorMessage(error)}.`, { cause: error });
    log.warning(dropped.message);
    void shutDown(dropped);
  });
  ssh.on('close', () => {
    if (ending) return;
    const dropped = new LifeboatError(
      `The SSH tunnel to ${far} through the app '${options.app}' was closed by the other side (the SSH proxy or the app's container went away, e.g. the app restarted). Run the operation again.`,
    );
    log.warning(dropped.message);
    void shutDown(dropped);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await shutDown(undefined);
    throw new LifeboatError(`Cannot listen on a loopback port for the tunnel: ${errorMessage(error)}.`, { cause: error });
  }
  server.on('error', (error) => log.warning(`The tunnel's local listener failed: ${errorMessage(error)}.`));
  if (options.signal?.aborted) {
    await shutDown(undefined);
    throw abortError(options.signal);
  }
  const port = (server.address() as { port: number }).port;
  log.info(`Tunnel open: 127.0.0.1:${port} → ${far}.`);

  return {
    host: '127.0.0.1',
    port,
    destination: far,
    closed,
    get failure() {
      return failure;
    },
    close: () => shutDown(undefined),
  };
}
