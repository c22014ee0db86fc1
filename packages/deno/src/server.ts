/**
 * The WebSocket server on Deno: `Deno.listen` / `Deno.listenTls` and an accept loop
 * handing every connection to the shared session layer.
 */
import {
  type ServerCloseOptions,
  type ServerOptions,
  WebSocketServer as SessionServer,
} from '@fullduplex/protocol';
import { zlibDeflateEngine } from '@fullduplex/zlib';
import { DenoConnTransport } from './transport.ts';

/** Certificate and key (PEM) for a TLS (wss:) listener. */
export interface DenoServerTlsOptions {
  /** Certificate chain, PEM. */
  readonly cert: string;
  /** Private key, PEM (RSA, EC or PKCS#8). */
  readonly key: string;
  /** ALPN protocols to announce. Default: none (no ALPN extension). */
  readonly alpnProtocols?: readonly string[];
}

/** Options of the Deno {@link WebSocketServer}. */
export interface DenoServerOptions<Data = unknown> extends ServerOptions<Data> {
  /** Port to listen on when calling `listen()` without arguments. 0 picks a free port. */
  readonly port?: number;
  /** Address to bind. Default: Deno's default, `0.0.0.0`. */
  readonly host?: string;
  /** Listen with TLS (wss:). */
  readonly tls?: DenoServerTlsOptions;
  /** Listen backlog (`tcpBacklog`). */
  readonly backlog?: number;
}

/** Where a {@link WebSocketServer} listens. */
export interface DenoAddressInfo {
  readonly hostname: string;
  readonly port: number;
}

/** After an accept error that is not one connection's (EMFILE, …), wait this long before accepting again. */
const ACCEPT_RETRY_MS = 100;

/** Errors of one connection, not of the listener: they never pause accepting. */
function isConnectionError(error: unknown): boolean {
  const errors = Deno.errors;
  return (
    error instanceof errors.ConnectionAborted ||
    error instanceof errors.ConnectionReset ||
    error instanceof errors.ConnectionRefused ||
    error instanceof errors.NotConnected ||
    error instanceof errors.BrokenPipe ||
    error instanceof errors.UnexpectedEof ||
    error instanceof errors.InvalidData ||
    error instanceof errors.Interrupted ||
    error instanceof errors.TimedOut
  );
}

/**
 * A WebSocket server on Deno's sockets.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 9001 });
 * wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
 * await wss.listen();
 * ```
 */
export class WebSocketServer<Data = unknown> extends SessionServer<Data> {
  /** The listening socket, once `listen()` was called. */
  private listener: Deno.Listener | undefined;
  private stopped = false;

  constructor(options: DenoServerOptions<Data> = {}) {
    super(options, { deflateEngine: zlibDeflateEngine });
  }

  private get denoOptions(): DenoServerOptions<Data> {
    return this.options as DenoServerOptions<Data>;
  }

  /**
   * Starts listening (plain or TLS per options). Resolves with the bound address;
   * rejects if the address cannot be bound.
   */
  async listen(port = this.denoOptions.port ?? 0, host = this.denoOptions.host): Promise<DenoAddressInfo> {
    if (this.listener) throw new TypeError('already listening');
    if (this.isClosing) throw new TypeError('server is closed');
    const tls = this.denoOptions.tls;
    const base = { port, hostname: host, tcpBacklog: this.denoOptions.backlog, transport: 'tcp' as const };
    const listener: Deno.Listener = tls
      ? Deno.listenTls({
          ...base,
          cert: tls.cert,
          key: tls.key,
          alpnProtocols: tls.alpnProtocols ? [...tls.alpnProtocols] : undefined,
        })
      : Deno.listen(base);
    this.listener = listener;
    void this.acceptLoop(listener, tls !== undefined);
    return this.address() as DenoAddressInfo;
  }

  /** The bound address, once listening. */
  address(): DenoAddressInfo | undefined {
    const addr = this.listener?.addr;
    return addr && addr.transport === 'tcp' ? { hostname: addr.hostname, port: addr.port } : undefined;
  }

  private async acceptLoop(listener: Deno.Listener, secure: boolean): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.stopped || error instanceof Deno.errors.BadResource) return;
        // A connection that failed while being accepted (reset, aborted, gone before we
        // asked for its address) is the peer's problem: the next one is accepted at once.
        if (isConnectionError(error)) continue;
        // Anything else (out of file descriptors, …) is the process's: report it and
        // give it a moment rather than spin.
        this.reportError(error);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        if (this.stopped) return;
        continue;
      }
      if (this.stopped) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
        return;
      }
      // TLS handshakes run on the connection's first read, inside the transport: a
      // failed one closes that connection and nothing else.
      this.handleTransport(new DenoConnTransport(conn, secure));
    }
  }

  /**
   * Stops listening, then closes every connection with 1001, waits up to `timeout`
   * ms and terminates the rest.
   */
  override async close(options?: ServerCloseOptions): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      try {
        this.listener?.close();
      } catch {
        // Already closed.
      }
    }
    await super.close(options);
  }
}
