/**
 * Cancellation. A cancelled GitHub Actions job gets SIGINT, then SIGTERM 7.5 s later, then SIGKILL
 * 2.5 s after that; `kill` and Ctrl-C send the same signals to the CLI. Node's default for both is to
 * exit at once, which would leave pg_dump running and multipart uploads open (their parts stay billed,
 * and nothing ever removes them).
 *
 * So the entry points run an operation inside `cancellable`: one AbortController for the operation,
 * aborted by the first SIGINT or SIGTERM with a CancelledError as its reason. The operation passes the
 * signal down: it stops pg_dump, and the S3 clients made with it fail every request at once, except
 * AbortMultipartUpload (see s3/client.ts), so every open multipart upload is aborted on the way out.
 * The operation then fails with the CancelledError: the run is never mistaken for a success.
 */
import { setMaxListeners } from 'node:events';
import { LifeboatError } from './errors.js';
import type { Logger } from './logger.js';

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
export type CancelSignal = keyof typeof SIGNAL_NUMBERS;

/** The reason an operation stopped: a signal, not a fault. */
export class CancelledError extends LifeboatError {
  constructor(
    readonly signalName: CancelSignal,
    operation: string,
    /** The operation's own account of the state it left, when it has a better one than the generic sentence. */
    account?: string,
  ) {
    super(
      account
        ? `The ${operation} was cancelled (${signalName}). ${account}`
        : `The ${operation} was cancelled (${signalName}): it was stopped and its uploads aborted; nothing was recorded as complete.`,
    );
    this.name = 'CancelledError';
  }

  /** The exit status a shell expects after this signal: 128 + its number. */
  get exitCode(): number {
    return 128 + SIGNAL_NUMBERS[this.signalName];
  }
}

/** The cancellation reason, if `signal` was aborted by a cancellation; for turning any downstream error back into it. */
export function cancellationOf(signal: AbortSignal | undefined): CancelledError | undefined {
  return signal?.aborted && signal.reason instanceof CancelledError ? signal.reason : undefined;
}

let active = 0;

/** True while an operation runs inside `cancellable`: other signal handlers (the CLI's unbinding) leave the signals to it. */
export function cancellationHandled(): boolean {
  return active > 0;
}

export interface CancellableOptions {
  /** Named in the messages: 'backup', 'prune'. */
  operation: string;
  /**
   * After a signal, how long the operation has to stop cleanly before the process exits anyway
   * (status 128 + signal). GitHub kills the job 10 s after the first signal.
   */
  graceMs?: number;
  /**
   * Keep the operation's own error message, behind the cancellation sentence. Restore says exactly what
   * state it left the target in (rolled back, or put back to the pre-restore backup); that must not be
   * replaced by a generic sentence.
   */
  keepAccount?: boolean;
}

/**
 * Runs `work` with a signal that SIGINT and SIGTERM abort, and waits for it to finish cleaning up.
 * Repeated signals do not cut the clean-up short (the runner sends SIGTERM after SIGINT); only the
 * grace period does.
 */
export async function cancellable<T>(log: Logger, options: CancellableOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // Every request of the operation listens to this signal; dozens at once is expected, not a leak.
  setMaxListeners(0, controller.signal);
  let forced: NodeJS.Timeout | undefined;
  const handlers = (Object.keys(SIGNAL_NUMBERS) as CancelSignal[]).map((name) => {
    const handler = () => {
      if (controller.signal.aborted) {
        log.warning(`${name} received: still stopping the ${options.operation} cleanly…`);
        return;
      }
      log.warning(`${name} received: cancelling the ${options.operation}, stopping pg_dump and aborting uploads…`);
      const reason = new CancelledError(name, options.operation);
      controller.abort(reason);
      forced = setTimeout(() => {
        log.warning(`The ${options.operation} did not stop within ${Math.round((options.graceMs ?? 8000) / 1000)} s of ${name}; exiting anyway.`);
        process.exit(reason.exitCode);
      }, options.graceMs ?? 8000);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  active++;
  try {
    const result = await work(controller.signal);
    // A cancellation that came too late to stop anything still fails the run: the user asked for it to stop.
    controller.signal.throwIfAborted();
    return result;
  } catch (error) {
    const cancelled = cancellationOf(controller.signal);
    if (!cancelled || error instanceof CancelledError) throw error;
    if (options.keepAccount && error instanceof LifeboatError) throw new CancelledError(cancelled.signalName, options.operation, error.message);
    throw cancelled;
  } finally {
    active--;
    clearTimeout(forced);
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}
