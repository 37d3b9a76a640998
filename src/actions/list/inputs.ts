import type { CatalogFilter } from '../../domain/catalog.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { booleanInput, bucketSettings, optional, optionalTriggerFilter, replicaSettings, spaceName, storeChoice, type InputReader } from '../shared/inputs.js';

export const ListOutputs = {
  Backups: 'backups',
  Latest: 'latest',
} as const;

export interface ListInputs {
  bucket: BucketSettings;
  filter: CatalogFilter;
  /** Read each complete backup's manifest for database size and media counts (one request per backup). */
  details: boolean;
  /** With store: replica, the replica's settings: what is listed instead of the backup bucket. */
  replica?: BucketSettings;
}

/** `bucket` defaults to the bucket inputs (binding: none); with binding pass readBucketRequest(read).draft. */
export function getListInputs(read: InputReader, bucket?: BucketSettings): ListInputs {
  const space = optional(read, 'space');
  const replica = replicaSettings(read);
  const store = storeChoice(read, replica);
  return {
    bucket: bucket ?? bucketSettings(read),
    filter: { space: space ? spaceName(space) : undefined, trigger: optionalTriggerFilter(read) },
    details: booleanInput(read, 'details', false),
    ...(store === 'replica' ? { replica } : {}),
  };
}

export function describeFilter(filter: CatalogFilter): string {
  return [filter.space && `space ${filter.space}`, filter.trigger && `trigger ${filter.trigger}`].filter(Boolean).join(', ');
}
