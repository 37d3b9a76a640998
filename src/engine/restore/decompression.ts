/**
 * The decompression stage of the streamed restore, between the archive's stored bytes (after their
 * hash meter) and pg_restore's stdin.
 *
 * For zstd archives (the default) it is the `zstd` command when one is installed: it writes straight
 * into pg_restore through a pipe the kernel joins, so the decompressed bytes (about 2.7 times the stored
 * ones) never pass through Node. Measured on the benchmark's archive that saves Node about 1 s of CPU
 * per GB restored, on a machine where the server, pg_restore, psql and Node share two cores
 * (docs/benchmark.md). Otherwise, and with LIFEBOAT_DECOMPRESS=node, Node's own zstd/gzip decompressor
 * does it, in-process, as before.
 *
 * Trust does not depend on the choice: the transaction commits only when the stored bytes have the
 * manifest's size and SHA-256, and the same bytes always decompress to the same archive. The command's
 * own exit status therefore only matters when pg_restore failed too (it then says why): once pg_restore
 * has read the archive's last entry it may stop reading, and the command then ends on a broken pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Transform, Writable } from 'node:stream';
import type { Compression } from '../../domain/manifest.js';
import { ByteCounter, createDecompressor } from '../streams.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

/** zstd run as a command: its stdin takes the stored bytes, its stdout is pg_restore's stdin. */
export interface CommandDecompression {
  kind: 'command';
  path: string;
  child: ChildProcess;
  exit: Promise<ProcessExit>;
  stderr(): string;
}

/** Node's decompressor in the pipeline; `raw` counts the decompressed bytes for the size check. */
export interface InProcessDecompression {
  kind: 'in-process';
  decompressor: Transform;
  raw: ByteCounter;
}

export type Decompression = CommandDecompression | InProcessDecompression;

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, command);
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Says how the archive is decompressed, for the log. */
export function describeDecompression(decompression: Decompression, compression: Compression): string {
  return decompression.kind === 'command' ? `decompressed by ${decompression.path}, straight into pg_restore` : `decompressed in-process (${compression})`;
}

/** Picks how to decompress: the zstd command for zstd archives when installed, unless LIFEBOAT_DECOMPRESS=node. */
export function startDecompression(compression: Compression, env: NodeJS.ProcessEnv): Decompression {
  const zstd = compression === 'zstd' && env.LIFEBOAT_DECOMPRESS !== 'node' ? onPath('zstd', env) : undefined;
  if (!zstd) {
    const raw = new ByteCounter();
    return { kind: 'in-process', decompressor: createDecompressor(compression), raw };
  }
  const child = spawn(zstd, ['--decompress', '--stdout', '--quiet', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16 * 1024)));
  child.stdin!.on('error', () => undefined);
  const exit = new Promise<ProcessExit>((resolve) => {
    child.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { kind: 'command', path: zstd, child, exit, stderr: () => stderr };
}

/** What pg_restore reads: the command's stdout, or a pipe Node writes into. */
export function generatorStdin(decompression: Decompression): 'pipe' | NonNullable<ChildProcess['stdout']> {
  return decompression.kind === 'command' ? decompression.child.stdout! : 'pipe';
}

/**
 * After pg_restore has been spawned with the command's stdout: Lifeboat's own copy of that pipe is
 * closed, so that pg_restore is its only reader (and the command sees a broken pipe, not a stall, if
 * pg_restore stops reading).
 */
export function handOver(decompression: Decompression): void {
  if (decompression.kind === 'command') decompression.child.stdout!.destroy();
}

/** Where the stored bytes are written: the command's stdin, or (in-process) pg_restore's stdin. */
export function decompressionInput(decompression: Decompression, generatorStdinStream: Writable | null): Writable {
  return decompression.kind === 'command' ? decompression.child.stdin! : generatorStdinStream!;
}

export function stopDecompression(decompression: Decompression): void {
  if (decompression.kind === 'command' && decompression.child.exitCode === null && decompression.child.signalCode === null) {
    decompression.child.kill('SIGKILL');
  }
}
