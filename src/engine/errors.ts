import { describeS3Error } from './s3/errors.js';
import { redact } from './secrets.js';

/**
 * An error the user can fix: bad input, a missing tool, a refused operation. Its message names
 * the input or condition and says what to do. Anything else that escapes is a bug or an outage.
 */
export class LifeboatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = 'LifeboatError';
  }
}

/**
 * A LifeboatError about an input's value itself: missing, not one of the allowed values, not a number, not
 * a backup id. Nothing was attempted. The CLI exits 2 for it (a usage error), not 1 (a failed operation).
 */
export class InputError extends LifeboatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}

/** The message of any error; S3 and network errors are described from their code and HTTP status (s3/errors.ts). */
export function errorMessage(error: unknown): string {
  if (error instanceof LifeboatError) return error.message;
  const described = describeS3Error(error);
  if (described !== undefined) return redact(described);
  return redact(error instanceof Error ? error.message : String(error));
}

/**
 * Why a network request failed, from the error's codes (Node's `code`, fetch's `cause.code`, the SDK's
 * `name`), never only its text: fetch says nothing but "fetch failed". Undefined when it is no network failure.
 */
export function networkFailure(error: unknown): string | undefined {
  const codes: string[] = [];
  for (let e = error as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown[] } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.name === 'string') codes.push(e.name);
    for (const inner of Array.isArray(e.errors) ? e.errors : []) {
      const code = (inner as { code?: unknown }).code;
      if (typeof code === 'string') codes.push(code);
    }
  }
  const has = (...wanted: string[]) => codes.find((c) => wanted.includes(c));
  let code: string | undefined;
  if ((code = has('ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME'))) return `its host name cannot be resolved (${code})`;
  if ((code = has('ECONNREFUSED'))) return `nothing accepts connections there (${code})`;
  if ((code = has('EHOSTUNREACH', 'ENETUNREACH'))) return `it cannot be reached from this machine (${code})`;
  if ((code = has('ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'TimeoutError', 'ESOCKETTIMEDOUT'))) return `the connection timed out (${code}): a firewall, or a wrong address`;
  if ((code = has('ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'))) return `the connection was cut (${code})`;
  if ((code = codes.find((c) => /CERT|SELF_SIGNED|TLS|SSL/i.test(c)))) return `its TLS certificate is not trusted (${code})`;
  return undefined;
}
