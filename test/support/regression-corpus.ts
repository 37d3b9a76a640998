/**
 * PostgreSQL's own regression database, built on the test cluster: the database pg_dump and
 * pg_upgrade are themselves tested on, written by nobody on this project. Its schedule (the
 * regression SQL of the installed server's source package, prepared by scripts/regression-corpus.sh)
 * runs through pg_regress against the test cluster once per test run; every later caller, in any
 * test process, gets the same database.
 *
 * Individual regression tests may fail here (locale, timing, a shared cluster): only the database
 * they leave behind matters, so failures are reported, not fatal. pg_regress itself failing is fatal.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, chownSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, dbUrl, postgresInfo, withClient } from './harness.js';
import pg from 'pg';

/** What scripts/regression-corpus.sh leaves in .cache/regression-corpus/corpus.json. */
interface CorpusFiles {
  package: string;
  version: string;
  major: number;
  pgRegress: string;
  inputDir: string;
  schedule: string;
  dlpath: string;
}

export interface RegressionDatabase {
  /** Superuser URL of the built database. Treat it as read-only: every test shares it. */
  url: string;
  database: string;
  /** e.g. postgresql-15 15.18-0+deb12u1 */
  source: string;
  /** The regression tests that failed while building (their result does not matter, only the database). */
  failedTests: string[];
  /** Seconds pg_regress took, when this process built it; 0 when it was already there. */
  buildSeconds: number;
}

/** The name pg_regress gives it (the regression SQL names it) and the name it has once complete. */
const BUILD_NAME = 'regression';
export const CORPUS_DATABASE = 'regression_corpus';
const SCRIPT = 'scripts/regression-corpus.sh';

export function corpusFiles(): CorpusFiles {
  const dir = process.env.LIFEBOAT_CORPUS_DIR ?? join(ROOT, '.cache', 'regression-corpus');
  const file = join(dir, 'corpus.json');
  if (!existsSync(file)) {
    throw new Error(`The regression corpus is missing (no ${file}). Prepare it with: ${SCRIPT} (needs root or sudo the first time; .ci/run runs it).`);
  }
  const files = JSON.parse(readFileSync(file, 'utf8')) as CorpusFiles;
  for (const path of [files.pgRegress, files.schedule, join(files.dlpath, 'regress.so')]) {
    if (!existsSync(path)) throw new Error(`The regression corpus is incomplete (${path} is missing). Prepare it again with: ${SCRIPT}`);
  }
  return files;
}

const runningAsRoot = process.getuid?.() === 0;

function runPgRegress(files: CorpusFiles, outputDir: string): Promise<{ code: number | null; output: string }> {
  const { port, password, binDir } = postgresInfo();
  const args = [
    `--inputdir=${files.inputDir}`,
    `--outputdir=${outputDir}`,
    `--bindir=${binDir}`,
    `--dlpath=${files.dlpath}`,
    `--schedule=${files.schedule}`,
    // The same concurrency as PostgreSQL's own `make installcheck-parallel`.
    '--max-concurrent-tests=20',
    '--host=127.0.0.1',
    `--port=${port}`,
    '--user=postgres',
    `--dbname=${BUILD_NAME}`,
  ];
  // The server, as the postgres user, writes COPY files into the output directory: run pg_regress as
  // that user too, so that everything in it belongs to one user.
  const [command, commandArgs] = runningAsRoot
    ? ['runuser', ['-u', 'postgres', '--', files.pgRegress, ...args]]
    : [files.pgRegress, args];
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      cwd: outputDir,
      env: { PATH: process.env.PATH, PGPASSWORD: password, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8'},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rowCount === 1;
}

/**
 * The regression database on the test cluster, built the first time any test asks for it. An
 * advisory lock makes concurrent test processes wait for one build; the finished database is renamed
 * to its final name, so its existence means it is complete.
 */
export async function regressionDatabase(log: (line: string) => void = () => undefined): Promise<RegressionDatabase> {
  const files = corpusFiles();
  const postgres = postgresInfo();
  if (files.major !== postgres.major) {
    throw new Error(
      `The regression corpus is for PostgreSQL ${files.major} but the test cluster runs ${postgres.major}. Prepare it again with: ${SCRIPT}`,
    );
  }
  const source = `${files.package} ${files.version}`;
  const lock = new pg.Client({ connectionString: postgres.url });
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtext('lifeboat regression corpus'))`);
    if (await databaseExists(lock, CORPUS_DATABASE)) {
      return { url: dbUrl(CORPUS_DATABASE), database: CORPUS_DATABASE, source, failedTests: [], buildSeconds: 0 };
    }
    const outputDir = mkdtempSync(join(tmpdir(), 'lifeboat-regress-'));
    if (runningAsRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(outputDir, uid, gid);
    }
    const started = Date.now();
    log(`Building the regression database from ${source} with pg_regress (parallel_schedule)…`);
    const { code, output } = await runPgRegress(files, outputDir);
    const buildSeconds = Math.round((Date.now() - started) / 100) / 10;
    // 0: every test passed; 1: some failed (expected here); anything else: pg_regress could not run.
    if (code !== 0 && code !== 1) {
      throw new Error(`pg_regress failed (exit ${code}); output in ${outputDir}:\n${output.slice(-4000)}`);
    }
    const failedTests = output
      .split('\n')
      .filter((line) => /\.\.\. FAILED|failed \(ignored\)/.test(line))
      .map((line) => line.replace(/^[\s+]*(test\s+)?/, '').replace(/\s+\.\.\..*$/, ''));
    log(
      `Built in ${buildSeconds} s; ${failedTests.length} regression tests failed (${failedTests.join(', ') || 'none'})` +
        (failedTests.length > 0 ? `: their differences are in ${join(outputDir, 'regression.diffs')}.` : '.'),
    );
    await withClient(postgres.url, async (client) => {
      // pg_regress's sessions may still be closing.
      for (let attempt = 0; ; attempt++) {
        try {
          await client.query(`ALTER DATABASE ${BUILD_NAME} RENAME TO ${CORPUS_DATABASE}`);
          return;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    });
    if (failedTests.length === 0) rmSync(outputDir, { recursive: true, force: true });
    return { url: dbUrl(CORPUS_DATABASE), database: CORPUS_DATABASE, source, failedTests, buildSeconds };
  } finally {
    await lock.end();
  }
}
