// Mutation testing of the pure domain (src/domain): `npm run mutate`. The unit tests must kill at
// least 90% of the mutants (thresholds.break); the HTML report is written to reports/mutation/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: ['src/domain/**/*.ts'],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts', related: true },
  // Type-checking each mutant would be slow; mutants that do not compile still fail the vitest run.
  checkers: [],
  coverageAnalysis: 'perTest',
  // The machine running CI and the agents' sandbox both have 2 cores.
  concurrency: 2,
  // Re-test only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The sandbox copy needs sources and tests, not the bundles (vitest.unit.config.ts leaves out their test).
  ignorePatterns: ['dist', 'reports', 'bench-results', '.lifeboat-demo'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
