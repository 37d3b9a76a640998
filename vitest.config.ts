import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        // Pure domain code: no database, no S3, no processes.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        // Real PostgreSQL and a real S3 protocol server, started once for the run and stopped at the end.
        // Each test file makes its own databases and buckets, so files can run in parallel.
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          pool: 'forks',
        },
      },
      {
        // The same files against Ceph's RADOS Gateway, a real S3 (Debian's radosgw, ceph-mon, ceph-osd):
        // it finds what the fake hides (empty error messages, multipart ETags, metadata names).
        extends: true,
        test: {
          name: 'integration-rgw',
          include: ['test/integration/**/*.test.ts'],
          // The bench starts its own s3rver: nothing in it meets the sandbox's S3 (bench-media-scale tests the
          // bench's seeding of s3rver's own storage). The regression corpus is about PostgreSQL, not S3, and
          // takes minutes: once, against s3rver, is enough.
          exclude: [...configDefaults.exclude, 'test/integration/bench-smoke.test.ts', 'test/integration/bench-media-scale.test.ts', 'test/integration/regression-corpus.test.ts', 'test/integration/summaries-browser.test.ts'],
          globalSetup: ['test/support/global-setup-rgw.ts'],
          pool: 'forks',
        },
      },
    ],
  },
});
