/**
 * Sealed manifests and signatures, the pure part (docs/encryption.md).
 *
 * An encrypted backup's manifest has two parts:
 * - the readable part: ids, times, trigger, provenance, sizes and hashes of what is stored, media totals and
 *   the addresses of the media content it refers to. list, prune and the verification of stored bytes need
 *   nothing else, so they work without the identity;
 * - the sealed part (age-encrypted to the backup's recipients): what reveals data. Row counts name every
 *   table, media object keys are often user file names, and media records carry user metadata.
 *
 * The sealed part names the backup and the hashes of its artifacts, so a sealed part or an artifact moved
 * over from another backup (encrypted to the same recipients) is refused. Anyone can encrypt to the public
 * recipients, though: only a signature stops a forger who writes both, which is why a policy can require one.
 */
import { Ajv } from 'ajv';
import {
  INDEXED_MANIFEST_FORMAT,
  MEDIA_OBJECT_SCHEMA,
  SEALED_MANIFEST_FORMAT,
  serializeManifest,
  type Manifest,
  type MediaContentRef,
  type MediaObjectRecord,
  type TableCount,
} from './manifest.js';

export const SEALED_PART_FORMAT = 'lifeboat-sealed/1';

export interface SealedPart {
  format: typeof SEALED_PART_FORMAT;
  id: string;
  space: string;
  /** Each artifact's name and the SHA-256 of its stored bytes, as the readable part records them. */
  artifacts: { name: string; sha256: string }[];
  tables: TableCount[] | null;
  /** The media objects, when the backup holds media (format 2). */
  mediaObjects?: MediaObjectRecord[];
  /** The SHA-256 of each chunk of the media index, in order (format 3). */
  mediaIndex?: string[];
}

const validateSealed = new Ajv({ allErrors: true }).compile<SealedPart>({
  type: 'object',
  required: ['format', 'id', 'space', 'artifacts', 'tables'],
  properties: {
    format: { type: 'string', const: SEALED_PART_FORMAT },
    id: { type: 'string' },
    space: { type: 'string' },
    artifacts: {
      type: 'array',
      items: { type: 'object', required: ['name', 'sha256'], properties: { name: { type: 'string' }, sha256: { type: 'string' } } },
    },
    tables: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        required: ['schema', 'table', 'rows'],
        properties: { schema: { type: 'string' }, table: { type: 'string' }, rows: { type: 'integer', minimum: 0 } },
      },
    },
    mediaObjects: { type: 'array', items: MEDIA_OBJECT_SCHEMA },
    mediaIndex: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
  },
});

/** The sealed part does not belong with the readable part it was found in. */
export class SealMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealMismatchError';
  }
}

/** The content an encrypted backup's media refers to, once per address, in the order first referred to. */
export function contentRefs(objects: readonly MediaObjectRecord[]): MediaContentRef[] {
  const refs = new Map<string, MediaContentRef>();
  for (const object of objects) {
    if (object.address === undefined || object.storedSize === undefined) {
      throw new SealMismatchError(`the media object '${object.key}' has no content address, so it was not stored encrypted`);
    }
    if (!refs.has(object.address)) refs.set(object.address, { address: object.address, size: object.storedSize });
  }
  return [...refs.values()];
}

/** Splits a whole manifest into its readable part (without `encryption`, which the caller adds) and its sealed part. */
export function splitForSealing(manifest: Manifest): { readable: Manifest; sealed: SealedPart } {
  const { encryption: _encryption, signature: _signature, ...rest } = manifest;
  const sealed: SealedPart = {
    format: SEALED_PART_FORMAT,
    id: manifest.id,
    space: manifest.space,
    artifacts: manifest.artifacts.map((a) => ({ name: a.name, sha256: a.sha256 })),
    tables: manifest.database.tables,
    ...(manifest.media?.index ? { mediaIndex: manifest.media.index.chunks.map((c) => c.sha256) } : manifest.media ? { mediaObjects: manifest.media.objects } : {}),
  };
  // An indexed manifest keeps its format: its chunks are encrypted one by one (engine/media/index-store.ts).
  const readable: Manifest = {
    ...rest,
    format: manifest.media?.index ? INDEXED_MANIFEST_FORMAT : SEALED_MANIFEST_FORMAT,
    database: { ...manifest.database, tables: null },
    ...(manifest.media && !manifest.media.index ? { media: { ...manifest.media, objects: [], contents: contentRefs(manifest.media.objects) } } : {}),
  };
  return { readable, sealed };
}

export function parseSealedPart(text: string): SealedPart {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SealMismatchError('its sealed part is not JSON');
  }
  if (!validateSealed(data)) {
    const problems = (validateSealed.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new SealMismatchError(`its sealed part does not match ${SEALED_PART_FORMAT}: ${problems}`);
  }
  return data;
}

/**
 * The whole manifest from its readable and sealed parts, once they are shown to belong together: the same
 * backup, the same artifact hashes, and the same media content.
 */
export function joinSealed(readable: Manifest, sealed: SealedPart): Manifest {
  if (sealed.id !== readable.id || sealed.space !== readable.space) {
    throw new SealMismatchError(`its sealed part belongs to backup ${sealed.id} of '${sealed.space}', not to ${readable.id} of '${readable.space}'`);
  }
  const sealedHashes = new Map(sealed.artifacts.map((a) => [a.name, a.sha256]));
  for (const artifact of readable.artifacts) {
    const sha256 = sealedHashes.get(artifact.name);
    if (sha256 !== artifact.sha256) {
      throw new SealMismatchError(
        sha256 === undefined
          ? `its sealed part does not name the artifact '${artifact.name}'`
          : `the artifact '${artifact.name}' is not the one this backup wrote: the readable manifest records SHA-256 ${artifact.sha256}, the sealed part ${sha256}`,
      );
    }
  }
  if (sealed.artifacts.length !== readable.artifacts.length) {
    throw new SealMismatchError(`its sealed part names ${sealed.artifacts.length} artifacts, the readable manifest ${readable.artifacts.length}`);
  }
  if (readable.media?.index) {
    const chunks = readable.media.index.chunks.map((c) => c.sha256);
    if (!sealed.mediaIndex || sealed.mediaObjects || sealed.mediaIndex.length !== chunks.length || sealed.mediaIndex.some((sha256, i) => sha256 !== chunks[i])) {
      throw new SealMismatchError('its sealed part names other media index chunks than the readable manifest');
    }
    return { ...readable, database: { ...readable.database, tables: sealed.tables } };
  }
  if (sealed.mediaIndex) throw new SealMismatchError('its sealed part names media index chunks, but the readable manifest has no media index');
  if (!readable.media !== !sealed.mediaObjects) {
    throw new SealMismatchError(readable.media ? 'its sealed part holds no media objects, but the backup holds media' : 'its sealed part holds media objects, but the backup holds no media');
  }
  let media = readable.media;
  if (media && sealed.mediaObjects) {
    const sealedRefs = contentRefs(sealed.mediaObjects);
    const readableRefs = new Map((media.contents ?? []).map((c) => [c.address, c.size]));
    const differs = sealedRefs.length !== readableRefs.size || sealedRefs.some((ref) => readableRefs.get(ref.address) !== ref.size);
    if (differs) throw new SealMismatchError('its sealed media objects refer to other content than the readable manifest lists');
    media = { ...media, objects: sealed.mediaObjects };
  }
  return { ...readable, database: { ...readable.database, tables: sealed.tables }, ...(media ? { media } : {}) };
}

/** The bytes a signature covers: the manifest as stored, without its signature. */
export function signingPayload(manifest: Manifest): string {
  const { signature: _signature, ...unsigned } = manifest;
  return serializeManifest(unsigned as Manifest);
}

export type SignatureStatus =
  | { kind: 'unsigned' }
  | { kind: 'verified'; keyId: string }
  /** Signed by a key none of the trusted keys is. */
  | { kind: 'unknown-key'; keyId: string }
  /** Signed by a trusted key's id, but the signature does not verify: the manifest was changed. */
  | { kind: 'invalid'; keyId: string };

export interface SignatureJudgement {
  ok: boolean;
  /** A warning to log when ok, the refusal's reason when not. */
  message?: string;
  fix?: string;
}

/**
 * Whether a manifest with this signature status may be restored into a space. A signature that fails is
 * always refused; a missing or unverifiable one only where the policy requires signatures.
 */
export function judgeSignature(status: SignatureStatus, backup: string, targetSpace: string, required: boolean, trustedKeys: number): SignatureJudgement {
  const configure = `List the backup job's public key in the policy file's 'signing.public-keys' or the 'signing-public-keys' input.`;
  switch (status.kind) {
    case 'verified':
      return { ok: true };
    case 'invalid':
      return {
        ok: false,
        message: `The manifest of ${backup} is signed with key ${status.keyId}, but the signature does not match its contents: it was changed after it was signed.`,
        fix: 'Restore another backup, and find out who can write to the backup bucket.',
      };
    case 'unknown-key':
      if (required) {
        return {
          ok: false,
          message: `The manifest of ${backup} is signed with key ${status.keyId}, which is not one of the ${trustedKeys} trusted signing key(s), and the policy requires signed backups for '${targetSpace}'.`,
          fix: `If ${status.keyId} is the backup job's key, add its public key. ${configure}`,
        };
      }
      return { ok: true, message: `The manifest of ${backup} is signed with key ${status.keyId}, which is not a trusted key, so the signature was not checked. ${configure}` };
    case 'unsigned':
      if (required) {
        return {
          ok: false,
          message: `Backup ${backup} is not signed, and the policy requires signed backups for '${targetSpace}' (signing.required-for).`,
          fix: `Restore a signed backup, or give the backup job 'signing-key' so new backups are signed.`,
        };
      }
      return { ok: true };
  }
}
