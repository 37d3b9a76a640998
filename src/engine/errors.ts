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

export function errorMessage(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}
