/**
 * The shape of age keys (https://age-encryption.org/v1): Bech32 strings (BIP 173) whose prefix names the
 * key type and whose payload has that type's length. Checked here, without the age library, so that
 * reading the inputs does not load it: the library brings post-quantum code (ML-KEM) that costs a backup
 * about 20 MiB of memory, and an unencrypted backup never needs it (docs/benchmark.md). The rules are
 * age-encryption's own (its recipient and identity constructors); test/unit/age-keys.test.ts checks both
 * agree on real keys and on damaged ones.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let check = 1;
  for (const value of values) {
    const top = check >>> 25;
    check = ((check & 0x1ffffff) << 5) ^ value;
    for (let bit = 0; bit < 5; bit++) if ((top >>> bit) & 1) check ^= GENERATOR[bit]!;
  }
  return check;
}

function expandPrefix(prefix: string): number[] {
  const codes = [...prefix].map((char) => char.charCodeAt(0));
  return [...codes.map((code) => code >>> 5), 0, ...codes.map((code) => code & 31)];
}

/**
 * A Bech32 string's prefix (lower case) and payload bytes, or undefined when it is not one: mixed case,
 * a character outside the alphabet, a bad checksum, or padding bits that are not zero. No length limit
 * (age's post-quantum keys are longer than Bech32's 90 characters).
 */
export function decodeBech32(text: string): { prefix: string; bytes: Uint8Array } | undefined {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return undefined;
  const lower = text.toLowerCase();
  const separator = lower.lastIndexOf('1');
  if (separator < 1 || lower.length - separator - 1 < 6) return undefined;
  const prefix = lower.slice(0, separator);
  for (const char of prefix) {
    const code = char.charCodeAt(0);
    if (code < 33 || code > 126) return undefined;
  }
  const words: number[] = [];
  for (const char of lower.slice(separator + 1)) {
    const word = CHARSET.indexOf(char);
    if (word < 0) return undefined;
    words.push(word);
  }
  if (polymod([...expandPrefix(prefix), ...words]) !== 1) return undefined;
  // The payload: 5-bit words to bytes; what is left over must be fewer than 5 bits, all zero.
  const bytes: number[] = [];
  let accumulator = 0;
  let bits = 0;
  for (const word of words.slice(0, -6)) {
    accumulator = (accumulator << 5) | word;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((accumulator >>> bits) & 0xff);
    }
  }
  if (bits >= 5 || (accumulator & ((1 << bits) - 1)) !== 0) return undefined;
  return { prefix, bytes: Uint8Array.from(bytes) };
}

export type AgeRecipientType = 'X25519' | 'mlkem768x25519' | 'p256tag' | 'mlkem768p256tag';
export type AgeIdentityType = 'X25519' | 'mlkem768x25519';

/** The recipient types age-encryption encrypts to: the string's start, its Bech32 prefix, its key's length. */
const RECIPIENT_TYPES: readonly { start: string; prefix: string; bytes: number; type: AgeRecipientType }[] = [
  { start: 'age1pq1', prefix: 'age1pq', bytes: 1216, type: 'mlkem768x25519' },
  { start: 'age1tag1', prefix: 'age1tag', bytes: 33, type: 'p256tag' },
  { start: 'age1tagpq1', prefix: 'age1tagpq', bytes: 1249, type: 'mlkem768p256tag' },
  { start: 'age1', prefix: 'age', bytes: 32, type: 'X25519' },
];

const IDENTITY_TYPES: readonly { start: string; prefix: string; bytes: number; type: AgeIdentityType }[] = [
  { start: 'AGE-SECRET-KEY-PQ-1', prefix: 'age-secret-key-pq-', bytes: 32, type: 'mlkem768x25519' },
  { start: 'AGE-SECRET-KEY-1', prefix: 'age-secret-key-', bytes: 32, type: 'X25519' },
];

function typeOf<T>(text: string, types: readonly { start: string; prefix: string; bytes: number; type: T }[]): T | undefined {
  // The first type whose start matches decides, as in age-encryption (age1pq1… is never tried as X25519).
  const candidate = types.find((entry) => text.startsWith(entry.start));
  if (!candidate) return undefined;
  const decoded = decodeBech32(text);
  return decoded?.prefix === candidate.prefix && decoded.bytes.length === candidate.bytes ? candidate.type : undefined;
}

/** The type of an age recipient (public key, `age1…`), or undefined when it is not one age-encryption accepts. */
export function ageRecipientType(text: string): AgeRecipientType | undefined {
  return typeOf(text, RECIPIENT_TYPES);
}

/** The type of an age identity (secret key, `AGE-SECRET-KEY-…`), or undefined when it is not one age-encryption accepts. */
export function ageIdentityType(text: string): AgeIdentityType | undefined {
  return typeOf(text, IDENTITY_TYPES);
}
