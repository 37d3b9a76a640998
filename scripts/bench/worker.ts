/**
 * One benchmark measurement, in its own process, so that its peak RSS and disk writes are its own.
 *
 *   node worker.mjs <job.json> <result.json>
 *
 * The orchestrator (scripts/bench.ts) bundles this file with esbuild and runs it with plain Node, as the
 * actions run their ncc bundles, watches the process tree from outside (/proc) and reads the result
 * file. Every job times only its own work: process start-up and module loading are not in `wallMs`.
 */
// First: a Lifeboat job keeps V8's heap small, as the shipped entry points do.
import './lifeboat-heap.js';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getBackupOptions } from '../../src/actions/backup/inputs.js';
import { getPruneInputs } from '../../src/actions/prune/inputs.js';
import { getRestoreOptions } from '../../src/actions/restore/inputs.js';
import { bucketSettings } from '../../src/actions/shared/inputs.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { forEachConcurrently } from '../../src/engine/concurrency.js';
import { runList } from '../../src/engine/list/list.js';
import type { Logger } from '../../src/engine/logger.js';
import { loadPolicy } from '../../src/engine/policy-file.js';
import { runPrune } from '../../src/engine/prune/prune.js';
import { runRestore } from '../../src/engine/restore/restore.js';
import { createS3Client, type BucketSettings } from '../../src/engine/s3/client.js';
import { createDecompressor } from '../../src/engine/streams.js';

/** Where the S3 sandbox is and how to reach it; the same for every job. */
export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export type Job =
  | { kind: 'noop' }
  | { kind: 'lifeboat-backup'; s3: S3Target; bucket: string; space: string; databaseUrl: string; media?: { bucket: string }; inputs?: Record<string, string>; queueSize?: number; env?: Record<string, string> }
  | { kind: 'shell'; command: string; file?: string }
  | { kind: 'download'; s3: S3Target; bucket: string; key: string; decompress: boolean; file?: string }
  | { kind: 'pg-dump-file'; pgDump: string; databaseUrl: string; args: string[]; file: string }
  | { kind: 'pg-dump-dir'; pgDump: string; databaseUrl: string; args: string[]; dir: string }
  | { kind: 'dump-then-upload'; pgDump: string; databaseUrl: string; file: string; s3: S3Target; bucket: string; key: string }
  | { kind: 'pg-restore'; pgRestore: string; databaseUrl: string; args: string[]; file: string }
  | { kind: 'download-then-pg-restore'; s3: S3Target; bucket: string; key: string; file: string; pgRestore: string; databaseUrl: string; args: string[] }
  | {
      kind: 'lifeboat-restore';
      s3: S3Target;
      bucket: string;
      backupId: string;
      databaseUrl: string;
      jobs: number;
      parallelThresholdMb: number;
      workspace: string;
      /** More inputs, as a workflow gives them (e.g. encryption-identity, signing-public-keys). */
      inputs?: Record<string, string>;
    }
  | { kind: 'media-copy'; s3: S3Target; source: string; target: string; concurrency: number }
  | { kind: 'list-objects'; s3: S3Target; bucket: string; prefix: string }
  | { kind: 'lifeboat-list'; s3: S3Target; bucket: string; space?: string }
  | { kind: 'lifeboat-prune'; s3: S3Target; bucket: string; policyFile: string; now: string };

export interface JobResult {
  ok: boolean;
  error?: string;
  /** The work itself, from just before it starts to just after it ends. */
  wallMs: number;
  /** Peak RSS of this Node process (process.resourceUsage().maxRSS), in bytes. */
  nodeMaxRssBytes: number;
  /** Bytes the job left in storage (S3 or local file), where that is meaningful. */
  storedBytes?: number;
  /** Timed phases, e.g. Lifeboat's log groups, or dump and upload. */
  phases: { name: string; ms: number }[];
  details: Record<string, unknown>;
}

/** A Logger that keeps the lines and times each group. */
function timingLogger(): Logger & { lines: string[]; phases: { name: string; ms: number }[] } {
  const lines: string[] = [];
  const phases: { name: string; ms: number }[] = [];
  return {
    lines,
    phases,
    info: (m) => lines.push(m),
    warning: (m) => lines.push('warning: ' + m),
    debug: () => undefined,
    async group(title, body) {
      const started = Date.now();
      try {
        return await body();
      } finally {
        phases.push({ name: title, ms: Date.now() - started });
      }
    },
  };
}

function bucketSettingsFor(s3: S3Target, bucket: string): BucketSettings {
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

/** The inputs a workflow would give the action, read the way the action reads them. */
function inputs(values: Record<string, string | undefined>) {
  return (name: string) => values[name];
}

function s3Inputs(s3: S3Target, bucket: string): Record<string, string> {
  return { 'backup-bucket': bucket, 's3-endpoint': s3.endpoint, 's3-region': s3.region, 'aws-access-key-id': s3.accessKeyId, 'aws-secret-access-key': s3.secretAccessKey };
}

/** Runs a tool to completion with stdout to a file (or ignored); rejects unless it exits 0. */
function runTool(path: string, args: string[], stdoutFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = stdoutFile ? openSync(stdoutFile, 'w') : undefined;
    const child = spawn(path, args, { stdio: ['ignore', fd ?? 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    child.on('error', (error) => reject(error));
    child.on('close', (code, signal) => {
      if (fd !== undefined) closeSync(fd);
      if (code === 0) resolve();
      else reject(new Error(`${path} ${args.filter((a) => !a.startsWith('--dbname')).join(' ')} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await directoryBytes(path) : (await stat(path)).size;
  }
  return total;
}

async function listAll(s3: S3Target, bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
  const client = createS3Client(bucketSettingsFor(s3, bucket));
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function run(job: Job): Promise<Omit<JobResult, 'nodeMaxRssBytes'>> {
  const started = Date.now();
  const done = (rest: Partial<JobResult> = {}) => ({ ok: true, wallMs: Date.now() - started, phases: [], details: {}, ...rest });
  switch (job.kind) {
    case 'noop':
      return done();

    case 'lifeboat-backup': {
      const log = timingLogger();
      const options = getBackupOptions(
        inputs({ ...s3Inputs(job.s3, job.bucket), space: job.space, trigger: 'nightly', 'database-url': job.databaseUrl, 'media-bucket': job.media?.bucket, ...job.inputs }),
        { ...process.env, ...job.env },
      );
      // Diagnostics only: the upload queue is not an input of the action.
      if (job.queueSize && options.upload) options.upload = { ...options.upload, queueSize: job.queueSize };
      const t = Date.now();
      const result = await runBackup(options, log);
      const artifact = result.manifest.artifacts[0]!;
      return {
        ok: true,
        wallMs: Date.now() - t,
        storedBytes: result.storedBytes,
        phases: log.phases,
        details: {
          id: result.manifest.id,
          manifest: result.manifest,
          artifactBytes: artifact.size,
          rawDumpBytes: artifact.uncompressedSize,
          compression: artifact.compression,
          mediaTraffic: result.mediaTraffic,
          mediaTotals: result.manifest.media?.totals,
          encrypted: result.manifest.encryption !== undefined,
          signed: result.manifest.signature !== undefined,
          partSize: options.upload?.partSize,
          queueSize: options.upload?.queueSize,
        },
      };
    }

    case 'pg-dump-file': {
      await runTool(job.pgDump, [...job.args, `--dbname=${job.databaseUrl}`], job.file);
      return done({ storedBytes: statSync(job.file).size });
    }

    case 'pg-dump-dir': {
      await runTool(job.pgDump, [...job.args, `--file=${job.dir}`, `--dbname=${job.databaseUrl}`]);
      return done({ storedBytes: await directoryBytes(job.dir) });
    }

    case 'dump-then-upload': {
      // What django-dbbackup and FAC's scripts do: pg_dump -Fc into a local file, then upload the file.
      const t0 = Date.now();
      await runTool(job.pgDump, ['--format=custom', '--no-password', `--dbname=${job.databaseUrl}`], job.file);
      const dumpMs = Date.now() - t0;
      const size = statSync(job.file).size;
      const t1 = Date.now();
      // lib-storage with its defaults (5 MiB parts, 4 in flight), the usual way to upload a file with the JS SDK.
      await new Upload({
        client: createS3Client(bucketSettingsFor(job.s3, job.bucket)),
        params: { Bucket: job.bucket, Key: job.key, Body: createReadStream(job.file), ContentType: 'application/octet-stream' },
      }).done();
      const uploadMs = Date.now() - t1;
      rmSync(job.file, { force: true });
      return done({ storedBytes: size, phases: [{ name: 'pg_dump -Fc > file', ms: dumpMs }, { name: 'upload the file', ms: uploadMs }] });
    }

    case 'shell': {
      await runTool('/bin/bash', ['-o', 'pipefail', '-c', job.command]);
      return done(job.file ? { storedBytes: statSync(job.file).size } : {});
    }

    case 'download': {
      const client = createS3Client(bucketSettingsFor(job.s3, job.bucket));
      const response = await client.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }));
      const sink = job.file ? createWriteStream(job.file) : new Writable({ write: (_c, _e, cb) => cb() });
      if (job.decompress) await pipeline(response.Body as Readable, createDecompressor('zstd'), sink);
      else await pipeline(response.Body as Readable, sink);
      return done({ storedBytes: job.file ? statSync(job.file).size : undefined });
    }

    case 'pg-restore': {
      await runTool(job.pgRestore, [...job.args, `--dbname=${job.databaseUrl}`, job.file]);
      return done();
    }

    case 'download-then-pg-restore': {
      // Restoring a remote backup by hand: download the -Fc file, then pg_restore it.
      const t0 = Date.now();
      const client = createS3Client(bucketSettingsFor(job.s3, job.bucket));
      const response = await client.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }));
      await pipeline(response.Body as Readable, createWriteStream(job.file));
      const downloadMs = Date.now() - t0;
      const t1 = Date.now();
      await runTool(job.pgRestore, [...job.args, `--dbname=${job.databaseUrl}`, job.file]);
      return done({ phases: [{ name: 'download the file', ms: downloadMs }, { name: 'pg_restore', ms: Date.now() - t1 }] });
    }

    case 'lifeboat-restore': {
      const log = timingLogger();
      const env = { ...process.env, GITHUB_WORKSPACE: job.workspace };
      const options = getRestoreOptions(
        inputs({
          ...s3Inputs(job.s3, job.bucket),
          'source-space': 'production',
          'target-space': 'staging',
          'backup-id': job.backupId,
          'database-url': job.databaseUrl,
          jobs: String(job.jobs),
          'parallel-threshold-mb': String(job.parallelThresholdMb),
          ...job.inputs,
        }),
        env,
      );
      const t = Date.now();
      const result = await runRestore({ ...options, caller: { kind: 'github-actions', eventName: 'schedule', actor: 'bench' } }, log);
      return {
        ok: true,
        wallMs: Date.now() - t,
        phases: log.phases,
        details: {
          method: result.method,
          jobs: result.jobs,
          tablesChecked: result.checks?.length ?? null,
          preRestoreBackupId: result.preRestoreBackupId,
          // What the media mirror did (uploaded, unchanged, deleted, traffic), when the backup holds media.
          media: (result as { media?: unknown }).media,
        },
      };
    }

    case 'media-copy': {
      // The plain way to copy a bucket: list it, then GET and PUT every object, `concurrency` at a time.
      const source = createS3Client(bucketSettingsFor(job.s3, job.source));
      const target = createS3Client(bucketSettingsFor(job.s3, job.target));
      const objects = await listAll(job.s3, job.source, '');
      let bytes = 0;
      await forEachConcurrently(objects, job.concurrency, async (object) => {
        const response = await source.send(new GetObjectCommand({ Bucket: job.source, Key: object.key }));
        const body = Buffer.from(await response.Body!.transformToByteArray());
        await target.send(new PutObjectCommand({ Bucket: job.target, Key: object.key, Body: body, ContentType: response.ContentType, Metadata: response.Metadata }));
        bytes += body.length;
      });
      return done({ storedBytes: bytes, details: { objects: objects.length } });
    }

    case 'list-objects': {
      // Page by page, keeping only the counts: the listing's own cost, in time and in memory.
      const client = createS3Client(bucketSettingsFor(job.s3, job.bucket));
      let objects = 0;
      let bytes = 0;
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: job.bucket, Prefix: job.prefix || undefined, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          objects++;
          bytes += o.Size ?? 0;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return done({ details: { objects, bytes } });
    }

    case 'lifeboat-list': {
      const bucket = bucketSettings(inputs(s3Inputs(job.s3, job.bucket)));
      const t = Date.now();
      const listed = await runList(bucket, { space: job.space });
      return {
        ok: true,
        wallMs: Date.now() - t,
        phases: [],
        details: { backups: listed.backups.length, complete: listed.backups.filter((b) => b.status === 'complete').length, latest: listed.latest?.id },
      };
    }

    case 'lifeboat-prune': {
      const log = timingLogger();
      const pruneInputs = getPruneInputs(inputs(s3Inputs(job.s3, job.bucket)));
      const t = Date.now();
      const policy = loadPolicy(job.policyFile, log);
      const result = await runPrune({ ...pruneInputs, policy, env: { ...process.env, LIFEBOAT_NOW: job.now } }, log);
      return {
        ok: true,
        wallMs: Date.now() - t,
        phases: log.phases,
        details: {
          kept: result.plan.keep.length,
          deleted: result.deleted.length,
          failed: result.failed.length,
          objectsDeleted: result.objectsDeleted,
          deleteRequests: result.deleteRequests,
          media: (result as { media?: unknown }).media,
        },
      };
    }
  }
}

async function main() {
  const [jobFile, resultFile] = process.argv.slice(2);
  if (!jobFile || !resultFile) throw new Error('usage: worker <job.json> <result.json>');
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as Job;
  let result: JobResult;
  try {
    const outcome = await run(job);
    result = { ...outcome, nodeMaxRssBytes: process.resourceUsage().maxRSS * 1024 };
  } catch (error) {
    result = {
      ok: false,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      wallMs: 0,
      nodeMaxRssBytes: process.resourceUsage().maxRSS * 1024,
      phases: [],
      details: {},
    };
  }
  writeFileSync(resultFile, JSON.stringify(result));
  // The S3 client keeps sockets alive; the result is written, so leave now.
  process.exit(result.ok ? 0 : 1);
}

void main();
