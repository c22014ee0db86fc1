/**
 * A `Deno.Conn` (TCP or TLS) as a fullduplex {@link Transport}.
 *
 * Reading: one `conn.read()` in flight at a time, never while paused (at most the
 * chunk of the read already in flight is held until `resume()`). The session layer
 * keeps views of the chunks it is handed (zero-copy payloads, in-place unmasking),
 * so a chunk is never reused: a read that filled at least {@link HANDOVER_THRESHOLD}
 * bytes hands its buffer over and the next read gets a fresh one; a smaller read
 * is copied out (`slice`) so a few bytes never pin a 64 KiB buffer.
 *
 * Writing: `write()` only queues; an async writer drains the queue with
 * `conn.write()`, which may write partially (TCP writes stop at the kernel's buffer,
 * TLS writes at 64 KiB), so every chunk is written until done. Small chunks queued
 * together (frame headers, a burst of small messages) are coalesced into one write,
 * since Deno has no vectored write. `bufferedAmount` is the queued byte count.
 * Coalesced writes are copied into buffers from a small pool shared by all
 * connections ({@link POOL_SIZE} × 64 KiB at most), not into a fresh allocation each:
 * that measured +15–30% echo round trips per CPU-second at 16 KiB.
 */
import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';

/** Bytes per `conn.read()`. */
const READ_SIZE = 64 * 1024;
/**
 * Reads at least this large keep their buffer (no copy); smaller ones are copied out.
 * Copying up to 64 KiB measured cheaper than allocating a fresh zeroed buffer per read
 * (+15–20% echo round trips at 16 KiB), so only a full read hands its buffer over.
 * Reading into the unused rest of the buffer and handing over views (no copy, one
 * allocation per few reads) measured no better (0.98× at 16 KiB), and lets a small
 * message kept by the application pin 64 KiB.
 */
const HANDOVER_THRESHOLD = READ_SIZE;
/** `write()` returns false while more than this is queued. */
const HIGH_WATER_MARK = 64 * 1024;
/** Queued chunks smaller than this are merged into writes of up to this size. */
const COALESCE_SIZE = 64 * 1024;
/**
 * Coalescing buffers (of {@link COALESCE_SIZE}) kept for reuse. A buffer is lent for one
 * `conn.write()` and comes back when it resolves, so this many connections writing at
 * once get one; beyond that, a batch gets a buffer of its own, as without the pool.
 */
const POOL_SIZE = 32;
/** How long `destroy()` lets already-queued bytes (a 101 response, a close frame) drain. */
const DESTROY_FLUSH_MS = 100;

/**
 * What the transport needs of a connection: `Deno.TcpConn` and `Deno.TlsConn` are
 * both one (so is the `node:tls` stand-in used for `rejectUnauthorized: false`).
 */
export interface DenoConnLike {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  readonly remoteAddr: Deno.Addr;
  setNoDelay?(noDelay?: boolean): void;
}

/** Wraps a connected `Deno.Conn`. Nothing is read before `attach`. */
export class DenoConnTransport implements Transport, PendingTransport {
  readonly secure: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  private handler: TransportHandler | undefined;

  // Reading.
  private reading = false;
  private paused = false;
  /** A chunk (or `null`: end of stream) read while paused, delivered on resume. */
  private held: Uint8Array | null | undefined;
  private readBuffer: Uint8Array | undefined;
  private readEnded = false;

  // Writing.
  private queue: Uint8Array[] = [];
  private queueHead = 0;
  private queued = 0;
  private writing = false;
  private needDrain = false;
  private ended = false;
  private writeShutdown = false;
  /** The pool buffer the batch being written was copied into. */
  private lent: Uint8Array | undefined;

  // Closing.
  private destroyed = false;
  private closed = false;
  private closeDelivered = false;
  private closeError: Error | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly conn: DenoConnLike,
    secure: boolean,
  ) {
    this.secure = secure;
    const addr = conn.remoteAddr;
    if (addr.transport === 'tcp' || addr.transport === 'udp') {
      this.remoteAddress = addr.hostname;
      this.remotePort = addr.port;
    }
    // Frames are already batched by us; Nagle would only add latency. Only TCP
    // connections have it: Deno.TlsConn cannot disable Nagle (see the README).
    if (typeof conn.setNoDelay === 'function') {
      try {
        conn.setNoDelay(true);
      } catch {
        // Already closed: the first read reports it.
      }
    }
  }

  get transport(): Transport {
    return this;
  }

  attach(handler: TransportHandler): void {
    if (this.handler) throw new TypeError('transport already attached');
    this.handler = handler;
    if (this.closed) queueMicrotask(() => this.deliverClose());
    else this.startReading();
  }

  // ------------------------------------------------------------ writing

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.ended || this.destroyed || this.closed) return false;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] as Uint8Array;
      if (chunk.length === 0) continue;
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
    this.startWriting();
    if (this.queued > HIGH_WATER_MARK) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  end(): void {
    if (this.ended || this.destroyed || this.closed) return;
    this.ended = true;
    this.startWriting();
  }

  destroy(): void {
    if (this.destroyed || this.closed) return;
    this.destroyed = true;
    this.held = undefined;
    if (this.queued === 0 && !this.writing) {
      this.closeNow();
      return;
    }
    // Like a Node socket, bytes written before destroy() (the 101 response before a
    // terminate(), a close frame) still leave — but only for a moment: a peer that
    // does not read cannot hold the connection open.
    this.flushTimer = setTimeout(() => this.closeNow(), DESTROY_FLUSH_MS);
  }

  /** Starts the writer on the next microtask, so writes of the same turn leave together. */
  private startWriting(): void {
    if (this.writing) return;
    this.writing = true;
    queueMicrotask(() => void this.writeLoop());
  }

  private async writeLoop(): Promise<void> {
    try {
      for (;;) {
        const batch = this.nextBatch();
        if (batch !== undefined) {
          // Written until done: `conn.write` may take part of it.
          let at = 0;
          while (at < batch.length) {
            let written: number;
            try {
              written = await this.conn.write(at === 0 ? batch : batch.subarray(at));
            } catch (error) {
              this.closeNow(asError(error));
              return;
            }
            if (this.closed) return;
            at += written;
            this.queued -= written;
          }
          const lent = this.lent;
          if (lent !== undefined) {
            this.lent = undefined;
            pool.push(lent);
          }
          continue;
        }
        if (this.closed) return;
        if (this.destroyed) {
          this.closeNow();
          return;
        }
        if (!this.needDrain) break;
        this.needDrain = false;
        this.handler?.onDrain();
        if (this.closed) return;
        // Unless the drain handler wrote more, the queue is still empty.
        if (this.queued === 0) break;
      }
      if (this.ended && !this.writeShutdown) {
        try {
          await this.conn.closeWrite();
        } catch (error) {
          this.closeNow(asError(error));
          return;
        }
        this.writeShutdown = true;
        if (!this.closed && (this.readEnded || this.destroyed)) this.closeNow();
      }
    } finally {
      this.writing = false;
    }
  }

  /** The next bytes to write: a large chunk as is, or small ones merged into one buffer. */
  private nextBatch(): Uint8Array | undefined {
    const queue = this.queue;
    if (this.queueHead >= queue.length) {
      if (queue.length !== 0) {
        this.queue = [];
        this.queueHead = 0;
      }
      return undefined;
    }
    const first = queue[this.queueHead] as Uint8Array;
    if (first.length >= COALESCE_SIZE || this.queueHead + 1 === queue.length) {
      queue[this.queueHead++] = EMPTY;
      return first;
    }
    const size = Math.min(this.queued, COALESCE_SIZE);
    let buffer = pool.pop();
    if (buffer === undefined && poolBuffers < POOL_SIZE) {
      poolBuffers++;
      buffer = new Uint8Array(COALESCE_SIZE);
    }
    let batch: Uint8Array;
    if (buffer !== undefined) {
      this.lent = buffer;
      batch = buffer.subarray(0, size);
    } else {
      batch = new Uint8Array(size);
    }
    let filled = 0;
    while (filled < size) {
      const chunk = queue[this.queueHead] as Uint8Array;
      const take = Math.min(chunk.length, size - filled);
      batch.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) queue[this.queueHead++] = EMPTY;
      else queue[this.queueHead] = chunk.subarray(take);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > queue.length) {
      this.queue = queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return batch;
  }

  // ------------------------------------------------------------ reading

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.startReading();
  }

  /** Starts the read loop on the next microtask (a held chunk is never delivered re-entrantly). */
  private startReading(): void {
    if (this.reading || this.paused || !this.handler || this.readEnded || this.destroyed || this.closed)
      return;
    this.reading = true;
    queueMicrotask(() => void this.readLoop());
  }

  private async readLoop(): Promise<void> {
    const handler = this.handler as TransportHandler;
    while (!this.paused && !this.destroyed && !this.closed) {
      let chunk: Uint8Array | null;
      if (this.held !== undefined) {
        chunk = this.held;
        this.held = undefined;
      } else {
        let buffer = this.readBuffer;
        if (buffer === undefined) {
          buffer = new Uint8Array(READ_SIZE);
          this.readBuffer = buffer;
        }
        let n: number | null;
        try {
          n = await this.conn.read(buffer);
        } catch (error) {
          this.reading = false;
          if (!this.closed && !this.destroyed) this.closeNow(asError(error));
          return;
        }
        if (this.destroyed || this.closed) break;
        if (n === null) {
          chunk = null;
        } else if (n === 0) {
          continue;
        } else if (n >= HANDOVER_THRESHOLD) {
          // The session keeps views of this chunk: it gets the buffer, we get a new one.
          chunk = buffer.subarray(0, n);
          this.readBuffer = undefined;
        } else {
          chunk = buffer.slice(0, n);
        }
        if (this.paused) {
          this.held = chunk;
          break;
        }
      }
      if (chunk === null) {
        this.reading = false;
        this.onEndOfStream();
        return;
      }
      handler.onData(chunk);
    }
    this.reading = false;
  }

  private onEndOfStream(): void {
    this.readEnded = true;
    this.readBuffer = undefined;
    this.handler?.onEnd();
    if (this.closed || this.destroyed) return;
    // No half-open connections (as Node's allowHalfOpen: false): our side ends too.
    this.end();
    if (this.writeShutdown) this.closeNow();
  }

  // ------------------------------------------------------------ closing

  private closeNow(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError ??= error;
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    try {
      this.conn.close();
    } catch {
      // Already closed (Deno throws BadResource on a second close).
    }
    this.queue = [];
    this.queueHead = 0;
    this.queued = 0;
    if (this.lent !== undefined) {
      // A write may still be using it: it is not returned to the pool, another takes its place.
      this.lent = undefined;
      poolBuffers--;
    }
    this.held = undefined;
    this.readBuffer = undefined;
    // A pending read or write now rejects; the loops see `closed` and stop.
    if (this.handler) queueMicrotask(() => this.deliverClose());
  }

  private deliverClose(): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    this.handler?.onClose(this.closeError);
  }
}

const EMPTY = new Uint8Array(0);

/** Coalescing buffers not lent out. */
const pool: Uint8Array[] = [];
/** Pool buffers in existence (in `pool` or lent): at most {@link POOL_SIZE}. */
let poolBuffers = 0;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
