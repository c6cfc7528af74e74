import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
  // The relay and the attach steps run in a Jupyter kernel: their Python source ships as text.
  loader: { '.py': 'text' },
});
