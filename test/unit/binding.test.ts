/** Binding, without a network: inputs, key names and metadata, credential mapping and masking, state. */
import { afterEach, describe, expect, it } from 'vitest';
import { BUCKET_FROM_BINDING, readBindingRequest, readBucketRequest } from '../../src/actions/shared/binding.js';
import { BACKUP_BINDING, getBackupOptions } from '../../src/actions/backup/inputs.js';
import { PRUNE_BINDING } from '../../src/actions/prune/inputs.js';
import { getRestoreOptions, restoreBinding } from '../../src/actions/restore/inputs.js';
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

describe('binding the database and the media bucket', () => {
  it('reads cf-database-instance, cf-tunnel-app and cf-media-instance into the plan; nothing else is needed', () => {
    const inputs = { ...CF, 'cf-database-instance': 'db', 'cf-tunnel-app': 'app', 'cf-media-instance': 'media', 'media-prefix': 'uploads/', space: 'production' };
    const request = readBindingRequest(reader(inputs), BACKUP_BINDING);
    if (request.mode !== 'cloudfoundry') throw new Error('expected cloudfoundry');
    expect(request.fromBinding).toEqual({ database: true, media: true });
    expect(request.plan.database).toEqual({ instance: 'db', tunnelApp: 'app' });
    expect(request.plan.mediaBucket).toEqual({ instance: 'media', overrides: { bucket: undefined, bucketInput: 'media-bucket', prefix: 'uploads/', endpoint: undefined, region: undefined } });
    expect(request.plan.backupBucket.instance).toBe('backups');
    expect(request.plan.sweepOnly).toBeUndefined();
    const options = getBackupOptions(reader(inputs), {}, request.draft, request.fromBinding);
    expect(options.media).toBeUndefined(); // filled in from the key once bound
    expect(options.databaseInput).toBe('cf-database-instance');
    // Without cf-database-instance the database is the URL's, and no key is made for it.
    const plain = readBindingRequest(reader({ ...CF, 'database-url': 'postgres://h/d' }), BACKUP_BINDING);
    expect(plain.fromBinding).toEqual({ database: false, media: false });
    expect(plain.mode === 'cloudfoundry' && plain.plan.database).toBeUndefined();
  });

  it('refuses both or neither database input, and platform inputs without binding, naming the inputs', () => {
    expect(() => readBindingRequest(reader({ ...CF, 'database-url': 'postgres://h/d', 'cf-database-instance': 'db' }), BACKUP_BINDING)).toThrow(
      /'database-url' and 'cf-database-instance' both name the database; give only one/,
    );
    expect(() => readBindingRequest(reader(CF), BACKUP_BINDING)).toThrow(/'database-url' is required but was not given\. .* give 'cf-database-instance' instead/);
    expect(() => readBindingRequest(reader({ 'backup-bucket': 'b', 'database-url': 'postgres://h/d', 'cf-database-instance': 'db' }), BACKUP_BINDING)).toThrow(
      "Input 'cf-database-instance' is set but 'binding' is 'none'. Set binding: cloudfoundry to bind through Cloud Foundry, or remove it.",
    );
    expect(() => readBindingRequest(reader({ 'backup-bucket': 'b', 'database-url': 'postgres://h/d', 'cf-media-instance': 'm' }), BACKUP_BINDING)).toThrow(/'cf-media-instance' is set but 'binding' is 'none'/);
    expect(() => readBindingRequest(reader({ ...CF, 'cf-tunnel-app': 'app', 'database-url': 'postgres://h/d' }), BACKUP_BINDING)).toThrow(/'cf-tunnel-app' opens a tunnel/);
    expect(() => readBindingRequest(reader({ ...CF, 'cf-database-instance': 'db', 'cf-media-instance': 'm', 'media-aws-access-key-id': 'AK' }), BACKUP_BINDING)).toThrow(
      /remove 'media-aws-access-key-id'/,
    );
  });

  it('restore binds the target\'s database and media instances, but no media with skip-media', () => {
    const inputs = { ...CF, 'cf-space': 'staging', 'cf-database-instance': 'db', 'cf-media-instance': 'media', 'source-space': 'production', 'target-space': 'staging' };
    const request = readBindingRequest(reader(inputs), restoreBinding(reader(inputs)));
    expect(request.fromBinding).toEqual({ database: true, media: true });
    const options = getRestoreOptions(reader(inputs), {}, request.draft, request.fromBinding);
    expect(options.media).toBeUndefined();
    const skipping = { ...inputs, 'skip-media': 'true' };
    const skipped = readBindingRequest(reader(skipping), restoreBinding(reader(skipping)));
    expect(skipped.fromBinding).toEqual({ database: true, media: false });
    expect(skipped.mode === 'cloudfoundry' && skipped.plan.mediaBucket).toBeUndefined();
  });

  it('prune only sweeps the database and media instances, never binds them', () => {
    const request = readBindingRequest(reader({ ...CF, 'cf-database-instance': 'db', 'cf-media-instance': 'media' }), PRUNE_BINDING);
    if (request.mode !== 'cloudfoundry') throw new Error('expected cloudfoundry');
    expect(request.plan.database).toBeUndefined();
    expect(request.plan.mediaBucket).toBeUndefined();
    expect(request.plan.sweepOnly).toEqual([
      { instance: 'db', purpose: 'database' },
      { instance: 'media', purpose: 'media bucket' },
    ]);
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
    expect(error.message).toContain(
      "Key 'lifeboat-backup-app-1-1-abcdef' of 'backups' (access to the backup bucket): CF-UnableToPerform: broken. Delete it by hand: cf delete-service-key backups lifeboat-backup-app-1-1-abcdef -f",
    );
  });

  it('a failed clean-up of several keys says what each gives access to, and anything else left first', () => {
    const error = new UnbindError(
      [
        { record: { instance: 'db', name: 'lifeboat-backup-app-1-1-aaaaaa', purpose: 'database', state: 'created' }, message: 'gone wrong' },
        { record: { instance: 'media', name: 'lifeboat-backup-app-1-1-bbbbbb', purpose: 'media bucket', state: 'planned' }, message: 'also wrong.' },
      ],
      'Could not close the tunnel.',
    );
    expect(error.message).toMatch(/^Could not close the tunnel\. Could not delete 2 service keys; until deleted, their credentials stay valid\./);
    expect(error.message).toContain("Key 'lifeboat-backup-app-1-1-aaaaaa' of 'db' (access to the database): gone wrong. Delete it by hand: cf delete-service-key db lifeboat-backup-app-1-1-aaaaaa -f");
    expect(error.message).toContain("(access to the media bucket): also wrong. Delete it by hand: cf delete-service-key media lifeboat-backup-app-1-1-bbbbbb -f");
  });
});
