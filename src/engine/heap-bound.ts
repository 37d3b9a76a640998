/**
 * Imported for its effect, and first, by every entry point (src/actions/shared/toolkit.ts, which each
 * action's index.ts imports first, and src/cli/index.ts): it keeps V8's heap close to what the process
 * holds (src/engine/heap.ts). Done at import rather than when the step starts because loading the bundle
 * itself (the AWS SDK, pg, ajv) already grew the new space to 16 MiB, measured from inside the shipped
 * backup bundle (test/integration/heap.test.ts).
 *
 * A process that imports an entry module without running it (@github/local-action, a test) gets the
 * same bound: it changes how much memory V8 keeps before it collects garbage, never what a program does.
 */
import { boundHeap } from './heap.js';

boundHeap();
