import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    pool: 'forks',
    // Files run one at a time: each starts real agents and trains on a 2-core machine.
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // CI (.ci/run) tries a failed test once more; the summary names each one that needed it.
    retry: Number(process.env.GPULINK_TEST_RETRY ?? 0),
    reporters: ['default', ['json', { outputFile: '../../.test-results/cli.vitest.json' }]],
  },
});
