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
 * - Every `write()` is its own `sendto` (no corking, no vectored write). So runs
 *   of chunks (a frame header and its payload, a burst of small frames) are copied
 *   into one shared buffer and written at once, up to {@link COALESCE_LIMIT} bytes in
 *   all: copying that much costs less than a second `sendto` (measured: one copied
 *   write beats header + payload as two writes by ~1.6× at 16 KiB, ~1.2× at 64 KiB,
 *   ~1.1× at 128 KiB, and ties at 256 KiB). Bigger chunks are written as views.
 * - Everything written during one `onData` (the replies to all the frames of one
 *   read) is held until it returns and then leaves together, as Node's adapter does
 *   with `cork()`/`writev` per tick: one `sendto` for many messages.
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

/**
 * Runs of chunks of up to this many bytes in all (a frame header and its payload, a
 * burst of small frames) are copied into one buffer and written with one `socket.write()`.
 */
export const COALESCE_LIMIT = 256 * 1024;
/**
 * The same for the queue flushed on `drain` (a slow reader), where the socket takes
 * only part of a write: less is copied per write, and a remainder is not copied again
 * and again.
 */
const QUEUE_COALESCE_LIMIT = 64 * 1024;

/**
 * The buffer runs are copied into, shared by all transports: `socket.write()` has taken
 * (copied) what it reports before it returns, so it is free again at once; what it did
 * not take is copied out. Grows to {@link COALESCE_LIMIT} at most.
 */
let scratch = new Uint8Array(4096);

function scratchBuffer(size: number): Uint8Array {
  if (scratch.length < size) {
    let length = scratch.length * 2;
    while (length < size) length *= 2;
    scratch = new Uint8Array(Math.min(length, COALESCE_LIMIT));
  }
  return scratch;
}

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
  /** Inside `onData`: writes wait in `corked` until it returns, then leave together. */
  private corking = false;
  private corked: Uint8Array[] = [];
  private corkedBytes = 0;
  /** A `write()` returned false: `onDrain` is due once everything is written. */
  private drainDue = false;

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
    if (this.corking && this.queuedBytes === 0) {
      const corked = this.corked;
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i] as Uint8Array;
        if (chunk.length === 0) continue;
        corked.push(chunk);
        this.corkedBytes += chunk.length;
      }
      // No use holding more than one write's worth.
      if (this.corkedBytes >= COALESCE_LIMIT) this.uncork();
    } else {
      this.writeChunks(chunks);
    }
    if (this.queuedBytes === 0 && this.corkedBytes === 0) return true;
    this.drainDue = true;
    return false;
  }

  get bufferedAmount(): number {
    return this.queuedBytes + this.corkedBytes;
  }

  /**
   * Writes `chunks` in order: to the socket while it takes them (runs of small chunks
   * copied into one write), to the queue once it does not.
   */
  private writeChunks(chunks: readonly Uint8Array[]): void {
    const count = chunks.length;
    for (let i = 0; i < count; ) {
      let chunk = chunks[i++] as Uint8Array;
      if (chunk.length === 0) continue;
      if (this.queuedBytes !== 0) {
        this.queue.push(chunk);
        this.queuedBytes += chunk.length;
        continue;
      }
      let copied = false;
      if (chunk.length < COALESCE_LIMIT && i < count) {
        let end = i;
        let size = chunk.length;
        while (end < count) {
          const next = (chunks[end] as Uint8Array).length;
          if (size + next > COALESCE_LIMIT) break;
          size += next;
          end++;
        }
        if (end > i) {
          const buffer = scratchBuffer(size);
          buffer.set(chunk, 0);
          let at = chunk.length;
          for (; i < end; i++) {
            const part = chunks[i] as Uint8Array;
            buffer.set(part, at);
            at += part.length;
          }
          chunk = buffer.subarray(0, size);
          copied = true;
        }
      }
      const written = this.socketWrite(chunk);
      if (written === chunk.length) continue;
      if (written < 0 || this.writeClosed) {
        // Closed under us; Bun's `close` callback follows (or came).
        this.writeClosed = true;
        this.dropQueue();
        return;
      }
      // The scratch buffer is reused: what the socket did not take is copied out.
      const rest = copied ? chunk.slice(written) : written > 0 ? chunk.subarray(written) : chunk;
      this.queue.push(rest);
      this.queuedBytes += rest.length;
    }
  }

  /** `socket.write()`, with a `close` it may call delivered later, not from inside it. */
  private socketWrite(chunk: Uint8Array): number {
    const outer = this.inSocketCall;
    this.inSocketCall = true;
    try {
      return this.socket.write(chunk);
    } finally {
      this.inSocketCall = outer;
    }
  }

  /** Writes what was corked (inside `onData`, or before end/destroy). */
  private uncork(): void {
    const corked = this.corked;
    this.corkedBytes = 0;
    if (corked.length === 0) return;
    this.writeChunks(corked);
    corked.length = 0;
  }

  /** After `onData` returned: writes its writes, and drains if they all left. */
  private endCork(): void {
    this.corking = false;
    if (this.corkedBytes !== 0) this.uncork();
    if (this.drainDue && this.queuedBytes === 0 && !this.writeClosed && !this.ending) {
      this.drainDue = false;
      if (!this.destroyed && this.handler) this.callDrain(this.handler);
    }
  }

  /** @internal Bun's `drain`: the socket takes data again. */
  handleDrain(): void {
    if (this.queuedBytes === 0 || this.writeClosed) return;
    if (!this.flushQueue()) return;
    if (this.ending) {
      this.finishEnd();
    } else if (this.drainDue) {
      this.drainDue = false;
      if (!this.destroyed && this.handler) this.callDrain(this.handler);
    }
  }

  /** Writes queued chunks until the socket refuses more. Returns whether the queue emptied. */
  private flushQueue(): boolean {
    const queue = this.queue;
    let head = this.queueHead;
    while (head < queue.length) {
      let chunk = queue[head] as Uint8Array;
      let last = head;
      let copied = false;
      if (chunk.length < QUEUE_COALESCE_LIMIT && head + 1 < queue.length) {
        // Small chunks queued by separate sends (to a slow reader) leave in one write.
        let size = chunk.length;
        while (last + 1 < queue.length) {
          const next = (queue[last + 1] as Uint8Array).length;
          if (size + next > QUEUE_COALESCE_LIMIT) break;
          size += next;
          last++;
        }
        if (last > head) {
          const buffer = scratchBuffer(size);
          let at = 0;
          for (let k = head; k <= last; k++) {
            const part = queue[k] as Uint8Array;
            buffer.set(part, at);
            at += part.length;
          }
          chunk = buffer.subarray(0, size);
          copied = true;
        }
      }
      const written = this.socketWrite(chunk);
      if (written < 0 || this.writeClosed) {
        this.writeClosed = true;
        this.dropQueue();
        return false;
      }
      this.queuedBytes -= Math.max(written, 0);
      if (written < chunk.length) {
        // The rest stays queued: one entry in place of the run (copied out of the scratch buffer).
        for (let k = head; k < last; k++) queue[k] = undefined;
        queue[last] = copied ? chunk.slice(written) : written > 0 ? chunk.subarray(written) : chunk;
        this.compact(last);
        return false;
      }
      for (let k = head; k <= last; k++) queue[k] = undefined;
      head = last + 1;
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
    this.corked.length = 0;
    this.corkedBytes = 0;
  }

  end(): void {
    if (this.ending || this.writeClosed) return;
    if (this.corkedBytes !== 0) this.uncork();
    this.ending = true;
    if (this.queuedBytes === 0 && !this.writeClosed) this.finishEnd();
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
    // What was written before stays written, as far as the socket takes it now.
    if (this.corkedBytes !== 0 && !this.writeClosed) this.uncork();
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
    // Only the outermost call uncorks (onData is not expected to be re-entered).
    const outer = this.corking;
    this.corking = true;
    try {
      handler.onData(chunk);
    } catch (error) {
      rethrow(error);
    }
    if (!outer) this.endCork();
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
