import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Used only by `npm run mutation -- --scope gateway` (stryker.gateway.config.mjs): the gateway's
 * verdict path (ingest.ts, the replay windows of the SQLite store) against the tests that reach it
 * through the `Ingestor` and `Store`. As in vitest.mutation.config.ts, the packages are aliased to
 * their sources: the tests import `@sceau/host-tools` and `@sceau/protocol`, which resolve to the
 * built `dist/`, where a mutant of `src/` is never seen. The tests are the fast ones that reach
 * the verdicts in-process (gateway-idempotent-ingest.test.ts checks the same rules through the
 * HTTP, UDP and TCP servers, several seconds a run: left out, as mutation runs every covering test
 * once per mutant).
 */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@sceau\/protocol$/, replacement: fileURLToPath(new URL('./protocol/src/index.ts', import.meta.url)) },
      { find: /^@sceau\/host-tools$/, replacement: fileURLToPath(new URL('./host-tools/src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: [
      'tests/gateway-verdicts.test.ts',
      'tests/gateway-store-interface.test.ts',
      'tests/gateway-store-failure.test.ts',
    ],
    // A mutant that leaves a verdict's promise unsettled hangs its test: failing it after 5 s
    // (the slowest of these tests takes well under 1 s) costs less than Stryker's timeout, which
    // also restarts the runner. The mutant then counts as killed rather than timed out.
    testTimeout: 5_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
