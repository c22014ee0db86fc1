/**
 * permessage-deflate on node:zlib.
 *
 * Memory is what compression costs per connection, so zlib contexts are created on
 * first use and only kept where context takeover needs them: with
 * no_context_takeover a side compresses or inflates each message one-shot and holds
 * nothing between messages. Small one-shot jobs run synchronously (no thread-pool hop,
 * order is trivially kept); larger ones and all streaming jobs run asynchronously,
 * at most `concurrency` at a time process-wide.
 */
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  deflateRaw,
  deflateRawSync,
  type InflateRaw,
  inflateRawSync,
} from 'node:zlib';
import {
  type DeflateEngine,
  type DeflateEngineFactory,
  type DeflateEngineOptions,
  InflateLimitError,
} from '@fullduplex/protocol';
import { ConcurrencyLimiter } from './limiter.ts';

/** Options of {@link createZlibEngine}. */
export interface ZlibEngineOptions {
  /** Most asynchronous zlib jobs at once, process-wide for this factory. Default 10. */
  readonly concurrency?: number;
  /** One-shot jobs up to this many input bytes run synchronously. Default 16 KiB. */
  readonly syncLimit?: number;
  /** Default compression level when the connection's options give none. Default 1. */
  readonly level?: number;
  /** Default memLevel. Default 8. */
  readonly memLevel?: number;
}

/** The final empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Makes engine factories; each shares one concurrency limiter among its engines. */
export function createZlibEngine(options: ZlibEngineOptions = {}): DeflateEngineFactory {
  const limiter = new ConcurrencyLimiter(options.concurrency ?? 10);
  const syncLimit = options.syncLimit ?? 16 * 1024;
  return (connection: DeflateEngineOptions) =>
    new ZlibDeflateEngine(connection, limiter, syncLimit, options.level ?? 1, options.memLevel ?? 8);
}

/** The default factory the adapters use. */
export const zlibDeflateEngine: DeflateEngineFactory = createZlibEngine();

class ZlibDeflateEngine implements DeflateEngine {
  readonly compresses: boolean;
  private readonly ownNoContextTakeover: boolean;
  private readonly ownWindowBits: number;
  private readonly peerNoContextTakeover: boolean;
  private readonly level: number;
  private readonly memLevel: number;
  private deflater: DeflateRaw | undefined;
  private inflater: InflateRaw | undefined;
  private deflateChain: Promise<unknown> = Promise.resolve();
  private inflateChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    options: DeflateEngineOptions,
    private readonly limiter: ConcurrencyLimiter,
    private readonly syncLimit: number,
    defaultLevel: number,
    defaultMemLevel: number,
  ) {
    const { params, side } = options;
    const server = side === 'server';
    this.ownNoContextTakeover = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.ownWindowBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.peerNoContextTakeover = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.level = options.level ?? defaultLevel;
    this.memLevel = options.memLevel ?? defaultMemLevel;
    // zlib cannot deflate with a 256-byte window (it silently uses 512), so a peer that
    // capped our window at 8 gets uncompressed messages, which RFC 7692 allows.
    this.compresses = this.ownWindowBits >= 9;
  }

  compress(data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const options = { level: this.level, memLevel: this.memLevel, windowBits: this.ownWindowBits };
    if (this.ownNoContextTakeover) {
      const oneShot = { ...options, finishFlush: constants.Z_SYNC_FLUSH };
      if (data.length <= this.syncLimit) return withoutTail(deflateRawSync(data, oneShot));
      return this.limiter.run(
        () =>
          new Promise<Uint8Array>((resolve, reject) =>
            deflateRaw(data, oneShot, (error, out) => (error ? reject(error) : resolve(withoutTail(out)))),
          ),
      );
    }
    // One stream carries the context: jobs on it must not overlap, so they chain.
    const job = this.deflateChain.then(() =>
      this.limiter.run(() => {
        this.deflater ??= guarded(createDeflateRaw(options));
        return runThrough(this.deflater, data, Number.POSITIVE_INFINITY).then(withoutTail);
      }),
    );
    this.deflateChain = job.catch(() => undefined);
    return job;
  }

  decompress(data: Uint8Array, maxSize: number): Uint8Array | Promise<Uint8Array> {
    const input = withTail(data);
    if (this.peerNoContextTakeover && data.length <= this.syncLimit) {
      // maxOutputLength makes zlib stop growing its output at the cap.
      try {
        const out = inflateRawSync(input, {
          finishFlush: constants.Z_SYNC_FLUSH,
          maxOutputLength: Math.max(1, maxSize),
        });
        if (out.length > maxSize) throw new InflateLimitError(maxSize);
        return out;
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
          throw new InflateLimitError(maxSize);
        throw error;
      }
    }
    const job = this.inflateChain.then(() =>
      this.limiter.run(() => {
        if (!this.peerNoContextTakeover) this.inflater ??= guarded(createInflateRaw());
        const inflater = this.inflater ?? guarded(createInflateRaw());
        const consumedBefore = inflater.bytesWritten;
        return runThrough(inflater, input, maxSize)
          .then((out) => {
            // A final block (BFINAL) ends the DEFLATE stream, and zlib ignores whatever
            // follows it: every later message would inflate to nothing. Zlib stopping short
            // of the input shows it; the peer's next message starts a new stream (as in ws).
            if (inflater.bytesWritten - consumedBefore < input.length) this.inflater = undefined;
            return out;
          })
          .finally(() => {
            if (inflater !== this.inflater) inflater.close();
          });
      }),
    );
    this.inflateChain = job.catch(() => undefined);
    return job;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = undefined;
    this.inflater = undefined;
  }
}

/**
 * Writes `input` to a zlib stream and sync-flushes, collecting the output. Past
 * `maxSize` output bytes it stops listening and rejects with InflateLimitError
 * (the connection is failed, so the stream's state no longer matters).
 */
function runThrough(
  stream: DeflateRaw | InflateRaw,
  input: Uint8Array,
  maxSize: number,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    const cleanup = (): void => {
      settled = true;
      stream.off('data', onData);
      stream.off('error', onError);
    };
    const onData = (chunk: Uint8Array): void => {
      if (settled) return;
      size += chunk.length;
      if (size > maxSize) {
        cleanup();
        stream.close();
        reject(new InflateLimitError(maxSize));
        return;
      }
      chunks.push(chunk);
    };
    const onError = (error: Error): void => {
      if (settled) return;
      cleanup();
      reject(error);
    };
    stream.on('data', onData);
    stream.on('error', onError);
    stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      if (settled) return;
      cleanup();
      // Deno calls back before emitting the error of corrupt input; the stream is errored by then.
      if (stream.destroyed || stream.errored) {
        reject(stream.errored ?? new Error('zlib stream closed'));
        return;
      }
      resolve(chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, size));
    });
  });
}

/**
 * A zlib stream may report an error more than once (Deno's does, after the flush);
 * jobs listen only while they run, so a permanent listener keeps a late one from
 * becoming an uncaught exception. The connection is failed by then anyway.
 */
function guarded<T extends DeflateRaw | InflateRaw>(stream: T): T {
  stream.on('error', () => {});
  return stream;
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function withTail(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 4);
  out.set(data);
  out.set(TAIL, data.length);
  return out;
}

function withoutTail(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff) {
    return data.subarray(0, n - 4);
  }
  return data;
}
