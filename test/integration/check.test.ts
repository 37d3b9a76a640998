/**
 * The check action through its bundle: freshness against LIFEBOAT_NOW, the stored bytes read and hashed,
 * and its JSON, Prometheus and Pushgateway outputs read back by a strict parser and a real HTTP server.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import type { Manifest } from '../../src/domain/manifest.js';
import type { Trigger } from '../../src/domain/backup-id.js';
import { bucketSettings } from '../support/restore-steps.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, getObjectBytes, runActionBundle, runCli, s3Client, s3Info, visibleOutput, withClient } from '../support/harness.js';

async function backupAt(url: string, bucket: string, space: string, trigger: Trigger, at: string, commit?: string): Promise<Manifest> {
  const env = { ...process.env, LIFEBOAT_NOW: at, ...(commit ? { GITHUB_ACTIONS: 'true', GITHUB_SHA: commit, GITHUB_REPOSITORY: 'acme/app' } : { GITHUB_ACTIONS: '' }) };
  const result = await runBackup(
    { space, trigger, databaseUrl: url, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000, env },
    memoryLogger(),
  );
  return result.manifest;
}

const DEPLOYED = 'c0ffee1234567890c0ffee1234567890c0ffee12';

describe('check', () => {
  let database: string;
  let bucket: string;
  let newest: Manifest;

  beforeAll(async () => {
    database = await createDatabase('checked');
    await withClient(database, async (c) => {
      await c.query('CREATE TABLE audit (id serial PRIMARY KEY, at timestamptz NOT NULL, note text)');
      await c.query("INSERT INTO audit (at, note) SELECT now() - g * interval '1 hour', 'note ' || g FROM generate_series(1, 500) g");
    });
    bucket = await createBucket('checked');
    for (const day of ['17', '18', '19', '20']) await backupAt(database, bucket, 'production', 'nightly', `2026-11-${day}T02:00:00Z`);
    await backupAt(database, bucket, 'production', 'predeploy', '2026-11-20T15:00:00Z', DEPLOYED);
    await backupAt(database, bucket, 'dev', 'nightly', '2026-11-21T02:10:00Z');
    newest = await backupAt(database, bucket, 'production', 'nightly', '2026-11-21T02:00:00Z');
    // A killed backup: an artifact and no manifest. Reported, never a failure.
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: 'backups/production/2026-11-21T030000.000Z-manual-dead/database.pgdump.zst', Body: 'partial' }));
  });

  it('passes on a healthy history, with JSON and Prometheus outputs that parse, pushed to a Pushgateway', async () => {
    const pushes: { method?: string; url?: string; contentType?: string; authorization?: string; body: string }[] = [];
    const gateway = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (d: Buffer) => (body += d.toString()));
      request.on('end', () => {
        pushes.push({ method: request.method, url: request.url, contentType: request.headers['content-type'], authorization: request.headers.authorization, body });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const port = (gateway.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-check-'));
    try {
      const run = await runActionBundle(
        'check',
        {
          ...bucketInputs(bucket),
          commit: DEPLOYED.slice(0, 12),
          'metrics-file': join(dir, 'metrics.json'),
          'prometheus-file': join(dir, 'metrics.prom'),
          'pushgateway-url': `http://pusher:s3cr3t-push@127.0.0.1:${port}/`,
        },
        { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T12:00:00Z' },
      );
      expect(run.code, run.stdout).toBe(0);
      expect(run.outputs.status).toBe('ok');
      expect(run.outputs.problems).toBe('0');
      expect(run.summary).toMatch(/^## ✅ Lifeboat check: backups are as the policy expects\n/);
      expect(run.summary).toContain('incomplete (no manifest)');
      expect(visibleOutput(run)).not.toContain('s3cr3t-push');

      // JSON: the output and the file are the same document.
      const document = JSON.parse(run.outputs.metrics!);
      expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toEqual(document);
      expect(document).toMatchObject({ format: 'lifeboat-check-metrics/1', status: 'ok', checkedAt: '2026-11-21T12:00:00.000Z', problems: [] });
      const prod = document.groups.find((g: { space: string; trigger: string }) => g.space === 'production' && g.trigger === 'nightly');
      expect(prod.last.id).toBe(newest.id);
      expect(prod.last.ageSeconds).toBeCloseTo((Date.parse('2026-11-21T12:00:00Z') - Date.parse(newest.finishedAt)) / 1000, 3);
      expect(prod.counts).toEqual({ complete: 5, incomplete: 0, invalid: 0 });
      expect(prod.trend.previous).toBe(4);
      expect(document.freshness.map((f: { space: string; trigger: string; kind: string; ok: boolean }) => [f.space, f.trigger, f.kind, f.ok])).toEqual([
        ['production', 'nightly', 'age', true],
        ['dev', 'nightly', 'age', true],
        ['production', 'predeploy', 'commit', true],
      ]);
      expect(document.verified.map((v: { space: string; id: string; problems: string[] }) => [v.space, v.id, v.problems])).toEqual([
        ['dev', expect.stringContaining('-nightly-'), []],
        ['production', newest.id, []],
      ]);
      expect(document.incomplete).toEqual([expect.objectContaining({ id: '2026-11-21T030000.000Z-manual-dead', space: 'production' })]);

      // Prometheus: the file parses strictly, and the push carried the same text.
      const text = readFileSync(join(dir, 'metrics.prom'), 'utf8');
      const families = parsePrometheusText(text);
      expect(families.get('lifeboat_check_success')).toMatchObject({ type: 'gauge', samples: [{ labels: {}, value: 1 }] });
      expect(families.get('lifeboat_backup_last_success_timestamp_seconds')!.samples).toContainEqual({
        name: 'lifeboat_backup_last_success_timestamp_seconds',
        labels: { space: 'production', trigger: 'nightly' },
        value: Date.parse(newest.finishedAt) / 1000,
      });
      expect(families.get('lifeboat_backup_fresh')!.samples.map((s) => [s.labels.space, s.labels.trigger, s.value])).toEqual([
        ['production', 'nightly', 1],
        ['dev', 'nightly', 1],
        ['production', 'predeploy', 1],
      ]);
      expect(families.get('lifeboat_check_verified_artifacts')!.samples[0]!.value).toBe(2);
      for (const f of families.values()) expect(f.help, f.name).toBeTruthy();
      expect(pushes).toHaveLength(1);
      expect(pushes[0]).toMatchObject({ method: 'PUT', url: `/metrics/job/lifeboat_check/bucket/${bucket}`, body: text });
      expect(pushes[0]!.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(pushes[0]!.authorization).toBe(`Basic ${Buffer.from('pusher:s3cr3t-push').toString('base64')}`);

      // The CLI gives the same verdict.
      const cli = await runCli(['check', '--json', '--backup-bucket', bucket, '--s3-endpoint', s3Info().endpoint], { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T12:00:00Z' });
      expect(cli.code, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout).status).toBe('ok');
    } finally {
      gateway.close();
    }
  });

  it('fails when the newest production nightly is older than the rule, and when the deployed commit has no predeploy', async () => {
    // 26 h after the newest nightly finished is still fresh; a minute more is not.
    const limit = new Date(Date.parse(newest.finishedAt) + 26 * 3_600_000).toISOString();
    const atLimit = await runActionBundle('check', { ...bucketInputs(bucket), space: 'production', 'verify-last': '0' }, { ...awsEnv(), LIFEBOAT_NOW: limit });
    expect(atLimit.code, atLimit.stdout).toBe(0);
    const late = new Date(Date.parse(limit) + 60_000).toISOString();
    const stale = await runActionBundle('check', { ...bucketInputs(bucket), space: 'production', 'verify-last': '0' }, { ...awsEnv(), LIFEBOAT_NOW: late });
    expect(stale.code).toBe(1);
    expect(stale.outputs.status).toBe('failed');
    expect(stale.summary).toMatch(/^## ❌ Lifeboat check failed: 1 problem\n/);
    expect(stale.summary).toContain(`The newest good production nightly backup, ${newest.id}, is 26.0 h old: older than 26h, the policy's limit.`);
    expect(stale.stdout).toContain('::error::lifeboat check failed: 1 problem');
    expect(JSON.parse(stale.outputs.metrics!).freshness[0]).toMatchObject({ space: 'production', trigger: 'nightly', ok: false });

    const undeployed = await runActionBundle('check', { ...bucketInputs(bucket), space: 'production', 'verify-last': '0', commit: 'deadbeef' }, { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T12:00:00Z' });
    expect(undeployed.code).toBe(1);
    expect(undeployed.summary).toContain('No good production predeploy backup records commit deadbeef');
  });

  it('follows the freshness rules of the policy file, and refuses bad input naming it', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'lifeboat-policy-'));
    writeFileSync(join(workspace, 'lifeboat.yml'), 'freshness:\n  - { space: dev, trigger: nightly, max-age: 2h }\n');
    const run = await runActionBundle('check', { ...bucketInputs(bucket), 'policy-file': 'lifeboat.yml', 'verify-last': '0' }, { ...awsEnv(), GITHUB_WORKSPACE: workspace, LIFEBOAT_NOW: '2026-11-21T12:00:00Z' });
    expect(run.code).toBe(1);
    expect(run.summary).toContain('older than 2h');
    expect(JSON.parse(run.outputs.metrics!).freshness).toHaveLength(1);

    const badCommit = await runActionBundle('check', { ...bucketInputs(bucket), commit: 'main' }, awsEnv());
    expect(badCommit.code).toBe(1);
    expect(badCommit.stdout).toContain("Input 'commit' is 'main'; it must be a git commit SHA of 7 to 40 hex digits");
    const badCount = await runActionBundle('check', { ...bucketInputs(bucket), 'verify-last': 'all' }, awsEnv());
    expect(badCount.stdout).toContain("Input 'verify-last' is 'all'");
  });

  it('fails when an artifact’s bytes are corrupted in the bucket, even at the same size', async () => {
    const own = await createBucket('corrupt');
    const manifest = await backupAt(database, own, 'production', 'nightly', '2026-11-21T02:00:00Z');
    const artifact = manifest.artifacts[0]!;
    const healthy = await runActionBundle('check', { ...bucketInputs(own), space: 'production' }, { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T03:00:00Z' });
    expect(healthy.code, healthy.stdout).toBe(0);
    const bytes = await getObjectBytes(own, artifact.key);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await s3Client().send(new PutObjectCommand({ Bucket: own, Key: artifact.key, Body: bytes }));
    const run = await runActionBundle('check', { ...bucketInputs(own), space: 'production' }, { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T03:00:00Z' });
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/^## ❌ Lifeboat check failed: 1 problem\n/);
    expect(run.summary).toContain(`Artifact '${artifact.name}' of backup ${manifest.id}`);
    expect(run.summary).toContain(`where the manifest records ${artifact.sha256}`);
    const families = parsePrometheusText(await (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lifeboat-prom-'));
      await runActionBundle('check', { ...bucketInputs(own), space: 'production', 'prometheus-file': join(dir, 'm.prom') }, { ...awsEnv(), LIFEBOAT_NOW: '2026-11-21T03:00:00Z' });
      return readFileSync(join(dir, 'm.prom'), 'utf8');
    })());
    expect(families.get('lifeboat_check_success')!.samples[0]!.value).toBe(0);
    expect(families.get('lifeboat_check_problems')!.samples[0]!.value).toBe(1);
  });
});
