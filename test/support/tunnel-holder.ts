/**
 * A process that opens a tunnel and holds it until it is killed: run with `node --import tsx`, so a
 * test can SIGKILL the process that owns a tunnel and see what is left (nothing should be).
 * Reads LIFEBOAT_TEST_TUNNEL (JSON: api, username, password, spaceGuid, app, host, port); prints
 * "port <n>" once the tunnel listens.
 */
import { CfClient } from '../../src/engine/platform/cf-api.js';
import { openAppTunnel } from '../../src/engine/platform/tunnel.js';
import { consoleLogger } from '../../src/engine/logger.js';

const spec = JSON.parse(process.env.LIFEBOAT_TEST_TUNNEL ?? '{}') as {
  api: string;
  username: string;
  password: string;
  spaceGuid: string;
  app: string;
  host: string;
  port: number;
};
const log = consoleLogger();
const cf = await CfClient.connect({ api: spec.api, username: spec.username, password: spec.password }, { log });
const tunnel = await openAppTunnel(cf, { spaceGuid: spec.spaceGuid, app: spec.app, destination: { host: spec.host, port: spec.port }, log });
process.stdout.write(`port ${tunnel.port}\n`);
await tunnel.closed;
