/** Binding, without a network: inputs, key names and metadata, credential mapping and masking, state. */
import { afterEach, describe, expect, it } from 'vitest';
import { BUCKET_FROM_BINDING, readBucketRequest } from '../../src/actions/shared/binding.js';
import { parseBindingState } from '../../src/actions/shared/binding-action.js';
import {
  bucketFromCredentials,
  isExpiredPasswordAnswer,
  keyMetadata,
  keyName,
  maskCredentials,
  parseApiUrl,
  parseS3Credentials,
  UnbindError,
} from '../../src/engine/platform/index.js';
import { memoryLogger } from '../../src/engine/logger.js';
import { redact, resetSecretsForTests } from '../../src/engine/secrets.js';

const reader = (values: Record<string, string>) => (name: string) => values[name];

const CF = {
  binding: 'cloudfoundry',
  'cf-api': 'api.fr.cloud.gov',
  'cf-username': 'svc-user-guid',
  'cf-password': 'svc-password-1',
  'cf-org': 'gsa-tts-app',
  'cf-space': 'production',
  'cf-service-instance': 'backups',
};

// CF metadata rules (cloud_controller_ng): label/annotation key names of at most 63 characters of
// letters, digits, '-', '_' and '.', beginning and ending alphanumeric; label values alike.
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

afterEach(() => resetSecretsForTests());

describe('binding inputs', () => {
  it('defaults to binding: none, which reads the bucket inputs as before', () => {
    const request = readBucketRequest(reader({ 'backup-bucket': 'b', 'aws-access-key-id': 'AK', 'aws-secret-access-key': 'SK1' }));
    expect(request.mode).toBe('none');
    expect(request.draft).toMatchObject({ bucket: 'b', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK1' } });
    expect(() => readBucketRequest(reader({}))).toThrow(/'backup-bucket' is required/);
  });

  it('reads cloudfoundry inputs, masks the service account credentials, and leaves the bucket to the key', () => {
    const request = readBucketRequest(reader(CF));
    expect(request.mode).toBe('cloudfoundry');
    if (request.mode !== 'cloudfoundry') return;
    expect(request.target).toEqual({ api: 'https://api.fr.cloud.gov', username: 'svc-user-guid', password: 'svc-password-1', org: 'gsa-tts-app', space: 'production' });
    expect(request.instance).toBe('backups');
    expect(request.overrides).toEqual({ bucket: undefined, prefix: '', endpoint: undefined, region: undefined });
    expect(request.draft.bucket).toBe(BUCKET_FROM_BINDING);
    expect(redact('svc-user-guid / svc-password-1')).toBe('*** / ***');
  });

  it('lets the bucket inputs override what the key says', () => {
    const request = readBucketRequest(reader({ ...CF, 'backup-bucket': 'cg-other', 'backup-prefix': 'team/', 's3-region': 'us-gov-east-1' }));
    expect(request.mode === 'cloudfoundry' && request.overrides).toEqual({ bucket: 'cg-other', prefix: 'team/', endpoint: undefined, region: 'us-gov-east-1' });
  });

  it('rejects mixed or missing inputs with messages naming them', () => {
    expect(() => readBucketRequest(reader({ ...CF, 'aws-access-key-id': 'AK', 'aws-secret-access-key': 'SK1' }))).toThrow(
      /credentials come from a service key; remove 'aws-access-key-id', 'aws-secret-access-key'/,
    );
    expect(() => readBucketRequest(reader({ ...CF, 'cf-password': '' }))).toThrow(/'cf-username' and 'cf-password' are required/);
    expect(() => readBucketRequest(reader({ ...CF, 'cf-space': '' }))).toThrow(/'cf-space' is required/);
    expect(() => readBucketRequest(reader({ ...CF, 'cf-service-instance': '' }))).toThrow(/'cf-service-instance' is required/);
    expect(() => readBucketRequest(reader({ ...CF, binding: 'bosh' }))).toThrow(/'binding' is 'bosh'; it must be one of: none, cloudfoundry/);
    const { binding: _, ...stray } = CF;
    expect(() => readBucketRequest(reader({ ...stray, 'backup-bucket': 'b' }))).toThrow(/'cf-api', .* are set but 'binding' is 'none'/);
  });

  it('sends passwords only over https, except to loopback', () => {
    expect(parseApiUrl('api.fr.cloud.gov').href).toBe('https://api.fr.cloud.gov/');
    expect(parseApiUrl('https://api.fr.cloud.gov/').origin).toBe('https://api.fr.cloud.gov');
    expect(parseApiUrl('http://127.0.0.1:9999').origin).toBe('http://127.0.0.1:9999');
    expect(() => parseApiUrl('http://api.fr.cloud.gov')).toThrow(/must use https/);
    expect(() => parseApiUrl('https://u:p@api.fr.cloud.gov')).toThrow(/must not contain a username or password/);
    expect(() => readBucketRequest(reader({ ...CF, 'cf-api': 'http://10.0.0.1' }))).toThrow(/'cf-api'.*must use https/);
  });
});

describe('key names and metadata', () => {
  const env = { GITHUB_REPOSITORY: 'GSA-TTS/FAC_backend.v2', GITHUB_RUN_ID: '1234567890', GITHUB_RUN_ATTEMPT: '2' };

  it('say the key is Lifeboat\'s and which run made it', () => {
    expect(keyName('backup', env, 'a1b2c3')).toBe('lifeboat-backup-fac-backend-v2-1234567890-2-a1b2c3');
    expect(keyName('restore', { GITHUB_RUN_ID: '7' }, 'ffffff')).toBe('lifeboat-restore-repo-7-1-ffffff');
    expect(keyName('list', {}, '000000')).toMatch(/^lifeboat-list-[a-z0-9-]+-\d{14}-000000$/);
    expect(keyName('backup', env)).not.toBe(keyName('backup', env));
    const long = keyName('backup', { ...env, GITHUB_REPOSITORY: `o/${'x'.repeat(200)}` });
    expect(long.length).toBeLessThanOrEqual(100);
  });

  it('has labels and annotations Cloud Foundry accepts', () => {
    const metadata = keyMetadata('backup', { ...env, GITHUB_SERVER_URL: 'https://github.com' }, new Date('2026-01-02T03:04:05Z'));
    expect(metadata.labels).toEqual({ 'lifeboat.managed': 'true', 'lifeboat.operation': 'backup' });
    expect(metadata.annotations).toEqual({
      'lifeboat.created-at': '2026-01-02T03:04:05.000Z',
      'lifeboat.operation': 'backup',
      'lifeboat.repository': 'GSA-TTS/FAC_backend.v2',
      'lifeboat.run-id': '1234567890',
      'lifeboat.run-attempt': '2',
      'lifeboat.run-url': 'https://github.com/GSA-TTS/FAC_backend.v2/actions/runs/1234567890',
    });
    for (const [k, v] of Object.entries(metadata.labels)) expect(NAME.test(k) && NAME.test(v), k).toBe(true);
    for (const k of Object.keys(metadata.annotations)) expect(NAME.test(k), k).toBe(true);
    expect(keyMetadata('list', {}).annotations['lifeboat.host']).toBeTruthy();
  });
});

describe('credentials of the cloud.gov S3 broker', () => {
  const credentials = {
    uri: 's3://AKIAEXAMPLE:se%2Fcret@s3-fips.us-gov-west-1.amazonaws.com/cg-1234',
    insecure_skip_verify: false,
    access_key_id: 'AKIAEXAMPLE',
    secret_access_key: 'se/cret-key',
    region: 'us-gov-west-1',
    bucket: 'cg-1234',
    endpoint: 's3-fips.us-gov-west-1.amazonaws.com',
    fips_endpoint: 's3-fips.us-gov-west-1.amazonaws.com',
    additional_buckets: ['cg-5678'],
  };

  it('become bucket settings: the key\'s bucket, endpoint (path-style) and region', () => {
    const parsed = parseS3Credentials(credentials, 'key k');
    expect(bucketFromCredentials(parsed, { prefix: 'db/' }, 'key k')).toEqual({
      bucket: 'cg-1234',
      prefix: 'db/',
      endpoint: 's3-fips.us-gov-west-1.amazonaws.com',
      region: 'us-gov-west-1',
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'se/cret-key' },
    });
    const { endpoint: _, ...older } = credentials;
    expect(parseS3Credentials(older, 'key k').endpoint).toBe('s3-fips.us-gov-west-1.amazonaws.com');
  });

  it('yield to inputs, with a warning for a bucket the key does not cover', () => {
    const parsed = parseS3Credentials(credentials, 'key k');
    const log = memoryLogger();
    expect(bucketFromCredentials(parsed, { prefix: '', bucket: 'cg-5678' }, 'key k', log).bucket).toBe('cg-5678');
    expect(log.lines).toEqual([]);
    expect(bucketFromCredentials(parsed, { prefix: '', bucket: 'elsewhere', endpoint: 'http://127.0.0.1:1', region: 'r' }, 'key k', log)).toMatchObject({
      bucket: 'elsewhere',
      endpoint: 'http://127.0.0.1:1',
      region: 'r',
    });
    expect(log.lines.join()).toContain("'backup-bucket' is 'elsewhere', but key k is for cg-1234, cg-5678");
  });

  it('must have keys', () => {
    expect(() => parseS3Credentials({ username: 'u', password: 'p' }, "service key 'k'")).toThrow(
      /credentials of service key 'k' have no access_key_id and secret_access_key \(fields: password, username\)/,
    );
  });

  it('are masked, every value but where the bucket is', () => {
    maskCredentials({ ...credentials, nested: { token: 'deep-secret' } });
    const line = `AKIAEXAMPLE se/cret-key deep-secret cg-1234 us-gov-west-1 s3-fips.us-gov-west-1.amazonaws.com`;
    expect(redact(line)).toBe('*** *** *** cg-1234 us-gov-west-1 s3-fips.us-gov-west-1.amazonaws.com');
    expect(redact(`uri: ${credentials.uri}`)).not.toMatch(/AKIAEXAMPLE|se%2Fcret/);
  });
});

describe('UAA answers', () => {
  it('recognises an expired password', () => {
    expect(isExpiredPasswordAnswer({ error: 'access_denied', error_description: 'Your current password has expired. Please reset your password.' })).toBe(true);
    expect(isExpiredPasswordAnswer({ error: 'unauthorized', error_description: 'Password has expired' })).toBe(true);
    expect(isExpiredPasswordAnswer({ error: 'unauthorized', error_description: 'Bad credentials' })).toBe(false);
    expect(isExpiredPasswordAnswer(undefined)).toBe(false);
  });
});

describe('binding state', () => {
  it('is read back, and refused when it has an unknown form', () => {
    expect(parseBindingState('')).toBeUndefined();
    const state = { v: 1, api: 'https://api.fr.cloud.gov', org: 'o', space: 's', operation: 'backup', keys: [{ instance: 'backups', name: 'lifeboat-x', state: 'planned' }] };
    expect(parseBindingState(JSON.stringify(state))).toEqual(state);
    expect(() => parseBindingState('{')).toThrow(/not JSON/);
    expect(() => parseBindingState(JSON.stringify({ ...state, keys: [{ name: 'x' }] }))).toThrow(/unknown form/);
  });

  it('a failed clean-up names each key and the command that deletes it', () => {
    const error = new UnbindError([{ record: { instance: 'backups', name: 'lifeboat-backup-app-1-1-abcdef', state: 'created' }, message: 'CF-UnableToPerform: broken.' }]);
    expect(error.message).toContain("Key 'lifeboat-backup-app-1-1-abcdef' of 'backups': CF-UnableToPerform: broken. Delete it by hand: cf delete-service-key backups lifeboat-backup-app-1-1-abcdef -f");
  });
});
