/**
 * Sealing and signing manifests on backup, and on restore checking them before anything else
 * (docs/encryption.md). The decisions are pure (domain/sealing.ts); this adds the cryptography.
 */
import type { Transform } from 'node:stream';
import type { ArtifactRecord, Manifest } from '../../domain/manifest.js';
import { RestoreRefused } from '../../domain/restore-authorization.js';
import { joinSealed, judgeSignature, parseSealedPart, SealMismatchError, signingPayload, splitForSealing, type SignatureStatus } from '../../domain/sealing.js';
import { LifeboatError } from '../errors.js';
import { createAgeDecryptor, decryptBytes, encryptBytes, NoMatchingIdentityError } from './age-stream.js';
import { recipientsOf, signBytes, verifyBytes, type AgeIdentities, type SigningKey, type VerificationKey } from './keys.js';

/** What a backup encrypts to and signs with. */
export interface BackupKeys {
  recipients?: readonly string[];
  signingKey?: SigningKey;
  /** Only to read the previous backup's sealed media list, so unchanged media is not read again. */
  identities?: AgeIdentities;
}

/** What a restore (or anything reading whole manifests) decrypts with and trusts. */
export interface ReadKeys {
  identities?: AgeIdentities;
  trustedKeys: readonly VerificationKey[];
}

/** The manifest to store: sealed when there are recipients, then signed when there is a signing key. */
export async function sealAndSign(manifest: Manifest, keys: BackupKeys): Promise<Manifest> {
  let stored = manifest;
  if (keys.recipients?.length) {
    const { readable, sealed } = splitForSealing(manifest);
    const ciphertext = await encryptBytes(JSON.stringify(sealed), keys.recipients);
    stored = { ...readable, encryption: { scheme: 'age', recipients: [...keys.recipients], sealed: ciphertext.toString('base64') } };
  }
  if (keys.signingKey) {
    const value = signBytes(Buffer.from(signingPayload(stored)), keys.signingKey);
    stored = { ...stored, signature: { algorithm: 'ed25519', keyId: keys.signingKey.keyId, value } };
  }
  return stored;
}

export function signatureStatus(manifest: Manifest, trustedKeys: readonly VerificationKey[]): SignatureStatus {
  const signature = manifest.signature;
  if (!signature) return { kind: 'unsigned' };
  const key = trustedKeys.find((k) => k.keyId === signature.keyId);
  if (!key) return { kind: 'unknown-key', keyId: signature.keyId };
  return verifyBytes(Buffer.from(signingPayload(manifest)), signature.value, key) ? { kind: 'verified', keyId: signature.keyId } : { kind: 'invalid', keyId: signature.keyId };
}

/**
 * The whole manifest of a stored one, once it is trusted: its signature judged for the target space, and
 * its sealed part decrypted and shown to belong to it. Refuses otherwise, before anything is touched.
 */
export async function openManifest(
  manifest: Manifest,
  keys: ReadKeys,
  context: { targetSpace: string; signatureRequired: boolean; identityInput?: string },
  warn: (message: string) => void,
): Promise<{ manifest: Manifest; signature: SignatureStatus }> {
  const backup = `${manifest.space}/${manifest.id}`;
  const status = signatureStatus(manifest, keys.trustedKeys);
  const judgement = judgeSignature(status, backup, context.targetSpace, context.signatureRequired, keys.trustedKeys.length);
  if (!judgement.ok) throw new RestoreRefused({ reason: `${judgement.message} Nothing was changed.`, fix: judgement.fix! });
  if (judgement.message) warn(judgement.message);
  if (!manifest.encryption) return { manifest, signature: status };
  const input = context.identityInput ?? 'encryption-identity';
  const to = manifest.encryption.recipients.join(', ');
  if (!keys.identities) {
    throw new RestoreRefused({
      reason: `Backup ${backup} is encrypted (to ${to}), and '${input}' is not given. Nothing was changed.`,
      fix: `Set '${input}' to the age secret key of one of those recipients.`,
    });
  }
  let plaintext: Buffer;
  try {
    plaintext = await decryptBytes(Buffer.from(manifest.encryption.sealed, 'base64'), keys.identities.identities);
  } catch (error) {
    if (error instanceof NoMatchingIdentityError) {
      throw new RestoreRefused({
        reason:
          `Backup ${backup} is encrypted to ${to}, and the identity in '${input}' (public key ${(await recipientsOf(keys.identities)).join(', ')}) is not one of them: wrong identity. Nothing was changed.`,
        fix: `Give the age secret key of one of ${to}. After a key rotation, backups made before it need the old identity.`,
      });
    }
    throw new RestoreRefused({
      reason: `The sealed part of backup ${backup}'s manifest cannot be decrypted (${(error as Error).message}): it was damaged or tampered with. Nothing was changed.`,
      fix: 'Restore another backup, and find out who can write to the backup bucket.',
    });
  }
  try {
    return { manifest: joinSealed(manifest, parseSealedPart(plaintext.toString('utf8'))), signature: status };
  } catch (error) {
    if (!(error instanceof SealMismatchError)) throw error;
    throw new RestoreRefused({
      reason: `Backup ${backup} cannot be trusted: ${error.message}. Its objects were replaced or mixed with another backup's. Nothing was changed.`,
      fix: 'Restore another backup, require signed backups (signing.required-for), and find out who can write to the backup bucket.',
    });
  }
}

/** The stage that turns an artifact's stored bytes into its compressed archive: an age decryptor, or none. */
export function decryptorFor(artifact: ArtifactRecord, identities: readonly string[] | undefined): Transform | undefined {
  if (artifact.encryption !== 'age') return undefined;
  if (!identities?.length) throw new LifeboatError(`The artifact '${artifact.name}' is encrypted and no identity was given to decrypt it.`);
  return createAgeDecryptor(identities);
}
