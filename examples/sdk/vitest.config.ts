import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 300_000,
    // CI (.ci/run) tries a failed test once more; the summary names each one that needed it.
    retry: Number(process.env.GPULINK_TEST_RETRY ?? 0),
    reporters: ['default', ['json', { outputFile: '../../.test-results/examples.vitest.json' }]],
  },
});
