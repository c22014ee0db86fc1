/**
 * A `node:net` / `node:tls` socket as a fullduplex {@link Transport}: a byte pipe.
 *
 * Node's socket buffers whatever it is given, so `write` always "takes" the chunks;
 * what matters to the session layer is whether the kernel has them yet.
 * `writableLength` says so right after the write (libuv tries it synchronously). When
 * it had to wait: sockets we create have a writable high-water mark of 1 byte, so any
 * wait ends with a `'drain'` event (checked against `writableLength`, since a corked
 * write that finished at once may announce one too); on sockets made elsewhere (an
 * `http.Server`'s, whose mark we cannot set) the last chunk's write callback says it,
 * as Node runs write callbacks in order.
 *
 * The socket's listeners are functions shared by all sockets, finding their transport
 * on the socket: no closures per connection.
 */
import type { Socket } from 'node:net';
import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';

/** The high-water mark the adapter gives the sockets it creates (see above). */
export const SOCKET_HIGH_WATER_MARK = 1;

/** Where a socket's shared listeners find their transport. */
const kTransport = Symbol('fullduplex transport');
type TransportSocket = Socket & { [kTransport]?: NodeSocketTransport };

/** Wraps a connected socket. Listeners are added by `attach`, not before. */
export class NodeSocketTransport implements Transport, PendingTransport {
  readonly secure: boolean;
  /** @internal */
  handler: TransportHandler | undefined;
  /** Write callbacks still to come. */
  private callbacks = 0;
  /** A write returned false: `onDrain` is owed once the callbacks are in. */
  private drainOwed = false;
  /** @internal The socket's last error, reported with `onClose`. */
  lastError: Error | undefined;
  private closeDelivered = false;
  /** The socket announces every wait with 'drain' (its high-water mark is 1 byte). */
  private readonly drainEvents: boolean;

  constructor(
    readonly socket: Socket,
    secure?: boolean,
  ) {
    this.secure = secure ?? (socket as Socket & { encrypted?: boolean }).encrypted === true;
    this.drainEvents = socket.writableHighWaterMark <= SOCKET_HIGH_WATER_MARK;
    // Frames are already batched by the session layer; Nagle would only add latency.
    socket.setNoDelay(true);
  }

  get transport(): Transport {
    return this;
  }

  get vectored(): boolean {
    return true;
  }

  attach(handler: TransportHandler): void {
    if (this.handler) throw new TypeError('transport already attached');
    this.handler = handler;
    const socket = this.socket as TransportSocket;
    // Listeners shared by every socket (no closures per connection): they find the
    // transport on the socket.
    socket[kTransport] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    if (this.drainEvents) socket.on('drain', onSocketDrain);
    // Closed before we got here: its 'close' event may already have been emitted.
    if (socket.destroyed) queueMicrotask(() => this.deliverClose());
  }

  /** @internal */
  deliverClose(): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    this.handler?.onClose(this.lastError);
  }

  /** @internal Everything written so far has left (a 'drain', or the last write callback). */
  drained(): void {
    if (!this.drainOwed || this.socket.writableLength !== 0) return;
    this.drainOwed = false;
    this.handler?.onDrain();
  }

  write(chunks: readonly Uint8Array[]): boolean {
    const socket = this.socket;
    const count = chunks.length;
    if (count === 0 || socket.destroyed || socket.writableEnded) return true;
    // Without 'drain' for every wait, the last chunk's callback tells (see the top).
    const callback = this.drainEvents ? undefined : this.writeCallback();
    if (count === 1) {
      socket.write(chunks[0] as Uint8Array, callback);
    } else {
      // Corked, the chunks leave in one writev.
      socket.cork();
      for (let i = 0; i < count - 1; i++) socket.write(chunks[i] as Uint8Array);
      socket.write(chunks[count - 1] as Uint8Array, callback);
      socket.uncork();
    }
    if (socket.writableLength === 0) return true;
    this.drainOwed = true;
    return false;
  }

  private writeCallback(): (error?: Error | null) => void {
    this.callbacks++;
    return (error) => {
      if (--this.callbacks === 0 && !error) this.drained();
    };
  }

  end(): void {
    // Node's end() is queued behind pending writes.
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.drainOwed = false;
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
}

function onSocketData(this: TransportSocket, chunk: Buffer): void {
  this[kTransport]?.handler?.onData(chunk);
}

function onSocketEnd(this: TransportSocket): void {
  this[kTransport]?.handler?.onEnd();
}

function onSocketError(this: TransportSocket, error: Error): void {
  const transport = this[kTransport];
  if (transport) transport.lastError = error;
}

function onSocketClose(this: TransportSocket): void {
  this[kTransport]?.deliverClose();
}

function onSocketDrain(this: TransportSocket): void {
  this[kTransport]?.drained();
}
