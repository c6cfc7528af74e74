import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 300_000,
    reporters: ['default', ['json', { outputFile: '../../.test-results/examples.vitest.json' }]],
  },
});
