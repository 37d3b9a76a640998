/**
 * The manifest: the record of one backup, written last. Its presence makes a backup complete,
 * and it holds a SHA-256 of every byte stored, so restore can verify before it touches anything.
 */
import { Ajv } from 'ajv';
import type { Trigger } from './backup-id.js';
import { TRIGGERS } from './backup-id.js';
import type { MediaIndex } from './media-index.js';

export const MANIFEST_FORMAT = 'lifeboat-manifest/1';
/**
 * A manifest whose data-revealing parts (row counts, media keys) are sealed with age (domain/sealing.ts).
 * A new format, so a Lifeboat that cannot unseal refuses it instead of restoring an empty media list.
 */
export const SEALED_MANIFEST_FORMAT = 'lifeboat-manifest/2';
/**
 * A manifest whose media objects are in a media index (domain/media-index.ts), sealed or not. A new format,
 * so an older Lifeboat refuses it instead of reading its empty object list as an empty bucket.
 */
export const INDEXED_MANIFEST_FORMAT = 'lifeboat-manifest/3';
export type ManifestFormat = typeof MANIFEST_FORMAT | typeof SEALED_MANIFEST_FORMAT | typeof INDEXED_MANIFEST_FORMAT;

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
  /** 'age' when the stored bytes are an age file of the compressed archive. */
  encryption?: 'age';
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
  /**
   * True when the bytes hashed were checked at the source: read pinned to the listed ETag (If-Match), as
   * many as the listing and Content-Length said, and matching the ETag where it is an MD5. Only a verified
   * record is carried over to the next backup; records from older manifests lack it and are read again.
   */
  verified?: boolean;
  /** The object's standard headers, restored with it. */
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  /** The Expires header as the store gave it (an HTTP date). */
  expires?: string;
  websiteRedirectLocation?: string;
  /** Under encryption: where the content is stored (a keyed address, not its SHA-256) and its stored (encrypted) size. */
  address?: string;
  storedSize?: number;
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

/** Stored media content a backup refers to, readable without the identity (so prune works on sealed backups). */
export interface MediaContentRef {
  address: string;
  /** Bytes stored. */
  size: number;
}

export interface MediaRecord {
  bucket: string;
  prefix: string;
  /** Every object; empty in a sealed manifest's readable part, where the sealed part holds them. */
  objects: MediaObjectRecord[];
  totals: MediaTotals;
  /** In a sealed manifest of format 2: the content it refers to, by address. */
  contents?: MediaContentRef[];
  /** Format 3: the chunks of the media index, in key order; `objects` is then empty. */
  index?: MediaIndex;
}

/** Encryption of a backup: to whom, and the sealed part (base64 of an age file of domain/sealing.ts's SealedPart). */
export interface ManifestEncryption {
  scheme: 'age';
  /** The age public keys everything was encrypted to. */
  recipients: string[];
  sealed: string;
}

/** An Ed25519 signature over the manifest without this field (signingPayload). */
export interface ManifestSignature {
  algorithm: 'ed25519';
  /** The first 16 hex digits of the SHA-256 of the public key (SPKI). */
  keyId: string;
  /** base64. */
  value: string;
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
  format: ManifestFormat;
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
  encryption?: ManifestEncryption;
  /** Last: it covers every field before it. */
  signature?: ManifestSignature;
}

const stringProp = { type: 'string' } as const;
const HEX64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

/** One media object's record, as the readable manifest (format 1) or the sealed part holds it. */
export const MEDIA_OBJECT_SCHEMA = {
  type: 'object',
  required: ['key', 'size', 'sha256', 'md5', 'metadata'],
  properties: {
    key: { type: 'string' },
    size: { type: 'integer', minimum: 0 },
    sha256: HEX64,
    md5: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    contentType: { type: 'string' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    etag: { type: 'string' },
    lastModified: { type: 'string' },
    verified: { type: 'boolean' },
    cacheControl: { type: 'string' },
    contentDisposition: { type: 'string' },
    contentEncoding: { type: 'string' },
    contentLanguage: { type: 'string' },
    expires: { type: 'string' },
    websiteRedirectLocation: { type: 'string' },
    address: HEX64,
    storedSize: { type: 'integer', minimum: 0 },
  },
} as const;
const optionalString = { type: 'string' } as const;

const schema = {
  type: 'object',
  required: ['format', 'id', 'space', 'trigger', 'startedAt', 'finishedAt', 'tool', 'provenance', 'database', 'artifacts'],
  properties: {
    format: { type: 'string', enum: [MANIFEST_FORMAT, SEALED_MANIFEST_FORMAT, INDEXED_MANIFEST_FORMAT] },
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
          items: MEDIA_OBJECT_SCHEMA,
        },
        contents: {
          type: 'array',
          items: {
            type: 'object',
            required: ['address', 'size'],
            properties: { address: HEX64, size: { type: 'integer', minimum: 0 } },
          },
        },
        index: {
          type: 'object',
          required: ['format', 'chunks'],
          properties: {
            format: { type: 'string', const: 'lifeboat-media-index/1' },
            chunks: {
              type: 'array',
              items: {
                type: 'object',
                required: ['address', 'sha256', 'size', 'objects'],
                properties: { address: HEX64, sha256: HEX64, size: { type: 'integer', minimum: 0 }, objects: { type: 'integer', minimum: 1 } },
              },
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
          encryption: { type: 'string', enum: ['age'] },
        },
      },
    },
    encryption: {
      type: 'object',
      required: ['scheme', 'recipients', 'sealed'],
      properties: {
        scheme: { type: 'string', enum: ['age'] },
        recipients: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^age1' } },
        sealed: { type: 'string', minLength: 1 },
      },
    },
    signature: {
      type: 'object',
      required: ['algorithm', 'keyId', 'value'],
      properties: {
        algorithm: { type: 'string', enum: ['ed25519'] },
        keyId: { type: 'string', pattern: '^[0-9a-f]{16}$' },
        value: { type: 'string', minLength: 1 },
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
  // Objects are either embedded or indexed, and the format says which: a reader must never take an
  // indexed manifest's empty object list for an empty bucket.
  const indexed = data.media?.index !== undefined;
  if (indexed !== (data.format === INDEXED_MANIFEST_FORMAT)) {
    throw new InvalidManifestError(
      indexed
        ? `The manifest at ${where} has a media index but its format is ${data.format}, not ${INDEXED_MANIFEST_FORMAT}; the backup cannot be trusted.`
        : `The manifest at ${where} is of format ${INDEXED_MANIFEST_FORMAT} but has no media index; the backup cannot be trusted.`,
    );
  }
  if (indexed && data.media!.objects.length > 0) {
    throw new InvalidManifestError(`The manifest at ${where} has both a media index and embedded media objects; the backup cannot be trusted.`);
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
