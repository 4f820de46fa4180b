// Mutation testing of the gateway's verdict path (issue 19): `npm run mutation -- --scope gateway`
// (scripts/mutation.mjs), by default ingest.ts and store-replay-windows.ts of host-tools, with
// the tests of vitest.mutation-gateway.config.ts. Like stryker.config.mjs (protocol/src):
// outside `npm test`, one runner, incremental (reports/mutation/incremental-gateway*.json,
// git-ignored). `--mutate host-tools/src/ingest.ts:330-420` mutates a range of lines only.
import protocol from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...protocol,
  vitest: { configFile: 'vitest.mutation-gateway.config.ts', related: false },
  mutate: ['host-tools/src/ingest.ts', 'host-tools/src/store-replay-windows.ts'],
  // The sandbox needs the protocol, host-tools (its sources and test fixtures), the tests and the configs.
  ignorePatterns: ['simulator/**', '!simulator/tsconfig.json', 'firmware', 'examples', 'docs', 'bench', 'reports', '.vitest-results.json', 'host-tools/dist', 'host-tools/console'],
  incrementalFile: 'reports/mutation/incremental-gateway.json',
};
