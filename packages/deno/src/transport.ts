/**
 * A `Deno.Conn` (TCP or TLS) as a fullduplex {@link Transport}: a byte pipe.
 *
 * Writing: `conn.write()` is asynchronous and may write part of what it is given
 * (TCP writes stop at the kernel's buffer, TLS writes at 64 KiB), so `write` starts
 * an async loop that writes each chunk until done, returns false, and calls
 * `onDrain` when the loop is through. Deno has no vectored write (`vectored` is
 * false: the session layer copies runs of chunks together first).
 *
 * Reading: one `conn.read()` in flight at a time, never while paused (at most the
 * chunk of the read already in flight is held until `resume()`). A pending read
 * pins its buffer for as long as the peer is silent, so the buffer is small
 * ({@link IDLE_READ_SIZE}) unless the last read filled its buffer (more is likely
 * waiting): an idle connection holds a few hundred bytes, not a large buffer. The
 * session layer keeps views of the chunks it is handed (zero-copy payloads, in-place
 * unmasking), so a chunk is never reused: a full large read hands its buffer over,
 * smaller reads are copied out so a few bytes never pin a large buffer.
 */
import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';

/** Buffer of a read while nothing suggests more is waiting. */
const IDLE_READ_SIZE = 512;
/**
 * Buffer of a read right after one that filled its buffer. Not larger: everything a
 * chunk holds is handled at once, and a chunk of thousands of tiny control frames made
 * that much short-lived garbage live at once that Deno's young generation promoted it,
 * growing the heap by tens of MiB under a ping or pong flood (larger reads gained no
 * throughput either).
 */
const BUSY_READ_SIZE = 16 * 1024;
/**
 * Full reads in a row after which the read loop yields to the event loop. Deno completes
 * a read of data already waiting without a trip through the event loop, so a peer that
 * keeps the socket full would otherwise keep the loop in microtasks and starve every
 * other connection and the listener.
 */
const FULL_READS_BEFORE_YIELD = 16;
/** How long `destroy()` lets a pending write (a 101 response, a close frame) finish. */
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
  /** The large buffer, kept between busy reads that were copied out. */
  private busyBuffer: Uint8Array | undefined;
  private lastReadFilled = false;
  private readEnded = false;

  // Writing.
  /** The chunks of the write in progress (the array is ours: `write` copies the list). */
  private writing: Uint8Array[] | undefined;
  private ended = false;
  private shuttingDown = false;
  /** Our FIN has been sent. */
  private writeShutdown = false;

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
    // Frames are already batched by the session layer; Nagle would only add latency.
    // Only TCP connections have it: Deno.TlsConn cannot disable Nagle (see the README).
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

  get vectored(): boolean {
    return false;
  }

  attach(handler: TransportHandler): void {
    if (this.handler) throw new TypeError('transport already attached');
    this.handler = handler;
    if (this.closed) queueMicrotask(() => this.deliverClose());
    else this.startReading();
  }

  // ------------------------------------------------------------ writing

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.ended || this.destroyed || this.closed || chunks.length === 0) return true;
    this.writing = chunks.slice();
    void this.writeLoop(this.writing);
    return false;
  }

  end(): void {
    if (this.ended || this.destroyed || this.closed) return;
    this.ended = true;
    if (this.writing === undefined) void this.shutdownWrite();
  }

  destroy(): void {
    if (this.destroyed || this.closed) return;
    this.destroyed = true;
    this.held = undefined;
    if (this.writing === undefined) {
      this.closeNow();
      return;
    }
    // Like a Node socket, bytes handed over before destroy() (the 101 response before
    // a terminate(), a close frame) still leave — but only for a moment: a peer that
    // does not read cannot hold the connection open.
    this.flushTimer = setTimeout(() => this.closeNow(), DESTROY_FLUSH_MS);
  }

  private async writeLoop(chunks: Uint8Array[]): Promise<void> {
    for (let i = 0; i < chunks.length; i++) {
      let chunk = chunks[i] as Uint8Array;
      // Written until done: `conn.write` may take part of it.
      while (chunk.length > 0) {
        let written: number;
        try {
          written = await this.conn.write(chunk);
        } catch (error) {
          this.closeNow(asError(error));
          return;
        }
        if (this.closed) return;
        chunk = chunk.subarray(written);
      }
    }
    this.writing = undefined;
    if (this.destroyed) {
      this.closeNow();
      return;
    }
    if (this.ended) {
      await this.shutdownWrite();
      return;
    }
    this.handler?.onDrain();
  }

  private async shutdownWrite(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    try {
      await this.conn.closeWrite();
    } catch (error) {
      this.closeNow(asError(error));
      return;
    }
    this.writeShutdown = true;
    if (!this.closed && (this.readEnded || this.destroyed)) this.closeNow();
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
    let fullReads = 0;
    while (!this.paused && !this.destroyed && !this.closed) {
      if (fullReads >= FULL_READS_BEFORE_YIELD) {
        fullReads = 0;
        await yieldToEventLoop();
        continue;
      }
      let chunk: Uint8Array | null;
      if (this.held !== undefined) {
        chunk = this.held;
        this.held = undefined;
      } else {
        const busy = this.lastReadFilled;
        if (busy) this.busyBuffer ??= new Uint8Array(BUSY_READ_SIZE);
        const buffer = busy ? (this.busyBuffer as Uint8Array) : new Uint8Array(IDLE_READ_SIZE);
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
        } else {
          this.lastReadFilled = n === buffer.length;
          fullReads = this.lastReadFilled ? fullReads + 1 : 0;
          if (!busy) {
            // The small buffer was fresh: hand it over as it is.
            chunk = buffer.subarray(0, n);
          } else if (n === buffer.length) {
            // The session keeps views of this chunk: it gets the buffer, the next busy read a new one.
            chunk = buffer;
            this.busyBuffer = undefined;
          } else {
            chunk = buffer.slice(0, n);
          }
          // Going idle: do not keep the large buffer for a read that may wait long.
          if (!this.lastReadFilled) this.busyBuffer = undefined;
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
    this.busyBuffer = undefined;
    this.handler?.onEnd();
    if (this.closed || this.destroyed) return;
    // No half-open connections (as Node's allowHalfOpen: false): our side ends too.
    if (this.writeShutdown) this.closeNow();
    else this.end();
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
    this.writing = undefined;
    this.held = undefined;
    this.busyBuffer = undefined;
    // A pending read or write now rejects; the loops see `closed` and stop.
    if (this.handler) queueMicrotask(() => this.deliverClose());
  }

  private deliverClose(): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    this.handler?.onClose(this.closeError);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Resolves from a timer: after the event loop has polled sockets and listeners again. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
