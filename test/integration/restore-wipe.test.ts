/**
 * The wipe makes the target exactly the backup, every time: a target full of leftovers that survive
 * DROP SCHEMA (publication, subscription, foreign-data wrapper with server and user mapping, event trigger,
 * cast, access method, languages, large object, default privileges to PUBLIC), restored three times in a
 * row from a backup holding the same kinds of objects, ends each time equal to a restore into a fresh
 * database, on both paths. And a role that may not drop something is refused before anything is dropped.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../src/engine/backup/backup.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { createSampleApp } from '../../src/sandbox/sample-app.js';
import { tableDigests } from '../support/compare.js';
import { awsEnv, bucketInputs, createBucket, createDatabase, postgresInfo, runActionBundle, s3Info, uniqueName, visibleOutput, withClient, type BundleRun } from '../support/harness.js';

const PARALLEL = { 'parallel-threshold-mb': '0', jobs: '2' };

function bucketSettings(bucket: string) {
  const s3 = s3Info();
  return { bucket, prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
}

/**
 * Objects a database-level restore can create that live outside schemas or survive DROP SCHEMA. The event
 * trigger refuses DROP SCHEMA, so a wipe that does not drop event triggers first cannot pass.
 */
async function addObjectsOutsideSchemas(url: string, options: { largeObject: string | null; targetOnly: boolean }) {
  await withClient(url, async (c) => {
    await c.query(`
      CREATE PUBLICATION lifeboat_pub FOR ALL TABLES;
      CREATE FOREIGN DATA WRAPPER lifeboat_fdw;
      CREATE SERVER lifeboat_server FOREIGN DATA WRAPPER lifeboat_fdw OPTIONS (host 'elsewhere.invalid');
      CREATE USER MAPPING FOR PUBLIC SERVER lifeboat_server OPTIONS (user_name 'reader');
      CREATE CAST (int4range AS text) WITH INOUT;
      CREATE ACCESS METHOD lifeboat_heap TYPE TABLE HANDLER heap_tableam_handler;
      CREATE SCHEMA pl;
      CREATE FUNCTION pl.handler() RETURNS language_handler AS '$libdir/plpgsql', 'plpgsql_call_handler' LANGUAGE C;
      CREATE LANGUAGE lifeboat_pl HANDLER pl.handler;
      CREATE FUNCTION app.no_schema_drops() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'lifeboat_guard: DROP SCHEMA is not allowed while this event trigger exists'; END $$;
      CREATE EVENT TRIGGER lifeboat_guard ON ddl_command_start WHEN TAG IN ('DROP SCHEMA') EXECUTE FUNCTION app.no_schema_drops();
    `);
    // A subscription without a connection (connect = false): it still names a replication slot.
    await c.query(`CREATE SUBSCRIPTION lifeboat_sub CONNECTION 'host=127.0.0.1 port=1 dbname=nowhere' PUBLICATION lifeboat_pub WITH (connect = false)`);
    if (options.largeObject !== null) await c.query(`SELECT lo_from_bytea(0, $1::bytea)`, [Buffer.from(options.largeObject)]);
    if (options.targetOnly) {
      // Only the target has these: default privileges that would grant every restored table and sequence
      // to PUBLIC, and a language whose handler lives in pg_catalog (so it does not go with any schema).
      await c.query(`
        ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT ON TABLES TO PUBLIC;
        ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO PUBLIC;
        ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
        CREATE LANGUAGE lifeboat_pl_builtin HANDLER plpgsql_call_handler;
        CREATE SCHEMA scratch; CREATE TABLE scratch.notes (id int);
      `);
    }
  });
}

/** Everything a restore decides: the schema with privileges (so default privileges show), rows, large objects. */
async function stateOf(url: string) {
  const schema = execFileSync(join(postgresInfo().binDir, 'pg_dump'), ['--schema-only', '--no-owner', `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    .split('\n')
    .filter((line) => !line.startsWith('-- Dumped') && !line.startsWith('\\restrict') && !line.startsWith('\\unrestrict'))
    .join('\n');
  const extra = await withClient(url, async (c) => ({
    largeObjects: (await c.query(`SELECT md5(lo_get(oid)) AS digest FROM pg_largeobject_metadata ORDER BY 1`)).rows.map((r) => r.digest),
    defaultAcl: (await c.query(`SELECT defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1`)).rows,
    publicGrants: (
      await c.query(`SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND c.relacl::text ~ '(^|[{,])=' ORDER BY 1`)
    ).rows,
  }));
  return { schema, digests: await tableDigests(url), ...extra };
}

function restoreInto(target: string, bucket: string, extra: Record<string, string> = {}): Promise<BundleRun> {
  return runActionBundle(
    'restore',
    { ...bucketInputs(bucket), 'source-space': 'production', 'target-space': 'staging', 'database-url': target, ...extra },
    { ...awsEnv(), GITHUB_EVENT_NAME: 'schedule', GITHUB_ACTOR: 'github-actions[bot]', GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), 'ws-')) },
  );
}

function failure(run: BundleRun): string {
  return (run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

describe('the wipe makes a target full of leftovers exactly the backup, every time', () => {
  it.each([
    ['one transaction', {}, 'a large object of the source'],
    ['parallel', PARALLEL, 'a large object of the source'],
  ] as const)('%s: three restores in a row each equal a restore into a fresh database', async (path, extra, sourceLargeObject) => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    await addObjectsOutsideSchemas(source, { largeObject: sourceLargeObject, targetOnly: false });
    const bucket = await createBucket();
    await runBackup(
      { space: 'production', trigger: 'nightly', databaseUrl: source, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 },
      memoryLogger(),
    );

    const fresh = await createDatabase('fresh');
    const intoFresh = await restoreInto(fresh, bucket, extra);
    expect(failure(intoFresh)).toBe('');
    const expected = await stateOf(fresh);
    expect(expected.schema).toContain('CREATE PUBLICATION lifeboat_pub FOR ALL TABLES');
    expect(expected.schema).toContain('CREATE SUBSCRIPTION lifeboat_sub');
    expect(expected.schema).toContain('CREATE EVENT TRIGGER lifeboat_guard');
    expect(expected.schema).toContain('CREATE USER MAPPING FOR public SERVER lifeboat_server');
    expect(expected.schema).toContain('CREATE CAST (int4range AS text) WITH INOUT');
    expect(expected.schema).toContain('CREATE ACCESS METHOD lifeboat_heap');
    expect(expected.schema).toMatch(/CREATE (OR REPLACE )?PROCEDURAL LANGUAGE lifeboat_pl /);
    expect(expected.largeObjects).toHaveLength(1);
    expect(expected.publicGrants).toEqual([]);

    const target = await createDatabase('staging');
    await createSampleApp(target, 2);
    await addObjectsOutsideSchemas(target, { largeObject: 'a leftover large object of the target', targetOnly: true });
    const leftovers = await stateOf(target);
    expect(leftovers.defaultAcl.length).toBeGreaterThan(0);

    for (let attempt = 1; attempt <= 3; attempt++) {
      const run = await restoreInto(target, bucket, extra);
      expect(failure(run), `restore ${attempt}`).toBe('');
      expect(run.outputs.method).toBe(path === 'parallel' ? 'parallel' : 'transactional');
      const state = await stateOf(target);
      expect(state.publicGrants, `restore ${attempt}: no restored table is granted to PUBLIC`).toEqual([]);
      expect(state.defaultAcl, `restore ${attempt}: default privileges back to the built-in ones`).toEqual([]);
      expect(state.largeObjects).toEqual(expected.largeObjects);
      expect(state.digests).toEqual(expected.digests);
      expect(state.schema).toEqual(expected.schema);
    }
  });
});

describe('a role that may not drop something is refused before anything is dropped', () => {
  it.each([
    ['one transaction', {}],
    ['parallel', PARALLEL],
  ] as const)('%s: names every object and its fix, and leaves the target unchanged', async (_path, extra) => {
    const source = await createDatabase('production');
    await createSampleApp(source);
    const bucket = await createBucket();
    await runBackup(
      { space: 'production', trigger: 'nightly', databaseUrl: source, bucket: bucketSettings(bucket), compression: 'zstd', rowCounts: true, progressIntervalMs: 60_000 },
      memoryLogger(),
    );

    const role = uniqueName('stager').replace(/-/g, '_');
    const password = 'Stager-Pw-123!';
    const database = uniqueName('staging_owned').replace(/-/g, '_');
    await withClient(postgresInfo().url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await c.query(`CREATE DATABASE ${database} OWNER ${role}`);
    });
    const asSuperuser = new URL(postgresInfo().url);
    asSuperuser.pathname = '/' + database;
    const asRole = new URL(asSuperuser);
    asRole.username = role;
    asRole.password = encodeURIComponent(password);
    await createSampleApp(asRole.toString(), 2);
    // Objects the database owner may not drop: a superuser's schema, event trigger and foreign-data wrapper.
    await withClient(asSuperuser.toString(), (c) =>
      c.query(`
        CREATE SCHEMA locked; CREATE TABLE locked.kept (id int); INSERT INTO locked.kept VALUES (1);
        CREATE FUNCTION locked.note() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
        CREATE EVENT TRIGGER superuser_trigger ON ddl_command_end EXECUTE FUNCTION locked.note();
        CREATE FOREIGN DATA WRAPPER superuser_fdw;
      `),
    );
    const before = await stateOf(asSuperuser.toString());

    const run = await restoreInto(asRole.toString(), bucket, extra);
    expect(run.code).toBe(1);
    const message = failure(run);
    expect(message).toMatch(new RegExp(`lifeboat wipe refused before dropping anything: role "?${role}"? may not drop 3 object\\(s\\) in the target, so the target is unchanged`));
    expect(message).toMatch(/event trigger superuser_trigger \(owned by postgres\): only its owner or a superuser may drop it; have a superuser run DROP EVENT TRIGGER superuser_trigger/);
    expect(message).toMatch(new RegExp(`schema locked \\(owned by postgres\\): run ALTER SCHEMA locked OWNER TO ${role} as its owner or a superuser`));
    expect(message).not.toMatch(/partly restored|pre-restore/); // refused before the parallel path's pre-restore backup
    expect(message).toMatch(/foreign-data wrapper superuser_fdw \(owned by postgres\).*DROP FOREIGN DATA WRAPPER superuser_fdw CASCADE/);
    expect(await stateOf(asSuperuser.toString())).toEqual(before);
    expect(visibleOutput(run)).not.toContain(password);
  });
});
