// Hostile peers against examples/echo/bun.ts in its own process: floods, half-open and idle connections,
// a reset storm, decompression bombs; the server's RSS read from /proc (testkit/src/hostile).
import { defineHostileSuite } from '@fullduplex/testkit/hostile';

defineHostileSuite({ runtime: 'bun' });
