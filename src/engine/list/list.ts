/** List: what can be restored, newest first, from one bucket listing (plus, on request, each manifest). */
import { filterEntries, sortNewestFirst, type BackupEntry, type CatalogFilter } from '../../domain/catalog.js';
import { InvalidManifestError, type MediaTotals } from '../../domain/manifest.js';
import { forEachConcurrently } from '../concurrency.js';
import { errorMessage } from '../errors.js';
import type { BucketSettings } from '../s3/client.js';
import { BackupStore } from '../s3/store.js';
import { findLatestValid, markInvalid } from './latest.js';

/** What only the manifest knows: read when `details` is asked for. */
export interface BackupDetails {
  /** Bytes of the database dump before compression. */
  databaseBytes: number;
  tables: number | null;
  media?: MediaTotals;
  /** Encrypted backups: the age public keys it was encrypted to (its row counts are sealed, so `tables` is null). */
  encryption?: { recipients: string[] };
  /** Signed backups: the signing key's id. list does not check the signature; restore does. */
  signature?: { keyId: string };
  /** Set when the manifest could not be read. */
  error?: string;
  /** The manifest was read but is not valid. */
  invalid?: boolean;
}

export interface ListResult {
  /** Every matching backup, newest first: complete, incomplete and invalid. */
  backups: BackupEntry[];
  /** The newest complete backup matching the filter whose manifest is valid. */
  latest?: BackupEntry;
  /** The same per space, spaces in name order: what each space would restore from (the summary's first lines). */
  latestPerSpace: BackupEntry[];
  /** By backup id, for complete backups, when details were asked for. */
  details?: Map<string, BackupDetails>;
}

export async function runList(bucket: BucketSettings, filter: CatalogFilter, options: { details?: boolean; inputName?: string } = {}): Promise<ListResult> {
  const store = new BackupStore(bucket);
  await store.assertReachable(options.inputName);
  const entries = filterEntries(await store.listEntries(filter.space), filter);
  // Only the newest manifests are read, until one is valid: listing stays one request per 1,000 keys plus about one read.
  const { latest, invalid } = await findLatestValid(store, entries);
  // Then each space's own newest valid backup: usually one more manifest read per space.
  const perSpace = [];
  for (const space of [...new Set(entries.map((e) => e.space))].sort()) {
    const found = latest?.entry.space === space ? { latest, invalid: [] } : await findLatestValid(store, entries, { space });
    invalid.push(...found.invalid.filter((i) => !invalid.some((known) => known.entry === i.entry)));
    if (found.latest) perSpace.push(found.latest.entry);
  }
  let backups = sortNewestFirst(markInvalid(entries, invalid));
  const result: ListResult = { backups, latest: latest?.entry, latestPerSpace: perSpace };
  if (options.details) {
    result.details = await readDetails(store, backups);
    // Every manifest has been read now, so every invalid one is known.
    backups = backups.map((b) => {
      const d = result.details!.get(b.id);
      return d?.invalid ? { ...b, status: 'invalid' as const, problem: d.error } : b;
    });
    result.backups = backups;
  }
  return result;
}

/** One manifest read per complete backup, many at a time: the listing alone stays one request per 1,000 keys. */
async function readDetails(store: BackupStore, backups: readonly BackupEntry[]): Promise<Map<string, BackupDetails>> {
  const details = new Map<string, BackupDetails>();
  await forEachConcurrently(
    backups.filter((b) => b.status === 'complete'),
    16,
    async (entry) => {
      try {
        const m = await store.getManifest(entry.space, entry.id);
        if (m.id !== entry.id || m.space !== entry.space) {
          throw new InvalidManifestError(`The manifest stored for backup ${entry.id} of '${entry.space}' describes backup ${m.id} of '${m.space}'.`);
        }
        details.set(entry.id, {
          databaseBytes: m.artifacts.reduce((sum, a) => sum + a.uncompressedSize, 0),
          tables: m.database.tables?.length ?? null,
          ...(m.media ? { media: m.media.totals } : {}),
          ...(m.encryption ? { encryption: { recipients: m.encryption.recipients } } : {}),
          ...(m.signature ? { signature: { keyId: m.signature.keyId } } : {}),
        });
      } catch (error) {
        details.set(entry.id, { databaseBytes: 0, tables: null, error: errorMessage(error), ...(error instanceof InvalidManifestError ? { invalid: true } : {}) });
      }
    },
  );
  return details;
}

/** The JSON shape of the `backups` output. */
export function toListOutput(entries: readonly BackupEntry[], details?: Map<string, BackupDetails>) {
  return entries.map((e) => ({
    id: e.id,
    space: e.space,
    trigger: e.trigger,
    createdAt: e.createdAt.toISOString(),
    sizeBytes: e.sizeBytes,
    status: e.status,
    ...(e.problem ? { problem: e.problem } : {}),
    ...(details?.has(e.id) ? { details: details.get(e.id) } : {}),
  }));
}
