import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    pool: 'forks',
    // Ink draws nothing but <Static> output while CI is set (it reads it once, at import); the CLI
    // imports it with CI hidden (src/terminal-ui.ts), and the views under test get the same.
    env: { CI: 'false', CONTINUOUS_INTEGRATION: 'false' },
    // Files run one at a time: each starts real agents and trains on a 2-core machine.
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // CI (.ci/run) tries a failed test once more; the summary names each one that needed it.
    retry: Number(process.env.GPULINK_TEST_RETRY ?? 0),
    reporters: ['default', ['json', { outputFile: '../../.test-results/cli.vitest.json' }]],
  },
});
