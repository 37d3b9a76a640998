/**
 * Verify first: the backup's database archive is read from the bucket, its stored bytes counted and
 * hashed, and compared with the manifest; pg_restore must be able to read its table of contents.
 * Nothing here touches the target database, so any failure is a refusal that leaves the target as it
 * was. Nothing here writes to local disk either, except downloadArchive, for the opt-in parallel path.
 */
import { reportProgress } from '../progress.js';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRecord, Manifest } from '../../domain/manifest.js';
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PgTool } from '../postgres/connection.js';
import { redact } from '../secrets.js';
import { decryptorFor } from '../crypto/manifest-trust.js';
import type { BackupStore } from '../s3/store.js';
import { createDecompressor, formatBytes, formatRate, ByteCounter, Meter } from '../streams.js';

/** "12.0 MiB of 48.0 MiB (25%)". */
function describeShare(done: number, total: number): string {
  return `${formatBytes(done)} of ${formatBytes(total)} (${Math.floor((100 * done) / Math.max(1, total))}%)`;
}

/** The artifact format restore knows how to apply. */
export const DATABASE_FORMAT = 'pg_dump-custom';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs a tool to completion, keeping its output (only the tail of stderr; redacted when reported). */
export function runTool(path: string, args: string[], env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(path, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // SIGTERM, not SIGKILL: pg_restore --jobs then stops its workers and their sessions too.
    const stop = (): void => void child.kill('SIGTERM');
    signal?.addEventListener('abort', stop, { once: true });
    child.on('close', () => signal?.removeEventListener('abort', stop));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-OUTPUT_LIMIT)));
    child.on('error', (spawnError) => resolve({ code: null, signal: null, stdout, stderr, spawnError }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function describeExit(tool: string, result: Pick<ProcessResult, 'code' | 'signal' | 'spawnError' | 'stderr'>): string {
  const how = result.spawnError
    ? `could not start (${result.spawnError.message})`
    : result.signal
      ? `was killed by ${result.signal}`
      : `exited with code ${result.code}`;
  const said = result.stderr.trim() ? `\n${tool} said:\n${redact(result.stderr.trim())}` : '';
  return `${tool} ${how}.${said}`;
}

function refuse(reason: string, fix: string): RestoreRefused {
  return new RestoreRefused({ reason, fix });
}

function isMissingObject(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** The one database archive of a backup; refuses backups this version cannot restore whole. */
export function databaseArtifact(manifest: Manifest): ArtifactRecord {
  const databases = manifest.artifacts.filter((a) => a.format === DATABASE_FORMAT);
  const unknown = manifest.artifacts.filter((a) => a.format !== DATABASE_FORMAT);
  if (unknown.length > 0) {
    throw refuse(
      `Backup ${manifest.id} holds artifacts this version of Lifeboat cannot restore: ${unknown.map((a) => `'${a.name}' (${a.format})`).join(', ')}; restoring only part of it would leave the target inconsistent.`,
      `Use the Lifeboat version that made the backup (${manifest.tool.name} ${manifest.tool.version}) or a newer one.`,
    );
  }
  if (databases.length !== 1) {
    throw refuse(
      `Backup ${manifest.id} holds ${databases.length} database archives; restore needs exactly one.`,
      'Restore another backup; this one was not made by Lifeboat backup.',
    );
  }
  return databases[0]!;
}

const REFUSE_FIX = 'Restore another backup (see the list action for what exists); this one cannot be trusted.';

async function openArtifact(store: BackupStore, manifest: Manifest, artifact: ArtifactRecord): Promise<Readable> {
  try {
    return await store.getObjectStream(artifact.key);
  } catch (error) {
    if (isMissingObject(error)) {
      throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} is missing: there is no object at s3://${store.bucket}/${artifact.key}.`, REFUSE_FIX);
    }
    throw error;
  }
}

function mismatches(artifact: ArtifactRecord, stored: Meter, raw?: ByteCounter): string[] {
  const problems: string[] = [];
  if (stored.bytes !== artifact.size) problems.push(`${stored.bytes} bytes stored where the manifest records ${artifact.size}`);
  const sha256 = stored.sha256();
  if (sha256 !== artifact.sha256) problems.push(`SHA-256 ${sha256} where the manifest records ${artifact.sha256}`);
  if (raw && raw.bytes !== artifact.uncompressedSize) problems.push(`${raw.bytes} bytes after decompression where the manifest records ${artifact.uncompressedSize}`);
  return problems;
}

/**
 * The verification pass: the stored bytes are read once, counted and hashed, and compared with the
 * manifest. No decompression and no disk: it costs one GET and a hash, whatever the size.
 */
export async function verifyStoredArtifact(store: BackupStore, manifest: Manifest, artifact: ArtifactRecord, log: Logger, progressIntervalMs?: number): Promise<void> {
  const where = `s3://${store.bucket}/${artifact.key}`;
  const body = await openArtifact(store, manifest, artifact);
  const stored = new Meter();
  const started = Date.now();
  const progress = reportProgress(log, progressIntervalMs, (elapsed) => `… verifying ${artifact.name}: ${describeShare(stored.bytes, artifact.size)} read and hashed after ${elapsed}`);
  try {
    await pipeline(body, stored, new Writable({ write: (_chunk, _encoding, done) => done() }));
  } catch (error) {
    throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} at ${where} could not be read whole: ${errorMessage(error)} (${stored.bytes} of ${artifact.size} bytes read).`, REFUSE_FIX);
  } finally {
    progress.stop();
  }
  const problems = mismatches(artifact, stored);
  if (problems.length > 0) {
    throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} at ${where} does not match its manifest: ${problems.join('; ')}.`, REFUSE_FIX);
  }
  log.info(
    `Verified ${artifact.name}: ${formatBytes(artifact.size)} stored, SHA-256 ${artifact.sha256.slice(0, 16)}… matches (${((Date.now() - started) / 1000).toFixed(1)} s, ${formatRate(stored.bytes, Date.now() - started)}).`,
  );
}

/**
 * Proves pg_restore can read the archive's table of contents, from the start of the stream: pg_restore
 * --list reads only the header and the TOC (a dump written to a pipe keeps its TOC first), so the rest
 * of the object is never downloaded.
 */
export async function readTableOfContents(store: BackupStore, manifest: Manifest, artifact: ArtifactRecord, pgRestore: PgTool, identities?: readonly string[]): Promise<number> {
  const decrypting = decryptorFor(artifact, identities);
  const body = await openArtifact(store, manifest, artifact);
  const child = spawn(pgRestore.path, ['--list'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-OUTPUT_LIMIT)));
  child.stdin.on('error', () => undefined);
  const exit = new Promise<Pick<ProcessResult, 'code' | 'signal' | 'spawnError'>>((resolve) => {
    child.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  // Once pg_restore has what it needs it exits; the download is then abandoned, not an error.
  const feeding = pipeline([body, ...(decrypting ? [decrypting] : []), createDecompressor(artifact.compression), child.stdin]).catch(() => undefined);
  const result = { ...(await exit), stderr };
  body.destroy();
  await feeding;
  if (result.code !== 0) {
    throw refuse(
      `pg_restore cannot read the table of contents of backup ${manifest.id} (made by pg_dump ${manifest.database.pgDumpVersion}): ${describeExit('pg_restore --list', result)}`,
      `If pg_restore (${pgRestore.version}) is older than that pg_dump, give a newer one in 'pg-restore-path'; otherwise restore another backup.`,
    );
  }
  return stdout.split('\n').filter((line) => /^\d+;/.test(line)).length;
}

/** Room the parallel path needs for the decompressed archive: its size, plus 5% and at least 64 MiB to spare. */
export function localSpaceNeeded(artifact: ArtifactRecord): number {
  return artifact.uncompressedSize + Math.max(64 * 1024 * 1024, Math.ceil(artifact.uncompressedSize * 0.05));
}

/**
 * The parallel path needs a seekable local archive for pg_restore --jobs. Checks the free space first,
 * and refuses (before anything is downloaded or touched) when the archive will not fit.
 */
export async function downloadArchive(
  store: BackupStore,
  manifest: Manifest,
  artifact: ArtifactRecord,
  dir: string,
  log: Logger,
  progressIntervalMs?: number,
  identities?: readonly string[],
): Promise<string> {
  const decrypting = decryptorFor(artifact, identities);
  const needed = localSpaceNeeded(artifact);
  const space = await statfs(dir);
  const free = Number(space.bavail) * Number(space.bsize);
  if (free < needed) {
    throw refuse(
      `The parallel restore (jobs > 1) needs the decompressed archive on local disk: ${formatBytes(needed)} (${needed} bytes, with a margin) in ${dir}, which has ${formatBytes(free)} free.`,
      `Set 'jobs: 1' to restore streamed in one transaction, which needs no local disk, or give the runner more disk (RUNNER_TEMP on a larger volume).`,
    );
  }
  const where = `s3://${store.bucket}/${artifact.key}`;
  const file = join(dir, `${artifact.name}.pgdump`);
  const body = await openArtifact(store, manifest, artifact);
  const stored = new Meter();
  const raw = new ByteCounter();
  const started = Date.now();
  const progress = reportProgress(log, progressIntervalMs, (elapsed) => `… downloading ${artifact.name}: ${describeShare(stored.bytes, artifact.size)} read and checked after ${elapsed}`);
  try {
    await pipeline([body, stored, ...(decrypting ? [decrypting] : []), createDecompressor(artifact.compression), raw, createWriteStream(file)]);
  } catch (error) {
    throw refuse(
      `Artifact '${artifact.name}' of backup ${manifest.id} at ${where} could not be downloaded and decompressed as ${artifact.compression} (${errorMessage(error)}; ${stored.bytes} of ${artifact.size} bytes read).`,
      REFUSE_FIX,
    );
  } finally {
    progress.stop();
  }
  const problems = mismatches(artifact, stored, raw);
  if (problems.length > 0) {
    throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} at ${where} does not match its manifest: ${problems.join('; ')}.`, REFUSE_FIX);
  }
  log.info(`Downloaded ${artifact.name} for the parallel restore: ${formatBytes(raw.bytes)} in ${file} (${((Date.now() - started) / 1000).toFixed(1)} s), SHA-256 matches.`);
  return file;
}
