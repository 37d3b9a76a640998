/**
 * Waiting without fixed sleeps: poll a condition with exponential backoff until it is met or a
 * deadline passes. Used for Cloud Foundry jobs and for fresh IAM keys that S3 does not know yet.
 */

export interface Backoff {
  /** First wait, in ms. */
  initialMs: number;
  /** Each wait is the previous one times this. */
  factor: number;
  /** Longest single wait, in ms. */
  maxMs: number;
  /** Give up after this long, in ms. */
  timeoutMs: number;
}

export const JOB_BACKOFF: Backoff = { initialMs: 250, factor: 1.6, maxMs: 5_000, timeoutMs: 5 * 60_000 };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `attempt` until it returns a value other than undefined, waiting a growing interval
 * between calls. When the deadline passes, calls `onTimeout` and throws what it returns.
 */
export async function pollUntil<T>(
  attempt: (tries: number) => Promise<T | undefined>,
  backoff: Backoff,
  onTimeout: (elapsedMs: number) => Error,
): Promise<T> {
  const started = Date.now();
  let wait = backoff.initialMs;
  for (let tries = 1; ; tries++) {
    const result = await attempt(tries);
    if (result !== undefined) return result;
    const elapsed = Date.now() - started;
    if (elapsed >= backoff.timeoutMs) throw onTimeout(elapsed);
    await sleep(Math.min(wait, backoff.timeoutMs - elapsed));
    wait = Math.min(wait * backoff.factor, backoff.maxMs);
  }
}
