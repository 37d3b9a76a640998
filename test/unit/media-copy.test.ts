import { describe, expect, it } from 'vitest';
import {
  MAX_COPY_OBJECT_BYTES,
  SERVER_COPY_MIN_BYTES,
  comparableEndpoint,
  copiedTheHashedBytes,
  copiesInStore,
  parseServerCopySwitch,
  sameConnection,
  serverCopyFloor,
} from '../../src/domain/media-copy.js';

const keys = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };

describe('comparableEndpoint', () => {
  it('adds the scheme the client adds, lower-cases the host, drops a default port and trailing slashes', () => {
    expect(comparableEndpoint(undefined)).toBeUndefined();
    expect(comparableEndpoint('  ')).toBeUndefined();
    expect(comparableEndpoint('s3-fips.us-gov-west-1.amazonaws.com')).toBe('https://s3-fips.us-gov-west-1.amazonaws.com');
    expect(comparableEndpoint('HTTPS://S3.Example.COM:443/')).toBe('https://s3.example.com');
    expect(comparableEndpoint(' http://127.0.0.1:9000// ')).toBe('http://127.0.0.1:9000');
    expect(comparableEndpoint('http://127.0.0.1:9000/base/')).toBe('http://127.0.0.1:9000/base');
    expect(comparableEndpoint('http://host:80')).toBe('http://host');
    expect(comparableEndpoint('https://host:8443')).toBe('https://host:8443');
  });

  it('keeps an endpoint that is not a URL comparable as text', () => {
    expect(comparableEndpoint('http://[bad')).toBe('http://[bad');
    expect(comparableEndpoint('HTTP://[Bad/')).toBe('http://[bad');
  });
});

describe('sameConnection', () => {
  it('is true for one endpoint, region and credential, however written', () => {
    expect(sameConnection({}, {}, 'us-east-1')).toBe(true);
    expect(sameConnection({ endpoint: 'minio.local:9000', region: 'us-east-1', credentials: keys }, { endpoint: 'https://MINIO.local:9000/', credentials: { ...keys } }, 'us-east-1')).toBe(true);
    expect(sameConnection({ credentials: { ...keys, sessionToken: '' } }, { credentials: keys }, 'us-east-1')).toBe(true);
    expect(sameConnection({ region: ' eu-west-1 ' }, { region: 'eu-west-1' }, 'us-east-1')).toBe(true);
  });

  it('is false when the endpoint, the region or any part of the credentials differs', () => {
    expect(sameConnection({ endpoint: 'http://a:9000' }, { endpoint: 'http://b:9000' }, 'us-east-1')).toBe(false);
    expect(sameConnection({ endpoint: 'http://a:9000' }, {}, 'us-east-1')).toBe(false);
    expect(sameConnection({ region: 'us-west-2' }, {}, 'us-east-1')).toBe(false);
    expect(sameConnection({ region: 'us-east-1' }, {}, 'us-east-1')).toBe(true);
    expect(sameConnection({ region: 'us-east-1' }, {}, 'us-gov-west-1')).toBe(false);
    expect(sameConnection({ credentials: keys }, {}, 'us-east-1')).toBe(false);
    expect(sameConnection({}, { credentials: keys }, 'us-east-1')).toBe(false);
    expect(sameConnection({ credentials: keys }, { credentials: { ...keys, accessKeyId: 'AKIAOTHER' } }, 'us-east-1')).toBe(false);
    expect(sameConnection({ credentials: keys }, { credentials: { ...keys, secretAccessKey: 'other' } }, 'us-east-1')).toBe(false);
    expect(sameConnection({ credentials: { ...keys, sessionToken: 't1' } }, { credentials: { ...keys, sessionToken: 't2' } }, 'us-east-1')).toBe(false);
    expect(sameConnection({ credentials: { ...keys, sessionToken: 't1' } }, { credentials: keys }, 'us-east-1')).toBe(false);
  });
});

describe('LIFEBOAT_MEDIA_SERVER_COPY', () => {
  it('reads auto (also empty or unset), off and all, in any case', () => {
    expect(parseServerCopySwitch(undefined)).toBe('auto');
    expect(parseServerCopySwitch('')).toBe('auto');
    expect(parseServerCopySwitch(' Auto ')).toBe('auto');
    expect(parseServerCopySwitch('OFF')).toBe('off');
    expect(parseServerCopySwitch('all')).toBe('all');
  });

  it('refuses anything else, naming the variable and the values it takes', () => {
    expect(() => parseServerCopySwitch('no')).toThrow("LIFEBOAT_MEDIA_SERVER_COPY is 'no'; it takes 'auto' (the default), 'off' (copy through the runner) or 'all'. Unset it or choose one of these.");
  });
});

describe('which objects are copied inside the store', () => {
  it('from the measured floor by default, every size with all, none when off or not one connection', () => {
    expect(serverCopyFloor('auto', true)).toBe(SERVER_COPY_MIN_BYTES);
    expect(serverCopyFloor('all', true)).toBe(0);
    expect(serverCopyFloor('off', true)).toBeUndefined();
    expect(serverCopyFloor('auto', false)).toBeUndefined();
    expect(serverCopyFloor('all', false)).toBeUndefined();
  });

  it('objects from the floor up to the 5 GiB CopyObject limit, and only with an ETag to pin the copy to', () => {
    expect(copiesInStore(100, 100, '"e"')).toBe(true);
    expect(copiesInStore(99, 100, '"e"')).toBe(false);
    expect(copiesInStore(0, 0, '"e"')).toBe(true);
    expect(copiesInStore(MAX_COPY_OBJECT_BYTES, 0, '"e"')).toBe(true);
    expect(copiesInStore(MAX_COPY_OBJECT_BYTES + 1, 0, '"e"')).toBe(false);
    expect(copiesInStore(100, undefined, '"e"')).toBe(false);
    expect(copiesInStore(100, 0, undefined)).toBe(false);
    expect(copiesInStore(100, 0, '')).toBe(false);
    expect(MAX_COPY_OBJECT_BYTES).toBe(5 * 1024 * 1024 * 1024);
  });
});

describe('copiedTheHashedBytes', () => {
  const md5 = '9e107d9d372bb6826bd81d3542a419d6';
  it('accepts the MD5 of the hashed bytes, or the pinned ETag, quoted or not, in any case', () => {
    expect(copiedTheHashedBytes(`"${md5}"`, `"${md5}"`, md5, false)).toBe(true);
    expect(copiedTheHashedBytes(`"${md5.toUpperCase()}"`, '"abc-2"', md5, false)).toBe(true);
    expect(copiedTheHashedBytes('"abc-2"', '"ABC-2"', md5, false)).toBe(true);
  });

  it('refuses any other ETag: the store copied other bytes', () => {
    expect(copiedTheHashedBytes('"def-2"', '"abc-2"', md5, false)).toBe(false);
    expect(copiedTheHashedBytes('"e4d909c290d0fb1ca068ffaddf22cbd0"', `"${md5}"`, md5, false)).toBe(false);
  });

  it('cannot tell under SSE-KMS or SSE-C, or without an ETag', () => {
    expect(copiedTheHashedBytes('"def-2"', '"abc-2"', md5, true)).toBe(true);
    expect(copiedTheHashedBytes(undefined, '"abc-2"', md5, false)).toBe(true);
    expect(copiedTheHashedBytes('', '"abc-2"', md5, false)).toBe(true);
  });
});
