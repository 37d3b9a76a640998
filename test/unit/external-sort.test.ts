/**
 * Bounded-memory building blocks of the media index (src/engine/media/external-sort.ts, src/engine/concurrency.ts):
 * the external sort and its spill files, the spill list, and the ordered concurrent map.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareKeys } from '../../src/domain/media-index.js';
import { Reservoir } from '../../src/domain/drill.js';
import { forEachAsync, mapOrdered } from '../../src/engine/concurrency.js';
import { SpillList, sortedByKey } from '../../src/engine/media/external-sort.js';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function randomKeys(n: number, seed = 1): string[] {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const alphabet = ['a', 'b', '/', '.', 'é', '\u{e000}', '\u{10000}', '0', 'Z'];
  return Array.from({ length: n }, (_, i) => Array.from({ length: 1 + Math.floor(random() * 6) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('') + `#${i}`);
}

describe('sortedByKey', () => {
  it('sorts in memory when everything fits one run, touching no disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sort-test-'));
    const keys = randomKeys(500);
    const sorted = await collect(sortedByKey(from(keys.map((key) => ({ key }))), { key: (o) => o.key, runSize: 1000, tempRoot: root }));
    expect(sorted.map((o) => o.key)).toEqual([...keys].sort(compareKeys));
    expect(readdirSync(root)).toEqual([]);
  });

  it('spills sorted runs past the run size, merges them in S3 order, and removes them at the end', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sort-test-'));
    const keys = randomKeys(2_345, 3);
    const items = keys.map((key, i) => ({ key, size: i }));
    const seen: string[][] = [];
    const sorted: { key: string; size: number }[] = [];
    for await (const item of sortedByKey(from(items), { key: (o) => o.key, runSize: 100, tempRoot: root })) {
      if (sorted.length === 0) seen.push(readdirSync(join(root, readdirSync(root)[0]!)));
      sorted.push(item);
    }
    expect(seen[0]!.length).toBe(24);
    expect(sorted).toEqual([...items].sort((a, b) => compareKeys(a.key, b.key)));
    expect(readdirSync(root)).toEqual([]);
  });

  it('drops repeated keys when asked, in memory and across runs', async () => {
    const keys = ['b', 'a', 'b', 'c', 'a', 'a', 'd', 'b'];
    expect(await collect(sortedByKey(from(keys), { key: (k) => k, dedupe: true, runSize: 100 }))).toEqual(['a', 'b', 'c', 'd']);
    expect(await collect(sortedByKey(from(keys), { key: (k) => k, dedupe: true, runSize: 3, tempRoot: mkdtempSync(join(tmpdir(), 'sort-test-')) }))).toEqual(['a', 'b', 'c', 'd']);
    expect(await collect(sortedByKey(from(keys), { key: (k) => k, runSize: 3, tempRoot: mkdtempSync(join(tmpdir(), 'sort-test-')) }))).toEqual(['a', 'a', 'a', 'b', 'b', 'b', 'c', 'd']);
  });

  it('removes its runs when the source fails, and the runs of a process that no longer exists', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sort-test-'));
    // A dead process's leftovers (pid 2^22 + 1 is above Linux's pid_max default), and a live one's.
    const orphan = join(root, `lifeboat-sort-${2 ** 22 + 1}-x`);
    const live = join(root, `lifeboat-sort-${process.ppid}-y`);
    mkdirSync(orphan);
    mkdirSync(live);
    async function* failing() {
      for (let i = 0; i < 50; i++) yield { key: `k${i}` };
      throw new Error('listing failed');
    }
    await expect(collect(sortedByKey(failing(), { key: (o) => o.key, runSize: 10, tempRoot: root }))).rejects.toThrow('listing failed');
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(root)).toEqual([`lifeboat-sort-${process.ppid}-y`]);
  });
});

describe('SpillList', () => {
  it('keeps items in order, past memory into a file, in batches, and removes the file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'spill-test-'));
    const list = new SpillList<{ key: string }>(10, root);
    for (let i = 0; i < 25; i++) await list.push({ key: `k${i}` });
    expect(list.count).toBe(25);
    expect(readdirSync(root)).toHaveLength(1);
    expect((await collect(list.items())).map((o) => o.key)).toEqual(Array.from({ length: 25 }, (_, i) => `k${i}`));
    expect((await collect(list.batches(7))).map((b) => b.length)).toEqual([7, 7, 7, 4]);
    await list.dispose();
    expect(readdirSync(root)).toEqual([]);
    const small = new SpillList<number>(10, root);
    await small.push(1);
    expect(await collect(small.items())).toEqual([1]);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('mapOrdered', () => {
  it('keeps the input order, with at most `limit` in flight', async () => {
    let running = 0;
    let peak = 0;
    const delays = [30, 1, 20, 5, 1, 15, 2, 8, 1, 1];
    const out = await collect(
      mapOrdered(from(delays.map((d, i) => ({ d, i }))), 3, async ({ d, i }) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, d));
        running--;
        return i;
      }),
    );
    expect(out).toEqual(delays.map((_, i) => i));
    expect(peak).toBe(3);
  });

  it('pulls from the source only a bounded window ahead of the consumer', async () => {
    let pulled = 0;
    async function* endless() {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    const iterator = mapOrdered(endless(), 2, async (i) => i, 8)[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(0);
    expect(pulled).toBeLessThanOrEqual(10);
    await iterator.return?.(undefined);
  });

  it('throws the first failure after what is in flight settles, and starts nothing more', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = forEachAsync(from([0, 1, 2, 3, 4, 5, 6, 7]), 2, async (i) => {
      started.push(i);
      await new Promise((resolve) => setTimeout(resolve, i === 1 ? 5 : 20));
      settled++;
      if (i === 1) throw new Error('one failed');
    });
    await expect(run).rejects.toThrow('one failed');
    expect(settled).toBe(started.length);
    expect(started.length).toBeLessThan(8);
  });
});

describe('Reservoir', () => {
  it('keeps everything up to its size, then a uniform sample of that size', () => {
    const all = new Reservoir<number>(5);
    for (let i = 0; i < 3; i++) all.add(i);
    expect(all.items).toEqual([0, 1, 2]);
    expect(all.seen).toBe(3);
    // random() = 0.99 never replaces (slot >= size), 0 always replaces slot 0.
    const never = new Reservoir<number>(2, () => 0.99);
    const always = new Reservoir<number>(2, () => 0);
    for (let i = 0; i < 6; i++) {
      never.add(i);
      always.add(i);
    }
    expect(never.items).toEqual([0, 1]);
    expect(always.items).toEqual([5, 1]);
    expect(always.seen).toBe(6);
    // Slot = floor(random * seen): with 0.5 the third item (seen 3) lands in slot 1.
    const half = new Reservoir<string>(2, () => 0.5);
    for (const x of ['a', 'b', 'c']) half.add(x);
    expect(half.items).toEqual(['a', 'c']);
    const counts = new Map<number, number>();
    let seed = 11;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let run = 0; run < 2000; run++) {
      const r = new Reservoir<number>(1, random);
      for (let i = 0; i < 4; i++) r.add(i);
      counts.set(r.items[0]!, (counts.get(r.items[0]!) ?? 0) + 1);
    }
    for (let i = 0; i < 4; i++) expect(counts.get(i)).toBeGreaterThan(400);
  });
});
