/**
 * Restore's central promise, tested the hard way: the target ends fully restored or exactly as it was
 * (compared as a full pg_dump with data, large objects, owners and grants), whatever the backup holds
 * and however the restore ends: a failure after the large-object data, a failure in post-data, a
 * byte changed in transit, SIGKILL / SIGTERM / SIGINT during a COPY (action bundle and CLI), a disk too
 * small for the archive. And a restore repeated gives the same target every time.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/domain/manifest.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests } from '../support/compare.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { startGitHubApiDouble, type GitHubApiDouble } from '../support/github-api-double.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, getObjectBytes, ROOT, s3Client, s3Info, startStep, uniqueName, withClient } from '../support/harness.js';
import {
  backupWithEngine,
  createOwnedDatabase,
  everything,
  failureOf,
  restoreBundle,
  waitForNoRestoreSessions,
} from '../support/restore-steps.js';

const PARALLEL = { jobs: '2', 'parallel-threshold-mb': '0' };
const PATHS = [
  ['one transaction', {}],
  ['parallel', PARALLEL],
] as const;

/** A sample app plus a large object, as the regression database and many applications have. */
async function sourceWithLargeObject(): Promise<string> {
  const source = await createDatabase('production');
  await createSampleApp(source);
  await withClient(source, (c) => c.query(`SELECT lo_from_bytea(0, convert_to(repeat('large object data ', 5000), 'UTF8'))`));
  return source;
}

/** A staging target with its own data and its own large object. */
async function stagingTarget(url?: string): Promise<string> {
  const target = url ?? (await createDatabase('staging'));
  await createSampleApp(target, 2);
  await withClient(target, async (c) => {
    await c.query(`DELETE FROM audit.events WHERE id % 3 = 0`);
    await c.query(`SELECT lo_from_bytea(0, convert_to('staging''s own large object', 'UTF8'))`);
  });
  return target;
}

async function editManifest(bucket: string, manifest: Manifest, edit: (m: Manifest) => void): Promise<void> {
  const key = `backups/production/${manifest.id}/manifest.json`;
  const edited: Manifest = JSON.parse((await getObjectBytes(bucket, key)).toString('utf8'));
  edit(edited);
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(edited) }));
}

describe('a failure after the large-object data leaves the target exactly as it was', () => {
  it.each(PATHS)('%s: the row-count check fails after the large objects were written', async (_path, extra) => {
    const source = await sourceWithLargeObject();
    const bucket = await createBucket();
    const manifest = await backupWithEngine(source, bucket, 'production');
    await editManifest(bucket, manifest, (m) => {
      m.database.tables = m.database.tables!.map((t) => (t.table === 'events' ? { ...t, rows: t.rows + 1 } : t));
    });
    const target = await stagingTarget();
    const before = everything(target);

    const run = await restoreBundle({ 'database-url': target, ...extra }, bucket);
    expect(run.code).toBe(1);
    expect(failureOf(run)).toMatch(/audit\.events has 200 rows, the backup recorded 201/);
    // psql never saw a transaction end early: no "there is already a transaction in progress".
    expect(run.everything).not.toMatch(/already a transaction in progress|no transaction in progress/);
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });

  it.each(PATHS)('%s: post-data fails for a non-superuser (a FOR ALL TABLES publication), named with its entry and the fix', async (path, extra) => {
    const source = await sourceWithLargeObject();
    await withClient(source, (c) => c.query(`CREATE PUBLICATION everything_pub FOR ALL TABLES`));
    const bucket = await createBucket();
    await backupWithEngine(source, bucket, 'production');
    const { url: target } = await createOwnedDatabase('staging');
    await stagingTarget(target);
    const before = everything(target);

    const run = await restoreBundle({ 'database-url': target, ...extra }, bucket);
    expect(run.code).toBe(1);
    const message = failureOf(run);
    if (path === 'one transaction') {
      expect(message).toMatch(/PostgreSQL refused a statement while restoring PUBLICATION everything_pub .*must be superuser/);
      expect(message).toMatch(/SQLSTATE 42501/);
      expect(message).toMatch(/lacks a privilege/);
      expect(message).toMatch(/rolled back; the target is as it was/);
    } else {
      expect(message).toMatch(/everything_pub/);
      expect(message).toMatch(/rolled back to the pre-restore backup \S+-pre-restore-/);
    }
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });
});

describe('restoring the same backup again gives the same target', () => {
  it.each(PATHS)('%s: three restores in a row, each equal to a restore into a fresh database', async (_path, extra) => {
    const source = await sourceWithLargeObject();
    const bucket = await createBucket();
    await backupWithEngine(source, bucket, 'production');
    const fresh = await createDatabase('fresh');
    expect(failureOf(await restoreBundle({ 'database-url': fresh, ...extra }, bucket))).toBe('');
    const expected = everything(fresh);
    expect(await tableDigests(fresh)).toEqual(await tableDigests(source));

    const target = await stagingTarget();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const run = await restoreBundle({ 'database-url': target, ...extra }, bucket);
      expect(failureOf(run), `restore ${attempt}`).toBe('');
      expect(everything(target), `restore ${attempt}`).toBe(expected);
    }
  });
});

describe('decompression: the zstd command, or in-process', () => {
  it('both give the same target; the command is used when installed, in-process with LIFEBOAT_DECOMPRESS=node', async () => {
    const source = await sourceWithLargeObject();
    const bucket = await createBucket();
    await backupWithEngine(source, bucket, 'production');
    const byCommand = await createDatabase('fresh');
    const commandRun = await restoreBundle({ 'database-url': byCommand }, bucket);
    expect(failureOf(commandRun)).toBe('');
    expect(commandRun.everything).toMatch(/The archive is decompressed by \S*zstd, straight into pg_restore\./);
    const inProcess = await createDatabase('fresh');
    const nodeRun = await restoreBundle({ 'database-url': inProcess }, bucket, { LIFEBOAT_DECOMPRESS: 'node' });
    expect(failureOf(nodeRun)).toBe('');
    expect(nodeRun.everything).toMatch(/The archive is decompressed in-process \(zstd\)\./);
    expect(everything(inProcess)).toBe(everything(byCommand));
    expect(await tableDigests(byCommand)).toEqual(await tableDigests(source));
  });
});

describe('the archive is checked as it is applied', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(s3Info().endpoint);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('a byte changed between the verification pass and the apply pass rolls back on the SHA-256, not on a format error', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const marker = 'lifeboat-in-flight-marker-aaaa';
    await withClient(source, (c) => c.query(`INSERT INTO app.organizations (name, contact_email) VALUES ($1, 'x@example.org')`, [marker]));
    const bucket = await createBucket();
    // Uncompressed, so the changed byte stays a valid archive that pg_restore applies without complaint.
    const manifest = await backupWithEngine(source, bucket, 'production', { compression: 'none' });
    const key = manifest.artifacts[0]!.key;
    const offset = (await getObjectBytes(bucket, key)).indexOf(marker) + marker.length - 1;
    expect(offset).toBeGreaterThan(0);
    // GETs 1 and 2 are the verification pass and pg_restore's table-of-contents read (side by side, in
    // either order); every later GET of the archive, the apply pass, gets the changed byte.
    let gets = 0;
    const flip: Fault = {
      match: (r) => r.method === 'GET' && decodeURIComponent(r.url.split('?')[0]!).endsWith(`/${key}`) && ++gets >= 3,
      alterResponseBody: (body) => {
        const changed = Buffer.from(body);
        changed[offset] = changed[offset]! ^ 0x01;
        return changed;
      },
    };
    proxy.faults.push(flip);

    const target = await stagingTarget();
    const before = everything(target);
    const run = await restoreBundle({ 'database-url': target, 's3-endpoint': proxy.endpoint }, bucket);
    expect(flip.hits).toBeGreaterThanOrEqual(1);
    expect(run.code).toBe(1);
    const message = failureOf(run);
    expect(message).toMatch(/The archive's SHA-256 while it was applied was [0-9a-f]{64}, but the manifest records [0-9a-f]{64}/);
    expect(message).not.toMatch(/bytes of the archive were read|after decompression where/);
    expect(message).toMatch(/rolled back; the target is as it was/);
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });

  it.each([
    ['a table the backup did not have', (m: Manifest) => (m.database.tables = m.database.tables!.filter((t) => t.table !== 'organizations')), /app\.organizations is in the target but not in the backup/],
    ['a table the backup had that is missing', (m: Manifest) => m.database.tables!.push({ schema: 'app', table: 'vanished', rows: 3 }), /app\.vanished is missing from the target/],
  ] as const)('the row-count check fails on %s, and rolls back', async (_case, edit, expected) => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    const manifest = await backupWithEngine(source, bucket, 'production');
    await editManifest(bucket, manifest, edit);
    const target = await stagingTarget();
    const before = everything(target);
    const run = await restoreBundle({ 'database-url': target }, bucket);
    expect(run.code).toBe(1);
    expect(failureOf(run)).toMatch(expected);
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });
});

describe('row counts in the one transaction come from the server\'s own counters', () => {
  /** A sample app plus an inheritance tree: count(*) on the parent, as the backup records it, includes the child's rows. */
  async function sourceWithInheritance(): Promise<string> {
    const source = await createDatabase('production');
    await createSampleApp(source);
    await withClient(source, (c) =>
      c.query(`CREATE TABLE app.parent (id int); CREATE TABLE app.child (note text) INHERITS (app.parent);
               INSERT INTO app.parent SELECT generate_series(1, 5); INSERT INTO app.child SELECT g, 'n' FROM generate_series(1, 7) g;`),
    );
    return source;
  }

  it('counts a parent with its inheritance children, as count(*) does', async () => {
    const source = await sourceWithInheritance();
    const bucket = await createBucket();
    const manifest = await backupWithEngine(source, bucket, 'production');
    expect(manifest.database.tables).toEqual(expect.arrayContaining([{ schema: 'app', table: 'parent', rows: 12 }, { schema: 'app', table: 'child', rows: 7 }]));
    const target = await stagingTarget();
    const run = await restoreBundle({ 'database-url': target }, bucket);
    expect(failureOf(run)).toBe('');
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
  });

  it('with track_counts off the rows are counted by scanning: a good backup restores, a wrong count still rolls back', async () => {
    const source = await sourceWithInheritance();
    const bucket = await createBucket();
    const manifest = await backupWithEngine(source, bucket, 'production');
    const target = await stagingTarget();
    const database = new URL(target).pathname.slice(1);
    await withClient(target, (c) => c.query(`ALTER DATABASE "${database}" SET track_counts = off`));

    expect(failureOf(await restoreBundle({ 'database-url': target }, bucket))).toBe('');
    expect(await tableDigests(target)).toEqual(await tableDigests(source));

    await editManifest(bucket, manifest, (m) => {
      m.database.tables = m.database.tables!.map((t) => (t.table === 'parent' ? { ...t, rows: t.rows + 1 } : t));
    });
    const before = everything(target);
    const run = await restoreBundle({ 'database-url': target }, bucket);
    expect(run.code).toBe(1);
    expect(failureOf(run)).toMatch(/app\.parent has 12 rows, the backup recorded 13/);
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });
});

describe('privileges: drop or keep', () => {
  it('drop restores no grants; keep restores grants to roles the target has and lists the ones it skipped', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const reader = uniqueName('reporting').replace(/-/g, '_');
    const ghost = uniqueName('ghost').replace(/-/g, '_');
    await withClient(source, async (c) => {
      await c.query(`CREATE ROLE ${reader} NOLOGIN; CREATE ROLE ${ghost} NOLOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA app TO ${reader}; GRANT SELECT ON ALL TABLES IN SCHEMA app TO ${reader}`);
      await c.query(`GRANT SELECT ON app.organizations TO ${ghost}`);
    });
    const bucket = await createBucket();
    await backupWithEngine(source, bucket, 'production');
    // The ghost role exists where the backup was made, not where it is restored.
    await withClient(source, (c) => c.query(`REVOKE ALL ON app.organizations FROM ${ghost}; DROP ROLE ${ghost}`));

    const canRead = (url: string) =>
      withClient(url, async (c) => (await c.query<{ ok: boolean }>(`SELECT has_table_privilege('${reader}', 'app.submissions', 'SELECT') AS ok`)).rows[0]!.ok);

    const dropTarget = await stagingTarget();
    const dropped = await restoreBundle({ 'database-url': dropTarget }, bucket);
    expect(failureOf(dropped)).toBe('');
    expect(await canRead(dropTarget)).toBe(false);
    expect(dropped.summary).toContain('Privileges: **drop**');

    const keepTarget = await stagingTarget();
    const kept = await restoreBundle({ 'database-url': keepTarget, privileges: 'keep' }, bucket);
    expect(failureOf(kept)).toBe('');
    expect(await canRead(keepTarget)).toBe(true);
    expect(kept.summary).toContain('Privileges: **keep**');
    expect(kept.summary).toMatch(new RegExp(`1 grant\\(s\\) skipped: the target lacks their roles[\\s\\S]*GRANT SELECT ON TABLE app\\.organizations TO ${ghost}[\\s\\S]*role '${ghost}' does not exist in the target`));
    expect(await tableDigests(keepTarget)).toEqual(await tableDigests(source));
  });

  it('refuses an unknown privileges value, naming the input', async () => {
    const run = await restoreBundle({ 'database-url': await createDatabase('staging'), privileges: 'all' }, await createBucket());
    expect(run.code).toBe(1);
    expect(failureOf(run)).toMatch(/'privileges'.*drop.*keep/);
  });
});

describe('killed or cancelled during a COPY, a restore leaves the target as it was', () => {
  let bucket: string;
  let github: GitHubApiDouble;
  let policyFile: string;
  const token = 'ghp_killTestAdminToken0000000001';

  beforeAll(async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    // Enough rows that the COPY lasts well over a second.
    await withClient(source, (c) =>
      c.query(`CREATE TABLE app.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body FROM generate_series(1, 800000) g`),
    );
    bucket = await createBucket();
    await backupWithEngine(source, bucket, 'production');
    github = await startGitHubApiDouble({ teams: { 'acme/db-admins': { alice: 'active' } }, tokens: { [token]: { login: 'alice', readOrg: true } } });
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-policy-'));
    policyFile = join(dir, 'lifeboat.yml');
    writeFileSync(policyFile, 'admin-team: acme/db-admins\n');
  }, 300_000);
  afterAll(async () => {
    await github?.close();
  });

  /** Polls until the restore's session is copying rows into the target. */
  async function waitForCopy(target: string): Promise<void> {
    const database = decodeURIComponent(new URL(target).pathname.slice(1));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { rows } = await withClient(target, (c) =>
        c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lifeboat-restore' AND query LIKE 'COPY app.bulk%'`, [database]),
      );
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the restore never reached the COPY');
  }

  /** Processes still running with this marker in their environment (children of the killed restore). */
  function processesMarked(marker: string): number[] {
    const found: number[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker)) found.push(Number(pid));
      } catch {
        // Gone already, or not ours to read.
      }
    }
    return found;
  }

  it.each([
    ['action', 'SIGKILL', 'one transaction'],
    ['action', 'SIGTERM', 'one transaction'],
    ['action', 'SIGINT', 'one transaction'],
    ['cli', 'SIGTERM', 'one transaction'],
    ['cli', 'SIGINT', 'one transaction'],
    ['cli', 'SIGKILL', 'one transaction'],
    // The parallel path after SIGKILL is put back by the next run: restore-journal.test.ts.
    ['action', 'SIGTERM', 'parallel'],
    ['cli', 'SIGINT', 'parallel'],
  ] as const)('%s, %s, %s', async (how, signal, path) => {
    const parallel = path === 'parallel';
    const target = await stagingTarget();
    const before = everything(target);
    const marker = `LIFEBOAT_TEST_RUN=${uniqueName('kill')}`;
    const [markerName, markerValue] = marker.split('=') as [string, string];

    let done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
    let kill: (s: NodeJS.Signals) => void;
    if (how === 'action') {
      const step = startStep('restore', { 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...bucketInputs(bucket), ...(parallel ? PARALLEL : {}) }, {
        env: { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', [markerName]: markerValue },
      });
      kill = (s) => step.child.kill(s);
      done = step.done.then((r) => ({ code: r.code, signal: step.child.signalCode, output: r.everything }));
    } else {
      const child = spawn(
        process.execPath,
        [join(ROOT, 'dist', 'cli', 'index.js'), 'restore', '--source-space', 'production', '--target-space', 'staging', '--policy-file', policyFile,
          '--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint, '--s3-region', s3Info().region,
          ...(parallel ? ['--jobs', '2', '--parallel-threshold-mb', '0'] : [])],
        {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...awsEnv(), LIFEBOAT_DATABASE_URL: target, LIFEBOAT_GITHUB_TOKEN: token, GITHUB_API_URL: github.url, [markerName]: markerValue },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      kill = (s) => child.kill(s);
      done = new Promise((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig, output })));
    }

    await waitForCopy(target);
    kill(signal);
    const result = await done;
    if (signal === 'SIGKILL') {
      expect(result.signal).toBe('SIGKILL');
    } else {
      // The action fails the step (1); the CLI exits as a shell expects after the signal (128 + its number).
      expect(result.code).toBe(how === 'action' ? 1 : 128 + (signal === 'SIGINT' ? 2 : 15));
      expect(result.output).toMatch(new RegExp(`cancelled \\(${signal}\\)`));
      expect(result.output).toMatch(parallel ? /rolled back to the pre-restore backup \S+-pre-restore-\S+, taken just before the restore: it is as it was/ : /rolled back; the target is as it was/);
    }
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
    // Nothing the restore started is left running: psql and pg_restore end with their pipes.
    const deadline = Date.now() + 10_000;
    while (processesMarked(marker).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(processesMarked(marker)).toEqual([]);
  });
});

describe('restore at any size: no local disk on the default path', () => {
  it('restores a dump several times larger than a 32 MiB temp directory; the parallel path refuses before touching the target', async () => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    await withClient(source, (c) =>
      c.query(`CREATE TABLE app.bulk AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) || md5((g * 5)::text) AS body FROM generate_series(1, 1000000) g`),
    );
    const bucket = await createBucket();
    const manifest = await backupWithEngine(source, bucket, 'production');
    expect(manifest.artifacts[0]!.uncompressedSize).toBeGreaterThan(3 * 32 * 1024 * 1024);

    const small = mkdtempSync(join(tmpdir(), 'lifeboat-tight-'));
    mkdirSync(small, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', small]);
    try {
      const env = { RUNNER_TEMP: small, TMPDIR: small };
      const target = await stagingTarget();
      const run = await restoreBundle({ 'database-url': target }, bucket, env);
      expect(failureOf(run)).toBe('');
      expect(await tableDigests(target)).toEqual(await tableDigests(source));

      const other = await stagingTarget();
      const before = everything(other);
      const refused = await restoreBundle({ 'database-url': other, ...PARALLEL }, bucket, env);
      expect(refused.code).toBe(1);
      const message = failureOf(refused);
      expect(message).toMatch(new RegExp(`needs the decompressed archive on local disk: .*\\(\\d+ bytes, with a margin\\) in ${small}`));
      expect(message).toMatch(/Set 'jobs: 1'/);
      expect(message).toMatch(/RUNNER_TEMP on a larger volume/);
      expect(everything(other)).toBe(before);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});

describe('the restore session itself: no end of input ever commits', () => {
  async function feedAndClose(target: string, script: string): Promise<number | null> {
    const { libpqEnv, parseDatabaseUrl } = await import('../../src/engine/postgres/connection.js');
    const { restoreSessionArgs, transactionPreamble } = await import('../../src/engine/restore/apply.js');
    const { wipeSql } = await import('../../src/engine/restore/sql.js');
    const connection = parseDatabaseUrl(target);
    const psql = spawn('psql', restoreSessionArgs(connection), { env: libpqEnv(connection, 'lifeboat-restore'), stdio: ['pipe', 'ignore', 'ignore'] });
    // The parent dies mid-COPY: psql's input just ends, after a row that is valid on its own.
    psql.stdin.end(transactionPreamble() + wipeSql() + script);
    return new Promise((resolve) => psql.on('close', (code) => resolve(code)));
  }

  it('input that ends in the middle of a COPY rolls back the wipe and the rows', async () => {
    const target = await stagingTarget();
    const before = everything(target);
    await feedAndClose(target, 'CREATE TABLE public.half (id int, body text);\nCOPY public.half (id, body) FROM stdin;\n1\tcomplete row\n2\tcut sho');
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });

  it("a COMMIT inside the script is refused by the commit guard and rolls everything back", async () => {
    const target = await stagingTarget();
    const before = everything(target);
    const code = await feedAndClose(target, 'CREATE TABLE public.early (id int);\nCOMMIT;\nCREATE TABLE public.after_commit (id int);\n');
    expect(code).not.toBe(0);
    await waitForNoRestoreSessions(target);
    expect(everything(target)).toBe(before);
  });
});
