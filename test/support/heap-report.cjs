/**
 * A preload (NODE_OPTIONS=--require …) that watches V8's heap from inside a process the test did not
 * write, such as a shipped action bundle: every 5 ms it reads the committed size of the new space and of
 * the whole heap, and at exit writes the largest of each it saw to $LIFEBOAT_TEST_HEAP_REPORT as JSON.
 * It observes only; it sets no flag and allocates next to nothing.
 */
const { getHeapSpaceStatistics, getHeapStatistics } = require('node:v8');
const { writeFileSync } = require('node:fs');

const file = process.env.LIFEBOAT_TEST_HEAP_REPORT;
let newSpaceMax = 0;
let heapMax = 0;
const sample = () => {
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space' && space.space_size > newSpaceMax) newSpaceMax = space.space_size;
  }
  heapMax = Math.max(heapMax, getHeapStatistics().total_heap_size);
};
setInterval(sample, 5).unref();
process.on('exit', () => {
  sample();
  if (file) writeFileSync(file, JSON.stringify({ newSpaceMaxBytes: newSpaceMax, heapMaxBytes: heapMax }));
});
