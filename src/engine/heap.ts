/**
 * Keeps V8's young generation at its starting size for the life of a Lifeboat process.
 *
 * Why: V8 grows the young generation (the "new space" where every short-lived object is born) when a
 * program allocates fast, up to 2 × 64 MiB on Node 24, and keeps it committed. Lifeboat allocates fast
 * and keeps little: every ListObjectsV2 page of 1,000 objects, every media record, every HTTP response
 * is garbage a moment later. Measured on the benchmark machine (docs/benchmark.md, issue 14), a bare
 * listing of 100,000 objects peaked at 185 MiB RSS with about 44 MiB of that in the new space, though
 * no more than a few MiB of it was ever alive; a program that churns objects grows the new space to
 * 128 MiB. A small new space costs more scavenges, but a scavenge's cost is what survives it, not
 * what died, and here almost nothing survives: the same listing took less CPU with it (3.1 s, not 3.5 s).
 *
 * How: the maximum size can only be set when Node starts (`--max-semi-space-size`), and a GitHub
 * Action's `node` is started by the runner with no flags. The growth factor, though, is read each time
 * V8 considers growing the space, so setting it to 1 from inside the process keeps the space at its
 * starting size (1 MiB per semi-space). Someone who starts Node with their own young-generation flags
 * (in NODE_OPTIONS, or on the command line) keeps them.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flag that stops the young generation growing: new space size × 1 at every growth step. */
export const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

/** Whether the process was started with a young-generation flag of its own, which is then left alone. */
export function startedWithYoungGenerationFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--(max|min)[-_]semi[-_]space[-_]size|^--semi[-_]space[-_]growth[-_]factor/.test(arg));
}

/**
 * Stops V8 growing the young generation, unless the process was started with flags for it. Returns
 * whether it did. Call it first thing in an entry point: only growth after the call is prevented.
 */
export function boundYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (startedWithYoungGenerationFlags(execArgv, nodeOptions)) return false;
  setFlagsFromString(YOUNG_GENERATION_FLAG);
  return true;
}
