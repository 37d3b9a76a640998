/**
 * The manifest: the record of one backup, written last. Its presence makes a backup complete,
 * and it holds a SHA-256 of every byte stored, so restore can verify before it touches anything.
 */
import { Ajv } from 'ajv';
import type { Trigger } from './backup-id.js';
import { TRIGGERS } from './backup-id.js';

export const MANIFEST_FORMAT = 'lifeboat-manifest/1';

export type Compression = 'zstd' | 'gzip' | 'none';
export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'none'];

export interface ArtifactRecord {
  /** What the artifact holds, e.g. `database`. */
  name: string;
  key: string;
  /** Bytes stored. */
  size: number;
  /** SHA-256 (hex) of the bytes stored. */
  sha256: string;
  compression: Compression;
  /** e.g. `pg_dump-custom`. */
  format: string;
  /** Bytes before compression. */
  uncompressedSize: number;
}

export interface TableCount {
  schema: string;
  table: string;
  rows: number;
}

/** One object of the media bucket as it was at backup time. Its content is stored once, by SHA-256. */
export interface MediaObjectRecord {
  /** Key relative to the media prefix. */
  key: string;
  size: number;
  sha256: string;
  /** MD5 (hex) of the content: equals the ETag of a single-part upload, so restore can skip objects already in place. */
  md5: string;
  contentType?: string;
  /** User metadata (x-amz-meta-*), names lower-case. */
  metadata: Record<string, string>;
  /** Source ETag and last-modified time: an object with both unchanged is not read again by the next backup. */
  etag?: string;
  lastModified?: string;
}

export interface MediaTotals {
  objects: number;
  bytes: number;
  /** Objects whose content this backup stored (it was not in the backup bucket yet). */
  newObjects: number;
  newBytes: number;
  /** Objects whose content was already stored, by an earlier backup or another key. */
  reusedObjects: number;
  reusedBytes: number;
}

export interface MediaRecord {
  bucket: string;
  prefix: string;
  objects: MediaObjectRecord[];
  totals: MediaTotals;
}

/** Who and what started the backup, when it ran in GitHub Actions. */
export interface Provenance {
  repository?: string;
  ref?: string;
  commit?: string;
  workflow?: string;
  eventName?: string;
  runId?: string;
  runAttempt?: string;
  runUrl?: string;
  actor?: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  space: string;
  trigger: Trigger;
  startedAt: string;
  finishedAt: string;
  tool: { name: string; version: string };
  provenance: Provenance | null;
  database: {
    /** Host, port and database name, never credentials. */
    source: string;
    serverVersion: string;
    serverVersionNum: number;
    pgDumpVersion: string;
    /** Row counts taken in the very snapshot pg_dump dumped; null when they could not be taken. */
    tables: TableCount[] | null;
  };
  artifacts: ArtifactRecord[];
  /** The media bucket, when one was backed up with the database. */
  media?: MediaRecord;
}

const stringProp = { type: 'string' } as const;
const optionalString = { type: 'string' } as const;

const schema = {
  type: 'object',
  required: ['format', 'id', 'space', 'trigger', 'startedAt', 'finishedAt', 'tool', 'provenance', 'database', 'artifacts'],
  properties: {
    format: { type: 'string', const: MANIFEST_FORMAT },
    id: stringProp,
    space: stringProp,
    trigger: { type: 'string', enum: [...TRIGGERS] },
    startedAt: stringProp,
    finishedAt: stringProp,
    tool: { type: 'object', required: ['name', 'version'], properties: { name: stringProp, version: stringProp } },
    provenance: {
      type: ['object', 'null'],
      properties: {
        repository: optionalString,
        ref: optionalString,
        commit: optionalString,
        workflow: optionalString,
        eventName: optionalString,
        runId: optionalString,
        runAttempt: optionalString,
        runUrl: optionalString,
        actor: optionalString,
      },
    },
    database: {
      type: 'object',
      required: ['source', 'serverVersion', 'serverVersionNum', 'pgDumpVersion', 'tables'],
      properties: {
        source: stringProp,
        serverVersion: stringProp,
        serverVersionNum: { type: 'integer' },
        pgDumpVersion: stringProp,
        tables: {
          type: ['array', 'null'],
          items: {
            type: 'object',
            required: ['schema', 'table', 'rows'],
            properties: { schema: stringProp, table: stringProp, rows: { type: 'integer', minimum: 0 } },
          },
        },
      },
    },
    media: {
      type: 'object',
      required: ['bucket', 'prefix', 'objects', 'totals'],
      properties: {
        bucket: stringProp,
        prefix: { type: 'string' },
        objects: {
          type: 'array',
          items: {
            type: 'object',
            required: ['key', 'size', 'sha256', 'md5', 'metadata'],
            properties: {
              key: { type: 'string' },
              size: { type: 'integer', minimum: 0 },
              sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
              md5: { type: 'string', pattern: '^[0-9a-f]{32}$' },
              contentType: { type: 'string' },
              metadata: { type: 'object', additionalProperties: { type: 'string' } },
              etag: { type: 'string' },
              lastModified: { type: 'string' },
            },
          },
        },
        totals: {
          type: 'object',
          required: ['objects', 'bytes', 'newObjects', 'newBytes', 'reusedObjects', 'reusedBytes'],
          properties: {
            objects: { type: 'integer' },
            bytes: { type: 'integer' },
            newObjects: { type: 'integer' },
            newBytes: { type: 'integer' },
            reusedObjects: { type: 'integer' },
            reusedBytes: { type: 'integer' },
          },
        },
      },
    },
    artifacts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'key', 'size', 'sha256', 'compression', 'format', 'uncompressedSize'],
        properties: {
          name: stringProp,
          key: stringProp,
          size: { type: 'integer', minimum: 0 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          compression: { type: 'string', enum: [...COMPRESSIONS] },
          format: stringProp,
          uncompressedSize: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
};

const validate = new Ajv({ allErrors: true }).compile<Manifest>(schema);

/** A manifest that was read but is not a valid one: its backup cannot be trusted or restored. */
export class InvalidManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidManifestError';
  }
}

/** Parses and checks a manifest read from the bucket; a malformed one is an error, never a partial result. */
export function parseManifest(text: string, where: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InvalidManifestError(`The manifest at ${where} is not valid JSON (${(error as Error).message}); the backup cannot be trusted.`);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new InvalidManifestError(`The manifest at ${where} does not match ${MANIFEST_FORMAT}: ${problems}`);
  }
  return data;
}

export function serializeManifest(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}

export function provenanceFromEnv(env: NodeJS.ProcessEnv): Provenance | null {
  if (env.GITHUB_ACTIONS !== 'true') return null;
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runUrl =
    env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  const record: Provenance = {
    repository: env.GITHUB_REPOSITORY,
    ref: env.GITHUB_REF,
    commit: env.GITHUB_SHA,
    workflow: env.GITHUB_WORKFLOW,
    eventName: env.GITHUB_EVENT_NAME,
    runId: env.GITHUB_RUN_ID,
    runAttempt: env.GITHUB_RUN_ATTEMPT,
    runUrl,
    actor: env.GITHUB_ACTOR,
  };
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Provenance;
}
