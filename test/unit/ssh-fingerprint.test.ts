import { describe, expect, it } from 'vitest';
import {
  FingerprintError,
  fingerprintFormat,
  fingerprintOf,
  hostKeyMismatchMessage,
  verifyHostKey,
} from '../../src/domain/ssh-fingerprint.js';

// An ed25519 public key and its fingerprints as OpenSSH's ssh-keygen -l -E {sha256,sha1,md5} and
// sha256sum/sha1sum/md5sum of the decoded blob print them: an independent implementation.
const KEY = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIEJKNXsvjjRN9AHyaEPMcM8bXxrWLRO6uIst6JTlGSIJ', 'base64');
const SHA256_BASE64 = 'kV+U8M2uEpDMTTzRxmgPDSw0MIS2NtEPG9YbLfdtVRc';
const SHA256_HEX = '915f94f0cdae1290cc4d3cd1c6680f0d2c343084b636d10f1bd61b2df76d5517';
const SHA1_COLON = '55:73:4a:c8:81:a9:2d:c4:0c:51:11:de:7f:ad:ce:50:ec:c5:06:b6';
const MD5_COLON = 'e3:52:2e:20:79:3e:4e:a2:f9:ce:b0:c3:0d:7b:fe:c4';

// Another key, for mismatches.
const OTHER = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOeHQJ7Ejs7pJz0vI6Lr0Rk5XeV9m1mJc4aH1o3D8s2X', 'base64');

describe('fingerprintFormat: the format by length, as the cf CLI tells it', () => {
  it.each([
    [SHA256_BASE64, 'sha256-base64', 43],
    [SHA256_HEX, 'sha256-hex', 64],
    [SHA1_COLON, 'sha1-colon-hex', 59],
    [MD5_COLON, 'md5-colon-hex', 47],
  ] as const)('%s is %s (%i characters)', (text, format, length) => {
    expect(text).toHaveLength(length);
    expect(fingerprintFormat(text)).toBe(format);
  });

  it('an empty fingerprint cannot verify anything', () => {
    expect(() => fingerprintFormat('')).toThrow(FingerprintError);
    expect(() => fingerprintFormat('')).toThrow(/advertises no SSH host key fingerprint.*app_ssh_host_key_fingerprint.*cannot be verified/);
  });

  it.each([
    ['SHA256:' + SHA256_BASE64], // OpenSSH's prefix: the cf CLI does not accept it either
    [SHA256_BASE64 + '='], // padded base64
    [SHA256_HEX.slice(1)],
    [MD5_COLON + ':'],
    ['x'],
  ])('%s is no known format', (text) => {
    expect(() => fingerprintFormat(text)).toThrow(FingerprintError);
    expect(() => fingerprintFormat(text)).toThrow(`('${text}') is in no format Lifeboat knows`);
    expect(() => fingerprintFormat(text)).toThrow(/base64 without padding \(43 characters\) or in hex \(64\), or SHA-1 \(59\) or MD5 \(47\)/);
  });

  it('errors are FingerprintErrors by name', () => {
    expect(new FingerprintError('m').name).toBe('FingerprintError');
    expect(new FingerprintError('m').message).toBe('m');
  });
});

describe('fingerprintOf: each format of a known key', () => {
  it('matches ssh-keygen and the *sum tools', () => {
    expect(fingerprintOf(KEY, 'sha256-base64')).toBe(SHA256_BASE64);
    expect(fingerprintOf(KEY, 'sha256-hex')).toBe(SHA256_HEX);
    expect(fingerprintOf(KEY, 'sha1-colon-hex')).toBe(SHA1_COLON);
    expect(fingerprintOf(KEY, 'md5-colon-hex')).toBe(MD5_COLON);
  });

  it('pads single hex digits with a zero in colon form', () => {
    // Hashes of many blobs: every byte is two digits, and there are (bytes - 1) colons.
    for (let i = 0; i < 50; i++) {
      const blob = Buffer.from([i, i * 7, 255 - i]);
      expect(fingerprintOf(blob, 'md5-colon-hex')).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/);
      expect(fingerprintOf(blob, 'sha1-colon-hex')).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){19}$/);
      expect(fingerprintOf(blob, 'sha256-base64')).toMatch(/^[A-Za-z0-9+/]{43}$/);
      expect(fingerprintOf(blob, 'sha256-hex')).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe('verifyHostKey', () => {
  it.each([SHA256_BASE64, SHA256_HEX, SHA1_COLON, MD5_COLON])('accepts the right key against %s', (advertised) => {
    expect(verifyHostKey(KEY, advertised)).toEqual({ ok: true });
  });

  it.each([
    [SHA256_BASE64, 'sha256-base64'],
    [SHA256_HEX, 'sha256-hex'],
    [SHA1_COLON, 'sha1-colon-hex'],
    [MD5_COLON, 'md5-colon-hex'],
  ] as const)('refuses another key against %s, saying what it received', (advertised, format) => {
    expect(verifyHostKey(OTHER, advertised)).toEqual({ ok: false, received: fingerprintOf(OTHER, format), advertised, format });
  });

  it('compares exactly: uppercase hex is not the same text', () => {
    expect(verifyHostKey(KEY, SHA256_HEX.toUpperCase()).ok).toBe(false);
    expect(verifyHostKey(KEY, MD5_COLON.toUpperCase()).ok).toBe(false);
  });

  it('refuses an empty or unknown fingerprint rather than accepting any key', () => {
    expect(() => verifyHostKey(KEY, '')).toThrow(FingerprintError);
    expect(() => verifyHostKey(KEY, 'SHA256:' + SHA256_BASE64)).toThrow(FingerprintError);
  });
});

describe('hostKeyMismatchMessage', () => {
  it('says host key and fingerprint, both fingerprints, and that nothing was sent', () => {
    const message = hostKeyMismatchMessage('ssh.example:2222', { received: 'AAA', advertised: 'BBB', format: 'md5-colon-hex' });
    expect(message).toBe(
      "Refused the SSH proxy at ssh.example:2222: its host key's fingerprint (md5-colon-hex) is AAA, but the Cloud Foundry API advertises the fingerprint BBB (app_ssh_host_key_fingerprint). " +
        'No credential was sent. Either something between this runner and the platform is impersonating the SSH proxy, ' +
        "or the platform rotated its host key: compare with `cf curl /v2/info` and the platform's announcements before running again.",
    );
  });
});
