/**
 * age (https://age-encryption.org/v1) as Node streams, for the database archive, media content and the
 * manifest's sealed part.
 *
 * The header (the recipients' stanzas, the file key's wrapping, the header MAC) is made and read by
 * `age-encryption`, the npm implementation by age's author. The payload, age's STREAM of 64 KiB chunks
 * of ChaCha20-Poly1305, is done with node:crypto: measured on the benchmark machine, age-encryption's
 * pure-JS cipher encrypts and decrypts at about 54 MiB/s together, node:crypto's OpenSSL at about
 * 1,080 MiB/s, and a backup's archive is hundreds of MiB (docs/benchmark.md). The output is a plain age
 * file: Debian's `age -d` decrypts it, and Lifeboat decrypts files `age -e` made (test/integration/encryption.test.ts).
 *
 * To learn the file key age-encryption chose, one extra recipient that wraps nothing is added through
 * its public custom-recipient interface (Recipient.wrapFileKey): it sees the file key and adds no stanza.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Recipient, Stanza } from 'age-encryption';

/**
 * age-encryption is evaluated when a header is first made or read, not when Lifeboat starts: loaded on
 * its own it adds about 20 MiB to a Node process (its post-quantum recipients included), which an
 * unencrypted backup or restore never needs (docs/benchmark.md). `webpackMode: "eager"` keeps it inside
 * the one bundle file (ncc would otherwise make a second file, and its license list then misses the
 * library's dependencies); the module is still only run on the first call.
 */
const ageLibrary = () => import(/* webpackMode: "eager" */ 'age-encryption');

const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;
const HEADER_LIMIT = 64 * 1024;

/** No identity given could unwrap the file key: the file was encrypted to other recipients. */
export class NoMatchingIdentityError extends Error {
  constructor() {
    super('none of the identities given matches a recipient of the file');
    this.name = 'NoMatchingIdentityError';
  }
}

/** The bytes are not an age file, or were changed after they were written. */
export class AgeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgeFormatError';
  }
}

/** The payload key, as a KeyObject: made once, not converted from bytes for each of the file's chunks. */
function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32)));
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // age's nonce is an 11-byte big-endian counter and a last-chunk flag. Only its low 6 bytes are written
  // (the rest stay zero): 2^48 chunks of 64 KiB is 16 EiB, far beyond any archive.
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** The header and the payload nonce of a new file to the recipients, and the key its payload is sealed with. */
async function newFileHeader(recipients: readonly string[]): Promise<{ prefix: Buffer; key: KeyObject }> {
  let fileKey: Uint8Array | undefined;
  const witness: Recipient = {
    wrapFileKey(key: Uint8Array): Stanza[] {
      fileKey = key;
      return [];
    },
  };
  const { Encrypter } = await ageLibrary();
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  encrypter.addRecipient(witness);
  // An empty file: its header, its payload nonce, and one empty final chunk (the tag alone).
  const empty = await encrypter.encrypt(new Uint8Array(0));
  if (!fileKey) throw new Error('age-encryption did not ask the recipient to wrap the file key');
  const prefix = Buffer.from(empty.subarray(0, empty.length - TAG));
  const nonce = prefix.subarray(prefix.length - NONCE);
  return { prefix, key: payloadKey(fileKey, nonce) };
}

/**
 * A Transform that turns plaintext into an age file for the recipients (`age1…` strings). The header is
 * made before the first byte, so a bad recipient fails before anything is read.
 */
export async function createAgeEncryptor(recipients: readonly string[]): Promise<Transform> {
  const { prefix, key } = await newFileHeader(recipients);
  let counter = 0;
  // The plaintext of a chunk that is not sealed yet: at most one chunk, held until a byte after it exists,
  // since only then is it known not to be the last one (whose nonce differs).
  const block = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  let started = false;
  /** Seals one chunk into `out` at `at`; returns where the next one goes. */
  const sealInto = (plain: Buffer, last: boolean, out: Buffer, at: number): number => {
    const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter++, last), { authTagLength: TAG });
    const body = cipher.update(plain);
    cipher.final();
    at += body.copy(out, at);
    return at + cipher.getAuthTag().copy(out, at);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      // Each call seals every chunk it completes into one buffer and hands that on: one piece for the
      // meter and the upload per piece of input, not one per 64 KiB chunk. Whole chunks of the input are
      // sealed where they lie; only the pieces at either end are copied through `block`.
      const total = filled + chunk.length;
      // Chunks that can be sealed now: all complete ones but the last, which waits for a following byte.
      const sealable = total > CHUNK ? Math.floor((total - 1) / CHUNK) : 0;
      const head = started ? 0 : prefix.length;
      const out = Buffer.allocUnsafe(head + sealable * (CHUNK + TAG));
      let at = started ? 0 : prefix.copy(out, 0);
      started = true;
      let offset = 0;
      for (let sealed = 0; sealed < sealable; sealed++) {
        // A chunk begun in an earlier piece is completed in `block`; any later one lies whole in this piece.
        if (filled > 0) {
          const taken = chunk.copy(block, filled, offset, offset + CHUNK - filled);
          offset += taken;
          at = sealInto(block, false, out, at);
          filled = 0;
        } else {
          at = sealInto(chunk.subarray(offset, offset + CHUNK), false, out, at);
          offset += CHUNK;
        }
      }
      filled += chunk.copy(block, filled, offset);
      callback(null, at > 0 ? out : undefined);
    },
    flush(callback: TransformCallback) {
      const head = started ? 0 : prefix.length;
      const out = Buffer.allocUnsafe(head + filled + TAG);
      const at = started ? 0 : prefix.copy(out, 0);
      started = true;
      sealInto(block.subarray(0, filled), true, out, at);
      callback(null, out);
    },
  });
}

/** Where the header ends: after the MAC line (`--- <base64>\n`), which no stanza line can look like. */
function headerEnd(buffer: Buffer): number | undefined {
  const start = buffer[0] === 0x2d && buffer.subarray(0, 4).toString('latin1') === '--- ' ? 0 : buffer.indexOf('\n--- ');
  if (start < 0) return undefined;
  const newline = buffer.indexOf(0x0a, start + 1);
  return newline < 0 ? undefined : newline + 1;
}

async function unwrapFileKey(header: Buffer, identities: readonly string[]): Promise<Uint8Array> {
  const { Decrypter } = await ageLibrary();
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    return await decrypter.decryptHeader(header);
  } catch (error) {
    const message = (error as Error).message ?? '';
    if (/no identity matched/i.test(message)) throw new NoMatchingIdentityError();
    throw new AgeFormatError(`its age header cannot be read (${message})`);
  }
}

/**
 * A Transform that turns an age file into its plaintext with the identities (`AGE-SECRET-KEY-1…`).
 * Fails with NoMatchingIdentityError before any plaintext when the file is for other recipients, and with
 * AgeFormatError when any chunk was changed, reordered, cut off or extended.
 */
export function createAgeDecryptor(identities: readonly string[]): Transform {
  let header: Buffer | undefined = Buffer.alloc(0) as Buffer;
  let fileKey: Uint8Array | undefined;
  let key: KeyObject | undefined;
  let counter = 0;
  let chunks = 0;
  const sealedChunk = CHUNK + TAG;
  // The bytes received and not yet opened: pieces as they came, joined only to make one sealed chunk.
  let pieces: Buffer[] = [];
  let pending = 0;
  const scratch = Buffer.allocUnsafe(sealedChunk);
  const open = (sealed: Buffer, last: boolean): Buffer => {
    if (sealed.length < TAG) throw new AgeFormatError('it ends inside a chunk: the file was cut short');
    const decipher = createDecipheriv('chacha20-poly1305', key!, chunkNonce(counter++, last), { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG));
    try {
      decipher.final();
    } catch {
      throw new AgeFormatError(
        last ? 'its last chunk does not authenticate: the file was changed or cut short' : `chunk ${counter} does not authenticate: the file was changed`,
      );
    }
    chunks++;
    return plain;
  };
  /** The next `size` pending bytes (at most one sealed chunk), without a copy when they lie in one piece. */
  const take = (size: number): Buffer => {
    const first = pieces[0]!;
    let taken: Buffer;
    if (first.length >= size) {
      taken = first.subarray(0, size);
      if (first.length === size) pieces.shift();
      else pieces[0] = first.subarray(size);
    } else {
      // Joined in one buffer kept for the purpose: open() copies out what it reads, so no chunk needs its own.
      taken = scratch.subarray(0, size);
      let at = 0;
      while (at < size) {
        const piece = pieces[0]!;
        const used = piece.copy(taken, at, 0, size - at);
        at += used;
        if (used === piece.length) pieces.shift();
        else pieces[0] = piece.subarray(used);
      }
    }
    pending -= size;
    return taken;
  };
  /** Opens every sealed chunk known not to be the last (a byte follows it); at the end, the last one too. */
  const consume = (final: boolean): Buffer[] => {
    const out: Buffer[] = [];
    if (!key) {
      if (pending < NONCE) {
        if (final) throw new AgeFormatError('it ends before its payload: the file was cut short');
        return out;
      }
      key = payloadKey(fileKey!, take(NONCE));
    }
    while (pending > sealedChunk) out.push(open(take(sealedChunk), false));
    if (final) {
      const plain = open(pending > 0 ? take(pending) : Buffer.alloc(0), true);
      // Only an empty file may end with an empty chunk.
      if (plain.length === 0 && chunks > 1) throw new AgeFormatError('it ends with an empty chunk after data: the file was changed');
      out.push(plain);
    }
    return out;
  };
  const append = (piece: Buffer) => {
    if (piece.length === 0) return;
    pieces.push(piece);
    pending += piece.length;
  };
  /** Hands on what was opened: one buffer when there are several, so the next stage gets big pieces. */
  const emit = (stream: Transform, out: Buffer[]) => {
    if (out.length === 1) stream.push(out[0]);
    else if (out.length > 1) stream.push(Buffer.concat(out));
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (header === undefined) {
        // The header is read: everything else is synchronous, with no promise per piece.
        try {
          append(chunk);
          emit(this, consume(false));
          callback();
        } catch (error) {
          callback(error as Error);
        }
        return;
      }
      header = Buffer.concat([header, chunk]);
      const end = headerEnd(header);
      if (end === undefined) {
        callback(header.length > HEADER_LIMIT ? new AgeFormatError('it has no age header: it is not an age file') : undefined);
        return;
      }
      if (!header.subarray(0, 22).toString('latin1').startsWith('age-encryption.org/v1\n')) {
        callback(new AgeFormatError('it is not an age file (no age-encryption.org/v1 header)'));
        return;
      }
      const whole = header;
      header = undefined;
      unwrapFileKey(whole.subarray(0, end), identities).then(
        (unwrapped) => {
          try {
            fileKey = unwrapped;
            append(whole.subarray(end));
            emit(this, consume(false));
            callback();
          } catch (error) {
            callback(error as Error);
          }
        },
        (error: Error) => callback(error),
      );
    },
    flush(callback: TransformCallback) {
      try {
        if (header !== undefined) throw new AgeFormatError(header.length === 0 ? 'it is empty' : 'it ends inside its header: it is not a whole age file');
        emit(this, consume(true));
        pieces = [];
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

async function through(transform: Transform, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  transform.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    transform.on('end', resolve);
    transform.on('error', reject);
  });
  transform.end(input);
  await done;
  return Buffer.concat(out);
}

export async function encryptBytes(plaintext: Buffer | string, recipients: readonly string[]): Promise<Buffer> {
  return through(await createAgeEncryptor(recipients), Buffer.from(plaintext));
}

export async function decryptBytes(ciphertext: Buffer, identities: readonly string[]): Promise<Buffer> {
  return through(createAgeDecryptor(identities), ciphertext);
}

/** The size of the age file for a plaintext of this size, given the size of its header and nonce. */
export function sealedPayloadSize(plaintextBytes: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextBytes / CHUNK));
  return plaintextBytes + chunks * TAG;
}
