/**
 * libpq's sslmode, for node-postgres too. pg_dump, pg_restore and psql read sslmode from the
 * environment and give it libpq's meaning; node-postgres reads `sslmode=require` in a URL as full
 * certificate verification. Lifeboat's own connections follow libpq, so a URL means the same thing
 * to every part of a backup (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION):
 *
 *   disable      no TLS
 *   allow        no TLS; if the server refuses that, TLS without verification
 *   prefer       TLS without verification; if the server has no TLS, none (libpq's default)
 *   require      TLS without verification (encrypted; the certificate is not checked), except that
 *                with a root certificate given it verifies the chain, as verify-ca (libpq's backward compatibility)
 *   verify-ca    TLS; the certificate must chain to the root certificate; the host name is not checked
 *   verify-full  TLS; chain and host name are checked
 *
 * The legacy requiressl=1 means require when no sslmode is given.
 */

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** One way to try a connection: plain, or TLS checking nothing, the chain, or the chain and the host name. */
export type SslAttempt = { tls: false } | { tls: true; verify: 'none' | 'ca' | 'full' };

export class SslModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SslModeError';
  }
}

function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

/**
 * The mode from the URL's sslmode, else its requiressl, else the environment's PGSSLMODE (as libpq
 * reads it), else prefer. `source` names where a bad value came from, for the error.
 */
export function resolveSslMode(settings: { sslmode?: string; requiressl?: string; environment?: string }, source: string): SslMode {
  if (settings.sslmode !== undefined) {
    if (isSslMode(settings.sslmode)) return settings.sslmode;
    throw new SslModeError(`${source} has sslmode=${settings.sslmode}, which is not an SSL mode. Use one of: ${SSL_MODES.join(', ')}.`);
  }
  if (settings.requiressl !== undefined) {
    if (settings.requiressl === '1') return 'require';
    if (settings.requiressl === '0') return 'prefer';
    throw new SslModeError(`${source} has requiressl=${settings.requiressl}; it can only be 0 or 1 (better: sslmode=require).`);
  }
  if (settings.environment) {
    if (isSslMode(settings.environment)) return settings.environment;
    throw new SslModeError(`The environment variable PGSSLMODE is '${settings.environment}', which is not an SSL mode. Use one of: ${SSL_MODES.join(', ')}, or unset it.`);
  }
  return 'prefer';
}

/**
 * The connections to try, in order, for a mode. `rootCertificate` says whether a root certificate
 * was given (sslrootcert), which turns require into verify-ca as in libpq.
 */
export function sslAttempts(mode: SslMode, options: { rootCertificate: boolean }): SslAttempt[] {
  switch (mode) {
    case 'disable':
      return [{ tls: false }];
    case 'allow':
      return [{ tls: false }, { tls: true, verify: 'none' }];
    case 'prefer':
      return [{ tls: true, verify: 'none' }, { tls: false }];
    case 'require':
      return [{ tls: true, verify: options.rootCertificate ? 'ca' : 'none' }];
    case 'verify-ca':
      return [{ tls: true, verify: 'ca' }];
    case 'verify-full':
      return [{ tls: true, verify: 'full' }];
  }
}

/**
 * Whether a failed attempt may be followed by the next one, as libpq falls back: prefer, only when
 * the server has no TLS at all; allow, only when the server refused the plain connection (pg_hba.conf
 * has no entry for it: SQLSTATE 28000). Anything else (a wrong password, an unreachable host, a
 * certificate problem) is the answer.
 */
export function mayFallBack(mode: SslMode, failed: SslAttempt, failure: { sqlstate?: string; serverHasNoTls: boolean }): boolean {
  if (mode === 'prefer' && failed.tls) return failure.serverHasNoTls;
  if (mode === 'allow' && !failed.tls) return failure.sqlstate === '28000';
  return false;
}
