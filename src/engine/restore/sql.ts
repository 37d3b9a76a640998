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

/**
 * Empties the target database: every extension except plpgsql, every schema that is not a system schema
 * (CASCADE, so everything in them goes too) and every large object. Anything the connecting role may not
 * drop makes this fail, and with it the whole restore, before any data is replaced.
 *
 * pg_dump 15 and later never emit CREATE SCHEMA public (they assume every database has it), so unless the
 * archive creates it, `public` is created again here with the target's own owner, privileges and comment,
 * as it was before the wipe: the target keeps its `public` the way its administrators set it up.
 */
export function wipeSql(options: { recreatePublic: boolean }): string {
  return `
DO $lifeboat_wipe$
DECLARE
  item record;
  had_public boolean;
  public_owner oid;
  public_acl aclitem[];
  public_comment text;
BEGIN
  SELECT n.nspowner, n.nspacl, pg_catalog.obj_description(n.oid, 'pg_namespace')
    INTO public_owner, public_acl, public_comment
    FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public';
  had_public := FOUND;

  FOR item IN SELECT e.extname FROM pg_catalog.pg_extension e WHERE e.extname <> 'plpgsql' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP EXTENSION IF EXISTS %I CASCADE', item.extname);
  END LOOP;
  FOR item IN
    SELECT n.nspname FROM pg_catalog.pg_namespace n
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' ORDER BY 1
  LOOP
    EXECUTE pg_catalog.format('DROP SCHEMA IF EXISTS %I CASCADE', item.nspname);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(m.oid) FROM pg_catalog.pg_largeobject_metadata m;

  IF ${options.recreatePublic ? 'true' : 'false'} THEN
    CREATE SCHEMA public;
    IF had_public THEN
      IF public_owner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
         AND pg_catalog.pg_has_role(current_user, public_owner, 'MEMBER') THEN
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
    SELECT n.nspname::text AS schema_name, c.relname::text AS table_name
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/**
 * Counts every table's rows and compares them, table by table, with the counts recorded in the backup.
 * A table missing, a table the backup does not have, or a different count RAISEs, which rolls back the
 * restore transaction. The last statement returns the comparison as one marked JSON line.
 */
export function verificationSql(expected: readonly TableCount[]): string {
  const json = JSON.stringify(expected.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows })));
  return `
CREATE TEMPORARY TABLE lifeboat_verify (schema_name text, table_name text, expected bigint, found bigint);
DO $lifeboat_verify$
DECLARE
  item record;
  n bigint;
  problems text[] := '{}';
BEGIN
  FOR item IN
    SELECT coalesce(e.schema_name, a.schema_name) AS s, coalesce(e.table_name, a.table_name) AS t,
           e.expected_rows, a.schema_name IS NOT NULL AS present
    FROM (SELECT x->>'schema' AS schema_name, x->>'table' AS table_name, (x->>'rows')::bigint AS expected_rows
          FROM pg_catalog.jsonb_array_elements(${literal(json)}::jsonb) AS x) e
    FULL JOIN (${TARGET_TABLES}) a ON a.schema_name = e.schema_name AND a.table_name = e.table_name
    ORDER BY 1, 2
  LOOP
    n := NULL;
    IF item.present THEN
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
