/**
 * Encrypted media over time: incremental copies with and without the identity on the backup job, rotation,
 * prune's clean-up without any identity, and the parallel restore's pre-restore backup.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/domain/policy.js';
import { runBackup, type BackupOptions } from '../../src/engine/backup/backup.js';
import { parseIdentities, parseRecipients, parseSigningKey, parseVerificationKeys, recipientsOf } from '../../src/engine/crypto/keys.js';
import { openManifest } from '../../src/engine/crypto/manifest-trust.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { verifyMediaPresent } from '../../src/engine/media/media.js';
import { runPrune } from '../../src/engine/prune/prune.js';
import { runRestore } from '../../src/engine/restore/restore.js';
import type { BucketSettings } from '../../src/engine/s3/client.js';
import { BackupStore } from '../../src/engine/s3/store.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests } from '../support/compare.js';
import { createBucket, createDatabase, getObjectBytes, listKeys, s3Client, s3Info } from '../support/harness.js';
import { mediaObjectsOf } from '../support/media-index.js';

function settings(bucket: string): BucketSettings {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

function ageKey(): { identity: string; recipient: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'age-')), 'key.txt');
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  return { identity: readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!, recipient: execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim() };
}

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

let first: ReturnType<typeof ageKey>;
let second: ReturnType<typeof ageKey>;
let signingPem: string;
let publicPem: string;

beforeAll(() => {
  first = ageKey();
  second = ageKey();
  const pair = generateKeyPairSync('ed25519');
  signingPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
});

describe('encrypted media over time', () => {
  it('an encrypted index chunk whose readable content list was edited is refused when read with the identity', async () => {
    const database = await createDatabase('media');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    for (const key of ['a.txt', 'b.txt']) await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: `content of ${key}` }));
    const keys = { recipients: parseRecipients(first.recipient), signingKey: parseSigningKey(signingPem) };
    const { manifest } = await runBackup(
      { space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000, bucket: settings(backups), media: { source: settings(media) }, keys },
      memoryLogger(),
    );
    const store = new BackupStore(settings(backups));
    const identities = parseIdentities(first.identity).identities;
    const [chunk] = manifest.media!.index!.chunks;
    expect(chunk!.address).not.toBe(chunk!.sha256);
    const key = store.mediaIndexKey(chunk!.address);
    const stored = await getObjectBytes(backups, key);
    const end = stored.indexOf(0x0a);
    const header = JSON.parse(stored.subarray(0, end).toString('utf8'));
    expect(header.contents).toHaveLength(2);
    // Read with the identity, it is whole.
    expect((await mediaObjectsOf(manifest, store, identities)).map((o) => o.key)).toEqual(['a.txt', 'b.txt']);

    // The readable list (what prune trusts) loses one address; the manifest's size is fixed up to match.
    const edited = Buffer.concat([Buffer.from(JSON.stringify({ ...header, contents: header.contents.slice(1) })), stored.subarray(end)]);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: edited }));
    const fixedUp = { ...manifest.media!, index: { ...manifest.media!.index!, chunks: [{ ...chunk!, size: edited.length }] } };
    await expect(mediaObjectsOf({ ...manifest, media: fixedUp }, store, identities)).rejects.toThrow(/lists other content in its readable part than its records use/);
    // Without the identity it cannot be told (the list is all prune has), which is why restore reads with it.
    await expect(verifyMediaPresent(fixedUp, store)).resolves.toMatchObject({ contents: 1 });
  });

  it('copies only what changed when the backup job has an identity, reads but does not store again without one, and stores anew for a new recipient set', async () => {
    const database = await createDatabase('media');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    for (const key of ['a.txt', 'b.txt', 'c/d.txt']) await s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: `content of ${key}` }));
    const signingKey = parseSigningKey(signingPem);
    const base = (keys: BackupOptions['keys']): BackupOptions => ({
      space: 'dev', trigger: 'manual', databaseUrl: database, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000,
      bucket: settings(backups), media: { source: settings(media) }, keys,
    });
    const withIdentity = { recipients: parseRecipients(first.recipient), signingKey, identities: parseIdentities(first.identity) };
    const initial = await runBackup(base(withIdentity), memoryLogger());
    expect(initial.mediaTraffic).toMatchObject({ objectsWritten: 3 });
    expect(initial.manifest.media?.totals).toMatchObject({ newObjects: 3, reusedObjects: 0 });

    const incremental = await runBackup(base(withIdentity), memoryLogger());
    expect(incremental.mediaTraffic).toEqual({ bytesRead: 0, bytesWritten: 0, objectsWritten: 0 });
    expect(incremental.manifest.media?.totals).toMatchObject({ reusedObjects: 3, newObjects: 0 });

    const log = memoryLogger();
    const blind = await runBackup(base({ recipients: parseRecipients(first.recipient), signingKey }), log);
    expect(blind.mediaTraffic?.bytesRead).toBeGreaterThan(0);
    expect(blind.mediaTraffic?.objectsWritten).toBe(0);
    expect(blind.manifest.media?.totals).toMatchObject({ newObjects: 0, reusedObjects: 3 });
    expect(log.lines.join('\n')).toMatch(/is encrypted and 'encryption-identity' is not given, so every media object is read again/);

    const rotated = await runBackup(base({ recipients: parseRecipients(`${first.recipient}\n${second.recipient}`), signingKey }), memoryLogger());
    expect(rotated.mediaTraffic?.objectsWritten).toBe(3);
    expect((await listKeys(backups, 'media/age/')).length).toBe(6);
    expect(await listKeys(backups, 'media/sha256/')).toEqual([]);
  });

  it('prune, holding no identity, deletes only encrypted content no kept backup refers to, and the kept backup stays whole', async () => {
    const database = await createDatabase('media');
    const media = await createBucket('media');
    const backups = await createBucket('backups');
    const put = (key: string, body: string) => s3Client().send(new PutObjectCommand({ Bucket: media, Key: key, Body: body }));
    await put('a.txt', 'version 1 of a');
    await put('b.txt', 'b never changes');
    const keys = { recipients: parseRecipients(first.recipient), signingKey: parseSigningKey(signingPem) };
    const t0 = Math.ceil(Date.now() / DAY) * DAY + 10 * DAY + 2 * 3_600_000;
    const backupAt = async (at: number) =>
      (
        await runBackup(
          {
            space: 'dev', trigger: 'nightly', databaseUrl: database, compression: 'zstd', rowCounts: false, progressIntervalMs: 60_000,
            bucket: settings(backups), media: { source: settings(media) }, keys, env: { ...process.env, LIFEBOAT_NOW: iso(at) },
          },
          memoryLogger(),
        )
      ).manifest;
    await backupAt(t0);
    await put('a.txt', 'version 2 of a');
    await backupAt(t0 + DAY);
    const kept = await backupAt(t0 + 2 * DAY);
    expect(await listKeys(backups, 'media/age/')).toHaveLength(3);

    const result = await runPrune(
      { bucket: settings(backups), policy: DEFAULT_POLICY, incompleteGraceMs: DAY, dryRun: false, env: { ...process.env, LIFEBOAT_NOW: iso(t0 + 2 * DAY + 3_600_000) } },
      memoryLogger(),
    );
    expect(result.deleted).toHaveLength(2);
    // Content and index chunks: a v1 and the first backup's chunk go.
    expect(result.media).toMatchObject({ stored: 5, referenced: 3, deleted: 2, tooYoung: 0 });
    const store = new BackupStore(settings(backups));
    const stored = await store.getManifest('dev', kept.id);
    const { manifest } = await openManifest(stored, { identities: parseIdentities(first.identity), trustedKeys: parseVerificationKeys([publicPem], 'test') }, { targetSpace: 'dev', signatureRequired: true }, () => undefined);
    await verifyMediaPresent(manifest.media!, store);
    expect((await mediaObjectsOf(manifest, store, parseIdentities(first.identity).identities)).map((o) => o.key)).toEqual(['a.txt', 'b.txt']);
  });

  it('the parallel restore of an encrypted backup takes its pre-restore backup encrypted to the identity, and restores', async () => {
    const source = await createDatabase('source');
    await createSampleApp(source);
    const target = await createDatabase('target');
    await createSampleApp(target, 2);
    const backups = await createBucket('backups');
    const made = await runBackup(
      {
        space: 'dev', trigger: 'manual', databaseUrl: source, compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000, bucket: settings(backups),
        keys: { recipients: parseRecipients(`${first.recipient}\n${second.recipient}`) },
      },
      memoryLogger(),
    );
    const identities = parseIdentities(second.identity);
    const result = await runRestore(
      {
        sourceSpace: 'dev', targetSpace: 'dev', backupId: made.manifest.id, databaseUrl: target, bucket: settings(backups), jobs: 2, parallelThresholdBytes: 0,
        caller: { kind: 'cli', automated: true }, keys: { identities, trustedKeys: [] }, env: { ...process.env, GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) },
      },
      memoryLogger(),
    );
    expect(result.method).toBe('parallel');
    expect(await tableDigests(target)).toEqual(await tableDigests(source));
    const pre = await new BackupStore(settings(backups)).getManifest('dev', result.preRestoreBackupId!);
    expect(pre.encryption?.recipients).toEqual(await recipientsOf(identities));
    expect(pre.artifacts[0]!.encryption).toBe('age');
  });
});
