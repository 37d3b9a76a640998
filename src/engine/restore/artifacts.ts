/**
 * Verify first: every artifact of a backup is downloaded, its stored bytes hashed and counted as they
 * arrive and decompressed into a local file, and the result compared with the manifest. Then pg_restore
 * must be able to read the archive's table of contents. Nothing here touches the target database, so
 * any failure is a refusal that leaves the target as it was.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRecord, Manifest } from '../../domain/manifest.js';
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PgTool } from '../postgres/connection.js';
import { redact } from '../secrets.js';
import type { BackupStore } from '../s3/store.js';
import { createDecompressor, formatBytes, Meter } from '../streams.js';

/** The artifact format restore knows how to apply. */
export const DATABASE_FORMAT = 'pg_dump-custom';

export interface VerifiedArchive {
  /** The decompressed pg_dump archive on local disk. */
  file: string;
  artifact: ArtifactRecord;
  /** Entries in the archive's table of contents. */
  tocEntries: number;
  /** Whether applying the archive itself runs CREATE SCHEMA public (pg_dump 15 and later never do). */
  createsPublicSchema: boolean;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs a tool to completion, keeping its output (only the tail of stderr; redacted when reported). */
export function runTool(path: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(path, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Downloads and checks one artifact into `file`; throws RestoreRefused on any mismatch. */
async function downloadArtifact(store: BackupStore, manifest: Manifest, artifact: ArtifactRecord, file: string, log: Logger): Promise<void> {
  const where = `s3://${store.bucket}/${artifact.key}`;
  const fix = `Restore another backup (see the list action for what exists); this one cannot be trusted.`;
  let body;
  try {
    body = await store.getObjectStream(artifact.key);
  } catch (error) {
    if (isMissingObject(error)) {
      throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} is missing: there is no object at ${where}.`, fix);
    }
    throw error;
  }
  const stored = new Meter();
  const raw = new Meter();
  const started = Date.now();
  try {
    await pipeline(body, stored, createDecompressor(artifact.compression), raw, createWriteStream(file));
  } catch (error) {
    throw refuse(
      `Artifact '${artifact.name}' of backup ${manifest.id} at ${where} is corrupt or truncated: it does not decompress as ${artifact.compression} (${errorMessage(error)}; ${stored.bytes} of ${artifact.size} bytes read).`,
      fix,
    );
  }
  const problems: string[] = [];
  if (stored.bytes !== artifact.size) problems.push(`${stored.bytes} bytes stored where the manifest records ${artifact.size}`);
  const sha256 = stored.sha256();
  if (sha256 !== artifact.sha256) problems.push(`SHA-256 ${sha256} where the manifest records ${artifact.sha256}`);
  if (raw.bytes !== artifact.uncompressedSize) {
    problems.push(`${raw.bytes} bytes after decompression where the manifest records ${artifact.uncompressedSize}`);
  }
  if (problems.length > 0) {
    throw refuse(`Artifact '${artifact.name}' of backup ${manifest.id} at ${where} does not match its manifest: ${problems.join('; ')}.`, fix);
  }
  log.info(
    `Verified ${artifact.name}: ${formatBytes(artifact.size)} stored, SHA-256 ${sha256.slice(0, 16)}… matches; ${formatBytes(raw.bytes)} after ${artifact.compression} decompression (${((Date.now() - started) / 1000).toFixed(1)} s).`,
  );
}

/**
 * Downloads and checks every artifact, then proves pg_restore can read the database archive's table of
 * contents. Refuses (RestoreRefused) on anything unexpected.
 */
export async function fetchAndVerify(store: BackupStore, manifest: Manifest, dir: string, pgRestore: PgTool, log: Logger): Promise<VerifiedArchive> {
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

  const artifact = databases[0]!;
  const file = join(dir, `${artifact.name}.pgdump`);
  await downloadArtifact(store, manifest, artifact, file, log);

  const listing = await runTool(pgRestore.path, ['--list', file]);
  if (listing.code !== 0) {
    throw refuse(
      `pg_restore cannot read the table of contents of backup ${manifest.id} (made by pg_dump ${manifest.database.pgDumpVersion}): ${describeExit('pg_restore --list', listing)}`,
      `If pg_restore (${pgRestore.version}) is older than that pg_dump, give a newer one in 'pg-restore-path'; otherwise restore another backup.`,
    );
  }
  const entries = listing.stdout.split('\n').filter((line) => /^\d+;/.test(line));
  const publicEntry = entries.find((line) => /^\d+; \d+ \d+ SCHEMA - public(\s|$)/.test(line));
  let createsPublicSchema = false;
  if (publicEntry) {
    // Render just that entry to see whether this pg_restore would create the schema or assume it exists.
    const listFile = join(dir, 'public-schema.list');
    await writeFile(listFile, publicEntry + '\n');
    const rendered = await runTool(pgRestore.path, ['--no-owner', '--no-privileges', `--use-list=${listFile}`, '--file=-', file]);
    if (rendered.code !== 0) throw refuse(`pg_restore cannot render backup ${manifest.id}: ${describeExit('pg_restore', rendered)}`, 'Restore another backup.');
    createsPublicSchema = /^\s*CREATE SCHEMA public\b/im.test(rendered.stdout);
  }
  log.info(`pg_restore ${pgRestore.version} reads the archive's table of contents: ${entries.length} entries.`);
  return { file, artifact, tocEntries: entries.length, createsPublicSchema };
}
