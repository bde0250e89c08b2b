import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing running; integration tests need the local stack
// (scripts/stack/up) and use unique names per test so files can run in parallel.
export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default'] : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: a few files at a time keeps Kafka, Connect and ClickHouse responsive.
          maxWorkers: 3,
          fileParallelism: true,
        },
      },
    ],
  },
});
