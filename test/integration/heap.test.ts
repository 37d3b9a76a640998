/**
 * The shipped bundles keep V8's heap small (src/engine/heap.ts): watched from inside a real backup with
 * media, by a preload that only reads V8's heap statistics (test/support/heap-report.cjs). The same
 * backup with the bound opted out (a heap flag at start-up, which Lifeboat then leaves alone) shows what
 * this workload does without it, so the bound is measured, not assumed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { awsEnv, bucketInputs, createBucket, createDatabase, ROOT, runActionBundle, s3Client, visibleOutput } from '../support/harness.js';
import { inPool, workspace } from './prune-fixtures.js';

const MiB = 1024 * 1024;
const OBJECTS = 1500;

describe('the heap of a shipped bundle', () => {
  it(`stays within 16 MiB (the whole heap within 64 MiB) through a media backup of ${OBJECTS} objects, which grows it past 32 MiB when the bound is opted out`, async () => {
    const database = await createDatabase('heap');
    const media = await createBucket('heap-media');
    await inPool(
      Array.from({ length: OBJECTS }, (_, i) => i),
      32,
      (i) => s3Client().send(new PutObjectCommand({ Bucket: media, Key: `uploads/${String(i).padStart(5, '0')}/photo.jpg`, Body: `photo ${i}`, ContentType: 'image/jpeg' })),
    );
    const backup = async (nodeOptions: string): Promise<{ newSpaceMaxBytes: number; heapMaxBytes: number }> => {
      const backups = await createBucket('heap-backups');
      const ws = workspace();
      const report = join(ws, 'heap-report.json');
      const run = await runActionBundle(
        'backup',
        { ...bucketInputs(backups), space: 'production', trigger: 'nightly', 'database-url': database, 'media-bucket': media },
        {
          ...awsEnv(),
          GITHUB_WORKSPACE: ws,
          GITHUB_EVENT_NAME: 'schedule',
          GITHUB_ACTOR: 'github-actions[bot]',
          NODE_OPTIONS: `--require ${join(ROOT, 'test/support/heap-report.cjs')} ${nodeOptions}`.trim(),
          LIFEBOAT_TEST_HEAP_REPORT: report,
        },
      );
      expect(run.code, visibleOutput(run)).toBe(0);
      return JSON.parse(readFileSync(report, 'utf8')) as { newSpaceMaxBytes: number; heapMaxBytes: number };
    };
    const shipped = await backup('');
    const optedOut = await backup('--max-semi-space-size=64');
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    // Measured 2026-12-01: new space 5.3 MiB as shipped, 128 MiB opted out; the whole heap 36.5 and 171 MiB.
    // Up to 16 MiB as shipped: the space may take a step on a loaded machine (test/unit/heap.test.ts).
    expect(optedOut.newSpaceMaxBytes, `new space with the bound opted out: ${mib(optedOut.newSpaceMaxBytes)}`).toBeGreaterThan(32 * MiB);
    expect(shipped.newSpaceMaxBytes, `new space as shipped: ${mib(shipped.newSpaceMaxBytes)}`).toBeLessThanOrEqual(16 * MiB);
    expect(shipped.heapMaxBytes, `heap as shipped: ${mib(shipped.heapMaxBytes)}`).toBeLessThanOrEqual(64 * MiB);
    expect(optedOut.heapMaxBytes, `heap with the bound opted out: ${mib(optedOut.heapMaxBytes)}, as shipped ${mib(shipped.heapMaxBytes)}`).toBeGreaterThan(2 * shipped.heapMaxBytes);
  }, 300_000);
});
