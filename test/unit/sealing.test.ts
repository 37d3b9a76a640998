/**
 * Sealed manifests and signature judgements (src/domain/sealing.ts): what is hidden, what stays readable,
 * and every way a sealed part that does not belong to its manifest is caught.
 */
import { describe, expect, it } from 'vitest';
import { INDEXED_MANIFEST_FORMAT, MANIFEST_FORMAT, parseManifest, SEALED_MANIFEST_FORMAT, serializeManifest, type Manifest, type MediaObjectRecord } from '../../src/domain/manifest.js';
import {
  contentRefs,
  joinSealed,
  judgeSignature,
  parseSealedPart,
  SealMismatchError,
  SEALED_PART_FORMAT,
  signingPayload,
  splitForSealing,
  type SealedPart,
} from '../../src/domain/sealing.js';

const SHA = (c: string) => c.repeat(64);
const MD5 = 'b'.repeat(32);

function object(key: string, address: string, storedSize = 100): MediaObjectRecord {
  return { key, size: 50, sha256: SHA('a'), md5: MD5, metadata: { owner: 'x' }, address, storedSize };
}

function whole(): Manifest {
  return {
    format: MANIFEST_FORMAT,
    id: '2026-01-01T000000.000Z-nightly-0001',
    space: 'production',
    trigger: 'nightly',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    tool: { name: 'lifeboat', version: '1.0.0' },
    provenance: null,
    database: { source: 'db:5432/app', serverVersion: '17.2', serverVersionNum: 170002, pgDumpVersion: '17.2', tables: [{ schema: 'public', table: 'patients', rows: 3 }] },
    artifacts: [{ name: 'database', key: 'k.age', size: 10, sha256: SHA('c'), compression: 'zstd', format: 'pg_dump-custom', uncompressedSize: 20, encryption: 'age' }],
    media: {
      bucket: 'uploads',
      prefix: '',
      objects: [object('passport.pdf', SHA('1')), object('copy-of-passport.pdf', SHA('1')), object('photo.png', SHA('2'), 70)],
      totals: { objects: 3, bytes: 150, newObjects: 2, newBytes: 100, reusedObjects: 1, reusedBytes: 50 },
    },
  };
}

const encryption = { scheme: 'age' as const, recipients: ['age1abc'], sealed: 'c2VhbGVk' };

function sealedPair(manifest = whole()): { readable: Manifest; sealed: SealedPart } {
  const { readable, sealed } = splitForSealing(manifest);
  return { readable: { ...readable, encryption }, sealed: JSON.parse(JSON.stringify(sealed)) as SealedPart };
}

describe('splitForSealing', () => {
  it('keeps in the readable part only what reveals no data, and it is a valid manifest of the sealed format', () => {
    const { readable, sealed } = splitForSealing(whole());
    expect(readable.format).toBe(SEALED_MANIFEST_FORMAT);
    expect(readable.database.tables).toBeNull();
    expect(readable.media?.objects).toEqual([]);
    expect(readable.media?.totals).toEqual(whole().media!.totals);
    expect(readable.media?.contents).toEqual([
      { address: SHA('1'), size: 100 },
      { address: SHA('2'), size: 70 },
    ]);
    expect(readable.artifacts).toEqual(whole().artifacts);
    const text = serializeManifest({ ...readable, encryption });
    expect(text).not.toContain('patients');
    expect(text).not.toContain('passport');
    expect(text).not.toContain('owner');
    expect(parseManifest(text, 'test').media?.contents).toHaveLength(2);
  });

  it('puts the data in the sealed part, bound to the backup and its artifact hashes', () => {
    const { sealed } = splitForSealing(whole());
    expect(sealed).toEqual({
      format: SEALED_PART_FORMAT,
      id: whole().id,
      space: 'production',
      artifacts: [{ name: 'database', sha256: SHA('c') }],
      tables: [{ schema: 'public', table: 'patients', rows: 3 }],
      mediaObjects: whole().media!.objects,
    });
  });

  it('leaves out media from both parts when the backup has none, and drops any earlier encryption or signature', () => {
    const { media: _media, ...noMedia } = whole();
    const { readable, sealed } = splitForSealing({ ...noMedia, encryption, signature: { algorithm: 'ed25519', keyId: '0'.repeat(16), value: 'x' } });
    expect('media' in readable).toBe(false);
    expect('mediaObjects' in sealed).toBe(false);
    expect('encryption' in readable).toBe(false);
    expect('signature' in readable).toBe(false);
  });

  it('refuses media objects that were not stored encrypted', () => {
    expect(() => contentRefs([{ ...object('a', SHA('1')), address: undefined }])).toThrow(/'a' has no content address/);
    expect(() => contentRefs([{ ...object('a', SHA('1')), storedSize: undefined }])).toThrow(SealMismatchError);
  });
});

describe('joinSealed', () => {
  it('gives back the whole manifest, with the readable part\'s encryption', () => {
    const { readable, sealed } = sealedPair();
    const joined = joinSealed(readable, sealed);
    expect(joined.database.tables).toEqual(whole().database.tables);
    expect(joined.media?.objects).toEqual(whole().media!.objects);
    expect(joined.encryption).toEqual(encryption);
    expect(joined.id).toBe(whole().id);
  });

  it('joins a backup without media', () => {
    const { media: _media, ...noMedia } = whole();
    const { readable, sealed } = sealedPair(noMedia);
    expect(joinSealed(readable, sealed).media).toBeUndefined();
  });

  it.each([
    ['another backup id', (s: SealedPart) => (s.id = '2026-01-02T000000.000Z-nightly-0002'), /belongs to backup 2026-01-02T000000.000Z-nightly-0002 of 'production', not to 2026-01-01/],
    ['another space', (s: SealedPart) => (s.space = 'staging'), /belongs to backup .* of 'staging'/],
    ['another artifact hash', (s: SealedPart) => (s.artifacts[0]!.sha256 = SHA('d')), /the artifact 'database' is not the one this backup wrote: the readable manifest records SHA-256 c{64}, the sealed part d{64}/],
    ['a missing artifact', (s: SealedPart) => (s.artifacts = []), /does not name the artifact 'database'/],
    ['an extra artifact', (s: SealedPart) => s.artifacts.push({ name: 'extra', sha256: SHA('e') }), /names 2 artifacts, the readable manifest 1/],
    ['no media objects', (s: SealedPart) => delete s.mediaObjects, /holds no media objects, but the backup holds media/],
    ['other media content', (s: SealedPart) => (s.mediaObjects![2]!.address = SHA('3')), /refer to other content than the readable manifest lists/],
    ['another stored size', (s: SealedPart) => (s.mediaObjects![2]!.storedSize = 71), /refer to other content/],
    ['one content less', (s: SealedPart) => s.mediaObjects!.pop(), /refer to other content/],
  ])('refuses a sealed part with %s', (_what, change, message) => {
    const { readable, sealed } = sealedPair();
    change(sealed);
    expect(() => joinSealed(readable, sealed)).toThrow(message);
  });

  it('refuses a sealed part with media objects for a backup without media', () => {
    const { media: _media, ...noMedia } = whole();
    const { readable } = sealedPair(noMedia);
    const { sealed } = sealedPair();
    expect(() => joinSealed(readable, sealed)).toThrow(/holds media objects, but the backup holds no media/);
  });

  it('refuses when the readable part lists more content than the sealed objects use', () => {
    const { readable, sealed } = sealedPair();
    readable.media!.contents!.push({ address: SHA('9'), size: 1 });
    expect(() => joinSealed(readable, sealed)).toThrow(/refer to other content/);
  });
});

describe('parseSealedPart', () => {
  it('reads a sealed part and refuses anything else, naming the problem', () => {
    const { sealed } = sealedPair();
    expect(parseSealedPart(JSON.stringify(sealed))).toEqual(sealed);
    expect(() => parseSealedPart('{not json')).toThrow('its sealed part is not JSON');
    expect(() => parseSealedPart(JSON.stringify({ ...sealed, format: 'other' }))).toThrow(/does not match lifeboat-sealed\/1: \/format must be equal to constant/);
    expect(() => parseSealedPart(JSON.stringify({ ...sealed, tables: [{ schema: 'a', table: 'b', rows: -1 }] }))).toThrow(/\/tables\/0\/rows must be >= 0/);
    const { id: _id, ...noId } = sealed;
    expect(() => parseSealedPart(JSON.stringify(noId))).toThrow(/must have required property 'id'/);
    expect(() => parseSealedPart(JSON.stringify({ ...sealed, mediaObjects: [{ key: 'a' }] }))).toThrow(/mediaObjects\/0 must have required property/);
  });
});

describe('signingPayload', () => {
  it('is the serialized manifest without its signature, so adding the signature does not change what it covers', () => {
    const manifest = whole();
    const signed: Manifest = { ...manifest, signature: { algorithm: 'ed25519', keyId: '0'.repeat(16), value: 'sig' } };
    expect(signingPayload(signed)).toBe(serializeManifest(manifest));
    expect(signingPayload(manifest)).toBe(serializeManifest(manifest));
    // What is stored and read back gives the same payload.
    expect(signingPayload(parseManifest(serializeManifest(signed), 'x'))).toBe(serializeManifest(manifest));
    expect(signingPayload({ ...manifest, space: 'staging' })).not.toBe(serializeManifest(manifest));
  });
});

describe('judgeSignature', () => {
  const backup = 'production/2026-01-01T000000.000Z-nightly-0001';
  it('accepts a verified signature, required or not, without a message', () => {
    expect(judgeSignature({ kind: 'verified', keyId: 'k1' }, backup, 'staging', true, 1)).toEqual({ ok: true });
    expect(judgeSignature({ kind: 'verified', keyId: 'k1' }, backup, 'staging', false, 1)).toEqual({ ok: true });
  });

  it('refuses a signature that does not match, even where none is required', () => {
    for (const required of [true, false]) {
      const judgement = judgeSignature({ kind: 'invalid', keyId: 'k1' }, backup, 'staging', required, 1);
      expect(judgement.ok).toBe(false);
      expect(judgement.message).toBe(`The manifest of ${backup} is signed with key k1, but the signature does not match its contents: it was changed after it was signed.`);
      expect(judgement.fix).toMatch(/Restore another backup/);
    }
  });

  it('refuses an unknown key where signatures are required, and only warns elsewhere', () => {
    const refused = judgeSignature({ kind: 'unknown-key', keyId: 'k9' }, backup, 'production', true, 2);
    expect(refused.ok).toBe(false);
    expect(refused.message).toBe(
      `The manifest of ${backup} is signed with key k9, which is not one of the 2 trusted signing key(s), and the policy requires signed backups for 'production'.`,
    );
    expect(refused.fix).toMatch(/^If k9 is the backup job's key, add its public key\. List the backup job's public key/);
    const warned = judgeSignature({ kind: 'unknown-key', keyId: 'k9' }, backup, 'dev', false, 0);
    expect(warned.ok).toBe(true);
    expect(warned.message).toMatch(/signed with key k9, which is not a trusted key, so the signature was not checked/);
    expect(warned.fix).toBeUndefined();
  });

  it('refuses an unsigned backup only where signatures are required', () => {
    const refused = judgeSignature({ kind: 'unsigned' }, backup, 'production', true, 1);
    expect(refused).toEqual({
      ok: false,
      message: `Backup ${backup} is not signed, and the policy requires signed backups for 'production' (signing.required-for).`,
      fix: `Restore a signed backup, or give the backup job 'signing-key' so new backups are signed.`,
    });
    expect(judgeSignature({ kind: 'unsigned' }, backup, 'dev', false, 1)).toEqual({ ok: true });
  });
});

describe('the sealed part schema, field by field', () => {
  const valid = () => JSON.parse(JSON.stringify(sealedPair().sealed)) as Record<string, any>;
  it.each([
    ['id', (s: Record<string, any>) => (s.id = 7), '/id must be string'],
    ['space', (s: Record<string, any>) => (s.space = null), '/space must be string'],
    ['artifacts', (s: Record<string, any>) => (s.artifacts = {}), '/artifacts must be array'],
    ['an artifact', (s: Record<string, any>) => (s.artifacts = ['database']), '/artifacts/0 must be object'],
    ['an artifact name', (s: Record<string, any>) => (s.artifacts[0].name = 1), '/artifacts/0/name must be string'],
    ['an artifact hash', (s: Record<string, any>) => (s.artifacts[0].sha256 = 1), '/artifacts/0/sha256 must be string'],
    ['an artifact without a hash', (s: Record<string, any>) => delete s.artifacts[0].sha256, "/artifacts/0 must have required property 'sha256'"],
    ['an artifact without a name', (s: Record<string, any>) => delete s.artifacts[0].name, "/artifacts/0 must have required property 'name'"],
    ['tables', (s: Record<string, any>) => (s.tables = 'x'), '/tables must be array,null'],
    ['a table', (s: Record<string, any>) => (s.tables = [1]), '/tables/0 must be object'],
    ['a table schema', (s: Record<string, any>) => (s.tables[0].schema = 1), '/tables/0/schema must be string'],
    ['a table name', (s: Record<string, any>) => (s.tables[0].table = 1), '/tables/0/table must be string'],
    ['a row count', (s: Record<string, any>) => (s.tables[0].rows = 1.5), '/tables/0/rows must be integer'],
    ['a table without rows', (s: Record<string, any>) => delete s.tables[0].rows, "/tables/0 must have required property 'rows'"],
    ['a table without a schema', (s: Record<string, any>) => delete s.tables[0].schema, "/tables/0 must have required property 'schema'"],
    ['a table without a name', (s: Record<string, any>) => delete s.tables[0].table, "/tables/0 must have required property 'table'"],
    ['media objects', (s: Record<string, any>) => (s.mediaObjects = {}), '/mediaObjects must be array'],
    ['no space', (s: Record<string, any>) => delete s.space, "must have required property 'space'"],
    ['no artifacts', (s: Record<string, any>) => delete s.artifacts, "must have required property 'artifacts'"],
    ['no tables', (s: Record<string, any>) => delete s.tables, "must have required property 'tables'"],
    ['no format', (s: Record<string, any>) => delete s.format, "must have required property 'format'"],
  ])('refuses a wrong %s', (_what, change, message) => {
    const sealed = valid();
    change(sealed);
    expect(() => parseSealedPart(JSON.stringify(sealed))).toThrow(message);
  });

  it('lists every problem at once, separated by semicolons, and names the whole part as /', () => {
    const sealed = valid();
    sealed.id = 1;
    sealed.space = 2;
    expect(() => parseSealedPart(JSON.stringify(sealed))).toThrow('does not match lifeboat-sealed/1: /id must be string; /space must be string');
    expect(() => parseSealedPart('[]')).toThrow('does not match lifeboat-sealed/1: / must be object');
  });

  it('names its errors SealMismatchError', () => {
    const error = (() => {
      try {
        parseSealedPart('{');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(SealMismatchError);
    expect(error?.name).toBe('SealMismatchError');
  });

  it('keeps the first stored size of content several objects share', () => {
    expect(contentRefs([object('a', SHA('1'), 10), object('b', SHA('1'), 99)])).toEqual([{ address: SHA('1'), size: 10 }]);
  });

  it('refuses a readable part with media but no content list', () => {
    const { readable, sealed } = sealedPair();
    delete readable.media!.contents;
    expect(() => joinSealed(readable, sealed)).toThrow(/refer to other content/);
  });
});

describe('an indexed manifest (format 3), sealed', () => {
  const chunks = [
    { address: SHA('d'), sha256: SHA('e'), size: 300, objects: 2 },
    { address: SHA('f'), sha256: SHA('0'), size: 200, objects: 1 },
  ];
  function indexed(): Manifest {
    const manifest = whole();
    return { ...manifest, format: INDEXED_MANIFEST_FORMAT, media: { ...manifest.media!, objects: [], index: { format: 'lifeboat-media-index/1', chunks } } };
  }

  it('keeps its format and its index readable, names the chunks in the sealed part, and embeds no objects', () => {
    const { readable, sealed } = splitForSealing(indexed());
    expect(readable.format).toBe(INDEXED_MANIFEST_FORMAT);
    expect(readable.media?.index?.chunks).toEqual(chunks);
    expect(readable.media?.contents).toBeUndefined();
    expect(readable.database.tables).toBeNull();
    expect(sealed.mediaIndex).toEqual([SHA('e'), SHA('0')]);
    expect(sealed.mediaObjects).toBeUndefined();
    expect(parseManifest(serializeManifest({ ...readable, encryption }), 'test').media?.index?.chunks).toEqual(chunks);
    expect(parseSealedPart(JSON.stringify(sealed))).toEqual(sealed);
  });

  it('joins back with the row counts, and refuses chunks that are not the ones sealed', () => {
    const { readable, sealed } = sealedPair(indexed());
    const joined = joinSealed(readable, sealed);
    expect(joined.database.tables).toEqual(whole().database.tables);
    expect(joined.media?.index?.chunks).toEqual(chunks);
    expect(joined.encryption).toEqual(encryption);
    const refuse = (part: SealedPart, media = readable.media) => expect(() => joinSealed({ ...readable, media }, part)).toThrow(/names other media index chunks than the readable manifest/);
    refuse({ ...sealed, mediaIndex: [SHA('0'), SHA('e')] });
    refuse({ ...sealed, mediaIndex: [SHA('e')] });
    refuse({ ...sealed, mediaIndex: [SHA('e'), SHA('0'), SHA('1')] });
    refuse({ ...sealed, mediaIndex: undefined });
    refuse({ ...sealed, mediaObjects: [] });
    refuse(sealed, { ...readable.media!, index: { format: 'lifeboat-media-index/1', chunks: [chunks[0]!, { ...chunks[1]!, sha256: SHA('9') }] } });
  });

  it('refuses a sealed part naming chunks for a manifest without an index', () => {
    const { readable, sealed } = sealedPair();
    expect(() => joinSealed(readable, { ...sealed, mediaIndex: [SHA('e')] })).toThrow(/names media index chunks, but the readable manifest has no media index/);
  });
});
