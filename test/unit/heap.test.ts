/**
 * Keeping V8's heap small (src/engine/heap.ts): which start-up flags leave it alone, and that this Node
 * honours the young generation's growth factor when it is set from inside a running process, which is
 * the whole mechanism (a GitHub Action's node is started with no flags). The old generation's growth
 * percent shows only in a longer run of real work: the benchmark measures it (docs/benchmark.md).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { boundHeap, HEAP_FLAGS, startedWithHeapFlags } from '../../src/engine/heap.js';

describe('startedWithHeapFlags', () => {
  it('sees heap-sizing flags on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(startedWithHeapFlags(['--max-semi-space-size=64'], '')).toBe(true);
    expect(startedWithHeapFlags([], '--max-semi-space-size=16')).toBe(true);
    expect(startedWithHeapFlags([], '--require x.cjs  --max_semi_space_size=16')).toBe(true);
    expect(startedWithHeapFlags(['--min-semi-space-size=4'], '')).toBe(true);
    expect(startedWithHeapFlags([], '--semi-space-growth-factor=4')).toBe(true);
    expect(startedWithHeapFlags(['--heap-growing-percent=20'], '')).toBe(true);
    expect(startedWithHeapFlags([], '--heap_growing_percent=20')).toBe(true);
  });

  it('ignores every other flag', () => {
    expect(startedWithHeapFlags([], '')).toBe(false);
    expect(startedWithHeapFlags(['--max-old-space-size=4096', '--enable-source-maps'], '--require x.cjs')).toBe(false);
    expect(startedWithHeapFlags(['--trace-gc'], 'x--max-semi-space-size=1')).toBe(false);
    expect(startedWithHeapFlags(['--heap-growing-percentage-report'], '')).toBe(false);
  });

  it('leaves a process started with its own heap flags alone, and sets both flags otherwise', () => {
    expect(boundHeap(['--max-semi-space-size=64'], '')).toBe(false);
    expect(HEAP_FLAGS).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=50']);
  });
});

/** Runs a child Node that optionally sets the young generation's flag, churns short-lived objects, and reports its largest new space. */
function churn(setFlag: boolean): number {
  const script = `
    const v8 = require('node:v8');
    if (${setFlag}) v8.setFlagsFromString(${JSON.stringify(HEAP_FLAGS[0])});
    let keep = [];
    let largest = 0;
    for (let i = 0; i < 2e6; i++) {
      keep.push({ key: 'uploads/' + i, size: i, parts: [i, i + 1] });
      if (keep.length > 20000) keep = [];
      if (i % 5000 === 0) for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') largest = Math.max(largest, s.space_size);
    }
    process.stdout.write(String(largest));`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  return Number(child.stdout);
}

describe("the young generation's growth factor, set at run time", () => {
  it('keeps the new space at its starting size where it would otherwise grow to tens of MiB', () => {
    const MiB = 1024 * 1024;
    const unbounded = churn(false);
    const bounded = churn(true);
    // Without the flag the same churn grows the space to 64 or 128 MiB on Node 24; with it, 4.5 MiB on a
    // quiet machine and up to 13.9 MiB on a loaded one (the space can take a step or two before the
    // churn settles), so the bound is shown by the difference, not assumed.
    expect(unbounded).toBeGreaterThan(32 * MiB);
    expect(bounded).toBeLessThanOrEqual(16 * MiB);
    expect(bounded).toBeLessThanOrEqual(unbounded / 2);
  }, 60_000);
});
