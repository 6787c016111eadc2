import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      { test: { name: 'http', include: ['test/http/**/*.test.ts'], testTimeout: 20_000 } },
      { test: { name: 'client', include: ['test/client/**/*.test.ts'], testTimeout: 20_000 } },
      { test: { name: 'mock', include: ['test/mock/**/*.test.ts'], testTimeout: 20_000, hookTimeout: 20_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      // Linearizability: the checker's own tests, a planted bug it must catch, and recorded histories of
      // every backend under faults (docs/consistency.md). Processes and timing: one file at a time.
      {
        test: {
          name: 'consistency',
          include: ['test/consistency/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      // The web console in headless Chromium (/usr/bin/chromium); the test builds the console itself.
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
