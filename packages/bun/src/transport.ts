/**
 * A `Bun.listen` / `Bun.connect` socket as a fullduplex {@link Transport}.
 *
 * Bun's socket handlers are per listener (or per `Bun.connect` call), not per
 * socket: {@link socketHandlers} is one shared set whose callbacks find the
 * transport in `socket.data`. What Bun does that Node does not, and how it is
 * handled here (measured on Bun 1.4.5; `transport.test.ts` pins it down):
 *
 * - `socket.write()` is unbuffered: it returns how many bytes the kernel (or the
 *   TLS layer) took, possibly fewer than given, `0` once the send buffer is full
 *   and `-1` once the socket is closed. The rest waits here, in a queue of views
 *   (never copies of whole chunks), is flushed from the `drain` callback and is
 *   what `bufferedAmount` reports.
 * - Every `write()` is its own `sendto` (no corking, not even inside callbacks).
 *   Runs of small chunks (a frame header and its small payload, many small frames)
 *   are copied into one buffer and written at once; chunks above
 *   {@link COALESCE_LIMIT} are written as views.
 * - `socket.end()` is not a half-close: it closes the socket once flushed, and
 *   calls `close` synchronously. `end()` here uses `shutdown()` (FIN, keep
 *   reading) on sockets opened with `allowHalfOpen: true`, like a Node socket;
 *   Bun closes the socket once both sides have sent FIN.
 * - `terminate()` closes with `SO_LINGER` 0: the peer gets a TCP reset, and what
 *   still sat in the kernel's send buffer is discarded (Node's `destroy()` sends
 *   a FIN after it). It too calls `close` synchronously; `onClose` is deferred to
 *   a microtask so the session layer never sees it from inside its own call.
 * - Chunks passed to `data` are fresh buffers (one `ArrayBuffer` per callback, of
 *   exactly the chunk's size); Bun does not reuse them, so they go to the session
 *   layer without a copy (it keeps views of them and unmasks in place).
 * - `pause()`/`resume()` stop and restart reading. A TLS socket may still report
 *   the peer's FIN while paused (when it came in with the last read); that, and
 *   any chunk that would arrive while paused, is held here until `resume()`.
 */

import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';
import type { Socket, SocketHandler } from 'bun';

/** Chunks up to this size are coalesced into one write with their small neighbours. */
export const COALESCE_LIMIT = 16 * 1024;

/** A Bun socket whose `data` is its transport. */
export type BunSocket = Socket<BunSocketTransport>;

/** Settles a pending dial (client sockets only). */
interface DialCallbacks {
  resolve(transport: BunSocketTransport): void;
  reject(error: Error): void;
}

/**
 * Wraps one Bun socket. Events that arrive before `attach` are held and delivered
 * by it, in order.
 */
export class BunSocketTransport implements Transport, PendingTransport {
  readonly secure: boolean;
  /** @internal The Bun socket; unset until a dialled socket opens. */
  socket: BunSocket;
  /** @internal Set while a `Bun.connect` for this transport is pending. */
  dial: DialCallbacks | undefined;
  private handler: TransportHandler | undefined;

  /** Unwritten bytes, in order: views of what `write` was given. */
  private queue: (Uint8Array | undefined)[] = [];
  /** Index of the first unwritten chunk in `queue`. */
  private queueHead = 0;
  private queuedBytes = 0;

  /** Received chunks not yet delivered (before `attach`, or while paused). */
  private held: Uint8Array[] | undefined;
  /** The peer's FIN arrived and is not yet delivered. */
  private heldEnd = false;
  private paused = false;
  /** A microtask that delivers held events is scheduled. */
  private releasing = false;

  /** `end()` was called: FIN once the queue is flushed. */
  private ending = false;
  /** FIN sent, or the socket is gone: nothing more is written. */
  private writeClosed = false;
  /** `destroy()` was called: nothing more is delivered but `onClose`. */
  private destroyed = false;
  /** Inside a socket call after which Bun may call `close` synchronously. */
  private inSocketCall = false;
  private lastError: Error | undefined;
  /** The socket is gone; `onClose` was delivered or is scheduled. */
  private closed = false;
  private closeDelivered = false;
  /** Read once when bound: Bun's getters return nothing once the socket is closed. */
  private peerAddress: string | undefined;
  private peerPort: number | undefined;

  /**
   * Wraps an open Bun socket and sets its `data` to this transport, where
   * {@link socketHandlers} look for it. Dialled sockets are bound when they open.
   */
  constructor(socket: BunSocket | undefined, secure: boolean) {
    this.secure = secure;
    this.socket = undefined as unknown as BunSocket;
    if (socket) this.bind(socket);
  }

  /** @internal */
  bind(socket: BunSocket): void {
    this.socket = socket;
    socket.data = this;
    this.peerAddress = socket.remoteAddress || undefined;
    this.peerPort = socket.remotePort || undefined;
    // Frames are already batched by us; Nagle would only add latency.
    socket.setNoDelay(true);
  }

  get transport(): Transport {
    return this;
  }

  attach(handler: TransportHandler): void {
    if (this.handler) throw new TypeError('transport already attached');
    this.handler = handler;
    if (this.held !== undefined || this.heldEnd || this.closed) this.scheduleRelease();
  }

  // ------------------------------------------------------------ writing

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.writeClosed || this.ending) return false;
    const count = chunks.length;
    for (let i = 0; i < count; ) {
      let chunk = chunks[i++] as Uint8Array;
      if (chunk.length === 0) continue;
      if (chunk.length <= COALESCE_LIMIT && i < count) {
        // Merge with the small chunks that follow, up to COALESCE_LIMIT in all.
        let end = i;
        let size = chunk.length;
        while (end < count) {
          const next = (chunks[end] as Uint8Array).length;
          if (next > COALESCE_LIMIT || size + next > COALESCE_LIMIT) break;
          size += next;
          end++;
        }
        if (end > i) {
          const merged = new Uint8Array(size);
          merged.set(chunk, 0);
          let at = chunk.length;
          for (; i < end; i++) {
            const part = chunks[i] as Uint8Array;
            merged.set(part, at);
            at += part.length;
          }
          chunk = merged;
        }
      }
      if (this.queuedBytes === 0) {
        const written = this.socket.write(chunk);
        if (written === chunk.length) continue;
        if (written < 0) {
          // Closed under us; Bun's `close` callback follows.
          this.writeClosed = true;
          this.dropQueue();
          return false;
        }
        if (written > 0) chunk = chunk.subarray(written);
      }
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
    }
    return this.queuedBytes === 0;
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  /** @internal Bun's `drain`: the socket takes data again. */
  handleDrain(): void {
    if (this.queuedBytes === 0 || this.writeClosed) return;
    if (!this.flushQueue()) return;
    if (this.ending) this.finishEnd();
    else if (!this.destroyed && this.handler) this.callDrain(this.handler);
  }

  /** Writes queued chunks until the socket refuses more. Returns whether the queue emptied. */
  private flushQueue(): boolean {
    const queue = this.queue;
    const socket = this.socket;
    let head = this.queueHead;
    while (head < queue.length) {
      let chunk = queue[head] as Uint8Array;
      if (chunk.length <= COALESCE_LIMIT && head + 1 < queue.length) {
        // Small chunks queued by separate sends (to a slow reader) leave in one write.
        let take = 1;
        let size = chunk.length;
        while (head + take < queue.length) {
          const next = (queue[head + take] as Uint8Array).length;
          if (next > COALESCE_LIMIT || size + next > COALESCE_LIMIT) break;
          size += next;
          take++;
        }
        if (take > 1) {
          const merged = new Uint8Array(size);
          let at = 0;
          for (let k = 0; k < take; k++) {
            const part = queue[head + k] as Uint8Array;
            queue[head + k] = undefined;
            merged.set(part, at);
            at += part.length;
          }
          head += take - 1;
          queue[head] = chunk = merged;
        }
      }
      const written = socket.write(chunk);
      if (written < 0) {
        this.writeClosed = true;
        this.dropQueue();
        return false;
      }
      if (written < chunk.length) {
        this.queuedBytes -= written;
        queue[head] = written > 0 ? chunk.subarray(written) : chunk;
        this.compact(head);
        return false;
      }
      this.queuedBytes -= written;
      queue[head++] = undefined;
    }
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    return true;
  }

  /** Drops written entries from the front once they are most of the array. */
  private compact(head: number): void {
    if (head > 1024 && head * 2 > this.queue.length) {
      this.queue = this.queue.slice(head);
      this.queueHead = 0;
    } else {
      this.queueHead = head;
    }
  }

  private dropQueue(): void {
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
  }

  end(): void {
    if (this.ending || this.writeClosed) return;
    this.ending = true;
    if (this.queuedBytes === 0) this.finishEnd();
  }

  /** Sends FIN and keeps reading; Bun closes the socket once the peer's FIN is in too. */
  private finishEnd(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    this.inSocketCall = true;
    try {
      this.socket.shutdown();
    } finally {
      this.inSocketCall = false;
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.writeClosed = true;
    this.dropQueue();
    this.held = undefined;
    this.heldEnd = false;
    if (this.closed) return;
    this.inSocketCall = true;
    try {
      this.socket?.terminate();
    } finally {
      this.inSocketCall = false;
    }
    // Bun calls `close` from terminate(); should it not, onClose must follow all the same.
    if (!this.closed) this.handleClose(undefined);
  }

  // ------------------------------------------------------------ reading

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    if (!this.closed) this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.held !== undefined || this.heldEnd) this.scheduleRelease();
    if (!this.closed) this.socket.resume();
  }

  /** @internal Bun's `data`. */
  handleData(chunk: Uint8Array): void {
    if (this.closed || this.destroyed) return;
    const handler = this.handler;
    if (handler === undefined || this.paused || this.held !== undefined) {
      this.held ??= [];
      this.held.push(chunk);
      return;
    }
    this.callData(handler, chunk);
  }

  /** @internal Bun's `end`: the peer sent FIN. */
  handleEnd(): void {
    if (this.closed || this.destroyed) return;
    const handler = this.handler;
    if (handler === undefined || this.paused || this.held !== undefined) {
      this.heldEnd = true;
      return;
    }
    this.callEnd(handler);
  }

  /** @internal Bun's `error`: a socket or TLS error; `close` follows. */
  handleError(error: Error): void {
    this.lastError = error;
  }

  /** @internal Bun's `close`. */
  handleClose(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.writeClosed = true;
    this.dropQueue();
    if (error) this.lastError = error;
    if (this.handler === undefined) return; // attach() delivers it
    if (this.inSocketCall || this.releasing || this.held !== undefined || this.heldEnd) {
      this.scheduleRelease();
      return;
    }
    this.deliverClose();
  }

  private scheduleRelease(): void {
    if (this.releasing) return;
    this.releasing = true;
    queueMicrotask(() => this.release());
  }

  /**
   * Delivers held chunks and a held FIN while not paused, then `onClose` if the
   * socket is gone. A closed socket's held data is delivered even while paused:
   * it cannot be read later.
   */
  private release(): void {
    this.releasing = false;
    const handler = this.handler;
    if (handler === undefined) return;
    const held = this.held;
    if (held !== undefined) {
      let i = 0;
      while (i < held.length && this.held === held && (!this.paused || this.closed)) {
        this.callData(handler, held[i++] as Uint8Array);
      }
      if (this.held !== held) return; // destroy() dropped them; its close is scheduled
      if (i < held.length) {
        this.held = held.slice(i);
        return;
      }
      this.held = undefined;
    }
    if (this.heldEnd && (!this.paused || this.closed)) {
      this.heldEnd = false;
      this.callEnd(handler);
    }
    if (this.closed && !this.heldEnd) this.deliverClose();
  }

  private deliverClose(): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    this.held = undefined;
    const handler = this.handler;
    if (handler === undefined) return;
    try {
      handler.onClose(this.lastError);
    } catch (error) {
      rethrow(error);
    }
  }

  private callData(handler: TransportHandler, chunk: Uint8Array): void {
    try {
      handler.onData(chunk);
    } catch (error) {
      rethrow(error);
    }
  }

  private callEnd(handler: TransportHandler): void {
    try {
      handler.onEnd();
    } catch (error) {
      rethrow(error);
    }
  }

  private callDrain(handler: TransportHandler): void {
    try {
      handler.onDrain();
    } catch (error) {
      rethrow(error);
    }
  }

  get remoteAddress(): string | undefined {
    return this.peerAddress;
  }

  get remotePort(): number | undefined {
    return this.peerPort;
  }
}

/**
 * Rethrows an exception from application code (a `message`, `drain` or `close`
 * listener) outside Bun's callback, where it is an uncaught exception as on Node.
 * Thrown inside the callback it would go to the socket's `error` handler and be
 * mistaken for a socket error.
 */
function rethrow(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * The callbacks every socket shares (Bun's handlers are per listener, not per
 * socket): each forwards to the transport in `socket.data`. Listeners and dialers
 * add `open` (and `handshake`, `connectError`).
 */
export const socketHandlers = {
  binaryType: 'uint8array',
  data(socket: BunSocket, chunk: Uint8Array): void {
    socket.data?.handleData(chunk);
  },
  drain(socket: BunSocket): void {
    socket.data?.handleDrain();
  },
  end(socket: BunSocket): void {
    socket.data?.handleEnd();
  },
  error(socket: BunSocket, error: Error): void {
    socket.data?.handleError(error);
  },
  close(socket: BunSocket, error?: Error): void {
    socket.data?.handleClose(error);
  },
} satisfies SocketHandler<BunSocketTransport, 'uint8array'>;
