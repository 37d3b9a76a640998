/**
 * Binding an S3 bucket: create a service key on the instance, turn its credentials into bucket
 * settings, and wait until S3 accepts the new key.
 */
import type { Logger } from '../logger.js';
import type { BucketSettings } from '../s3/client.js';
import { bucketFromCredentials, parseS3Credentials, waitForS3Access, type BucketOverrides } from './s3-credentials.js';
import type { Backoff } from './poll.js';
import type { CfBindings } from './lifecycle.js';

export async function bindS3Bucket(
  bindings: CfBindings,
  instance: string,
  overrides: BucketOverrides,
  log: Logger,
  options: { env?: NodeJS.ProcessEnv; freshKeyBackoff?: Backoff } = {},
): Promise<BucketSettings> {
  const bound = await bindings.bind(instance, options.env);
  const settings = bucketFromCredentials(parseS3Credentials(bound.credentials, bound.where), overrides, bound.where, log);
  log.info(`Bucket '${settings.bucket}'${settings.endpoint ? ` at ${settings.endpoint}` : ''}${settings.region ? ` (${settings.region})` : ''}, through the ${bound.where}.`);
  await waitForS3Access(settings, bound.where, log, options.freshKeyBackoff);
  return settings;
}
