/**
 * Starts one throwaway PostgreSQL cluster and one S3 protocol server for the integration tests,
 * and stops both at the end. Nothing here depends on services that happen to be running.
 */
import 'vitest';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { startS3Server } from '../../src/sandbox/s3-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { url: string; port: number; password: string; binDir: string; major: number };
    s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; directory: string };
  }
}

export default async function setup(project: TestProject) {
  const postgres = await startPostgresCluster();
  const s3 = await startS3Server();
  project.provide('postgres', {
    url: postgres.url,
    port: postgres.port,
    password: postgres.password,
    binDir: postgres.binDir,
    major: postgres.major,
  });
  project.provide('s3', {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    directory: s3.directory,
  });
  return async () => {
    await s3.stop();
    await postgres.stop();
  };
}
