/**
 * The SSH proxy's host key fingerprint, as Cloud Foundry advertises it (`app_ssh_host_key_fingerprint`
 * in /v2/info), and the check of a host key against it: the same formats and the same exact
 * comparison as the cf CLI (cloudfoundry/cli util/clissh/ssh.go, fingerprintCallback), which tells
 * the format by the text's length:
 *
 *   43 characters  SHA-256, base64 without padding (what CredHub-generated keys advertise)
 *   64 characters  SHA-256, lowercase hex
 *   59 characters  SHA-1, lowercase hex bytes joined by ':'
 *   47 characters  MD5, lowercase hex bytes joined by ':'
 *
 * The hash is over the key's SSH wire encoding (the blob ssh2's hostVerifier receives, Go's
 * ssh.PublicKey.Marshal()). Nothing is normalised: a fingerprint the cf CLI would refuse is refused.
 */
import { createHash } from 'node:crypto';

export type FingerprintFormat = 'sha256-base64' | 'sha256-hex' | 'sha1-colon-hex' | 'md5-colon-hex';

/** The cf CLI's lengths (base64Sha256FingerprintLength, sha256FingerprintLength, hexSha1FingerprintLength, md5FingerprintLength). */
const FORMAT_BY_LENGTH: ReadonlyMap<number, FingerprintFormat> = new Map([
  [43, 'sha256-base64'],
  [64, 'sha256-hex'],
  [59, 'sha1-colon-hex'],
  [47, 'md5-colon-hex'],
]);

export class FingerprintError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FingerprintError';
  }
}

/** The format of an advertised fingerprint; throws a FingerprintError for an empty or unknown one. */
export function fingerprintFormat(advertised: string): FingerprintFormat {
  if (advertised.length === 0) {
    throw new FingerprintError(
      "The Cloud Foundry API advertises no SSH host key fingerprint (app_ssh_host_key_fingerprint in /v2/info is empty), so the SSH proxy's identity cannot be verified.",
    );
  }
  const format = FORMAT_BY_LENGTH.get(advertised.length);
  if (!format) {
    throw new FingerprintError(
      `The SSH host key fingerprint the Cloud Foundry API advertises ('${advertised}') is in no format Lifeboat knows: ` +
        'expected SHA-256 in base64 without padding (43 characters) or in hex (64), or SHA-1 (59) or MD5 (47) in colon-separated hex, as the cf CLI accepts.',
    );
  }
  return format;
}

function colonHex(digest: Buffer): string {
  return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** The fingerprint of a host key (its SSH wire encoding) in one format. */
export function fingerprintOf(hostKey: Uint8Array, format: FingerprintFormat): string {
  switch (format) {
    case 'sha256-base64':
      // 32 bytes are 43 base64 characters and one '=' of padding, which Go's RawStdEncoding leaves out.
      return createHash('sha256').update(hostKey).digest('base64').slice(0, 43);
    case 'sha256-hex':
      return createHash('sha256').update(hostKey).digest('hex');
    case 'sha1-colon-hex':
      return colonHex(createHash('sha1').update(hostKey).digest());
    case 'md5-colon-hex':
      return colonHex(createHash('md5').update(hostKey).digest());
  }
}

export type HostKeyVerdict = { ok: true } | { ok: false; received: string; advertised: string; format: FingerprintFormat };

/** Compares a host key with the advertised fingerprint, in the advertised fingerprint's format, exactly. */
export function verifyHostKey(hostKey: Uint8Array, advertised: string): HostKeyVerdict {
  const format = fingerprintFormat(advertised);
  const received = fingerprintOf(hostKey, format);
  return received === advertised ? { ok: true } : { ok: false, received, advertised, format };
}

/** The refusal's words: "host key" and "fingerprint", both fingerprints, and what to check. */
export function hostKeyMismatchMessage(endpoint: string, verdict: { received: string; advertised: string; format: FingerprintFormat }): string {
  return (
    `Refused the SSH proxy at ${endpoint}: its host key's fingerprint (${verdict.format}) is ${verdict.received}, ` +
    `but the Cloud Foundry API advertises the fingerprint ${verdict.advertised} (app_ssh_host_key_fingerprint). ` +
    'No credential was sent. Either something between this runner and the platform is impersonating the SSH proxy, ' +
    "or the platform rotated its host key: compare with `cf curl /v2/info` and the platform's announcements before running again."
  );
}
