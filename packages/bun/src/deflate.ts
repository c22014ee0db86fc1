/**
 * The permessage-deflate engine of the Bun adapter: node:zlib (as on Node and Deno),
 * shared by its servers and clients so that they share one inflate budget.
 */
import { createZlibEngine } from '@fullduplex/zlib';

/**
 * JavaScriptCore leaves large buffers uncollected for long: a refused decompression
 * bomb's output would stay in memory while the next bomb inflates. A synchronous
 * collection after each refusal (the connection is failed anyway) keeps peak memory
 * near the inflate budget.
 */
export const bunDeflateEngine = createZlibEngine({ afterInflateRefused: () => Bun.gc(true) });
