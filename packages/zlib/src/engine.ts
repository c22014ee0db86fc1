/**
 * permessage-deflate on node:zlib.
 *
 * Memory is what compression costs per connection, so zlib contexts are created on
 * first use and only kept where context takeover needs them: with
 * no_context_takeover a side compresses or inflates each message one-shot and holds
 * nothing between messages. Small one-shot jobs run synchronously (no thread-pool hop,
 * order is trivially kept); larger ones and all streaming jobs run asynchronously,
 * at most `concurrency` at a time process-wide.
 *
 * Inflating is what a peer controls: a few KiB can ask for many MiB (a decompression
 * bomb). Each connection caps a message at its `maxMessageSize`, and the factory caps
 * all inflates together: a job reserves the most it could produce — its input times
 * deflate's largest expansion, but no more than the cap — from `inflateBudget`, and
 * waits while that is spoken for.
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
import { ConcurrencyLimiter, type Lease } from './limiter.ts';

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
  /**
   * Bytes of inflated output that inflates in progress may hold at once, for all the
   * connections of this factory. A message that could inflate past what is left waits
   * (its connection does not read meanwhile); one larger than the whole budget runs
   * alone. Default 32 MiB.
   */
  readonly inflateBudget?: number;
  /**
   * Called after an inflate was refused at its cap (a decompression bomb, most likely),
   * once its output is garbage. A runtime whose collector leaves large buffers alone for
   * long (Bun's) passes a synchronous collection here, so that refused bombs cannot pile
   * up faster than it frees them.
   */
  readonly afterInflateRefused?: () => void;
}

/** Deflate cannot expand more than this: a 258-byte match in as little as two bits. */
const MAX_INFLATE_RATIO = 1032;
const DEFAULT_INFLATE_BUDGET = 32 * 1024 * 1024;

/** The final empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** An engine factory, with what its engines' asynchronous jobs hold right now (for metrics and tests). */
export interface ZlibEngineFactory extends DeflateEngineFactory {
  /** Bytes of the inflate budget reserved by running inflates. */
  readonly inflateReservedBytes: number;
  /** Asynchronous jobs running or waiting for a slot or for budget. */
  readonly pendingJobs: number;
}

/** Makes engine factories; each shares one concurrency limiter and inflate budget among its engines. */
export function createZlibEngine(options: ZlibEngineOptions = {}): ZlibEngineFactory {
  const limiter = new ConcurrencyLimiter(
    options.concurrency ?? 10,
    options.inflateBudget ?? DEFAULT_INFLATE_BUDGET,
  );
  const syncLimit = options.syncLimit ?? 16 * 1024;
  const factory = (connection: DeflateEngineOptions): DeflateEngine =>
    new ZlibDeflateEngine(
      connection,
      limiter,
      syncLimit,
      options.level ?? 1,
      options.memLevel ?? 8,
      options.afterInflateRefused,
    );
  return Object.defineProperties(factory, {
    inflateReservedBytes: { get: () => limiter.reservedBytes },
    pendingJobs: { get: () => limiter.pending },
  }) as ZlibEngineFactory;
}

/** The default factory the adapters use. */
export const zlibDeflateEngine: ZlibEngineFactory = createZlibEngine();

class ZlibDeflateEngine implements DeflateEngine {
  readonly compresses: boolean;
  private readonly ownNoContextTakeover: boolean;
  private readonly ownWindowBits: number;
  private readonly peerNoContextTakeover: boolean;
  private readonly level: number;
  private readonly memLevel: number;
  /** The peer's LZ77 window: how far back its messages may refer. */
  private readonly peerWindowSize: number;
  private deflater: DeflateRaw | undefined;
  /** Context takeover where zlib cannot take a dictionary (Deno): one stream carries the window. */
  private inflater: InflateRaw | undefined;
  /**
   * Context takeover elsewhere: the last `peerWindowSize` bytes inflated, given as the
   * dictionary of the next message's one-shot inflate. After a sync flush the window is
   * all that one message leaves for the next (blocks end, the output is byte-aligned),
   * so this inflates exactly what one long-lived stream would, without keeping a
   * stream's state per connection, and small messages inflate synchronously.
   */
  private history: Uint8Array | undefined;
  private historyLength = 0;
  /** Asynchronous inflates not yet settled (the next one must wait for their history). */
  private inflatesPending = 0;
  private deflateChain: Promise<unknown> = Promise.resolve();
  private inflateChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    options: DeflateEngineOptions,
    private readonly limiter: ConcurrencyLimiter,
    private readonly syncLimit: number,
    defaultLevel: number,
    defaultMemLevel: number,
    private readonly afterRefused: (() => void) | undefined,
  ) {
    const { params, side } = options;
    const server = side === 'server';
    this.ownNoContextTakeover = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.ownWindowBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.peerNoContextTakeover = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.peerWindowSize = 1 << (server ? params.clientMaxWindowBits : params.serverMaxWindowBits);
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
    const streamed = !this.peerNoContextTakeover && !dictionariesWork();
    // An empty compressed payload carries no block (RFC 7692's empty message is 0x00):
    // nothing to inflate, nothing for the window.
    if (data.length === 0 && !streamed && this.inflatesPending === 0) return new Uint8Array(0);
    // One-shot with context takeover: a marker block after the tail proves the message
    // ended at a block boundary (see checkBoundary).
    const marked = !this.peerNoContextTakeover && !streamed;
    const input = withTail(data, marked);
    const tailEnd = data.length + TAIL.length;
    // The most this message could inflate to, reserved from the budget while it runs.
    const cost = Math.min(Math.max(1, maxSize), input.length * MAX_INFLATE_RATIO);
    const limit = maxSize + (marked ? MARKER.length : 0);
    if (!streamed && data.length <= this.syncLimit && this.inflatesPending === 0 && this.limiter.fits(cost)) {
      // maxOutputLength makes zlib stop growing its output at the cap.
      let out: Uint8Array;
      let consumed: number;
      try {
        const result = inflateRawSync(input, {
          finishFlush: constants.Z_SYNC_FLUSH,
          maxOutputLength: Math.max(1, limit),
          dictionary: this.window(),
          info: true,
        }) as unknown as { buffer: Uint8Array; engine: { bytesWritten: number } };
        out = result.buffer;
        consumed = result.engine.bytesWritten;
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          this.afterRefused?.();
          throw new InflateLimitError(maxSize);
        }
        throw error;
      }
      return this.finishOneShot(out, consumed < tailEnd, marked, maxSize);
    }
    this.inflatesPending++;
    const job = this.inflateChain.then(() =>
      this.limiter.run((lease) => {
        let inflater: InflateRaw;
        if (streamed) {
          this.inflater ??= guarded(createInflateRaw());
          inflater = this.inflater;
        } else {
          // One-shot, with large output chunks: they are returned to the system once
          // freed, where many small ones would stay with the allocator after a bomb.
          inflater = guarded(createInflateRaw({ chunkSize: ONE_SHOT_CHUNK, dictionary: this.window() }));
        }
        const consumedBefore = inflater.bytesWritten;
        return runThrough(inflater, input, limit, lease, this.afterRefused, maxSize)
          .then((inflated) => {
            // Zlib stopping short of the tail means the message ended the DEFLATE stream
            // with a final block (BFINAL): the peer's next message starts a new one.
            const ended = inflater.bytesWritten - consumedBefore < tailEnd;
            if (streamed) {
              if (ended) this.inflater = undefined;
              return compact(inflated);
            }
            return compact(this.finishOneShot(inflated, ended, marked, maxSize));
          })
          .finally(() => {
            if (inflater !== this.inflater) inflater.close();
          });
      }, cost),
    );
    this.inflateChain = job.catch(() => undefined).finally(() => this.inflatesPending--);
    return job;
  }

  /** The dictionary for the next message: the window of what was inflated so far. */
  /**
   * A one-shot inflate's output as the message: the marker cut off (or the message
   * refused, see checkBoundary) unless the message ended the stream, the cap applied,
   * the window updated.
   */
  private finishOneShot(out: Uint8Array, endedStream: boolean, marked: boolean, maxSize: number): Uint8Array {
    const message = marked && !endedStream ? checkBoundary(out, maxSize) : out;
    if (message.length > maxSize) throw new InflateLimitError(maxSize);
    this.remember(message, endedStream);
    return message;
  }

  private window(): Uint8Array | undefined {
    if (this.peerNoContextTakeover || this.historyLength === 0) return undefined;
    return (this.history as Uint8Array).subarray(0, this.historyLength);
  }

  /**
   * Keeps the last `peerWindowSize` bytes of the output (context takeover only). After a
   * message that ended its DEFLATE stream (a final block), the next one starts a new
   * stream, with nothing to refer back to: the window is emptied.
   */
  private remember(out: Uint8Array, endedStream: boolean): void {
    if (this.peerNoContextTakeover || this.closed) return;
    if (endedStream) {
      this.historyLength = 0;
      return;
    }
    const size = this.peerWindowSize;
    this.history ??= new Uint8Array(size);
    const history = this.history;
    if (out.length >= size) {
      history.set(out.subarray(out.length - size));
      this.historyLength = size;
      return;
    }
    const keep = Math.min(this.historyLength, size - out.length);
    if (keep !== this.historyLength) history.copyWithin(0, this.historyLength - keep, this.historyLength);
    history.set(out, keep);
    this.historyLength = keep + out.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = undefined;
    this.inflater = undefined;
    this.history = undefined;
    this.historyLength = 0;
  }
}

/** Output chunk size of one-shot asynchronous inflates. */
const ONE_SHOT_CHUNK = 1024 * 1024;

let dictionarySupport: boolean | undefined;
/** The text 'fullduplex window check ' deflated against itself as dictionary: one back-reference into it. */
const DICTIONARY_CHECK = new Uint8Array([74, 195, 33, 14, 0, 0, 0, 255, 255]);

/**
 * Whether this runtime's zlib honours a raw inflate's `dictionary` (Node's and Bun's
 * do; Deno's ignores it). Checked once, on a message that only inflates right with it.
 */
function dictionariesWork(): boolean {
  if (dictionarySupport === undefined) {
    try {
      const text = new TextEncoder().encode('fullduplex window check ');
      const out = inflateRawSync(DICTIONARY_CHECK, { dictionary: text, finishFlush: constants.Z_SYNC_FLUSH });
      dictionarySupport = out.length === text.length && out.every((byte, i) => byte === text[i]);
    } catch {
      dictionarySupport = false;
    }
  }
  return dictionarySupport;
}

/** A small message in a large output chunk would pin the whole chunk: copy it out. */
function compact(out: Uint8Array): Uint8Array {
  // (Buffer#slice would be a view: copy into a fresh Uint8Array.)
  return out.buffer.byteLength > 2 * out.length + 4096 ? new Uint8Array(out) : out;
}

/**
 * Writes `input` to a zlib stream and sync-flushes, collecting the output. Past
 * `maxSize` output bytes it stops listening and rejects with InflateLimitError
 * (the connection is failed, so the stream's state no longer matters); what it had
 * collected is handed to `lease`, whose reservation lasts until that is collected.
 */
function runThrough(
  stream: DeflateRaw | InflateRaw,
  input: Uint8Array,
  maxSize: number,
  lease?: Lease,
  afterRefused?: () => void,
  reportedLimit = maxSize,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    let chunks: Uint8Array[] = [];
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
        lease?.keep(chunks);
        chunks = [];
        afterRefused?.();
        reject(new InflateLimitError(reportedLimit));
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

/** The message's data, the sync-flush tail RFC 7692 §7.2.2 restores, and optionally the marker block. */
function withTail(data: Uint8Array, marked: boolean): Uint8Array {
  const out = new Uint8Array(data.length + TAIL.length + (marked ? MARKER_BLOCK.length : 0));
  out.set(data);
  out.set(TAIL, data.length);
  if (marked) out.set(MARKER_BLOCK, data.length + TAIL.length);
  return out;
}

const MARKER = new Uint8Array([0x4d, 0x41, 0x52, 0x4b]);
/**
 * MARKER deflated as a final block with fixed Huffman codes. Compressed, so that a stream
 * left inside a stored block (which copies bytes through) cannot produce MARKER from it.
 */
const MARKER_BLOCK = new Uint8Array([0xf3, 0x75, 0x0c, 0xf2, 0x06, 0x00]);

/**
 * Inflating a message on its own, with the window as dictionary, is what one long stream
 * does only if the message ends at a block boundary, as RFC 7692 §7.2.1 requires (its data
 * ends with an empty stored block, minus the 4 bytes restored). Then the marker block
 * appended after the tail inflates to exactly MARKER (and ends the stream), which is cut
 * off here. A peer whose message ends inside a block would have its next message mean
 * something else: it is refused as corrupt rather than inflated differently from a stream.
 */
function checkBoundary(out: Uint8Array, maxSize: number): Uint8Array {
  const n = out.length - MARKER.length;
  if (
    n < 0 ||
    out[n] !== MARKER[0] ||
    out[n + 1] !== MARKER[1] ||
    out[n + 2] !== MARKER[2] ||
    out[n + 3] !== MARKER[3]
  ) {
    // Without its marker, output past the cap means the message itself is too big (the
    // marker may simply have been cut off at the cap).
    if (out.length > maxSize) throw new InflateLimitError(maxSize);
    throw Object.assign(
      new Error('compressed message does not end at a DEFLATE block boundary (RFC 7692 7.2.1)'),
      { code: 'Z_DATA_ERROR' },
    );
  }
  return out.subarray(0, n);
}

function withoutTail(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff) {
    return data.subarray(0, n - 4);
  }
  return data;
}
