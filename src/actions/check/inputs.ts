import { COMMIT_PATTERN } from '../../domain/freshness.js';
import { InputError } from '../../engine/errors.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { bucketSettings, optional, positiveNumber, secretInput, spaceName, type InputReader } from '../shared/inputs.js';

export const CheckOutputs = {
  Status: 'status',
  Problems: 'problems',
  Metrics: 'metrics',
} as const;

export interface CheckInputs {
  bucket: BucketSettings;
  space?: string;
  commit?: string;
  verifyLast: number;
  policyFile?: string;
  metricsFile?: string;
  prometheusFile?: string;
  pushgatewayUrl?: string;
}

/** `bucket` defaults to the bucket inputs (binding: none); with binding pass readBucketRequest(read).draft. */
export function getCheckInputs(read: InputReader, bucket?: BucketSettings): CheckInputs {
  const space = optional(read, 'space');
  const commit = optional(read, 'commit');
  if (commit !== undefined && !COMMIT_PATTERN.test(commit.toLowerCase())) {
    throw new InputError(`Input 'commit' is '${commit}'; it must be a git commit SHA of 7 to 40 hex digits, for example commit: \${{ github.sha }}.`);
  }
  const verifyLast = positiveNumber(read, 'verify-last', 1, { min: 0, max: 1000 });
  if (!Number.isInteger(verifyLast)) throw new InputError(`Input 'verify-last' is '${verifyLast}'; it must be a whole number between 0 and 1000.`);
  return {
    bucket: bucket ?? bucketSettings(read),
    ...(space ? { space: spaceName(space) } : {}),
    ...(commit ? { commit: commit.toLowerCase() } : {}),
    verifyLast,
    policyFile: optional(read, 'policy-file'),
    metricsFile: optional(read, 'metrics-file'),
    prometheusFile: optional(read, 'prometheus-file'),
    // A Pushgateway URL may carry basic-auth credentials.
    pushgatewayUrl: secretInput(read, 'pushgateway-url'),
  };
}
