import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/node.ts', 'src/cli.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
});
