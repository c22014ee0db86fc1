import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // Declarations come from tsc, which knows no `Deno`: src/deno-types.d.ts declares
  // the part of the namespace this package uses (deno check uses the real types).
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: 'tsconfig.build.json',
  // Deno resolves Node built-ins only with the `node:` prefix.
  removeNodeProtocol: false,
});
