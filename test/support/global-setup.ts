/**
 * Starts one throwaway PostgreSQL cluster and one S3 server for the integration tests, and stops both
 * at the end. Nothing here depends on services that happen to be running.
 *
 * The `integration` project meets s3rver (a fast fake); `integration-rgw` runs the same files against
 * Ceph's RADOS Gateway (a real S3), through global-setup-rgw.ts.
 */
import 'vitest';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { startRgwServer } from '../../src/sandbox/rgw-server.js';
import { startS3Server } from '../../src/sandbox/s3-server.js';

export type S3ServerKind = 's3rver' | 'rgw';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { url: string; port: number; password: string; binDir: string; major: number };
    s3: { kind: S3ServerKind; endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  }
}

export async function setupWith(project: TestProject, kind: S3ServerKind) {
  // Started side by side; if one fails, the other is stopped before the error is passed on.
  const [postgresStart, s3Start] = await Promise.allSettled([startPostgresCluster(), kind === 'rgw' ? startRgwServer() : startS3Server()]);
  if (postgresStart.status === 'rejected' || s3Start.status === 'rejected') {
    if (postgresStart.status === 'fulfilled') await postgresStart.value.stop();
    if (s3Start.status === 'fulfilled') await s3Start.value.stop();
    throw postgresStart.status === 'rejected' ? postgresStart.reason : (s3Start as PromiseRejectedResult).reason;
  }
  const postgres = postgresStart.value;
  const s3 = s3Start.value;
  project.provide('postgres', {
    url: postgres.url,
    port: postgres.port,
    password: postgres.password,
    binDir: postgres.binDir,
    major: postgres.major,
  });
  project.provide('s3', {
    kind,
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  return async () => {
    await s3.stop();
    await postgres.stop();
  };
}

export default function setup(project: TestProject) {
  return setupWith(project, 's3rver');
}
