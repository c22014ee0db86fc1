/**
 * The runtime-agnostic WebSocket client: dials through the adapter's {@link Dialer},
 * performs the opening handshake (with a timeout and opt-in redirects) and returns
 * an open {@link WebSocketConnection}.
 */
import { HandshakeError } from '../errors.ts';
import type { DeflateEngine, DeflateEngineFactory } from '../extensions/deflate-engine.ts';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  type DeflateParams,
} from '../extensions/permessage-deflate.ts';
import { type ClientHandshake, createClientHandshake, validateServerResponse } from '../handshake.ts';
import { asciiLowerCase, formatExtensionOffers } from '../header-values.ts';
import { type HttpHeadersInit, HttpHeadParser, type HttpResponseHead, headerPairs } from '../http11.ts';
import { type ConnectionOptions, ReadyState, WebSocketConnection } from './connection.ts';
import { type DeflateSetup, resolveDeflate } from './deflate-setup.ts';
import { type FlowReceiver, ReadPause, TransportFlow } from './flow.ts';
import { Deadline, sharedTimerWheel } from './timer-wheel.ts';
import type { Dialer, TlsClientOptions } from './transport.ts';

/** Options of {@link connect}. */
export interface ClientOptions extends ConnectionOptions {
  /** Subprotocols to offer, in order of preference. */
  readonly protocols?: string | readonly string[];
  /** Extra request headers (Authorization, Cookie, User-Agent, …). */
  readonly headers?: HttpHeadersInit;
  /** The `Origin` header to send. */
  readonly origin?: string;
  /** Time allowed for dialling, TLS and the handshake, in ms. Default 10 000. */
  readonly handshakeTimeout?: number;
  /** Follow up to this many HTTP redirects. Default 0: a redirect is an error. */
  readonly maxRedirects?: number;
  /** TLS settings for `wss:`. */
  readonly tls?: TlsClientOptions;
  /** Largest response head in bytes. Default 16 KiB. */
  readonly maxHeadSize?: number;
  /** Most response header lines. Default 100. */
  readonly maxHeaderCount?: number;
  /** Aborts the connection attempt. */
  readonly signal?: AbortSignal;
}

/** What an adapter gives `connect`: its dialer and, where it has one, its deflate engine. */
export interface ClientRuntime {
  readonly dial: Dialer;
  readonly deflateEngine?: DeflateEngineFactory;
}

/** The handshake could not be completed. `status` is the HTTP status received (0 if none). */
export class WebSocketHandshakeError extends Error {
  override readonly name = 'WebSocketHandshakeError';
  constructor(
    /** Stable identifier: a `HandshakeErrorCode`, or `WS_TIMEOUT`, `WS_ABORTED`, `WS_CONNECTION_CLOSED`, `WS_TOO_MANY_REDIRECTS`, `WS_DIAL_FAILED`. */
    readonly code: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Credentials that must not follow a redirect to another origin or from wss to ws. */
const SENSITIVE_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Connects to a `ws:` or `wss:` URL and resolves with the open connection.
 * Rejects with a {@link WebSocketHandshakeError}; never leaves a socket behind.
 */
export async function connect<Data = unknown>(
  runtime: Dialer | ClientRuntime,
  url: string | URL,
  options: ClientOptions = {},
  data?: Data,
): Promise<WebSocketConnection<Data>> {
  const dial = typeof runtime === 'function' ? runtime : runtime.dial;
  const deflate = resolveDeflate(
    options.perMessageDeflate,
    typeof runtime === 'function' ? undefined : runtime.deflateEngine,
    true,
  );
  const extensionOffer = deflate ? formatExtensionOffers([buildDeflateOffer(deflate)]) : undefined;
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const controller = new AbortController();
  const deadline = new Deadline(() =>
    controller.abort(
      new WebSocketHandshakeError('WS_TIMEOUT', 0, `handshake not completed within ${timeout} ms`),
    ),
  );
  const wheel = options.timerWheel ?? sharedTimerWheel();
  wheel.arm(deadline, timeout);
  const onAbort = (): void =>
    controller.abort(new WebSocketHandshakeError('WS_ABORTED', 0, 'connection attempt aborted'));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    let target = typeof url === 'string' ? url : url.href;
    let headers: [string, string][] = options.headers
      ? Array.from(headerPairs(options.headers), ([n, v]) => [n, v])
      : [];
    const maxRedirects = options.maxRedirects ?? 0;
    for (let redirects = 0; ; redirects++) {
      const handshake = createClientHandshake({
        url: target,
        protocols: typeof options.protocols === 'string' ? [options.protocols] : options.protocols,
        headers,
        origin: options.origin,
        extensions: extensionOffer,
      });
      const outcome = await attempt<Data>(dial, handshake, options, deflate, controller.signal, data);
      if (outcome.kind === 'open') return outcome.connection;
      if (redirects >= maxRedirects) {
        throw new WebSocketHandshakeError(
          maxRedirects === 0 ? 'WS_INVALID_STATUS' : 'WS_TOO_MANY_REDIRECTS',
          outcome.status,
          maxRedirects === 0
            ? `server redirected (${outcome.status}) and redirects are off (maxRedirects: 0)`
            : `more than ${maxRedirects} redirects`,
        );
      }
      const next = resolveRedirect(handshake, outcome.location);
      headers = redirectHeaders(headers, handshake, next);
      target = next.href;
    }
  } finally {
    wheel.disarm(deadline);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

type Outcome<Data> =
  | { kind: 'open'; connection: WebSocketConnection<Data> }
  | { kind: 'redirect'; status: number; location: string };

async function attempt<Data>(
  dial: Dialer,
  handshake: ClientHandshake,
  options: ClientOptions,
  deflate: DeflateSetup | undefined,
  signal: AbortSignal,
  data: Data | undefined,
): Promise<Outcome<Data>> {
  if (signal.aborted) throw signal.reason;
  let pending: Awaited<ReturnType<Dialer>>;
  try {
    pending = await dial({
      host: handshake.hostname,
      port: handshake.port,
      secure: handshake.secure,
      tls: options.tls,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new WebSocketHandshakeError(
      'WS_DIAL_FAILED',
      0,
      `could not connect to ${handshake.url}: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
  if (signal.aborted) {
    pending.transport.destroy();
    throw signal.reason;
  }
  return new Promise<Outcome<Data>>((resolve, reject) => {
    const flow = new TransportFlow(pending.transport);
    const stage = new ClientHandshakeStage<Data>(flow, handshake, options, deflate, data, resolve, reject);
    const onAbort = (): void => stage.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    stage.onSettled = () => signal.removeEventListener('abort', onAbort);
    flow.receiver = stage;
    pending.attach(flow);
    flow.write([handshake.request]);
  });
}

/** Reads the server's response head, then hands the transport to the connection. */
class ClientHandshakeStage<Data> implements FlowReceiver {
  private parser: HttpHeadParser<'response'>;
  private settled = false;
  onSettled: (() => void) | undefined;

  constructor(
    private readonly flow: TransportFlow,
    private readonly handshake: ClientHandshake,
    private readonly options: ClientOptions,
    private readonly deflate: DeflateSetup | undefined,
    private readonly data: Data | undefined,
    private readonly resolve: (outcome: Outcome<Data>) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.parser = new HttpHeadParser({
      kind: 'response',
      maxHeadSize: options.maxHeadSize,
      maxHeaderCount: options.maxHeaderCount,
    });
  }

  abort(reason: unknown): void {
    this.fail(reason);
  }

  onData(chunk: Uint8Array): void {
    if (this.settled) return;
    let result: ReturnType<HttpHeadParser<'response'>['push']>;
    try {
      result = this.parser.push(chunk);
    } catch (error) {
      this.fail(asHandshakeError(error, 0));
      return;
    }
    if (result === undefined) return;
    this.onResponse(result.head, result.rest);
  }

  private onResponse(head: HttpResponseHead, rest: Uint8Array): void {
    if (REDIRECT_STATUSES.has(head.status)) {
      const location = head.headers.get('location');
      if (location !== undefined) {
        this.settle();
        this.flow.destroy();
        this.resolve({ kind: 'redirect', status: head.status, location });
        return;
      }
    }
    let negotiated: ReturnType<typeof validateServerResponse>;
    try {
      negotiated = validateServerResponse(head, this.handshake);
    } catch (error) {
      this.fail(asHandshakeError(error, head.status));
      return;
    }
    let engine: DeflateEngine | undefined;
    if (negotiated.extensions.length > 0) {
      // permessage-deflate is the only extension we offer, so it is the only one allowed, once.
      const [answer, ...more] = negotiated.extensions;
      const setup = this.deflate;
      if (!answer || more.length > 0 || !setup) {
        this.fail(
          new WebSocketHandshakeError(
            'WS_INVALID_EXTENSION',
            head.status,
            'server accepted extensions that were not offered',
          ),
        );
        return;
      }
      let params: DeflateParams;
      try {
        params = acceptDeflateResponse(answer, setup, head.status);
      } catch (error) {
        this.fail(asHandshakeError(error, head.status));
        return;
      }
      engine = setup.engine({ side: 'client', params, level: setup.level, memLevel: setup.memLevel });
    }
    this.settle();
    const ws = new WebSocketConnection<Data>(
      this.flow,
      {
        side: 'client',
        protocol: negotiated.protocol,
        extensions: engine ? (head.headers.get('sec-websocket-extensions') ?? '') : '',
        url: this.handshake.url,
        deflate: engine,
        deflateThreshold: this.deflate?.threshold,
      },
      this.options,
      this.data as Data,
    );
    this.resolve({ kind: 'open', connection: ws });
    if (rest.length > 0) {
      // Frames that came with the 101 wait until the caller of connect() has resumed and
      // attached its listeners (a ping there would otherwise reach nobody); reading
      // pauses meanwhile so nothing overtakes them.
      const flow = this.flow;
      flow.pauseReading(ReadPause.HANDSHAKE);
      setTimeout(() => {
        if (ws.readyState !== ReadyState.CLOSED) ws.onData(rest);
        flow.resumeReading(ReadPause.HANDSHAKE);
      }, 0);
    }
  }

  onWritten(): void {}

  onEnd(): void {
    this.fail(
      new WebSocketHandshakeError(
        'WS_CONNECTION_CLOSED',
        0,
        'the server closed the connection during the handshake',
      ),
    );
  }

  onClose(error?: Error): void {
    this.fail(
      new WebSocketHandshakeError(
        'WS_CONNECTION_CLOSED',
        0,
        `connection closed during the handshake${error ? `: ${error.message}` : ''}`,
        {
          cause: error,
        },
      ),
    );
  }

  private settle(): void {
    this.settled = true;
    this.onSettled?.();
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settle();
    this.flow.destroy();
    this.reject(error);
  }
}

function asHandshakeError(error: unknown, status: number): unknown {
  if (error instanceof HandshakeError)
    return new WebSocketHandshakeError(error.code, status || error.status, error.message, { cause: error });
  return error;
}

function resolveRedirect(handshake: ClientHandshake, location: string): URL {
  const base = handshake.url.replace(/^ws/, 'http');
  let next: URL;
  try {
    next = new URL(location, base);
  } catch {
    throw new WebSocketHandshakeError(
      'WS_INVALID_STATUS',
      0,
      `invalid redirect location ${JSON.stringify(location)}`,
    );
  }
  if (next.protocol === 'http:') next.protocol = 'ws:';
  else if (next.protocol === 'https:') next.protocol = 'wss:';
  if (next.protocol !== 'ws:' && next.protocol !== 'wss:') {
    throw new WebSocketHandshakeError(
      'WS_INVALID_STATUS',
      0,
      `redirect to unsupported scheme ${next.protocol}`,
    );
  }
  next.hash = '';
  return next;
}

/** Drops credentials when a redirect leaves the origin or downgrades from TLS. */
function redirectHeaders(headers: [string, string][], from: ClientHandshake, to: URL): [string, string][] {
  const sameOrigin = to.host === from.host && (to.protocol === 'wss:') === from.secure;
  if (sameOrigin) return headers;
  return headers.filter(([name]) => !SENSITIVE_HEADERS.has(asciiLowerCase(name)));
}
