/**
 * A micro-benchmark behind one finding of the benchmark (docs/benchmark.md): Node's zstd streams with
 * their default 16 KiB `chunkSize` against larger chunks, on a real dump.
 *
 *   npx tsx scripts/bench/zstd-chunks.ts <uncompressed pg_dump -Fc -Z0 file>
 *
 * It times, in this process: the backup's chain (64 KiB pipe reads → SHA-256 → zstd 3 → SHA-256) and
 * restore's decompression, each with chunkSize 16 KiB (Lifeboat's current setting, Node's default),
 * 256 KiB and 1 MiB, plus input batched to 1 MiB before the compressor.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createZstdCompress, createZstdDecompress, zstdCompressSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npx tsx scripts/bench/zstd-chunks.ts <uncompressed dump file>\n');
  process.exit(2);
}

const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const hasher = () => {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
};
class Batch extends Transform {
  private parts: Buffer[] = [];
  private length = 0;
  constructor(private readonly size: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.parts.push(chunk);
    this.length += chunk.length;
    if (this.length < this.size) return callback();
    const out = Buffer.concat(this.parts);
    this.parts = [];
    this.length = 0;
    callback(null, out);
  }
  override _flush(callback: TransformCallback) {
    callback(null, this.length ? Buffer.concat(this.parts) : undefined);
  }
}
/** The file through a pipe, in 64 KiB reads, as pg_dump's stdout arrives. */
const source = () => spawn('cat', [file], { stdio: ['ignore', 'pipe', 'ignore'] }).stdout;
const compressor = (chunkSize: number) => createZstdCompress({ chunkSize, params: { [constants.ZSTD_c_compressionLevel]: 3 } });

async function time(label: string, body: () => Promise<void>) {
  const cpu = process.cpuUsage();
  const started = Date.now();
  await body();
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${label.padEnd(62)} ${((Date.now() - started) / 1000).toFixed(2)} s   CPU ${((used.user + used.system) / 1e6).toFixed(2)} s\n`);
}

const KiB = 1024;
for (const chunkSize of [16 * KiB, 256 * KiB, 1024 * KiB]) {
  await time(`backup chain, chunkSize ${chunkSize / KiB} KiB`, () => pipeline(source(), hasher(), compressor(chunkSize), hasher(), sink()));
}
await time('backup chain, input batched to 1 MiB, chunkSize 1 MiB', () => pipeline(source(), new Batch(1024 * KiB), hasher(), compressor(1024 * KiB), hasher(), sink()));

const compressed = zstdCompressSync(readFileSync(file), { params: { [constants.ZSTD_c_compressionLevel]: 3 } });
for (const chunkSize of [16 * KiB, 256 * KiB, 1024 * KiB]) {
  await time(`restore decompression, chunkSize ${chunkSize / KiB} KiB`, () =>
    pipeline(
      (async function* () {
        for (let i = 0; i < compressed.length; i += 64 * KiB) yield compressed.subarray(i, i + 64 * KiB);
      })(),
      createZstdDecompress({ chunkSize }),
      hasher(),
      sink(),
    ),
  );
}
