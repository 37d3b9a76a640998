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
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { Decrypter, Encrypter, type Recipient, type Stanza } from 'age-encryption';

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

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
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
async function newFileHeader(recipients: readonly string[]): Promise<{ prefix: Buffer; key: Buffer }> {
  let fileKey: Uint8Array | undefined;
  const witness: Recipient = {
    wrapFileKey(key: Uint8Array): Stanza[] {
      fileKey = key;
      return [];
    },
  };
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
  // One 64 KiB block, filled in place: each plaintext byte is copied once, whatever the size of the pieces.
  const block = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  let started = false;
  const seal = (plain: Buffer, last: boolean): Buffer => {
    const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter++, last), { authTagLength: TAG });
    const body = cipher.update(plain);
    cipher.final();
    return Buffer.concat([body, cipher.getAuthTag()]);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!started) {
        started = true;
        this.push(prefix);
      }
      let offset = 0;
      while (offset < chunk.length) {
        // A full block is sealed only once a byte after it exists: the last chunk carries the last flag.
        if (filled === CHUNK) {
          this.push(seal(block, false));
          filled = 0;
        }
        const taken = chunk.copy(block, filled, offset, Math.min(chunk.length, offset + CHUNK - filled));
        filled += taken;
        offset += taken;
      }
      callback();
    },
    flush(callback: TransformCallback) {
      if (!started) this.push(prefix);
      callback(null, seal(block.subarray(0, filled), true));
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
  let key: Buffer | undefined;
  let nonceRead = false;
  let counter = 0;
  let pending: Buffer = Buffer.alloc(0);
  let chunks = 0;
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
  const consume = (final: boolean): Buffer[] => {
    const out: Buffer[] = [];
    if (!nonceRead) {
      if (pending.length < NONCE) {
        if (final) throw new AgeFormatError('it ends before its payload: the file was cut short');
        return out;
      }
      key = payloadKey(key!, pending.subarray(0, NONCE));
      pending = pending.subarray(NONCE);
      nonceRead = true;
    }
    const sealedChunk = CHUNK + TAG;
    let offset = 0;
    while (pending.length - offset > sealedChunk) {
      out.push(open(pending.subarray(offset, offset + sealedChunk), false));
      offset += sealedChunk;
    }
    pending = pending.subarray(offset);
    if (final) {
      const plain = open(pending, true);
      // Only an empty file may end with an empty chunk.
      if (plain.length === 0 && chunks > 1) throw new AgeFormatError('it ends with an empty chunk after data: the file was changed');
      out.push(plain);
      pending = Buffer.alloc(0);
    }
    return out;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      (async () => {
        if (header !== undefined) {
          header = Buffer.concat([header, chunk]);
          const end = headerEnd(header);
          if (end === undefined) {
            if (header.length > HEADER_LIMIT) throw new AgeFormatError('it has no age header: it is not an age file');
            return [];
          }
          if (!header.subarray(0, 22).toString('latin1').startsWith('age-encryption.org/v1\n')) throw new AgeFormatError('it is not an age file (no age-encryption.org/v1 header)');
          key = Buffer.from(await unwrapFileKey(header.subarray(0, end), identities));
          pending = header.subarray(end);
          header = undefined;
        } else {
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        }
        return consume(false);
      })().then(
        (out) => {
          for (const plain of out) this.push(plain);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
    flush(callback: TransformCallback) {
      try {
        if (header !== undefined) throw new AgeFormatError(header.length === 0 ? 'it is empty' : 'it ends inside its header: it is not a whole age file');
        for (const plain of consume(true)) this.push(plain);
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
