/**
 * Binding an S3 bucket (the backup bucket or the media bucket): create a service key on the
 * instance, turn its credentials into bucket settings, and wait until S3 accepts the new key.
 */
import { PURPOSE_INPUT } from '../../domain/platform-binding.js';
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
  options: { env?: NodeJS.ProcessEnv; freshKeyBackoff?: Backoff; purpose?: 'backup bucket' | 'media bucket' } = {},
): Promise<BucketSettings> {
  const purpose = options.purpose ?? 'backup bucket';
  const bound = await bindings.bind(instance, { env: options.env, purpose });
  const settings = bucketFromCredentials(parseS3Credentials(bound.credentials, bound.where, PURPOSE_INPUT[purpose]), overrides, bound.where, log);
  log.info(
    `${purpose === 'media bucket' ? 'Media bucket' : 'Backup bucket'} '${settings.bucket}'${settings.endpoint ? ` at ${settings.endpoint}` : ''}${settings.region ? ` (${settings.region})` : ''}, through the ${bound.where}.`,
  );
  await waitForS3Access(settings, bound.where, log, options.freshKeyBackoff, overrides.bucketInput);
  return settings;
}
