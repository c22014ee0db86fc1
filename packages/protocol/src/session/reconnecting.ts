/**
 * An opt-in reconnecting client: one long-lived object over a succession of
 * {@link WebSocketConnection}s, with exponential backoff and jitter, a bounded
 * outbox for sends made while disconnected, and events and async iteration that
 * span reconnects. It replaces the "reconnect timer" applications write by hand.
 *
 * Runtime-neutral: it only needs a function that opens one connection; each
 * adapter wraps it as `new ReconnectingWebSocket(url, options)`.
 *
 * Semantics worth knowing:
 * - Backoff: retry `n` (1 = the first retry since the last stable connection) waits
 *   `min(maxDelay, minDelay * factor^(n-1))`, jittered (see {@link ReconnectOptions.jitter})
 *   and capped again at `maxDelay`. A connection that stayed open `resetAfter` ms
 *   resets the count: the next retry is retry 1 again, and `maxRetries` counts anew.
 *   The first connection is attempted at once.
 * - Delivery: a send while no connection is open goes to the outbox; on (re)open the
 *   outbox is written, in order, before anything sent later (including from `open` /
 *   `reconnected` listeners). A message leaves the outbox only when an OPEN connection
 *   takes it, so each outbox message is handed to a connection exactly once. A message
 *   a connection has taken is never re-sent, even if that connection then dies before
 *   the bytes reached the peer: delivery is at most once per message. Applications
 *   that need more acknowledge at their own level.
 * - Reconnect policy: see {@link defaultShouldReconnect}. `stop()` never reconnects.
 * - Receiving: as on a connection, messages nobody consumes (no `message` listener,
 *   no `for await` loop) are held up to `maxQueuedMessages`, then reading of the
 *   current connection pauses; a slow `for await` loop backpressures the same way.
 * - Time: one `setTimeout` per client, armed only while waiting for a retry (it keeps
 *   the process alive then, on purpose); attempt timeouts are the connect function's
 *   (`handshakeTimeout`). After `stop()` resolves nothing is armed or open.
 */
import { encodeClosePayload } from '../frames.ts';
import { createClientHandshake } from '../handshake.ts';
import type { ClientOptions } from './client.ts';
import { ReadyState, type SendResult, type WebSocketConnection } from './connection.ts';
import { type SendData, toBytes } from './data.ts';
import { Emitter } from './emitter.ts';

/** What the outbox does with a send that does not fit. */
export type OutboxOverflow = 'drop-oldest' | 'drop-newest' | 'error';

/** Limits of the outbox that holds sends made while no connection is open. */
export interface OutboxOptions {
  /** Most messages held. 0 disables the outbox (sends while disconnected are dropped). Default 1000. */
  readonly maxMessages?: number;
  /** Most bytes held (text counted as UTF-8). Default 1 MiB. A single larger message is always dropped. */
  readonly maxBytes?: number;
  /**
   * When full: `'drop-oldest'` discards the oldest messages to make room (default),
   * `'drop-newest'` refuses the new one, `'error'` refuses it and emits an `error`
   * ({@link ReconnectingWebSocketError} `WS_OUTBOX_FULL`). Every discarded message is
   * reported through the `drop` event.
   */
  readonly overflow?: OutboxOverflow;
}

/** What {@link ReconnectOptions.shouldReconnect} learns about the close or failure. */
export interface ReconnectContext {
  /** Retries made since the last stable connection (0 if none). */
  readonly retries: number;
  /**
   * The error behind it: the connection attempt's rejection (e.g. a
   * `WebSocketHandshakeError`), or the last error the connection reported before it
   * closed (a failure *we* initiated: protocol violation by the peer, backpressure
   * limit, heartbeat timeout). Undefined for a plain close.
   */
  readonly error?: Error;
  /** The HTTP status when the server refused the handshake (e.g. 403), else undefined. */
  readonly status?: number;
}

/** Reconnect settings. Times in ms, sizes in bytes. */
export interface ReconnectOptions {
  /** Delay before the first retry. Default 250. */
  readonly minDelay?: number;
  /** Upper bound of every delay, jitter included. Default 30 000. */
  readonly maxDelay?: number;
  /** Growth of the delay per retry. Default 2. */
  readonly factor?: number;
  /**
   * Randomisation of each delay `d`: a ratio `r` in [0, 1] spreads it uniformly over
   * `[d·(1−r), d·(1+r)]` (default 0.5: never sooner than half the nominal delay);
   * `'full'` picks uniformly in `[0, d]` ("full jitter"). 0 turns it off.
   */
  readonly jitter?: number | 'full';
  /** Source of randomness in [0, 1) for the jitter. Default `Math.random`; inject one for tests. */
  readonly random?: () => number;
  /** Retries (consecutive, since the last stable connection) before giving up. Default Infinity. */
  readonly maxRetries?: number;
  /** A connection that stays open this long resets the backoff. Default 5000. */
  readonly resetAfter?: number;
  /**
   * Whether to reconnect after a connection closed or an attempt failed. `code` is the
   * close code (1006 for a failed attempt: refused, timed out, handshake rejected),
   * `reason` the close reason or the error's message. Not asked after `stop()`.
   * Default {@link defaultShouldReconnect}.
   */
  readonly shouldReconnect?: (code: number, reason: string, context: ReconnectContext) => boolean;
  /** The outbox for sends while disconnected. */
  readonly outbox?: OutboxOptions;
  /** Messages held for a slow `for await` loop (or for nobody) before reading pauses. Default 64. */
  readonly maxQueuedMessages?: number;
  /** Stops the client, as `stop()` does, when aborted. */
  readonly signal?: AbortSignal;
}

/** `'connecting'`: first attempt; `'open'`; `'reconnecting'`: waiting for or making a retry; `'stopped'`: for good. */
export type ReconnectingState = 'connecting' | 'open' | 'reconnecting' | 'stopped';

/** Why the client stopped: `stop()` (or the signal), the reconnect policy, or `maxRetries`. */
export type StopCause = 'stop' | 'shouldReconnect' | 'maxRetries';

/** Why a message was discarded without being sent. */
export type DropCause = 'overflow' | 'refused' | 'stopped';

/**
 * What {@link ReconnectingWebSocket.send} did: `'sent'`/`'buffered'` as
 * {@link WebSocketConnection.send} (handed to the open connection); `'queued'`: held in
 * the outbox for the next connection; `'dropped'`: discarded (outbox full, stopped, or
 * refused by the open connection's `backpressurePolicy: 'drop'`).
 */
export type ReconnectingSendResult = SendResult | 'queued';

/** Listener signatures of a {@link ReconnectingWebSocket}. */
export interface ReconnectingEventMap<Data> {
  [event: string]: unknown[];
  /** The first connection opened (after any failed first attempts). */
  open: [connection: WebSocketConnection<Data>];
  /** A retry was scheduled: retry number (1-based), its delay, and the close code that led to it (1006 for a failed attempt). */
  reconnecting: [attempt: number, delayMs: number, lastCloseCode: number, error: Error | undefined];
  /** A later connection opened; `attempt` is the retry that succeeded. */
  reconnected: [connection: WebSocketConnection<Data>, attempt: number];
  /** A message from whichever connection is current. */
  message: [data: string | Uint8Array, isBinary: boolean];
  /** An open connection closed. */
  close: [code: number, reason: string, willReconnect: boolean];
  /** A connection attempt failed, a connection reported an error, or the outbox overflowed with `'error'`. Never thrown. */
  error: [error: Error];
  /** A message was discarded unsent: outbox overflow, refused by the connection during the outbox flush, or left in the outbox at stop. */
  drop: [data: string | Uint8Array, cause: DropCause];
  /** The client stopped for good; emitted once. `code`/`reason` of the last close or failure. */
  stopped: [code: number, reason: string, cause: StopCause];
}

/** Raised through the `error` event for conditions of the reconnecting client itself. */
export class ReconnectingWebSocketError extends Error {
  override readonly name = 'ReconnectingWebSocketError';
  constructor(
    readonly code: 'WS_OUTBOX_FULL',
    message: string,
  ) {
    super(message);
  }
}

/** Opens one connection; must honour `signal` (abort the attempt and reject). */
export type ConnectFunction<Data> = (signal: AbortSignal) => Promise<WebSocketConnection<Data>>;

/**
 * The default reconnect policy: reconnect after anything, except
 * - a handshake the server refused with a 4xx status other than 408 and 429 (bad URL,
 *   credentials or permissions: retrying repeats it — fix and create a new client);
 * - a close with 1008 (policy violation) sent by the server (not one we failed the
 *   connection with, e.g. on our own backpressure limit);
 * - a `TypeError`/`RangeError` from the connect function (a bad URL or option).
 *
 * Application close codes (4000–4999) do reconnect: their meaning is the
 * application's; pass a `shouldReconnect` that knows them.
 */
export function defaultShouldReconnect(code: number, _reason: string, context: ReconnectContext): boolean {
  const status = context.status;
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return false;
  if (context.error instanceof TypeError || context.error instanceof RangeError) return false;
  if (code === 1008 && context.error === undefined) return false;
  return true;
}

const DEFAULT_MIN_DELAY = 250;
const DEFAULT_MAX_DELAY = 30_000;
const DEFAULT_FACTOR = 2;
const DEFAULT_JITTER = 0.5;
const DEFAULT_RESET_AFTER = 5000;
const DEFAULT_OUTBOX_MESSAGES = 1000;
const DEFAULT_OUTBOX_BYTES = 1024 * 1024;
const DEFAULT_MAX_QUEUED_MESSAGES = 64;
const ABNORMAL = 1006;
const BINARY = { binary: true } as const;

interface OutboxItem {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  readonly size: number;
}

type Waiter = { resolve: (result: IteratorResult<string | Uint8Array>) => void };

/**
 * A WebSocket client that reconnects. `Data` is the type of each connection's `data`.
 *
 * ```ts
 * const rws = new ReconnectingWebSocket((signal) => connect(url, { signal }), { minDelay: 500 });
 * rws.on('reconnected', () => rws.send('resubscribe'));
 * for await (const message of rws) console.log(message); // ends after rws.stop()
 * ```
 */
export class ReconnectingWebSocket<Data = unknown> extends Emitter<ReconnectingEventMap<Data>> {
  private readonly connectFn: ConnectFunction<Data>;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly factor: number;
  private readonly jitter: number | 'full';
  private readonly random: () => number;
  private readonly maxRetries: number;
  private readonly resetAfter: number;
  private readonly shouldReconnect: (code: number, reason: string, context: ReconnectContext) => boolean;
  private readonly outboxMaxMessages: number;
  private readonly outboxMaxBytes: number;
  private readonly overflow: OutboxOverflow;
  private readonly maxQueuedMessages: number;
  private readonly signal: AbortSignal | undefined;

  private currentState: ReconnectingState = 'connecting';
  private conn: WebSocketConnection<Data> | undefined;
  private retries = 0;
  private everOpened = false;
  private openedAt = 0;
  private lastError: Error | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | undefined;
  private dialing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopCode = 1000;
  private stopReason = '';
  private finished = false;

  /** Queued sends from `outboxHead` on (a queue without per-shift copying). */
  private outbox: (OutboxItem | undefined)[] = [];
  private outboxHead = 0;
  private bytesQueued = 0;

  /** Messages nobody consumed yet (no `message` listener) and the backlog of a `for await` loop. */
  private held: (string | Uint8Array)[] = [];
  private waiters: Waiter[] = [];
  private iterating = false;
  private pausedConn: WebSocketConnection<Data> | undefined;

  private readonly onAbort = (): void => {
    void this.stop();
  };

  /** Starts connecting at once with `connect`, which opens one connection per call. */
  constructor(connect: ConnectFunction<Data>, options: ReconnectOptions = {}) {
    super();
    if (typeof connect !== 'function') throw new TypeError('connect must be a function');
    this.connectFn = connect;
    this.minDelay = nonNegative('minDelay', options.minDelay ?? DEFAULT_MIN_DELAY);
    this.maxDelay = nonNegative('maxDelay', options.maxDelay ?? DEFAULT_MAX_DELAY);
    if (this.maxDelay < this.minDelay) throw new RangeError('maxDelay must be at least minDelay');
    this.factor = options.factor ?? DEFAULT_FACTOR;
    if (typeof this.factor !== 'number' || !(this.factor >= 1) || !Number.isFinite(this.factor))
      throw new RangeError(`factor must be a finite number >= 1, got ${String(options.factor)}`);
    const jitter = options.jitter ?? DEFAULT_JITTER;
    if (jitter !== 'full' && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)))
      throw new RangeError(`jitter must be 'full' or a ratio in [0, 1], got ${String(jitter)}`);
    this.jitter = jitter;
    this.random = options.random ?? Math.random;
    this.maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
    if (typeof this.maxRetries !== 'number' || !(this.maxRetries >= 0))
      throw new RangeError(`maxRetries must be a non-negative number, got ${String(options.maxRetries)}`);
    this.resetAfter = nonNegative('resetAfter', options.resetAfter ?? DEFAULT_RESET_AFTER);
    this.shouldReconnect = options.shouldReconnect ?? defaultShouldReconnect;
    this.outboxMaxMessages = nonNegative(
      'outbox.maxMessages',
      options.outbox?.maxMessages ?? DEFAULT_OUTBOX_MESSAGES,
    );
    this.outboxMaxBytes = nonNegative('outbox.maxBytes', options.outbox?.maxBytes ?? DEFAULT_OUTBOX_BYTES);
    const overflow = options.outbox?.overflow ?? 'drop-oldest';
    if (overflow !== 'drop-oldest' && overflow !== 'drop-newest' && overflow !== 'error')
      throw new RangeError(`outbox.overflow must be 'drop-oldest', 'drop-newest' or 'error'`);
    this.overflow = overflow;
    this.maxQueuedMessages = nonNegative(
      'maxQueuedMessages',
      options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
    );
    this.signal = options.signal;
    if (this.signal?.aborted) {
      this.finish(this.stopCode, 'aborted', 'stop');
      this.stopping = Promise.resolve();
      return;
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.dial();
  }

  // ------------------------------------------------------------ state

  /** `'connecting'`, `'open'`, `'reconnecting'` or `'stopped'`. `'open'` lasts until the connection's `close` event. */
  get state(): ReconnectingState {
    return this.currentState;
  }

  /** The current connection (from its opening until its `close` event), else undefined. */
  get connection(): WebSocketConnection<Data> | undefined {
    return this.conn;
  }

  /** The retry in progress or last made since the last stable connection: 0 for the first attempt. */
  get attempt(): number {
    return this.retries;
  }

  /** Messages waiting in the outbox. */
  get outboxMessages(): number {
    return this.outbox.length - this.outboxHead;
  }

  /** Bytes waiting in the outbox (text as UTF-8). */
  get outboxBytes(): number {
    return this.bytesQueued;
  }

  // ------------------------------------------------------------ sending

  /**
   * Sends through the open connection, or queues in the outbox while there is none
   * (or while the outbox is still being written). Never throws because of the state;
   * throws TypeError for data that is not a string or binary.
   */
  send(data: SendData, options?: { readonly binary?: boolean }): ReconnectingSendResult {
    if (this.isStopped()) return 'dropped';
    const conn = this.conn;
    if (conn && conn.readyState === ReadyState.OPEN && this.outboxMessages === 0) {
      const result = conn.send(data, options);
      // Dropped while still open: refused by backpressurePolicy 'drop'. Dropped because the
      // connection failed on this very send: it was not taken, so it waits for the next one.
      if (result !== 'dropped' || conn.readyState === ReadyState.OPEN) return result;
    }
    return this.enqueueOutbox(data, options?.binary === true);
  }

  /**
   * Closes the current connection with `code` (default 1000) and `reason`, cancels any
   * pending retry or attempt, and stops for good. Resolves once everything is closed.
   * Messages left in the outbox are discarded (`drop` with cause `'stopped'`). Calling
   * it again returns the same promise. Throws for a code or reason that may not be sent.
   */
  stop(code = 1000, reason = ''): Promise<void> {
    if (this.stopping) return this.stopping;
    encodeClosePayload(code, reason);
    this.stopping = this.shutdown(code, reason);
    return this.stopping;
  }

  private async shutdown(code: number, reason: string): Promise<void> {
    this.currentState = 'stopped';
    this.stopCode = code;
    this.stopReason = reason;
    this.clearTimer();
    this.controller?.abort();
    this.resumeReading();
    const conn = this.conn;
    if (conn) {
      conn.close(code, reason);
      await conn.closed();
    }
    if (this.dialing) await this.dialing;
    this.finish(code, reason, 'stop');
  }

  // ------------------------------------------------------------ receiving

  /** Adds a listener; adding the first `message` listener delivers messages held until then. */
  override on<E extends keyof ReconnectingEventMap<Data>>(
    event: E,
    listener: (...args: ReconnectingEventMap<Data>[E]) => void,
  ): this {
    super.on(event, listener);
    if (event === 'message' && !this.iterating && this.held.length > 0) {
      queueMicrotask(() => this.releaseHeldMessages());
    }
    return this;
  }

  /**
   * Reads messages of every connection in turn with `for await`; the loop ends once the
   * client has stopped and the messages received before are consumed. A slow loop
   * pauses reading of the current connection past `maxQueuedMessages`.
   */
  [Symbol.asyncIterator](): AsyncIterator<string | Uint8Array> {
    this.iterating = true;
    return {
      next: () => {
        if (this.held.length > 0) {
          const value = this.held.shift() as string | Uint8Array;
          this.resumeIfDrained();
          return Promise.resolve({ value, done: false });
        }
        if (this.finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push({ resolve }));
      },
      return: () => {
        this.iterating = false;
        this.held = [];
        this.releaseWaiters();
        this.resumeReading();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ------------------------------------------------------------ connecting

  private dial(): void {
    const controller = new AbortController();
    this.controller = controller;
    const dialing = this.connectOnce(controller);
    this.dialing = dialing;
    void dialing.finally(() => {
      if (this.dialing === dialing) this.dialing = undefined;
    });
  }

  private async connectOnce(controller: AbortController): Promise<void> {
    let conn: WebSocketConnection<Data>;
    try {
      conn = await this.connectFn(controller.signal);
    } catch (caught) {
      if (this.controller === controller) this.controller = undefined;
      if (this.isStopped()) return;
      const error = asError(caught);
      this.emit('error', error);
      if (this.isStopped()) return;
      const status = (caught as { status?: unknown } | null)?.status;
      this.afterEnd(ABNORMAL, error.message, {
        retries: this.retries,
        error,
        status: typeof status === 'number' && status > 0 ? status : undefined,
      });
      return;
    }
    if (this.controller === controller) this.controller = undefined;
    if (this.isStopped()) {
      // stop() came while the attempt was finishing: close what it produced.
      conn.close(this.stopCode, this.stopReason);
      await conn.closed();
      return;
    }
    this.adopt(conn);
  }

  private adopt(conn: WebSocketConnection<Data>): void {
    this.conn = conn;
    this.openedAt = Date.now();
    this.lastError = undefined;
    this.currentState = 'open';
    conn.on('message', (data, isBinary) => {
      if (this.conn === conn) this.deliver(conn, data, isBinary);
    });
    conn.on('error', (error) => {
      if (this.conn !== conn) return;
      this.lastError = error;
      this.emit('error', error);
    });
    conn.on('close', (code, reason) => this.onClose(conn, code, reason));
    if (this.held.length >= this.maxQueuedMessages && this.maxQueuedMessages > 0) this.pauseReading(conn);
    this.flushOutbox(conn);
    if (this.conn !== conn || this.isStopped()) return;
    if (this.everOpened) this.emit('reconnected', conn, this.retries);
    else {
      this.everOpened = true;
      this.emit('open', conn);
    }
    // Closed before we got to it (its `close` event is past): handle that now.
    if (this.conn === conn && conn.readyState === ReadyState.CLOSED)
      this.onClose(conn, conn.closeCode ?? ABNORMAL, conn.closeReason ?? '');
  }

  private onClose(conn: WebSocketConnection<Data>, code: number, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (this.pausedConn === conn) this.pausedConn = undefined;
    if (this.isStopped()) {
      this.emit('close', code, reason, false);
      return;
    }
    if (Date.now() - this.openedAt >= this.resetAfter) this.retries = 0;
    this.afterEnd(code, reason, { retries: this.retries, error: this.lastError }, true);
  }

  /** After an open connection closed (`wasOpen`) or an attempt failed: retry or give up. */
  private afterEnd(code: number, reason: string, context: ReconnectContext, wasOpen = false): void {
    let cause: StopCause | undefined;
    let again: boolean;
    try {
      again = this.shouldReconnect(code, reason, context) === true;
    } catch (error) {
      // A throwing policy is a bug in it: report it and stay down rather than loop.
      this.emit('error', asError(error));
      again = false;
    }
    if (this.isStopped()) {
      // stop() from inside the policy.
      if (wasOpen) this.emit('close', code, reason, false);
      return;
    }
    if (!again) cause = 'shouldReconnect';
    else if (this.retries + 1 > this.maxRetries) cause = 'maxRetries';
    if (wasOpen) {
      this.emit('close', code, reason, cause === undefined);
      if (this.isStopped()) return; // a listener called stop()
    }
    if (cause !== undefined) {
      this.currentState = 'stopped';
      this.stopping = Promise.resolve();
      this.finish(code, reason, cause);
      return;
    }
    this.retries++;
    const delay = this.delayFor(this.retries);
    this.currentState = 'reconnecting';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.isStopped()) this.dial();
    }, delay);
    this.emit('reconnecting', this.retries, delay, code, context.error);
  }

  /** The delay before retry `retry` (1-based). */
  private delayFor(retry: number): number {
    const base =
      this.minDelay === 0 ? 0 : Math.min(this.maxDelay, this.minDelay * this.factor ** (retry - 1));
    const r = this.random();
    const jittered = this.jitter === 'full' ? base * r : base * (1 + this.jitter * (2 * r - 1));
    return Math.min(this.maxDelay, Math.max(0, jittered));
  }

  /** A method, so checks after emits (listeners may call stop()) are not narrowed away. */
  private isStopped(): boolean {
    return this.currentState === 'stopped';
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Once: the client has stopped and nothing is open or pending any more. */
  private finish(code: number, reason: string, cause: StopCause): void {
    if (this.finished) return;
    this.finished = true;
    this.currentState = 'stopped';
    this.clearTimer();
    this.signal?.removeEventListener('abort', this.onAbort);
    const left = this.outbox.slice(this.outboxHead) as OutboxItem[];
    this.outbox = [];
    this.outboxHead = 0;
    this.bytesQueued = 0;
    for (const item of left) this.emit('drop', item.data, 'stopped');
    this.emit('stopped', code, reason, cause);
    this.releaseWaiters();
  }

  // ------------------------------------------------------------ outbox

  private enqueueOutbox(data: SendData, binary: boolean): ReconnectingSendResult {
    const bytes = typeof data === 'string' ? undefined : toBytes(data);
    const size = bytes ? bytes.byteLength : utf8Length(data as string);
    const fitsAlone = size <= this.outboxMaxBytes && this.outboxMaxMessages >= 1;
    const full = (): boolean =>
      this.outboxMessages + 1 > this.outboxMaxMessages || this.bytesQueued + size > this.outboxMaxBytes;
    if (!fitsAlone || (full() && this.overflow !== 'drop-oldest')) {
      const reported = bytes ?? (data as string);
      if (this.overflow === 'error') {
        this.emit(
          'error',
          new ReconnectingWebSocketError(
            'WS_OUTBOX_FULL',
            `outbox full (${this.outboxMessages} messages, ${this.bytesQueued} bytes): message dropped`,
          ),
        );
      }
      this.emit('drop', reported, 'overflow');
      return 'dropped';
    }
    const evicted: OutboxItem[] = [];
    while (full()) evicted.push(this.shiftOutbox() as OutboxItem);
    // Copy binary data: the caller may reuse its buffer before the message goes out.
    this.outbox.push(
      bytes ? { data: bytes.slice(), binary: true, size } : { data: data as string, binary, size },
    );
    this.bytesQueued += size;
    for (const item of evicted) this.emit('drop', item.data, 'overflow');
    return 'queued';
  }

  private shiftOutbox(): OutboxItem | undefined {
    if (this.outboxHead >= this.outbox.length) return undefined;
    const item = this.outbox[this.outboxHead] as OutboxItem;
    this.outbox[this.outboxHead] = undefined;
    this.outboxHead++;
    this.bytesQueued -= item.size;
    if (this.outboxHead === this.outbox.length) {
      this.outbox = [];
      this.outboxHead = 0;
    } else if (this.outboxHead >= 1024 && this.outboxHead * 2 >= this.outbox.length) {
      this.outbox = this.outbox.slice(this.outboxHead);
      this.outboxHead = 0;
    }
    return item;
  }

  /** Writes the outbox to a connection that just opened, in order, while it stays open. */
  private flushOutbox(conn: WebSocketConnection<Data>): void {
    while (this.outboxMessages > 0 && this.conn === conn && conn.readyState === ReadyState.OPEN) {
      const item = this.outbox[this.outboxHead] as OutboxItem;
      const result = conn.send(item.data, item.binary ? BINARY : undefined);
      // The connection failed on this send without taking it: keep it for the next one.
      if (result === 'dropped' && conn.readyState !== ReadyState.OPEN) return;
      this.shiftOutbox();
      if (result === 'dropped') this.emit('drop', item.data, 'refused');
    }
  }

  // ------------------------------------------------------------ receive queue

  private deliver(conn: WebSocketConnection<Data>, data: string | Uint8Array, isBinary: boolean): void {
    const heard = this.emit('message', data, isBinary);
    if (!this.iterating && heard) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve({ value: data, done: false });
      return;
    }
    this.held.push(data);
    if (this.held.length >= this.maxQueuedMessages && !this.isStopped()) this.pauseReading(conn);
  }

  private releaseHeldMessages(): void {
    if (this.iterating) return;
    while (this.held.length > 0 && this.listenerCount('message') > 0) {
      const message = this.held.shift() as string | Uint8Array;
      this.emit('message', message, typeof message !== 'string');
    }
    this.resumeIfDrained();
  }

  private pauseReading(conn: WebSocketConnection<Data>): void {
    if (this.pausedConn) return;
    this.pausedConn = conn;
    conn.pause();
  }

  private resumeIfDrained(): void {
    if (this.pausedConn && this.held.length <= this.maxQueuedMessages >> 1) this.resumeReading();
  }

  private resumeReading(): void {
    const conn = this.pausedConn;
    this.pausedConn = undefined;
    if (conn && conn.readyState !== ReadyState.CLOSED) conn.resume();
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }
}

/** UTF-8 length of a string as `TextEncoder` would encode it (lone surrogates as U+FFFD). */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4;
        i++;
      } else length += 3;
    } else length += 3;
  }
  return length;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/** An adapter's `connect`, as {@link bindReconnectingWebSocket} takes it. */
export type UrlConnect = <Data>(
  url: string,
  options: ClientOptions,
  data?: Data,
) => Promise<WebSocketConnection<Data>>;

/** Options of a URL-bound reconnecting client: `connect()`'s options plus the reconnect settings. */
export type ReconnectingWebSocketOptions = ClientOptions & ReconnectOptions;

const urlConnectors = new WeakMap<object, UrlConnect>();

/**
 * The reconnecting client bound to a URL and a runtime's `connect`, as the adapters
 * export it (`new ReconnectingWebSocket(url, options)`). Every attempt calls `connect`
 * with the same options (`handshakeTimeout` bounds each one); `signal` stops the
 * client for good rather than aborting one attempt.
 */
export class UrlReconnectingWebSocket<Data = unknown> extends ReconnectingWebSocket<Data> {
  /** The URL every attempt dials. */
  readonly url: string;

  /**
   * Starts connecting at once. Throws (TypeError) for a URL or subprotocol list no
   * attempt could succeed with, rather than retrying forever.
   */
  constructor(url: string | URL, options: ReconnectingWebSocketOptions = {}, data?: Data) {
    const connect = connectorOf(new.target);
    const href = typeof url === 'string' ? url : url.href;
    createClientHandshake({
      url: href,
      protocols: typeof options.protocols === 'string' ? [options.protocols] : options.protocols,
    });
    const connectOptions: ClientOptions = { ...options, signal: undefined };
    super((signal) => connect<Data>(href, { ...connectOptions, signal }, data), options);
    this.url = href;
  }
}

function connectorOf(target: object | undefined): UrlConnect {
  for (let c = target; c; c = Object.getPrototypeOf(c) as object | undefined) {
    const connect = urlConnectors.get(c);
    if (connect) return connect;
  }
  throw new TypeError('use bindReconnectingWebSocket(connect) to get a constructible ReconnectingWebSocket');
}

/**
 * The adapters' `ReconnectingWebSocket`: {@link UrlReconnectingWebSocket} dialling
 * with their own `connect`.
 */
export function bindReconnectingWebSocket(connect: UrlConnect): typeof UrlReconnectingWebSocket {
  class ReconnectingWebSocket<Data = unknown> extends UrlReconnectingWebSocket<Data> {}
  urlConnectors.set(ReconnectingWebSocket, connect);
  return ReconnectingWebSocket;
}
