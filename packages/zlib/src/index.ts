/**
 * @fullduplex/zlib — the permessage-deflate engine the fullduplex adapters use,
 * on node:zlib (which Node, Bun and Deno all implement).
 */
export {
  createZlibEngine,
  type ZlibEngineFactory,
  type ZlibEngineOptions,
  zlibDeflateEngine,
} from './engine.ts';
export { ConcurrencyLimiter } from './limiter.ts';
