/**
 * Building backup histories for the prune tests: real backups (runBackup against a real database, with
 * LIFEBOAT_NOW) and realistic ones written straight through the S3 API (artifacts plus a manifest made by
 * the real serializeManifest), and checks of what a bucket holds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { formatBackupId, type Trigger } from '../../src/domain/backup-id.js';
import { MANIFEST_FORMAT, parseManifest, serializeManifest, type ArtifactRecord, type Manifest } from '../../src/domain/manifest.js';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { LIFEBOAT_VERSION } from '../../src/engine/version.js';
import { awsEnv, getObjectBytes, listKeys, ROOT, s3Client, s3Info } from '../support/harness.js';

export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;

export interface SeededBackup {
  space: string;
  trigger: Trigger;
  id: string;
  createdAt: Date;
  complete: boolean;
}

export interface Seed {
  space: string;
  trigger: Trigger;
  at: string | number | Date;
  /** Artifact files besides the manifest; 1 by default. */
  artifacts?: number;
  /** false: artifacts without a manifest, as a failed, running or half-deleted backup leaves. */
  complete?: boolean;
}

export function sandboxStore(bucket: string): BackupStore {
  const s3 = s3Info();
  return new BackupStore(
    { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
    s3Client(),
  );
}

/** Runs body over items, `limit` at a time. */
export async function inPool<T, R>(items: readonly T[], limit: number, body: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await body(items[index]!);
      }
    }),
  );
  return results;
}

/** Writes backups the way backup does (artifacts, then the manifest last), fast enough for hundreds. */
export async function seedBackups(bucket: string, seeds: readonly Seed[]): Promise<SeededBackup[]> {
  const store = sandboxStore(bucket);
  const backups = seeds.map((seed) => {
    const createdAt = new Date(seed.at);
    return { seed, backup: { space: seed.space, trigger: seed.trigger, id: formatBackupId(createdAt, seed.trigger), createdAt, complete: seed.complete ?? true } };
  });
  const puts: { key: string; body: Buffer }[] = [];
  const manifests: Manifest[] = [];
  for (const { seed, backup } of backups) {
    const artifacts: ArtifactRecord[] = [];
    for (let i = 0; i < (seed.artifacts ?? 1); i++) {
      const file = i === 0 ? 'database.pgdump.zst' : `part-${String(i).padStart(3, '0')}.bin`;
      const body = randomBytes(64 + i);
      const key = store.artifactKey(backup.space, backup.id, file);
      puts.push({ key, body });
      artifacts.push({
        name: i === 0 ? 'database' : `part-${i}`,
        key,
        size: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        compression: 'zstd',
        format: i === 0 ? 'pg_dump-custom' : 'raw',
        uncompressedSize: body.length * 3,
      });
    }
    if (backup.complete) {
      manifests.push({
        format: MANIFEST_FORMAT,
        id: backup.id,
        space: backup.space,
        trigger: backup.trigger,
        startedAt: backup.createdAt.toISOString(),
        finishedAt: new Date(backup.createdAt.getTime() + 90_000).toISOString(),
        tool: { name: 'lifeboat', version: LIFEBOAT_VERSION },
        provenance: null,
        database: { source: 'seeded:5432/app', serverVersion: '17.2', serverVersionNum: 170002, pgDumpVersion: '17.2', tables: null },
        artifacts,
      });
    }
  }
  const client = s3Client();
  await inPool(puts, 24, ({ key, body }) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
  // Manifests last: the commit point, as in a real backup.
  await inPool(manifests, 24, (manifest) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: store.manifestKey(manifest.space, manifest.id), Body: serializeManifest(manifest) })),
  );
  return backups.map((b) => b.backup);
}

/** A real backup of a real database, made as if at `at`. */
export async function realBackup(bucket: string, databaseUrl: string, space: string, trigger: Trigger, at: string): Promise<SeededBackup> {
  const s3 = s3Info();
  const result = await runBackup(
    {
      space,
      trigger,
      databaseUrl,
      bucket: { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
      compression: 'zstd',
      rowCounts: true,
      progressIntervalMs: 60_000,
      env: { ...process.env, LIFEBOAT_NOW: at },
    },
    memoryLogger(),
  );
  expect(result.manifest.startedAt).toBe(new Date(at).toISOString());
  return { space, trigger, id: result.manifest.id, createdAt: new Date(at), complete: true };
}

/** Every key and size in the bucket, sorted: to compare a bucket before and after. */
export async function bucketSnapshot(bucket: string): Promise<string[]> {
  return (await listKeys(bucket)).map((o) => `${o.key} ${o.size}`).sort();
}

export interface BucketState {
  /** `space/id` of backups with a manifest. */
  complete: string[];
  /** `space/id` of backups without one. */
  incomplete: string[];
  journals: string[];
}

/**
 * What the bucket holds, checking on the way the invariant prune must keep: every manifest's artifacts
 * are all there, with the sizes it records.
 */
export async function inspectBucket(bucket: string): Promise<BucketState> {
  const objects = await listKeys(bucket);
  const sizes = new Map(objects.map((o) => [o.key, o.size]));
  const backups = new Map<string, string[]>();
  const journals: string[] = [];
  for (const { key } of objects) {
    if (key.startsWith('prune-journal/')) {
      journals.push(key);
      continue;
    }
    const [root, space, id] = key.split('/');
    expect(root, `unexpected key ${key}`).toBe('backups');
    const name = `${space}/${id}`;
    backups.set(name, [...(backups.get(name) ?? []), key]);
  }
  const state: BucketState = { complete: [], incomplete: [], journals };
  const complete = [...backups].filter(([, keys]) => keys.some((k) => k.endsWith('/manifest.json')));
  await inPool(complete, 16, async ([name]) => {
    const key = `backups/${name}/manifest.json`;
    const manifest = parseManifest((await getObjectBytes(bucket, key)).toString('utf8'), key);
    for (const artifact of manifest.artifacts) {
      expect(sizes.get(artifact.key), `${name}: its manifest names ${artifact.key}, which must exist`).toBe(artifact.size);
    }
  });
  for (const [name, keys] of backups) {
    (keys.some((k) => k.endsWith('/manifest.json')) ? state.complete : state.incomplete).push(name);
  }
  state.complete.sort();
  state.incomplete.sort();
  return state;
}

export const names = (backups: readonly SeededBackup[]) => backups.map((b) => `${b.space}/${b.id}`).sort();

/** A workspace directory, with `.github/lifeboat.yml` when policy text is given. */
export function workspace(policy?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ws-'));
  if (policy !== undefined) {
    mkdirSync(join(dir, '.github'));
    writeFileSync(join(dir, '.github', 'lifeboat.yml'), policy);
  }
  return dir;
}

export interface S3ProxyOptions {
  /** Each DeleteObjects request waits this long, one at a time, like a distant or busy store. */
  deleteDelayMs?: number;
  /** Answer the n-th DeleteObjects request (from 1) with 403 AccessDenied instead of passing it on. */
  denyDelete?: (n: number) => boolean;
  /** Called when the store has answered the n-th DeleteObjects request, before the client sees the answer. */
  onDeleteAnswered?: (n: number) => void;
}

/**
 * A proxy in front of the S3 sandbox, for the ways a store or a network misbehaves. Requests pass through
 * with their Host header and signature unchanged. `cutOff()` is the network dying: requests still waiting,
 * and any the client sent just before, never reach the store. (The proxy cannot see a killed client by
 * itself: Node does not read a socket while its response is pending.)
 */
export async function s3Proxy(options: S3ProxyOptions): Promise<{ endpoint: string; cutOff: () => void }> {
  const upstream = new URL(s3Info().endpoint);
  let queue = Promise.resolve();
  let dead = false;
  let deletesSeen = 0;
  let deletesAnswered = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const isDelete = req.method === 'POST' && /[?&]delete(=|&|$)/.test(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const forward = () =>
        new Promise<void>((done) => {
          if (dead) {
            res.destroy();
            return done();
          }
          const upstreamRequest = request(
            { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
            (upstreamResponse) => {
              res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
              upstreamResponse.pipe(res);
              upstreamResponse.on('end', () => {
                if (isDelete) options.onDeleteAnswered?.(++deletesAnswered);
                done();
              });
            },
          );
          upstreamRequest.on('error', () => {
            res.destroy();
            done();
          });
          upstreamRequest.end(Buffer.concat(chunks));
        });
      if (!isDelete) return void forward();
      const n = ++deletesSeen;
      if (options.denyDelete?.(n)) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
        return;
      }
      queue = queue.then(async () => {
        await sleep(options.deleteDelayMs ?? 0);
        await forward();
      });
    });
  });
  server.on('connection', (socket: Socket) => {
    if (dead) socket.destroy();
    else sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cutOff: () => {
      if (dead) return;
      dead = true;
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * The CLI's prune at `now`, through a slow proxy, killed (SIGKILL, no chance to clean up) once the store has
 * answered `deletes` DeleteObjects requests. The network dies with the client: what it had not sent never arrives.
 */
export async function pruneKilledAfter(
  bucket: string,
  ws: string,
  now: string,
  deletes: number,
  deleteDelayMs = 300,
): Promise<{ killed: boolean; log: string }> {
  let child: ChildProcess | undefined;
  let killed = false;
  const proxy = await s3Proxy({
    deleteDelayMs,
    onDeleteAnswered: (n) => {
      if (n !== deletes) return;
      killed = child!.kill('SIGKILL');
      proxy.cutOff();
    },
  });
  child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'index.js'), 'prune', '--backup-bucket', bucket, '--s3-endpoint', proxy.endpoint], {
    cwd: ws,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...awsEnv(), LIFEBOAT_NOW: now, GITHUB_WORKSPACE: ws },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (data: Buffer) => (log += data.toString()));
  child.stderr!.on('data', (data: Buffer) => (log += data.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
  proxy.cutOff();
  return { killed: killed && signal === 'SIGKILL', log };
}
