/**
 * The contract between the runtime-agnostic session layer and a runtime adapter.
 *
 * An adapter wraps one accepted or dialled TCP/TLS socket in a {@link Transport}
 * and forwards the socket's events to the {@link TransportHandler} it is given.
 * That, a {@link Dialer} for clients and a listener loop for servers, is all an
 * adapter writes; see docs/ADAPTERS.md.
 */

/** One byte stream (a TCP or TLS connection) as the session layer sees it. */
export interface Transport {
  /**
   * Writes chunks in order (a vectored write where the runtime has one). Returns
   * false when the runtime's send buffer is above its high-water mark: the handler's
   * `onDrain` is called once it has emptied. Writing after `end()`/`destroy()` is ignored.
   */
  write(chunks: readonly Uint8Array[]): boolean;
  /** Bytes accepted by `write` that the runtime has not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Flushes pending writes, then closes the write side (TCP FIN). */
  end(): void;
  /** Closes both directions at once, dropping unwritten data. */
  destroy(): void;
  /** Stops delivering `onData` until `resume()` (receive-side backpressure). */
  pause(): void;
  /** Resumes delivering `onData`. */
  resume(): void;
  /** The peer's IP address, when known. */
  readonly remoteAddress: string | undefined;
  /** The peer's port, when known. */
  readonly remotePort: number | undefined;
  /** Whether the stream is TLS. */
  readonly secure: boolean;
}

/** What the adapter calls when its socket does something. Each method is called from the runtime's event loop. */
export interface TransportHandler {
  /** Bytes arrived. The handler takes ownership of `chunk` (it may be unmasked in place). */
  onData(chunk: Uint8Array): void;
  /** The write buffer emptied after `write` returned false. */
  onDrain(): void;
  /** The peer half-closed its side (TCP FIN) or the stream ended. */
  onEnd(): void;
  /** The socket is gone, after an error or not. Called exactly once; nothing is called after it. */
  onClose(error?: Error): void;
}

/** TLS options a client may pass when dialling `wss:`. */
export interface TlsClientOptions {
  /** Trusted CA certificates (PEM), replacing the runtime's defaults. */
  readonly ca?: string | readonly string[];
  /** Server name for SNI and certificate checks; defaults to the URL's host. */
  readonly servername?: string;
  /** Verify the server certificate. Default true. */
  readonly rejectUnauthorized?: boolean;
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string;
  /** Client private key (PEM) for mutual TLS. */
  readonly key?: string;
}

/** Where and how to dial. */
export interface DialOptions {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly tls?: TlsClientOptions;
  /** Aborts the dial (the handshake timeout uses it). */
  readonly signal?: AbortSignal;
}

/**
 * Opens a TCP or TLS connection. Resolves once connected (and TLS is established);
 * the returned function attaches the handler — no event is delivered before that.
 */
export type Dialer = (options: DialOptions) => Promise<PendingTransport>;

/** A connected transport waiting for its handler. */
export interface PendingTransport {
  readonly transport: Transport;
  /** Starts delivering events to `handler`; bytes that arrived before are delivered first. */
  attach(handler: TransportHandler): void;
}
