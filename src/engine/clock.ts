import { LifeboatError } from './errors.js';

/**
 * The current time. LIFEBOAT_NOW (ISO 8601) overrides it for every operation that reasons about
 * time, so tests and dry runs can build and inspect a history.
 */
export function now(env: NodeJS.ProcessEnv = process.env): Date {
  const override = env.LIFEBOAT_NOW;
  if (!override) return new Date();
  const parsed = new Date(override);
  if (Number.isNaN(parsed.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(override)) {
    throw new LifeboatError(
      `LIFEBOAT_NOW is '${override}', which is not an ISO 8601 time. Use a form like 2026-11-21T02:00:00Z, or unset it.`,
    );
  }
  return parsed;
}
