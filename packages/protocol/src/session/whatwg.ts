/**
 * The WHATWG `WebSocket` interface (https://websockets.spec.whatwg.org/) on top of
 * the session layer, so browser code runs unchanged on every runtime:
 *
 * ```ts
 * export const WebSocket = createWebSocketClass(nodeDialer);
 * const ws = new WebSocket('wss://example.com/chat', ['v1.chat']);
 * ws.onmessage = (event) => console.log(event.data);
 * ```
 *
 * The constructor takes a third, non-standard argument: the {@link ClientOptions}
 * of `connect()` (headers, TLS, limits, timeouts…), like Deno's and Bun's extensions.
 * Runtime-neutral: web-standard globals only (EventTarget, Event, MessageEvent,
 * Blob, DOMException, URL, TextEncoder, timers).
 */
import { createClientHandshake } from '../handshake.ts';
import { asciiLowerCase, isToken } from '../header-values.ts';
import { type ClientOptions, type ClientRuntime, connect } from './client.ts';
import { ReadyState, type WebSocketConnection } from './connection.ts';
import { toBytes } from './data.ts';
import type { Dialer } from './transport.ts';

// ------------------------------------------------------------------ CloseEvent

/** Initialiser of {@link CloseEvent} (the DOM's `CloseEventInit`). */
export interface CloseEventInit {
  readonly bubbles?: boolean;
  readonly cancelable?: boolean;
  readonly composed?: boolean;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
}

/** The `CloseEvent` of the HTML spec, for runtimes without one (Node < 23). */
class CloseEventShim extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#code = toUnsignedShort(init.code ?? 0);
    this.#reason = init.reason === undefined ? '' : `${init.reason}`;
    this.#wasClean = Boolean(init.wasClean);
  }

  /** The close code the peer sent (1005 if none, 1006 if the connection dropped). */
  get code(): number {
    return this.#code;
  }

  /** The close reason the peer sent. */
  get reason(): string {
    return this.#reason;
  }

  /** Whether the closing handshake completed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  static {
    Object.defineProperty(CloseEventShim.prototype, Symbol.toStringTag, {
      value: 'CloseEvent',
      configurable: true,
    });
  }
}

/**
 * The event `close` is fired with: the runtime's own `CloseEvent` where there is
 * one (browsers, Deno, Bun, Node ≥ 23), else an equivalent `Event` subclass.
 */
export const CloseEvent: typeof CloseEventShim =
  (globalThis as unknown as { CloseEvent?: typeof CloseEventShim }).CloseEvent ?? CloseEventShim;
/** An instance of {@link CloseEvent}. */
export type CloseEvent = CloseEventShim;

// ------------------------------------------------------------------ WebSocket

/** What `binaryType` may be: binary messages arrive as a `Blob` or an `ArrayBuffer`. */
export type WhatwgBinaryType = 'blob' | 'arraybuffer';

/** What `send()` accepts. */
export type WhatwgSendData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** The events of a {@link WhatwgWebSocket} and the objects they are fired with. */
export interface WhatwgWebSocketEventMap {
  open: Event;
  /** `data` is a string, or by `binaryType` a `Blob` or an `ArrayBuffer`; `origin` is the URL's origin. */
  message: MessageEvent;
  /** A plain `Event`: the connection failed. Always followed by `close`. */
  error: Event;
  close: CloseEvent;
}

/** `addEventListener` options (the DOM's `AddEventListenerOptions`). */
export interface WhatwgListenerOptions {
  readonly capture?: boolean;
  readonly once?: boolean;
  readonly passive?: boolean;
  readonly signal?: AbortSignal;
}

/** A listener function or object (the DOM's `EventListenerOrEventListenerObject`). */
export type WhatwgListener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

type HandlerName = 'open' | 'message' | 'error' | 'close';
type Handler<E> = ((this: WhatwgWebSocket, event: E) => unknown) | null;

/** One `on<event>` attribute: its value, and the listener registered for it while it is non-null. */
interface HandlerSlot {
  value: ((this: WhatwgWebSocket, event: Event) => unknown) | null;
  listener: ((event: Event) => void) | undefined;
}

/** A send waiting behind a Blob that is still being read, or a `close()` waiting behind both. */
type Outgoing =
  | { kind: 'data'; size: number; payload: string | Uint8Array | undefined; ready: boolean; failed?: boolean }
  | { kind: 'close'; size: 0; ready: true; code: number | undefined; reason: string | undefined };

const { CONNECTING, OPEN, CLOSING, CLOSED } = ReadyState;
const MAX_REASON_BYTES = 123;
const encoder = new TextEncoder();
const dialers = new WeakMap<object, Dialer | ClientRuntime>();

// The typed overloads of addEventListener/removeEventListener live in this
// interface, merged into the class, so no method is added at runtime: the
// prototype keeps the spec's shape and EventTarget's own methods are used.
export interface WhatwgWebSocket {
  addEventListener<K extends keyof WhatwgWebSocketEventMap>(
    type: K,
    listener: ((this: WhatwgWebSocket, event: WhatwgWebSocketEventMap[K]) => unknown) | null,
    options?: boolean | WhatwgListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: WhatwgListener | null,
    options?: boolean | WhatwgListenerOptions,
  ): void;
  removeEventListener<K extends keyof WhatwgWebSocketEventMap>(
    type: K,
    listener: ((this: WhatwgWebSocket, event: WhatwgWebSocketEventMap[K]) => unknown) | null,
    options?: boolean | { readonly capture?: boolean },
  ): void;
  removeEventListener(
    type: string,
    listener: WhatwgListener | null,
    options?: boolean | { readonly capture?: boolean },
  ): void;
}

/**
 * The HTML spec's `WebSocket`. Not constructible itself: {@link createWebSocketClass}
 * binds it to a runtime's dialer and returns the class users construct.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WhatwgWebSocket extends EventTarget {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  #state: ReadyState = CONNECTING;
  #binaryType: WhatwgBinaryType = 'blob';
  #protocol = '';
  #extensions = '';
  #connection: WebSocketConnection | undefined;
  /** Aborts the connection attempt (close() while CONNECTING). */
  #abort: AbortController | undefined;
  /** The connection reported an error: `error` fires before `close`. */
  #failed = false;
  /** Sends queued behind a Blob being read, in order. */
  #outbox: Outgoing[] = [];
  #outboxBytes = 0;
  /** Bytes passed to send() after closing started: never sent, never subtracted (spec). */
  #unsentBytes = 0;
  /** Bytes sent during the current task: bufferedAmount includes them even if the socket took them at once. */
  #taskBytes = 0;
  #taskReset = false;
  /**
   * Set while the messages the connection held (they arrived with the handshake
   * response) are being delivered: they precede any close frame that came with
   * them, so readyState stays OPEN for them, as the spec's task order would have it.
   */
  #releasingHeld = false;
  readonly #handlers: Record<HandlerName, HandlerSlot> = {
    open: { value: null, listener: undefined },
    message: { value: null, listener: undefined },
    error: { value: null, listener: undefined },
    close: { value: null, listener: undefined },
  };

  /**
   * Starts connecting to `url` (`ws:`/`wss:`, or `http:`/`https:` mapped to them),
   * offering `protocols`. `options` is our extension: the options of `connect()`.
   * @throws DOMException `SyntaxError` for an invalid URL or subprotocol list.
   */
  constructor(url: string | URL, protocols?: string | readonly string[], options: ClientOptions = {}) {
    super();
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments actually passed.
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required");
    const dial = dialerOf(new.target);
    if (!dial) throw new TypeError('Illegal constructor: use createWebSocketClass(dialer)');

    const record = parseWebSocketUrl(url);
    const offered = parseProtocols(protocols === undefined ? options.protocols : protocols);
    if (options.headers !== undefined || options.origin !== undefined) {
      // Our extension's options fail here, synchronously, rather than as a failed connection.
      createClientHandshake({ url: record.href, headers: options.headers, origin: options.origin });
    }
    this.#url = record.href;
    this.#origin = record.origin;

    const abort = new AbortController();
    this.#abort = abort;
    const userSignal = options.signal;
    const onUserAbort = (): void => abort.abort(userSignal?.reason);
    if (userSignal?.aborted) onUserAbort();
    else userSignal?.addEventListener('abort', onUserAbort, { once: true });
    connect(dial, this.#url, { ...options, protocols: offered, signal: abort.signal }).then(
      (connection) => {
        userSignal?.removeEventListener('abort', onUserAbort);
        this.#onEstablished(connection);
      },
      () => {
        userSignal?.removeEventListener('abort', onUserAbort);
        this.#failed = true;
        this.#onClosed(1006, '', false);
      },
    );
  }

  // ---------------------------------------------------------------- attributes

  /** The URL, serialized (`http:`/`https:` appear as `ws:`/`wss:`). */
  get url(): string {
    return this.#url;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyState {
    const state = this.#state;
    // The peer may have started the closing handshake, or the connection may have failed.
    if (state === OPEN && !this.#releasingHeld && this.#connection && this.#connection.readyState !== OPEN) {
      return CLOSING;
    }
    return state;
  }

  /**
   * Bytes passed to `send()` not yet handed to the network: the connection's send
   * buffer (which includes frame headers), Blobs still being read and what queues
   * behind them, and everything sent after closing started (which never drains).
   */
  get bufferedAmount(): number {
    const buffered = this.#connection?.bufferedAmount ?? 0;
    return Math.max(buffered, this.#taskBytes) + this.#outboxBytes + this.#unsentBytes;
  }

  /** The extensions the server selected (`''` until open). */
  get extensions(): string {
    return this.#extensions;
  }

  /** The subprotocol the server selected (`''` until open, or if none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** How binary messages are delivered: `'blob'` (default) or `'arraybuffer'`; other values are ignored. */
  get binaryType(): WhatwgBinaryType {
    return this.#binaryType;
  }

  set binaryType(value: WhatwgBinaryType) {
    const type = `${value}`;
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  get onopen(): Handler<Event> {
    return this.#handlers.open.value;
  }
  set onopen(handler: Handler<Event>) {
    this.#setHandler('open', handler);
  }

  get onmessage(): Handler<MessageEvent> {
    return this.#handlers.message.value as Handler<MessageEvent>;
  }
  set onmessage(handler: Handler<MessageEvent>) {
    this.#setHandler('message', handler as Handler<Event>);
  }

  get onerror(): Handler<Event> {
    return this.#handlers.error.value;
  }
  set onerror(handler: Handler<Event>) {
    this.#setHandler('error', handler);
  }

  get onclose(): Handler<CloseEvent> {
    return this.#handlers.close.value as Handler<CloseEvent>;
  }
  set onclose(handler: Handler<CloseEvent>) {
    this.#setHandler('close', handler as Handler<Event>);
  }

  // ---------------------------------------------------------------- methods

  /**
   * Sends a text (string) or binary (ArrayBuffer, view, Blob) message. Blobs are read
   * first; later sends wait for them, so messages keep their order.
   * @throws DOMException `InvalidStateError` while CONNECTING.
   */
  send(data: WhatwgSendData): void {
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments actually passed.
    if (arguments.length === 0) throw new TypeError("Failed to execute 'send': 1 argument required");
    let payload: string | Uint8Array | Blob;
    if (typeof data === 'string') payload = data;
    else if (isBlob(data)) payload = data;
    else if (isBinary(data)) payload = toBytes(data);
    else payload = `${data as unknown as string}`; // WebIDL: anything else becomes a USVString
    if (this.#state === CONNECTING) {
      throw new DOMException('WebSocket is still CONNECTING', 'InvalidStateError');
    }
    const size =
      typeof payload === 'string' ? utf8Length(payload) : isBlob(payload) ? payload.size : payload.byteLength;
    if (this.readyState !== OPEN) {
      this.#unsentBytes += size;
      return;
    }
    if (isBlob(payload)) {
      const entry: Outgoing = { kind: 'data', size, payload: undefined, ready: false };
      this.#enqueue(entry);
      payload.arrayBuffer().then(
        (buffer) => {
          entry.payload = new Uint8Array(buffer);
          entry.ready = true;
          this.#pump();
        },
        () => {
          entry.ready = true;
          entry.failed = true;
          this.#pump();
        },
      );
      return;
    }
    if (this.#outbox.length > 0) {
      // Behind a Blob: keep a snapshot, the caller may reuse its buffer.
      const copy = typeof payload === 'string' ? payload : payload.slice();
      this.#enqueue({ kind: 'data', size, payload: copy, ready: true });
      return;
    }
    this.#write(payload, size);
  }

  /**
   * Starts the closing handshake (after any queued Blob sends), or abandons the
   * connection attempt while CONNECTING. Does nothing when CLOSING or CLOSED.
   * @throws DOMException `InvalidAccessError` for a code other than 1000 or 3000–4999,
   * `SyntaxError` for a reason longer than 123 UTF-8 bytes.
   */
  close(code?: number, reason?: string): void {
    let closeCode: number | undefined;
    if (code !== undefined) {
      closeCode = clampUnsignedShort(code);
      if (closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
        throw new DOMException(
          `close code must be 1000 or in 3000–4999, got ${closeCode}`,
          'InvalidAccessError',
        );
      }
    }
    let closeReason: string | undefined;
    if (reason !== undefined) {
      closeReason = `${reason}`;
      const bytes = encoder.encode(closeReason);
      if (bytes.length > MAX_REASON_BYTES) {
        throw new DOMException(
          `close reason must be at most ${MAX_REASON_BYTES} UTF-8 bytes, got ${bytes.length}`,
          'SyntaxError',
        );
      }
      closeCode ??= 1000;
    }
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (this.#state === CONNECTING) {
      this.#state = CLOSING;
      this.#failed = true;
      this.#abort?.abort();
      return;
    }
    this.#state = CLOSING;
    if (this.#outbox.length > 0) {
      this.#enqueue({ kind: 'close', size: 0, ready: true, code: closeCode, reason: closeReason });
      return;
    }
    this.#connection?.close(closeCode, closeReason);
  }

  // ---------------------------------------------------------------- internals

  #setHandler(type: HandlerName, handler: Handler<Event>): void {
    const slot = this.#handlers[type];
    const value = typeof handler === 'function' ? handler : null;
    slot.value = value;
    if (value === null) {
      if (slot.listener) this.removeEventListener(type, slot.listener);
      slot.listener = undefined;
    } else if (!slot.listener) {
      // Registered once, where it first became non-null: replacing the handler keeps its place.
      const listener = (event: Event): void => {
        const current = slot.value;
        if (current && current.call(this, event) === false) event.preventDefault();
      };
      slot.listener = listener;
      this.addEventListener(type, listener);
    }
  }

  #onEstablished(connection: WebSocketConnection): void {
    if (this.#state !== CONNECTING) {
      // close() won the race against the handshake.
      connection.terminate();
      this.#onClosed(1006, '', false);
      return;
    }
    this.#abort = undefined;
    this.#connection = connection;
    // Listening at once keeps messages flowing; held ones are released in a microtask, after `open`.
    connection.on('message', (data) => this.#onMessage(data));
    if (connection.readyState !== OPEN) {
      // Runs after the microtask in which the connection hands over the messages it held.
      this.#releasingHeld = true;
      queueMicrotask(() => {
        this.#releasingHeld = false;
      });
    }
    connection.on('error', () => {
      this.#failed = true;
    });
    if (connection.readyState === CLOSED) {
      connection.closed().then((info) => this.#onClosed(info.code, info.reason, info.wasClean));
    } else {
      connection.on('close', (code, reason, wasClean) => this.#onClosed(code, reason, wasClean));
    }
    this.#state = OPEN;
    this.#protocol = connection.protocol;
    this.#extensions = connection.extensions;
    this.dispatchEvent(new Event('open'));
  }

  #onMessage(data: string | Uint8Array): void {
    // The spec drops messages unless OPEN; ours only turns CLOSING through close().
    if (this.#state !== OPEN) return;
    let value: string | ArrayBuffer | Blob;
    if (typeof data === 'string') value = data;
    else if (this.#binaryType === 'blob') value = new Blob([data as Uint8Array<ArrayBuffer>]);
    else value = data.slice().buffer; // a copy: `data` may be a view of a receive buffer
    this.dispatchEvent(new MessageEvent('message', { data: value, origin: this.#origin }));
  }

  #onClosed(code: number, reason: string, wasClean: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#abort = undefined;
    // Queued sends will never go out: they stay in bufferedAmount.
    this.#unsentBytes += this.#outboxBytes;
    this.#outboxBytes = 0;
    this.#outbox = [];
    if (this.#failed && !wasClean) {
      // We failed the connection: no close frame was received (RFC 6455 §7.1.5).
      code = 1006;
      reason = '';
    }
    if (this.#failed || code === 1006) this.dispatchEvent(new Event('error'));
    this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
  }

  #enqueue(entry: Outgoing): void {
    this.#outbox.push(entry);
    this.#outboxBytes += entry.size;
  }

  /** Sends queued entries in order, up to the first Blob still being read. */
  #pump(): void {
    const connection = this.#connection;
    const outbox = this.#outbox;
    while (connection && outbox.length > 0 && (outbox[0] as Outgoing).ready) {
      const entry = outbox.shift() as Outgoing;
      this.#outboxBytes -= entry.size;
      if (entry.kind === 'close') {
        connection.close(entry.code, entry.reason);
      } else if (connection.readyState !== OPEN) {
        this.#unsentBytes += entry.size;
      } else if (entry.failed || entry.payload === undefined) {
        // A Blob that could not be read: the message cannot be sent, so fail the connection.
        this.#unsentBytes += entry.size;
        this.#failed = true;
        connection.terminate();
      } else {
        this.#write(entry.payload, entry.size);
      }
    }
  }

  #write(payload: string | Uint8Array, size: number): void {
    const connection = this.#connection as WebSocketConnection;
    const result = connection.send(payload);
    if (result === 'dropped') {
      // The send buffer overflowed and the connection is failing (backpressurePolicy 'close').
      if (connection.readyState !== OPEN) this.#unsentBytes += size;
      return;
    }
    this.#taskBytes += size;
    if (!this.#taskReset) {
      this.#taskReset = true;
      setTimeout(() => {
        this.#taskBytes = 0;
        this.#taskReset = false;
      }, 0);
    }
  }

  static {
    const constants = {
      CONNECTING: { value: CONNECTING, enumerable: true },
      OPEN: { value: OPEN, enumerable: true },
      CLOSING: { value: CLOSING, enumerable: true },
      CLOSED: { value: CLOSED, enumerable: true },
    };
    Object.defineProperties(WhatwgWebSocket, constants);
    Object.defineProperties(WhatwgWebSocket.prototype, constants);
    Object.defineProperty(WhatwgWebSocket.prototype, Symbol.toStringTag, {
      value: 'WebSocket',
      configurable: true,
    });
  }
}

/**
 * Binds the WHATWG `WebSocket` to a runtime's {@link Dialer} (or {@link ClientRuntime}, with its deflate engine):
 * `export const WebSocket = createWebSocketClass(nodeDialer);`
 */
export function createWebSocketClass(dial: Dialer | ClientRuntime): typeof WhatwgWebSocket {
  const WebSocket = class WebSocket extends WhatwgWebSocket {};
  dialers.set(WebSocket, dial);
  return WebSocket;
}

// ------------------------------------------------------------------ helpers

function dialerOf(target: object | undefined): Dialer | ClientRuntime | undefined {
  for (let c = target; c; c = Object.getPrototypeOf(c) as object | undefined) {
    const dial = dialers.get(c);
    if (dial) return dial;
  }
  return undefined;
}

function syntaxError(message: string): DOMException {
  return new DOMException(message, 'SyntaxError');
}

/** The constructor's URL steps: parse, map http(s) to ws(s), refuse other schemes and fragments. */
function parseWebSocketUrl(url: string | URL): URL {
  const input = `${url}`;
  let record: URL;
  try {
    record = new URL(input);
  } catch {
    throw syntaxError(`Invalid WebSocket URL: ${JSON.stringify(input)}`);
  }
  if (record.protocol === 'http:') record.protocol = 'ws:';
  else if (record.protocol === 'https:') record.protocol = 'wss:';
  if (record.protocol !== 'ws:' && record.protocol !== 'wss:') {
    throw syntaxError(`WebSocket URLs must be ws:, wss:, http: or https:, got ${record.protocol}`);
  }
  // An empty fragment serializes as a trailing '#' with `hash` === ''.
  if (record.hash !== '' || record.href.endsWith('#')) {
    throw syntaxError('WebSocket URLs must not have a fragment');
  }
  if (record.username !== '' || record.password !== '') {
    // Deviation: browsers accept (and ignore) credentials; we refuse rather than drop them silently.
    throw syntaxError('WebSocket URLs must not contain credentials: pass an Authorization header in options');
  }
  return record;
}

/** The constructor's subprotocol steps: tokens, no duplicates (compared ASCII case-insensitively, like browsers). */
function parseProtocols(protocols: string | Iterable<string> | undefined): string[] {
  if (protocols === undefined) return [];
  const list =
    typeof protocols === 'string'
      ? [protocols]
      : typeof protocols === 'object' && protocols !== null && Symbol.iterator in protocols
        ? Array.from(protocols, (p) => `${p}`)
        : [`${protocols as unknown as string}`];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (!isToken(protocol)) throw syntaxError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    const key = asciiLowerCase(protocol);
    if (seen.has(key)) throw syntaxError(`Duplicate subprotocol: ${JSON.stringify(protocol)}`);
    seen.add(key);
  }
  return list;
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob === 'function' && value instanceof Blob;
}

function isBinary(value: unknown): value is ArrayBufferLike | ArrayBufferView {
  if (ArrayBuffer.isView(value)) return true;
  const tag = Object.prototype.toString.call(value);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

/** UTF-8 length of a string as TextEncoder encodes it (lone surrogates become U+FFFD). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUnsignedShort(value: unknown): number {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 0xffff);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

/** WebIDL `unsigned short` (modulo 2^16). */
function toUnsignedShort(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) return 0;
  return ((Math.trunc(n) % 0x10000) + 0x10000) % 0x10000;
}
