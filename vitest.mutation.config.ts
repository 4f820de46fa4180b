import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Used only by `npm run mutation` (stryker.config.mjs). The tests import `@sceau/protocol`, which
 * resolves to the built `protocol/dist/`: Stryker mutates `protocol/src/`, so without this alias
 * no test would ever see a mutant. Only the protocol's own tests run here.
 */
export default defineConfig({
  resolve: {
    alias: [{ find: /^@sceau\/protocol$/, replacement: fileURLToPath(new URL('./protocol/src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['tests/protocol-*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
