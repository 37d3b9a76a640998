/**
 * The encryption and signing inputs (docs/encryption.md), shared by the actions and the CLI. Key material
 * is registered for masking inside the parsers before anything else reads it.
 */
import { InputError, LifeboatError } from '../../engine/errors.js';
import { parseIdentities, parseRecipients, parseSigningKey, parseVerificationKeys } from '../../engine/crypto/keys.js';
import type { BackupKeys, ReadKeys } from '../../engine/crypto/manifest-trust.js';
import { registerSecret } from '../../engine/secrets.js';
import { optional, type InputReader } from './inputs.js';

function asInputError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof LifeboatError && !(error instanceof InputError)) throw new InputError(error.message);
    throw error;
  }
}

/** A secret input's raw value, masked before it is even trimmed or split. */
function secretText(read: InputReader, name: string): string | undefined {
  const raw = read(name);
  if (raw) registerSecret(raw.trim());
  return optional(read, name);
}

/** Backup: `encryption-recipients`, `signing-key`, and optionally `encryption-identity` (incremental media under encryption). */
export function backupKeyInputs(read: InputReader): BackupKeys | undefined {
  const signing = secretText(read, 'signing-key');
  const identity = secretText(read, 'encryption-identity');
  const recipients = optional(read, 'encryption-recipients');
  if (!signing && !identity && !recipients) return undefined;
  if (identity && !recipients) {
    // Someone who set only the identity expects encrypted backups; they would get plain ones.
    throw new InputError(
      "Input 'encryption-identity' is given to the backup but 'encryption-recipients' is not, so the backup would not be encrypted. Give 'encryption-recipients' (the age1… public keys) to encrypt; the identity is optional on backup, and only makes media backups under encryption incremental.",
    );
  }
  return asInputError(() => ({
    ...(recipients ? { recipients: parseRecipients(recipients) } : {}),
    ...(signing ? { signingKey: parseSigningKey(signing) } : {}),
    ...(identity ? { identities: parseIdentities(identity) } : {}),
  }));
}

/** Restore: `encryption-identity` and `signing-public-keys`. */
export function readKeyInputs(read: InputReader): ReadKeys | undefined {
  const identity = secretText(read, 'encryption-identity');
  const publicKeys = optional(read, 'signing-public-keys');
  if (!identity && !publicKeys) return undefined;
  return asInputError(() => ({
    ...(identity ? { identities: parseIdentities(identity) } : {}),
    trustedKeys: publicKeys ? parseVerificationKeys([publicKeys], 'signing-public-keys') : [],
  }));
}
