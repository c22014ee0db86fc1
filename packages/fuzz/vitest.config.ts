import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The bounded fuzz runs take 10 s per target, one after the other.
    testTimeout: 60_000,
  },
});
