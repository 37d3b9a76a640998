/**
 * Binding a database: a service key on its instance (cloud.gov's aws-rds), read as a postgres://
 * URL with sslmode=require, reached directly or through a tunnel.
 *
 * How the key's host and port are reached is a `Reach`: `directReach` connects to them as they
 * are (a database the runner can reach); `tunnelThroughApp` forwards a local port to them through
 * an app of the space over the CF SSH proxy (input `cf-tunnel-app`). Either way the URL names the
 * reached host and port and the key's database, user and password.
 */
import { parseRdsCredentials, RDS_PUBLIC_FIELDS, rdsDatabaseUrl, type Endpoint, type RdsCredentials } from '../../domain/platform-binding.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { registerSecret } from '../secrets.js';
import type { CfBindings } from './lifecycle.js';
import { openAppTunnel } from './tunnel.js';

/** A way to the database, open until closed. */
export interface Reached extends Endpoint {
  close(): Promise<void>;
}

/** Opens a way to `destination` (the key's host and port). */
export type Reach = (destination: Endpoint) => Promise<Reached>;

/** The key's host and port as they are. */
export const directReach: Reach = async (destination) => ({ host: destination.host, port: destination.port, close: async () => undefined });

/** Opens a tunnel through `app` (an app of the session's space) to `destination`, as `cf ssh -N -L` does. */
export type TunnelOpener = (
  bindings: CfBindings,
  request: { app: string; destination: Endpoint; log: Logger; signal?: AbortSignal },
) => Promise<Reached>;

/**
 * The tunnel through an app of the session's space (tunnel.ts): a loopback port forwarded over the
 * CF SSH proxy to the key's host and port. Its `close()` ends the SSH connection; if the tunnel drops
 * before, the operation's connections through it fail and the drop is logged.
 */
export const tunnelThroughApp: TunnelOpener = async (bindings, { app, destination, log, signal }) => {
  const tunnel = await openAppTunnel(bindings.cf, {
    spaceGuid: await bindings.resolveSpace(),
    spaceName: bindings.state.space,
    app,
    destination,
    log,
    signal,
  });
  return { host: tunnel.host, port: tunnel.port, close: () => tunnel.close() };
};

export interface BoundDatabase {
  /** postgres://…?sslmode=require at the reached host and port: a secret, masked. */
  url: string;
  /** The key's credentials (their secrets masked). */
  credentials: RdsCredentials;
  reached: Reached;
  where: string;
}

/**
 * Creates a key on the database's instance and reaches the database it names. Every secret (user,
 * password, uri, and the URL made of them) is masked before anything can print it. On failure after
 * the key exists, the caller's session deletes the key; a way already opened is closed here.
 */
export async function bindDatabase(bindings: CfBindings, instance: string, log: Logger, options: { env?: NodeJS.ProcessEnv; reach?: Reach } = {}): Promise<BoundDatabase> {
  const bound = await bindings.bind(instance, { env: options.env, purpose: 'database', publicFields: RDS_PUBLIC_FIELDS });
  let credentials: RdsCredentials;
  try {
    credentials = parseRdsCredentials(bound.credentials, bound.where);
  } catch (error) {
    throw new LifeboatError(errorMessage(error), { cause: error });
  }
  // Also in the forms taken from the uri (decoded), should the key give no separate fields.
  registerSecret(credentials.username);
  registerSecret(credentials.password);
  const reached = await (options.reach ?? directReach)({ host: credentials.host, port: credentials.port });
  const url = rdsDatabaseUrl(credentials, reached);
  registerSecret(url);
  const through = reached.host !== credentials.host || reached.port !== credentials.port ? `, reached at ${reached.host}:${reached.port}` : '';
  log.info(`Database '${credentials.database}' at ${credentials.host}:${credentials.port}${through} (SSL required), through the ${bound.where}.`);
  return { url, credentials, reached, where: bound.where };
}
