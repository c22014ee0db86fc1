/**
 * A `Bun.listen` / `Bun.connect` socket as a fullduplex {@link Transport}: a byte pipe.
 *
 * Bun's socket handlers are per listener (or per `Bun.connect` call), not per
 * socket: {@link socketHandlers} is one shared set whose callbacks find the
 * transport in `socket.data`. What Bun does that Node does not, and how it is
 * handled here (measured on Bun 1.4.5; `transport.test.ts` pins it down):
 *
 * - `socket.write()` is unbuffered: it returns how many bytes the kernel (or the
 *   TLS layer) took, possibly fewer than given, `0` once the send buffer is full
 *   and `-1` once the socket is closed. What it did not take stays here as views of
 *   the chunks given (the session layer does not touch them until `onDrain`), and
 *   is written from Bun's `drain` callback.
 * - Every `write()` is its own `sendto`: there is no vectored write, so the session
 *   layer copies runs of chunks together before they get here (`vectored` is false).
 * - `socket.end()` is not a half-close: it closes the socket once flushed, and
 *   calls `close` synchronously. `end()` here uses `shutdown()` (FIN, keep
 *   reading) on sockets opened with `allowHalfOpen: true`, like a Node socket;
 *   Bun closes the socket once both sides have sent FIN.
 * - `terminate()` closes with `SO_LINGER` 0: the peer gets a TCP reset, and what
 *   still sat in the kernel's send buffer is discarded. It too calls `close`
 *   synchronously; like every callback that Bun makes from inside one of our calls,
 *   `onClose` is deferred to a microtask, so the handler never sees it from inside
 *   a transport method.
 * - Chunks passed to `data` are fresh buffers (one `ArrayBuffer` per callback, of
 *   exactly the chunk's size); Bun does not reuse them, so they go to the session
 *   layer without a copy (it keeps views of them and unmasks in place).
 * - `pause()`/`resume()` stop and restart reading. A TLS socket may still report
 *   the peer's FIN while paused (when it came in with the last read); that, and
 *   any chunk that would arrive while paused, is held here until `resume()`.
 */

import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';
import type { Socket, SocketHandler } from 'bun';

/** A Bun socket whose `data` is its transport. */
export type BunSocket = Socket<BunSocketTransport>;

/** Settles a pending dial (client sockets only). */
interface DialCallbacks {
  resolve(transport: BunSocketTransport): void;
  reject(error: Error): void;
}

/** `flags` bits. */
const PAUSED = 1;
/** `end()` was called: FIN once the pending write is done. */
const ENDING = 2;
/** FIN sent, or the socket is gone: nothing more is written. */
const WRITE_CLOSED = 4;
/** `destroy()` was called: nothing more is delivered but `onClose`. */
const DESTROYED = 8;
/** The socket is gone; `onClose` was delivered or is scheduled. */
const CLOSED = 16;
const CLOSE_DELIVERED = 32;
/** Inside a socket call after which Bun may call `close` synchronously. */
const IN_SOCKET_CALL = 64;
/** A microtask that delivers held events is scheduled. */
const RELEASING = 128;
/** The peer's FIN arrived and is not yet delivered. */
const HELD_END = 256;

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
  private flags = 0;
  /** What the socket has not taken of the pending write, in order; undefined when none is pending. */
  private pending: Uint8Array[] | undefined;
  /** Received chunks not yet delivered (before `attach`, or while paused). */
  private held: Uint8Array[] | undefined;
  private lastError: Error | undefined;
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
    // Frames are already batched by the session layer; Nagle would only add latency.
    socket.setNoDelay(true);
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
    if (this.held !== undefined || (this.flags & (HELD_END | CLOSED)) !== 0) this.scheduleRelease();
  }

  // ------------------------------------------------------------ writing

  write(chunks: readonly Uint8Array[]): boolean {
    if ((this.flags & (WRITE_CLOSED | ENDING)) !== 0) return true;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] as Uint8Array;
      if (chunk.length === 0) continue;
      const written = this.socketWrite(chunk);
      if (written === chunk.length) continue;
      if (written < 0 || (this.flags & WRITE_CLOSED) !== 0) {
        // Closed under us; Bun's `close` callback follows (or came).
        this.flags |= WRITE_CLOSED;
        return true;
      }
      const pending = [written > 0 ? chunk.subarray(written) : chunk];
      for (let k = i + 1; k < chunks.length; k++) pending.push(chunks[k] as Uint8Array);
      this.pending = pending;
      return false;
    }
    return true;
  }

  /** `socket.write()`, with a `close` it may call delivered later, not from inside it. */
  private socketWrite(chunk: Uint8Array): number {
    const outer = this.flags & IN_SOCKET_CALL;
    this.flags |= IN_SOCKET_CALL;
    try {
      return this.socket.write(chunk);
    } finally {
      if (outer === 0) this.flags &= ~IN_SOCKET_CALL;
    }
  }

  /** @internal Bun's `drain`: the socket takes data again. */
  handleDrain(): void {
    const pending = this.pending;
    if (pending === undefined || (this.flags & WRITE_CLOSED) !== 0) return;
    while (pending.length > 0) {
      const chunk = pending[0] as Uint8Array;
      const written = this.socketWrite(chunk);
      if (written < 0 || (this.flags & WRITE_CLOSED) !== 0) {
        this.flags |= WRITE_CLOSED;
        this.pending = undefined;
        return;
      }
      if (written < chunk.length) {
        if (written > 0) pending[0] = chunk.subarray(written);
        return;
      }
      pending.shift();
    }
    this.pending = undefined;
    if ((this.flags & ENDING) !== 0) this.finishEnd();
    else if ((this.flags & DESTROYED) === 0) this.callHandler(DRAIN);
  }

  end(): void {
    if ((this.flags & (ENDING | WRITE_CLOSED)) !== 0) return;
    this.flags |= ENDING;
    if (this.pending === undefined) this.finishEnd();
  }

  /** Sends FIN and keeps reading; Bun closes the socket once the peer's FIN is in too. */
  private finishEnd(): void {
    if ((this.flags & WRITE_CLOSED) !== 0) return;
    this.flags |= WRITE_CLOSED | IN_SOCKET_CALL;
    try {
      this.socket.shutdown();
    } finally {
      this.flags &= ~IN_SOCKET_CALL;
    }
  }

  destroy(): void {
    if ((this.flags & DESTROYED) !== 0) return;
    this.flags |= DESTROYED | WRITE_CLOSED;
    this.flags &= ~HELD_END;
    this.pending = undefined;
    this.held = undefined;
    if ((this.flags & CLOSED) !== 0) return;
    this.flags |= IN_SOCKET_CALL;
    try {
      this.socket?.terminate();
    } finally {
      this.flags &= ~IN_SOCKET_CALL;
    }
    // Bun calls `close` from terminate(); should it not, onClose must follow all the same.
    if ((this.flags & CLOSED) === 0) this.handleClose(undefined);
  }

  // ------------------------------------------------------------ reading

  pause(): void {
    if ((this.flags & PAUSED) !== 0) return;
    this.flags |= PAUSED;
    if ((this.flags & CLOSED) === 0) this.socket.pause();
  }

  resume(): void {
    if ((this.flags & PAUSED) === 0) return;
    this.flags &= ~PAUSED;
    // Held events are delivered from a microtask: never from inside resume().
    if (this.held !== undefined || (this.flags & HELD_END) !== 0) this.scheduleRelease();
    if ((this.flags & CLOSED) === 0) this.socket.resume();
  }

  /** @internal Bun's `data`. */
  handleData(chunk: Uint8Array): void {
    if ((this.flags & (CLOSED | DESTROYED)) !== 0) return;
    const handler = this.handler;
    if (handler === undefined || (this.flags & PAUSED) !== 0 || this.held !== undefined) {
      this.held ??= [];
      this.held.push(chunk);
      return;
    }
    try {
      handler.onData(chunk);
    } catch (error) {
      rethrow(error);
    }
  }

  /** @internal Bun's `end`: the peer sent FIN. */
  handleEnd(): void {
    if ((this.flags & (CLOSED | DESTROYED)) !== 0) return;
    if (this.handler === undefined || (this.flags & PAUSED) !== 0 || this.held !== undefined) {
      this.flags |= HELD_END;
      return;
    }
    this.callHandler(END);
  }

  /** @internal Bun's `error`: a socket or TLS error; `close` follows. */
  handleError(error: Error): void {
    this.lastError = error;
  }

  /** @internal Bun's `close`. */
  handleClose(error: Error | undefined): void {
    if ((this.flags & CLOSED) !== 0) return;
    this.flags |= CLOSED | WRITE_CLOSED;
    this.pending = undefined;
    if (error) this.lastError = error;
    if (this.handler === undefined) return; // attach() delivers it
    if ((this.flags & (IN_SOCKET_CALL | RELEASING | HELD_END)) !== 0 || this.held !== undefined) {
      this.scheduleRelease();
      return;
    }
    this.deliverClose();
  }

  private scheduleRelease(): void {
    if ((this.flags & RELEASING) !== 0) return;
    this.flags |= RELEASING;
    queueMicrotask(() => this.release());
  }

  /**
   * Delivers held chunks and a held FIN while not paused, then `onClose` if the
   * socket is gone. A closed socket's held data is delivered even while paused:
   * it cannot be read later.
   */
  private release(): void {
    this.flags &= ~RELEASING;
    const handler = this.handler;
    if (handler === undefined) return;
    const open = (): boolean => (this.flags & PAUSED) === 0 || (this.flags & CLOSED) !== 0;
    const held = this.held;
    if (held !== undefined) {
      let i = 0;
      while (i < held.length && this.held === held && open()) {
        try {
          handler.onData(held[i++] as Uint8Array);
        } catch (error) {
          rethrow(error);
        }
      }
      if (this.held !== held) return; // destroy() dropped them; its close is scheduled
      if (i < held.length) {
        this.held = held.slice(i);
        return;
      }
      this.held = undefined;
    }
    if ((this.flags & HELD_END) !== 0 && open()) {
      this.flags &= ~HELD_END;
      this.callHandler(END);
    }
    if ((this.flags & (CLOSED | HELD_END)) === CLOSED) this.deliverClose();
  }

  private deliverClose(): void {
    if ((this.flags & CLOSE_DELIVERED) !== 0) return;
    this.flags |= CLOSE_DELIVERED;
    this.held = undefined;
    if (this.handler !== undefined) this.callHandler(CLOSE);
  }

  /** Calls the handler outside Bun's own error handling (see {@link rethrow}). */
  private callHandler(event: typeof DRAIN | typeof END | typeof CLOSE): void {
    const handler = this.handler as TransportHandler;
    try {
      if (event === DRAIN) handler.onDrain();
      else if (event === END) handler.onEnd();
      else handler.onClose(this.lastError);
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

const DRAIN = 0;
const END = 1;
const CLOSE = 2;

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
