import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Property tests run hundreds of cases; CI machines are small and may be busy.
    testTimeout: 30_000,
  },
});
