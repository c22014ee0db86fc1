import { defineConfig } from 'tsup';

export default defineConfig({
  // Separate entries: the CLI starts the worker by file name, and the planted target
  // must be a script of its own so that coverage can be restricted to it.
  entry: ['src/cli.ts', 'src/worker.ts', 'src/targets/planted.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: 'tsconfig.json',
});
