import { defineConfig } from 'vitest/config';

// Each test file starts its own redis-server, so files run in parallel processes; the
// machines we test on have two cores, so two files at a time.
export default defineConfig({
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
