import { describe, expect, it } from 'vitest';
import { mayFallBack, resolveSslMode, SSL_MODES, sslAttempts, SslModeError, type SslAttempt } from '../../src/domain/ssl-mode.js';

const SOURCE = "Input 'database-url'";

describe('resolveSslMode: the URL, then requiressl, then PGSSLMODE, then prefer (libpq order)', () => {
  it.each(SSL_MODES)('takes sslmode=%s', (mode) => {
    expect(resolveSslMode({ sslmode: mode, requiressl: '0', environment: 'disable' }, SOURCE)).toBe(mode);
  });

  it('lists the six libpq modes', () => {
    expect(SSL_MODES).toEqual(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);
  });

  it('refuses an unknown sslmode, naming the input and the choices', () => {
    expect(() => resolveSslMode({ sslmode: 'no-verify' }, SOURCE)).toThrow(SslModeError);
    expect(() => resolveSslMode({ sslmode: 'no-verify' }, SOURCE)).toThrow(
      "Input 'database-url' has sslmode=no-verify, which is not an SSL mode. Use one of: disable, allow, prefer, require, verify-ca, verify-full.",
    );
    expect(() => resolveSslMode({ sslmode: '' }, SOURCE)).toThrow(SslModeError);
  });

  it('reads the legacy requiressl when there is no sslmode', () => {
    expect(resolveSslMode({ requiressl: '1', environment: 'disable' }, SOURCE)).toBe('require');
    expect(resolveSslMode({ requiressl: '0', environment: 'verify-full' }, SOURCE)).toBe('prefer');
    expect(() => resolveSslMode({ requiressl: 'yes' }, SOURCE)).toThrow("Input 'database-url' has requiressl=yes; it can only be 0 or 1 (better: sslmode=require).");
  });

  it('falls back to PGSSLMODE, then prefer', () => {
    expect(resolveSslMode({ environment: 'verify-ca' }, SOURCE)).toBe('verify-ca');
    expect(resolveSslMode({ environment: '' }, SOURCE)).toBe('prefer');
    expect(resolveSslMode({}, SOURCE)).toBe('prefer');
    expect(() => resolveSslMode({ environment: 'on' }, SOURCE)).toThrow(
      "The environment variable PGSSLMODE is 'on', which is not an SSL mode. Use one of: disable, allow, prefer, require, verify-ca, verify-full, or unset it.",
    );
  });

  it('names its errors', () => {
    expect(new SslModeError('m').name).toBe('SslModeError');
  });
});

describe('sslAttempts', () => {
  const plain: SslAttempt = { tls: false };
  const tls = (verify: 'none' | 'ca' | 'full'): SslAttempt => ({ tls: true, verify });

  it.each([
    ['disable', false, [plain]],
    ['disable', true, [plain]],
    ['allow', false, [plain, tls('none')]],
    ['prefer', false, [tls('none'), plain]],
    ['prefer', true, [tls('none'), plain]],
    ['require', false, [tls('none')]],
    ['require', true, [tls('ca')]],
    ['verify-ca', false, [tls('ca')]],
    ['verify-full', false, [tls('full')]],
    ['verify-full', true, [tls('full')]],
  ] as const)('%s (root certificate: %s)', (mode, rootCertificate, expected) => {
    expect(sslAttempts(mode, { rootCertificate })).toEqual(expected);
  });
});

describe('mayFallBack: only where libpq does', () => {
  const plain: SslAttempt = { tls: false };
  const tls: SslAttempt = { tls: true, verify: 'none' };
  it('prefer: from TLS to plain only when the server has no TLS', () => {
    expect(mayFallBack('prefer', tls, { serverHasNoTls: true })).toBe(true);
    expect(mayFallBack('prefer', tls, { serverHasNoTls: false, sqlstate: '28P01' })).toBe(false);
    expect(mayFallBack('prefer', plain, { serverHasNoTls: true })).toBe(false);
  });
  it('allow: from plain to TLS only when pg_hba.conf refused the plain connection', () => {
    expect(mayFallBack('allow', plain, { serverHasNoTls: false, sqlstate: '28000' })).toBe(true);
    expect(mayFallBack('allow', plain, { serverHasNoTls: false, sqlstate: '28P01' })).toBe(false);
    expect(mayFallBack('allow', plain, { serverHasNoTls: false })).toBe(false);
    expect(mayFallBack('allow', tls, { serverHasNoTls: false, sqlstate: '28000' })).toBe(false);
  });
  it.each(['disable', 'require', 'verify-ca', 'verify-full'] as const)('%s never falls back', (mode) => {
    expect(mayFallBack(mode, tls, { serverHasNoTls: true, sqlstate: '28000' })).toBe(false);
    expect(mayFallBack(mode, plain, { serverHasNoTls: true, sqlstate: '28000' })).toBe(false);
  });
});
