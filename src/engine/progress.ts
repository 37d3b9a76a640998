/**
 * Progress lines for long steps. Every long step (the dump, the media copy both ways, the restore's
 * verification pass and download, its apply and pg_restore --jobs) logs one at the same interval, the
 * backup's 'progress-interval-seconds' (10 s by default), so a job never goes quiet for longer.
 */
import { formatDuration } from '../domain/report.js';
import type { Logger } from './logger.js';

export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;

/**
 * Logs `describe(elapsed)` every `intervalMs` until `stop()`; a describe that throws or returns
 * undefined logs nothing that time. The timer never keeps the process alive.
 */
export function reportProgress(
  log: Logger,
  intervalMs: number | undefined,
  describe: (elapsed: string) => string | undefined | Promise<string | undefined>,
): { stop(): void } {
  const started = Date.now();
  let stopped = false;
  const timer = setInterval(() => {
    Promise.resolve()
      .then(() => describe(formatDuration(Date.now() - started)))
      .then(
        (line) => {
          if (line && !stopped) log.info(line);
        },
        () => undefined,
      );
  }, intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
