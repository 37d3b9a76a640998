/**
 * Imported first by the bench worker, before the engine's modules load: a Lifeboat job's process keeps
 * V8's heap close to what it holds from the start, as the shipped entry points do (src/engine/heap-bound.ts,
 * imported first by each of them). The other contenders (bare listings, downloads, pg_dump baselines)
 * run in plain Node.
 */
import { readFileSync } from 'node:fs';
import { boundHeap } from '../../src/engine/heap.js';

const jobFile = process.argv[2];
if (jobFile) {
  const { kind } = JSON.parse(readFileSync(jobFile, 'utf8')) as { kind: string };
  if (kind.startsWith('lifeboat-')) boundHeap();
}
