// Mutation testing of protocol/src (issue 19): `npm run mutation` (scripts/mutation.mjs).
// Runs outside `npm test`: it is slow. Incremental: later runs re-test only mutants whose code or
// tests changed; results are kept in reports/mutation/incremental.json (git-ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: ['protocol/src/**/*.ts', '!protocol/src/index.ts'],
  // The sandbox needs only the protocol, its tests and the configs (the root tsconfig.json names
  // the other packages' tsconfig files, which vite reads when it transforms a test).
  ignorePatterns: [
    'host-tools/**', '!host-tools/tsconfig.json', 'simulator/**', '!simulator/tsconfig.json',
    // docs/protocol.md stays: protocol-code-docs and protocol-channels pin the code to its tables
    // (without it they fail to load in the sandbox and every mutant they guard survives)
    'firmware', 'examples', 'docs/*', '!docs/protocol.md', 'bench', 'reports', '.vitest-results.json',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 1,
  incremental: true,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['clear-text', 'json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
