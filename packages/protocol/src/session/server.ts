/**
 * The runtime-agnostic WebSocket server: reads the upgrade request off a raw
 * transport (or takes one an HTTP server already parsed), lets the application
 * accept or reject it, answers the handshake and tracks the connections.
 * Adapters add the listening socket; everything else lives here.
 */
import { HandshakeError } from '../errors.ts';
import type { DeflateEngineFactory } from '../extensions/deflate-engine.ts';
import { type DeflateAgreement, negotiateDeflate } from '../extensions/permessage-deflate.ts';
import {
  buildAcceptResponse,
  buildErrorResponse,
  buildRejectResponse,
  validateClientRequest,
} from '../handshake.ts';
import { formatExtensionOffers } from '../header-values.ts';
import { type HttpHeadersInit, HttpHeadParser, type HttpRequestHead } from '../http11.ts';
import { type ConnectionOptions, ReadyState, WebSocketConnection } from './connection.ts';
import type { SendData } from './data.ts';
import { type DeflateSetup, resolveDeflate } from './deflate-setup.ts';
import { Emitter } from './emitter.ts';
import { type FlowReceiver, ReadPause, TransportFlow } from './flow.ts';
import { HttpRequest, UpgradeRequest } from './request.ts';
import { Deadline, sharedTimerWheel } from './timer-wheel.ts';
import { type PublishOptions, type TopicMember, TopicRegistry } from './topics.ts';
import type { PendingTransport } from './transport.ts';

/** Accept the connection, optionally choosing a subprotocol, adding response headers and attaching data. */
export interface UpgradeAccept<Data> {
  /** The subprotocol to select; must be one the client offered. Overrides `protocols`/`handleProtocols`. */
  readonly protocol?: string;
  /** Extra headers for the 101 response (e.g. Set-Cookie). */
  readonly headers?: HttpHeadersInit;
  /** Attached to the connection as `ws.data`. */
  readonly data?: Data;
}

/** Refuse the connection with an HTTP response. */
export interface UpgradeReject {
  /** HTTP status, e.g. 401, 403, 404, 429. */
  readonly status: number;
  readonly reason?: string;
  readonly headers?: HttpHeadersInit;
  readonly body?: string | Uint8Array;
}

/** The answer to a plain HTTP request (see {@link ServerOptions.httpHandler}). */
export interface HttpResponse {
  /** HTTP status, e.g. 200, 304, 404. */
  readonly status: number;
  readonly reason?: string;
  /** Response headers; `Content-Length` and `Connection` are set by the server. */
  readonly headers?: HttpHeadersInit;
  /** The body; a string is sent as UTF-8 (`text/plain` unless a Content-Type is given). Omitted for HEAD. */
  readonly body?: string | Uint8Array;
}

/** What the `upgrade` hook may return: nothing (accept with defaults), an accept or a reject. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing accepts; `void` lets plain functions type-check.
export type UpgradeDecision<Data> = UpgradeAccept<Data> | UpgradeReject | undefined | void;

/** Options of a {@link WebSocketServer}. */
export interface ServerOptions<Data = unknown> extends ConnectionOptions {
  /** Only accept upgrades whose path (without query) is exactly this; others get 404. */
  readonly path?: string;
  /**
   * Which pages may connect (cross-site WebSocket hijacking): a predicate on the
   * request's `Origin` header (undefined when absent), such as
   * {@link originAllowlist}`(['https://example.com'])`. A request it refuses gets 403
   * before the `upgrade` hook runs. Default: any origin.
   */
  readonly allowedOrigins?: (origin: string | undefined, request: UpgradeRequest) => boolean;
  /** Subprotocols this server speaks, in order of preference; the first the client also offered wins. */
  readonly protocols?: readonly string[];
  /** Picks the subprotocol from those offered (after `protocols`, if it chose nothing). */
  readonly handleProtocols?: (offered: readonly string[], request: UpgradeRequest) => string | undefined;
  /**
   * Inspects the request before accepting it (path, headers, Origin, cookies, remote
   * address) and accepts or rejects it. May be async; reading pauses meanwhile.
   * A thrown error rejects with 500 and is reported through the `error` event.
   */
  readonly upgrade?: (request: UpgradeRequest) => UpgradeDecision<Data> | Promise<UpgradeDecision<Data>>;
  /**
   * Answers requests that are not WebSocket upgrades (no `Upgrade` header): a page,
   * a health check, on the same port. One response per connection, then the server
   * closes it; a request body is not read. Bounded by `handshakeTimeout` (408).
   * A thrown error answers 500 and is reported through the `error` event.
   * Without it such requests get 400 ("Missing Upgrade: websocket").
   */
  readonly httpHandler?: (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;
  /** Largest request head in bytes. Default 16 KiB; over it → 431. */
  readonly maxHeadSize?: number;
  /** Most request header lines. Default 100; over it → 431. */
  readonly maxHeaderCount?: number;
  /** Time allowed to receive the request head and decide, in ms. Default 10 000. */
  readonly handshakeTimeout?: number;
  /** Most simultaneous connections; further upgrades get 503. Default unlimited. */
  readonly maxConnections?: number;
  /**
   * Keep the upgrade request on the connection as `ws.request` for its whole life.
   * Default false: its headers cost ~2 KiB per connection (more from browsers). The
   * request is always given to the `upgrade` hook and as the `connection` event's
   * second argument; copy what you need into `data` there.
   */
  readonly retainRequest?: boolean;
}

/** Events of a {@link WebSocketServer}. */
export interface ServerEventMap<Data> {
  [event: string]: unknown[];
  /** A connection was accepted and is open. */
  connection: [connection: WebSocketConnection<Data>, request: UpgradeRequest];
  /** Something went wrong outside any connection (a throwing `upgrade` hook, …). */
  error: [error: Error];
  /** The server closed and every connection is gone. */
  close: [];
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Options for {@link WebSocketServer.close}. */
export interface ServerCloseOptions {
  /** Close code sent to every connection. Default 1001 (going away). */
  readonly code?: number;
  readonly reason?: string;
  /** How long to wait for connections to close before terminating them, in ms. Default 5000. */
  readonly timeout?: number;
}

/**
 * Accepts WebSocket connections from transports an adapter hands it.
 * `Data` is the type of `ws.data` on its connections.
 */
export class WebSocketServer<Data = unknown> extends Emitter<ServerEventMap<Data>> {
  /** The open connections. */
  readonly clients = new Set<WebSocketConnection<Data>>();
  /** The options in force. */
  readonly options: ServerOptions<Data>;
  private readonly topicRegistry = new TopicRegistry();
  private readonly pending = new Set<TransportFlow>();
  private closing: Promise<void> | undefined;

  /** @internal Compression settings with the engine resolved, or undefined when off. */
  readonly deflate: DeflateSetup | undefined;

  /**
   * @param runtime what the adapter provides: the default permessage-deflate engine.
   */
  constructor(
    options: ServerOptions<Data> = {},
    runtime: { readonly deflateEngine?: DeflateEngineFactory } = {},
  ) {
    super();
    this.options = options;
    this.deflate = resolveDeflate(options.perMessageDeflate, runtime.deflateEngine, false);
  }

  /** Whether `close()` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Takes a raw accepted TCP/TLS stream: reads and answers the upgrade request.
   * This is what a listening adapter calls for each connection.
   */
  handleTransport(pending: PendingTransport): void {
    const flow = new TransportFlow(pending.transport);
    flow.receiver = new HandshakeStage<Data>(this, flow);
    pending.attach(flow);
  }

  /**
   * Takes a transport whose request head an HTTP server already parsed (Node's
   * `upgrade` event, a framework's `handleUpgrade`). `early` holds bytes that followed
   * the head. Returns once the connection is accepted or refused.
   */
  async handleUpgrade(
    head: HttpRequestHead,
    pending: PendingTransport,
    early?: Uint8Array,
  ): Promise<WebSocketConnection<Data> | undefined> {
    const flow = new TransportFlow(pending.transport);
    const stage = new HandshakeStage<Data>(this, flow);
    flow.receiver = stage;
    pending.attach(flow);
    return stage.upgrade(head, early);
  }

  /** Publishes to every connection subscribed to `topic`, framing the message once. Returns the recipient count. */
  publish(topic: string, data: SendData, options?: PublishOptions): number {
    return this.topicRegistry.publish(topic, data, options);
  }

  /** Number of connections subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topicRegistry.subscriberCount(topic);
  }

  /** @internal */
  get topics(): TopicRegistry {
    return this.topicRegistry;
  }

  /**
   * Graceful shutdown: refuses new upgrades, closes every connection with `code`
   * (1001 by default), waits up to `timeout` ms, then terminates the rest.
   * Adapters stop their listener first and then call this.
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown(options: ServerCloseOptions): Promise<void> {
    for (const flow of this.pending) flow.destroy();
    const code = options.code ?? 1001;
    const reason = options.reason ?? 'server shutting down';
    const all = Array.from(this.clients);
    for (const ws of all) ws.close(code, reason);
    const timeout = options.timeout ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(all.map((ws) => ws.closed())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    for (const ws of this.clients) ws.terminate();
    await Promise.all(all.map((ws) => ws.closed()));
    this.emit('close');
  }

  /** @internal */
  trackPending(flow: TransportFlow, add: boolean): void {
    if (add) this.pending.add(flow);
    else this.pending.delete(flow);
  }

  /** @internal Registers a freshly accepted connection. */
  adopt(ws: WebSocketConnection<Data>, request: UpgradeRequest): void {
    // The server itself is every connection's owner: nothing allocated per connection.
    ws.owner = this;
    this.clients.add(ws);
    this.emit('connection', ws, request);
  }

  /** @internal A connection of this server closed. */
  onClosed(closed: TopicMember): void {
    this.clients.delete(closed as WebSocketConnection<Data>);
    this.topicRegistry.unsubscribeAll(closed);
  }

  /** @internal */
  reportError(error: unknown): void {
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * The transport handler during the handshake: parses the request head with limits
 * and a timeout, asks the application, answers, then hands over to the connection.
 */
class HandshakeStage<Data> implements FlowReceiver {
  private parser: HttpHeadParser<'request'> | undefined;
  /** Bytes that arrived after the head, held while the application decides. */
  private early: Uint8Array[] = [];
  private headDone = false;
  private finished = false;
  private gone = false;
  /** Bytes read after the response was decided (see MAX_DISCARDED_BYTES). */
  private discarded = 0;
  private readonly deadline: Deadline;

  constructor(
    private readonly server: WebSocketServer<Data>,
    private readonly flow: TransportFlow,
  ) {
    this.deadline = new Deadline(() => this.onTimeout());
    server.trackPending(flow, true);
    sharedTimerWheel().arm(this.deadline, server.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
  }

  /** Completes a handshake whose head was parsed elsewhere. */
  upgrade(head: HttpRequestHead, early?: Uint8Array): Promise<WebSocketConnection<Data> | undefined> {
    this.headDone = true;
    if (early && early.length > 0) this.early.push(early);
    return this.decide(head);
  }

  onData(chunk: Uint8Array): void {
    if (this.finished) {
      // Refused: only the peer's FIN matters now; a peer that keeps sending is dropped.
      this.discarded += chunk.length;
      if (this.discarded > MAX_DISCARDED_BYTES) this.flow.destroy();
      return;
    }
    if (this.headDone) {
      // Reading is paused while the application decides; at most one read gets here.
      this.early.push(chunk);
      return;
    }
    const options = this.server.options;
    this.parser ??= new HttpHeadParser({
      kind: 'request',
      maxHeadSize: options.maxHeadSize,
      maxHeaderCount: options.maxHeaderCount,
    });
    let result: ReturnType<HttpHeadParser<'request'>['push']>;
    try {
      result = this.parser.push(chunk);
    } catch (error) {
      this.refuse(
        error instanceof HandshakeError && error.status > 0
          ? buildErrorResponse(error)
          : buildRejectResponse(400),
      );
      return;
    }
    if (result === undefined) return;
    this.parser = undefined;
    this.headDone = true;
    if (result.rest.length > 0) this.early.push(result.rest);
    void this.decide(result.head);
  }

  onWritten(): void {}

  onEnd(): void {
    this.flow.end();
  }

  onClose(): void {
    this.gone = true;
    this.finish();
  }

  private async decide(head: HttpRequestHead): Promise<WebSocketConnection<Data> | undefined> {
    const server = this.server;
    const options = server.options;
    // Nothing is read while the application decides; early bytes wait in `early`.
    this.flow.pauseReading(ReadPause.HANDSHAKE);
    if (server.isClosing) return this.refuse(buildRejectResponse(503, { body: 'server shutting down\n' }));
    if (options.httpHandler && !head.headers.has('upgrade'))
      return this.answerHttp(head, options.httpHandler);
    const validated = validateClientRequest(head);
    if (!validated.ok) return this.refuse(validated.response);
    const request = new UpgradeRequest(head, {
      protocols: validated.protocols,
      extensions: validated.extensionOffers,
      remoteAddress: this.flow.transport.remoteAddress,
      remotePort: this.flow.transport.remotePort,
      secure: this.flow.transport.secure,
    });
    if (options.path !== undefined && request.path !== options.path) {
      return this.refuse(buildRejectResponse(404, { body: 'no WebSocket endpoint here\n' }));
    }
    if (options.allowedOrigins !== undefined && !allowsOrigin(options.allowedOrigins, request, server)) {
      return this.refuse(buildRejectResponse(403, { body: 'origin not allowed\n' }));
    }
    if (options.maxConnections !== undefined && server.clients.size >= options.maxConnections) {
      return this.refuse(buildRejectResponse(503, { body: 'too many connections\n' }));
    }

    let decision: UpgradeDecision<Data>;
    try {
      decision = options.upgrade ? await options.upgrade(request) : undefined;
    } catch (error) {
      server.reportError(error);
      return this.refuse(buildRejectResponse(500));
    }
    if (this.gone || this.finished) return undefined;
    if (server.isClosing) return this.refuse(buildRejectResponse(503, { body: 'server shutting down\n' }));
    if (decision && 'status' in decision) {
      let response: Uint8Array;
      try {
        response = buildRejectResponse(decision.status, decision);
      } catch (error) {
        server.reportError(error);
        response = buildRejectResponse(500);
      }
      return this.refuse(response);
    }

    let response: Uint8Array;
    let protocol: string | undefined;
    let agreement: DeflateAgreement | undefined;
    let extensions: string | undefined;
    try {
      protocol = decision?.protocol ?? selectProtocol(options, request);
      if (protocol !== undefined && !request.protocols.includes(protocol)) {
        throw new TypeError(
          `subprotocol ${JSON.stringify(protocol)} was chosen but the client did not offer it`,
        );
      }
      if (server.deflate !== undefined) {
        agreement = negotiateDeflate(validated.extensionOffers, server.deflate);
        if (agreement !== undefined) extensions = formatExtensionOffers([agreement.response]);
      }
      response = buildAcceptResponse(validated, { protocol, extensions, headers: decision?.headers });
    } catch (error) {
      server.reportError(error);
      return this.refuse(buildRejectResponse(500));
    }
    const setup = server.deflate;
    const deflate =
      agreement && setup
        ? setup.engine({
            side: 'server',
            params: agreement.params,
            level: setup.level,
            memLevel: setup.memLevel,
          })
        : undefined;

    this.finish();
    this.flow.write([response]);
    const ws = new WebSocketConnection<Data>(
      this.flow,
      {
        side: 'server',
        protocol: protocol ?? '',
        extensions: extensions ?? '',
        url: head.target,
        request: options.retainRequest ? request : undefined,
        deflate,
        deflateThreshold: setup?.threshold,
      },
      options,
      decision?.data as Data,
    );
    server.adopt(ws, request);
    const early = this.early;
    this.early = [];
    for (const chunk of early) {
      if (ws.readyState === ReadyState.CLOSED) break;
      ws.onData(chunk);
    }
    this.flow.resumeReading(ReadPause.HANDSHAKE);
    return ws;
  }

  private async answerHttp(
    head: HttpRequestHead,
    handler: NonNullable<ServerOptions<Data>['httpHandler']>,
  ): Promise<undefined> {
    const request = new HttpRequest(head, {
      remoteAddress: this.flow.transport.remoteAddress,
      remotePort: this.flow.transport.remotePort,
      secure: this.flow.transport.secure,
    });
    let response: Uint8Array;
    try {
      const answer = await handler(request);
      response = buildRejectResponse(answer.status, answer);
      if (head.method === 'HEAD') {
        // Same head, Content-Length included, without the body.
        response = response.subarray(0, headLength(response));
      }
    } catch (error) {
      if (this.gone || this.finished) return undefined;
      this.server.reportError(error);
      response = buildRejectResponse(500);
    }
    if (this.gone || this.finished) return undefined;
    return this.refuse(response);
  }

  /** Answers with an HTTP error and ends; a peer that never closes its side is dropped after a grace period. */
  private refuse(response: Uint8Array): undefined {
    if (this.finished) return undefined;
    this.finish();
    this.early = [];
    this.flow.write([response]);
    this.flow.end();
    this.flow.resumeReading(ReadPause.HANDSHAKE);
    // The same deadline, now for the grace period (see onTimeout).
    sharedTimerWheel().arm(this.deadline, REFUSE_GRACE_MS);
    return undefined;
  }

  private onTimeout(): void {
    // Refused already: the grace period for the peer to close is over.
    if (this.finished) {
      this.flow.destroy();
      return;
    }
    this.refuse(buildRejectResponse(408, { body: 'handshake timed out\n' }));
  }

  private finish(): void {
    this.finished = true;
    this.parser = undefined;
    sharedTimerWheel().disarm(this.deadline);
    this.server.trackPending(this.flow, false);
  }
}

const REFUSE_GRACE_MS = 2000;
/** After a refusal, at most this many more bytes are read (and dropped) while waiting for the peer's FIN. */
const MAX_DISCARDED_BYTES = 64 * 1024;

/** Length of a serialized response's head, up to and including the blank line. */
function headLength(response: Uint8Array): number {
  for (let i = 3; i < response.length; i++) {
    if (
      response[i] === 0x0a &&
      response[i - 1] === 0x0d &&
      response[i - 2] === 0x0a &&
      response[i - 3] === 0x0d
    ) {
      return i + 1;
    }
  }
  return response.length;
}

function selectProtocol<Data>(options: ServerOptions<Data>, request: UpgradeRequest): string | undefined {
  if (request.protocols.length === 0) return undefined;
  const preferred = options.protocols?.find((p) => request.protocols.includes(p));
  if (preferred !== undefined) return preferred;
  return options.handleProtocols?.(request.protocols, request);
}

/** The `allowedOrigins` check; a predicate that throws refuses (and is reported). */
function allowsOrigin<Data>(
  allowed: NonNullable<ServerOptions<Data>['allowedOrigins']>,
  request: UpgradeRequest,
  server: WebSocketServer<Data>,
): boolean {
  try {
    return allowed(request.origin, request) === true;
  } catch (error) {
    server.reportError(error);
    return false;
  }
}
