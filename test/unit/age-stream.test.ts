/**
 * The age streams (src/engine/crypto/age-stream.ts) against Debian's `age` CLI, the reference
 * implementation: each decrypts what the other encrypts, at every chunk boundary, and every change to a
 * file (a flipped byte, a cut, an extension, reordered chunks, another recipient) is refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgeFormatError, createAgeDecryptor, createAgeEncryptor, decryptBytes, encryptBytes, NoMatchingIdentityError } from '../../src/engine/crypto/age-stream.js';

const CHUNK = 64 * 1024;
let keyFile: string;
let identity: string;
let recipient: string;
let otherIdentity: string;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'age-'));
  keyFile = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  identity = readFileSync(keyFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
  const other = join(dir, 'other.txt');
  execFileSync('age-keygen', ['-o', other], { stdio: 'ignore' });
  otherIdentity = readFileSync(other, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
});

const ageDecrypt = (data: Buffer) => spawnSync('age', ['-d', '-i', keyFile], { input: data, maxBuffer: 64 * 1024 * 1024 });
const ageEncrypt = (data: Buffer) => spawnSync('age', ['-r', recipient], { input: data, maxBuffer: 64 * 1024 * 1024 }).stdout;

describe('age streams and the age CLI', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 200_000])('agree both ways on %i bytes', async (size) => {
    const plain = randomBytes(size);
    const ours = await encryptBytes(plain, [recipient]);
    const decrypted = ageDecrypt(ours);
    expect(decrypted.status, decrypted.stderr.toString()).toBe(0);
    expect(decrypted.stdout.equals(plain)).toBe(true);
    expect((await decryptBytes(ageEncrypt(plain), [identity])).equals(plain)).toBe(true);
    expect(ours.length).toBe(ageEncrypt(plain).length);
  });

  it('streams in pieces of any size, in both directions', async () => {
    const plain = randomBytes(5 * CHUNK + 17);
    const pieces = (data: Buffer) => Readable.from(Array.from({ length: Math.ceil(data.length / 7777) }, (_, i) => data.subarray(i * 7777, (i + 1) * 7777)));
    const sealed: Buffer[] = [];
    await pipeline(pieces(plain), await createAgeEncryptor([recipient]), async function* (source) {
      for await (const chunk of source) sealed.push(chunk as Buffer);
    });
    const opened: Buffer[] = [];
    await pipeline(pieces(Buffer.concat(sealed)), createAgeDecryptor([identity]), async function* (source) {
      for await (const chunk of source) opened.push(chunk as Buffer);
    });
    expect(Buffer.concat(opened).equals(plain)).toBe(true);
  });

  it('streams pieces that end inside, at and across chunk boundaries, and empty ones, as the age CLI reads them', async () => {
    // Sizes that exercise each way a piece meets the 64 KiB chunks: whole chunks sealed where they lie,
    // a chunk begun in one piece and finished in the next, a piece ending exactly on a boundary, and 1 MiB
    // pieces as zstd hands them on.
    const sizes = [1, CHUNK - 1, 1, CHUNK, 0, 3 * CHUNK + 5, CHUNK - 5, 2 * CHUNK, 1024 * 1024, 7, CHUNK];
    const plain = randomBytes(sizes.reduce((a, b) => a + b, 0));
    const split = (data: Buffer, lengths: readonly number[]) => {
      const out: Buffer[] = [];
      let at = 0;
      for (const length of lengths) {
        out.push(data.subarray(at, at + length));
        at += length;
      }
      if (at < data.length) out.push(data.subarray(at));
      return Readable.from(out);
    };
    const sealed: Buffer[] = [];
    await pipeline(split(plain, sizes), await createAgeEncryptor([recipient]), async function* (source) {
      for await (const chunk of source) sealed.push(chunk as Buffer);
    });
    const file = Buffer.concat(sealed);
    const decrypted = ageDecrypt(file);
    expect(decrypted.status, decrypted.stderr.toString()).toBe(0);
    expect(decrypted.stdout.equals(plain)).toBe(true);
    expect(file.length).toBe(ageEncrypt(plain).length);
    // And back, in pieces of other sizes: the header split, sealed chunks split and joined.
    const opened: Buffer[] = [];
    await pipeline(split(file, [5, 100, CHUNK + 16, CHUNK + 17, 1, 300_000, 16, 0, CHUNK]), createAgeDecryptor([identity]), async function* (source) {
      for await (const chunk of source) opened.push(chunk as Buffer);
    });
    expect(Buffer.concat(opened).equals(plain)).toBe(true);
  });

  it('encrypts to several recipients, each able to decrypt', async () => {
    const other = execFileSync('age-keygen', ['-y'], { input: otherIdentity + '\n', encoding: 'utf8' }).trim();
    const sealed = await encryptBytes('both', [recipient, other]);
    expect((await decryptBytes(sealed, [otherIdentity])).toString()).toBe('both');
    expect((await decryptBytes(sealed, [identity])).toString()).toBe('both');
  });

  it('refuses another recipient\'s file before any plaintext, as NoMatchingIdentityError', async () => {
    const sealed = await encryptBytes(randomBytes(3 * CHUNK), [recipient]);
    await expect(decryptBytes(sealed, [otherIdentity])).rejects.toBeInstanceOf(NoMatchingIdentityError);
  });

  it.each([
    ['a flipped byte in the first chunk', (c: Buffer) => flip(c, 300)],
    ['a flipped byte in the last chunk', (c: Buffer) => flip(c, c.length - 3)],
    ['a flipped byte in the header MAC', (c: Buffer) => flip(c, c.indexOf('\n--- ') + 8)],
    ['a cut at a chunk boundary', (c: Buffer) => c.subarray(0, headerLength(c) + 16 + CHUNK + 16)],
    ['a cut inside a chunk', (c: Buffer) => c.subarray(0, c.length - 100)],
    ['a cut inside the header', (c: Buffer) => c.subarray(0, 40)],
    ['an extra byte', (c: Buffer) => Buffer.concat([c, Buffer.from([0])])],
    ['two chunks swapped', (c: Buffer) => swapChunks(c)],
    ['no header at all', () => randomBytes(3 * CHUNK)],
    ['nothing', () => Buffer.alloc(0)],
  ])('refuses a file with %s', async (_what, change) => {
    const sealed = await encryptBytes(randomBytes(2 * CHUNK + 500), [recipient]);
    const changed = change(Buffer.from(sealed));
    const error = await decryptBytes(changed, [identity]).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AgeFormatError);
    expect(ageDecrypt(changed).status).not.toBe(0);
  });
});

function flip(data: Buffer, at: number): Buffer {
  data[at] = data[at]! ^ 0x01;
  return data;
}

function headerLength(data: Buffer): number {
  const mac = data.indexOf('\n--- ');
  return data.indexOf(0x0a, mac + 1) + 1;
}

function swapChunks(data: Buffer): Buffer {
  const start = headerLength(data) + 16;
  const size = CHUNK + 16;
  const first = Buffer.from(data.subarray(start, start + size));
  data.copy(data, start, start + size, start + 2 * size);
  first.copy(data, start + size);
  return data;
}
