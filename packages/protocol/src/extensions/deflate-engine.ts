/**
 * The compression engine behind permessage-deflate. The core negotiates and frames;
 * the bytes are deflated and inflated by an engine the runtime supplies (the
 * adapters use `@fullduplex/zlib`, backed by `node:zlib`), so this package stays
 * free of any zlib.
 */
import type { Side } from '../protocol.ts';
import type { DeflateParams, PerMessageDeflateNegotiation } from './permessage-deflate.ts';

/** One connection's compressor and decompressor. Calls may overlap: engines keep each direction in order. */
export interface DeflateEngine {
  /**
   * False when this engine cannot honour the negotiated window for its own
   * compressor (zlib has no 256-byte window): messages then go uncompressed,
   * which RFC 7692 allows. Default true.
   */
  readonly compresses?: boolean;
  /**
   * Compresses one whole message (RFC 7692 §7.2.1): the result is the deflated
   * payload without the trailing `00 00 ff ff`. May complete synchronously.
   */
  compress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Inflates one whole message as received (the engine appends `00 00 ff ff`).
   * Must stop as soon as the output would exceed `maxSize` bytes, having allocated
   * no more than about that, and throw (or reject with) {@link InflateLimitError}.
   * Throws another error for corrupt data.
   */
  decompress(data: Uint8Array, maxSize: number): Uint8Array | Promise<Uint8Array>;
  /** Frees the zlib contexts. Called once, when the connection closes. */
  close(): void;
}

/** What an engine factory is told about a connection. */
export interface DeflateEngineOptions {
  /** Our side: the server compresses with the `server_*` parameters, the client with `client_*`. */
  readonly side: Side;
  readonly params: DeflateParams;
  /** zlib compression level 0–9 (default chosen by the engine). */
  readonly level?: number;
  /** zlib memLevel 1–9: memory for the compressor's state vs speed. */
  readonly memLevel?: number;
}

/** Makes an engine per connection. */
export type DeflateEngineFactory = (options: DeflateEngineOptions) => DeflateEngine;

/** Thrown by {@link DeflateEngine.decompress} when a message inflates past the limit. */
export class InflateLimitError extends Error {
  override readonly name = 'InflateLimitError';
  constructor(readonly limit: number) {
    super(`message inflates to more than ${limit} bytes`);
  }
}

/** permessage-deflate settings for servers and clients. */
export interface PerMessageDeflateOptions extends PerMessageDeflateNegotiation {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  readonly threshold?: number;
  /** zlib level 0–9. Default: the engine's (1 in @fullduplex/zlib: fast, most of the gain). */
  readonly level?: number;
  /** zlib memLevel 1–9. Default: the engine's (8). */
  readonly memLevel?: number;
  /** The engine; adapters supply their default. */
  readonly engine?: DeflateEngineFactory;
}
