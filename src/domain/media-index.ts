/**
 * The media index, the pure part: how a backup's list of media objects is cut into chunks, written and read.
 *
 * A backup's objects are kept sorted by key (in S3's order: UTF-8 bytes) and cut into chunks where a key's
 * hash says so, like restic's content-defined chunking but on keys. A cut depends only on the keys since
 * the previous cut, so an unchanged stretch of the bucket yields byte-for-byte the same chunk as last time:
 * same content, same address, nothing to write. A change touches only the chunk it falls in.
 *
 * A chunk is newline-separated JSON, one record per line, each record's fields in one fixed order. Its
 * address is the SHA-256 of that text (under encryption, a keyed address: engine/media/index-store.ts).
 */
import { Ajv } from 'ajv';
import { MEDIA_OBJECT_SCHEMA, type MediaObjectRecord } from './manifest.js';

export const MEDIA_INDEX_FORMAT = 'lifeboat-media-index/1';

/** A chunk ends after a key whose hash is 0 modulo this: about this many records per chunk. */
export const CHUNK_AVERAGE_OBJECTS = 1024;
/** …and after this many records at the latest, so a chunk stays small whatever the keys. */
export const CHUNK_MAX_OBJECTS = 4096;

/** One chunk of a backup's media index, as the manifest names it. */
export interface MediaIndexChunkRef {
  /** Where the chunk is stored: its SHA-256, or under encryption its keyed address. */
  address: string;
  /** SHA-256 of the chunk's text (before compression and encryption): checked on every read. */
  sha256: string;
  /** Bytes stored. */
  size: number;
  /** Records in the chunk. */
  objects: number;
}

export interface MediaIndex {
  format: typeof MEDIA_INDEX_FORMAT;
  chunks: MediaIndexChunkRef[];
}

/**
 * S3's key order (UTF-8 bytes, which is code point order), from UTF-16 code units: they agree except that
 * a surrogate (a code point above U+FFFF) must sort after U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  // Surrogates (D800–DFFF) after everything else of the basic plane, which moves down to make room.
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/**
 * FNV-1a, 32 bits, over the key's UTF-16 code units, then MurmurHash3's finalizer: cheap and stable. The
 * finalizer matters: FNV-1a's low bits depend only on the low bits of each step, so keys that differ in a
 * few digits (upload names) would cut far too rarely, or too often, on `hash % 1024` alone.
 */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Whether a chunk ends after this key, holding `count` records with it. */
export function endsChunk(key: string, count: number): boolean {
  return count >= CHUNK_MAX_OBJECTS || keyHash(key) % CHUNK_AVERAGE_OBJECTS === 0;
}

const RECORD_FIELDS = [
  'key',
  'size',
  'sha256',
  'md5',
  'contentType',
  'cacheControl',
  'contentDisposition',
  'contentEncoding',
  'contentLanguage',
  'expires',
  'websiteRedirectLocation',
  'metadata',
  'etag',
  'lastModified',
  'verified',
  'address',
  'storedSize',
] as const satisfies readonly (keyof MediaObjectRecord)[];

/** One record as one line, its fields (and its metadata's names) always in the same order. */
export function serializeRecord(record: MediaObjectRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const value = record[field];
    if (value === undefined) continue;
    ordered[field] = field === 'metadata' ? Object.fromEntries(Object.entries(value as Record<string, string>).sort(([a], [b]) => compareKeys(a, b))) : value;
  }
  return JSON.stringify(ordered);
}

/** The text of a chunk holding these records (already in key order). */
export function chunkText(records: readonly MediaObjectRecord[]): string {
  return records.map((r) => serializeRecord(r) + '\n').join('');
}

const validateRecord = new Ajv({ allErrors: true }).compile<MediaObjectRecord>(MEDIA_OBJECT_SCHEMA);

/** A chunk that cannot be read as one: its backup's media cannot be trusted. */
export class InvalidChunkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChunkError';
  }
}

/** The records of a chunk's text, each checked, strictly in key order. */
export function parseChunk(text: string, where: string): MediaObjectRecord[] {
  if (text.length > 0 && !text.endsWith('\n')) throw new InvalidChunkError(`the media index chunk ${where} is cut short (its last line has no end)`);
  const lines = text.length ? text.slice(0, -1).split('\n') : [];
  const records: MediaObjectRecord[] = [];
  lines.forEach((line, index) => {
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      throw new InvalidChunkError(`line ${index + 1} of the media index chunk ${where} is not JSON`);
    }
    if (!validateRecord(data)) {
      const problems = (validateRecord.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
      throw new InvalidChunkError(`line ${index + 1} of the media index chunk ${where} is not a media object record: ${problems}`);
    }
    const previous = records[records.length - 1];
    if (previous && compareKeys(previous.key, data.key) >= 0) {
      throw new InvalidChunkError(`the media index chunk ${where} is not in key order: '${data.key}' comes after '${previous.key}'`);
    }
    records.push(data);
  });
  return records;
}

/**
 * Cuts a stream of records, given in key order, into chunks. `add` returns the records of a chunk that
 * just ended, `finish` the last one.
 */
export class ChunkCutter {
  private records: MediaObjectRecord[] = [];
  private lastKey: string | undefined;

  add(record: MediaObjectRecord): MediaObjectRecord[] | undefined {
    if (this.lastKey !== undefined && compareKeys(this.lastKey, record.key) >= 0) {
      throw new Error(`media records out of key order: '${record.key}' after '${this.lastKey}'`);
    }
    this.lastKey = record.key;
    this.records.push(record);
    if (!endsChunk(record.key, this.records.length)) return undefined;
    const chunk = this.records;
    this.records = [];
    return chunk;
  }

  finish(): MediaObjectRecord[] | undefined {
    const chunk = this.records;
    this.records = [];
    return chunk.length ? chunk : undefined;
  }
}

/** One step of a merge-join of two key-ordered streams: a key and what each side holds for it. */
export type JoinStep<L, R> = { key: string; left?: L; right?: R };

/**
 * Merge-joins two streams sorted by key (compareKeys), holding one item of each at a time. Each side must
 * be strictly increasing; an out-of-order item is an error, since the join would silently go wrong.
 */
export async function* mergeJoin<L, R>(
  left: AsyncIterable<L>,
  leftKey: (item: L) => string,
  right: AsyncIterable<R>,
  rightKey: (item: R) => string,
): AsyncGenerator<JoinStep<L, R>> {
  const lefts = ordered(left, leftKey, 'left');
  const rights = ordered(right, rightKey, 'right');
  let l = await lefts.next();
  let r = await rights.next();
  while (!l.done || !r.done) {
    if (r.done || (!l.done && compareKeys(leftKey(l.value), rightKey(r.value)) < 0)) {
      yield { key: leftKey(l.value as L), left: l.value as L };
      l = await lefts.next();
    } else if (l.done || compareKeys(leftKey(l.value), rightKey(r.value)) > 0) {
      yield { key: rightKey(r.value), right: r.value };
      r = await rights.next();
    } else {
      yield { key: leftKey(l.value), left: l.value, right: r.value };
      l = await lefts.next();
      r = await rights.next();
    }
  }
}

async function* ordered<T>(items: AsyncIterable<T>, keyOf: (item: T) => string, side: string): AsyncGenerator<T> {
  let last: string | undefined;
  for await (const item of items) {
    const key = keyOf(item);
    if (last !== undefined && compareKeys(last, key) >= 0) throw new Error(`the ${side} side of a merge is not in key order: '${key}' after '${last}'`);
    last = key;
    yield item;
  }
}
