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

/** The message of any error; S3 and network errors are described from their code and HTTP status (s3/errors.ts). */
export function errorMessage(error: unknown): string {
  if (error instanceof LifeboatError) return error.message;
  const described = describeS3Error(error);
  if (described !== undefined) return redact(described);
  return redact(error instanceof Error ? error.message : String(error));
}
