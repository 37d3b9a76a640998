/**
 * A stand-in for cloud.gov's aws-rds broker over a real PostgreSQL: a throwaway cluster of its own
 * (on its own port, so nothing else in a test can reach it by accident) with SSL on, where
 *
 * - each database belongs to a master role, as an RDS instance's master user;
 * - each service key gets a login role of its own, a member of the master role (so it may read and
 *   replace everything), made when the key is created and dropped when it is deleted, its objects
 *   given back to the master first, as a broker revokes a binding's user;
 * - key roles may connect only over SSL (pg_hba hostnossl … reject), as cloud.gov's RDS requires.
 *
 * The key's credentials are the broker's: uri, host, port (a string), db_name, name, username, password.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import type { DoubleInstance } from './cloud-foundry-double.js';

/** Every key role is a member of this group, which pg_hba lets in over SSL only. */
const KEY_GROUP = 'rds_key_users';

export interface RdsDatabase {
  name: string;
  /** The master role's URL (no SSL needed): for the test's own setup and checks. */
  masterUrl: string;
}

export interface RdsSession {
  user: string;
  database: string;
  application: string;
  /** pg_stat_activity's wait_event_type: 'Lock' while waiting for a lock. */
  waiting: string | null;
}

export interface RdsDouble {
  port: number;
  createDatabase(prefix: string): Promise<RdsDatabase>;
  /** A CF double instance whose keys are login roles on `database`. */
  instance(name: string, database: RdsDatabase, extra?: Partial<DoubleInstance>): DoubleInstance;
  /** Key roles that exist now. */
  keyRoles(): Promise<string[]>;
  /** Client sessions open now on `databases` (seen as the superuser sees them, whoever they belong to). */
  sessions(databases: string[]): Promise<RdsSession[]>;
  /** Every value a key handed out that is secret (username, password, uri). */
  secrets(): string[];
  /** The next key gets a wrong password (a key whose user the broker failed to set up). */
  breakNextKey(): void;
  stop(): Promise<void>;
}

async function withSuperuser<T>(cluster: PostgresCluster, database: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: cluster.urlFor(database) });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** Writes a file as the server's own user (the owner PostgreSQL insists on for its key file; this process may be root). */
async function writeServerFile(client: pg.Client, path: string, content: string): Promise<void> {
  const { rows } = await client.query<{ oid: number }>('SELECT lo_from_bytea(0, $1::bytea) AS oid', [Buffer.from(content)]);
  await client.query('SELECT lo_export($1, $2)', [rows[0]!.oid, path]);
  await client.query('SELECT lo_unlink($1)', [rows[0]!.oid]);
}

export async function startRdsDouble(): Promise<RdsDouble> {
  const cluster = await startPostgresCluster();
  const handedOut = new Set<string>();
  let breakNext = false;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-rds-cert-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=cg-aws-broker-prod.example.us-gov-west-1.rds.amazonaws.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
    await withSuperuser(cluster, 'postgres', async (c) => {
      const dataDir = (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]!.d;
      const hba = (await c.query<{ f: string }>("SELECT current_setting('hba_file') AS f")).rows[0]!.f;
      await writeServerFile(c, join(dataDir, 'rds.crt'), cert);
      await writeServerFile(c, join(dataDir, 'rds.key'), key);
      chmodSync(join(dataDir, 'rds.key'), 0o600); // lo_export leaves it world-readable, which the server refuses for a key
      await writeServerFile(
        c,
        hba,
        ['local all all trust', `hostnossl all +${KEY_GROUP} 127.0.0.1/32 reject`, 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
      );
      await c.query(`CREATE ROLE ${KEY_GROUP} NOLOGIN`);
      await c.query("ALTER SYSTEM SET ssl_cert_file = 'rds.crt'");
      await c.query("ALTER SYSTEM SET ssl_key_file = 'rds.key'");
      await c.query('ALTER SYSTEM SET ssl = on');
      await c.query('SELECT pg_reload_conf()');
    });
    // The reload is asynchronous: wait until the server takes an SSL connection.
    for (let i = 0; ; i++) {
      const probe = new pg.Client({ connectionString: `${cluster.url}?sslmode=no-verify` });
      const ok = await probe.connect().then(() => true, () => false);
      await probe.end().catch(() => undefined);
      if (ok) break;
      if (i > 100) throw new Error('PostgreSQL did not turn SSL on');
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  return {
    port: cluster.port,
    async createDatabase(prefix) {
      const suffix = randomBytes(4).toString('hex');
      const master = `${prefix}_master_${suffix}`;
      const name = `${prefix}_${suffix}`;
      const password = `M-${randomBytes(9).toString('hex')}`;
      await withSuperuser(cluster, 'postgres', async (c) => {
        await c.query(`CREATE ROLE ${master} LOGIN PASSWORD '${password}' NOSUPERUSER CREATEROLE`);
        await c.query(`CREATE DATABASE ${name} OWNER ${master}`);
      });
      return { name, masterUrl: cluster.urlFor(name, master, password) };
    },
    instance(name, database, extra = {}) {
      const master = new URL(database.masterUrl).username;
      return {
        name,
        async credentials() {
          const username = `u${randomBytes(6).toString('hex')}`;
          const password = `${randomBytes(12).toString('base64url')}-Kp`;
          await withSuperuser(cluster, 'postgres', (c) => c.query(`CREATE ROLE ${username} LOGIN PASSWORD '${password}' IN ROLE ${master}, ${KEY_GROUP}`));
          const given = breakNext ? `${password}-wrong` : password;
          breakNext = false;
          for (const secret of [username, password, given]) handedOut.add(secret);
          const port = String(cluster.port);
          const uri = `postgres://${username}:${encodeURIComponent(given)}@127.0.0.1:${port}/${database.name}`;
          handedOut.add(uri);
          return { db_name: database.name, host: '127.0.0.1', name: database.name, password: given, port, uri, username };
        },
        async revoke(credentials) {
          const username = String(credentials.username);
          await withSuperuser(cluster, database.name, async (c) => {
            await c.query(`REASSIGN OWNED BY ${username} TO ${master}`);
            await c.query(`DROP OWNED BY ${username}`);
            await c.query(`DROP ROLE ${username}`);
          });
        },
        ...extra,
      };
    },
    async keyRoles() {
      return withSuperuser(cluster, 'postgres', async (c) => {
        const { rows } = await c.query<{ name: string }>(
          `SELECT r.rolname AS name FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = '${KEY_GROUP}' ORDER BY 1`,
        );
        return rows.map((r) => r.name);
      });
    },
    async sessions(databases) {
      return withSuperuser(cluster, 'postgres', async (c) => {
        const { rows } = await c.query<RdsSession>(
          `SELECT usename AS user, datname AS database, application_name AS application, wait_event_type AS waiting FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = ANY($1) ORDER BY pid`,
          [databases],
        );
        return rows;
      });
    },
    secrets: () => [...handedOut],
    breakNextKey: () => {
      breakNext = true;
    },
    stop: () => cluster.stop(),
  };
}
