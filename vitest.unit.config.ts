import { defineConfig } from 'vitest/config';

// The unit project alone, for StrykerJS (npm run mutate): the Stryker vitest runner cannot select one
// project of vitest.config.ts, and the integration project's global setup would start PostgreSQL and S3
// for every mutant run.
export default defineConfig({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts'],
    // Checks of action.yml, workflows, dist/ bundles and pg_dump binaries: no domain code, seconds per run.
    exclude: ['test/unit/metadata.test.ts', 'test/unit/cli-help.test.ts'],
    testTimeout: 120_000,
  },
});
