/**
 * Running pg_dump as a stream. The dump's output is passed on only as far as its exit status
 * allows: the stream does not end until pg_dump has exited, and ends with an error unless it
 * exited 0. Without that gate a dump cut short would still end the upload cleanly, and a failed
 * backup would look like a good one.
 */
import { spawn } from 'node:child_process';
import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors.js';
import { libpqEnv, type DatabaseConnection, type PgTool } from './connection.js';
import { redact } from '../secrets.js';

const STDERR_LIMIT = 16 * 1024;

export interface DumpProcess {
  /** pg_dump's stdout, gated on its exit status. */
  output: Transform;
  /** Stops pg_dump, e.g. when the upload failed. */
  kill(): void;
}

export function startPgDump(tool: PgTool, connection: DatabaseConnection, options: { snapshot?: string }): DumpProcess {
  // No --dbname: the whole connection, password included, goes to libpq through the environment.
  const args = ['--format=custom', '--compress=0', '--no-password'];
  if (options.snapshot) args.push(`--snapshot=${options.snapshot}`);
  const child = spawn(tool.path, args, {
    env: libpqEnv(connection, 'lifeboat-pg_dump'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_LIMIT);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.on('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });

  const output = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      void exited.then(({ code, signal, spawnError }) => {
        if (code === 0) return callback();
        const how = spawnError ? `could not start (${spawnError.message})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
        callback(new LifeboatError(`pg_dump ${how}.${stderr.trim() ? `\npg_dump said:\n${redact(stderr.trim())}` : ''}`));
      });
    },
  });
  child.stdout.on('error', (error) => output.destroy(error));
  child.stdout.pipe(output);
  child.on('error', (error) => output.destroy(new LifeboatError(`pg_dump could not start: ${error.message}`)));
  return {
    output,
    kill() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
