/**
 * The age key checks (src/domain/age-keys.ts), which read the inputs without loading the age library,
 * against the library itself (age-encryption, which encrypts and decrypts): on real keys of every type
 * and on damaged ones, both must accept or refuse the same strings.
 */
import { Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { beforeAll, describe, expect, it } from 'vitest';
import { ageIdentityType, ageRecipientType, decodeBech32 } from '../../src/domain/age-keys.js';

function libraryAcceptsRecipient(text: string): boolean {
  try {
    new Encrypter().addRecipient(text);
    return true;
  } catch {
    return false;
  }
}

function libraryAcceptsIdentity(text: string): boolean {
  try {
    new Decrypter().addIdentity(text);
    return true;
  } catch {
    return false;
  }
}

/** Every one-character change of the text (each position: the next letter of the Bech32 alphabet), and cuts and extensions. */
function damaged(text: string): string[] {
  const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
  const out: string[] = [];
  const upper = text === text.toUpperCase();
  for (let i = 0; i < text.length; i++) {
    const lower = text[i]!.toLowerCase();
    const index = alphabet.indexOf(lower);
    const replacement = index >= 0 ? alphabet[(index + 1) % 32]! : 'q';
    out.push(text.slice(0, i) + (upper ? replacement.toUpperCase() : replacement) + text.slice(i + 1));
  }
  out.push(text.slice(0, -1), text + (upper ? 'Q' : 'q'), text.slice(0, -7) + text.slice(-6), text.toLowerCase(), text.toUpperCase());
  out.push(text.slice(0, 10) + text.slice(10).toLowerCase(), text.slice(0, 20) + text.slice(20).toUpperCase());
  return out;
}

/** A Bech32 encoder (BIP 173's reference, written out), to make strings the decoder must refuse. */
function encodeBech32(prefix: string, words: readonly number[]): string {
  const lower = prefix.toLowerCase();
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  const polymod = (values: number[]) => {
    let chk = 1;
    for (const v of values) {
      const b = chk >>> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= gen[i]!;
    }
    return chk;
  };
  const codes = [...lower].map((c) => c.charCodeAt(0));
  const values = [...codes.map((c) => c >> 5), 0, ...codes.map((c) => c & 31), ...words, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${lower}1${[...words, ...checksum].map((w) => 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'[w]).join('')}`;
}

function toWords(bytes: Uint8Array): number[] {
  const words: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  return words;
}

let x25519: { identity: string; recipient: string };
let hybrid: { identity: string; recipient: string };

beforeAll(async () => {
  const identity = await generateX25519Identity();
  x25519 = { identity, recipient: await identityToRecipient(identity) };
  const pq = await generateHybridIdentity();
  hybrid = { identity: pq, recipient: await identityToRecipient(pq) };
});

describe('age key checks without the age library', () => {
  it('accepts real keys of each type, and names the type', () => {
    expect(ageRecipientType(x25519.recipient)).toBe('X25519');
    expect(ageRecipientType(hybrid.recipient)).toBe('mlkem768x25519');
    expect(ageIdentityType(x25519.identity)).toBe('X25519');
    expect(ageIdentityType(hybrid.identity)).toBe('mlkem768x25519');
    // The recipient in age's README.
    expect(ageRecipientType('age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p')).toBe('X25519');
  });

  it('agrees with age-encryption on every damaged recipient and identity', () => {
    const recipients = [x25519.recipient, hybrid.recipient, ...damaged(x25519.recipient), ...damaged(hybrid.recipient).slice(0, 40), 'age1', 'age1pq1', 'age1tag1q', 'age1tagpq1qq', 'age', ''];
    for (const text of recipients) expect({ text, ours: ageRecipientType(text) !== undefined }).toEqual({ text, ours: libraryAcceptsRecipient(text) });
    const identities = [x25519.identity, hybrid.identity, ...damaged(x25519.identity), ...damaged(hybrid.identity), 'AGE-SECRET-KEY-1', 'AGE-SECRET-KEY-PQ-1', x25519.recipient, ''];
    for (const text of identities) expect({ text, ours: ageIdentityType(text) !== undefined }).toEqual({ text, ours: libraryAcceptsIdentity(text) });
  });

  it('refuses a public key given as an identity and the reverse', () => {
    expect(ageIdentityType(x25519.recipient)).toBeUndefined();
    expect(ageRecipientType(x25519.identity)).toBeUndefined();
    expect(ageRecipientType(hybrid.identity)).toBeUndefined();
  });

  it('decodes Bech32 (BIP 173 test vectors) and refuses what is not Bech32', () => {
    expect(decodeBech32('A12UEL5L')).toEqual({ prefix: 'a', bytes: new Uint8Array() });
    expect(decodeBech32('a12uel5l')).toEqual({ prefix: 'a', bytes: new Uint8Array() });
    expect(decodeBech32('abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw')?.prefix).toBe('abcdef');
    expect(decodeBech32('split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w')?.prefix).toBe('split');
    expect(decodeBech32('?1ezyfcl')).toEqual({ prefix: '?', bytes: new Uint8Array() });
    // BIP 173's invalid strings: prefix character out of range, no separator, empty prefix, bad character,
    // too short a checksum, mixed case, bad checksum.
    for (const bad of ['\x201nwldj5', '\x7f1axkwrx', 'pzry9x0s0muk', '1pzry9x0s0muk', 'x1b4n0q5v', 'li1dgmt3', 'A1G7SGD8', '10a06t8', '1qzzfhee', 'A12uEL5L', 'a12uel5m']) {
      expect({ bad, decoded: decodeBech32(bad) }).toEqual({ bad, decoded: undefined });
    }
  });

  it('refuses payloads with padding bits set or a whole spare word, and keys of the wrong length', () => {
    // 32 bytes take 52 words with 4 spare bits; setting one of them, or two more words (6 spare bits), is not Bech32 (BIP 173).
    const words = toWords(new Uint8Array(32).fill(7));
    expect(decodeBech32(encodeBech32('age', words))?.bytes).toEqual(new Uint8Array(32).fill(7));
    expect(ageRecipientType(encodeBech32('age', words))).toBe('X25519');
    expect(decodeBech32(encodeBech32('age', [...words.slice(0, -1), words.at(-1)! | 1]))).toBeUndefined();
    expect(decodeBech32(encodeBech32('age', [...words, 0, 0]))).toBeUndefined();
    // Valid Bech32 with 'age' and 31 or 33 bytes is not an X25519 recipient.
    expect(ageRecipientType(encodeBech32('age', toWords(new Uint8Array(31))))).toBeUndefined();
    expect(ageRecipientType(encodeBech32('age', toWords(new Uint8Array(33))))).toBeUndefined();
    // The right length under another prefix is not either.
    expect(ageRecipientType(encodeBech32('agf', words))).toBeUndefined();
    expect(ageIdentityType(encodeBech32('AGE-SECRET-KEY-', words).toUpperCase())).toBe('X25519');
    expect(ageIdentityType(encodeBech32('AGE-SECRET-KEY-', toWords(new Uint8Array(33))).toUpperCase())).toBeUndefined();
    // Exactly 5 spare bits (one word, no byte) is a whole spare word: refused.
    expect(decodeBech32(encodeBech32('a', [0]))).toBeUndefined();
    expect(decodeBech32(encodeBech32('a', [0, 0]))?.bytes).toEqual(new Uint8Array(1));
  });

  it('takes prefixes of any printable ASCII, from ! to ~', () => {
    expect(decodeBech32(encodeBech32('!', []))?.prefix).toBe('!');
    expect(decodeBech32(encodeBech32('~', []))?.prefix).toBe('~');
  });

  it('knows the P-256 tag recipients (age1tag1…, age1tagpq1…) by prefix and length, as age-encryption does', () => {
    const cases: [string, number, string | undefined][] = [
      ['age1tag', 33, 'p256tag'],
      ['age1tag', 32, undefined],
      ['age1tagpq', 1249, 'mlkem768p256tag'],
      ['age1tagpq', 1248, undefined],
      ['age1pq', 1216, 'mlkem768x25519'],
      ['age1pq', 1249, undefined],
    ];
    for (const [prefix, length, type] of cases) {
      const text = encodeBech32(prefix, toWords(new Uint8Array(length).fill(3)));
      expect({ text: text.slice(0, 12), length, ours: ageRecipientType(text) }).toEqual({ text: text.slice(0, 12), length, ours: type });
      expect({ length, library: libraryAcceptsRecipient(text) }).toEqual({ length, library: type !== undefined });
    }
  });
});
