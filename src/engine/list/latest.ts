/**
 * `latest` means the newest backup whose manifest is valid. The listing alone shows only that a manifest
 * exists, so the candidates are read newest first until one parses, matches the schema and names the
 * backup it is stored under. A broken newer one is reported, never chosen. Usually that is one read.
 */
import { filterEntries, sortNewestFirst, type BackupEntry, type CatalogFilter } from '../../domain/catalog.js';
import { InvalidManifestError, type Manifest } from '../../domain/manifest.js';
import type { BackupStore } from '../s3/store.js';

export interface InvalidBackup {
  entry: BackupEntry;
  problem: string;
}

export interface LatestValid {
  /** The newest complete backup with a valid manifest, and that manifest; undefined when there is none. */
  latest?: { entry: BackupEntry; manifest: Manifest };
  /** Newer backups skipped because their manifest is invalid, newest first. */
  invalid: InvalidBackup[];
}

/**
 * Reads manifests of the complete backups matching `filter`, newest first, until one is valid. A manifest
 * that cannot be fetched (network, permissions) is an error, not a reason to fall back to an older backup.
 */
export async function findLatestValid(store: BackupStore, entries: readonly BackupEntry[], filter: CatalogFilter = {}): Promise<LatestValid> {
  const invalid: InvalidBackup[] = [];
  for (const entry of sortNewestFirst(filterEntries(entries, filter))) {
    if (entry.status !== 'complete') continue;
    const problem = await manifestProblem(store, entry);
    if (typeof problem === 'string') {
      invalid.push({ entry, problem });
      continue;
    }
    return { latest: { entry, manifest: problem }, invalid };
  }
  return { invalid };
}

/** The manifest, or why it is not a valid manifest of this backup. */
export async function manifestProblem(store: BackupStore, entry: BackupEntry): Promise<Manifest | string> {
  let manifest: Manifest;
  try {
    manifest = await store.getManifest(entry.space, entry.id);
  } catch (error) {
    if (error instanceof InvalidManifestError) return error.message;
    throw error;
  }
  if (manifest.id !== entry.id || manifest.space !== entry.space) {
    return `The manifest stored for backup ${entry.id} of '${entry.space}' describes backup ${manifest.id} of '${manifest.space}'; the bucket has been tampered with or mixed up.`;
  }
  return manifest;
}

/** The entries with every invalid one marked as such (status 'invalid' and its problem). */
export function markInvalid(entries: readonly BackupEntry[], invalid: readonly InvalidBackup[]): BackupEntry[] {
  const problems = new Map(invalid.map((i) => [`${i.entry.space}/${i.entry.id}`, i.problem]));
  return entries.map((e) => {
    const problem = problems.get(`${e.space}/${e.id}`);
    return problem === undefined ? e : { ...e, status: 'invalid' as const, problem };
  });
}
