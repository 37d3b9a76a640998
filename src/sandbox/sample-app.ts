/**
 * A small but realistic application database, for the demo and the tests: several schemas,
 * sequences, a view, a function, an extension, foreign keys, and jsonb, bytea and unicode data.
 */
import pg from 'pg';

export const SAMPLE_SCHEMA_SQL = `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA app;
CREATE SCHEMA audit;
CREATE SEQUENCE app.invoice_number_seq START 1000;

CREATE TABLE app.organizations (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  contact_email citext NOT NULL UNIQUE,
  settings jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE app.submissions (
  id bigserial PRIMARY KEY,
  organization_id bigint NOT NULL REFERENCES app.organizations(id) ON DELETE CASCADE,
  invoice_number integer NOT NULL DEFAULT nextval('app.invoice_number_seq'),
  title text NOT NULL,
  payload jsonb NOT NULL,
  attachment bytea,
  amount numeric(12,2) NOT NULL,
  submitted_at timestamptz NOT NULL
);
CREATE INDEX submissions_org_idx ON app.submissions (organization_id, submitted_at);

CREATE TABLE audit.events (
  id bigserial PRIMARY KEY,
  submission_id bigint REFERENCES app.submissions(id),
  action text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW app.submission_totals AS
  SELECT o.name, count(s.id) AS submissions, coalesce(sum(s.amount), 0) AS total
  FROM app.organizations o LEFT JOIN app.submissions s ON s.organization_id = o.id
  GROUP BY o.name;

CREATE FUNCTION app.organization_total(org bigint) RETURNS numeric
  LANGUAGE sql STABLE AS $$ SELECT coalesce(sum(amount), 0) FROM app.submissions WHERE organization_id = org $$;
`;

const NAMES = ['Åland Regional Council', 'Ōsaka Trading 株式会社', 'Zürich Verein für Datenpflege', 'São Paulo Cooperativa', 'Kraków Fundacja', 'Αθήνα Σύλλογος'];

/** Creates the schema and fills it with deterministic data; `scale` multiplies the row counts. */
export async function createSampleApp(url: string, scale = 1): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(SAMPLE_SCHEMA_SQL);
    for (const [i, name] of NAMES.entries()) {
      await client.query('INSERT INTO app.organizations (name, contact_email, settings) VALUES ($1, $2, $3)', [
        name,
        `Contact${i}@Example.org`,
        { tier: i % 3, tags: ['emoji 🚀', `ключ-${i}`], nested: { on: i % 2 === 0 } },
      ]);
    }
    await client.query(
      `INSERT INTO app.submissions (organization_id, title, payload, attachment, amount, submitted_at)
       SELECT 1 + (g % $2), 'Submission ' || g || ' — résumé ✓',
              jsonb_build_object('line_items', jsonb_build_array(g, g * 2), 'note', repeat('ü', g % 7)),
              CASE WHEN g % 5 = 0 THEN NULL ELSE decode(md5(g::text) || md5((g * 7)::text), 'hex') END,
              (g * 13.37)::numeric(12,2), timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes'
       FROM generate_series(1, $1::int) AS g`,
      [200 * scale, NAMES.length],
    );
    await client.query(
      `INSERT INTO audit.events (submission_id, action, at)
       SELECT id, CASE WHEN id % 2 = 0 THEN 'created' ELSE 'updated' END, submitted_at FROM app.submissions`,
    );
  } finally {
    await client.end();
  }
}
