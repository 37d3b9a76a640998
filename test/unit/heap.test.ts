/**
 * Keeping V8's young generation small (src/engine/heap.ts): which start-up flags leave it alone, and
 * that this Node honours the growth factor when it is set from inside a running process, which is the
 * whole mechanism (a GitHub Action's node is started with no flags).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { boundYoungGeneration, startedWithYoungGenerationFlags, YOUNG_GENERATION_FLAG } from '../../src/engine/heap.js';

describe('startedWithYoungGenerationFlags', () => {
  it('sees young-generation flags on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(startedWithYoungGenerationFlags(['--max-semi-space-size=64'], '')).toBe(true);
    expect(startedWithYoungGenerationFlags([], '--max-semi-space-size=16')).toBe(true);
    expect(startedWithYoungGenerationFlags([], '--require x.cjs  --max_semi_space_size=16')).toBe(true);
    expect(startedWithYoungGenerationFlags(['--min-semi-space-size=4'], '')).toBe(true);
    expect(startedWithYoungGenerationFlags([], '--semi-space-growth-factor=4')).toBe(true);
  });

  it('ignores every other flag', () => {
    expect(startedWithYoungGenerationFlags([], '')).toBe(false);
    expect(startedWithYoungGenerationFlags(['--max-old-space-size=4096', '--enable-source-maps'], '--require x.cjs')).toBe(false);
    expect(startedWithYoungGenerationFlags(['--trace-gc'], 'x--max-semi-space-size=1')).toBe(false);
  });

  it('leaves a process started with its own young-generation flags alone', () => {
    expect(boundYoungGeneration(['--max-semi-space-size=64'], '')).toBe(false);
  });
});

/** Runs a child Node that optionally sets the flag, churns short-lived objects, and reports its largest new space. */
function churn(setFlag: boolean): number {
  const script = `
    const v8 = require('node:v8');
    if (${setFlag}) v8.setFlagsFromString(${JSON.stringify(YOUNG_GENERATION_FLAG)});
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

describe('the growth factor, set at run time', () => {
  it('keeps the new space at its starting size where it would otherwise grow to tens of MiB', () => {
    const MiB = 1024 * 1024;
    const unbounded = churn(false);
    const bounded = churn(true);
    // Without the flag the same churn grows the space well past 16 MiB (128 MiB on Node 24), so the
    // bound is shown by the difference, not assumed.
    expect(unbounded).toBeGreaterThan(16 * MiB);
    expect(bounded).toBeLessThanOrEqual(8 * MiB);
  }, 60_000);
});
