/**
 * The media index's pure part (src/domain/media-index.ts): S3 key order, where chunks are cut, the
 * canonical record lines, chunk parsing, and the merge-join that backup, restore and prune stand on.
 */
import { describe, expect, it } from 'vitest';
import {
  CHUNK_AVERAGE_OBJECTS,
  CHUNK_MAX_OBJECTS,
  ChunkCutter,
  chunkText,
  compareKeys,
  endsChunk,
  InvalidChunkError,
  keyHash,
  mergeJoin,
  parseChunk,
  serializeRecord,
} from '../../src/domain/media-index.js';
import type { MediaObjectRecord } from '../../src/domain/manifest.js';

const record = (key: string, extra: Partial<MediaObjectRecord> = {}): MediaObjectRecord => ({
  key,
  size: 3,
  sha256: 'a'.repeat(64),
  md5: 'b'.repeat(32),
  metadata: {},
  ...extra,
});

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** UTF-8 byte order, the reference S3 sorts by. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareKeys', () => {
  it('orders keys as S3 does, by UTF-8 bytes', () => {
    const keys = ['a', 'a.txt', 'a/b', 'B', 'b', '', 'ab', 'é', '\u{ffff}', '\u{e000}', '\u{10000}', '😀', 'z', '\u007f', '\u0080', '\ud7ff', 'a\u{10000}', 'a\u{ffff}'];
    const sorted = [...keys].sort(compareKeys);
    expect(sorted).toEqual([...keys].sort(byBytes));
    // The surrogate case, where UTF-16 order and S3 order differ.
    expect(compareKeys('\u{10000}', '\u{ffff}')).toBeGreaterThan(0);
    expect(compareKeys('\u{e000}', '\u{d7ff}')).toBeGreaterThan(0);
    expect(compareKeys('\u{10000}', '\u{e000}')).toBeGreaterThan(0);
    expect(compareKeys('\ud800', '\ud7ff')).toBeGreaterThan(0);
    expect(compareKeys('\udfff', '\ue000')).toBeGreaterThan(0);
  });

  it('is zero only for equal keys, and a prefix comes first', () => {
    expect(compareKeys('abc', 'abc')).toBe(0);
    expect(compareKeys('ab', 'abc')).toBeLessThan(0);
    expect(compareKeys('abc', 'ab')).toBeGreaterThan(0);
    expect(compareKeys('a/', 'a.')).toBeGreaterThan(0);
  });

  it('agrees with byte order on many random keys', () => {
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const alphabet = ['a', 'b', '/', '.', 'é', '\u{e000}', '\u{ffff}', '\u{10000}', '😀', '0'];
    const keys = Array.from({ length: 400 }, () => Array.from({ length: 1 + Math.floor(random() * 5) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byBytes));
  });
});

describe('where chunks end', () => {
  it('hashes keys with FNV-1a and a finalizer, spread evenly enough to cut upload names on', () => {
    expect(keyHash('')).toBe(2872998923);
    expect(keyHash('a')).toBe(444641715);
    expect(keyHash('foobar')).toBe(202221276);
    expect(keyHash('\u{10000}')).not.toBe(keyHash('\u{ffff}'));
    // Keys differing only in a few digits, as upload names do: about one cut per CHUNK_AVERAGE_OBJECTS.
    const n = 200_000;
    let cuts = 0;
    for (let i = 0; i < n; i++) if (keyHash(`uploads/${String(i).padStart(7, '0')}-photo.jpg`) % CHUNK_AVERAGE_OBJECTS === 0) cuts++;
    expect(n / cuts).toBeGreaterThan(CHUNK_AVERAGE_OBJECTS * 0.8);
    expect(n / cuts).toBeLessThan(CHUNK_AVERAGE_OBJECTS * 1.25);
  });

  it('ends a chunk on a key whose hash is 0 modulo the average, or at the maximum', () => {
    const cut = Array.from({ length: 20_000 }, (_, i) => `k${i}`).find((k) => keyHash(k) % CHUNK_AVERAGE_OBJECTS === 0)!;
    const notCut = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => keyHash(k) % CHUNK_AVERAGE_OBJECTS !== 0)!;
    expect(endsChunk(cut, 1)).toBe(true);
    expect(endsChunk(notCut, 1)).toBe(false);
    expect(endsChunk(notCut, CHUNK_MAX_OBJECTS - 1)).toBe(false);
    expect(endsChunk(notCut, CHUNK_MAX_OBJECTS)).toBe(true);
  });

  it('cuts an unchanged stretch the same way after a change elsewhere', () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `uploads/${String(i).padStart(6, '0')}.jpg`);
    const cutAll = (records: MediaObjectRecord[]) => {
      const cutter = new ChunkCutter();
      const chunks: string[] = [];
      for (const r of records) {
        const chunk = cutter.add(r);
        if (chunk) chunks.push(chunkText(chunk));
      }
      const last = cutter.finish();
      if (last) chunks.push(chunkText(last));
      return chunks;
    };
    const before = cutAll(keys.map((k) => record(k)));
    expect(before.length).toBeGreaterThan(10);
    expect(before.join('')).toBe(chunkText(keys.map((k) => record(k))));
    // One object changed, one added and one deleted in the middle: only the chunks around them differ.
    const changed = keys.map((k, i) => record(k, i === 15_000 ? { size: 99 } : {}));
    changed.splice(15_500, 1);
    changed.splice(16_000, 0, record('uploads/016000a.jpg'));
    const after = cutAll(changed);
    const shared = after.filter((c) => before.includes(c)).length;
    expect(shared).toBeGreaterThanOrEqual(before.length - 3);
    expect(shared).toBeLessThan(before.length);
  });

  it('refuses records out of key order, and gives nothing for an empty stream', () => {
    const cutter = new ChunkCutter();
    cutter.add(record('b'));
    expect(() => cutter.add(record('a'))).toThrow(/out of key order: 'a' after 'b'/);
    expect(() => cutter.add(record('b'))).toThrow(/out of key order/);
    expect(new ChunkCutter().finish()).toBeUndefined();
  });
});

describe('record lines', () => {
  it('writes fields, and metadata names, in one fixed order whatever the object order', () => {
    const a = serializeRecord({
      storedSize: 9,
      address: 'c'.repeat(64),
      metadata: { zeta: '1', alpha: '2' },
      md5: 'b'.repeat(32),
      sha256: 'a'.repeat(64),
      size: 3,
      key: 'k',
      contentType: 'image/png',
      etag: '"e"',
      verified: true,
    });
    expect(a).toBe(
      `{"key":"k","size":3,"sha256":"${'a'.repeat(64)}","md5":"${'b'.repeat(32)}","contentType":"image/png","metadata":{"alpha":"2","zeta":"1"},"etag":"\\"e\\"","verified":true,"address":"${'c'.repeat(64)}","storedSize":9}`,
    );
    expect(serializeRecord({ ...record('k'), contentType: undefined })).not.toContain('contentType');
  });

  it('reads back what it wrote', () => {
    const records = [
      record('a', { contentType: 'text/plain', metadata: { x: 'y' }, cacheControl: 'no-cache', expires: 'Thu, 01 Jan 2026 00:00:00 GMT' }),
      record('b/ü', { lastModified: '2026-01-01T00:00:00.000Z', verified: true }),
    ];
    expect(parseChunk(chunkText(records), 'x')).toEqual(records);
    expect(parseChunk('', 'x')).toEqual([]);
  });

  it('refuses a chunk cut short, a line that is not JSON or not a record, or keys out of order, naming the line', () => {
    const text = chunkText([record('a'), record('b')]);
    expect(() => parseChunk(text.slice(0, -1), 'c1')).toThrow(InvalidChunkError);
    expect(() => parseChunk(text.slice(0, -1), 'c1')).toThrow(/chunk c1 is cut short/);
    expect(() => parseChunk(text + '{oops\n', 'c1')).toThrow(/line 3 of the media index chunk c1 is not JSON/);
    expect(() => parseChunk(text + '{"key":"c"}\n', 'c1')).toThrow(/line 3 of the media index chunk c1 is not a media object record: .*size/);
    expect(() => parseChunk(chunkText([record('b')]) + chunkText([record('a')]), 'c1')).toThrow(/not in key order: 'a' comes after 'b'/);
    expect(() => parseChunk(chunkText([record('a')]) + chunkText([record('a')]), 'c1')).toThrow(/not in key order/);
  });
});

describe('mergeJoin', () => {
  it('pairs equal keys and passes the rest through, in key order', async () => {
    const steps = await collect(mergeJoin(from(['a', 'c', 'd', 'f']), (x) => x, from([{ k: 'b' }, { k: 'c' }, { k: 'f' }, { k: 'g' }]), (y) => y.k));
    expect(steps).toEqual([
      { key: 'a', left: 'a' },
      { key: 'b', right: { k: 'b' } },
      { key: 'c', left: 'c', right: { k: 'c' } },
      { key: 'd', left: 'd' },
      { key: 'f', left: 'f', right: { k: 'f' } },
      { key: 'g', right: { k: 'g' } },
    ]);
  });

  it('handles empty sides', async () => {
    expect(await collect(mergeJoin(from<string>([]), (x) => x, from(['a']), (x) => x))).toEqual([{ key: 'a', right: 'a' }]);
    expect(await collect(mergeJoin(from(['a']), (x) => x, from<string>([]), (x) => x))).toEqual([{ key: 'a', left: 'a' }]);
    expect(await collect(mergeJoin(from<string>([]), (x) => x, from<string>([]), (x) => x))).toEqual([]);
  });

  it('uses S3 order, not UTF-16 order', async () => {
    const left = ['\u{e000}', '\u{10000}'];
    const steps = await collect(mergeJoin(from(left), (x) => x, from(['\u{10000}']), (x) => x));
    expect(steps).toEqual([{ key: '\u{e000}', left: '\u{e000}' }, { key: '\u{10000}', left: '\u{10000}', right: '\u{10000}' }]);
  });

  it('fails on a side out of key order instead of going silently wrong', async () => {
    await expect(collect(mergeJoin(from(['b', 'a']), (x) => x, from<string>([]), (x) => x))).rejects.toThrow(/left side of a merge is not in key order: 'a' after 'b'/);
    await expect(collect(mergeJoin(from<string>([]), (x) => x, from(['a', 'a']), (x) => x))).rejects.toThrow(/right side of a merge is not in key order/);
  });
});
