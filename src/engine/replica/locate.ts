/**
 * Where a backup's artifacts are in a given store. A manifest records each artifact's full key, prefix
 * included, as the store that made it wrote it; a replica may use another prefix, and its manifest is
 * the primary's, byte for byte (it may be signed). So readers find an artifact by its file name under
 * the backup's own prefix in the store they read: the same key on the store that made the backup.
 */
import type { ArtifactRecord, Manifest } from '../../domain/manifest.js';
import type { BackupStore } from '../s3/store.js';

export function artifactFileName(artifact: ArtifactRecord): string {
  return artifact.key.slice(artifact.key.lastIndexOf('/') + 1);
}

export function artifactKeyIn(store: BackupStore, manifest: Pick<Manifest, 'space' | 'id'>, artifact: ArtifactRecord): string {
  return store.artifactKey(manifest.space, manifest.id, artifactFileName(artifact));
}

/** The manifest with its artifacts' keys as they are in `store` (unchanged for the store that made it). */
export function locatedIn<M extends Manifest>(store: BackupStore, manifest: M): M {
  return { ...manifest, artifacts: manifest.artifacts.map((a) => ({ ...a, key: artifactKeyIn(store, manifest, a) })) };
}
