import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatBackupId, parseBackupId, TRIGGERS } from '../../src/domain/backup-id.js';
import { latestComplete, sortNewestFirst, type BackupEntry } from '../../src/domain/catalog.js';
import { MANIFEST_FORMAT, parseManifest, provenanceFromEnv, serializeManifest, type Manifest } from '../../src/domain/manifest.js';
import { bucketSettings, booleanInput } from '../../src/actions/shared/inputs.js';
import { now } from '../../src/engine/clock.js';
import { databaseOnlyArgument, parseDatabaseUrl } from '../../src/engine/postgres/connection.js';
import { normalizeEndpoint, normalizePrefix } from '../../src/engine/s3/client.js';
import { redact, registerSecret, resetSecretsForTests } from '../../src/engine/secrets.js';

describe('backup ids', () => {
  it('read at a glance and round-trip', () => {
    const id = formatBackupId(new Date('2026-11-21T02:03:04.005Z'), 'predeploy', 'beef');
    expect(id).toBe('2026-11-21T020304.005Z-predeploy-beef');
    expect(parseBackupId(id)).toEqual({ id, trigger: 'predeploy', createdAt: new Date('2026-11-21T02:03:04.005Z') });
  });

  it('sort by time as plain strings, for any times and triggers', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.date({ min: new Date('2000-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }), fc.constantFrom(...TRIGGERS)), { minLength: 2 }), (items) => {
        const ids = items.map(([d, t]) => formatBackupId(d, t));
        const byString = [...ids].sort();
        const times = byString.map((id) => parseBackupId(id)!.createdAt.getTime());
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }),
    );
  });

  it('stay unique for backups in the same millisecond', () => {
    const at = new Date('2026-11-21T02:00:00Z');
    const ids = new Set(Array.from({ length: 50 }, () => formatBackupId(at, 'nightly')));
    expect(ids.size).toBeGreaterThan(45); // 16 random bits each: a rare collision is possible, many are not
  });

  it('rejects what is not a backup id', () => {
    for (const bad of ['notes.txt', '2026-11-21T020304.005Z-weekly-beef', '2026-13-21T020304.005Z-nightly-beef', '']) {
      expect(parseBackupId(bad)).toBeUndefined();
    }
  });
});

describe('catalog', () => {
  const entry = (id: string, status: BackupEntry['status'], space = 'production'): BackupEntry => ({
    ...parseBackupId(id)!, space, sizeBytes: 1, status,
  });
  it('orders newest first and skips incomplete backups for latest', () => {
    const a = entry('2026-01-01T000000.000Z-nightly-0001', 'complete');
    const b = entry('2026-01-02T000000.000Z-nightly-0002', 'complete', 'dev');
    const c = entry('2026-01-03T000000.000Z-nightly-0003', 'incomplete');
    expect(sortNewestFirst([a, c, b]).map((e) => e.id)).toEqual([c.id, b.id, a.id]);
    expect(latestComplete([a, b, c])?.id).toBe(b.id);
    expect(latestComplete([a, b, c], { space: 'production' })?.id).toBe(a.id);
    expect(latestComplete([c])).toBeUndefined();
  });
});

describe('manifest', () => {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT, id: '2026-01-01T000000.000Z-nightly-0001', space: 'dev', trigger: 'nightly',
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', tool: { name: 'lifeboat', version: '0.1.0' },
    provenance: null,
    database: { source: 'db:5432/app', serverVersion: '15.18', serverVersionNum: 150018, pgDumpVersion: '15.18', tables: [{ schema: 'public', table: 't', rows: 3 }] },
    artifacts: [{ name: 'database', key: 'k', size: 10, sha256: 'a'.repeat(64), compression: 'zstd', format: 'pg_dump-custom', uncompressedSize: 20 }],
  };
  it('round-trips', () => {
    expect(parseManifest(serializeManifest(manifest), 'here')).toEqual(manifest);
  });
  it('refuses malformed manifests, saying where', () => {
    expect(() => parseManifest('{', 's3://b/m.json')).toThrow(/s3:\/\/b\/m.json is not valid JSON/);
    const bad = { ...manifest, artifacts: [{ ...manifest.artifacts[0], sha256: 'xyz' }] };
    expect(() => parseManifest(JSON.stringify(bad), 'm')).toThrow(/\/artifacts\/0\/sha256 must match pattern/);
    expect(() => parseManifest(JSON.stringify({ ...manifest, format: 'other/9' }), 'm')).toThrow(/does not match lifeboat-manifest\/1/);
  });
  it('records provenance only inside GitHub Actions', () => {
    expect(provenanceFromEnv({})).toBeNull();
    expect(provenanceFromEnv({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7', GITHUB_SERVER_URL: 'https://ghe.example' })).toEqual({
      repository: 'o/r', runId: '7', runUrl: 'https://ghe.example/o/r/actions/runs/7',
    });
  });
});

describe('secrets', () => {
  it('redacts registered secrets in their plain, URL-encoded and base64 forms, and any URL password', () => {
    resetSecretsForTests();
    registerSecret('p@ss/word');
    const text = `a p@ss/word b ${encodeURIComponent('p@ss/word')} c ${Buffer.from('p@ss/word').toString('base64')} postgres://u:other@h/db`;
    expect(redact(text)).toBe('a *** b *** c *** postgres://u:***@h/db');
    resetSecretsForTests();
  });
  it('does not mask trivially short values', () => {
    resetSecretsForTests();
    registerSecret('ab');
    expect(redact('abc')).toBe('abc');
  });
});

describe('inputs', () => {
  const reader = (values: Record<string, string>) => (name: string) => values[name];
  it('parses the bucket settings with prefix, endpoint and credentials', () => {
    const settings = bucketSettings(reader({ 'backup-bucket': 'b', 'backup-prefix': '/team/x', 's3-endpoint': 's3-fips.us-gov-west-1.amazonaws.com', 'aws-access-key-id': 'AK', 'aws-secret-access-key': 'SECRET1' }));
    expect(settings).toMatchObject({ bucket: 'b', prefix: '/team/x', credentials: { accessKeyId: 'AK', secretAccessKey: 'SECRET1' } });
    expect(normalizePrefix(settings.prefix)).toBe('team/x/');
    expect(normalizeEndpoint(settings.endpoint)).toBe('https://s3-fips.us-gov-west-1.amazonaws.com');
    expect(redact('key SECRET1')).toBe('key ***');
  });
  it('takes YAML booleans only', () => {
    expect(booleanInput(reader({ x: 'True' }), 'x', false)).toBe(true);
    expect(booleanInput(reader({}), 'x', true)).toBe(true);
    expect(() => booleanInput(reader({ x: 'yes' }), 'x', true)).toThrow("Input 'x' is 'yes'; it must be true or false.");
  });
  it('parses database URLs without ever putting the password on a command line', () => {
    const c = parseDatabaseUrl('postgresql://app:s%40cret@db.internal:6543/app_prod?sslmode=require');
    expect(c.password).toBe('s@cret');
    expect(c.env).toMatchObject({ PGHOST: 'db.internal', PGPORT: '6543', PGUSER: 'app', PGPASSWORD: 's@cret', PGDATABASE: 'app_prod', PGSSLMODE: 'require' });
    expect(c.description).toBe('db.internal:6543/app_prod');
    expect(databaseOnlyArgument(c)).toBe("--dbname=dbname='app_prod'");
    expect(databaseOnlyArgument(parseDatabaseUrl("postgres://u@h/it's"))).toBe("--dbname=dbname='it\\'s'");
    expect(() => parseDatabaseUrl('postgres://u:p@h:5432/')).toThrow(/names no database/);
  });
  it('takes the password from ?password= too, and registers every form of it for masking', () => {
    const c = parseDatabaseUrl('postgres://app@[::1]/app_prod?password=p%26ss%2Fw0rd&sslmode=verify-full');
    expect(c.env).toMatchObject({ PGHOST: '::1', PGUSER: 'app', PGPASSWORD: 'p&ss/w0rd', PGSSLMODE: 'verify-full' });
    expect(redact('p&ss/w0rd and p%26ss%2Fw0rd')).toBe('*** and ***');
    const encoded = parseDatabaseUrl('postgres://app:%41bc%2Adef@h/db');
    expect(encoded.env.PGPASSWORD).toBe('Abc*def');
    expect(redact('x %41bc%2Adef Abc*def')).toBe('x *** ***');
  });
  it('refuses a malformed percent-encoding and unknown parameters, naming the input and never echoing the password', () => {
    const attempt = () => parseDatabaseUrl('postgres://app:hunter%zz2@h/db');
    expect(attempt).toThrow(/Input 'database-url' has a malformed percent-encoding in its password.*Write a literal '%' as %25/);
    expect(attempt).not.toThrow(/hunter/);
    expect(() => parseDatabaseUrl('postgres://app@h/db?sslmod=require')).toThrow(/Input 'database-url' has the parameter 'sslmod', which Lifeboat does not know/);
  });
  it('reads LIFEBOAT_NOW, and rejects a malformed one', () => {
    expect(now({ LIFEBOAT_NOW: '2026-01-02T03:04:05Z' }).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(() => now({ LIFEBOAT_NOW: 'yesterday' })).toThrow(/LIFEBOAT_NOW is 'yesterday', which is not an ISO 8601 time/);
  });
});

describe('upload part size', () => {
  it('is 8 MiB, or larger when a database could otherwise need more than 10,000 parts', async () => {
    const { uploadTuningFor } = await import('../../src/engine/s3/store.js');
    const MiB = 1024 * 1024;
    expect(uploadTuningFor(0).partSize).toBe(8 * MiB);
    expect(uploadTuningFor(50 * 1024 * MiB).partSize).toBe(8 * MiB);
    const tera = 1024 * 1024 * MiB;
    const big = uploadTuningFor(tera).partSize;
    expect(big % MiB).toBe(0);
    expect(Math.ceil(tera / big)).toBeLessThanOrEqual(9000);
    expect(Math.ceil(tera / (big - MiB))).toBeGreaterThan(9000);
  });
});
