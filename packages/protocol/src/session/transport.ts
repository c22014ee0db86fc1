/**
 * The contract between the runtime-agnostic session layer and a runtime adapter.
 *
 * A transport is a byte pipe and nothing more: it writes the chunks it is given,
 * says when the kernel has taken them, pauses and resumes reading, ends and
 * destroys. Buffering, coalescing, backpressure and their limits belong to the
 * session layer (see `flow.ts`), the same on every runtime. An adapter wraps one
 * accepted or dialled TCP/TLS socket in a {@link Transport} and forwards the
 * socket's events to the {@link TransportHandler} it is given; that, a
 * {@link Dialer} for clients and a listener loop for servers, is all it writes.
 * docs/ADAPTERS.md has the rules; `@fullduplex/testkit/transport` checks them.
 */

/** One byte stream (a TCP or TLS connection) as the session layer sees it. */
export interface Transport {
  /**
   * Hands `chunks` to the kernel in order, as one vectored write where the runtime has
   * one. Returns true when the kernel (or the TLS layer) took every byte: the chunks
   * are the caller's again. Returns false when bytes remain: the transport keeps
   * (views of) the chunks, writes the rest as the socket allows and calls the
   * handler's `onDrain` once all of it is written. The session layer never calls
   * `write` again before that. After `end()`, `destroy()` or close it writes nothing
   * and returns true.
   */
  write(chunks: readonly Uint8Array[]): boolean;
  /**
   * Whether one `write` of several chunks costs one system call (a vectored write,
   * as Node's writev). The session layer then copies only small chunks together;
   * otherwise it also copies a small frame header together with a large payload.
   */
  readonly vectored: boolean;
  /** Closes the write side (TCP FIN) once a pending write is done; reading goes on. */
  end(): void;
  /** Closes both directions now. A pending write may still finish for a moment; nothing else is written. */
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

/**
 * What the adapter calls when its socket does something. Calls come from the
 * runtime's event loop, never from inside a {@link Transport} method, never before
 * `attach`, and never after `onClose`.
 */
export interface TransportHandler {
  /** Bytes arrived. The handler takes ownership of `chunk` (it is unmasked in place and kept as views). */
  onData(chunk: Uint8Array): void;
  /** Every byte of the write that returned false has been handed to the kernel. */
  onDrain(): void;
  /** The peer half-closed its side (TCP FIN): nothing more will arrive. */
  onEnd(): void;
  /** The socket is gone, after an error or not. Called exactly once, also after `destroy()`. */
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
