import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Python files are imported as their source text, as tsup's text loader does in the build.
  plugins: [
    {
      name: 'python-source-as-text',
      transform(code: string, id: string) {
        return id.endsWith('.py')
          ? { code: `export default ${JSON.stringify(code)};`, map: null }
          : undefined;
      },
    },
  ],
  test: {
    include: ['src/**/*.test.ts'],
    // Integration tests spawn agent processes; forks keep each file's children in its own process.
    pool: 'forks',
    // Files run one at a time: each starts real agents and trains on a 2-core machine.
    fileParallelism: false,
    // Real fastai training on a shared 2-core machine: minutes, not seconds, when it is busy.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // GPULINK_VITEST_REPORT names another report (.ci/run's second run of the relay tests, under
    // Python 3.13), so that run's counts join the summary instead of replacing the suite's.
    // CI (.ci/run) tries a failed test once more; the summary names each one that needed it.
    retry: Number(process.env.GPULINK_TEST_RETRY ?? 0),
    reporters: [
      'default',
      ['json', { outputFile: process.env.GPULINK_VITEST_REPORT ?? '../../.test-results/sdk.vitest.json' }],
    ],
  },
});
