/**
 * No secret on a command line: every user of the machine can read /proc/<pid>/cmdline. While backup
 * and restore (both paths) run from their bundles, with the password given each supported way, every
 * process's command line is sampled, and the password must never appear in any form.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsEnv, bucketInputs, createBucket, postgresInfo, startStep, uniqueName, visibleOutput, withClient, type StepRun } from '../support/harness.js';

const core = randomBytes(8).toString('hex');
/** Characters that need percent-encoding in a URL, around a token that shows up in any form of it. */
const PASSWORD = `Pw:/@?#&%+ ${core}!`;
const percentEveryByte = (s: string) => [...Buffer.from(s)].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
const FORMS = [PASSWORD, encodeURIComponent(PASSWORD), percentEveryByte(PASSWORD), core, percentEveryByte(core)];

/** Samples every process's command line until stopped; returns the lines that held a form of the password, and the tools seen. */
function sampleCommandLines() {
  let running = true;
  const leaks = new Set<string>();
  const tools = new Set<string>();
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        let line: string;
        try {
          line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          continue; // the process ended between the listing and the read
        }
        const tool = /\b(pg_dump|pg_restore|psql)\b/.exec(line)?.[1];
        if (tool) tools.add(tool);
        if (FORMS.some((form) => line.includes(form))) leaks.add(line);
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { leaks: [...leaks], tools: [...tools] };
    },
  };
}

describe('no password on any command line', () => {
  const role = uniqueName('argv').replace(/-/g, '_');
  let source: string;
  let target: string;
  let bucket: string;
  const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));

  beforeAll(async () => {
    source = uniqueName('argv_src').replace(/-/g, '_');
    target = uniqueName('argv_dst').replace(/-/g, '_');
    await withClient(postgresInfo().url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
      await c.query(`CREATE DATABASE ${source} OWNER ${role}`);
      await c.query(`CREATE DATABASE ${target} OWNER ${role}`);
    });
    const superUrl = new URL(postgresInfo().url);
    superUrl.pathname = '/' + source;
    // Enough data that pg_dump, psql and pg_restore each run long enough to be sampled.
    await withClient(superUrl.toString(), async (c) => {
      await c.query(`SET ROLE ${role}`);
      await c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 8) AS body FROM generate_series(1, 150000) g`);
    });
    bucket = await createBucket();
  });
  afterAll(async () => undefined);

  const port = () => new URL(postgresInfo().url).port;
  const urls: [string, (db: string) => string][] = [
    ['in the URL', (db) => `postgres://${role}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port()}/${db}`],
    ['as ?password=', (db) => `postgres://${role}@127.0.0.1:${port()}/${db}?password=${encodeURIComponent(PASSWORD)}&sslmode=disable`],
    ['percent-encoded byte by byte', (db) => `postgres://${role}:${percentEveryByte(PASSWORD)}@127.0.0.1:${port()}/${db}`],
  ];

  async function sampled(bundle: string, inputs: Record<string, string>): Promise<{ run: StepRun; leaks: string[]; tools: string[] }> {
    const sampler = sampleCommandLines();
    const run = await startStep(bundle, inputs, {
      env: { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_WORKSPACE: workspace, GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '1' },
    }).done;
    return { run, ...(await sampler.stop()) };
  }

  it.each(urls)('password %s: backup, restore in one transaction and parallel restore', async (_how, urlFor) => {
    const backup = await sampled('backup', { space: 'dev', 'database-url': urlFor(source), ...bucketInputs(bucket) });
    expect(backup.run.stdout).not.toMatch(/::error::/);
    expect(backup.run.code).toBe(0);
    expect(backup.tools).toContain('pg_dump');
    expect(backup.leaks).toEqual([]);

    const restoreInputs = { 'source-space': 'dev', 'target-space': 'dev', 'database-url': urlFor(target), ...bucketInputs(bucket) };
    const transactional = await sampled('restore', restoreInputs);
    expect(transactional.run.stdout).not.toMatch(/::error::/);
    expect(transactional.run.outputs.method).toBe('transactional');
    expect(transactional.tools).toEqual(expect.arrayContaining(['psql', 'pg_restore']));
    expect(transactional.leaks).toEqual([]);

    const parallel = await sampled('restore', { ...restoreInputs, 'parallel-threshold-mb': '0', jobs: '2' });
    expect(parallel.run.stdout).not.toMatch(/::error::/);
    expect(parallel.run.outputs.method).not.toBe('transactional');
    expect(parallel.tools).toEqual(expect.arrayContaining(['pg_dump', 'pg_restore']));
    expect(parallel.leaks).toEqual([]);

    for (const { run } of [backup, transactional, parallel]) {
      const visible = visibleOutput(run);
      for (const form of FORMS) expect(visible).not.toContain(form);
    }
    const count = await withClient(urlFor(target), (c) => c.query<{ n: string }>('SELECT count(*) AS n FROM filler'));
    expect(count.rows[0]!.n).toBe('150000');
  });
});
