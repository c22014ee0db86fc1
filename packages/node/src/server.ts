/**
 * The WebSocket server on Node: listens on its own (plain or TLS), takes over the
 * `upgrade` event of an existing `http`/`https` server, or completes upgrades a
 * framework hands it. Everything past the socket is the shared session layer.
 */
import { once } from 'node:events';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import {
  buildRejectResponse,
  HttpHeaders,
  type HttpRequestHead,
  type ServerCloseOptions,
  type ServerOptions,
  WebSocketServer as SessionServer,
  type WebSocketConnection,
} from '@fullduplex/protocol';
import { zlibDeflateEngine } from '@fullduplex/zlib';
import { NodeSocketTransport, SOCKET_HIGH_WATER_MARK } from './transport.ts';

/** Options of the Node {@link WebSocketServer}. */
export interface NodeServerOptions<Data = unknown> extends ServerOptions<Data> {
  /** Port to listen on when calling `listen()` without arguments. 0 picks a free port. */
  readonly port?: number;
  /** Address to bind. Default: all interfaces (as Node's `listen`). */
  readonly host?: string;
  /** Listen with TLS (wss:). Any `node:tls` server option: key, cert, ca, … */
  readonly tls?: TlsOptions;
  /**
   * An existing `http.Server` or `https.Server` whose `upgrade` requests this server
   * takes over (for `path`, or all of them). The HTTP server keeps serving HTTP.
   */
  readonly server?: HttpServer | HttpsServer;
  /** Listen backlog. */
  readonly backlog?: number;
}

/**
 * A WebSocket server on Node's sockets.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 9001 });
 * wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
 * await wss.listen();
 * ```
 */
export class WebSocketServer<Data = unknown> extends SessionServer<Data> {
  /** The listening socket, once `listen()` was called. */
  private listener: NetServer | undefined;
  private readonly httpServer: HttpServer | HttpsServer | undefined;
  private readonly onHttpUpgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;

  constructor(options: NodeServerOptions<Data> = {}) {
    super(options, { deflateEngine: zlibDeflateEngine });
    if (options.server) {
      const httpServer = options.server;
      this.httpServer = httpServer;
      this.onHttpUpgrade = (req, socket, head) => {
        if (
          options.path !== undefined &&
          pathOf(req.url) !== options.path &&
          httpServer.listenerCount('upgrade') > 1
        ) {
          // Another upgrade listener (another WebSocket server, a proxy) may want it.
          return;
        }
        void this.handleNodeUpgrade(req, socket, head);
      };
      httpServer.on('upgrade', this.onHttpUpgrade);
    }
  }

  private get nodeOptions(): NodeServerOptions<Data> {
    return this.options as NodeServerOptions<Data>;
  }

  /**
   * Starts listening on its own socket (plain or TLS per options). Resolves with the
   * bound address once it is listening.
   */
  async listen(port = this.nodeOptions.port ?? 0, host = this.nodeOptions.host): Promise<AddressInfo> {
    if (this.listener) throw new TypeError('already listening');
    const tlsOptions = this.nodeOptions.tls;
    const listener = tlsOptions
      ? createTlsServer({ highWaterMark: SOCKET_HIGH_WATER_MARK, ...tlsOptions }, (socket) =>
          this.handleTransport(new NodeSocketTransport(socket, true)),
        )
      : createNetServer({ noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK }, (socket) =>
          this.handleTransport(new NodeSocketTransport(socket, false)),
        );
    // A socket error before the handshake (a reset, a TLS failure) is the peer's problem, never ours.
    listener.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
    listener.on('error', (error) => this.reportError(error));
    this.listener = listener;
    listener.listen({ port, host, backlog: this.nodeOptions.backlog });
    await once(listener, 'listening');
    return listener.address() as AddressInfo;
  }

  /** The bound address, once listening. */
  address(): AddressInfo | undefined {
    const address = this.listener?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /**
   * Completes an upgrade Node's HTTP server (or a framework) received: call it from an
   * `upgrade` listener. Resolves with the connection, or undefined if refused.
   */
  handleNodeUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<WebSocketConnection<Data> | undefined> {
    const transport = new NodeSocketTransport(
      socket as Socket,
      (socket as Socket & { encrypted?: boolean }).encrypted === true,
    );
    let request: HttpRequestHead;
    try {
      request = toRequestHead(req);
    } catch {
      transport.write([buildRejectResponse(400)]);
      transport.destroy();
      return Promise.resolve(undefined);
    }
    return this.handleUpgrade(request, transport, head.length > 0 ? new Uint8Array(head) : undefined);
  }

  /**
   * Stops listening (or detaches from the HTTP server), then closes every connection
   * with 1001, waits up to `timeout` ms and terminates the rest.
   */
  override async close(options?: ServerCloseOptions): Promise<void> {
    if (this.httpServer && this.onHttpUpgrade) this.httpServer.off('upgrade', this.onHttpUpgrade);
    const listener = this.listener;
    const stopped = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    await super.close(options);
    await stopped;
  }
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Node's parsed request as the core's request head; rawHeaders keep every line and its casing. */
function toRequestHead(req: IncomingMessage): HttpRequestHead {
  const headers = new HttpHeaders();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return {
    method: req.method ?? 'GET',
    target: req.url ?? '/',
    versionMinor: req.httpVersionMajor === 1 ? req.httpVersionMinor : 0,
    headers,
  };
}
