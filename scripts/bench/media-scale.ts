/**
 * The media-scale group's bucket: many small uploads, written straight into s3rver's storage, because
 * seeding 100,000 objects through its API would take most of the run.
 *
 * s3rver (3.x, node_modules/s3rver/lib/stores/filesystem.js) keeps an object with key `a/b/name` of
 * bucket `bkt` as three files under its root directory:
 *
 *   bkt/a/b/name._S3rver_object          the bytes; the file's mtime is the object's LastModified
 *   bkt/a/b/name._S3rver_object.md5      the hex MD5 of the bytes, no newline: the ETag
 *   bkt/a/b/name._S3rver_metadata.json   {"content-type": …, "x-amz-meta-…": …}, JSON.stringify(…, null, 2)
 *
 * (exactly what its putObject writes; on Linux the key is the path as it is). The bucket itself is
 * created through the API first. After seeding, a sample is read back through the API (GET and HEAD)
 * and the listing's count and byte total are checked, so a change in s3rver's layout fails the run
 * instead of measuring an empty bucket.
 *
 * Contents are generated from the object's index and version, so any object can be regenerated to
 * check what a GET, or a restore, gives back.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ScaleObject {
  index: number;
  key: string;
  size: number;
  contentType: string;
  /** 0 as seeded; 1 once rewritten by the 1% change. */
  version: number;
}

export interface ScalePlan {
  objects: ScaleObject[];
  bytes: number;
}

/** xorshift32: fast and reproducible (Math.random is neither seedable nor needed here). */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const NAMES = [
  ['IMG_%.jpg', 'image/jpeg'],
  ['photo.jpg', 'image/jpeg'],
  ['avatar.png', 'image/png'],
  ['scan-%.jpg', 'image/jpeg'],
  ['receipt.pdf', 'application/pdf'],
  ['thumbnail.webp', 'image/webp'],
] as const;

/**
 * `count` uploads of 200 B to 2 KiB under `uploads/<year>/<month>/<uuid>/<name>`, the shape Rails'
 * and Django's storages give user uploads, spread over 72 months (about 1,400 per month directory at
 * 100,000: s3rver's listing reads one directory per page, so a single huge directory would measure
 * s3rver, not Lifeboat).
 */
export function planScale(count: number, seed = 14): ScalePlan {
  const rand = xorshift(seed);
  const objects: ScaleObject[] = [];
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const month = index % 72;
    const words = [rand(), rand(), rand(), rand()].map((w) => w.toString(16).padStart(8, '0')).join('');
    const uuid = `${words.slice(0, 8)}-${words.slice(8, 12)}-4${words.slice(13, 16)}-a${words.slice(17, 20)}-${words.slice(20, 32)}`;
    const [pattern, contentType] = NAMES[rand() % NAMES.length]!;
    const name = pattern.replace('%', String(1000 + (rand() % 9000)));
    const size = 200 + (rand() % (2048 - 200 + 1));
    objects.push({ index, key: `uploads/${2019 + Math.floor(month / 12)}/${String(1 + (month % 12)).padStart(2, '0')}/${uuid}/${name}`, size, contentType, version: 0 });
    bytes += size;
  }
  return { objects, bytes };
}

/** The bytes of an object at its version: pseudo-random (media does not compress), the same every time. */
export function scaleContent(object: ScaleObject): Buffer {
  const rand = xorshift(Math.imul(object.index + 1, 2654435761) ^ Math.imul(object.version + 1, 40503));
  const body = Buffer.allocUnsafe(object.size + 3);
  for (let i = 0; i < object.size; i += 4) body.writeUInt32LE(rand(), i);
  return body.subarray(0, object.size);
}

const md5 = (body: Buffer) => createHash('md5').update(body).digest('hex');

const METADATA = { 'x-amz-meta-uploaded-by': 'bench' } as const;

/** Runs `work` on every item, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Writes the objects into s3rver's storage for `bucket` (which must exist), as its putObject would. */
export async function seedDirectly(s3rverDirectory: string, bucket: string, objects: readonly ScaleObject[], concurrency = 64): Promise<void> {
  const made = new Set<string>();
  await pool(objects, concurrency, async (object) => {
    const base = join(s3rverDirectory, bucket, object.key);
    const dir = dirname(base);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const body = scaleContent(object);
    await writeFile(`${base}._S3rver_object`, body);
    await writeFile(`${base}._S3rver_object.md5`, md5(body));
    await writeFile(`${base}._S3rver_metadata.json`, JSON.stringify({ 'content-type': object.contentType, ...METADATA }, null, 2));
  });
}

/** Rewrites objects through the API with new contents (version + 1), as an application would. */
export async function rewriteThroughApi(client: S3Client, bucket: string, objects: ScaleObject[], concurrency = 32): Promise<void> {
  await pool(objects, concurrency, async (object) => {
    object.version++;
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: scaleContent(object), ContentType: object.contentType, Metadata: { 'uploaded-by': 'bench' } }),
    );
  });
}

/**
 * Reads `sample` objects back through the API, GET and HEAD, and returns what differs from the plan
 * (empty when all is well): content, size, ETag (the MD5), content type and user metadata.
 */
export async function verifyThroughApi(client: S3Client, bucket: string, sample: readonly ScaleObject[]): Promise<string[]> {
  const problems: string[] = [];
  await pool(sample, 16, async (object) => {
    const expected = scaleContent(object);
    const etag = JSON.stringify(md5(expected));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    if (!body.equals(expected)) problems.push(`${object.key}: GET gave ${body.length} bytes that differ from the ${expected.length} expected`);
    if (got.ETag !== etag) problems.push(`${object.key}: GET ETag ${got.ETag}, expected ${etag}`);
    if (got.ContentType !== object.contentType) problems.push(`${object.key}: content type ${got.ContentType}, expected ${object.contentType}`);
    if (got.Metadata?.['uploaded-by'] !== 'bench') problems.push(`${object.key}: metadata ${JSON.stringify(got.Metadata)}`);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }));
    if (head.ETag !== etag || head.ContentLength !== object.size || !head.LastModified) {
      problems.push(`${object.key}: HEAD ETag ${head.ETag} size ${head.ContentLength}, expected ${etag} and ${object.size}`);
    }
  });
  return problems;
}

/** Every `step`-th object, plus the first and last: a sample spread over the whole key range. */
export function spreadSample<T>(items: readonly T[], size: number): T[] {
  if (items.length <= size) return [...items];
  const step = items.length / size;
  const out = Array.from({ length: size }, (_, i) => items[Math.floor(i * step)]!);
  out.push(items[items.length - 1]!);
  return out;
}

export interface WrittenSince {
  /** Bytes of the objects whose stored file was written (or touched) at or after the time. */
  bytes: number;
  objects: number;
  /** The same by key prefix (first path segment, or the file name for backup files), largest first. */
  byPrefix: { prefix: string; bytes: number; objects: number }[];
}

/**
 * What a run wrote to a bucket, read from s3rver's storage: the objects whose file's mtime (nanosecond
 * precision, where S3's LastModified has whole seconds) is at or after `sinceMs`. An object written and
 * deleted within the run (a lock) is not counted; one overwritten or copied onto itself is.
 */
export async function writtenSince(s3rverDirectory: string, bucket: string, sinceMs: number): Promise<WrittenSince> {
  const root = join(s3rverDirectory, bucket);
  const suffix = '._S3rver_object';
  const groups = new Map<string, { bytes: number; objects: number }>();
  let bytes = 0;
  let objects = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '._S3rver_uploads') await walk(path);
        continue;
      }
      if (!entry.name.endsWith(suffix)) continue;
      const info = await stat(path).catch(() => undefined);
      if (!info || info.mtimeMs < sinceMs) continue;
      const key = path.slice(root.length + 1, -suffix.length);
      const parts = key.split('/');
      const prefix = parts[0] === 'backups' ? `backups/…/${parts[parts.length - 1]}` : `${parts[0]}/`;
      const group = groups.get(prefix) ?? { bytes: 0, objects: 0 };
      group.bytes += info.size;
      group.objects++;
      groups.set(prefix, group);
      bytes += info.size;
      objects++;
    }
  };
  await walk(root);
  return { bytes, objects, byPrefix: [...groups].map(([prefix, g]) => ({ prefix, ...g })).sort((a, b) => b.bytes - a.bytes) };
}

/** Objects stored in a bucket, counted on s3rver's storage (fast; a listing through the API is measured separately). */
export async function countStored(s3rverDirectory: string, bucket: string): Promise<number> {
  return (await writtenSince(s3rverDirectory, bucket, 0)).objects;
}

export interface ScalePoint {
  objects: number;
  wallMs: number;
  nodePeakRssBytes: number;
}

export interface ScaleModel {
  operation: string;
  /** Time per object, in milliseconds, and peak RSS per object, in bytes. */
  msPerObject: number;
  rssBytesPerObject: number;
  /** How they were found: the slope between two sizes, or (one size) the whole over the objects, RSS above the worker's floor. */
  basis: string;
  at: ScalePoint[];
  /** Linear model at `modelObjects`. */
  modelObjects: number;
  modelWallMs: number;
  modelRssBytes: number;
}

/**
 * The per-object cost of one operation and a linear model at `modelObjects`. With two sizes, the slope
 * between them (fixed costs cancel out); with one, the whole cost over the objects, RSS counted above
 * `floorRssBytes` (the bundled worker doing nothing), which overstates the slope by the fixed costs.
 */
export function scaleModel(operation: string, points: ScalePoint[], floorRssBytes: number, modelObjects: number): ScaleModel {
  const sorted = [...points].sort((a, b) => a.objects - b.objects);
  const big = sorted[sorted.length - 1]!;
  const small = sorted.length > 1 ? sorted[0]! : undefined;
  let msPerObject: number;
  let rssBytesPerObject: number;
  let basis: string;
  if (small && small.objects < big.objects) {
    const span = big.objects - small.objects;
    msPerObject = (big.wallMs - small.wallMs) / span;
    rssBytesPerObject = (big.nodePeakRssBytes - small.nodePeakRssBytes) / span;
    basis = `slope between ${small.objects} and ${big.objects} objects`;
  } else {
    msPerObject = big.wallMs / big.objects;
    rssBytesPerObject = Math.max(0, big.nodePeakRssBytes - floorRssBytes) / big.objects;
    basis = `whole cost over ${big.objects} objects (RSS above the worker's ${Math.round(floorRssBytes / 1048576)} MiB floor)`;
  }
  const extra = modelObjects - big.objects;
  return {
    operation,
    msPerObject,
    rssBytesPerObject,
    basis,
    at: sorted,
    modelObjects,
    modelWallMs: big.wallMs + msPerObject * extra,
    // Peak RSS never falls below what was measured: a negative slope is noise.
    modelRssBytes: big.nodePeakRssBytes + Math.max(0, rssBytesPerObject) * extra,
  };
}
