/**
 * Retrying an S3 transfer as a whole. The SDK already retries a single request that fails outright
 * (resets, 5xx, throttling), but not a response whose body breaks off or arrives short: that surfaces
 * later, as a stream error or a checksum that does not match. A whole-object copy is cheap to start
 * again, so it is retried, with backoff, for anything but a refusal that will not change (4xx).
 */
export interface RetryPolicy {
  attempts: number;
  /** Delay before the second attempt; doubled for each one after it. */
  firstDelayMs: number;
}

export const TRANSFER_RETRIES: RetryPolicy = { attempts: 4, firstDelayMs: 250 };

/** A 4xx other than timeouts and throttling: the same request will be refused again. */
export function isPermanentS3Failure(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export async function withRetries<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy = TRANSFER_RETRIES, onRetry?: (error: unknown, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || isPermanentS3Failure(error)) throw error;
      onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, policy.firstDelayMs * 2 ** (attempt - 1)));
    }
  }
}
