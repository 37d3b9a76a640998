/**
 * Client-side encryption and signed manifests (docs/encryption.md), through the bundles, against the
 * throwaway PostgreSQL and the S3 server of the project (s3rver, or Ceph RGW).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { fullDump, tableDigests } from '../support/compare.js';
import {
  awsEnv,
  bucketInputs,
  createBucket,
  createDatabase,
  getObjectBytes,
  listKeys,
  postgresInfo,
  runActionBundle,
  s3Client,
  visibleOutput,
  withClient,
} from '../support/harness.js';

interface AgeKey {
  file: string;
  identity: string;
  recipient: string;
}

function ageKey(dir: string, name: string): AgeKey {
  const file = join(dir, `${name}.txt`);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  const identity = readFileSync(file, 'utf8').split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'))!;
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  return { file, identity, recipient };
}

function signingKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const CANARY = `canary-row-${randomBytes(6).toString('hex')}`;
const MEDIA_KEY = `uploads/passport-of-${randomBytes(4).toString('hex')}.pdf`;
const MEDIA_TEXT = `media-canary-${randomBytes(6).toString('hex')}`;
// Larger than the 8 MiB held in memory, so it is stored by the streamed, multipart path.
const LARGE = randomBytes(9 * 1024 * 1024 + 123);

async function seedDatabase(url: string, rows: number): Promise<void> {
  await createSampleApp(url);
  await withClient(url, async (client) => {
    await client.query('CREATE TABLE public.secret_notes (id int PRIMARY KEY, note text NOT NULL)');
    await client.query(`INSERT INTO public.secret_notes SELECT g, $1 || '-' || g FROM generate_series(1, $2::int) g`, [CANARY, rows]);
  });
}

async function seedMedia(bucket: string): Promise<void> {
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: MEDIA_KEY, Body: MEDIA_TEXT, ContentType: 'application/pdf', Metadata: { 'original-name': 'passport.pdf' } }));
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: 'uploads/large.bin', Body: LARGE }));
  await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: 'uploads/empty.txt', Body: '' }));
}

/** Every stored byte of a bucket, with zstd streams decompressed where they decompress: what a bucket reader can see. */
async function readableBytes(bucket: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const { key } of await listKeys(bucket)) {
    const data = await getObjectBytes(bucket, key);
    parts.push(Buffer.from(key), data);
    try {
      parts.push(zstdDecompressSync(data));
    } catch {
      // not zstd
    }
    // gzip (the media index's chunks) hides nothing: what it compresses counts as readable.
    try {
      parts.push(gunzipSync(data));
    } catch {
      // not gzip
    }
  }
  return Buffer.concat(parts);
}

async function mediaState(bucket: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const { key } of await listKeys(bucket)) state[key] = sha256(await getObjectBytes(bucket, key));
  return state;
}

let dir: string;
let workspace: string;
let oldKey: AgeKey;
let newKey: AgeKey;
let signing: ReturnType<typeof signingKeyPair>;
let source: string;
let prodMedia: string;
let backups: string;

const restoreEnv = () => ({ ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: workspace });

function backupInputs(extra: Record<string, string> = {}) {
  return {
    ...bucketInputs(backups),
    space: 'production',
    trigger: 'nightly',
    'database-url': source,
    'media-bucket': prodMedia,
    'encryption-recipients': oldKey.recipient,
    'signing-key': signing.privatePem,
    ...extra,
  };
}

async function backup(extra: Record<string, string> = {}): Promise<string> {
  const run = await runActionBundle('backup', backupInputs(extra), awsEnv());
  expect(run.code, visibleOutput(run)).toBe(0);
  return run.outputs['backup-id']!;
}

async function manifestOf(id: string): Promise<Record<string, any>> {
  return JSON.parse((await getObjectBytes(backups, `backups/production/${id}/manifest.json`)).toString('utf8'));
}

async function putManifest(id: string, manifest: unknown): Promise<void> {
  await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: `backups/production/${id}/manifest.json`, Body: JSON.stringify(manifest, null, 2) + '\n' }));
}

async function target(): Promise<{ url: string; media: string; before: string; mediaBefore: Record<string, string> }> {
  const url = await createDatabase('staging');
  await createSampleApp(url, 2);
  const media = await createBucket('staging-media');
  await s3Client().send(new PutObjectCommand({ Bucket: media, Key: 'staging-only.txt', Body: 'stays unless restored over' }));
  return { url, media, before: fullDump(url), mediaBefore: await mediaState(media) };
}

function restoreInputs(into: { url: string; media: string }, extra: Record<string, string> = {}) {
  return {
    ...bucketInputs(backups),
    'source-space': 'production',
    'target-space': 'staging',
    'database-url': into.url,
    'media-bucket': into.media,
    'encryption-identity': readFileSync(oldKey.file, 'utf8'),
    'signing-public-keys': signing.publicPem,
    ...extra,
  };
}

async function expectRefusedUnchanged(into: Awaited<ReturnType<typeof target>>, inputs: Record<string, string>, pattern: RegExp): Promise<void> {
  const run = await runActionBundle('restore', inputs, restoreEnv());
  expect(run.code, visibleOutput(run)).toBe(1);
  expect(visibleOutput(run)).toMatch(pattern);
  expect(fullDump(into.url)).toBe(into.before);
  expect(await mediaState(into.media)).toEqual(into.mediaBefore);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-keys-'));
  workspace = mkdtempSync(join(tmpdir(), 'ws-'));
  oldKey = ageKey(dir, 'old');
  newKey = ageKey(dir, 'new');
  signing = signingKeyPair();
  source = await createDatabase('source');
  await seedDatabase(source, 500);
  prodMedia = await createBucket('prod-media');
  await seedMedia(prodMedia);
  backups = await createBucket('backups');
});

describe('encrypted backups', () => {
  it('round trip: database and media (with a multipart-sized object) restore exactly, twice, and nothing stored reveals a row, a media key or media content', async () => {
    const id = await backup();
    const seen = await readableBytes(backups);
    expect(seen.includes(Buffer.from(CANARY))).toBe(false);
    expect(seen.includes(Buffer.from(MEDIA_KEY))).toBe(false);
    expect(seen.includes(Buffer.from('passport'))).toBe(false);
    expect(seen.includes(Buffer.from(MEDIA_TEXT))).toBe(false);
    expect(seen.includes(LARGE.subarray(4_000_000, 4_000_064))).toBe(false);
    expect(seen.includes(Buffer.from('secret_notes'))).toBe(false);
    for (const { key } of await listKeys(backups, 'media/')) expect(key).toMatch(/^media\/(age|index)\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    const manifest = await manifestOf(id);
    expect(manifest.format).toBe('lifeboat-manifest/3');
    expect(manifest.media.index.chunks.length).toBeGreaterThan(0);
    expect(manifest.encryption.recipients).toEqual([oldKey.recipient]);
    expect(manifest.signature.algorithm).toBe('ed25519');
    expect(manifest.artifacts[0].key).toMatch(/database\.pgdump\.zst\.age$/);

    // list needs no identity, and says to whom it is encrypted and that it is signed.
    const listed = await runActionBundle('list', { ...bucketInputs(backups), space: 'production', details: 'true' }, awsEnv());
    expect(listed.code, visibleOutput(listed)).toBe(0);
    const entry = JSON.parse(listed.outputs.backups!).find((b: { id: string }) => b.id === id);
    expect(entry.details.encryption).toEqual({ recipients: [oldKey.recipient] });
    expect(entry.details.signature).toEqual({ keyId: manifest.signature.keyId });
    expect(entry.details.media.objects).toBe(3);

    const into = await target();
    const first = await runActionBundle('restore', restoreInputs(into), restoreEnv());
    expect(first.code, visibleOutput(first)).toBe(0);
    expect(visibleOutput(first)).toMatch(/signed by trusted key [0-9a-f]{16}, and the signature matches/);
    expect(await tableDigests(into.url)).toEqual(await tableDigests(source));
    expect(await mediaState(into.media)).toEqual(await mediaState(prodMedia));

    const second = await runActionBundle('restore', restoreInputs(into), restoreEnv());
    expect(second.code, visibleOutput(second)).toBe(0);
    expect(await tableDigests(into.url)).toEqual(await tableDigests(source));
    expect(await mediaState(into.media)).toEqual(await mediaState(prodMedia));
    expect(second.summary).toMatch(/0 copied/);
    // Masked the moment they were read: the runner is told to hide the identity and the signing key's line.
    expect(first.stdout).toContain(`::add-mask::${oldKey.identity}`);
    for (const run of [first, second, listed]) {
      // What a person sees (the runner consumes the ::add-mask:: commands), and the step's state.
      expect(visibleOutput(run)).not.toContain(oldKey.identity);
      expect(visibleOutput(run)).not.toContain(signing.privatePem.split('\n')[1]);
      expect(JSON.stringify(run.state)).not.toContain(oldKey.identity);
    }
  });

  it('the scan of stored bytes finds the row values, media keys and content of a backup made without encryption', async () => {
    const plain = await createBucket('plain-backups');
    const run = await runActionBundle('backup', { ...backupInputs(), ...bucketInputs(plain), 'encryption-recipients': '', 'signing-key': '' }, awsEnv());
    expect(run.code, visibleOutput(run)).toBe(0);
    const seen = await readableBytes(plain);
    expect(seen.includes(Buffer.from(CANARY))).toBe(true);
    expect(seen.includes(Buffer.from(MEDIA_KEY))).toBe(true);
    expect(seen.includes(Buffer.from(MEDIA_TEXT))).toBe(true);
    expect(seen.includes(LARGE.subarray(4_000_000, 4_000_064))).toBe(true);
  });

  it("Debian's age CLI decrypts the stored archive, and the documented pipeline restores it into a fresh database; a media object decrypts to its content", async () => {
    const id = await backup();
    const manifest = await manifestOf(id);
    const archive = join(dir, 'database.pgdump.zst.age');
    writeFileSync(archive, await getObjectBytes(backups, manifest.artifacts[0].key));
    const fresh = await createDatabase('by-hand');
    const pipelineRun = spawnSync('bash', ['-o', 'pipefail', '-c', `age -d -i "$KEY" "$ARCHIVE" | zstd -d | pg_restore --no-owner -d "$DATABASE_URL"`], {
      env: { ...process.env, KEY: oldKey.file, ARCHIVE: archive, DATABASE_URL: fresh },
      encoding: 'utf8',
    });
    expect(pipelineRun.status, pipelineRun.stderr).toBe(0);
    expect(await tableDigests(fresh)).toEqual(await tableDigests(source));

    const sealed = spawnSync('age', ['-d', '-i', oldKey.file], { input: Buffer.from(manifest.encryption.sealed, 'base64') });
    expect(sealed.status).toBe(0);
    expect(JSON.parse(sealed.stdout.toString('utf8')).tables).toEqual(expect.arrayContaining([expect.objectContaining({ table: 'secret_notes' })]));
    // The media index, by hand (docs/encryption.md): each chunk is a readable first line, then an age file of gzip'd JSON lines.
    const objects: { key: string; address: string }[] = [];
    for (const chunk of manifest.media.index.chunks as { address: string }[]) {
      const chunkFile = join(dir, `chunk-${chunk.address}`);
      writeFileSync(chunkFile, await getObjectBytes(backups, `media/index/${chunk.address.slice(0, 2)}/${chunk.address}`));
      const lines = spawnSync('bash', ['-o', 'pipefail', '-c', `tail -n +2 "$CHUNK" | age -d -i "$KEY" | gunzip`], { env: { ...process.env, CHUNK: chunkFile, KEY: oldKey.file } });
      expect(lines.status, lines.stderr.toString()).toBe(0);
      objects.push(...lines.stdout.toString('utf8').trim().split('\n').map((line) => JSON.parse(line)));
    }
    const passport = objects.find((o) => o.key === MEDIA_KEY)!;
    const content = spawnSync('age', ['-d', '-i', oldKey.file], { input: await getObjectBytes(backups, `media/age/${passport.address.slice(0, 2)}/${passport.address}`) });
    expect(content.stdout.toString('utf8')).toBe(MEDIA_TEXT);
  });

  it('refuses, before the target is touched: a wrong identity, a missing identity, and a backup whose artifact was swapped for another backup\'s', async () => {
    const into = await target();
    const id = await backup();
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': id, 'encryption-identity': newKey.identity }), /encrypted to age1\w+, and the identity in 'encryption-identity' \(public key age1\w+\) is not one of them: wrong identity/);
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': id, 'encryption-identity': '' }), /is encrypted \(to age1\w+\), and 'encryption-identity' is not given/);

    // Another backup, of other data, encrypted to the same recipient.
    await withClient(source, (client) => client.query(`UPDATE public.secret_notes SET note = 'tampered' WHERE id = 1`));
    const other = await backup();
    await withClient(source, (client) => client.query(`UPDATE public.secret_notes SET note = $1 || '-1' WHERE id = 1`, [CANARY]));
    const victim = await manifestOf(id);
    const donor = await manifestOf(other);
    await s3Client().send(new CopyObjectCommand({ Bucket: backups, Key: victim.artifacts[0].key, CopySource: `${backups}/${donor.artifacts[0].key}` }));
    const swapped: Record<string, any> = { ...victim, artifacts: [{ ...victim.artifacts[0], sha256: donor.artifacts[0].sha256, size: donor.artifacts[0].size, uncompressedSize: donor.artifacts[0].uncompressedSize }] };
    // Signed: the changed manifest no longer matches its signature.
    await putManifest(id, swapped);
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': id }), /Restore refused: The manifest of production\/\S+ is signed with key [0-9a-f]{16}, but the signature does not match its contents/);
    // Unsigned (the attacker drops the signature): the sealed part still names the artifact this backup wrote.
    const { signature: _dropped, ...unsigned } = swapped;
    await putManifest(id, unsigned);
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': id }), /the artifact 'database' is not the one this backup wrote/);
    // And the sealed part moved over with it is refused too: it names the other backup.
    await putManifest(id, { ...unsigned, encryption: donor.encryption });
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': id }), new RegExp(`its sealed part belongs to backup ${other}`));
  });

  it('with signing.required-for, refuses an unsigned backup and one forged with another key, and restores a signed one', async () => {
    mkdirSync(join(workspace, '.github'), { recursive: true });
    const oneLine = signing.publicPem.split('\n')[1]!;
    writeFileSync(join(workspace, '.github', 'lifeboat.yml'), `signing:\n  public-keys: [${oneLine}]\n  required-for: [staging]\n`);
    try {
      const into = await target();
      const unsignedId = await backup({ 'signing-key': '', 'media-bucket': '' });
      await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': unsignedId, 'signing-public-keys': '', 'media-bucket': '' }), /is not signed, and the policy requires signed backups for 'staging'/);

      const forger = signingKeyPair();
      const forgedId = await backup({ 'signing-key': forger.privatePem });
      await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': forgedId, 'signing-public-keys': '' }), /signed with key [0-9a-f]{16}, which is not one of the 1 trusted signing key\(s\), and the policy requires signed backups for 'staging'/);

      const good = await backup();
      // A planted journal naming an unsigned "pre-restore backup": where signatures are required, a person decides.
      const url = new URL(into.url);
      const journalKey = 'restore-journal/staging.json';
      const journal = {
        format: 'lifeboat-restore-journal/1',
        targetSpace: 'staging',
        target: `${url.hostname}:${url.port}${url.pathname}`,
        sourceSpace: 'production',
        backupId: good,
        preRestoreBackupId: unsignedId,
        startedAt: new Date().toISOString(),
      };
      await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: journalKey, Body: JSON.stringify(journal) }));
      await expectRefusedUnchanged(
        into,
        restoreInputs(into, { 'backup-id': good, 'signing-public-keys': '' }),
        new RegExp(`names the pre-restore backup ${unsignedId}, which is not signed, and the policy requires signed backups for 'staging', so Lifeboat will not apply it on its own`),
      );
      await s3Client().send(new DeleteObjectCommand({ Bucket: backups, Key: journalKey }));

      const run = await runActionBundle('restore', restoreInputs(into, { 'backup-id': good, 'signing-public-keys': '' }), restoreEnv());
      expect(run.code, visibleOutput(run)).toBe(0);
      expect(await tableDigests(into.url)).toEqual(await tableDigests(source));
    } finally {
      writeFileSync(join(workspace, '.github', 'lifeboat.yml'), '');
    }
  });

  it('rotation: a backup made before a recipient was added restores with the old identity; the new one restores with the new identity only', async () => {
    const before = await backup();
    const after = await backup({ 'encryption-recipients': `${oldKey.recipient}\n${newKey.recipient}` });
    expect((await manifestOf(after)).encryption.recipients).toEqual([oldKey.recipient, newKey.recipient]);
    const into = await target();
    await expectRefusedUnchanged(into, restoreInputs(into, { 'backup-id': before, 'encryption-identity': newKey.identity }), /wrong identity/);
    const old = await runActionBundle('restore', restoreInputs(into, { 'backup-id': before }), restoreEnv());
    expect(old.code, visibleOutput(old)).toBe(0);
    expect(await mediaState(into.media)).toEqual(await mediaState(prodMedia));
    const renewed = await runActionBundle('restore', restoreInputs(into, { 'backup-id': after, 'encryption-identity': readFileSync(newKey.file, 'utf8') }), restoreEnv());
    expect(renewed.code, visibleOutput(renewed)).toBe(0);
    expect(await tableDigests(into.url)).toEqual(await tableDigests(source));
    expect(await mediaState(into.media)).toEqual(await mediaState(prodMedia));
  });

  it('check verifies an encrypted backup without any key, and drill restores it with the identity, decrypting and hashing its media', async () => {
    const id = await backup();
    const manifest = await manifestOf(id);
    const policyFile = join(dir, 'check-policy.yml');
    writeFileSync(policyFile, 'freshness:\n  - { space: production, trigger: nightly, max-age: 26h }\n');
    const check = (extra: Record<string, string> = {}) =>
      runActionBundle('check', { ...bucketInputs(backups), space: 'production', 'policy-file': policyFile, ...extra }, { ...awsEnv(), GITHUB_WORKSPACE: workspace });
    const healthy = await check();
    expect(healthy.code, visibleOutput(healthy)).toBe(0);

    // A given empty database, so this drill makes no scratch database that another file's drill test would see.
    const drillDatabase = new URL(await createDatabase('enc-drill')).pathname.slice(1);
    const drillInputs = (extra: Record<string, string> = {}) => ({
      ...bucketInputs(backups),
      space: 'production',
      'backup-id': id,
      'database-url': postgresInfo().url,
      'drill-database': drillDatabase,
      'media-sample': 'all',
      'encryption-identity': oldKey.identity,
      'signing-public-keys': signing.publicPem,
      ...extra,
    });
    const drill = await runActionBundle('drill', drillInputs(), { ...awsEnv(), GITHUB_WORKSPACE: workspace });
    expect(drill.code, visibleOutput(drill)).toBe(0);
    expect(visibleOutput(drill)).toMatch(/Read and hashed the content of 3 of 3 media objects: all match the manifest/);
    expect(visibleOutput(drill)).not.toContain(oldKey.identity);
    const blind = await runActionBundle('drill', drillInputs({ 'encryption-identity': '' }), { ...awsEnv(), GITHUB_WORKSPACE: workspace });
    expect(blind.code).toBe(1);
    expect(visibleOutput(blind)).toMatch(/is encrypted \(to age1\w+\), and 'encryption-identity' is not given/);

    // One encrypted content object replaced by garbage of the same size: check (no key) cannot tell, drill can.
    // The chunk's readable part lists the content by keyed address and stored size (no identity needed).
    const chunk = manifest.media.index.chunks[0];
    const header = JSON.parse((await getObjectBytes(backups, `media/index/${chunk.address.slice(0, 2)}/${chunk.address}`)).toString('utf8').split('\n')[0]!);
    const content = header.contents.find((c: { size: number }) => c.size < 1000);
    const key = `media/age/${content.address.slice(0, 2)}/${content.address}`;
    const original = await getObjectBytes(backups, key);
    await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: randomBytes(original.length) }));
    try {
      const damaged = await runActionBundle('drill', drillInputs(), { ...awsEnv(), GITHUB_WORKSPACE: workspace });
      expect(damaged.code).toBe(1);
      expect(visibleOutput(damaged)).toMatch(/its content at s3:\/\/\S+ cannot be read: .*age (header|file)/);
      // Cut short: check finds it by its stored size.
      await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: original.subarray(0, original.length - 1) }));
      const cut = await check();
      expect(cut.code).toBe(1);
      expect(visibleOutput(cut)).toMatch(new RegExp(`encrypted content ${content.address.slice(0, 12)}… has ${original.length - 1} bytes, the manifest says ${original.length}`));
    } finally {
      await s3Client().send(new PutObjectCommand({ Bucket: backups, Key: key, Body: original }));
    }
  });

  it('bad key inputs are refused with the input named, and secret keys never echoed', async () => {
    const secretInRecipients = await runActionBundle('backup', backupInputs({ 'encryption-recipients': oldKey.identity }), awsEnv());
    expect(secretInRecipients.code).toBe(1);
    expect(visibleOutput(secretInRecipients)).toMatch(/'encryption-recipients' holds an age secret key/);
    expect(visibleOutput(secretInRecipients)).not.toContain(oldKey.identity);
    const notAKey = await runActionBundle('backup', backupInputs({ 'encryption-recipients': 'age1notakey' }), awsEnv());
    expect(visibleOutput(notAKey)).toMatch(/'encryption-recipients' has 'age1notakey', which is not an age public key/);
    const noSigning = await runActionBundle('backup', backupInputs({ 'signing-key': '' }), awsEnv());
    expect(noSigning.code).toBe(1);
    expect(visibleOutput(noSigning)).toMatch(/'encryption-recipients' is set and the backup includes the media bucket, but 'signing-key' is not given/);
    const identityOnly = await runActionBundle('backup', backupInputs({ 'encryption-recipients': '', 'encryption-identity': oldKey.identity }), awsEnv());
    expect(identityOnly.code).toBe(1);
    expect(visibleOutput(identityOnly)).toMatch(/'encryption-identity' is given to the backup but 'encryption-recipients' is not, so the backup would not be encrypted/);
    expect(visibleOutput(identityOnly)).not.toContain(oldKey.identity);
    const badSigning = await runActionBundle('backup', backupInputs({ 'signing-key': 'not a key at all' }), awsEnv());
    expect(visibleOutput(badSigning)).toMatch(/'signing-key' is not a private key/);
    expect(postgresInfo().url).toBeTruthy();
  });
});
