import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 40_000,
    // The browser test starts Chromium; keep files sequential on small CI machines.
    fileParallelism: false,
  },
});
