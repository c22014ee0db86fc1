/**
 * A `node:net` / `node:tls` socket as a fullduplex {@link Transport}: a byte pipe.
 *
 * Node's socket buffers whatever it is given, so `write` always "takes" the chunks;
 * what matters to the session layer is whether the kernel has them yet.
 * `writableLength` says so right after the write (libuv tries it synchronously), and
 * the last chunk's write callback says when a write that had to wait is done: Node
 * runs write callbacks in order, so when the count of outstanding callbacks is back
 * at zero, every byte given so far has left.
 */
import type { Socket } from 'node:net';
import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';

/** Wraps a connected socket. Listeners are added by `attach`, not before. */
export class NodeSocketTransport implements Transport, PendingTransport {
  readonly secure: boolean;
  readonly vectored = true;
  private handler: TransportHandler | undefined;
  /** Write callbacks still to come. */
  private callbacks = 0;
  /** A write returned false: `onDrain` is owed once the callbacks are in. */
  private drainOwed = false;
  private readonly written: (error?: Error | null) => void;

  constructor(
    readonly socket: Socket,
    secure?: boolean,
  ) {
    this.secure = secure ?? (socket as Socket & { encrypted?: boolean }).encrypted === true;
    // Frames are already batched by the session layer; Nagle would only add latency.
    socket.setNoDelay(true);
    this.written = (error) => {
      this.callbacks--;
      if (error || this.callbacks !== 0 || !this.drainOwed) return;
      this.drainOwed = false;
      this.handler?.onDrain();
    };
  }

  get transport(): Transport {
    return this;
  }

  attach(handler: TransportHandler): void {
    if (this.handler) throw new TypeError('transport already attached');
    this.handler = handler;
    const socket = this.socket;
    let lastError: Error | undefined;
    let closed = false;
    const onClose = (): void => {
      if (closed) return;
      closed = true;
      handler.onClose(lastError);
    };
    socket.on('data', (chunk: Buffer) => handler.onData(chunk));
    socket.on('end', () => handler.onEnd());
    socket.on('error', (error: Error) => {
      lastError = error;
    });
    socket.on('close', onClose);
    // Closed before we got here: its 'close' event may already have been emitted.
    if (socket.destroyed) queueMicrotask(onClose);
  }

  write(chunks: readonly Uint8Array[]): boolean {
    const socket = this.socket;
    const count = chunks.length;
    if (count === 0 || socket.destroyed || socket.writableEnded) return true;
    this.callbacks++;
    if (count === 1) {
      socket.write(chunks[0] as Uint8Array, this.written);
    } else {
      // Corked, the chunks leave in one writev.
      socket.cork();
      for (let i = 0; i < count - 1; i++) socket.write(chunks[i] as Uint8Array);
      socket.write(chunks[count - 1] as Uint8Array, this.written);
      socket.uncork();
    }
    if (socket.writableLength === 0) return true;
    this.drainOwed = true;
    return false;
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
