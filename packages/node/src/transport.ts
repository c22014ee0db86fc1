/**
 * A `node:net` / `node:tls` socket as a fullduplex {@link Transport}.
 *
 * Writes of several chunks are corked into one writev; everything else maps
 * one-to-one onto the socket's own events.
 */
import type { Socket } from 'node:net';
import type { PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';

/** Wraps a connected socket. Listeners are added by `attach`, not before. */
export class NodeSocketTransport implements Transport, PendingTransport {
  readonly secure: boolean;
  private attached = false;
  private corked = false;

  constructor(
    readonly socket: Socket,
    secure?: boolean,
  ) {
    this.secure = secure ?? (socket as Socket & { encrypted?: boolean }).encrypted === true;
    // Frames are already batched by us; Nagle would only add latency.
    socket.setNoDelay(true);
  }

  get transport(): Transport {
    return this;
  }

  attach(handler: TransportHandler): void {
    if (this.attached) throw new TypeError('transport already attached');
    this.attached = true;
    const socket = this.socket;
    let lastError: Error | undefined;
    let closed = false;
    const onClose = (): void => {
      if (closed) return;
      closed = true;
      handler.onClose(lastError);
    };
    socket.on('data', (chunk: Buffer) => handler.onData(chunk));
    socket.on('drain', () => handler.onDrain());
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
    if (socket.destroyed || socket.writableEnded) return false;
    // Everything written during one turn of the event loop leaves in one writev:
    // cork on the first write, uncork once the current turn's work is done.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    for (let i = 0; i < chunks.length; i++) socket.write(chunks[i] as Uint8Array);
    return !socket.writableNeedDrain;
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  end(): void {
    if (this.corked) this.uncork();
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    // What was written before stays written (a 101 response, a close frame).
    if (this.corked) this.uncork();
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

function uncork(transport: NodeSocketTransport): void {
  transport.uncork();
}
