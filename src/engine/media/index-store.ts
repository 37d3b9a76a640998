/**
 * The media index in the backup bucket: writing chunks (domain/media-index.ts) and reading a backup's
 * records back as one key-ordered stream, whatever the manifest's format.
 *
 * A chunk is stored gzip-compressed under <prefix>media/index/<ab>/<address>. Under encryption it is
 * stored as one line of readable JSON, the content the chunk refers to (keyed addresses and stored sizes:
 * what prune, check and the replica copy need, with no identity), then an age file of the compressed
 * chunk. Every read checks the chunk's SHA-256 against the manifest's.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  MEDIA_INDEX_FORMAT,
  chunkText,
  compareKeys,
  parseChunk,
  InvalidChunkError,
  type MediaIndexChunkRef,
} from '../../domain/media-index.js';
import type { MediaObjectRecord, MediaRecord } from '../../domain/manifest.js';
import { contentRefs } from '../../domain/sealing.js';
import { mediaContentAddress } from '../crypto/keys.js';
import { decryptBytes, encryptBytes } from '../crypto/age-stream.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { BackupStore } from '../s3/store.js';
import { keepRetainedUntil, lockParams } from '../s3/object-lock.js';
import { mapOrdered } from '../concurrency.js';

/** Media encryption on backup: content is stored as age files to the recipients, under keyed addresses. */
export interface MediaEncryption {
  recipients: readonly string[];
  addressKey: Buffer;
}

/** The readable first line of an encrypted chunk. */
interface EncryptedChunkHeader {
  format: typeof MEDIA_INDEX_FORMAT;
  contents: { address: string; size: number }[];
}

/** Chunks read ahead of the one being used: reads overlap the work on the records. */
const READ_AHEAD = 4;

export interface ChunkWriteStats {
  chunksWritten: number;
  chunksReused: number;
  bytesWritten: number;
}

/**
 * Writes a backup's index chunks. A chunk the previous backup already has (same address, same text) is
 * not written again: the previous backup is never pruned while this one runs, so it stays stored.
 */
export class ChunkWriter {
  readonly chunks: MediaIndexChunkRef[] = [];
  readonly stats: ChunkWriteStats = { chunksWritten: 0, chunksReused: 0, bytesWritten: 0 };
  private readonly previous: Map<string, MediaIndexChunkRef>;

  constructor(
    private readonly store: BackupStore,
    previous: readonly MediaIndexChunkRef[],
    private readonly encryption?: MediaEncryption,
  ) {
    this.previous = new Map(previous.map((c) => [c.address, c]));
  }

  async write(records: readonly MediaObjectRecord[]): Promise<MediaIndexChunkRef> {
    const text = chunkText(records);
    const sha256 = createHash('sha256').update(text).digest('hex');
    const address = this.encryption ? mediaContentAddress(this.encryption.addressKey, this.encryption.recipients, sha256) : sha256;
    const key = this.store.mediaIndexKey(address);
    const before = this.previous.get(address);
    if (this.store.objectLock) {
      // Under Object Lock a stored chunk (the previous backup's, or another space's) is kept locked as long
      // as this backup, in place: rewriting it would add a version of a locked object (docs/immutability.md).
      const kept = await keepRetainedUntil(this.store.client, this.store.bucket, key, this.store.objectLock);
      if (kept) return this.reuse({ address, sha256, size: kept.size, objects: records.length });
    } else if (before && before.sha256 === sha256 && before.objects === records.length) {
      return this.reuse(before);
    }
    return this.put(key, text, sha256, address, records);
  }

  private reuse(ref: MediaIndexChunkRef): MediaIndexChunkRef {
    this.stats.chunksReused++;
    this.chunks.push(ref);
    return ref;
  }

  private async put(key: string, text: string, sha256: string, address: string, records: readonly MediaObjectRecord[]): Promise<MediaIndexChunkRef> {
    const compressed = gzipSync(text);
    let body: Buffer = compressed;
    if (this.encryption) {
      const header: EncryptedChunkHeader = { format: MEDIA_INDEX_FORMAT, contents: contentRefs(records) };
      body = Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), await encryptBytes(compressed, this.encryption.recipients)]);
    }
    await this.store.client.send(
      new PutObjectCommand({ Bucket: this.store.bucket, Key: key, Body: body, ContentType: 'application/octet-stream', ...lockParams(this.store.objectLock) }),
    );
    const ref: MediaIndexChunkRef = { address, sha256, size: body.length, objects: records.length };
    this.stats.chunksWritten++;
    this.stats.bytesWritten += body.length;
    this.chunks.push(ref);
    return ref;
  }
}

/** A chunk in the clear is stored under its SHA-256; an encrypted one under a keyed address. */
export function isEncryptedChunk(ref: MediaIndexChunkRef): boolean {
  return ref.address !== ref.sha256;
}

async function getChunk(store: BackupStore, ref: MediaIndexChunkRef): Promise<Buffer> {
  const key = store.mediaIndexKey(ref.address);
  try {
    const response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
    const bytes = Buffer.from(await response.Body!.transformToByteArray());
    if (bytes.length !== ref.size) throw new InvalidChunkError(`the media index chunk ${key} has ${bytes.length} bytes, the manifest says ${ref.size}`);
    return bytes;
  } catch (error) {
    if (error instanceof InvalidChunkError) throw error;
    throw new InvalidChunkError(`the media index chunk ${key} cannot be read (${errorMessage(error)})`);
  }
}

function splitEncrypted(bytes: Buffer, where: string): { header: EncryptedChunkHeader; sealed: Buffer } {
  const end = bytes.indexOf(0x0a);
  let header: EncryptedChunkHeader | undefined;
  try {
    header = end > 0 ? (JSON.parse(bytes.subarray(0, end).toString('utf8')) as EncryptedChunkHeader) : undefined;
  } catch {
    header = undefined;
  }
  if (!header || header.format !== MEDIA_INDEX_FORMAT || !Array.isArray(header.contents)) {
    throw new InvalidChunkError(`the media index chunk ${where} is not an encrypted ${MEDIA_INDEX_FORMAT} chunk`);
  }
  return { header, sealed: bytes.subarray(end + 1) };
}

/** The records of one chunk, checked against the manifest's SHA-256 (and, encrypted, its readable content list). */
export async function readChunkRecords(store: BackupStore, ref: MediaIndexChunkRef, identities?: readonly string[]): Promise<MediaObjectRecord[]> {
  const where = store.mediaIndexKey(ref.address);
  const encrypted = isEncryptedChunk(ref);
  const bytes = await getChunk(store, ref);
  let compressed = bytes;
  let header: EncryptedChunkHeader | undefined;
  if (encrypted) {
    if (!identities?.length) throw new LifeboatError(`the media index of this backup is encrypted and no identity was given`);
    const split = splitEncrypted(bytes, where);
    header = split.header;
    compressed = await decryptBytes(split.sealed, identities);
  }
  let text: string;
  try {
    text = gunzipSync(compressed).toString('utf8');
  } catch {
    throw new InvalidChunkError(`the media index chunk ${where} is not gzip data`);
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  if (sha256 !== ref.sha256) throw new InvalidChunkError(`the media index chunk ${where} does not match its SHA-256 (expected ${ref.sha256}, got ${sha256})`);
  const records = parseChunk(text, where);
  if (records.length !== ref.objects) throw new InvalidChunkError(`the media index chunk ${where} holds ${records.length} records, the manifest says ${ref.objects}`);
  if (header) {
    // The readable list prune trusts must be the content the sealed records use.
    const sealed = contentRefs(records);
    const readable = new Map(header.contents.map((c) => [c.address, c.size]));
    if (sealed.length !== readable.size || sealed.some((c) => readable.get(c.address) !== c.size)) {
      throw new InvalidChunkError(`the media index chunk ${where} lists other content in its readable part than its records use`);
    }
  }
  return records;
}

/** The stored content one chunk refers to (keys in the backup bucket and stored sizes), with no identity needed. */
/** Stored content a backup refers to: its key in the backup bucket, its stored size, and (in the clear) its SHA-256. */
export interface StoredContent {
  key: string;
  size: number;
  sha256?: string;
  what: string;
}

export async function readChunkContents(store: BackupStore, ref: MediaIndexChunkRef): Promise<StoredContent[]> {
  if (!isEncryptedChunk(ref)) {
    const records = await readChunkRecords(store, ref);
    return records.map((r) => ({ key: store.mediaObjectKey(r.sha256), size: r.size, sha256: r.sha256, what: `'${r.key}': its content ${r.sha256.slice(0, 12)}…` }));
  }
  const { header } = splitEncrypted(await getChunk(store, ref), store.mediaIndexKey(ref.address));
  return header.contents.map((c) => ({ key: store.encryptedMediaKey(c.address), size: c.size, what: `encrypted content ${c.address.slice(0, 12)}…` }));
}

/**
 * Every media object of a backup, in key order, one chunk in memory at a time (and a few read ahead).
 * A manifest of the first format embeds its objects: they are sorted and given as they are.
 */
export async function* mediaRecords(record: MediaRecord, store: BackupStore, identities?: readonly string[]): AsyncGenerator<MediaObjectRecord> {
  if (!record.index) {
    yield* [...record.objects].sort((a, b) => compareKeys(a.key, b.key));
    return;
  }
  const chunks = mapOrdered(toAsync(record.index.chunks), READ_AHEAD, (ref) => readChunkRecords(store, ref, identities));
  for await (const records of chunks) yield* records;
}

/** Every piece of stored content a backup refers to, chunk by chunk (duplicates within a chunk removed), with no identity needed. */
export async function* mediaContents(record: MediaRecord, store: BackupStore): AsyncGenerator<StoredContent> {
  if (!record.index) {
    const seen = new Set<string>();
    for (const object of record.objects) {
      const key = store.mediaContentKey(object);
      if (seen.has(key)) continue;
      seen.add(key);
      yield {
        key,
        size: object.storedSize ?? object.size,
        ...(object.address === undefined ? { sha256: object.sha256 } : {}),
        what: `'${object.key}': its content ${(object.address ?? object.sha256).slice(0, 12)}…`,
      };
    }
    for (const content of record.contents ?? []) {
      const key = store.encryptedMediaKey(content.address);
      if (seen.has(key)) continue;
      seen.add(key);
      yield { key, size: content.size, what: `encrypted content ${content.address.slice(0, 12)}…` };
    }
    return;
  }
  const chunks = mapOrdered(toAsync(record.index.chunks), READ_AHEAD, (ref) => readChunkContents(store, ref));
  for await (const contents of chunks) {
    const seen = new Set<string>();
    for (const content of contents) {
      if (seen.has(content.key)) continue;
      seen.add(content.key);
      yield content;
    }
  }
}

export async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
