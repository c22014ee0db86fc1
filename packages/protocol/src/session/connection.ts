/**
 * A WebSocket connection over a {@link Transport}: the object users hold on every
 * runtime. It drives the sans-I/O {@link Protocol}, owns time (close timeout,
 * heartbeat) and turns the core's events into listener calls and async iteration.
 */
import { CloseCode } from '../errors.ts';
import type { CompressedMessage, ProtocolEvent } from '../events.ts';
import {
  type DeflateEngine,
  InflateLimitError,
  type PerMessageDeflateOptions,
} from '../extensions/deflate-engine.ts';
import { type EncodedFrame, Protocol, type ProtocolLimits, type Side } from '../protocol.ts';
import { encodeText, type SendData, toBytes } from './data.ts';
import { Emitter } from './emitter.ts';
import { type FlowReceiver, ReadPause, type TransportFlow } from './flow.ts';
import type { UpgradeRequest } from './request.ts';
import { Deadline, sharedTimerWheel, type TimerEntry, type TimerWheel } from './timer-wheel.ts';
import type { TopicMember, TopicRegistry } from './topics.ts';

/** WHATWG `readyState` values. */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
/** One of {@link ReadyState}. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What a send did:
 * - `'sent'`: queued for this turn's write, and the send buffer is at or below `highWaterMark`;
 * - `'buffered'`: queued, but the buffer is above `highWaterMark` — wait for `drain`
 *   (meanwhile nothing more is read from the peer);
 * - `'dropped'`: not sent, because the connection is closing/closed or the buffer is
 *   at `maxBufferedAmount` and `backpressurePolicy` is `'drop'`.
 */
export type SendResult = 'sent' | 'buffered' | 'dropped';

/** Heartbeat settings: ping a quiet peer, drop a dead one. */
export interface HeartbeatOptions {
  /**
   * Send a ping after this many ms without a sign of life from the peer (bytes received,
   * or the kernel taking buffered bytes it could not take at once).
   */
  readonly interval: number;
  /** Terminate if no sign of life comes within this many ms after the ping. Default: `interval`. */
  readonly timeout?: number;
}

/** Options shared by server-side and client-side connections. All sizes in bytes, times in ms. */
export interface ConnectionOptions extends Partial<ProtocolLimits> {
  /** Answer pings automatically. Default true. */
  readonly autoPong?: boolean;
  /**
   * Above this many buffered bytes (see `bufferedAmount`) `send` returns `'buffered'`.
   * If handling the peer's input made us send (pongs, close replies, answers given from a
   * `message` listener) while above it, nothing more is read from that peer until the
   * buffer is back at or below it: what a peer can make us send is bounded by this plus
   * one read. Default 1 MiB.
   */
  readonly highWaterMark?: number;
  /** Hard cap on buffered bytes; what a send past it does is `backpressurePolicy`. Default 16 MiB. */
  readonly maxBufferedAmount?: number;
  /**
   * `'close'` fails the connection with 1008 (default), dropping the backlog not yet
   * written so the close frame leaves next; `'drop'` drops the message and returns `'dropped'`.
   */
  readonly backpressurePolicy?: 'close' | 'drop';
  /** How long to wait for the closing handshake before dropping the transport. Default 10 000. */
  readonly closeTimeout?: number;
  /**
   * Pings to detect dead peers; `false` turns them off. Servers: on by default
   * ({@link DEFAULT_SERVER_HEARTBEAT}: ping after 30 s, terminate 30 s later). Clients: off.
   */
  readonly heartbeat?: HeartbeatOptions | false;
  /** Close with 1001 after this long without a message from the peer (pings and pongs do not count). Off by default. */
  readonly idleTimeout?: number;
  /** Messages held for a slow `for await` loop before reading pauses. Default 64. */
  readonly maxQueuedMessages?: number;
  /** The wheel that runs this connection's timeouts. Default: the shared one. */
  readonly timerWheel?: TimerWheel;
  /**
   * permessage-deflate (RFC 7692): `true` or settings to enable, `false` to disable.
   * Servers: off unless enabled. Clients: offered by default.
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Listener signatures of a {@link WebSocketConnection}. */
export interface ConnectionEventMap {
  [event: string]: unknown[];
  /** A message: a string for text, a Uint8Array for binary. */
  message: [data: string | Uint8Array, isBinary: boolean];
  ping: [data: Uint8Array];
  pong: [data: Uint8Array];
  /** After a send returned `'buffered'`: the send buffer is back at half the high-water mark or below. */
  drain: [];
  /** A protocol violation by the peer, a transport error or a timeout. Never thrown. */
  error: [error: Error];
  /** The connection is closed; emitted exactly once. */
  close: [code: number, reason: string, wasClean: boolean];
}

/** A frame encoded once and written to many connections (see topics). */
export interface SharedFrame {
  readonly frame: EncodedFrame;
}

/** Raised through the `error` event when the peer broke the protocol. */
export class WebSocketProtocolError extends Error {
  override readonly name = 'WebSocketProtocolError';
  constructor(
    /** Stable identifier, e.g. `WS_ERR_INVALID_UTF8`. */
    readonly code: string,
    /** The close code the connection was failed with. */
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Raised through the `error` event (and rejected by `sendAsync`) for local conditions. */
export class WebSocketError extends Error {
  override readonly name = 'WebSocketError';
  constructor(
    readonly code:
      | 'WS_CLOSED'
      | 'WS_CLOSE_TIMEOUT'
      | 'WS_HEARTBEAT_TIMEOUT'
      | 'WS_BACKPRESSURE_LIMIT'
      | 'WS_TRANSPORT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Internal hooks a server gives its connections. */
export interface ConnectionOwner {
  onClosed(connection: TopicMember): void;
  readonly topics: TopicRegistry;
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_MAX_QUEUED_MESSAGES = 64;
/** Servers look for dead peers unless told not to: ping after 30 s of silence, drop 30 s later. */
export const DEFAULT_SERVER_HEARTBEAT: HeartbeatOptions = { interval: 30_000, timeout: 30_000 };
/**
 * Once input is ignored (the peer's close frame arrived, or the connection failed),
 * at most this many more bytes are read and discarded while waiting for the peer's
 * FIN; a peer that keeps sending is dropped instead of keeping us busy.
 */
const MAX_DISCARDED_BYTES = 64 * 1024;

/** Details about the peer and the negotiated session. */
export interface ConnectionInfo {
  readonly side: Side;
  /** The subprotocol agreed on, or `''`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` value agreed on, or `''`. */
  readonly extensions: string;
  /** The URL (client side) or request target (server side). */
  readonly url: string;
  /** Server side: the upgrade request the connection was accepted from. */
  readonly request?: UpgradeRequest;
  /** The permessage-deflate engine, when the extension was negotiated. */
  readonly deflate?: DeflateEngine;
  /** Messages below this many bytes go uncompressed. Default 1024. */
  readonly deflateThreshold?: number;
}

type Waiter = { resolve: (result: IteratorResult<string | Uint8Array>) => void };

/**
 * One open WebSocket connection, server side or client side.
 *
 * `Data` is whatever the application attaches to `ws.data` (set from the upgrade hook on servers).
 */
export class WebSocketConnection<Data = unknown>
  extends Emitter<ConnectionEventMap>
  implements FlowReceiver, TimerEntry
{
  /** Application data attached to this connection. */
  data: Data;
  /** `'client'` or `'server'`. */
  readonly side: Side;
  /** The subprotocol agreed on, or `''`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` value agreed on, or `''`. */
  readonly extensions: string;
  /** The URL (client side) or request target (server side). */
  readonly url: string;
  /**
   * Server side, with the server's `retainRequest` option: the upgrade request it was
   * accepted from (headers, cookies, path…). Otherwise undefined (the request is the
   * `connection` event's second argument).
   */
  readonly request: UpgradeRequest | undefined;

  /** The write queue and read pause over the transport. */
  private readonly flow: TransportFlow;
  private readonly core: Protocol;
  /** What the options say, resolved once per options object and shared by its connections. */
  private readonly settings: ConnectionSettings;

  private readonly deflate: DeflateEngine | undefined;
  private readonly deflateThreshold: number;
  /**
   * Sends waiting behind an asynchronous compression, in call order: while it
   * exists every data send and the close frame queue here, so the wire order is
   * the call order. Pings and pongs may overtake (control frames interleave).
   */
  private sendQueue: PendingSend[] | undefined;
  private queuedBytes = 0;
  /** An asynchronous inflate is running; the core holds what arrives after it. */
  private inflating = false;
  /** Events of one read are being handed to listeners. */
  private dispatching = false;

  private state: ReadyState = ReadyState.OPEN;
  private needDrain = false;
  /** @internal The heartbeat / idle deadline lives on the connection itself (TimerEntry): slot on the wheel, -1 when not armed. */
  slot = -1;
  /** @internal */
  rounds = 0;
  /**
   * Wheel time the peer last showed it is alive — bytes received, or the kernel taking
   * bytes it could not take at once (heartbeat) — and of its last message (idle timeout).
   */
  private lastHeard = 0;
  private lastMessage = 0;
  private pingOutstanding = false;
  /** What only a closing or closed connection needs (see {@link Ending}). */
  private end: Ending | undefined;

  /**
   * Messages nobody has consumed yet: held while there is neither a `message`
   * listener nor a `for await` loop (so a message that arrives before the caller
   * of `connect()` resumes is not lost), and the backlog of a slow loop. Reading
   * pauses while it holds `maxQueuedMessages`.
   */
  private queue: (string | Uint8Array)[] | undefined;
  private waiters: Waiter[] | undefined;
  private iterating = false;

  /** @internal Topic membership, managed by the server's topic registry. */
  topics: Set<string> | undefined;
  /** @internal Set by the server that owns this connection. */
  owner: ConnectionOwner | undefined;

  /**
   * Takes over a flow whose handshake is complete (it becomes the flow's receiver).
   * Servers and the client call this; applications get connections from them.
   */
  constructor(flow: TransportFlow, info: ConnectionInfo, options: ConnectionOptions, data: Data) {
    super();
    this.flow = flow;
    this.side = info.side;
    this.protocol = info.protocol;
    this.extensions = info.extensions;
    this.url = info.url;
    this.request = info.request;
    this.data = data;
    this.deflate = info.deflate;
    this.deflateThreshold = nonNegative('deflateThreshold', info.deflateThreshold ?? 1024);
    this.core = new Protocol({
      side: info.side,
      maxMessageSize: options.maxMessageSize,
      maxFrameSize: options.maxFrameSize,
      maxFragments: options.maxFragments,
      maxAutoPongs: options.maxAutoPongs,
      autoPong: options.autoPong,
      perMessageDeflate: info.deflate !== undefined,
    });
    this.settings = settingsFor(options, info.side);
    flow.highWaterMark = this.settings.highWaterMark;
    flow.receiver = this;
    this.lastHeard = this.lastMessage = this.settings.wheel.now;
    this.armTimers();
  }

  /** Sends at or above the threshold go compressed (the peer may have capped our window too far). */
  private get compresses(): boolean {
    return this.deflate !== undefined && this.deflate.compresses !== false;
  }

  // ------------------------------------------------------------ state

  /** WHATWG-style ready state: OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes of messages sent but not yet taken by the kernel (UTF-8 bytes for text, frame headers included). */
  get bufferedAmount(): number {
    return this.flow.bufferedAmount + this.queuedBytes;
  }

  /** The peer's IP address. */
  get remoteAddress(): string | undefined {
    return this.flow.transport.remoteAddress;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.flow.transport.remotePort;
  }

  /** Whether the connection runs over TLS. */
  get secure(): boolean {
    return this.flow.transport.secure;
  }

  /** The close code once closed (1005 no status, 1006 abnormal), else undefined. */
  get closeCode(): number | undefined {
    return this.end?.info?.code;
  }

  /** The close reason once closed, else undefined. */
  get closeReason(): string | undefined {
    return this.end?.info?.reason;
  }

  /** Resolves once the connection is closed, with the same values as the `close` event. */
  closed(): Promise<ConnectionClosed> {
    const end = this.ending();
    if (end.info) return Promise.resolve(end.info);
    return new Promise((resolve) => {
      end.waiters ??= [];
      end.waiters.push(() => resolve(end.info as ConnectionClosed));
    });
  }

  /**
   * Stops reading from the peer until {@link resume}: messages already received are
   * still delivered, then TCP's own flow control holds the peer back.
   */
  pause(): void {
    this.flow.pauseReading(ReadPause.APPLICATION);
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.flow.resumeReading(ReadPause.APPLICATION);
  }

  /** Whether {@link pause} is in force. */
  get isPaused(): boolean {
    return this.flow.isPaused(ReadPause.APPLICATION);
  }

  // ------------------------------------------------------------ sending

  /**
   * Sends a message: a string as text, binary data as binary (`binary: true` sends a
   * string's UTF-8 bytes as a binary message). Never throws because of the connection's
   * state; see {@link SendResult}.
   */
  send(data: SendData, options?: { readonly binary?: boolean }): SendResult {
    const isText = typeof data === 'string' && !options?.binary;
    const bytes = typeof data === 'string' ? undefined : toBytes(data);
    if (this.state !== ReadyState.OPEN) return 'dropped';
    // Text counts in UTF-8 bytes against the send buffer, as it goes on the wire.
    const payload = bytes ?? encodeText(data as string);
    const size = payload.length;
    if (!this.admit(size)) return 'dropped';
    if (this.compresses && size >= this.deflateThreshold) {
      return this.sendCompressed(payload, isText);
    }
    if (this.sendQueue !== undefined) {
      return this.queueSend({ kind: 'data', text: isText, payload, compressed: false, size });
    }
    const queued = isText ? this.core.sendText(payload) : this.core.sendBinary(payload);
    return queued ? this.flush() : 'dropped';
  }

  private sendCompressed(bytes: Uint8Array, isText: boolean): SendResult {
    let payload: Uint8Array | Promise<Uint8Array>;
    try {
      payload = (this.deflate as DeflateEngine).compress(bytes);
    } catch (error) {
      this.compressionFailed(error);
      return 'dropped';
    }
    if (this.sendQueue !== undefined || !(payload instanceof Uint8Array)) {
      return this.queueSend({ kind: 'data', text: isText, payload, compressed: true, size: bytes.length });
    }
    const queued = isText
      ? this.core.sendText(payload, true, true)
      : this.core.sendBinary(payload, true, true);
    return queued ? this.flush() : 'dropped';
  }

  private queueSend(send: PendingSend): SendResult {
    this.sendQueue ??= [];
    this.sendQueue.push(send);
    this.queuedBytes += send.size;
    this.pumpQueue();
    return this.levelAfterSend();
  }

  /** Sends queued items in order until one is still being compressed. */
  private pumpQueue(): void {
    const queue = this.sendQueue;
    if (queue === undefined) return;
    while (queue.length > 0) {
      const head = queue[0] as PendingSend;
      if (head.kind === 'data' && !(head.payload instanceof Uint8Array)) {
        if (!head.waiting) {
          head.waiting = true;
          head.payload.then(
            (payload) => {
              head.payload = payload;
              this.pumpQueue();
            },
            (error: unknown) => this.compressionFailed(error),
          );
        }
        return;
      }
      queue.shift();
      this.queuedBytes -= head.size;
      if (this.state === ReadyState.CLOSED) continue;
      if (head.kind === 'close') {
        this.core.sendClose(head.code, head.reason);
        continue;
      }
      if (head.kind === 'shared') {
        this.core.sendEncoded(head.frame);
        continue;
      }
      const payload = head.payload as Uint8Array;
      if (head.text) this.core.sendText(payload, true, head.compressed);
      else this.core.sendBinary(payload, true, head.compressed);
    }
    this.sendQueue = undefined;
    this.flush();
    this.afterCoreStep();
    this.checkDrain();
  }

  private compressionFailed(error: unknown): void {
    this.failConnection(
      CloseCode.INTERNAL_ERROR,
      'compression failed',
      new WebSocketError('WS_TRANSPORT', `compression failed: ${(error as Error)?.message ?? error}`, {
        cause: error,
      }),
    );
  }

  /**
   * Sends and waits until the send buffer is below `highWaterMark` again. Rejects with
   * a `WebSocketError` (`WS_CLOSED`) if the message could not be sent.
   */
  async sendAsync(data: SendData, options?: { readonly binary?: boolean }): Promise<void> {
    const result = this.send(data, options);
    if (result === 'dropped')
      throw new WebSocketError(
        'WS_CLOSED',
        'message not sent: the connection is closing or closed, or its send buffer is full',
      );
    if (result === 'buffered') await this.drained();
  }

  /** Resolves when the send buffer has drained (at once if it is not above `highWaterMark`), or the connection closed. */
  drained(): Promise<void> {
    if (this.state === ReadyState.CLOSED || this.bufferedAmount <= this.settings.highWaterMark)
      return Promise.resolve();
    this.wantDrain();
    return new Promise((resolve) => {
      const done = (): void => {
        this.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.on('drain', done);
      this.on('close', done);
    });
  }

  /** @internal Writes a frame encoded once for many connections (topics). Server side only. */
  sendShared(shared: SharedFrame): SendResult {
    if (this.state !== ReadyState.OPEN) return 'dropped';
    const frame = shared.frame;
    const size = frame.header.length + frame.payload.length;
    if (!this.admit(size)) return 'dropped';
    if (this.sendQueue !== undefined) return this.queueSend({ kind: 'shared', frame, size });
    if (!this.core.sendEncoded(frame)) return 'dropped';
    return this.flush();
  }

  /** Sends a ping (up to 125 bytes). Returns false if the connection is not open. */
  ping(data?: SendData): boolean {
    if (this.state !== ReadyState.OPEN) return false;
    const ok = this.core.sendPing(controlPayload(data));
    this.flush();
    return ok;
  }

  /** Sends a pong (up to 125 bytes); an unsolicited pong is a one-way heartbeat. */
  pong(data?: SendData): boolean {
    if (this.state !== ReadyState.OPEN) return false;
    const ok = this.core.sendPong(controlPayload(data));
    this.flush();
    return ok;
  }

  /**
   * Starts the closing handshake. `code` defaults to none (the peer sees 1005); codes
   * must be 1000 or 3000–4999 (or another code an endpoint may send), `reason` at most
   * 123 UTF-8 bytes, else this throws. Closing twice is a no-op.
   */
  close(code?: number, reason?: string): void {
    if (this.state !== ReadyState.OPEN) {
      // Validate arguments all the same, so misuse is not hidden by timing.
      if (code !== undefined || reason !== undefined) this.core.validateClose(code, reason);
      return;
    }
    if (this.sendQueue !== undefined) {
      // The close frame goes out after the messages still being compressed.
      this.core.validateClose(code, reason);
      this.state = ReadyState.CLOSING;
      this.queueSend({ kind: 'close', code, reason, size: 0 });
      return;
    }
    this.core.sendClose(code, reason);
    this.state = ReadyState.CLOSING;
    this.flush();
    this.afterCoreStep();
  }

  /** Drops the connection at once without a closing handshake; the peer sees 1006. */
  terminate(): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSING;
    this.flow.destroy();
  }

  // ------------------------------------------------------------ topics

  /** Subscribes to a topic of the server this connection belongs to; false if it already was. */
  subscribe(topic: string): boolean {
    return this.registry().subscribe(this, topic);
  }

  /** Unsubscribes; false if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.registry().unsubscribe(this, topic);
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.topics?.has(topic) ?? false;
  }

  /** The topics this connection is subscribed to. */
  get subscriptions(): string[] {
    return this.topics ? Array.from(this.topics) : [];
  }

  /**
   * Sends to every subscriber of `topic` except this connection (unless
   * `includeSelf`), framing the message once. Returns the number of recipients.
   */
  publish(
    topic: string,
    data: SendData,
    options?: { readonly binary?: boolean; readonly includeSelf?: boolean },
  ): number {
    return this.registry().publish(topic, data, {
      binary: options?.binary,
      exclude: options?.includeSelf ? undefined : this,
    });
  }

  private registry(): TopicRegistry {
    if (!this.owner) throw new TypeError('topics are a server feature: this connection has no server');
    return this.owner.topics;
  }

  // ------------------------------------------------------------ receiving

  /** Adds a listener; adding the first `message` listener delivers messages held until then. */
  override on<E extends keyof ConnectionEventMap>(
    event: E,
    listener: (...args: ConnectionEventMap[E]) => void,
  ): this {
    super.on(event, listener);
    if (event === 'message' && !this.iterating && this.queue && this.queue.length > 0) {
      queueMicrotask(() => this.releaseHeldMessages());
    }
    return this;
  }

  /**
   * Reads messages with `for await` (strings for text, Uint8Arrays for binary); the
   * loop ends when the connection closes. Messages that arrived before the loop
   * started and were not taken by a `message` listener come first.
   */
  [Symbol.asyncIterator](): AsyncIterator<string | Uint8Array> {
    this.iterating = true;
    this.queue ??= [];
    this.waiters ??= [];
    return {
      next: () => {
        const queue = this.queue;
        if (queue && queue.length > 0) {
          const value = queue.shift() as string | Uint8Array;
          this.resumeIfDrained();
          return Promise.resolve({ value, done: false });
        }
        if (this.state === ReadyState.CLOSED) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiters ??= [];
          this.waiters.push({ resolve });
        });
      },
      return: () => {
        this.iterating = false;
        this.queue = undefined;
        this.releaseWaiters();
        this.waiters = undefined;
        this.resumeIfDrained();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ------------------------------------------------------------ transport events

  /** @internal Bytes from the peer. */
  onData(chunk: Uint8Array): void {
    this.lastHeard = this.settings.wheel.now;
    this.pingOutstanding = false;
    if (!this.core.receiving) {
      // Only the peer's FIN is still of interest: what comes before it is dropped, up to a point.
      const end = this.ending();
      end.discardedBytes += chunk.length;
      if (end.discardedBytes > MAX_DISCARDED_BYTES) this.flow.destroy();
      return;
    }
    this.core.receiveData(chunk);
    if (!this.inflating) this.processCoreEvents();
  }

  /**
   * Dispatches what the core reported. A compressed message is always the last event
   * of a batch (the core stops parsing after it): it is inflated, delivered, and then
   * the core continues with the bytes after it. While an inflate runs asynchronously,
   * reading pauses and the core holds what arrives.
   */
  private processCoreEvents(): void {
    this.dispatching = true;
    // What handling the peer's input makes us send (pongs, close replies, answers from
    // listeners) may pause reading from it (see TransportFlow).
    this.flow.peerWork = true;
    try {
      for (;;) {
        const events = this.core.events();
        if (events.length === 0) break;
        for (let i = 0; i < events.length; i++) {
          const event = events[i] as ProtocolEvent;
          if (event.type !== 'compressed') {
            this.dispatch(event);
            continue;
          }
          if (!this.inflateNow(event)) return;
          this.core.continueAfterCompressed();
        }
      }
    } finally {
      this.dispatching = false;
      this.flow.peerWork = false;
    }
    this.flow.peerWork = true;
    this.flush();
    this.flow.peerWork = false;
    this.afterCoreStep();
  }

  /**
   * Inflates a compressed message and dispatches it. Returns false when the engine
   * went asynchronous; the rest of the work resumes when it settles.
   */
  private inflateNow(event: CompressedMessage): boolean {
    let result: Uint8Array | Promise<Uint8Array>;
    try {
      result = (this.deflate as DeflateEngine).decompress(event.data, this.core.limits.maxMessageSize);
    } catch (error) {
      this.inflateFailed(error);
      return true;
    }
    if (result instanceof Uint8Array) {
      this.deliverInflated(event, result);
      return true;
    }
    this.inflating = true;
    this.flow.pauseReading(ReadPause.INFLATE);
    const settle = (data: Uint8Array | undefined, error?: unknown): void => {
      this.inflating = false;
      if (data !== undefined) this.deliverInflated(event, data);
      else this.inflateFailed(error);
      if (this.state === ReadyState.CLOSED) return;
      this.core.continueAfterCompressed();
      this.processCoreEvents();
      if (!this.inflating) this.flow.resumeReading(ReadPause.INFLATE);
    };
    result.then(
      (data) => settle(data),
      (error: unknown) => settle(undefined, error),
    );
    return false;
  }

  private deliverInflated(event: CompressedMessage, data: Uint8Array): void {
    if (this.state === ReadyState.CLOSED || this.core.error) return;
    if (event.binary) {
      this.dispatch({ type: 'binary', data });
      return;
    }
    let text: string;
    try {
      text = fatalDecoder.decode(data);
    } catch {
      this.failProtocol(CloseCode.INVALID_PAYLOAD, 'WS_ERR_INVALID_UTF8', 'invalid UTF-8 in text message');
      return;
    }
    this.dispatch({ type: 'text', data: text });
  }

  private inflateFailed(error: unknown): void {
    if (error instanceof InflateLimitError) {
      this.failProtocol(CloseCode.MESSAGE_TOO_BIG, 'WS_ERR_MESSAGE_TOO_BIG', 'message too big once inflated');
    } else {
      this.failProtocol(
        CloseCode.INVALID_PAYLOAD,
        'WS_ERR_INFLATE',
        'compressed message could not be inflated',
      );
    }
  }

  /** Fails the connection for a protocol violation found above the core (after inflating). */
  private failProtocol(code: number, errorCode: string, reason: string): void {
    this.failConnection(code, reason, new WebSocketProtocolError(errorCode, code, reason));
  }

  /**
   * The one way the session layer fails a connection (RFC 6455 §7.1.7): report
   * `error`, drop sends still being compressed, send a close frame with `code`, end.
   */
  private failConnection(code: number, reason: string, error: Error): void {
    if (this.state === ReadyState.CLOSED) return;
    const end = this.ending();
    end.failedWith = { closeCode: code, message: reason };
    if (error instanceof WebSocketError) end.localError = error;
    this.emit('error', error);
    this.sendQueue = undefined;
    this.queuedBytes = 0;
    this.core.fail(code, reason);
    this.state = ReadyState.CLOSING;
    this.flush();
    this.afterCoreStep();
  }

  /** @internal The kernel took buffered bytes; `progress`: ones it could not take at once. */
  onWritten(progress: boolean): void {
    if (progress) {
      // The peer's TCP is acknowledging: it is alive, even while we cannot read from it.
      this.lastHeard = this.settings.wheel.now;
      this.pingOutstanding = false;
    }
    this.checkDrain();
  }

  private checkDrain(): void {
    // Half the high-water mark: room for more than one small send once `drain` fired.
    if (this.needDrain && this.bufferedAmount <= this.settings.highWaterMark / 2) {
      this.needDrain = false;
      this.flow.watchWrites = false;
      this.emit('drain');
    }
  }

  private wantDrain(): void {
    this.needDrain = true;
    this.flow.watchWrites = true;
  }

  /** @internal The peer ended its side: nothing more will arrive. */
  onEnd(): void {
    this.flow.end();
  }

  /** @internal The transport is gone. */
  onClose(error?: Error): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSED;
    this.core.receiveEof();
    this.sendQueue = undefined;
    this.queuedBytes = 0;
    this.deflate?.close();
    const end = this.ending();
    if (end.deadline) this.settings.wheel.disarm(end.deadline);
    this.settings.wheel.disarm(this);
    if (error && !this.core.error && !end.localError) {
      end.localError = new WebSocketError('WS_TRANSPORT', error.message, { cause: error });
      this.emit('error', end.localError);
    }
    const received = this.core.closeReceived;
    const failed = this.core.error ?? end.failedWith;
    const code = received ? received.code : failed ? failed.closeCode : CloseCode.ABNORMAL;
    const reason = received ? received.reason : (failed?.message ?? '');
    const info: ConnectionClosed = { code, reason, wasClean: this.core.closedCleanly };
    end.info = info;
    this.owner?.onClosed(this);
    this.releaseWaiters();
    this.emit('close', code, reason, info.wasClean);
    if (end.waiters) for (const waiter of end.waiters.splice(0)) waiter();
  }

  // ------------------------------------------------------------ internals

  private ending(): Ending {
    this.end ??= {
      deadline: undefined,
      failedWith: undefined,
      localError: undefined,
      discardedBytes: 0,
      info: undefined,
      waiters: undefined,
    };
    return this.end;
  }

  private dispatch(event: ProtocolEvent): void {
    switch (event.type) {
      case 'text':
      case 'binary': {
        this.lastMessage = this.lastHeard;
        const isBinary = event.type === 'binary';
        const heard = this.emit('message', event.data, isBinary);
        if (this.iterating || !heard) this.enqueue(event.data);
        return;
      }
      case 'ping':
        this.emit('ping', event.data);
        return;
      case 'pong':
        this.emit('pong', event.data);
        return;
      case 'close':
        if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
        return;
      case 'failure':
        this.state = ReadyState.CLOSING;
        this.emit('error', new WebSocketProtocolError(event.error, event.code, event.reason));
        return;
    }
  }

  private enqueue(message: string | Uint8Array): void {
    const waiter = this.waiters?.shift();
    if (waiter) {
      waiter.resolve({ value: message, done: false });
      return;
    }
    this.queue ??= [];
    this.queue.push(message);
    if (this.queue.length >= this.settings.maxQueuedMessages) this.flow.pauseReading(ReadPause.INBOX);
  }

  /** Hands held messages to `message` listeners added after they arrived. */
  private releaseHeldMessages(): void {
    const queue = this.queue;
    if (this.iterating || !queue) return;
    while (queue.length > 0 && this.listenerCount('message') > 0) {
      const message = queue.shift() as string | Uint8Array;
      this.emit('message', message, typeof message !== 'string');
    }
    this.resumeIfDrained();
  }

  private resumeIfDrained(): void {
    if ((this.queue?.length ?? 0) <= this.settings.maxQueuedMessages >> 1)
      this.flow.resumeReading(ReadPause.INBOX);
  }

  private releaseWaiters(): void {
    if (!this.waiters) return;
    for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  /**
   * Checks the send-buffer cap before queueing `size` more bytes. Past it the policy
   * applies: drop this message, or fail the connection with 1008 — dropping the
   * backlog not yet written, so the close frame is next on the wire.
   */
  private admit(size: number): boolean {
    const buffered = this.bufferedAmount;
    if (buffered + size <= this.settings.maxBufferedAmount || buffered === 0) return true;
    if (this.settings.dropOnBackpressure) return false;
    this.flow.discardQueued();
    this.failConnection(
      CloseCode.POLICY_VIOLATION,
      'send buffer limit exceeded',
      new WebSocketError(
        'WS_BACKPRESSURE_LIMIT',
        `send buffer over ${this.settings.maxBufferedAmount} bytes`,
      ),
    );
    return false;
  }

  /** Hands what the core queued to the flow; reports the buffer's level. */
  private flush(): SendResult {
    // Our close reply waits until the events before it were handled (so answers to the
    // last messages go out first) and behind sends still being compressed.
    const chunks = this.core.dataToSend(this.sendQueue === undefined && !this.dispatching);
    if (chunks.length !== 0) this.flow.write(chunks);
    return this.levelAfterSend();
  }

  private levelAfterSend(): SendResult {
    if (this.bufferedAmount <= this.settings.highWaterMark) return 'sent';
    this.wantDrain();
    return 'buffered';
  }

  /** Ends the transport or arms the close timeout when the core asks for it. */
  private afterCoreStep(): void {
    if (this.state === ReadyState.CLOSED) return;
    if (this.core.shouldCloseTransport()) {
      this.flow.end();
      this.armCloseTimeout();
    } else if (this.core.closeExpected()) {
      if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
      this.armCloseTimeout();
    }
  }

  private armCloseTimeout(): void {
    const end = this.ending();
    if (end.deadline?.armed) return;
    end.deadline ??= new Deadline(() => {
      if (this.state === ReadyState.CLOSED) return;
      end.localError = new WebSocketError('WS_CLOSE_TIMEOUT', 'closing handshake timed out');
      this.flow.destroy();
    });
    this.settings.wheel.arm(end.deadline, this.settings.closeTimeoutMs);
  }

  /** One deadline covers heartbeat and idle timeout: it re-arms for whichever is next. */
  private armTimers(): void {
    const delay = this.nextTimerDelay();
    if (delay === undefined) return;
    this.settings.wheel.arm(this, delay);
  }

  private nextTimerDelay(): number | undefined {
    const now = this.settings.wheel.now;
    let delay: number | undefined;
    if (this.settings.heartbeat) {
      const due = this.pingOutstanding ? this.settings.heartbeat.timeout : this.settings.heartbeat.interval;
      delay = Math.max(0, this.lastHeard + due - now);
    }
    if (this.settings.idleTimeoutMs > 0) {
      const idleDelay = Math.max(0, this.lastMessage + this.settings.idleTimeoutMs - now);
      delay = delay === undefined ? idleDelay : Math.min(delay, idleDelay);
    }
    return delay;
  }

  /** @internal The heartbeat / idle deadline is due (the wheel calls it: see TimerEntry). */
  fire(): void {
    if (this.state !== ReadyState.OPEN) return;
    const now = this.settings.wheel.now;
    if (this.settings.idleTimeoutMs > 0 && now - this.lastMessage >= this.settings.idleTimeoutMs) {
      this.close(CloseCode.GOING_AWAY, 'idle timeout');
      return;
    }
    if (this.settings.heartbeat) {
      if (this.pingOutstanding && now - this.lastHeard >= this.settings.heartbeat.timeout) {
        const timedOut = new WebSocketError('WS_HEARTBEAT_TIMEOUT', 'no answer to heartbeat ping');
        this.ending().localError = timedOut;
        this.emit('error', timedOut);
        this.terminate();
        return;
      }
      if (!this.pingOutstanding && now - this.lastHeard >= this.settings.heartbeat.interval) {
        this.pingOutstanding = true;
        this.lastHeard = now;
        this.core.sendPing();
        this.flush();
      }
    }
    this.armTimers();
  }
}

/** What {@link WebSocketConnection.closed} resolves with: what the `close` event reports. */
export type ConnectionClosed = { readonly code: number; readonly reason: string; readonly wasClean: boolean };

/** State of a connection that only closing needs: kept apart, so that open ones do not carry it. */
interface Ending {
  /** The close timeout. */
  deadline: Deadline | undefined;
  /** Set when we failed the connection above the core; reported as the close code. */
  failedWith: { closeCode: number; message: string } | undefined;
  /** A local condition already reported through `error` (a transport error then is not). */
  localError: WebSocketError | undefined;
  /** Bytes read after input started being ignored (see MAX_DISCARDED_BYTES). */
  discardedBytes: number;
  /** Set once closed. */
  info: ConnectionClosed | undefined;
  /** Callers of `closed()` waiting. */
  waiters: (() => void)[] | undefined;
}

/** A send waiting in {@link WebSocketConnection}'s queue. */
type PendingSend =
  | {
      kind: 'data';
      text: boolean;
      payload: Uint8Array | Promise<Uint8Array>;
      compressed: boolean;
      size: number;
      waiting?: boolean;
    }
  | { kind: 'shared'; frame: EncodedFrame; size: number }
  | { kind: 'close'; code: number | undefined; reason: string | undefined; size: number };

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const EMPTY = new Uint8Array(0);

function controlPayload(data: SendData | undefined): Uint8Array {
  if (data === undefined) return EMPTY;
  return typeof data === 'string' ? new TextEncoder().encode(data) : toBytes(data);
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/** A connection's options, resolved and checked. */
interface ConnectionSettings {
  readonly wheel: TimerWheel;
  readonly highWaterMark: number;
  readonly maxBufferedAmount: number;
  readonly dropOnBackpressure: boolean;
  readonly closeTimeoutMs: number;
  readonly heartbeat: { readonly interval: number; readonly timeout: number } | undefined;
  readonly idleTimeoutMs: number;
  readonly maxQueuedMessages: number;
}

/** Per options object (a server passes the same one for all its connections), per side. */
const resolvedSettings = new WeakMap<
  ConnectionOptions,
  { server?: ConnectionSettings; client?: ConnectionSettings }
>();

function settingsFor(options: ConnectionOptions, side: Side): ConnectionSettings {
  let entry = resolvedSettings.get(options);
  if (entry === undefined) {
    entry = {};
    resolvedSettings.set(options, entry);
  }
  const known = entry[side];
  if (known !== undefined) return known;
  const heartbeat = options.heartbeat ?? (side === 'server' ? DEFAULT_SERVER_HEARTBEAT : undefined);
  let resolvedHeartbeat: ConnectionSettings['heartbeat'];
  if (heartbeat) {
    const interval = nonNegative('heartbeat.interval', heartbeat.interval);
    resolvedHeartbeat = {
      interval,
      timeout: nonNegative('heartbeat.timeout', heartbeat.timeout ?? interval),
    };
  }
  const settings: ConnectionSettings = {
    wheel: options.timerWheel ?? sharedTimerWheel(),
    highWaterMark: nonNegative('highWaterMark', options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
    maxBufferedAmount: nonNegative('maxBufferedAmount', options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED),
    dropOnBackpressure: options.backpressurePolicy === 'drop',
    closeTimeoutMs: nonNegative('closeTimeout', options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT),
    heartbeat: resolvedHeartbeat,
    idleTimeoutMs: nonNegative('idleTimeout', options.idleTimeout ?? 0),
    maxQueuedMessages: nonNegative(
      'maxQueuedMessages',
      options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
    ),
  };
  entry[side] = settings;
  return settings;
}
