/**
 * Reading a backup's media records in tests, through the engine's own reader (the index is a storage
 * format, not something to mock), and writing the first manifest format for the migration tests.
 */
import { MANIFEST_FORMAT, type Manifest, type MediaObjectRecord } from '../../src/domain/manifest.js';
import { mediaRecords } from '../../src/engine/media/index-store.js';
import type { BackupStore } from '../../src/engine/s3/store.js';

/** Every media object a manifest records, in key order, whatever its format. */
export async function mediaObjectsOf(manifest: Manifest, store: BackupStore, identities?: readonly string[]): Promise<MediaObjectRecord[]> {
  const out: MediaObjectRecord[] = [];
  for await (const record of mediaRecords(manifest.media!, store, identities)) out.push(record);
  return out;
}

/**
 * The same backup as a manifest of the first format, as Lifeboat wrote before the media index: every
 * object embedded, no index. Its content is stored exactly where it was, so it is what an old backup is.
 */
export async function asEmbeddedFormat(manifest: Manifest, store: BackupStore): Promise<Manifest> {
  const objects = await mediaObjectsOf(manifest, store);
  const { index: _index, ...media } = manifest.media!;
  return { ...manifest, format: MANIFEST_FORMAT, media: { ...media, objects } };
}
