/** The platform binding's pure decisions: database key credentials, the URL made of them, and which inputs may go together. */
import { describe, expect, it } from 'vitest';
import {
  checkMediaInstance,
  chooseDatabaseSource,
  MEDIA_INPUTS_REPLACED_BY_KEY,
  parseRdsCredentials,
  PURPOSE_INPUT,
  RDS_PUBLIC_FIELDS,
  rdsDatabaseUrl,
} from '../../src/domain/platform-binding.js';

const WHERE = "service key 'k' of 'db' (database)";

// The aws-rds broker's credentials, as `cf service-key` shows them.
const RDS = {
  db_name: 'cgawsbrokerprodabc123',
  host: 'cg-aws-broker-prodabc123.ci7nkegdizyy.us-gov-west-1.rds.amazonaws.com',
  name: 'cgawsbrokerprodabc123',
  password: 'p@ss:w/rd%1',
  port: '5432',
  uri: 'postgres://u4kq9:p%40ss%3Aw%2Frd%251@cg-aws-broker-prodabc123.ci7nkegdizyy.us-gov-west-1.rds.amazonaws.com:5432/cgawsbrokerprodabc123',
  username: 'u4kq9',
};

describe('database key credentials (aws-rds broker)', () => {
  it('are read from the separate fields, the port a string', () => {
    expect(parseRdsCredentials(RDS, WHERE)).toEqual({ host: RDS.host, port: 5432, database: RDS.db_name, username: 'u4kq9', password: 'p@ss:w/rd%1' });
  });

  it('fields win over the uri, and the uri fills what they lack (decoded)', () => {
    expect(parseRdsCredentials({ uri: RDS.uri }, WHERE)).toEqual({ host: RDS.host, port: 5432, database: RDS.db_name, username: 'u4kq9', password: 'p@ss:w/rd%1' });
    const mixed = parseRdsCredentials({ uri: 'postgresql://a:b@h1:6543/d1', host: 'h2', db_name: 'd2', username: 'u2' }, WHERE);
    expect(mixed).toEqual({ host: 'h2', port: 6543, database: 'd2', username: 'u2', password: 'b' });
    expect(parseRdsCredentials({ uri: 'postgres://a:b@[::1]:7/d' }, WHERE).host).toBe('::1');
  });

  it('take the database from name when db_name is absent, a numeric port, trimmed values, and 5432 when no port is given', () => {
    const c = parseRdsCredentials({ host: ' h ', name: 'n', username: 'u', password: 'pw', port: 15432 }, WHERE);
    expect(c).toEqual({ host: 'h', port: 15432, database: 'n', username: 'u', password: 'pw' });
    expect(parseRdsCredentials({ host: 'h', db_name: 'd', username: 'u', password: 'pw' }, WHERE).port).toBe(5432);
    expect(parseRdsCredentials({ host: 'h', db_name: 'd', username: 'u', password: 'pw', port: '' }, WHERE).port).toBe(5432);
  });

  it('must name host, database, user and password, and the error names fields, never values', () => {
    const error = (() => {
      try {
        parseRdsCredentials({ host: 'h', port: '5432', secret_thing: 'hunter22' }, WHERE);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(error).toBe(
      `The credentials of ${WHERE} have no db_name, username, password (fields: host, port, secret_thing), nor a 'uri' that gives them. Is 'cf-database-instance' a PostgreSQL service (cloud.gov's aws-rds)?`,
    );
    expect(() => parseRdsCredentials({ host: 'h', db_name: 'd', username: 'u' }, WHERE)).toThrow(/have no password \(fields: db_name, host, username\), nor a 'uri' that gives it\./);
    expect(() => parseRdsCredentials(null, WHERE)).toThrow(/have no host, db_name, username, password \(fields: none\)/);
    expect(() => parseRdsCredentials(['x'], WHERE)).toThrow(/\(fields: none\)/);
    expect(() => parseRdsCredentials({ host: 'h', db_name: 'd', username: 'u', password: 7 }, WHERE)).not.toThrow();
    expect(() => parseRdsCredentials({ host: '  ', db_name: 'd', username: 'u', password: 'p' }, WHERE)).toThrow(/have no host \(/);
    expect(() => parseRdsCredentials({ host: true, db_name: 'd', username: 'u', password: 'p' }, WHERE)).toThrow(/have no host \(/);
    expect(() => parseRdsCredentials({ host: 'h', db_name: 'd', username: 'u', password: Number.NaN }, WHERE)).toThrow(/have no password/);
  });

  it('refuse a port that is not a TCP port, naming it (it is not secret)', () => {
    const base = { host: 'h', db_name: 'd', username: 'u', password: 'p' };
    for (const port of ['0', '65536', 'x5432', '54.3', '-1']) {
      expect(() => parseRdsCredentials({ ...base, port }, WHERE)).toThrow(`give the port '${port}', which is not a TCP port (1 to 65535).`);
    }
    expect(parseRdsCredentials({ ...base, port: '1' }, WHERE).port).toBe(1);
    expect(parseRdsCredentials({ ...base, port: '65535' }, WHERE).port).toBe(65535);
  });

  it('refuse a uri that is not a postgres:// URL, without echoing it', () => {
    expect(() => parseRdsCredentials({ uri: 'mysql://u:secretpw@h/d' }, WHERE)).toThrow(`The 'uri' of ${WHERE} uses the scheme 'mysql', not postgres://. Is 'cf-database-instance' a PostgreSQL service (cloud.gov's aws-rds)?`);
    expect(() => parseRdsCredentials({ uri: 'not a url secretpw' }, WHERE)).toThrow(`The 'uri' of ${WHERE} is not a URL.`);
    for (const [uri, part] of [
      ['postgres://u:%zz@h/d', 'password'],
      ['postgres://%zz:p@h/d', 'user name'],
      ['postgres://u:p@h/%zz', 'database name'],
    ]) {
      const message = (() => {
        try {
          parseRdsCredentials({ uri }, WHERE);
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(message).toBe(`The 'uri' of ${WHERE} has a malformed percent-encoding in its ${part}.`);
    }
    // A uri without user, password, database or host leaves them to the fields.
    expect(() => parseRdsCredentials({ uri: 'postgres://h' }, WHERE)).toThrow(/have no db_name, username, password/);
    expect(() => parseRdsCredentials({ uri: 'postgres:///d' }, WHERE)).toThrow(/have no host, username, password/);
  });

  it('leave only where the database is public: host, port and the database name', () => {
    expect([...RDS_PUBLIC_FIELDS].sort()).toEqual(['db_name', 'host', 'name', 'port']);
    expect(PURPOSE_INPUT).toEqual({ 'backup bucket': 'cf-service-instance', 'media bucket': 'cf-media-instance', database: 'cf-database-instance' });
  });
});

describe('the database URL from a key', () => {
  const credentials = { host: 'db.internal', port: 5432, database: 'app db', username: 'u@x', password: 'p@ss:w/rd%1' };

  it('percent-encodes user, password and database, and requires SSL', () => {
    const url = rdsDatabaseUrl(credentials);
    expect(url).toBe('postgres://u%40x:p%40ss%3Aw%2Frd%251@db.internal:5432/app%20db?sslmode=require');
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.password)).toBe(credentials.password);
    expect(decodeURIComponent(parsed.username)).toBe(credentials.username);
  });

  it('goes to where the database was reached (a tunnel), brackets an IPv6 host', () => {
    expect(rdsDatabaseUrl(credentials, { host: '127.0.0.1', port: 40123 })).toBe('postgres://u%40x:p%40ss%3Aw%2Frd%251@127.0.0.1:40123/app%20db?sslmode=require');
    expect(rdsDatabaseUrl(credentials, { host: '::1', port: 5 })).toContain('@[::1]:5/');
  });
});

describe('which inputs name the database', () => {
  const base = { role: 'it is the TARGET database', example: 'database-url: ${{ secrets.URL }}' };

  it('database-url alone, with either binding', () => {
    expect(chooseDatabaseSource({ ...base, binding: 'none', databaseUrl: true })).toEqual({ kind: 'url' });
    expect(chooseDatabaseSource({ ...base, binding: 'cloudfoundry', databaseUrl: true })).toEqual({ kind: 'url' });
  });

  it('cf-database-instance with binding: cloudfoundry, with or without a tunnel app', () => {
    expect(chooseDatabaseSource({ ...base, binding: 'cloudfoundry', databaseUrl: false, databaseInstance: 'db' })).toEqual({ kind: 'instance', instance: 'db' });
    expect(chooseDatabaseSource({ ...base, binding: 'cloudfoundry', databaseUrl: false, databaseInstance: 'db', tunnelApp: 'app' })).toEqual({
      kind: 'instance',
      instance: 'db',
      tunnelApp: 'app',
    });
  });

  it('refuses both, neither, an instance without binding, and a tunnel without an instance', () => {
    expect(() => chooseDatabaseSource({ ...base, binding: 'cloudfoundry', databaseUrl: true, databaseInstance: 'db' })).toThrow(
      "Inputs 'database-url' and 'cf-database-instance' both name the database; give only one: 'cf-database-instance' to connect with a service key made for this step, or 'database-url'.",
    );
    expect(() => chooseDatabaseSource({ ...base, binding: 'none', databaseUrl: false, databaseInstance: 'db' })).toThrow(
      "Input 'cf-database-instance' is set but 'binding' is 'none'. Set binding: cloudfoundry to get the database's credentials from a service key, or remove it and give 'database-url'.",
    );
    expect(() => chooseDatabaseSource({ ...base, binding: 'none', databaseUrl: true, databaseInstance: 'db' })).toThrow(/'binding' is 'none'/);
    expect(() => chooseDatabaseSource({ ...base, binding: 'cloudfoundry', databaseUrl: true, tunnelApp: 'app' })).toThrow(
      "Input 'cf-tunnel-app' opens a tunnel to the database of 'cf-database-instance', which is not given. Set 'cf-database-instance' (with binding: cloudfoundry), or remove 'cf-tunnel-app'.",
    );
    expect(() => chooseDatabaseSource({ ...base, binding: 'none', databaseUrl: false })).toThrow(
      "Input 'database-url' is required but was not given: it is the TARGET database. For example: database-url: ${{ secrets.URL }}",
    );
    expect(() => chooseDatabaseSource({ ...base, binding: 'none', databaseUrl: false })).not.toThrow(/cf-database-instance/);
    expect(() => chooseDatabaseSource({ ...base, role: '', binding: 'cloudfoundry', databaseUrl: false })).toThrow(
      "Input 'database-url' is required but was not given. For example: database-url: ${{ secrets.URL }} With binding: cloudfoundry, give 'cf-database-instance' instead (the database's service instance).",
    );
  });
});

describe('the media instance', () => {
  it('needs binding: cloudfoundry, and replaces only the media bucket\'s credentials', () => {
    expect(() => checkMediaInstance('none', undefined, ['media-aws-access-key-id'])).not.toThrow();
    expect(() => checkMediaInstance('cloudfoundry', 'media', ['media-prefix', 'media-bucket', 'media-s3-endpoint', 'media-s3-region'])).not.toThrow();
    expect(() => checkMediaInstance('none', 'media', [])).toThrow(
      "Input 'cf-media-instance' is set but 'binding' is 'none'. Set binding: cloudfoundry to bind the media bucket through a service key, or remove it.",
    );
    expect(() => checkMediaInstance('cloudfoundry', 'media', ['media-prefix', 'media-aws-access-key-id', 'media-aws-secret-access-key'])).toThrow(
      "With 'cf-media-instance', the media bucket's credentials come from its service key; remove 'media-aws-access-key-id', 'media-aws-secret-access-key'.",
    );
    expect(() => checkMediaInstance('cloudfoundry', 'media', ['media-aws-session-token'])).toThrow(/remove 'media-aws-session-token'\./);
    expect([...MEDIA_INPUTS_REPLACED_BY_KEY]).toEqual(['media-aws-access-key-id', 'media-aws-secret-access-key', 'media-aws-session-token']);
  });
});
