import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/engine/logger.js';
import { reportProgress } from '../../src/engine/progress.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reportProgress', () => {
  it('logs a line each interval with the elapsed time, and nothing after stop', async () => {
    const log = memoryLogger();
    let done = 0;
    const progress = reportProgress(log, 20, (elapsed) => `… ${++done} done after ${elapsed}`);
    await sleep(75);
    progress.stop();
    const lines = log.lines.length;
    expect(lines).toBeGreaterThanOrEqual(2);
    expect(log.lines[0]).toMatch(/^… 1 done after 0\.\d s$/);
    await sleep(60);
    expect(log.lines.length).toBe(lines);
  });
  it('skips a line whose description fails or is empty, and waits for one that is asynchronous', async () => {
    const log = memoryLogger();
    let call = 0;
    const progress = reportProgress(log, 15, async () => {
      call++;
      if (call === 1) throw new Error('the database is busy');
      if (call === 2) return undefined;
      return `line ${call}`;
    });
    await sleep(100);
    progress.stop();
    expect(log.lines[0]).toBe('line 3');
    expect(log.lines.every((l) => /^line \d+$/.test(l))).toBe(true);
  });
});
