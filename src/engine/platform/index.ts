/**
 * Binding buckets and databases through Cloud Foundry service keys (cloud.gov and any CF with API v3).
 * See docs/cloud-gov.md.
 */
export { CfApiError, CfClient, type CfLogin } from './cf-api.js';
export {
  CfBindings,
  DEFAULT_STALE_KEY_AGE_MS,
  deleteCommand,
  purposeOf,
  KEY_PREFIX,
  keyMetadata,
  keyName,
  memoryJournal,
  UnbindError,
  type BindingJournal,
  type BindingState,
  type CfPlace,
  type CfTarget,
  type KeyRecord,
  type SweepOptions,
  type SweepResult,
} from './lifecycle.js';
export { bindS3Bucket } from './bucket.js';
export { bindDatabase, directReach, tunnelThroughApp, type BoundDatabase, type Reach, type Reached, type TunnelOpener } from './database.js';
export { PlatformSession, type PlatformPlan, type SessionOptions } from './session.js';
export { bucketFromCredentials, maskCredentials, parseS3Credentials, S3_PUBLIC_FIELDS, waitForS3Access, type BucketOverrides } from './s3-credentials.js';
export { isExpiredPasswordAnswer, parseApiUrl } from './uaa.js';
export { openAppTunnel, sshDisabledMessage, type AppTunnel, type AppTunnelOptions } from './tunnel.js';
