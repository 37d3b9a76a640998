/**
 * Stream pieces shared by backup and restore: compression, and a meter that hashes and counts
 * bytes as they pass so that nothing has to be read twice.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { constants, createGunzip, createGzip, createZstdCompress, createZstdDecompress } from 'node:zlib';
import type { Compression } from '../domain/manifest.js';

export const FILE_EXTENSION: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' };

/**
 * zlib streams work in `chunkSize` steps, one trip to the thread pool each. Node's default of 16 KiB
 * made compression the backup's bottleneck and decompression restore's (measured in
 * scripts/bench/zstd-chunks.ts: about 1.4× and 2.2× faster with 1 MiB).
 */
const ZLIB_CHUNK = 1024 * 1024;

export function createCompressor(compression: Compression): Transform {
  switch (compression) {
    case 'zstd':
      // Level 3 is zstd's default: several times faster than gzip at a similar or better ratio.
      return createZstdCompress({ chunkSize: ZLIB_CHUNK, params: { [constants.ZSTD_c_compressionLevel]: 3 } });
    case 'gzip':
      return createGzip({ level: 6, chunkSize: ZLIB_CHUNK });
    case 'none':
      return new PassThrough();
  }
}

export function createDecompressor(compression: Compression): Transform {
  switch (compression) {
    case 'zstd':
      return createZstdDecompress({ chunkSize: ZLIB_CHUNK });
    case 'gzip':
      return createGunzip({ chunkSize: ZLIB_CHUNK });
    case 'none':
      return new PassThrough();
  }
}

/**
 * Counts the bytes passing through, without holding them or hashing them: for the decompressed side
 * of an archive, whose size is checked but whose hash nobody records (hashing it cost a restore of
 * 1 GB about half a second of CPU for nothing).
 */
export class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** Counts and hashes the bytes passing through, without holding them. */
export class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  sha256(): string {
    return this.hash.copy().digest('hex');
  }
}

/** The one way sizes and rates are written, shared with the summaries (src/domain/report.ts). */
export { formatBytes, formatRate } from '../domain/report.js';
