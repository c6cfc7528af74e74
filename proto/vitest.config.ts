import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // CI (.ci/run) tries a failed test once more; the summary names each one that needed it.
    retry: Number(process.env.GPULINK_TEST_RETRY ?? 0),
    reporters: ['default', ['json', { outputFile: '../.test-results/proto.vitest.json' }]],
  },
});
