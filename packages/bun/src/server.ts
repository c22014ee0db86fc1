/**
 * The WebSocket server on Bun: listens with `Bun.listen` (plain or TLS) and hands
 * every accepted socket to the shared session layer.
 */

import {
  type ServerCloseOptions,
  type ServerOptions,
  WebSocketServer as SessionServer,
} from '@fullduplex/protocol';
import type { TCPSocketListener, TLSOptions } from 'bun';
import { bunDeflateEngine } from './deflate.ts';
import { type BunSocket, BunSocketTransport, socketHandlers } from './transport.ts';

/** Options of the Bun {@link WebSocketServer}. */
export interface BunServerOptions<Data = unknown> extends ServerOptions<Data> {
  /** Port to listen on when calling `listen()` without arguments. 0 picks a free port. */
  readonly port?: number;
  /** Address to bind. Default: all interfaces (`::`, or `0.0.0.0` without IPv6). */
  readonly host?: string;
  /** Listen with TLS (wss:). Any `Bun.listen` TLS option: key, cert, ca, passphrase, … */
  readonly tls?: TLSOptions;
}

/** Where the server listens. */
export interface BunAddressInfo {
  readonly port: number;
  readonly hostname: string;
}

/**
 * A WebSocket server on Bun's sockets.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 9001 });
 * wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
 * await wss.listen();
 * ```
 */
export class WebSocketServer<Data = unknown> extends SessionServer<Data> {
  /** The listening socket, once `listen()` was called. */
  private listener: TCPSocketListener<BunSocketTransport> | undefined;

  /** Options as for the session server, plus where and how to listen. */
  constructor(options: BunServerOptions<Data> = {}) {
    super(options, { deflateEngine: bunDeflateEngine });
  }

  private get bunOptions(): BunServerOptions<Data> {
    return this.options as BunServerOptions<Data>;
  }

  /**
   * Starts listening (plain or TLS per options). Resolves with the bound address;
   * rejects if the address cannot be bound (EADDRINUSE, …).
   */
  async listen(port = this.bunOptions.port ?? 0, host = this.bunOptions.host): Promise<BunAddressInfo> {
    if (this.listener) throw new TypeError('already listening');
    if (this.isClosing) throw new TypeError('the server is closed');
    const tls = this.bunOptions.tls;
    const secure = tls !== undefined;
    const handlers = {
      ...socketHandlers,
      open: (socket: BunSocket): void => {
        this.handleTransport(new BunSocketTransport(socket, secure));
      },
      // With a `handshake` callback, Bun calls `open` as soon as the TCP connection
      // is accepted instead of after the TLS handshake, so `handshakeTimeout` also
      // covers a client that never finishes TLS. Failed handshakes close by themselves.
      ...(secure ? { handshake(): void {} } : {}),
    };
    const bind = (hostname: string): TCPSocketListener<BunSocketTransport> =>
      // `socket.data` is undefined until `open` makes it the transport.
      Bun.listen<BunSocketTransport>({ hostname, port, tls, allowHalfOpen: true, socket: handlers });
    let listener: TCPSocketListener<BunSocketTransport>;
    if (host !== undefined) listener = bind(host);
    else {
      try {
        listener = bind('::');
      } catch {
        listener = bind('0.0.0.0');
      }
    }
    this.listener = listener;
    return { port: listener.port, hostname: listener.hostname };
  }

  /** The bound address, once listening. */
  address(): BunAddressInfo | undefined {
    const listener = this.listener;
    return listener ? { port: listener.port, hostname: listener.hostname } : undefined;
  }

  /**
   * Stops listening, then closes every connection with 1001, waits up to `timeout`
   * ms and terminates the rest.
   */
  override async close(options?: ServerCloseOptions): Promise<void> {
    const listener = this.listener;
    // Stops accepting; open connections stay up for the graceful close below.
    if (listener && !this.isClosing) listener.stop(false);
    await super.close(options);
  }
}
