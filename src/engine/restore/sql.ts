/**
 * The SQL that restore runs around pg_restore's own: the wipe before, and the row-count check after.
 * Both are plain SQL (no psql meta-commands), so the same text runs through psql inside the one
 * restore transaction and through node-postgres on the parallel path.
 */
import type { TableCount } from '../../domain/manifest.js';

/** Marks the one line of psql output (or the one result row) that carries the verification result. */
export const VERIFY_MARKER = 'LIFEBOAT-VERIFY ';

export interface TableCheck {
  schema: string;
  table: string;
  /** Rows recorded in the backup's manifest; null for a table the backup does not have. */
  expected: number | null;
  /** Rows found in the target after the restore; null for a table the target does not have. */
  found: number | null;
}

/** A string literal; standard_conforming_strings is on (the default since 9.1, and pg_restore's script sets it). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Objects with an OID below this were made by initdb (FirstNormalObjectId): built in, never wiped. */
const FIRST_NORMAL_OBJECT_ID = 16384;

/** Not a member of an extension: those go with DROP EXTENSION, and cannot be dropped on their own. */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = '${catalog}'::pg_catalog.regclass AND x.objid = ${oid} AND x.deptype = 'e')`;
}

/**
 * Goes anyway when the schemas and extensions are dropped: it depends on a function or type in a wiped
 * schema, on a language the wipe drops, or on an extension member (DROP … CASCADE takes dependent objects
 * along without checking who owns them).
 */
function goesWithSchemas(catalog: string, oid: string): string {
  return `EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = '${catalog}'::pg_catalog.regclass AND d.objid = ${oid} AND d.deptype IN ('n', 'a')
      AND (EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.refobjid AND p.pronamespace = ANY (wiped_schemas))
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = d.refobjid AND t.typnamespace = ANY (wiped_schemas))
        OR (d.refclassid = 'pg_catalog.pg_language'::pg_catalog.regclass AND d.refobjid >= ${FIRST_NORMAL_OBJECT_ID} AND d.refobjid <> (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'plpgsql'))
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.refclassid AND e.objid = d.refobjid AND e.deptype = 'e')))`;
}

/** Whether the restoring role may drop what `owner` owns: it is that role, inherits its privileges, or is a superuser. */
const MAY_DROP = (owner: string) => `pg_catalog.pg_has_role(me, ${owner}, 'USAGE')`;

/**
 * The first part of the wipe: every object it would drop that the connecting role may not drop, collected
 * before anything is dropped, and refused in ONE error that names each object and how to fix it. Plain SQL
 * that changes nothing, so it can also run on its own before a restore starts.
 */
function wipeRefusalCheck(): string {
  const ext = (catalog: string, oid: string) => notExtensionMember(catalog, oid);
  const stays = (catalog: string, oid: string) => `NOT ${goesWithSchemas(catalog, oid)}`;
  return `
  me := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user);
  SELECT coalesce(pg_catalog.array_agg(n.oid), '{}') INTO wiped_schemas FROM pg_catalog.pg_namespace n
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema';

  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'event trigger %I (owned by %s): only its owner or a superuser may drop it; have a superuser run DROP EVENT TRIGGER %I, or restore as a superuser',
      e.evtname, e.evtowner::pg_catalog.regrole, e.evtname)
    FROM pg_catalog.pg_event_trigger e WHERE NOT ${MAY_DROP('e.evtowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'subscription %I (owned by %s): run ALTER SUBSCRIPTION %I OWNER TO %I as its owner or a superuser, or restore as %s',
      s.subname, s.subowner::pg_catalog.regrole, s.subname, current_user, s.subowner::pg_catalog.regrole)
    FROM pg_catalog.pg_subscription s
    WHERE s.subdbid = (SELECT db.oid FROM pg_catalog.pg_database db WHERE db.datname = pg_catalog.current_database())
      AND NOT ${MAY_DROP('s.subowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'publication %I (owned by %s): run ALTER PUBLICATION %I OWNER TO %I as its owner or a superuser, or restore as %s',
      p.pubname, p.pubowner::pg_catalog.regrole, p.pubname, current_user, p.pubowner::pg_catalog.regrole)
    FROM pg_catalog.pg_publication p WHERE NOT ${MAY_DROP('p.pubowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'extension %I (owned by %s): an extension''s owner cannot be changed; have %s or a superuser run DROP EXTENSION %I CASCADE, or restore as %s',
      x.extname, x.extowner::pg_catalog.regrole, x.extowner::pg_catalog.regrole, x.extname, x.extowner::pg_catalog.regrole)
    FROM pg_catalog.pg_extension x WHERE x.extname <> 'plpgsql' AND NOT ${MAY_DROP('x.extowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'schema %I (owned by %s): run ALTER SCHEMA %I OWNER TO %I as its owner or a superuser, or restore as %s',
      n.nspname, n.nspowner::pg_catalog.regrole, n.nspname, current_user, n.nspowner::pg_catalog.regrole)
    FROM pg_catalog.pg_namespace n WHERE n.oid = ANY (wiped_schemas) AND NOT ${MAY_DROP('n.nspowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'foreign-data wrapper %I (owned by %s), with its servers and user mappings: only a superuser may own one; have a superuser run DROP FOREIGN DATA WRAPPER %I CASCADE, or restore as a superuser',
      w.fdwname, w.fdwowner::pg_catalog.regrole, w.fdwname)
    FROM pg_catalog.pg_foreign_data_wrapper w
    WHERE ${ext('pg_catalog.pg_foreign_data_wrapper', 'w.oid')} AND ${stays('pg_catalog.pg_foreign_data_wrapper', 'w.oid')} AND NOT ${MAY_DROP('w.fdwowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'cast (%s AS %s): only a superuser or the owner of either type may drop it; have one run DROP CAST (%s AS %s), or restore as a superuser',
      c.castsource::pg_catalog.regtype, c.casttarget::pg_catalog.regtype, c.castsource::pg_catalog.regtype, c.casttarget::pg_catalog.regtype)
    FROM pg_catalog.pg_cast c
      JOIN pg_catalog.pg_type st ON st.oid = c.castsource JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget
    WHERE c.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_cast', 'c.oid')} AND ${stays('pg_catalog.pg_cast', 'c.oid')}
      AND NOT ${MAY_DROP('st.typowner')} AND NOT ${MAY_DROP('tt.typowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'transform for %s language %I: only a superuser or the type''s owner may drop it; have one run DROP TRANSFORM FOR %s LANGUAGE %I, or restore as a superuser',
      t.trftype::pg_catalog.regtype, l.lanname, t.trftype::pg_catalog.regtype, l.lanname)
    FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang JOIN pg_catalog.pg_type ty ON ty.oid = t.trftype
    WHERE t.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_transform', 't.oid')} AND ${stays('pg_catalog.pg_transform', 't.oid')}
      AND NOT ${MAY_DROP('ty.typowner')} ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'access method %I: only a superuser may drop one; have one run DROP ACCESS METHOD %I CASCADE, or restore as a superuser', a.amname, a.amname)
    FROM pg_catalog.pg_am a
    WHERE a.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_am', 'a.oid')} AND ${stays('pg_catalog.pg_am', 'a.oid')}
      AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = me) ORDER BY 1);
  blockers := blockers || ARRAY(SELECT pg_catalog.format(
      'language %I (owned by %s): run ALTER LANGUAGE %I OWNER TO %I as its owner or a superuser, or restore as %s',
      l.lanname, l.lanowner::pg_catalog.regrole, l.lanname, current_user, l.lanowner::pg_catalog.regrole)
    FROM pg_catalog.pg_language l
    WHERE l.oid >= ${FIRST_NORMAL_OBJECT_ID} AND l.lanname <> 'plpgsql' AND ${ext('pg_catalog.pg_language', 'l.oid')} AND ${stays('pg_catalog.pg_language', 'l.oid')}
      AND NOT ${MAY_DROP('l.lanowner')} ORDER BY 1);
  IF NOT pg_catalog.current_setting('lo_compat_privileges')::boolean THEN
    blockers := blockers || ARRAY(SELECT pg_catalog.format(
        '%s large object(s) owned by %s (OID %s): run ALTER LARGE OBJECT <oid> OWNER TO %I for each as their owner or a superuser, or restore as %s',
        pg_catalog.count(*), m.lomowner::pg_catalog.regrole,
        pg_catalog.array_to_string((pg_catalog.array_agg(m.oid ORDER BY m.oid))[1:5], ', ') || CASE WHEN pg_catalog.count(*) > 5 THEN ', …' ELSE '' END,
        current_user, m.lomowner::pg_catalog.regrole)
      FROM pg_catalog.pg_largeobject_metadata m WHERE NOT ${MAY_DROP('m.lomowner')} GROUP BY m.lomowner ORDER BY 1);
  END IF;

  IF pg_catalog.cardinality(blockers) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('lifeboat wipe refused before dropping anything: role %I may not drop %s object(s) in the target, so the target is unchanged: %s',
        current_user, pg_catalog.cardinality(blockers), pg_catalog.array_to_string(blockers, '; ')),
      HINT = 'Give these objects to the restoring role, drop them as their owner, or restore as a role that may drop them.';
  END IF;`;
}

/** Declarations the refusal check needs, for a DO block. */
const CHECK_DECLARATIONS = `
  me oid;
  wiped_schemas oid[];
  blockers text[] := '{}';`;

/**
 * The refusal check on its own: changes nothing, RAISEs (insufficient_privilege) naming every object the
 * role may not drop. The parallel path runs it before taking the pre-restore backup.
 */
export function wipeRefusalSql(): string {
  return `
DO $lifeboat_wipe_check$
DECLARE${CHECK_DECLARATIONS}
BEGIN${wipeRefusalCheck()}
END
$lifeboat_wipe_check$;
`;
}

/**
 * Empties the target database so that restoring an archive into it gives what restoring it into a fresh
 * database gives, however often it is repeated. First it checks that the connecting role may drop every
 * object the wipe drops, and refuses with one error naming all it may not (nothing is dropped then). Then
 * it drops, in an order that keeps each step possible:
 *   event triggers (first, so none fires during the wipe); subscriptions (disabled and detached from their
 *   replication slot, which is left alone on the publisher, then dropped); publications; every extension
 *   except plpgsql; every schema that is not a system schema (CASCADE, so everything in them goes too);
 *   then what lives outside schemas and is still there: foreign-data wrappers (CASCADE: their servers and
 *   user mappings), foreign servers, casts, transforms, access methods and procedural languages made after
 *   initdb (OID >= 16384) that no extension owns; every large object. Finally the default privileges the
 *   connecting role has set for the objects it creates are reset to the built-in defaults, so that no
 *   `ALTER DEFAULT PRIVILEGES … GRANT … TO PUBLIC` of the target applies to the restored objects.
 *
 * Kept on purpose: the database's own comment and `ALTER DATABASE … SET` settings (pg_dump without
 * --create does not carry the source's, so they are the target's configuration, not data; see
 * docs/restore.md), roles and tablespaces (cluster-wide).
 *
 * pg_dump 15 and later never emit CREATE SCHEMA public (they assume every database has it), so `public`
 * is created again here with the target's own owner, privileges and comment, as it was before the wipe:
 * the target keeps its `public` the way its administrators set it up. (An older pg_dump's CREATE SCHEMA
 * public is made IF NOT EXISTS by the restore's script filter.)
 */
export function wipeSql(): string {
  const ext = (catalog: string, oid: string) => notExtensionMember(catalog, oid);
  return `
DO $lifeboat_wipe$
DECLARE${CHECK_DECLARATIONS}
  item record;
  who oid;
  in_schema text;
  had_public boolean;
  public_owner oid;
  public_acl aclitem[];
  public_comment text;
BEGIN${wipeRefusalCheck()}

  SELECT n.nspowner, n.nspacl, pg_catalog.obj_description(n.oid, 'pg_namespace')
    INTO public_owner, public_acl, public_comment
    FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public';
  had_public := FOUND;

  FOR item IN SELECT e.evtname FROM pg_catalog.pg_event_trigger e WHERE ${ext('pg_catalog.pg_event_trigger', 'e.oid')} ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP EVENT TRIGGER IF EXISTS %I', item.evtname);
  END LOOP;
  FOR item IN
    SELECT s.subname, s.subenabled, s.subslotname FROM pg_catalog.pg_subscription s
    WHERE s.subdbid = (SELECT db.oid FROM pg_catalog.pg_database db WHERE db.datname = pg_catalog.current_database()) ORDER BY 1
  LOOP
    -- A subscription with a slot cannot be dropped inside a transaction (it would drop the slot on the
    -- publisher); detached from it, it can. The publisher's slot is left for its administrators.
    IF item.subenabled THEN EXECUTE pg_catalog.format('ALTER SUBSCRIPTION %I DISABLE', item.subname); END IF;
    IF item.subslotname IS NOT NULL THEN EXECUTE pg_catalog.format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', item.subname); END IF;
    EXECUTE pg_catalog.format('DROP SUBSCRIPTION %I', item.subname);
  END LOOP;
  FOR item IN SELECT p.pubname FROM pg_catalog.pg_publication p ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP PUBLICATION IF EXISTS %I', item.pubname);
  END LOOP;
  FOR item IN SELECT e.extname FROM pg_catalog.pg_extension e WHERE e.extname <> 'plpgsql' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP EXTENSION IF EXISTS %I CASCADE', item.extname);
  END LOOP;
  FOR item IN
    SELECT n.nspname FROM pg_catalog.pg_namespace n
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' ORDER BY 1
  LOOP
    EXECUTE pg_catalog.format('DROP SCHEMA IF EXISTS %I CASCADE', item.nspname);
  END LOOP;

  -- What lives outside schemas, as far as it did not go with them.
  FOR item IN SELECT w.fdwname FROM pg_catalog.pg_foreign_data_wrapper w WHERE ${ext('pg_catalog.pg_foreign_data_wrapper', 'w.oid')} ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP FOREIGN DATA WRAPPER IF EXISTS %I CASCADE', item.fdwname);
  END LOOP;
  FOR item IN SELECT f.srvname FROM pg_catalog.pg_foreign_server f WHERE ${ext('pg_catalog.pg_foreign_server', 'f.oid')} ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP SERVER IF EXISTS %I CASCADE', item.srvname);
  END LOOP;
  FOR item IN
    SELECT c.castsource::pg_catalog.regtype::text AS source, c.casttarget::pg_catalog.regtype::text AS target FROM pg_catalog.pg_cast c
    WHERE c.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_cast', 'c.oid')} ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('DROP CAST IF EXISTS (%s AS %s) CASCADE', item.source, item.target);
  END LOOP;
  FOR item IN
    SELECT t.trftype::pg_catalog.regtype::text AS type_name, l.lanname FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang
    WHERE t.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_transform', 't.oid')} ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('DROP TRANSFORM IF EXISTS FOR %s LANGUAGE %I CASCADE', item.type_name, item.lanname);
  END LOOP;
  FOR item IN SELECT a.amname FROM pg_catalog.pg_am a WHERE a.oid >= ${FIRST_NORMAL_OBJECT_ID} AND ${ext('pg_catalog.pg_am', 'a.oid')} ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ACCESS METHOD IF EXISTS %I CASCADE', item.amname);
  END LOOP;
  FOR item IN
    SELECT l.lanname FROM pg_catalog.pg_language l
    WHERE l.oid >= ${FIRST_NORMAL_OBJECT_ID} AND l.lanname <> 'plpgsql' AND ${ext('pg_catalog.pg_language', 'l.oid')} ORDER BY 1
  LOOP
    EXECUTE pg_catalog.format('DROP LANGUAGE IF EXISTS %I CASCADE', item.lanname);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(m.oid) FROM pg_catalog.pg_largeobject_metadata m;

  -- Default privileges of the connecting role (the creator of everything restored), back to the built-in
  -- defaults: the owner has every privilege, PUBLIC may execute functions and use types, nothing else.
  -- An entry equal to the defaults is removed by PostgreSQL itself. Per-schema entries in wiped schemas
  -- went with their schema.
  FOR item IN
    SELECT d.defaclnamespace, d.defaclobjtype, d.defaclacl,
           CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END AS kind
    FROM pg_catalog.pg_default_acl d WHERE d.defaclrole = me
  LOOP
    in_schema := CASE WHEN item.defaclnamespace = 0 THEN ''
                      ELSE pg_catalog.format(' IN SCHEMA %I', (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = item.defaclnamespace)) END;
    FOR who IN SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode(item.defaclacl) a LOOP
      CONTINUE WHEN who = me AND item.defaclnamespace = 0;
      EXECUTE pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s REVOKE ALL ON %s FROM %s', current_user, in_schema, item.kind,
        CASE WHEN who = 0 THEN 'PUBLIC' ELSE who::pg_catalog.regrole::text END);
    END LOOP;
    IF item.defaclnamespace = 0 THEN
      EXECUTE pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT ALL ON %s TO %I', current_user, item.kind, current_user);
      IF item.defaclobjtype = 'f' THEN
        EXECUTE pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT EXECUTE ON FUNCTIONS TO PUBLIC', current_user);
      ELSIF item.defaclobjtype = 'T' THEN
        EXECUTE pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT USAGE ON TYPES TO PUBLIC', current_user);
      END IF;
    END IF;
  END LOOP;

  CREATE SCHEMA public;
  IF had_public THEN
    IF public_owner <> me AND pg_catalog.pg_has_role(current_user, public_owner, 'MEMBER') THEN
      EXECUTE pg_catalog.format('ALTER SCHEMA public OWNER TO %s', public_owner::regrole);
    END IF;
    FOR item IN SELECT a.grantee, a.privilege_type, a.is_grantable FROM pg_catalog.aclexplode(public_acl) a LOOP
      EXECUTE pg_catalog.format('GRANT %s ON SCHEMA public TO %s%s', item.privilege_type,
        CASE WHEN item.grantee = 0 THEN 'PUBLIC' ELSE item.grantee::regrole::text END,
        CASE WHEN item.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    IF public_comment IS NOT NULL THEN
      EXECUTE pg_catalog.format('COMMENT ON SCHEMA public IS %L', public_comment);
    END IF;
  END IF;
END
$lifeboat_wipe$;
`;
}

/**
 * Ordinary tables whose data pg_dump dumps: the same selection as the row counts taken at backup time
 * (src/engine/snapshot.ts), so the two lists can be compared name for name.
 */
const TARGET_TABLES = `
    SELECT n.nspname::text AS schema_name, c.relname::text AS table_name, c.oid AS relid
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/**
 * How the row-count check counts a table's rows:
 * - `scan`: `SELECT count(*)`, a full scan of every table. The parallel path, whose rows were loaded by
 *   other sessions, has no other way.
 * - `inserted-in-this-transaction`: the one-transaction path. Every table was created by the restore's own
 *   transaction (the wipe dropped the rest), so its rows are exactly the rows this transaction inserted
 *   into it, minus those it deleted, which the server counts as it goes (pg_stat_get_xact_tuples_*: the
 *   counters behind pg_stat_xact_user_tables, which include the open transaction). That costs a catalog
 *   lookup per table instead of a scan of the whole database (about 0.5 s of a 1 GB restore, measured in
 *   docs/benchmark.md). Like count(*), a table's count includes its inheritance children. A table whose
 *   inheritance tree holds anything but plain or partitioned tables (a foreign table, say) is still
 *   scanned, and so is every table when the server does not count (track_counts = off).
 */
export type RowCounting = 'scan' | 'inserted-in-this-transaction';

/**
 * Counts every table's rows and compares them, table by table, with the counts recorded in the backup.
 * A table missing, a table the backup does not have, or a different count RAISEs, which rolls back the
 * restore transaction. The last statement returns the comparison as one marked JSON line.
 */
export function verificationSql(expected: readonly TableCount[], counting: RowCounting = 'scan'): string {
  const json = JSON.stringify(expected.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows })));
  return `
CREATE TEMPORARY TABLE lifeboat_verify (schema_name text, table_name text, expected bigint, found bigint);
DO $lifeboat_verify$
DECLARE
  item record;
  n bigint;
  problems text[] := '{}';
  from_counters boolean := ${counting === 'inserted-in-this-transaction' ? 'true' : 'false'} AND pg_catalog.current_setting('track_counts')::boolean;
BEGIN
  FOR item IN
    SELECT coalesce(e.schema_name, a.schema_name) AS s, coalesce(e.table_name, a.table_name) AS t,
           e.expected_rows, a.schema_name IS NOT NULL AS present, a.relid
    FROM (SELECT x->>'schema' AS schema_name, x->>'table' AS table_name, (x->>'rows')::bigint AS expected_rows
          FROM pg_catalog.jsonb_array_elements(${literal(json)}::jsonb) AS x) e
    FULL JOIN (${TARGET_TABLES}) a ON a.schema_name = e.schema_name AND a.table_name = e.table_name
    ORDER BY 1, 2
  LOOP
    n := NULL;
    IF item.present AND from_counters THEN
      WITH RECURSIVE tree(relid) AS (
        SELECT item.relid
        UNION
        SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.relid
      )
      SELECT CASE WHEN pg_catalog.bool_and(c.relkind IN ('r', 'p'))
                  THEN pg_catalog.sum(pg_catalog.pg_stat_get_xact_tuples_inserted(tree.relid) - pg_catalog.pg_stat_get_xact_tuples_deleted(tree.relid)) END
        INTO n
        FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.relid;
    END IF;
    IF item.present AND n IS NULL THEN
      EXECUTE pg_catalog.format('SELECT count(*) FROM %I.%I', item.s, item.t) INTO n;
    END IF;
    INSERT INTO pg_temp.lifeboat_verify VALUES (item.s, item.t, item.expected_rows, n);
    IF item.expected_rows IS NULL THEN
      problems := problems || pg_catalog.format('%I.%I is in the target but not in the backup', item.s, item.t);
    ELSIF n IS NULL THEN
      problems := problems || pg_catalog.format('%I.%I is missing from the target', item.s, item.t);
    ELSIF n <> item.expected_rows THEN
      problems := problems || pg_catalog.format('%I.%I has %s rows, the backup recorded %s', item.s, item.t, n, item.expected_rows);
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(problems) > 0 THEN
    RAISE EXCEPTION 'lifeboat verification failed: the restored data does not match the backup''s row counts (% problem(s)): %',
      pg_catalog.cardinality(problems), pg_catalog.array_to_string(problems[1:20], '; ');
  END IF;
END
$lifeboat_verify$;
SELECT ${literal(VERIFY_MARKER)} || coalesce(
  (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(v.schema_name, v.table_name, v.expected, v.found) ORDER BY v.schema_name, v.table_name)
   FROM pg_temp.lifeboat_verify v)::text, '[]');
DROP TABLE pg_temp.lifeboat_verify;
`;
}

/** Reads the marked line back; undefined when it is not there. */
export function parseVerification(output: string): TableCheck[] | undefined {
  const line = output.split('\n').find((l) => l.startsWith(VERIFY_MARKER));
  if (line === undefined) return undefined;
  const rows = JSON.parse(line.slice(VERIFY_MARKER.length)) as [string, string, number | null, number | null][];
  return rows.map(([schema, table, expected, found]) => ({ schema, table, expected, found }));
}
