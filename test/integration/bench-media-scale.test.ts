/**
 * The media-scale bench group writes its objects straight into s3rver's storage. These tests hold that
 * layout to what s3rver serves: objects seeded on disk must list, GET and HEAD as if PUT through the
 * API, and the read-back check must notice when they do not. They start their own s3rver, as the bench
 * does (the layout is s3rver's, so there is nothing to run against RGW).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countStored, planScale, rewriteThroughApi, scaleContent, scaleModel, seedDirectly, spreadSample, verifyThroughApi, writtenSince } from '../../scripts/bench/media-scale.js';
import { listAllObjects } from '../../src/engine/s3/client.js';
import { startS3Server, type S3Sandbox } from '../../src/sandbox/s3-server.js';
import { createHash } from 'node:crypto';

let s3: S3Sandbox;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3Server();
  client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3, forcePathStyle: true });
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

async function seededBucket(name: string, count: number) {
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const plan = planScale(count);
  await seedDirectly(s3.directory, name, plan.objects);
  return plan;
}

describe('media-scale seeding', () => {
  it('plans upload-shaped keys of 200 B to 2 KiB, the same every time', () => {
    const plan = planScale(2000);
    expect(plan.objects).toHaveLength(2000);
    expect(new Set(plan.objects.map((o) => o.key)).size).toBe(2000);
    for (const o of plan.objects) {
      expect(o.key).toMatch(/^uploads\/20(19|2[0-4])\/(0[1-9]|1[0-2])\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}\/[\w-]+\.(jpg|png|pdf|webp)$/);
      expect(o.size).toBeGreaterThanOrEqual(200);
      expect(o.size).toBeLessThanOrEqual(2048);
    }
    expect(plan.bytes).toBe(plan.objects.reduce((s, o) => s + o.size, 0));
    expect(planScale(2000).objects.map((o) => o.key)).toEqual(plan.objects.map((o) => o.key));
    // Contents are reproducible per version, and differ between versions and objects.
    const [a, b] = plan.objects;
    expect(scaleContent(a!).equals(scaleContent(a!))).toBe(true);
    expect(scaleContent(a!).equals(scaleContent({ ...a!, version: 1 }))).toBe(false);
    expect(scaleContent(a!).subarray(0, 100).equals(scaleContent(b!).subarray(0, 100))).toBe(false);
  });

  it('writes objects s3rver lists in key order and serves with their content, MD5 ETag, type and metadata', async () => {
    const plan = await seededBucket('seeded', 600);
    const listed = await listAllObjects(client, 'seeded', '');
    const sortedKeys = plan.objects.map((o) => o.key).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(listed.map((o) => o.key)).toEqual(sortedKeys);
    const byKey = new Map(plan.objects.map((o) => [o.key, o]));
    for (const o of listed) {
      const planned = byKey.get(o.key)!;
      expect(o.size).toBe(planned.size);
      expect(o.etag).toBe(JSON.stringify(createHash('md5').update(scaleContent(planned)).digest('hex')));
    }
    expect(await verifyThroughApi(client, 'seeded', plan.objects)).toEqual([]);
    expect(await countStored(s3.directory, 'seeded')).toBe(600);
  });

  it('reports an object whose stored bytes, MD5 or metadata differ from the plan', async () => {
    const plan = await seededBucket('tampered', 50);
    const [bytesChanged, md5Changed, typeChanged] = plan.objects;
    const file = (key: string, resource: string) => join(s3.directory, 'tampered', `${key}._S3rver_${resource}`);
    const body = readFileSync(file(bytesChanged!.key, 'object'));
    body[0] = body[0]! ^ 0xff;
    writeFileSync(file(bytesChanged!.key, 'object'), body);
    writeFileSync(file(md5Changed!.key, 'object.md5'), '0'.repeat(32));
    writeFileSync(file(typeChanged!.key, 'metadata.json'), JSON.stringify({ 'content-type': 'text/plain', 'x-amz-meta-uploaded-by': 'bench' }, null, 2));
    const problems = await verifyThroughApi(client, 'tampered', plan.objects);
    expect(problems.some((p) => p.startsWith(`${bytesChanged!.key}: GET gave`))).toBe(true);
    expect(problems.some((p) => p.startsWith(`${md5Changed!.key}: GET ETag`))).toBe(true);
    expect(problems.some((p) => p.startsWith(`${typeChanged!.key}: content type text/plain`))).toBe(true);
    // Nothing else is reported.
    const others = new Set(plan.objects.slice(3).map((o) => o.key));
    expect(problems.filter((p) => others.has(p.slice(0, p.indexOf(':'))))).toEqual([]);
  });

  it('counts what was written to a bucket since a moment, by prefix, rewrites included', async () => {
    const plan = await seededBucket('written', 40);
    const since = Date.now() + 1;
    await new Promise((r) => setTimeout(r, 20));
    expect((await writtenSince(s3.directory, 'written', since)).objects).toBe(0);
    const rewritten = [plan.objects[3]!, plan.objects[17]!];
    await rewriteThroughApi(client, 'written', rewritten);
    const written = await writtenSince(s3.directory, 'written', since);
    expect(written.objects).toBe(2);
    expect(written.bytes).toBe(rewritten[0]!.size + rewritten[1]!.size);
    expect(written.byPrefix).toEqual([{ prefix: 'uploads/', bytes: written.bytes, objects: 2 }]);
    // The rewrite gave them new content, which the API serves.
    expect(rewritten.every((o) => o.version === 1)).toBe(true);
    expect(await verifyThroughApi(client, 'written', rewritten)).toEqual([]);
  });
});

describe('media-scale helpers', () => {
  it('spreads a sample over the whole range, first and last included', () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const sample = spreadSample(items, 10);
    expect(sample).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999]);
    expect(spreadSample(items.slice(0, 5), 10)).toEqual([0, 1, 2, 3, 4]);
  });

  it('models an operation by the slope between two sizes, or by the whole cost above the floor at one', () => {
    const MiB = 1024 * 1024;
    const two = scaleModel('x', [{ objects: 100_000, wallMs: 50_000, nodePeakRssBytes: 300 * MiB }, { objects: 10_000, wallMs: 5_000, nodePeakRssBytes: 120 * MiB }], 90 * MiB, 1_000_000);
    expect(two.msPerObject).toBeCloseTo(0.5, 9);
    expect(two.rssBytesPerObject).toBeCloseTo((180 * MiB) / 90_000, 6);
    expect(two.modelWallMs).toBeCloseTo(500_000, 3);
    expect(two.modelRssBytes).toBeCloseTo(300 * MiB + ((180 * MiB) / 90_000) * 900_000, 0);
    expect(two.at.map((p) => p.objects)).toEqual([10_000, 100_000]);
    const one = scaleModel('y', [{ objects: 100_000, wallMs: 20_000, nodePeakRssBytes: 110 * MiB }], 90 * MiB, 1_000_000);
    expect(one.msPerObject).toBeCloseTo(0.2, 9);
    expect(one.rssBytesPerObject).toBeCloseTo((20 * MiB) / 100_000, 6);
    expect(one.modelRssBytes).toBeCloseTo(110 * MiB + 20 * MiB * 9, 0);
    // Memory that does not grow (a flat or noisy-negative slope) models as what was measured.
    const flat = scaleModel('z', [{ objects: 10_000, wallMs: 1_000, nodePeakRssBytes: 130 * MiB }, { objects: 100_000, wallMs: 9_000, nodePeakRssBytes: 128 * MiB }], 90 * MiB, 1_000_000);
    expect(flat.modelRssBytes).toBe(128 * MiB);
  });
});
