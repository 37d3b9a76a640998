/**
 * Keeps V8's heap close to what a Lifeboat process really holds, from inside the process.
 *
 * Why: Lifeboat allocates fast and keeps little. Every ListObjectsV2 page of 1,000 objects, every media
 * record, every HTTP response is garbage a moment later; what stays alive is the loaded bundle and a
 * few MiB of work (a heap snapshot at the peak of a 30,000-object first backup: 31 MiB live). V8's
 * defaults are made for the opposite, programs that keep much of what they allocate, and let the heap
 * run far ahead of that. Measured through the benchmark's worker (docs/benchmark.md, issue 14):
 *
 * - the young generation, where every object is born, grows up to 2 × 64 MiB on Node 24 when a program
 *   allocates fast, and stays committed. A bare listing of 100,000 objects peaked at 201 MiB RSS, about
 *   44 MiB of it new space of which a few MiB were ever alive; with the space held at its starting size,
 *   167 MiB, and less CPU (a scavenge costs what survives it, not what died).
 * - the old generation is collected only when it has grown by a factor of up to 4 over what the last
 *   collection left: a first backup of 15,000 objects peaked at 109 MiB of heap in use, 217 MiB RSS.
 *   Collecting once it has grown by half: 46 MiB and 149 MiB RSS, for 1.7% more CPU (41.4 s, 42.1 s).
 *
 * How: a GitHub Action's `node` is started by the runner with no flags, and the heap's maximum sizes
 * can only be set at start-up. These two flags, though, are read each time V8 sizes a space, so
 * v8.setFlagsFromString takes effect from inside the running process (test/unit/heap.test.ts shows it
 * on this Node; test/integration/heap.test.ts from inside the shipped backup bundle). Someone who starts
 * Node with heap-sizing flags of their own (NODE_OPTIONS, the command line) keeps theirs.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flags Lifeboat sets: the new space keeps its size at every growth step (× 1), and the old
 * generation is collected once it is half again as large as what the last collection left.
 */
export const HEAP_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'] as const;

/** Start-up flags that size the heap themselves; with any of them, Lifeboat leaves V8's defaults to the user. */
const USER_HEAP_FLAG = /^--(max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|heap[-_]growing[-_]percent)(=|$)/;

/** Whether the process was started with heap-sizing flags of its own, which are then left alone. */
export function startedWithHeapFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => USER_HEAP_FLAG.test(arg));
}

/**
 * Sets HEAP_FLAGS, unless the process was started with heap-sizing flags of its own. Returns whether it
 * did. Call it before the bulk of the program loads: only growth after the call is held back.
 */
export function boundHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (startedWithHeapFlags(execArgv, nodeOptions)) return false;
  for (const flag of HEAP_FLAGS) setFlagsFromString(flag);
  return true;
}
