/**
 * The manifest schema, field by field: restore trusts a manifest that parses, so every field it relies on
 * must be required and typed, and a manifest that breaks any of them must be refused with the field named.
 */
import { describe, expect, it } from 'vitest';
import { COMPRESSIONS, InvalidManifestError, MANIFEST_FORMAT, parseManifest, provenanceFromEnv, serializeManifest, type Manifest } from '../../src/domain/manifest.js';

const SHA = 'a'.repeat(64);
const MD5 = 'b'.repeat(32);

function fullManifest(): Manifest {
  return {
    format: MANIFEST_FORMAT,
    id: '2026-01-01T000000.000Z-nightly-0001',
    space: 'dev',
    trigger: 'nightly',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    tool: { name: 'lifeboat', version: '0.1.0' },
    provenance: { repository: 'o/r', ref: 'refs/heads/main', commit: 'abc', workflow: 'w', eventName: 'schedule', runId: '1', runAttempt: '1', runUrl: 'u', actor: 'me' },
    database: { source: 'db:5432/app', serverVersion: '17.2', serverVersionNum: 170002, pgDumpVersion: '17.2', tables: [{ schema: 'public', table: 't', rows: 3 }] },
    artifacts: [{ name: 'database', key: 'k', size: 10, sha256: SHA, compression: 'zstd', format: 'pg_dump-custom', uncompressedSize: 20 }],
    media: {
      bucket: 'uploads',
      prefix: 'media/',
      objects: [
        { key: 'a.png', size: 5, sha256: SHA, md5: MD5, contentType: 'image/png', metadata: { owner: 'x' }, etag: '"e"', lastModified: '2026-01-01T00:00:00.000Z' },
      ],
      totals: { objects: 1, bytes: 5, newObjects: 1, newBytes: 5, reusedObjects: 0, reusedBytes: 0 },
    },
  };
}

/** The manifest with `change` applied to a deep copy; `change` may delete or replace anything. */
function variant(change: (m: Record<string, any>) => void): string {
  const copy = JSON.parse(JSON.stringify(fullManifest())) as Record<string, any>;
  change(copy);
  return JSON.stringify(copy);
}

function refusal(text: string): string {
  try {
    parseManifest(text, 's3://bucket/dev/x/manifest.json');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the manifest was accepted');
}

describe('manifest schema', () => {
  it('accepts a manifest using every field, and every compression', () => {
    expect(parseManifest(serializeManifest(fullManifest()), 'm')).toEqual(fullManifest());
    expect(COMPRESSIONS).toEqual(['zstd', 'gzip', 'none']);
    for (const compression of COMPRESSIONS) {
      const text = variant((m) => (m.artifacts[0].compression = compression));
      expect(parseManifest(text, 'm').artifacts[0]!.compression).toBe(compression);
    }
  });

  it.each(['format', 'id', 'space', 'trigger', 'startedAt', 'finishedAt', 'tool', 'provenance', 'database', 'artifacts'])(
    'refuses a manifest without %s',
    (field) => {
      expect(refusal(variant((m) => delete m[field]))).toContain(`/ must have required property '${field}'`);
    },
  );

  it.each([
    ['an unknown trigger', (m: any) => (m.trigger = 'weekly'), '/trigger must be equal to one of the allowed values'],
    ['a tool without a name', (m: any) => delete m.tool.name, "/tool must have required property 'name'"],
    ['a tool without a version', (m: any) => delete m.tool.version, "/tool must have required property 'version'"],
    ['a tool name that is not a string', (m: any) => (m.tool.name = 1), '/tool/name must be string'],
    ['a tool that is not an object', (m: any) => (m.tool = 'lifeboat'), '/tool must be object'],
    ['provenance that is not an object', (m: any) => (m.provenance = 'ci'), '/provenance must be object,null'],
    ['a provenance field that is not a string', (m: any) => (m.provenance.repository = 7), '/provenance/repository must be string'],
    ['a provenance actor that is not a string', (m: any) => (m.provenance.actor = 7), '/provenance/actor must be string'],
    ['database that is not an object', (m: any) => (m.database = 'pg'), '/database must be object'],
    ['a fractional server version number', (m: any) => (m.database.serverVersionNum = 17.2), '/database/serverVersionNum must be integer'],
    ['tables that are not a list', (m: any) => (m.database.tables = {}), '/database/tables must be array,null'],
    ['a table count that is not an object', (m: any) => (m.database.tables = [3]), '/database/tables/0 must be object'],
    ['a negative row count', (m: any) => (m.database.tables[0].rows = -1), '/database/tables/0/rows must be >= 0'],
    ['a fractional row count', (m: any) => (m.database.tables[0].rows = 1.5), '/database/tables/0/rows must be integer'],
    ['a table name that is not a string', (m: any) => (m.database.tables[0].table = 1), '/database/tables/0/table must be string'],
    ['a negative artifact size', (m: any) => (m.artifacts[0].size = -1), '/artifacts/0/size must be >= 0'],
    ['a fractional uncompressed size', (m: any) => (m.artifacts[0].uncompressedSize = 1.5), '/artifacts/0/uncompressedSize must be integer'],
    ['a negative uncompressed size', (m: any) => (m.artifacts[0].uncompressedSize = -1), '/artifacts/0/uncompressedSize must be >= 0'],
    ['an unknown compression', (m: any) => (m.artifacts[0].compression = 'brotli'), '/artifacts/0/compression must be equal to one of the allowed values'],
    ['media that is not an object', (m: any) => (m.media = []), '/media must be object'],
    ['a media prefix that is not a string', (m: any) => (m.media.prefix = 1), '/media/prefix must be string'],
    ['media objects that are not a list', (m: any) => (m.media.objects = {}), '/media/objects must be array'],
    ['a media object that is not an object', (m: any) => (m.media.objects = ['a.png']), '/media/objects/0 must be object'],
    ['a media key that is not a string', (m: any) => (m.media.objects[0].key = 1), '/media/objects/0/key must be string'],
    ['a negative media size', (m: any) => (m.media.objects[0].size = -1), '/media/objects/0/size must be >= 0'],
    ['a fractional media size', (m: any) => (m.media.objects[0].size = 0.5), '/media/objects/0/size must be integer'],
    ['a media sha256 that is not 64 hex digits', (m: any) => (m.media.objects[0].sha256 = 'A'.repeat(64)), '/media/objects/0/sha256 must match pattern'],
    ['a media sha256 that is not a string', (m: any) => (m.media.objects[0].sha256 = 1), '/media/objects/0/sha256 must be string'],
    ['a media md5 that is not 32 hex digits', (m: any) => (m.media.objects[0].md5 = 'b'.repeat(31)), '/media/objects/0/md5 must match pattern'],
    ['a media md5 that is not a string', (m: any) => (m.media.objects[0].md5 = 1), '/media/objects/0/md5 must be string'],
    ['a content type that is not a string', (m: any) => (m.media.objects[0].contentType = 1), '/media/objects/0/contentType must be string'],
    ['metadata that is not an object', (m: any) => (m.media.objects[0].metadata = 'x'), '/media/objects/0/metadata must be object'],
    ['a metadata value that is not a string', (m: any) => (m.media.objects[0].metadata.owner = 1), '/media/objects/0/metadata/owner must be string'],
    ['an etag that is not a string', (m: any) => (m.media.objects[0].etag = 1), '/media/objects/0/etag must be string'],
    ['a last-modified time that is not a string', (m: any) => (m.media.objects[0].lastModified = 1), '/media/objects/0/lastModified must be string'],
    ['totals that are not an object', (m: any) => (m.media.totals = 1), '/media/totals must be object'],
  ])('refuses %s', (_name, change, problem) => {
    expect(refusal(variant(change))).toContain(problem);
  });

  it('holds media hashes to their exact shapes: 64 and 32 lower-case hex digits', () => {
    expect(parseManifest(variant((m) => (m.media.objects[0].sha256 = 'f'.repeat(64))), 'm').media!.objects[0]!.sha256).toBe('f'.repeat(64));
    expect(refusal(variant((m) => (m.media.objects[0].sha256 = 'f'.repeat(63))))).toContain('/media/objects/0/sha256 must match pattern "^[0-9a-f]{64}$"');
    expect(refusal(variant((m) => (m.media.objects[0].md5 = 'f'.repeat(33))))).toContain('/media/objects/0/md5 must match pattern "^[0-9a-f]{32}$"');
  });

  it.each(['bucket', 'prefix', 'objects', 'totals'])('refuses media without %s', (field) => {
    expect(refusal(variant((m) => delete m.media[field]))).toContain(`/media must have required property '${field}'`);
  });

  it.each(['key', 'size', 'sha256', 'md5', 'metadata'])('refuses a media object without %s', (field) => {
    expect(refusal(variant((m) => delete m.media.objects[0][field]))).toContain(`/media/objects/0 must have required property '${field}'`);
  });

  it.each(['objects', 'bytes', 'newObjects', 'newBytes', 'reusedObjects', 'reusedBytes'])('refuses media totals without %s, or with a fraction', (field) => {
    expect(refusal(variant((m) => delete m.media.totals[field]))).toContain(`/media/totals must have required property '${field}'`);
    expect(refusal(variant((m) => (m.media.totals[field] = 0.5)))).toContain(`/media/totals/${field} must be integer`);
  });

  it.each(['source', 'serverVersion', 'serverVersionNum', 'pgDumpVersion', 'tables'])('refuses database without %s', (field) => {
    expect(refusal(variant((m) => delete m.database[field]))).toContain(`/database must have required property '${field}'`);
  });

  it.each(['schema', 'table', 'rows'])('refuses a table count without %s', (field) => {
    expect(refusal(variant((m) => delete m.database.tables[0][field]))).toContain(`/database/tables/0 must have required property '${field}'`);
  });

  it.each(['name', 'key', 'size', 'sha256', 'compression', 'format', 'uncompressedSize'])('refuses an artifact without %s', (field) => {
    expect(refusal(variant((m) => delete m.artifacts[0][field]))).toContain(`/artifacts/0 must have required property '${field}'`);
  });

  it('lists every problem at once, separated by semicolons, and names the manifest', () => {
    const message = refusal(variant((m) => ((m.trigger = 'weekly'), (m.artifacts[0].size = -1))));
    expect(message).toBe(
      `The manifest at s3://bucket/dev/x/manifest.json does not match ${MANIFEST_FORMAT}: ` +
        '/trigger must be equal to one of the allowed values; /artifacts/0/size must be >= 0',
    );
  });

  it("names the whole document as '/' when the manifest is not an object", () => {
    expect(refusal('[]')).toBe(`The manifest at s3://bucket/dev/x/manifest.json does not match ${MANIFEST_FORMAT}: / must be object`);
  });
});

describe('sealed and signed manifests', () => {
  const sealed = (change: (m: Record<string, any>) => void = () => undefined) =>
    variant((m) => {
      m.format = 'lifeboat-manifest/2';
      m.artifacts[0].encryption = 'age';
      m.media.objects = [];
      m.media.contents = [{ address: SHA, size: 7 }];
      m.encryption = { scheme: 'age', recipients: ['age1xyz'], sealed: 'c2VhbGVk' };
      m.signature = { algorithm: 'ed25519', keyId: '0123456789abcdef', value: 'c2ln' };
      change(m);
    });

  it('accepts the sealed format with its encryption, signature and content list', () => {
    const parsed = parseManifest(sealed(), 'x');
    expect(parsed.encryption?.recipients).toEqual(['age1xyz']);
    expect(parsed.signature?.keyId).toBe('0123456789abcdef');
    expect(parsed.media?.contents).toEqual([{ address: SHA, size: 7 }]);
    expect(parseManifest(variant((m) => (m.media.objects[0].address = SHA)), 'x').media?.objects[0]?.address).toBe(SHA);
  });

  it.each([
    ['an unknown format', (m: Record<string, any>) => (m.format = 'lifeboat-manifest/4'), '/format must be equal to one of the allowed values'],
    ['an unknown artifact encryption', (m: Record<string, any>) => (m.artifacts[0].encryption = 'gpg'), '/artifacts/0/encryption must be equal to one of the allowed values'],
    ['another scheme', (m: Record<string, any>) => (m.encryption.scheme = 'gpg'), '/encryption/scheme must be equal to one of the allowed values'],
    ['no recipients', (m: Record<string, any>) => (m.encryption.recipients = []), '/encryption/recipients must NOT have fewer than 1 items'],
    ['a recipient that is not age1', (m: Record<string, any>) => (m.encryption.recipients = ['ssh-ed25519 AAAA']), '/encryption/recipients/0 must match pattern "^age1"'],
    ['an empty sealed part', (m: Record<string, any>) => (m.encryption.sealed = ''), '/encryption/sealed must NOT have fewer than 1 characters'],
    ['no sealed part', (m: Record<string, any>) => delete m.encryption.sealed, "/encryption must have required property 'sealed'"],
    ['another signature algorithm', (m: Record<string, any>) => (m.signature.algorithm = 'rsa'), '/signature/algorithm must be equal to one of the allowed values'],
    ['a short key id', (m: Record<string, any>) => (m.signature.keyId = 'abc'), '/signature/keyId must match pattern "^[0-9a-f]{16}$"'],
    ['an empty signature', (m: Record<string, any>) => (m.signature.value = ''), '/signature/value must NOT have fewer than 1 characters'],
    ['a content address that is not hex', (m: Record<string, any>) => (m.media.contents[0].address = 'z'.repeat(64)), '/media/contents/0/address must match pattern "^[0-9a-f]{64}$"'],
    ['a negative content size', (m: Record<string, any>) => (m.media.contents[0].size = -1), '/media/contents/0/size must be >= 0'],
    ['a negative stored size', (m: Record<string, any>) => (m.media.objects = [{ key: 'a', size: 1, sha256: SHA, md5: MD5, metadata: {}, storedSize: -1 }]), '/media/objects/0/storedSize must be >= 0'],
  ])('refuses %s', (_what, change, message) => {
    expect(() => parseManifest(sealed(change), 'x')).toThrow(message);
  });
});

describe('invalid manifests', () => {
  it('are refused with an error named InvalidManifestError', () => {
    let caught: unknown;
    try {
      parseManifest('{', 'm');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidManifestError);
    expect((caught as Error).name).toBe('InvalidManifestError');
  });
});

describe('serializeManifest', () => {
  it('writes indented JSON ending in a newline', () => {
    const text = serializeManifest(fullManifest());
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe(`  "format": "${MANIFEST_FORMAT}",`);
  });
});

describe('provenanceFromEnv', () => {
  it('links the run on github.com when no server URL is set', () => {
    expect(provenanceFromEnv({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7' })).toEqual({
      repository: 'o/r',
      runId: '7',
      runUrl: 'https://github.com/o/r/actions/runs/7',
    });
  });

  it('gives no run link without both the repository and the run id', () => {
    expect(provenanceFromEnv({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'o/r' })).toEqual({ repository: 'o/r' });
    expect(provenanceFromEnv({ GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '7' })).toEqual({ runId: '7' });
  });
});

describe('a manifest with a media index (format 3)', () => {
  const chunk = { address: SHA, sha256: SHA, size: 120, objects: 1 };
  const indexed = (m: Record<string, any>) => {
    m.format = 'lifeboat-manifest/3';
    m.media.objects = [];
    m.media.index = { format: 'lifeboat-media-index/1', chunks: [chunk] };
  };

  it('is read with its chunks', () => {
    expect(parseManifest(variant(indexed), 'x').media?.index?.chunks).toEqual([chunk]);
    expect(parseManifest(variant((m) => (indexed(m), (m.media.index.chunks = []))), 'x').media?.index?.chunks).toEqual([]);
  });

  it('must say format 3 when it has an index, have an index when it says format 3, and not embed objects too', () => {
    expect(refusal(variant((m) => (indexed(m), (m.format = MANIFEST_FORMAT))))).toMatch(/has a media index but its format is lifeboat-manifest\/1, not lifeboat-manifest\/3; the backup cannot be trusted/);
    expect(refusal(variant((m) => (indexed(m), (m.format = 'lifeboat-manifest/2'))))).toMatch(/has a media index but its format is lifeboat-manifest\/2/);
    expect(refusal(variant((m) => (m.format = 'lifeboat-manifest/3')))).toMatch(/at s3:\/\/bucket\/dev\/x\/manifest.json is of format lifeboat-manifest\/3 but has no media index/);
    expect(refusal(variant((m) => ((m.format = 'lifeboat-manifest/3'), delete m.media)))).toMatch(/is of format lifeboat-manifest\/3 but has no media index/);
    expect(refusal(variant((m) => (indexed(m), m.media.objects.push(fullManifest().media!.objects[0]))))).toMatch(/has both a media index and embedded media objects/);
    for (const message of [refusal(variant((m) => (indexed(m), (m.format = MANIFEST_FORMAT))))]) expect(message).toContain('s3://bucket/dev/x/manifest.json');
  });

  it('checks each chunk reference', () => {
    expect(refusal(variant((m) => (indexed(m), (m.media.index.format = 'other'))))).toMatch(/\/media\/index\/format must be equal to constant/);
    expect(refusal(variant((m) => (indexed(m), delete m.media.index.chunks)))).toMatch(/\/media\/index must have required property 'chunks'/);
    for (const field of ['address', 'sha256', 'size', 'objects']) {
      expect(refusal(variant((m) => (indexed(m), delete m.media.index.chunks[0][field])))).toMatch(new RegExp(`/media/index/chunks/0 must have required property '${field}'`));
    }
    expect(refusal(variant((m) => (indexed(m), (m.media.index.chunks[0].address = 'xyz'))))).toMatch(/\/media\/index\/chunks\/0\/address must match pattern/);
    expect(refusal(variant((m) => (indexed(m), (m.media.index.chunks[0].sha256 = 'A'.repeat(64)))))).toMatch(/\/media\/index\/chunks\/0\/sha256 must match pattern/);
    expect(refusal(variant((m) => (indexed(m), (m.media.index.chunks[0].size = -1))))).toMatch(/\/media\/index\/chunks\/0\/size must be >= 0/);
    expect(refusal(variant((m) => (indexed(m), (m.media.index.chunks[0].objects = 0))))).toMatch(/\/media\/index\/chunks\/0\/objects must be >= 1/);
    expect(refusal(variant((m) => (indexed(m), (m.media.index.chunks[0].size = 1.5))))).toMatch(/\/media\/index\/chunks\/0\/size must be integer/);
    expect(refusal(variant((m) => (indexed(m), delete m.media.index.format)))).toMatch(/\/media\/index must have required property 'format'/);
  });
});
