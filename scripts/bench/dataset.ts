/**
 * The benchmark's data: a realistic application database generated server-side, and a media bucket.
 *
 * The database is an application schema, not pgbench's blank filler: accounts, orders, an event log,
 * text documents and attachments, with random text (sentences drawn from a pool of 200,000 generated
 * from a Zipf-like vocabulary, so it compresses like prose), jsonb, bytea (random bytes, which do not
 * compress, like image thumbnails), numbers, timestamps, inet, arrays, B-tree and GIN indexes and
 * foreign keys. Everything is generated with SQL (generate_series, random(), md5, pgcrypto's
 * gen_random_bytes) on two connections at once, then frozen and analysed, so every contender reads the
 * same settled, cached pages.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';

/** On-disk bytes (heap, TOAST and indexes) that one unit of scale produces, about: 1,074 units made 1,006 MiB of tables. */
export const BYTES_PER_UNIT = 1_000_000;

/** Rows per unit of scale, table by table. One unit is about 1 MB on disk. */
const ROWS_PER_UNIT = { accounts: 190, orders: 380, events: 760, documents: 170, attachments: 53 };

const WORDS = `the of and to in is that it was for on are as with his they at be this from have or by one had not but what all were when we there can an
your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make
than first been its who now people my made over did down only way find use may water long little very after words called just where most know get through
back much go good new write our me man too any day same right look think also around another came come work three word must because does part even place
well such here take why help put different away again off went old number great tell men say small every found still between name should home big give
air line set own under read last never us left end along while might next sound below saw something thought both few those always show large often together
asked house world going want school important until form food keep children feet land side without boy once animal life enough took sometimes four head above
kind began almost live page got earth need far hand high year mother light country father let night picture being study second soon story since white ever
paper hard near sentence better best across during today however sure knew try told young sun thing whole hear example heard several change answer room sea
against top turned learn point city play toward five himself usually money seen car morning body upon family later turn move face door cut done group true
leave color red friend pretty eat front feel fact hour rock order fire problem piece together account invoice customer payment shipping refund subscription
database backup restore server deploy release staging production report quarterly revenue forecast meeting schedule contract vendor audit compliance grant
federal award recipient finding summary single program expenditure questioned cost corrective action plan entity auditor certification submission review`
  .split(/\s+/)
  .filter(Boolean);

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'python-requests/2.31.0',
  'curl/8.5.0',
];

const sqlArray = (items: readonly string[]) => `ARRAY[${items.map((w) => `'${w.replace(/'/g, "''")}'`).join(',')}]::text[]`;

export interface TableStats {
  name: string;
  rows: number;
  /** pg_total_relation_size: heap, TOAST and indexes. */
  bytes: number;
}

export interface DatabaseStats {
  /** pg_database_size after generation. */
  bytes: number;
  tables: TableStats[];
  generationMs: number;
  units: number;
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'");
    return await body(client);
  } finally {
    await client.end();
  }
}

/** Rows of each table for `units` units of scale. */
export function rowCounts(units: number): Record<keyof typeof ROWS_PER_UNIT, number> {
  const scaled = (n: number) => Math.max(1, Math.round(n * units));
  return {
    accounts: scaled(ROWS_PER_UNIT.accounts),
    orders: scaled(ROWS_PER_UNIT.orders),
    events: scaled(ROWS_PER_UNIT.events),
    documents: scaled(ROWS_PER_UNIT.documents),
    attachments: scaled(ROWS_PER_UNIT.attachments),
  };
}

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  email text NOT NULL,
  display_name text NOT NULL,
  created_at timestamptz NOT NULL,
  last_login_at timestamptz,
  is_active boolean NOT NULL,
  balance numeric(12,2) NOT NULL,
  settings jsonb NOT NULL
);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  account_id bigint NOT NULL,
  status text NOT NULL,
  total_cents integer NOT NULL,
  currency char(3) NOT NULL,
  placed_at timestamptz NOT NULL,
  line_items jsonb NOT NULL,
  shipping_address text
);
CREATE TABLE events (
  id bigint PRIMARY KEY,
  account_id bigint,
  kind text NOT NULL,
  occurred_at timestamptz NOT NULL,
  ip inet,
  user_agent text,
  payload jsonb NOT NULL
);
CREATE TABLE documents (
  id bigint PRIMARY KEY,
  account_id bigint NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  tags text[] NOT NULL,
  word_count integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE attachments (
  id bigint PRIMARY KEY,
  document_id bigint NOT NULL,
  file_name text NOT NULL,
  mime_type text NOT NULL,
  sha256 bytea NOT NULL,
  thumbnail bytea NOT NULL,
  uploaded_at timestamptz NOT NULL
);
CREATE UNLOGGED TABLE bench_pool (id integer PRIMARY KEY, s text NOT NULL);
`;

/** A random word, skewed towards the front of the list (frequent words), like natural text. */
const word = (w = 'w') => `${w}[1 + floor(power(random(), 2.2) * array_length(${w}, 1))::int]`;

function poolSql(): string {
  return `
WITH v AS (SELECT ${sqlArray(WORDS)} AS w)
INSERT INTO bench_pool (id, s)
SELECT sid, initcap(string_agg(wd, ' ' ORDER BY pos)) || (CASE WHEN sid % 7 = 0 THEN '?' WHEN sid % 11 = 0 THEN '!' ELSE '.' END)
FROM (
  SELECT g.sid, k.pos, ${word('v.w')} AS wd
  FROM v, generate_series(1, 200000) AS g(sid), generate_series(1, 6 + (g.sid::bigint * 13) % 14) AS k(pos)
) words
GROUP BY sid;
ANALYZE bench_pool;`;
}

function loadSql(rows: ReturnType<typeof rowCounts>): { a: string[]; b: string[] } {
  const start = `timestamptz '2019-01-01'`;
  const span = `interval '6 years'`;
  const accounts = `
INSERT INTO accounts
SELECT g,
  lower(substr(md5(g::text), 1, 6 + g % 6)) || '.' || g || '@' || (ARRAY['gmail.com','yahoo.com','outlook.com','agency.gov','example.org','university.edu'])[1 + g % 6],
  initcap(substr(md5('first' || g), 1, 4 + g % 5)) || ' ' || initcap(substr(md5('last' || g), 1, 5 + g % 7)),
  ${start} + random() * ${span},
  CASE WHEN random() < 0.8 THEN now() - random() * interval '400 days' END,
  random() < 0.9,
  round((random() * 10000)::numeric, 2),
  jsonb_build_object(
    'theme', (ARRAY['light','dark','system'])[1 + g % 3],
    'locale', (ARRAY['en-US','en-GB','es-US','fr-FR','de-DE'])[1 + g % 5],
    'notifications', jsonb_build_object('email', random() < 0.7, 'sms', random() < 0.2, 'digest', (ARRAY['daily','weekly','never'])[1 + g % 3]),
    'timezone', (ARRAY['America/New_York','America/Chicago','America/Denver','America/Los_Angeles','UTC'])[1 + g % 5],
    'api_key', encode(gen_random_bytes(16), 'hex'))
FROM generate_series(1, ${rows.accounts}) AS g;`;
  const orders = `
INSERT INTO orders
SELECT g,
  1 + floor(random() * ${rows.accounts})::bigint,
  (ARRAY['pending','paid','shipped','delivered','refunded','cancelled'])[1 + floor(power(random(), 1.5) * 6)::int],
  (random() * 50000)::int,
  (ARRAY['USD','USD','USD','EUR','GBP'])[1 + g % 5],
  ${start} + random() * ${span},
  jsonb_build_array(
    jsonb_build_object('sku', 'SKU-' || (1000 + (random() * 90000)::int), 'qty', 1 + (random() * 4)::int, 'unit_cents', (random() * 20000)::int, 'name', initcap(p.s)),
    jsonb_build_object('sku', 'SKU-' || (1000 + (random() * 90000)::int), 'qty', 1 + (random() * 2)::int, 'unit_cents', (random() * 5000)::int, 'gift', random() < 0.1)
  ) || CASE WHEN g % 3 = 0 THEN jsonb_build_array(jsonb_build_object('sku', 'SHIP-STD', 'qty', 1, 'unit_cents', 599)) ELSE '[]'::jsonb END,
  CASE WHEN g % 4 <> 0 THEN (100 + (random() * 9800)::int) || ' ' || initcap(substr(md5('st' || g), 1, 8)) || ' St, Springfield, ' || (ARRAY['IL','MA','OR','TX','VA'])[1 + g % 5] || ' ' || lpad(((random() * 99999)::int)::text, 5, '0') END
FROM generate_series(1, ${rows.orders}) AS g
JOIN bench_pool p ON p.id = 1 + (g::bigint * 7919) % 200000;`;
  const events = `
INSERT INTO events
SELECT g,
  CASE WHEN random() < 0.95 THEN 1 + floor(random() * ${rows.accounts})::bigint END,
  (ARRAY['page_view','page_view','page_view','login','logout','search','download','api_call','error'])[1 + floor(random() * 9)::int],
  ${start} + (g::float8 / ${rows.events}) * ${span} + random() * interval '1 hour',
  ('10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (random() * 254 + 1)::int)::inet,
  (${sqlArray(USER_AGENTS)})[1 + floor(random() * ${USER_AGENTS.length})::int],
  jsonb_build_object(
    'path', '/' || (ARRAY['audit','report','submission','grants','search','api/v1/records','admin','help'])[1 + floor(random() * 8)::int] || '/' || (random() * 100000)::int,
    'status', (ARRAY[200,200,200,200,201,204,302,304,400,403,404,500])[1 + floor(random() * 12)::int],
    'duration_ms', round((random() * random() * 3000)::numeric, 1),
    'session', md5(g::text || 'session'),
    'request_id', gen_random_uuid(),
    'referrer', CASE WHEN random() < 0.3 THEN 'https://www.google.com/' END)
FROM generate_series(1, ${rows.events}) AS g;`;
  // Documents: 5 to 34 sentences each, drawn at random from the pool.
  const documents = `
INSERT INTO documents
SELECT d.id, d.account_id, d.title, b.body, d.tags, array_length(regexp_split_to_array(b.body, ' '), 1), d.created_at, d.created_at + random() * interval '90 days'
FROM (
  SELECT g AS id, 1 + floor(random() * ${rows.accounts})::bigint AS account_id,
    initcap(substr(p.s, 1, 60)) AS title,
    (SELECT array_agg(DISTINCT t) FROM unnest(ARRAY[(ARRAY['finance','audit','hr','legal','ops','it','grants','policy','draft','final'])[1 + g % 10], (ARRAY['2021','2022','2023','2024','2025'])[1 + g % 5], (ARRAY['internal','public','restricted'])[1 + g % 3]]) t) AS tags,
    ${start} + random() * ${span} AS created_at
  FROM generate_series(1, ${rows.documents}) AS g
  JOIN bench_pool p ON p.id = 1 + (g::bigint * 104729) % 200000
) d
JOIN (
  SELECT picks.doc, string_agg(p.s, CASE WHEN picks.k % 5 = 0 THEN E'\\n\\n' ELSE ' ' END ORDER BY picks.k) AS body
  FROM (
    SELECT g AS doc, k, 1 + floor(random() * 200000)::int AS pid
    FROM generate_series(1, ${rows.documents}) AS g, generate_series(1, 5 + (g::bigint * 31) % 30) AS k
  ) picks
  JOIN bench_pool p ON p.id = picks.pid
  GROUP BY picks.doc
) b ON b.doc = d.id;`;
  const attachments = `
INSERT INTO attachments
SELECT g,
  1 + floor(random() * ${rows.documents})::bigint,
  lower(substr(md5('file' || g), 1, 10)) || (ARRAY['.pdf','.xlsx','.docx','.png','.jpg'])[1 + g % 5],
  (ARRAY['application/pdf','application/vnd.openxmlformats-officedocument.spreadsheetml.sheet','application/vnd.openxmlformats-officedocument.wordprocessingml.document','image/png','image/jpeg'])[1 + g % 5],
  sha256(g::text::bytea),
  substring(gen_random_bytes(1024) || gen_random_bytes(1024) || gen_random_bytes(1024) || gen_random_bytes(1024) from 1 for 400 + floor(random() * 3600)::int),
  ${start} + random() * ${span}
FROM generate_series(1, ${rows.attachments}) AS g;`;
  return { a: [events, accounts], b: [documents, orders, attachments] };
}

const INDEXES_A = [
  'CREATE UNIQUE INDEX accounts_email ON accounts (email)',
  'CREATE INDEX events_account_time ON events (account_id, occurred_at)',
  'CREATE INDEX events_kind_time ON events (kind, occurred_at)',
];
const INDEXES_B = [
  'CREATE INDEX orders_account ON orders (account_id)',
  'CREATE INDEX orders_placed ON orders (placed_at)',
  'CREATE INDEX orders_status ON orders (status) WHERE status IN (\'pending\', \'refunded\')',
  'CREATE INDEX documents_account ON documents (account_id)',
  'CREATE INDEX documents_tags ON documents USING gin (tags)',
  'CREATE INDEX attachments_document ON attachments (document_id)',
  'CREATE UNIQUE INDEX attachments_sha256 ON attachments (sha256)',
];
const CONSTRAINTS = `
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE documents ADD CONSTRAINT documents_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE attachments ADD CONSTRAINT attachments_document_fk FOREIGN KEY (document_id) REFERENCES documents (id);
CREATE VIEW account_order_totals AS SELECT account_id, count(*) AS orders, sum(total_cents) AS total_cents FROM orders GROUP BY account_id;
`;

/**
 * Creates and fills the application database at `url` (which must exist and be empty) with `units`
 * units of scale (about 1 MB on disk each).
 */
export async function generateDatabase(url: string, units: number, log: (line: string) => void = () => undefined): Promise<DatabaseStats> {
  const started = Date.now();
  const rows = rowCounts(units);
  await withClient(url, async (c) => {
    await c.query(SCHEMA);
    await c.query(poolSql());
  });
  const { a, b } = loadSql(rows);
  const run = (statements: string[]) =>
    withClient(url, async (c) => {
      for (const sql of statements) {
        const t = Date.now();
        await c.query(sql);
        log(`  ${sql.trim().split('\n')[0]!.slice(0, 40)}… ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
    });
  await Promise.all([run(a), run(b)]);
  await withClient(url, (c) => c.query('DROP TABLE bench_pool'));
  await Promise.all([run(INDEXES_A), run(INDEXES_B)]);
  await withClient(url, async (c) => {
    await c.query(CONSTRAINTS);
    // Settle everything (hint bits, visibility map, statistics) so no contender pays for it.
    await c.query('VACUUM (FREEZE, ANALYZE)');
    await c.query('CHECKPOINT');
  });
  const stats = await databaseStats(url);
  return { ...stats, generationMs: Date.now() - started, units };
}

export async function databaseStats(url: string): Promise<{ bytes: number; tables: TableStats[] }> {
  return withClient(url, async (c) => {
    const size = await c.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
    const tables = await c.query<{ name: string; rows: string; bytes: string }>(
      `SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC`,
    );
    return {
      bytes: Number(size.rows[0]!.bytes),
      tables: tables.rows.map((r) => ({ name: r.name, rows: Number(r.rows), bytes: Number(r.bytes) })),
    };
  });
}

/** A small application database for the media runs, whose dump is negligible beside the media. */
export async function generateSmallDatabase(url: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(`CREATE TABLE uploads (id bigint PRIMARY KEY, key text NOT NULL, uploaded_at timestamptz NOT NULL)`);
    await c.query(`INSERT INTO uploads SELECT g, 'uploads/' || g, now() FROM generate_series(1, 1000) g`);
  });
}

export interface MediaObjectSpec {
  key: string;
  size: number;
  contentType: string;
}

export interface MediaPlan {
  objects: MediaObjectSpec[];
  bytes: number;
}

/**
 * The media bucket: `count` small objects, 1 KiB to 64 KiB (skewed small, like avatars, thumbnails and
 * documents), under dated upload prefixes, plus `large` objects of 12 to 40 MiB (above the 8 MiB at
 * which Lifeboat streams an object instead of holding it).
 */
export function planMedia(count: number, large: number, seed = 1): MediaPlan {
  let state = seed >>> 0 || 1;
  const rand = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  const types = [
    ['jpg', 'image/jpeg'],
    ['png', 'image/png'],
    ['pdf', 'application/pdf'],
    ['csv', 'text/csv'],
    ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ] as const;
  const objects: MediaObjectSpec[] = [];
  for (let i = 0; i < count; i++) {
    const [ext, contentType] = types[i % types.length]!;
    const size = Math.round(1024 + Math.pow(rand(), 2) * 63 * 1024);
    const month = String(1 + (i % 12)).padStart(2, '0');
    objects.push({ key: `uploads/${2020 + (i % 6)}/${month}/${String(i).padStart(6, '0')}-${Math.floor(rand() * 1e9).toString(36)}.${ext}`, size, contentType });
  }
  for (let i = 0; i < large; i++) {
    objects.push({ key: `exports/archive-${i}.zip`, size: Math.round((12 + rand() * 28) * 1024 * 1024), contentType: 'application/zip' });
  }
  return { objects, bytes: objects.reduce((sum, o) => sum + o.size, 0) };
}

/** Writes the planned objects (random bytes: media does not compress) with `concurrency` PUTs in flight. */
export async function putMediaObjects(client: S3Client, bucket: string, objects: readonly MediaObjectSpec[], concurrency = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, objects.length) }, async () => {
      while (next < objects.length) {
        const object = objects[next++]!;
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: object.key,
            Body: randomBytes(object.size),
            ContentType: object.contentType,
            Metadata: { 'uploaded-by': 'bench' },
          }),
        );
      }
    }),
  );
}
