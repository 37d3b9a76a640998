/**
 * The benchmark: Lifeboat against what people do by hand, on a generated, realistic database and media
 * bucket, on this machine. See docs/benchmark.md.
 *
 *   npm run bench [-- --size 1GB --media-objects 10000 --media-large 4 --media-scale-objects 100000 --backups 1000 --jobs 2]
 *
 * Starts its own PostgreSQL cluster and S3 server (s3rver), generates the data, runs every contender in
 * a child process of its own (scripts/bench/worker.ts, bundled and run with plain Node as the actions
 * are), and writes a markdown table to stdout and everything to bench-results/latest.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import pg from 'pg';
import { formatBackupId } from '../src/domain/backup-id.js';
import { serializeManifest, type Manifest } from '../src/domain/manifest.js';
import { createS3Client } from '../src/engine/s3/client.js';
import { BackupStore } from '../src/engine/s3/store.js';
import { startPostgresCluster, type PostgresCluster } from '../src/sandbox/postgres-cluster.js';
import { BYTES_PER_UNIT, generateDatabase, generateSmallDatabase, planMedia, putMediaObjects } from './bench/dataset.js';
import { countStored, planScale, rewriteThroughApi, scaleModel, seedDirectly, spreadSample, verifyThroughApi, writtenSince, type WrittenSince } from './bench/media-scale.js';
import { runMeasured, type Measured } from './bench/measure.js';
import { markdownReport, mib, seconds, type BenchResults, type MediaScaleInfo, type MediaScaleRun, type Measurement, type TargetResult } from './bench/report.js';
import type { Job, S3Target } from './bench/worker.js';

const ROOT = resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB)?$/i.exec(text.trim());
  if (!match) throw new Error(`--size '${text}' is not a size such as 512MB or 1GB.`);
  const unit = (match[2] ?? 'MB').toUpperCase()[0]!;
  const factor = unit === 'G' ? 1024 ** 3 : unit === 'M' ? MiB : unit === 'K' ? 1024 : 1;
  return Math.round(Number(match[1]) * factor);
}

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1GB' },
    'media-objects': { type: 'string', default: '10000' },
    'media-large': { type: 'string', default: '4' },
    'media-scale-objects': { type: 'string', default: '100000' },
    'media-scale-small': { type: 'string' },
    backups: { type: 'string', default: '1000' },
    jobs: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
    skip: { type: 'string', default: '' },
    out: { type: 'string', default: 'bench-results/latest.json' },
    markdown: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --size 1GB             table data to generate (heap, TOAST and indexes); e.g. 2MB, 512MB, 4GB
  --media-objects 10000  small objects in the media bucket (1 to 64 KiB)
  --media-large 4        large objects in the media bucket (12 to 40 MiB)
  --media-scale-objects 100000
                         small uploads (200 B to 2 KiB) in the media-scale group's bucket, seeded straight into s3rver's storage
  --media-scale-small N  a second, smaller media-scale run, for the cost per object (default: a tenth; 0: none)
  --backups 1000         backups in the bucket for list and prune
  --jobs 2               jobs for the parallel restore and the parallel dump
  --repeat 3             runs of the quick measurements (listings, unchanged incremental) and of the plain and encrypted Lifeboat backup and restore, in turns; the median is reported
  --skip a,b             skip groups: backup, parallel-dump, restore, media, media-scale, catalog, diagnostics
                         (with backup, parallel-dump, restore and diagnostics all skipped, the database is the smallest: 1 MB)
  --out FILE             the JSON results (default bench-results/latest.json); a .md beside it gets the tables
  --quiet                no progress on stderr
`);
  process.exit(0);
}

const sizeBytes = parseSize(args.size!);
const mediaObjects = Number(args['media-objects']);
const mediaLarge = Number(args['media-large']);
const mediaScaleObjects = Number(args['media-scale-objects']);
const mediaScaleSmall = args['media-scale-small'] === undefined ? Math.floor(mediaScaleObjects / 10) : Number(args['media-scale-small']);
const backupCount = Number(args.backups);
const jobs = Number(args.jobs);
const repeat = Math.max(1, Number(args.repeat));
const skip = new Set(args.skip!.split(',').map((s) => s.trim()).filter(Boolean));
for (const [name, value] of Object.entries({ 'media-objects': mediaObjects, 'media-large': mediaLarge, 'media-scale-objects': mediaScaleObjects, 'media-scale-small': mediaScaleSmall, backups: backupCount, jobs, repeat })) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number.`);
}
if (!skip.has('media-scale') && mediaScaleObjects < 100) throw new Error(`--media-scale-objects is ${mediaScaleObjects}; use at least 100 (1% of them are rewritten), or --skip media-scale.`);
if (!skip.has('media-scale') && mediaScaleSmall >= mediaScaleObjects) {
  throw new Error(`--media-scale-small (${mediaScaleSmall}) must be below --media-scale-objects (${mediaScaleObjects}); use 0 for no second size.`);
}
const KNOWN_GROUPS = ['backup', 'parallel-dump', 'restore', 'media', 'media-scale', 'catalog', 'diagnostics'];
for (const group of skip) if (!KNOWN_GROUPS.includes(group)) throw new Error(`--skip names '${group}', which is not a group; the groups are ${KNOWN_GROUPS.join(', ')}.`);
/** The generated database at --size is only for these groups; the others use small databases of their own. */
const needsDatabase = ['backup', 'parallel-dump', 'restore', 'diagnostics'].some((group) => !skip.has(group));
if (backupCount < 1 || jobs < 1) throw new Error('--backups and --jobs must be at least 1.');

const progress = (line: string) => {
  if (!args.quiet) process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function buildWorker(outDir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(outDir, 'worker.mjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'scripts/bench/worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outfile,
    external: ['pg-native'],
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

async function startS3Child(): Promise<{ target: S3Target; child: ChildProcess; directory: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/s3-child.ts')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolveLine, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      rl.close();
      resolveLine(l);
    });
    child.once('exit', (code) => reject(new Error(`the S3 server exited with ${code}`)));
  });
  const info = JSON.parse(line) as S3Target & { directory: string };
  return { target: { endpoint: info.endpoint, region: info.region, accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey }, child, directory: info.directory };
}

async function stopS3Child(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdin?.end();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Throwaway keys for the encrypted rows (docs/encryption.md), made for this run and never stored: an age
 * X25519 identity (what `age-keygen` makes) and an Ed25519 signing key (what `openssl genpkey -algorithm
 * ed25519` makes), as the inputs a workflow would give the backup and the restore.
 */
async function throwawayKeys(): Promise<{ backup: Record<string, string>; restore: Record<string, string> }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    backup: { 'encryption-recipients': recipient, 'signing-key': privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    restore: { 'encryption-identity': identity, 'signing-public-keys': publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  };
}

async function main() {
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  const controlDir = join(work, 'control');
  mkdirSync(controlDir);
  const outFile = resolve(ROOT, args.out!);
  mkdirSync(resolve(outFile, '..'), { recursive: true });

  progress(`bundling the worker; working directory ${work}`);
  const worker = await buildWorker(join(work, 'build'));
  let tempCounter = 0;
  /** Runs one job in its own empty temp dir (given to `build` for the files it writes) and removes the dir after. */
  const measure = async (build: Job | ((tempDir: string) => Job), label: string): Promise<Measured> => {
    const tempDir = join(work, 'tmp', String(++tempCounter));
    mkdirSync(tempDir, { recursive: true });
    const job = typeof build === 'function' ? build(tempDir) : build;
    execFileSync('sync');
    const load = loadavg()[0]!;
    const measured = await runMeasured(job, { worker, controlDir, tempDir });
    measured.result.details.loadAverageBefore = Number(load.toFixed(2));
    progress(
      `${label}: ${seconds(measured.result.wallMs)}, Node ${mib(measured.result.nodeMaxRssBytes, 0)}, tools ${JSON.stringify(Object.fromEntries(Object.entries(measured.toolPeaks).map(([k, v]) => [k, mib(v, 0)])))}, ` +
        `temp disk ${mib(measured.localDiskPeakBytes)}, CPU ${JSON.stringify(measured.cpuByProcess)}${measured.result.phases.length ? `; ${measured.result.phases.map((p) => `${p.name.slice(0, 40)} ${seconds(p.ms)}`).join(', ')}` : ''}`,
    );
    rmSync(tempDir, { recursive: true, force: true });
    return measured;
  };

  progress('starting PostgreSQL and the S3 server');
  const cluster: PostgresCluster = await startPostgresCluster();
  const { target: s3, child: s3Child, directory: s3Directory } = await startS3Child();
  // Interrupted: stop the servers and delete everything, as the normal end does.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      void Promise.allSettled([stopS3Child(s3Child), cluster.stop()]).then(() => {
        rmSync(work, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  const s3Client = createS3Client({ bucket: 'x', prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: s3 });
  const createBucket = (name: string) => s3Client.send(new CreateBucketCommand({ Bucket: name }));
  const pgDump = join(cluster.binDir, 'pg_dump');
  const pgRestore = join(cluster.binDir, 'pg_restore');

  const measurements: Measurement[] = [];
  const checks: BenchResults['checks'] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  const record = (
    id: string,
    group: Measurement['group'],
    name: string,
    runs: Measured[],
    extra: { short?: string; nodeCounts?: boolean; throughput?: Measurement['throughput']; baseline?: string; storedBytes?: number | null } = {},
  ): Measurement => {
    const wall = median(runs.map((r) => r.result.wallMs));
    const chosen = runs.reduce((best, r) => (Math.abs(r.result.wallMs - wall) < Math.abs(best.result.wallMs - wall) ? r : best));
    const base = extra.baseline ? measurements.find((m) => m.id === extra.baseline) : undefined;
    const m: Measurement = {
      id,
      group,
      name,
      wallMs: wall,
      runsMs: runs.map((r) => r.result.wallMs),
      throughput: extra.throughput ?? null,
      baseline: base ? base.id : null,
      ratio: base ? wall / base.wallMs : null,
      nodePeakRssBytes: extra.nodeCounts === false ? null : Math.max(...runs.map((r) => r.result.nodeMaxRssBytes)),
      toolsPeakRssBytes: Math.max(...runs.map((r) => r.toolsPeakBytes)),
      toolPeaks: chosen.toolPeaks,
      localDiskPeakBytes: Math.max(...runs.map((r) => r.localDiskPeakBytes)),
      diskWrittenBytes: chosen.diskWrittenBytes,
      cpuSeconds: chosen.cpuSeconds,
      cpuByProcess: chosen.cpuByProcess,
      machineCoresBusy: Number(chosen.machineCoresBusy.toFixed(2)),
      storedBytes: extra.storedBytes !== undefined ? extra.storedBytes : (chosen.result.storedBytes ?? null),
      phases: chosen.result.phases,
      details: { ...(extra.short ? { short: extra.short } : {}), ...chosen.result.details },
    };
    // Manifests are large and already in the bucket; keep the JSON readable.
    delete m.details.manifest;
    measurements.push(m);
    return m;
  };
  const rate = (bytes: number, ms: number, basis: string): Measurement['throughput'] => ({ value: bytes / MiB / (ms / 1000), unit: 'MiB/s', basis });

  const results: Partial<BenchResults> = {};
  try {
    // The harness's own floor: the bundled worker doing nothing.
    const floor = await runMeasured({ kind: 'noop' }, { worker, controlDir, tempDir: join(work, 'tmp', 'noop') });
    const machine = {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      memoryBytes: totalmem(),
      os: `${type()} ${release()}`,
      node: process.version,
      postgres: ((await sql(cluster.url, 'SELECT version() AS v')).rows[0] as { v: string }).v.split(' on ')[0]!,
      pgDump: execFileSync(pgDump, ['--version']).toString().trim(),
      serverSettings: 'fsync=off, synchronous_commit=off, full_page_writes=off (startPostgresCluster)',
      s3: 's3rver on 127.0.0.1 in its own process, same disk',
      workerNodeFloorRssBytes: floor.result.nodeMaxRssBytes,
      loadAverageAtStart: loadavg(),
    };

    // ---------------------------------------------------------------- the database
    const units = needsDatabase ? Math.max(1, Math.round(sizeBytes / BYTES_PER_UNIT)) : 1;
    progress(`generating a database of about ${mib(units * BYTES_PER_UNIT)} (${units} units)${needsDatabase ? '' : ': the smallest, since no group that uses it runs'}`);
    await sql(cluster.url, 'CREATE DATABASE bench');
    const dbUrl = cluster.urlFor('bench');
    const db = await generateDatabase(dbUrl, units, (l) => progress(l));
    const tableBytes = db.tables.reduce((s, t) => s + t.bytes, 0);
    progress(`database: ${mib(db.bytes)} (${mib(tableBytes)} in tables) in ${seconds(db.generationMs)}`);

    const backupBucket = 'bench-backups';
    const baselineBucket = 'bench-baseline';
    await createBucket(backupBucket);
    await createBucket(baselineBucket);
    const filesDir = join(work, 'files');
    mkdirSync(filesDir);

    // The logical size: an uncompressed custom-format dump. Also the raw speed of pg_dump, the ceiling for every contender.
    const raw = await measure(
      (tmp) => ({ kind: 'pg-dump-file', pgDump, databaseUrl: dbUrl, args: ['--format=custom', '--compress=0'], file: join(tmp, 'db.pgdump') }),
      'pg_dump -Fc -Z0 > file',
    );
    const rawDumpBytes = raw.result.storedBytes!;
    const dumpRate = (ms: number) => rate(rawDumpBytes, ms, 'uncompressed dump bytes per second');
    // The encrypted rows: the same database and defaults, encrypted with age and signed, in a bucket of their own.
    const keys = await throwawayKeys();
    const encryptedBucket = 'bench-encrypted';
    let lifeboatBackupId: string | undefined;
    let encryptedBackupId: string | undefined;
    let uploadedBaseline = false;
    let lifeboatManifest: Manifest | undefined;
    const fcFile = join(filesDir, 'db.pgdump');

    if (!skip.has('backup')) {
      record('backup.pg_dump_z0', 'backup', '`pg_dump -Fc -Z0 > file` (no compression: pg_dump alone)', [raw], {
        short: 'pg_dump -Z0',
        nodeCounts: false,
        throughput: dumpRate(raw.result.wallMs),
      });
      const fcRun = await measure(
        { kind: 'pg-dump-file', pgDump, databaseUrl: dbUrl, args: ['--format=custom'], file: fcFile },
        'pg_dump -Fc > file',
      );
      // The file is the user's backup, kept for the restore; it lives outside the temp dir, so count it here.
      const fcBytes = statSync(fcFile).size;
      record('backup.pg_dump_fc', 'backup', '`pg_dump -Fc > file` (default gzip level; what users run by hand)', [{ ...fcRun, localDiskPeakBytes: fcBytes }], {
        short: 'pg_dump -Fc > file',
        nodeCounts: false,
        throughput: dumpRate(fcRun.result.wallMs),
      });
      // The plain and the encrypted backup run in turns, `--repeat` times each, and each row is the median:
      // the encrypted row's target is a ratio to the plain one, and on a quiet machine one run of either
      // varies by more than the 10% the target allows (12.2 s and 13.4 s, the same backup, 2026-12-01).
      await createBucket(encryptedBucket);
      const plainRuns: Measured[] = [];
      const encryptedRuns: Measured[] = [];
      for (let i = 0; i < repeat; i++) {
        const turn = repeat > 1 ? ` (${i + 1} of ${repeat})` : '';
        plainRuns.push(await measure({ kind: 'lifeboat-backup', s3, bucket: backupBucket, space: 'production', databaseUrl: dbUrl }, `Lifeboat backup${turn}`));
        encryptedRuns.push(
          await measure({ kind: 'lifeboat-backup', s3, bucket: encryptedBucket, space: 'production', databaseUrl: dbUrl, inputs: keys.backup }, `Lifeboat backup, encrypted (age)${turn}`),
        );
      }
      const lifeboat = plainRuns[plainRuns.length - 1]!;
      const encrypted = encryptedRuns[encryptedRuns.length - 1]!;
      lifeboatBackupId = lifeboat.result.details.id as string;
      lifeboatManifest = lifeboat.result.details.manifest as Manifest;
      const plainRow = record('backup.lifeboat', 'backup', 'Lifeboat backup (pg_dump -Z0 → zstd 3 → S3 multipart, defaults)', plainRuns, {
        short: 'Lifeboat backup',
        baseline: 'backup.pg_dump_fc',
        throughput: dumpRate(median(plainRuns.map((r) => r.result.wallMs))),
      });
      encryptedBackupId = encrypted.result.details.id as string;
      record('backup.lifeboat_encrypted', 'backup', 'Lifeboat backup, encrypted (age) and signed: the same, with age (ChaCha20-Poly1305) after zstd and an Ed25519-signed, sealed manifest', encryptedRuns, {
        short: 'Lifeboat backup, encrypted',
        baseline: 'backup.lifeboat',
        throughput: dumpRate(median(encryptedRuns.map((r) => r.result.wallMs))),
      });
      const encryptedManifest = encrypted.result.details.manifest as Manifest;
      const encryptedArtifact = encryptedManifest.artifacts[0]!;
      check(
        'encrypted backup is an age file, sealed and signed',
        encryptedArtifact.encryption === 'age' && encryptedArtifact.key.endsWith('.pgdump.zst.age') && encryptedManifest.encryption !== undefined && encryptedManifest.signature !== undefined,
        `${encryptedArtifact.key}, encryption ${encryptedArtifact.encryption}, sealed ${encryptedManifest.encryption !== undefined}, signed ${encryptedManifest.signature !== undefined}`,
      );
      // age adds a header and 16 bytes per 64 KiB chunk; zstd's output differs a little between runs, so allow 1%.
      const plainArtifact = lifeboatManifest.artifacts[0]!;
      check(
        'encrypted artifact is the compressed archive plus age overhead (within 1%)',
        Math.abs(encryptedArtifact.size - plainArtifact.size) <= plainArtifact.size * 0.01 + 1024,
        `${encryptedArtifact.size} vs ${plainArtifact.size} bytes`,
      );
      const upload = await measure(
        (tmp) => ({ kind: 'dump-then-upload', pgDump, databaseUrl: dbUrl, file: join(tmp, 'db.pgdump'), s3, bucket: baselineBucket, key: 'db.pgdump' }),
        'pg_dump -Fc > file, then upload',
      );
      uploadedBaseline = true;
      // The file exists until the upload ends; sampling may miss its last growth, but its size is known.
      const uploadRun = { ...upload, localDiskPeakBytes: Math.max(upload.localDiskPeakBytes, upload.result.storedBytes ?? 0) };
      record('backup.dump_then_upload', 'backup', '`pg_dump -Fc > file`, then upload the file (lib-storage defaults)', [uploadRun], {
        short: 'dump then upload',
        throughput: dumpRate(upload.result.wallMs),
      });
      // Lifeboat against dump-then-upload, as a second ratio.
      plainRow.details.ratioToDumpThenUpload = plainRow.wallMs / upload.result.wallMs;
      check('Lifeboat backup stored bytes > 0', (lifeboat.result.storedBytes ?? 0) > 0, `${lifeboat.result.storedBytes}`);
      check(
        'Lifeboat dump size matches pg_dump -Z0 (within 1%)',
        Math.abs((lifeboat.result.details.rawDumpBytes as number) - rawDumpBytes) <= rawDumpBytes * 0.01,
        `${lifeboat.result.details.rawDumpBytes} vs ${rawDumpBytes}`,
      );
    } else {
      execFileSync(pgDump, ['--format=custom', `--file=${fcFile}`, `--dbname=${dbUrl}`]);
    }

    if (!skip.has('parallel-dump')) {
      const single = measurements.find((m) => m.id === 'backup.pg_dump_fc') ? 'backup.pg_dump_fc' : undefined;
      const dir = await measure(
        (tmp) => ({ kind: 'pg-dump-dir', pgDump, databaseUrl: dbUrl, args: ['--format=directory', `--jobs=${jobs}`], dir: join(tmp, 'db.dir') }),
        `pg_dump -Fd -j ${jobs}`,
      );
      record('parallel_dump.fd_jobs', 'parallel-dump', `\`pg_dump -Fd -j ${jobs}\` (default gzip level, to a directory)`, [dir], {
        short: `pg_dump -Fd -j ${jobs}`,
        nodeCounts: false,
        baseline: single,
        throughput: dumpRate(dir.result.wallMs),
      });
    }

    // ---------------------------------------------------------------- restore
    if (!skip.has('restore')) {
      let n = 0;
      const emptyTarget = async () => {
        const name = `restore_${++n}`;
        await sql(cluster.url, `CREATE DATABASE ${name}`);
        return { name, url: cluster.urlFor(name) };
      };
      const drop = (name: string) => sql(cluster.url, `DROP DATABASE ${name} WITH (FORCE)`);
      const workspace = join(work, 'workspace');
      mkdirSync(workspace, { recursive: true });
      const restoreBase = ['--no-owner', '--no-privileges', '--exit-on-error'];
      const sourceEvents = ((await sql(dbUrl, 'SELECT count(*)::int AS n FROM events')).rows[0] as { n: number }).n;
      const fcBytes = statSync(fcFile).size;
      const pgRestoreRun = async (label: string, extraArgs: string[]) => {
        const target = await emptyTarget();
        const run = await measure({ kind: 'pg-restore', pgRestore, databaseUrl: target.url, args: [...restoreBase, ...extraArgs], file: fcFile }, label);
        await drop(target.name);
        // The local file it reads is the disk this restore needs.
        return { ...run, localDiskPeakBytes: fcBytes };
      };
      const lifeboatRestore = async (label: string, restoreJobs: number, thresholdMb: number, encrypted = false) => {
        const backupId = encrypted ? encryptedBackupId : lifeboatBackupId;
        if (!backupId) throw new Error('the restore needs the Lifeboat backup; do not skip backup');
        const target = await emptyTarget();
        const run = await measure(
          {
            kind: 'lifeboat-restore',
            s3,
            bucket: encrypted ? encryptedBucket : backupBucket,
            backupId,
            databaseUrl: target.url,
            jobs: restoreJobs,
            parallelThresholdMb: thresholdMb,
            workspace,
            ...(encrypted ? { inputs: keys.restore } : {}),
          },
          label,
        );
        const counts = (await sql(target.url, 'SELECT count(*)::int AS n FROM events')).rows[0] as { n: number };
        check(`${label}: every event row restored`, counts.n === sourceEvents, `${counts.n} of ${sourceEvents} rows`);
        await drop(target.name);
        return run;
      };

      const j1 = await pgRestoreRun('pg_restore -j 1', ['--jobs=1']);
      record('restore.pg_restore_j1', 'restore', '`pg_restore -j 1` from the local `-Fc` file', [j1], { short: 'pg_restore -j 1', nodeCounts: false, throughput: dumpRate(j1.result.wallMs) });
      const single = await pgRestoreRun('pg_restore --single-transaction', ['--single-transaction']);
      record('restore.pg_restore_single_tx', 'restore', '`pg_restore --single-transaction` from the local `-Fc` file', [single], {
        short: 'pg_restore --single-transaction',
        nodeCounts: false,
        throughput: dumpRate(single.result.wallMs),
      });
      // In turns, `--repeat` times each, medians: the encrypted row's target is a ratio to the plain one (as for backup).
      const txRuns: Measured[] = [];
      const encryptedTxRuns: Measured[] = [];
      for (let i = 0; i < repeat; i++) {
        const turn = repeat > 1 ? ` (${i + 1} of ${repeat})` : '';
        txRuns.push(await lifeboatRestore(`Lifeboat restore (one transaction)${turn}`, 1, 1024));
        encryptedTxRuns.push(await lifeboatRestore(`Lifeboat restore, encrypted (age)${turn}`, 1, 1024, true));
      }
      const tx = txRuns[txRuns.length - 1]!;
      const encryptedTx = encryptedTxRuns[encryptedTxRuns.length - 1]!;
      record('restore.lifeboat_transactional', 'restore', 'Lifeboat restore, the default (jobs 1): a hash pass over the stored archive, then streamed from S3 into one guarded transaction, row counts', txRuns, {
        short: 'Lifeboat restore (streamed, one transaction)',
        baseline: 'restore.pg_restore_single_tx',
        throughput: dumpRate(median(txRuns.map((r) => r.result.wallMs))),
      });
      record('restore.lifeboat_encrypted', 'restore', 'Lifeboat restore, encrypted (age): the default, with the signature checked, the sealed part and the archive decrypted on the way', encryptedTxRuns, {
        short: 'Lifeboat restore, encrypted',
        baseline: 'restore.lifeboat_transactional',
        throughput: dumpRate(median(encryptedTxRuns.map((r) => r.result.wallMs))),
      });
      // The row counts are in the sealed part: checking them shows it was decrypted and used.
      check(
        'encrypted restore checked the sealed row counts',
        encryptedTx.result.details.tablesChecked === tx.result.details.tablesChecked && (tx.result.details.tablesChecked as number) > 0,
        `${encryptedTx.result.details.tablesChecked} tables checked, ${tx.result.details.tablesChecked} unencrypted`,
      );
      if (jobs > 1) {
        const jn = await pgRestoreRun(`pg_restore -j ${jobs}`, [`--jobs=${jobs}`]);
        record('restore.pg_restore_jobs', 'restore', `\`pg_restore -j ${jobs}\` from the local \`-Fc\` file`, [jn], {
          short: `pg_restore -j ${jobs}`,
          nodeCounts: false,
          throughput: dumpRate(jn.result.wallMs),
        });
        const par = await lifeboatRestore(`Lifeboat restore (parallel, jobs ${jobs})`, jobs, 0);
        record('restore.lifeboat_parallel', 'restore', `Lifeboat restore, parallel (jobs ${jobs}, into an empty target; includes its pre-restore backup)`, [par], {
          short: `Lifeboat restore (jobs ${jobs})`,
          baseline: 'restore.pg_restore_jobs',
          throughput: dumpRate(par.result.wallMs),
        });
      }
      if (uploadedBaseline) {
        // Not a target, but the fair comparison for a backup that lives in S3: download it by hand, then pg_restore.
        const target = await emptyTarget();
        const remote = await measure(
          (tmp) => ({ kind: 'download-then-pg-restore', s3, bucket: baselineBucket, key: 'db.pgdump', file: join(tmp, 'db.pgdump'), pgRestore, databaseUrl: target.url, args: [...restoreBase, `--jobs=${jobs}`] }),
          `download, then pg_restore -j ${jobs}`,
        );
        await drop(target.name);
        record('restore.download_then_pg_restore', 'restore', `Download the \`-Fc\` file from S3, then \`pg_restore -j ${jobs}\` (restoring a remote backup by hand)`, [remote], {
          short: `download, then pg_restore -j ${jobs}`,
          throughput: dumpRate(remote.result.wallMs),
        });
      }
    }
    rmSync(fcFile, { force: true });

    // ---------------------------------------------------------------- media
    let mediaInfo: BenchResults['dataset']['media'] = null;
    if (!skip.has('media')) {
      const source = 'bench-media';
      const mediaBackups = 'bench-media-backups';
      const copyTarget = 'bench-media-copy';
      for (const b of [source, mediaBackups, copyTarget]) await createBucket(b);
      await sql(cluster.url, 'CREATE DATABASE media_app');
      const appUrl = cluster.urlFor('media_app');
      await generateSmallDatabase(appUrl);
      const plan = planMedia(mediaObjects, mediaLarge);
      progress(`seeding the media bucket: ${plan.objects.length} objects, ${mib(plan.bytes)}`);
      const seedStart = Date.now();
      await putMediaObjects(s3Client, source, plan.objects);
      const seedMs = Date.now() - seedStart;
      // 1% of the objects, spread over the bucket, rewritten with new content of the same size.
      const small = plan.objects.filter((o) => o.size <= 8 * MiB);
      const changeCount = Math.max(1, Math.round(plan.objects.length / 100));
      const step = Math.max(1, Math.floor(small.length / changeCount));
      const changed = small.filter((_, i) => i % step === 0).slice(0, changeCount);
      mediaInfo = { objects: plan.objects.length, bytes: plan.bytes, largeObjects: mediaLarge, changedObjects: changed.length, seedMs };

      const listing: Measured[] = [];
      for (let i = 0; i < repeat; i++) listing.push(await measure({ kind: 'list-objects', s3, bucket: source, prefix: '' }, 'list the media bucket'));
      record('media.list_bucket', 'media', 'List the media bucket (ListObjectsV2 pages only; the floor of any incremental)', listing, {
        short: 'list the media bucket',
        throughput: { value: plan.objects.length / (median(listing.map((r) => r.result.wallMs)) / 1000), unit: 'objects/s', basis: 'objects listed per second' },
        storedBytes: null,
      });
      const mediaBackup = (label: string) => measure({ kind: 'lifeboat-backup', s3, bucket: mediaBackups, space: 'production', databaseUrl: appUrl, media: { bucket: source } }, label);
      const mediaRate = (bytes: number, ms: number, basis: string) => rate(bytes, ms, basis);

      const copy = await measure({ kind: 'media-copy', s3, source, target: copyTarget, concurrency: 16 }, 'plain copy of the media bucket');
      record('media.plain_copy', 'media', 'Plain copy of every object (list, GET, PUT; 16 at a time; no hashing, no manifest)', [copy], {
        short: 'plain copy',
        throughput: mediaRate(plan.bytes, copy.result.wallMs, 'media bytes per second'),
      });
      // How new content reaches the backup bucket (docs/media.md "Copying"): through the runner (GET+PUT) or
      // inside the store (CopyObject), side by side, each a first backup into a bucket of its own.
      const firstWith = (serverCopy: 'off' | 'all', bucket: string) =>
        createBucket(bucket).then(() =>
          measure(
            { kind: 'lifeboat-backup', s3, bucket, space: 'production', databaseUrl: appUrl, media: { bucket: source }, env: { LIFEBOAT_MEDIA_SERVER_COPY: serverCopy } },
            `Lifeboat media backup (first, LIFEBOAT_MEDIA_SERVER_COPY=${serverCopy})`,
          ),
        );
      const first = await mediaBackup('Lifeboat media backup (first)');
      const firstGetPut = await firstWith('off', 'bench-media-backups-get-put');
      const firstCopyAll = await firstWith('all', 'bench-media-backups-copy-all');
      record('media.lifeboat_first', 'media', 'Lifeboat backup with media, first (every object read, hashed, stored by SHA-256; large ones copied inside the store)', [first], {
        short: 'first media backup',
        baseline: 'media.plain_copy',
        throughput: mediaRate(plan.bytes, first.result.wallMs, 'media bytes per second'),
      });
      record('media.lifeboat_first_get_put', 'media', 'The same, every object stored through the runner (GET+PUT; LIFEBOAT_MEDIA_SERVER_COPY=off)', [firstGetPut], {
        short: 'first media backup, GET+PUT',
        baseline: 'media.lifeboat_first',
        throughput: mediaRate(plan.bytes, firstGetPut.result.wallMs, 'media bytes per second'),
      });
      record('media.lifeboat_first_copy_all', 'media', 'The same, every object copied inside the store (CopyObject, small ones too; LIFEBOAT_MEDIA_SERVER_COPY=all)', [firstCopyAll], {
        short: 'first media backup, all CopyObject',
        baseline: 'media.lifeboat_first',
        throughput: mediaRate(plan.bytes, firstCopyAll.result.wallMs, 'media bytes per second'),
      });
      const unchanged: Measured[] = [];
      for (let i = 0; i < repeat; i++) unchanged.push(await mediaBackup('Lifeboat media backup (unchanged)'));
      record('media.lifeboat_unchanged', 'media', 'Lifeboat backup with media, incremental, bucket unchanged', unchanged, {
        short: 'unchanged incremental',
        baseline: 'media.lifeboat_first',
        throughput: { value: plan.objects.length / (median(unchanged.map((r) => r.result.wallMs)) / 1000), unit: 'objects/s', basis: 'objects considered per second' },
      });
      await putMediaObjects(s3Client, source, changed);
      const onePercent = await mediaBackup('Lifeboat media backup (1% changed)');
      record('media.lifeboat_changed', 'media', `Lifeboat backup with media, incremental, ${changed.length} object${changed.length === 1 ? '' : 's'} (1%) changed`, [onePercent], {
        short: '1% changed incremental',
        baseline: 'media.lifeboat_first',
        throughput: { value: plan.objects.length / (onePercent.result.wallMs / 1000), unit: 'objects/s', basis: 'objects considered per second' },
      });
      // Prune with media: deleting backups is cheap, but the media clean-up lists all stored content and reads every kept manifest.
      const mediaPolicy = join(work, 'media-policy.yml');
      writeFileSync(mediaPolicy, 'retention:\n  - { space: production, trigger: nightly, keep-last: 2 }\n');
      const mediaPrune = await measure({ kind: 'lifeboat-prune', s3, bucket: mediaBackups, policyFile: mediaPolicy, now: new Date().toISOString() }, 'Lifeboat prune with media');
      record('media.lifeboat_prune', 'media', `Lifeboat prune of these ${repeat + 2} media backups to keep-last 2 (media clean-up lists all content, reads the kept manifests)`, [mediaPrune], {
        short: 'prune with media',
        storedBytes: null,
      });
      const firstTotals = first.result.details.mediaTotals as { objects: number; newObjects: number } | undefined;
      const unchangedTraffic = unchanged[0]!.result.details.mediaTraffic as { objectsWritten: number; bytesRead: number } | undefined;
      const changedTraffic = onePercent.result.details.mediaTraffic as { objectsWritten: number } | undefined;
      check('first media backup holds every object', firstTotals?.objects === plan.objects.length, `${firstTotals?.objects} of ${plan.objects.length}`);
      check('unchanged incremental reads nothing', unchangedTraffic?.bytesRead === 0 && unchangedTraffic.objectsWritten === 0, JSON.stringify(unchangedTraffic));
      check('1% incremental writes exactly the changed objects', changedTraffic?.objectsWritten === changed.length, `${changedTraffic?.objectsWritten} of ${changed.length}`);
      const pruned = mediaPrune.result.details as { kept: number; deleted: number; failed: number };
      check('media prune keeps 2 and deletes the rest', pruned.kept === 2 && pruned.deleted === repeat && pruned.failed === 0, JSON.stringify(pruned));
      check('plain copy copied every object', copy.result.details.objects === plan.objects.length, `${copy.result.details.objects}`);
      const inStore = (m: Measured) => (m.result.details.mediaTraffic as { objectsCopiedInStore?: number } | undefined)?.objectsCopiedInStore ?? 0;
      check('GET+PUT copies nothing inside the store', inStore(firstGetPut) === 0, `${inStore(firstGetPut)}`);
      check('all CopyObject copies every distinct object inside the store', inStore(firstCopyAll) === firstTotals?.newObjects, `${inStore(firstCopyAll)} of ${firstTotals?.newObjects}`);
    }

    // ---------------------------------------------------------------- media at scale
    let mediaScaleInfo: MediaScaleInfo | null = null;
    if (!skip.has('media-scale')) {
      await sql(cluster.url, 'CREATE DATABASE scale_app');
      const appUrl = cluster.urlFor('scale_app');
      await generateSmallDatabase(appUrl);
      const scalePolicy = join(work, 'media-scale-policy.yml');
      writeFileSync(scalePolicy, 'retention:\n  - { space: production, trigger: nightly, keep-last: 1 }\n');
      const sizes = mediaScaleSmall > 0 ? [mediaScaleSmall, mediaScaleObjects] : [mediaScaleObjects];
      const runs: MediaScaleRun[] = [];
      const dropBucket = (name: string) => rmSync(join(s3Directory, name), { recursive: true, force: true });
      for (const n of sizes) {
        // The full size's rows have the plain ids the targets name; the smaller size's add `.small`.
        const main = n === mediaScaleObjects;
        const id = (name: string) => `media_scale.${main ? '' : 'small.'}${name}`;
        const count = n.toLocaleString('en-US');
        const source = `bench-scale-${n}`;
        const backups = `bench-scale-${n}-backups`;
        const restoreTarget = `bench-scale-${n}-restored`;
        for (const b of [source, backups, restoreTarget]) await createBucket(b);

        const plan = planScale(n);
        progress(`media-scale: writing ${count} objects (${mib(plan.bytes)}) into s3rver's storage`);
        const seedStart = Date.now();
        await seedDirectly(s3Directory, source, plan.objects);
        const seedMs = Date.now() - seedStart;
        const seedSample = spreadSample(plan.objects, 200);
        const seedProblems = await verifyThroughApi(s3Client, source, seedSample);
        check(`media-scale ${count}: seeded objects read back through the API (GET, HEAD)`, seedProblems.length === 0, seedProblems.slice(0, 3).join('; ') || `${seedSample.length} objects`);
        progress(`media-scale: seeded in ${seconds(seedMs)}; ${seedSample.length} read back, ${seedProblems.length} problems`);

        const listing: Measured[] = [];
        for (let i = 0; i < repeat; i++) listing.push(await measure({ kind: 'list-objects', s3, bucket: source, prefix: '' }, `media-scale ${count}: list the bucket`));
        record(id('list_bucket'), 'media-scale', `List the ${count}-object bucket (ListObjectsV2 pages only: the floor of an incremental)`, listing, {
          short: `list ${count}`,
          throughput: { value: n / (median(listing.map((r) => r.result.wallMs)) / 1000), unit: 'objects/s', basis: 'objects listed per second' },
          storedBytes: null,
        });
        const listed = listing[0]!.result.details as { objects: number; bytes: number };
        check(`media-scale ${count}: the listing has every seeded object and byte`, listed.objects === n && listed.bytes === plan.bytes, `${listed.objects} objects, ${listed.bytes} bytes; seeded ${n}, ${plan.bytes}`);

        const backup = (label: string) =>
          measure({ kind: 'lifeboat-backup', s3, bucket: backups, space: 'production', databaseUrl: appUrl, media: { bucket: source } }, `media-scale ${count}: ${label}`);
        const first = await backup('first backup');
        record(id('first'), 'media-scale', `Lifeboat backup with media of ${count} objects, first`, [first], {
          short: `first backup, ${count}`,
          baseline: id('list_bucket'),
          throughput: { value: n / (first.result.wallMs / 1000), unit: 'objects/s', basis: 'objects per second' },
        });
        const firstTotals = first.result.details.mediaTotals as { objects: number } | undefined;
        check(`media-scale ${count}: the first backup holds every object`, firstTotals?.objects === n, `${firstTotals?.objects} of ${n}`);

        // Unchanged incrementals: what each wrote is read from the backup bucket's storage (objects whose file changed since it started).
        const unchanged: Measured[] = [];
        const unchangedWrites: WrittenSince[] = [];
        for (let i = 0; i < repeat; i++) {
          const since = Date.now();
          const run = await backup('unchanged incremental');
          const written = await writtenSince(s3Directory, backups, since);
          run.result.details.writtenToBackupBucket = written;
          unchanged.push(run);
          unchangedWrites.push(written);
          progress(`media-scale ${count}: the unchanged incremental wrote ${written.objects} objects, ${mib(written.bytes)}: ${written.byPrefix.map((g) => `${g.prefix} ${mib(g.bytes)}`).join(', ')}`);
        }
        record(id('unchanged'), 'media-scale', `Lifeboat backup with media of ${count} objects, incremental, bucket unchanged`, unchanged, {
          short: `unchanged incremental, ${count}`,
          baseline: id('list_bucket'),
          throughput: { value: n / (median(unchanged.map((r) => r.result.wallMs)) / 1000), unit: 'objects/s', basis: 'objects considered per second' },
        });
        const unchangedTraffic = unchanged.map((r) => r.result.details.mediaTraffic as { objectsWritten: number; bytesRead: number } | undefined);
        check(
          `media-scale ${count}: the unchanged incrementals copy no object`,
          unchangedTraffic.every((t) => t !== undefined && t.objectsWritten === 0 && t.bytesRead === 0),
          JSON.stringify(unchangedTraffic),
        );

        // 1% rewritten through the API, spread over the bucket: the prune below has their old contents as garbage.
        const changed = spreadSample(plan.objects, Math.max(1, Math.round(n / 100))).filter((o, i, all) => all.indexOf(o) === i);
        await rewriteThroughApi(s3Client, source, changed);
        const afterChange = await backup('1% changed incremental');
        record(id('changed'), 'media-scale', `Lifeboat backup with media of ${count} objects, incremental, ${changed.length} (1%) rewritten`, [afterChange], {
          short: `1% changed, ${count}`,
          baseline: id('list_bucket'),
          throughput: { value: n / (afterChange.result.wallMs / 1000), unit: 'objects/s', basis: 'objects considered per second' },
        });
        const changedTraffic = afterChange.result.details.mediaTraffic as { objectsWritten: number } | undefined;
        check(`media-scale ${count}: the 1% incremental copies exactly the rewritten objects`, changedTraffic?.objectsWritten === changed.length, `${changedTraffic?.objectsWritten} of ${changed.length}`);

        // Restore of the newest backup into an empty bucket (and an empty database: restore always restores both).
        const targetDb = `scale_restore_${n}`;
        await sql(cluster.url, `CREATE DATABASE ${targetDb}`);
        const workspace = join(work, 'scale-workspace');
        mkdirSync(workspace, { recursive: true });
        const restored = await measure(
          {
            kind: 'lifeboat-restore',
            s3,
            bucket: backups,
            backupId: afterChange.result.details.id as string,
            databaseUrl: cluster.urlFor(targetDb),
            jobs: 1,
            parallelThresholdMb: 1024,
            workspace,
            inputs: { 'media-bucket': restoreTarget },
          },
          `media-scale ${count}: restore into an empty bucket`,
        );
        record(id('restore'), 'media-scale', `Lifeboat restore of the newest backup (${count} objects) into an empty media bucket`, [restored], {
          short: `restore, ${count}`,
          baseline: id('list_bucket'),
          throughput: { value: n / (restored.result.wallMs / 1000), unit: 'objects/s', basis: 'objects per second' },
          storedBytes: null,
        });
        await sql(cluster.url, `DROP DATABASE ${targetDb} WITH (FORCE)`);
        const restoredCount = await countStored(s3Directory, restoreTarget);
        const restoreSample = spreadSample([...changed, ...spreadSample(plan.objects, 100)], 150);
        const restoreProblems = await verifyThroughApi(s3Client, restoreTarget, restoreSample);
        check(
          `media-scale ${count}: the restored bucket has every object, the rewritten ones at their new content`,
          restoredCount === n && restoreProblems.length === 0,
          `${restoredCount} of ${n} objects; ${restoreProblems.slice(0, 3).join('; ') || `${restoreSample.length} read back`}`,
        );
        dropBucket(restoreTarget);

        // Prune to keep-last 1: the first backup and the unchanged ones go, and with them the rewritten objects'
        // old contents. Its clock is a day and an hour ahead, past the incomplete-grace period, so that content is garbage now.
        const prune = await measure(
          { kind: 'lifeboat-prune', s3, bucket: backups, policyFile: scalePolicy, now: new Date(Date.now() + 25 * 3600_000).toISOString() },
          `media-scale ${count}: prune to keep-last 1`,
        );
        record(id('prune'), 'media-scale', `Lifeboat prune of ${repeat + 2} backups of ${count} objects to keep-last 1 (media clean-up of the ${changed.length} replaced contents)`, [prune], {
          short: `prune, ${count}`,
          baseline: id('list_bucket'),
          storedBytes: null,
        });
        const pruned = prune.result.details as { kept: number; deleted: number; failed: number; media?: { deleted: number } };
        check(
          `media-scale ${count}: prune keeps 1, deletes the rest, and cleans up the replaced contents`,
          pruned.kept === 1 && pruned.deleted === repeat + 1 && pruned.failed === 0 && (pruned.media?.deleted ?? 0) >= changed.length,
          JSON.stringify(pruned),
        );

        runs.push({
          objects: n,
          bytes: plan.bytes,
          seedMs,
          verifiedAfterSeed: seedSample.length,
          verifiedAfterRestore: restoreSample.length,
          changedObjects: changed.length,
          unchangedWrites,
        });
        for (const b of [source, backups]) dropBucket(b);
      }
      // The cost per object, and the model at 1,000,000 objects, of each operation.
      const modelObjects = 1_000_000;
      const point = (mId: string, objects: number) => {
        const m = measurements.find((x) => x.id === mId)!;
        return { objects, wallMs: m.wallMs, nodePeakRssBytes: m.nodePeakRssBytes ?? 0 };
      };
      const operations: [string, string][] = [
        ['list_bucket', 'Bare listing'],
        ['first', 'First backup'],
        ['unchanged', 'Unchanged incremental'],
        ['changed', '1% changed incremental'],
        ['restore', 'Restore into an empty bucket'],
        ['prune', 'Prune (keep-last 1, media clean-up)'],
      ];
      const model = operations.map(([op, name]) =>
        scaleModel(
          name,
          sizes.map((n) => point(`media_scale.${n === mediaScaleObjects ? '' : 'small.'}${op}`, n)),
          machine.workerNodeFloorRssBytes,
          modelObjects,
        ),
      );
      mediaScaleInfo = { runs, model, modelObjects };
    }

    // ---------------------------------------------------------------- list and prune
    let catalogInfo: BenchResults['dataset']['catalog'] = null;
    if (!skip.has('catalog')) {
      const bucket = 'bench-catalog';
      await createBucket(bucket);
      const store = new BackupStore({ bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: s3 }, s3Client);
      const template = lifeboatManifest ?? (await templateManifest());
      const now = Date.UTC(2026, 10, 21, 6);
      const seedStart = Date.now();
      const seeds = Array.from({ length: backupCount }, (_, i) => {
        const createdAt = new Date(now - 4 * 3600_000 - (backupCount - 1 - i) * 86_400_000);
        const id = formatBackupId(createdAt, 'nightly');
        const artifact = template.artifacts[0]!;
        const file = artifact.key.slice(artifact.key.lastIndexOf('/') + 1);
        const manifest: Manifest = {
          ...template,
          id,
          space: 'production',
          trigger: 'nightly',
          startedAt: createdAt.toISOString(),
          finishedAt: new Date(createdAt.getTime() + 60_000).toISOString(),
          artifacts: [{ ...artifact, key: store.artifactKey('production', id, file) }],
        };
        return { manifest, artifactKey: manifest.artifacts[0]!.key };
      });
      const body = Buffer.alloc(1024, 7);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < seeds.length) {
            const seed = seeds[next++]!;
            await s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: seed.artifactKey, Body: body }));
            await s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: store.manifestKey('production', seed.manifest.id), Body: serializeManifest(seed.manifest) }));
          }
        }),
      );
      catalogInfo = { backups: backupCount, seedMs: Date.now() - seedStart };
      progress(`seeded ${backupCount} backups in ${seconds(catalogInfo.seedMs)}`);

      const raws: Measured[] = [];
      for (let i = 0; i < repeat; i++) raws.push(await measure({ kind: 'list-objects', s3, bucket, prefix: 'backups/production/' }, 'list the backup keys'));
      record('catalog.list_keys', 'catalog', `List the ${backupCount} backups' keys (ListObjectsV2 pages only)`, raws, {
        short: 'ListObjectsV2',
        throughput: { value: backupCount / (median(raws.map((r) => r.result.wallMs)) / 1000), unit: 'backups/s', basis: 'backups per second' },
        storedBytes: null,
      });
      const lists: Measured[] = [];
      for (let i = 0; i < repeat; i++) lists.push(await measure({ kind: 'lifeboat-list', s3, bucket, space: 'production' }, `Lifeboat list (${backupCount} backups)`));
      record('catalog.lifeboat_list', 'catalog', `Lifeboat list of ${backupCount} backups`, lists, {
        short: 'Lifeboat list',
        baseline: 'catalog.list_keys',
        throughput: { value: backupCount / (median(lists.map((r) => r.result.wallMs)) / 1000), unit: 'backups/s', basis: 'backups per second' },
        storedBytes: null,
      });
      check('list finds every backup', lists.every((l) => l.result.details.backups === backupCount && l.result.details.complete === backupCount), `${lists[0]!.result.details.backups} of ${backupCount}`);

      const policyFile = join(work, 'policy.yml');
      writeFileSync(policyFile, 'retention:\n  - { space: production, trigger: nightly, keep-daily: 30, keep-monthly: 12 }\n');
      const prune = await measure({ kind: 'lifeboat-prune', s3, bucket, policyFile, now: new Date(now).toISOString() }, `Lifeboat prune (${backupCount} backups)`);
      record('catalog.lifeboat_prune', 'catalog', `Lifeboat prune of ${backupCount} backups (keep-daily 30, keep-monthly 12)`, [prune], {
        short: 'Lifeboat prune',
        throughput: { value: backupCount / (prune.result.wallMs / 1000), unit: 'backups/s', basis: 'backups considered per second' },
        storedBytes: null,
      });
      const d = prune.result.details as { kept: number; deleted: number; failed: number };
      check('prune kept + deleted = backups', d.kept + d.deleted === backupCount && d.failed === 0, `kept ${d.kept}, deleted ${d.deleted}, failed ${d.failed}`);
      const after = await measure({ kind: 'lifeboat-list', s3, bucket, space: 'production' }, 'Lifeboat list after the prune');
      check('list after prune shows the kept backups', after.result.details.backups === d.kept, `${after.result.details.backups} listed, ${d.kept} kept`);
    }

    // ---------------------------------------------------------------- diagnostics
    if (!skip.has('diagnostics') && lifeboatManifest) {
      const artifactKey = lifeboatManifest.artifacts[0]!.key;
      const zstdCli = ['/usr/bin/zstd', '/usr/local/bin/zstd'].find((p) => existsSync(p));
      if (zstdCli) {
        const cli = await measure(
          (tmp) => ({ kind: 'shell', command: `'${pgDump}' --format=custom --compress=0 '--dbname=${dbUrl}' | '${zstdCli}' -3 -q -c > '${join(tmp, 'db.zst')}'`, file: join(tmp, 'db.zst') }),
          'pg_dump -Z0 | zstd -3 > file',
        );
        record('diag.cli_zstd', 'diagnostics', '`pg_dump -Fc -Z0 | zstd -3 > file` (the zstd CLI: what the same pipeline costs without Node)', [cli], {
          short: 'pg_dump | zstd -3',
          nodeCounts: false,
          throughput: dumpRate(cli.result.wallMs),
        });
      }
      const none = await measure({ kind: 'lifeboat-backup', s3, bucket: backupBucket, space: 'dev', databaseUrl: dbUrl, inputs: { compression: 'none' } }, 'Lifeboat backup, compression none');
      record('diag.lifeboat_uncompressed', 'diagnostics', 'Lifeboat backup with `compression: none` (dump, hash and upload only)', [none], {
        short: 'Lifeboat, no compression',
        baseline: 'backup.lifeboat',
        throughput: dumpRate(none.result.wallMs),
      });
      const part8 = await measure({ kind: 'lifeboat-backup', s3, bucket: backupBucket, space: 'dev', databaseUrl: dbUrl, inputs: { 'part-size-mb': '8' } }, 'Lifeboat backup, part-size-mb 8');
      record('diag.lifeboat_part8', 'diagnostics', 'Lifeboat backup with `part-size-mb: 8` given explicitly (the default for databases under about 70 GiB)', [part8], {
        short: 'Lifeboat, 8 MiB parts',
        baseline: 'backup.lifeboat',
        throughput: dumpRate(part8.result.wallMs),
      });
      const get = await measure({ kind: 'download', s3, bucket: backupBucket, key: artifactKey, decompress: false }, 'GET the artifact');
      record('diag.get', 'diagnostics', 'GET Lifeboat’s artifact from S3, discarding it', [get], {
        short: 'GET',
        throughput: dumpRate(get.result.wallMs),
        storedBytes: null,
      });
      const unpack = await measure((tmp) => ({ kind: 'download', s3, bucket: backupBucket, key: artifactKey, decompress: true, file: join(tmp, 'db.pgdump') }), 'GET → zstd -d → file');
      record('diag.get_decompress_file', 'diagnostics', 'GET → Node zstd decompress (as restore does) → local file: restore’s download step', [unpack], {
        short: 'GET → unzstd → file',
        baseline: 'diag.get',
        throughput: dumpRate(unpack.result.wallMs),
        storedBytes: null,
      });
    }

    // ---------------------------------------------------------------- targets
    const find = (id: string) => measurements.find((m) => m.id === id);
    const targets: TargetResult[] = [];
    const ratioTarget = (id: string, target: string, mId: string, baseId: string, limit: number) => {
      const m = find(mId);
      const base = find(baseId);
      if (!m || !base) return targets.push({ id, target, measured: 'not measured', pass: null });
      const ratio = m.wallMs / base.wallMs;
      targets.push({ id, target, measured: `${ratio.toFixed(2)} × (${seconds(m.wallMs)} vs ${seconds(base.wallMs)})`, pass: ratio <= limit });
    };
    ratioTarget('backup-vs-pg-dump', 'Backup ≤ 1.10 × `pg_dump -Fc > file`', 'backup.lifeboat', 'backup.pg_dump_fc', 1.1);
    ratioTarget('backup-vs-dump-then-upload', 'Backup ≤ 0.7 × dump-then-upload', 'backup.lifeboat', 'backup.dump_then_upload', 0.7);
    const lb = find('backup.lifeboat');
    targets.push(
      lb
        ? {
            id: 'backup-rss',
            target: 'Backup peak RSS < 200 MB (Lifeboat’s Node process; pg_dump noted beside it)',
            measured: `${((lb.nodePeakRssBytes ?? 0) / 1e6).toFixed(0)} MB = ${mib(lb.nodePeakRssBytes, 0)} (pg_dump ${mib(lb.toolPeaks.pg_dump ?? 0, 0)} beside it), at ${mib(rawDumpBytes, 0)} of dump`,
            pass: (lb.nodePeakRssBytes ?? Infinity) < 200 * 1e6,
          }
        : { id: 'backup-rss', target: 'Backup peak RSS < 200 MB', measured: 'not measured', pass: null },
    );
    targets.push(
      lb
        ? {
            id: 'backup-no-temp-disk',
            target: 'Backup uses no temp disk',
            measured: `${mib(lb.localDiskPeakBytes)} in its temp dir; ${mib(lb.diskWrittenBytes)} written to any file system`,
            pass: lb.localDiskPeakBytes === 0 && (lb.diskWrittenBytes ?? 0) < MiB,
          }
        : { id: 'backup-no-temp-disk', target: 'Backup uses no temp disk', measured: 'not measured', pass: null },
    );
    ratioTarget('backup-encrypted', 'Encrypted backup ≤ 1.10 × the unencrypted Lifeboat backup', 'backup.lifeboat_encrypted', 'backup.lifeboat', 1.1);
    ratioTarget('restore-transactional', 'Default restore ≤ 1.15 × `pg_restore --single-transaction` from a local file', 'restore.lifeboat_transactional', 'restore.pg_restore_single_tx', 1.15);
    ratioTarget('restore-encrypted', 'Encrypted default restore ≤ 1.10 × the unencrypted one', 'restore.lifeboat_encrypted', 'restore.lifeboat_transactional', 1.1);
    const lr = find('restore.lifeboat_transactional');
    targets.push(
      lr
        ? {
            id: 'restore-no-local-disk',
            target: 'Default restore uses 0 bytes of local disk',
            measured: `${mib(lr.localDiskPeakBytes)} in its temp dir; ${mib(lr.diskWrittenBytes)} written to any file system`,
            pass: lr.localDiskPeakBytes === 0 && (lr.diskWrittenBytes ?? 0) < MiB,
          }
        : { id: 'restore-no-local-disk', target: 'Default restore uses 0 bytes of local disk', measured: 'not measured', pass: null },
    );
    targets.push(
      lr
        ? {
            id: 'restore-rss',
            target: 'Default restore peak RSS < 200 MiB (Lifeboat’s Node process)',
            measured: `${mib(lr.nodePeakRssBytes, 0)} (pg_restore ${mib(lr.toolPeaks.pg_restore ?? 0, 0)}, psql ${mib(lr.toolPeaks.psql ?? 0, 0)} beside it)`,
            pass: (lr.nodePeakRssBytes ?? Infinity) < 200 * MiB,
          }
        : { id: 'restore-rss', target: 'Default restore peak RSS < 200 MiB', measured: 'not measured', pass: null },
    );
    ratioTarget('restore-parallel', `Restore ≤ 1.2 × \`pg_restore\` (parallel vs \`-j ${jobs}\`)`, 'restore.lifeboat_parallel', 'restore.pg_restore_jobs', 1.2);
    const firstMedia = find('media.lifeboat_first');
    const unchangedMedia = find('media.lifeboat_unchanged');
    targets.push(
      firstMedia && unchangedMedia
        ? {
            id: 'media-unchanged',
            target: `Unchanged ${mediaObjects.toLocaleString('en-US')}-object incremental ≤ 10% of the first backup`,
            measured: `${((unchangedMedia.wallMs / firstMedia.wallMs) * 100).toFixed(1)}% (${seconds(unchangedMedia.wallMs)} vs ${seconds(firstMedia.wallMs)})`,
            pass: unchangedMedia.wallMs <= firstMedia.wallMs * 0.1,
          }
        : { id: 'media-unchanged', target: 'Unchanged incremental ≤ 10% of the first backup', measured: 'not measured', pass: null },
    );
    // Media at scale (issue 14): at the full size, every operation under 200 MiB, and an unchanged incremental close to a bare listing.
    const scaleCount = mediaScaleObjects.toLocaleString('en-US');
    for (const [op, name] of [
      ['first', 'first backup'],
      ['unchanged', 'unchanged incremental'],
      ['restore', 'restore'],
      ['prune', 'prune'],
    ] as const) {
      const m = find(`media_scale.${op}`);
      targets.push(
        m
          ? {
              id: `media-scale-rss-${op}`,
              target: `Media at ${scaleCount} objects: ${name} peak RSS < 200 MiB`,
              measured: mib(m.nodePeakRssBytes, 0),
              pass: (m.nodePeakRssBytes ?? Infinity) < 200 * MiB,
            }
          : { id: `media-scale-rss-${op}`, target: `Media at scale: ${name} peak RSS < 200 MiB`, measured: 'not measured', pass: null },
      );
    }
    ratioTarget('media-scale-incremental-vs-listing', `Media at ${scaleCount} objects: unchanged incremental ≤ 1.3 × a bare listing of the bucket`, 'media_scale.unchanged', 'media_scale.list_bucket', 1.3);
    const scaleWrites = mediaScaleInfo?.runs.find((r) => r.objects === mediaScaleObjects)?.unchangedWrites;
    targets.push(
      scaleWrites && scaleWrites.length > 0
        ? {
            id: 'media-scale-incremental-writes',
            target: `Media at ${scaleCount} objects: an unchanged incremental writes < 1 MiB to the backup bucket (the most of ${scaleWrites.length} runs)`,
            measured: (() => {
              const most = scaleWrites.reduce((a, b) => (b.bytes > a.bytes ? b : a));
              return `${mib(most.bytes)} in ${most.objects} objects (${most.byPrefix.map((g) => `${g.prefix} ${mib(g.bytes)}`).join(', ')})`;
            })(),
            pass: scaleWrites.every((w) => w.bytes < MiB),
          }
        : { id: 'media-scale-incremental-writes', target: 'Media at scale: an unchanged incremental writes < 1 MiB', measured: 'not measured', pass: null },
    );
    const list = find('catalog.lifeboat_list');
    targets.push(
      list
        ? { id: 'list', target: `List ${backupCount.toLocaleString('en-US')} backups < 2 s`, measured: seconds(list.wallMs), pass: list.wallMs < 2000 }
        : { id: 'list', target: 'List 1,000 backups < 2 s', measured: 'not measured', pass: null },
    );

    const finished = new Date();
    const full: BenchResults = {
      format: 'lifeboat-bench/1',
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      params: { size: args.size, sizeBytes, units, mediaObjects, mediaLarge, mediaScaleObjects, mediaScaleSmall, backups: backupCount, jobs, repeat, skip: [...skip] },
      machine: { ...machine, loadAverageAtEnd: loadavg() },
      dataset: {
        database: { bytes: db.bytes, tableBytes, tables: db.tables, generationMs: db.generationMs, rawDumpBytes },
        media: mediaInfo,
        catalog: catalogInfo,
        mediaScale: mediaScaleInfo,
      },
      measurements,
      targets,
      checks,
    };
    Object.assign(results, full);
    writeFileSync(outFile, JSON.stringify(full, null, 2) + '\n');
    const markdown = markdownReport(full);
    writeFileSync(args.markdown ? resolve(ROOT, args.markdown) : outFile.replace(/\.json$/, '') + '.md', markdown);
    process.stdout.write(markdown);
    progress(`results in ${outFile}`);
    if (checks.some((c) => !c.ok)) process.exitCode = 2;
  } finally {
    await stopS3Child(s3Child);
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }

  /** A real manifest when the backup group was skipped: one small Lifeboat backup. */
  async function templateManifest(): Promise<Manifest> {
    await sql(cluster.url, 'CREATE DATABASE template_app');
    const url = cluster.urlFor('template_app');
    await generateSmallDatabase(url);
    await createBucket('bench-template');
    const run = await measure({ kind: 'lifeboat-backup', s3, bucket: 'bench-template', space: 'production', databaseUrl: url }, 'template backup');
    return run.result.details.manifest as Manifest;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
