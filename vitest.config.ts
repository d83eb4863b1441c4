import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));

// Each test file starts its own redis-server, so files run in parallel processes; the
// machines we test on have two cores, so two files at a time. `errand` and its subpaths
// resolve to the sources (as tsconfig.json's paths do for tsc and tsx), so examples written
// as a user would, `import { Queue } from 'errand'`, run as tests.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^errand$/, replacement: `${src}index.ts` },
      { find: /^errand\/(gateway|testing|metrics)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/support/build-dashboard.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
