/**
 * The keys of client-side encryption and manifest signing, read from inputs (docs/encryption.md):
 *
 * - `encryption-recipients`: age public keys (`age1…`). All backup needs to encrypt; not secret.
 * - `encryption-identity`: age secret keys (`AGE-SECRET-KEY-1…`, an age-keygen key file is fine). What
 *   restore needs to decrypt. Secret: registered for masking before it is even parsed.
 * - `signing-key`: an Ed25519 private key (PKCS#8, PEM or its one base64 line, as `openssl genpkey
 *   -algorithm ed25519` writes it). The backup job signs manifests with it; it also derives the key that
 *   makes media content addresses unguessable. Secret.
 * - `signing-public-keys`: the matching public keys (SPKI, PEM or one line), for restore to verify with.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { ageIdentityType, ageRecipientType } from '../../domain/age-keys.js';
import { LifeboatError, errorMessage } from '../errors.js';
import { registerSecret } from '../secrets.js';

/** Entries of a key list: one per line (or separated by commas or spaces), `#` comments and blank lines ignored. */
function entries(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((entry) => entry.length > 0);
}

/** Registers every secret-looking entry of a key input before anything else reads it. */
function maskKeyMaterial(text: string): void {
  registerSecret(text.trim());
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.length >= 16 && !trimmed.startsWith('-----') && !trimmed.startsWith('#')) registerSecret(trimmed);
  }
}

export function parseRecipients(text: string, input = 'encryption-recipients'): string[] {
  const recipients = entries(text);
  for (const recipient of recipients) {
    if (/^AGE-SECRET-KEY-/i.test(recipient)) {
      registerSecret(recipient);
      throw new LifeboatError(
        `'${input}' holds an age secret key (AGE-SECRET-KEY-…), not a public key. Backups need only public keys: give the age1… line that \`age-keygen -y key.txt\` prints, and keep the secret key out of the backup job.`,
      );
    }
    // Checked without the age library, which only an encrypting backup loads (src/domain/age-keys.ts).
    if (ageRecipientType(recipient) === undefined) {
      throw new LifeboatError(`'${input}' has '${recipient}', which is not an age public key (age1…). Give the public key that age-keygen printed ("Public key: age1…").`);
    }
  }
  if (recipients.length === 0) throw new LifeboatError(`'${input}' is empty. Give one or more age public keys (age1…), one per line.`);
  return [...new Set(recipients)];
}

export interface AgeIdentities {
  identities: string[];
}

/** Reads and checks age identities; each is registered for masking before it is looked at. */
export function parseIdentities(text: string, input = 'encryption-identity'): AgeIdentities {
  maskKeyMaterial(text);
  const identities = entries(text);
  for (const identity of identities) registerSecret(identity);
  if (identities.length === 0) throw new LifeboatError(`'${input}' is empty. Give the age secret key (AGE-SECRET-KEY-1…, the contents of the age-keygen key file).`);
  for (const [index, identity] of identities.entries()) {
    if (identity.startsWith('age1')) {
      throw new LifeboatError(`'${input}' holds a public key (age1…) as entry ${index + 1}. Restore needs the secret key: the AGE-SECRET-KEY-1… line of the age-keygen key file.`);
    }
    if (ageIdentityType(identity) === undefined) {
      throw new LifeboatError(`Entry ${index + 1} of '${input}' is not an age secret key (AGE-SECRET-KEY-1…). Give the contents of the key file age-keygen wrote.`);
    }
  }
  return { identities };
}

/** The public key (recipient) of each identity: what they can decrypt, for messages and for encrypting to them. */
export async function recipientsOf(identities: AgeIdentities): Promise<string[]> {
  // Loaded here, not at start-up: see src/engine/crypto/age-stream.ts.
  const { identityToRecipient } = await import(/* webpackMode: "eager" */ 'age-encryption');
  return Promise.all(identities.identities.map((identity) => identityToRecipient(identity)));
}

/** A key in PEM, or the one base64 line between its BEGIN and END lines. */
function derOf(text: string): Buffer {
  const body = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('-----'))
    .join('');
  return Buffer.from(body, 'base64');
}

/** A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its SPKI encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  /** HMAC key for media content addresses, derived from the signing key so no bucket reader can compute them. */
  addressKey: Buffer;
}

export function parseSigningKey(text: string, input = 'signing-key'): SigningKey {
  maskKeyMaterial(text);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: derOf(text), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new LifeboatError(
      `'${input}' is not a private key (${errorMessage(error)}). Make one with \`openssl genpkey -algorithm ed25519 -out signing-key.pem\` and give the file's contents.`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new LifeboatError(`'${input}' is a ${privateKey.asymmetricKeyType} key; Lifeboat signs with Ed25519. Make one with \`openssl genpkey -algorithm ed25519 -out signing-key.pem\`.`);
  }
  const publicKey = createPublicKey(privateKey);
  const seed = privateKey.export({ type: 'pkcs8', format: 'der' });
  const addressKey = Buffer.from(hkdfSync('sha256', seed, 'lifeboat', 'media-content-address/v1', 32));
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), addressKey };
}

export interface VerificationKey {
  publicKey: KeyObject;
  keyId: string;
}

export function parseVerificationKeys(texts: readonly string[], input: string): VerificationKey[] {
  // PEM blocks and one-line keys may be mixed: split on END lines, then on lines.
  const pieces = texts.flatMap((text) =>
    text.includes('-----BEGIN')
      ? text.split(/-----END [A-Z ]+-----/).filter((part) => part.includes('-----BEGIN'))
      : entries(text),
  );
  return pieces.map((piece, index) => {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: derOf(piece), format: 'der', type: 'spki' });
    } catch {
      if (/PRIVATE KEY/.test(piece) || derOf(piece).length === 48) {
        maskKeyMaterial(piece);
        throw new LifeboatError(`'${input}' entry ${index + 1} is a private key. Give the public key: \`openssl pkey -in signing-key.pem -pubout\`, and keep the private key in the backup job only.`);
      }
      throw new LifeboatError(`'${input}' entry ${index + 1} is not a public key. Give the output of \`openssl pkey -in signing-key.pem -pubout\` (PEM, or its one base64 line).`);
    }
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new LifeboatError(`'${input}' entry ${index + 1} is a ${publicKey.asymmetricKeyType} key; manifests are signed with Ed25519.`);
    return { publicKey, keyId: keyIdOf(publicKey) };
  });
}

export function signBytes(data: Buffer, key: SigningKey): string {
  return sign(null, data, key.privateKey).toString('base64');
}

export function verifyBytes(data: Buffer, signature: string, key: VerificationKey): boolean {
  try {
    return verify(null, data, key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The content address of media under encryption: an HMAC of the content's SHA-256 and the recipients it
 * is encrypted to. Without the signing key nobody can tell from the bucket whether it holds a known file;
 * and content encrypted to other recipients has another address, so a new recipient gets its own copy.
 */
export function mediaContentAddress(addressKey: Buffer, recipients: readonly string[], sha256: string): string {
  return createHmac('sha256', addressKey).update(`${[...recipients].sort().join(',')}\n${sha256}`).digest('hex');
}
