/**
 * sslmode means the same to Lifeboat's node-postgres connections as to pg_dump/psql (libpq), against
 * a real PostgreSQL that accepts only TLS (self-signed certificate for "localhost") and the shared
 * test cluster, which has no TLS at all.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectOrExplain, libpqEnv, parseDatabaseUrl } from '../../src/engine/postgres/connection.js';
import { LifeboatError } from '../../src/engine/errors.js';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { postgresInfo } from '../support/harness.js';

const execFileAsync = promisify(execFile);
const SSL_QUERY = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

let cluster: PostgresCluster;
let scratch: string;
let otherCa: string;

beforeAll(async () => {
  cluster = await startPostgresCluster({ ssl: { hostName: 'localhost' } });
  scratch = mkdtempSync(join(tmpdir(), 'lifeboat-ssl-'));
  otherCa = join(scratch, 'other.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(scratch, 'other.key'), '-out', otherCa], {
    stdio: 'pipe',
  });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function url(query: string, host = '127.0.0.1', base = cluster): string {
  return `postgres://postgres:${encodeURIComponent(base.password)}@${host}:${base.port}/postgres?${query}`;
}

/** Through Lifeboat's node-postgres connection: whether the session is encrypted, or the error. */
async function viaPg(text: string): Promise<boolean | Error> {
  try {
    const client = await connectOrExplain(parseDatabaseUrl(text));
    const { rows } = await client.query<{ ssl: boolean }>(SSL_QUERY);
    await client.end();
    return rows[0]!.ssl;
  } catch (error) {
    return error as Error;
  }
}

/** Through psql (libpq), with the connection in its environment as Lifeboat gives it. */
async function viaPsql(text: string): Promise<boolean | Error> {
  try {
    const { stdout } = await execFileAsync('psql', ['-X', '-At', '-c', SSL_QUERY], { env: { ...libpqEnv(parseDatabaseUrl(text), 'lifeboat-test'), HOME: scratch } });
    return stdout.trim() === 't';
  } catch (error) {
    return error as Error;
  }
}

async function both(text: string): Promise<[boolean | Error, boolean | Error]> {
  return [await viaPg(text), await viaPsql(text)];
}

describe('a TLS-only server with a self-signed certificate for localhost', () => {
  it('require: encrypted and not verified, for node-postgres as for libpq', async () => {
    expect(await both(url('sslmode=require'))).toEqual([true, true]);
  });

  it("node-postgres on its own would read that URL as full verification (which is why Lifeboat gives pg its own ssl)", async () => {
    const raw = new pg.Client({ connectionString: url('sslmode=require') });
    await expect(raw.connect()).rejects.toThrow(/self-signed certificate/);
    await raw.end().catch(() => undefined);
  });

  it('disable: refused by pg_hba.conf (hostssl only), by both', async () => {
    const [pgResult, psqlResult] = await both(url('sslmode=disable'));
    expect(pgResult).toBeInstanceOf(LifeboatError);
    expect((pgResult as Error).message).toMatch(/no pg_hba\.conf entry.*no encryption/);
    expect((pgResult as Error).message).toContain('sslmode=require or stricter');
    expect(String((psqlResult as { stderr?: string }).stderr)).toMatch(/no pg_hba\.conf entry.*no encryption/);
  });

  it('allow: the plain attempt is refused, then TLS; prefer: TLS', async () => {
    expect(await both(url('sslmode=allow'))).toEqual([true, true]);
    expect(await both(url('sslmode=prefer'))).toEqual([true, true]);
    // No sslmode at all is prefer, as in libpq.
    expect(await both(url(''))).toEqual([true, true]);
  });

  it('verify-ca checks the chain, not the host name', async () => {
    expect(await both(url(`sslmode=verify-ca&sslrootcert=${cluster.certificate}`))).toEqual([true, true]);
    const [pgResult, psqlResult] = await both(url(`sslmode=verify-ca&sslrootcert=${otherCa}`));
    expect((pgResult as Error).message).toMatch(/self-signed certificate|certificate/);
    expect(String((psqlResult as { stderr?: string }).stderr)).toMatch(/certificate verify failed/);
  });

  it('require with a root certificate verifies the chain, as libpq does', async () => {
    expect(await both(url(`sslmode=require&sslrootcert=${cluster.certificate}`))).toEqual([true, true]);
    const [pgResult, psqlResult] = await both(url(`sslmode=require&sslrootcert=${otherCa}`));
    expect(pgResult).toBeInstanceOf(Error);
    expect(psqlResult).toBeInstanceOf(Error);
  });

  it('verify-full checks the host name too', async () => {
    expect(await both(url(`sslmode=verify-full&sslrootcert=${cluster.certificate}`, 'localhost'))).toEqual([true, true]);
    const [pgResult, psqlResult] = await both(url(`sslmode=verify-full&sslrootcert=${cluster.certificate}`, '127.0.0.1'));
    expect((pgResult as Error).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*sslrootcert=<file>/);
    expect(String((psqlResult as { stderr?: string }).stderr)).toMatch(/does not match host name|server certificate for "localhost"/);
  });

  it('verify-ca without a root certificate is refused with the fix, as libpq refuses it', async () => {
    const [pgResult, psqlResult] = await both(url('sslmode=verify-ca'));
    expect(pgResult).toBeInstanceOf(LifeboatError);
    expect((pgResult as Error).message).toContain('names no root certificate: add sslrootcert=');
    expect(String((psqlResult as { stderr?: string }).stderr)).toMatch(/root certificate file .* does not exist/);
  });

  it('sslrootcert=system only with verify-full, as libpq 16+', async () => {
    expect(() => parseDatabaseUrl(url('sslmode=require&sslrootcert=system'))).not.toThrow();
    const result = await viaPg(url('sslmode=require&sslrootcert=system'));
    expect((result as Error).message).toContain('sslrootcert=system with sslmode=require; libpq allows sslrootcert=system only with sslmode=verify-full');
  });

  it('an unknown sslmode is refused when the URL is read', () => {
    expect(() => parseDatabaseUrl(url('sslmode=no-verify'))).toThrow("Input 'database-url' has sslmode=no-verify, which is not an SSL mode");
  });
});

describe('a server without TLS (the shared test cluster)', () => {
  const plain = () => ({ ...postgresInfo(), certificate: undefined }) as unknown as PostgresCluster;

  it('prefer (and no sslmode) falls back to a plain connection', async () => {
    expect(await both(url('sslmode=prefer', '127.0.0.1', plain()))).toEqual([false, false]);
    expect(await both(url('', '127.0.0.1', plain()))).toEqual([false, false]);
  });

  it('require fails, saying the server offers no TLS', async () => {
    const [pgResult, psqlResult] = await both(url('sslmode=require', '127.0.0.1', plain()));
    expect((pgResult as Error).message).toContain("The URL's sslmode requires TLS and this server offers none");
    expect(String((psqlResult as { stderr?: string }).stderr)).toMatch(/server does not support SSL/);
  });
});
