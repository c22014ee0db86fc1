/**
 * The reconnecting-client suite: the same integration tests of an adapter's
 * `ReconnectingWebSocket` on every runtime, over real loopback sockets.
 *
 * ```ts
 * import { defineReconnectSuite } from '@fullduplex/testkit/adapter/reconnect';
 * import { ReconnectingWebSocket, WebSocketServer } from '../src/index.ts';
 * defineReconnectSuite({ name: 'node', ReconnectingWebSocket, WebSocketServer });
 * ```
 *
 * Runs under vitest, `bun test` and `deno test` (through the vitest shim): only
 * Jest-compatible matchers, no fake timers. Delays are small and assertions are about
 * order and counts, never about how long something took.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type {
  ClientOptions,
  ReconnectingEventMap,
  ReconnectingWebSocket,
  ReconnectOptions,
  ServerOptions,
  WebSocketConnection,
} from '@fullduplex/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterModule, ListeningServer } from './suite.ts';

/** What an adapter package must export for this suite. */
export interface ReconnectAdapterModule {
  readonly name: string;
  readonly ReconnectingWebSocket: new (
    url: string,
    options?: ClientOptions & ReconnectOptions,
  ) => ReconnectingWebSocket<unknown>;
  readonly WebSocketServer: AdapterModule['WebSocketServer'];
}

type Rws = ReconnectingWebSocket<unknown>;
type EventName = keyof ReconnectingEventMap<unknown> & string;
type Logged = [EventName, ...unknown[]];

const EVENTS: EventName[] = [
  'open',
  'reconnecting',
  'reconnected',
  'message',
  'close',
  'error',
  'drop',
  'stopped',
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

/** Polls `condition` until it holds; generous, as other suites may load the machine. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Records every event of `rws` as [name, ...args]. Does not add a `message` listener unless asked. */
function record(rws: Rws, withMessages = false): Logged[] {
  const log: Logged[] = [];
  for (const name of EVENTS) {
    if (name === 'message' && !withMessages) continue;
    rws.on(name, (...args: unknown[]) => log.push([name, ...args]));
  }
  return log;
}

function argsOf(log: Logged[], name: EventName): unknown[][] {
  return log.filter((entry) => entry[0] === name).map((entry) => entry.slice(1));
}

/** What a server received: text as is, binary as `bin:<bytes>`. */
function show(data: string | Uint8Array): string {
  return typeof data === 'string' ? data : `bin:${Array.from(data).join(',')}`;
}

/** Registers the reconnecting-client suite for `adapter`. */
export function defineReconnectSuite(adapter: ReconnectAdapterModule): void {
  const servers: ListeningServer<unknown>[] = [];
  const netServers: NetServer[] = [];
  const sockets: Socket[] = [];
  const clients: Rws[] = [];

  type Setup = (server: ListeningServer<unknown>) => void;

  /** Starts a server (on `port`, retried while the old one's port is still held). */
  async function start(
    setup?: Setup,
    options: ServerOptions<unknown> = {},
    port = 0,
  ): Promise<{ server: ListeningServer<unknown>; port: number; url: string }> {
    for (let tries = 0; ; tries++) {
      const server = new adapter.WebSocketServer<unknown>(options);
      setup?.(server);
      try {
        const bound = await server.listen(port, '127.0.0.1');
        servers.push(server);
        return { server, port: bound.port, url: `ws://127.0.0.1:${bound.port}` };
      } catch (error) {
        await server.close({ timeout: 100 }).catch(() => undefined);
        if (port === 0 || tries >= 40) throw error;
        await sleep(50);
      }
    }
  }

  /** A server that records what each connection received: `log[i]` for the i-th connection. */
  function recorder(log: string[][]): Setup {
    return (server) =>
      server.on('connection', (ws) => {
        const mine: string[] = [];
        log.push(mine);
        ws.on('message', (data) => mine.push(show(data)));
      });
  }

  /** A plain TCP server: `onSocket` decides what happens to each connection. */
  async function tcpServer(
    onSocket: (socket: Socket) => void,
  ): Promise<{ port: number; url: string; accepted: () => number }> {
    let accepted = 0;
    const server = createNetServer((socket) => {
      accepted++;
      sockets.push(socket);
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    netServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { port, url: `ws://127.0.0.1:${port}`, accepted: () => accepted };
  }

  /** Accepts TCP and hangs up at once: every attempt fails without an HTTP status. */
  const deadServer = () => tcpServer((socket) => socket.destroy());
  /** Accepts TCP and never answers: every handshake hangs. */
  const silentServer = () => tcpServer(() => undefined);

  function client(url: string, options?: ClientOptions & ReconnectOptions): Rws {
    const rws = new adapter.ReconnectingWebSocket(url, options);
    clients.push(rws);
    return rws;
  }

  function nextEvent<E extends EventName>(
    rws: Rws,
    event: E,
    timeoutMs = 15_000,
  ): Promise<ReconnectingEventMap<unknown>[E]> {
    return withTimeout(
      new Promise((resolve) => rws.once(event, (...args) => resolve(args))),
      timeoutMs,
      `${event} event`,
    );
  }

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map((rws) => withTimeout(rws.stop(), 10_000, 'client stop').catch(() => undefined)),
    );
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(netServers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
  });

  describe(`${adapter.name} adapter: reconnecting client`, () => {
    it('survives a server restart on the same port: 100 queued messages arrive once, in order, before live ones', async () => {
      const before: string[][] = [];
      const after: string[][] = [];
      const first = await start(recorder(before));
      const rws = client(first.url, { minDelay: 20, maxDelay: 200, random: () => 0.5 });
      const log = record(rws);
      expect(rws.state).toBe('connecting');
      expect(rws.connection).toBeUndefined();

      await nextEvent(rws, 'open');
      expect(rws.state).toBe('open');
      expect(rws.connection).toBeDefined();
      expect(rws.attempt).toBe(0);
      expect(rws.send('before')).toBe('sent');
      await waitUntil(() => before[0]?.length === 1, 'the first server to receive "before"');

      await withTimeout(first.server.close({ timeout: 5000 }), 10_000, 'server close');
      await waitUntil(() => argsOf(log, 'close').length === 1, 'the close event');
      expect(argsOf(log, 'close')[0]).toEqual([1001, 'server shutting down', true]);
      expect(rws.connection).toBeUndefined();
      expect(rws.state).toBe('reconnecting');

      const results: string[] = [];
      for (let i = 0; i < 100; i++) results.push(rws.send(`m${i}`));
      expect(results).toEqual(new Array(100).fill('queued'));
      expect(rws.outboxMessages).toBe(100);

      let sentFromListener: string | undefined;
      rws.once('reconnected', () => {
        // Sent while reconnected fires: must still go after the whole outbox.
        sentFromListener = rws.send('live-0');
      });
      await start(recorder(after), {}, first.port);
      const [connection, attempt] = await nextEvent(rws, 'reconnected');
      expect(connection).toBe(rws.connection);
      expect(attempt).toBeGreaterThanOrEqual(1);
      expect(rws.state).toBe('open');
      expect(rws.outboxMessages).toBe(0);
      expect(rws.outboxBytes).toBe(0);
      expect(sentFromListener).toBe('sent');
      expect(rws.send('live-1')).toBe('sent');

      const expected = [...Array.from({ length: 100 }, (_, i) => `m${i}`), 'live-0', 'live-1'];
      await waitUntil(
        () => (after[0]?.length ?? 0) >= expected.length,
        'the new server to receive everything',
      );
      await sleep(50);
      expect(after).toHaveLength(1);
      expect(after[0]).toEqual(expected);
      expect(before).toEqual([['before']]);

      const reconnecting = argsOf(log, 'reconnecting');
      expect(reconnecting.length).toBeGreaterThanOrEqual(1);
      expect(reconnecting[0]?.slice(0, 3)).toEqual([1, 20, 1001]);
      expect(reconnecting.map((args) => args[0])).toEqual(reconnecting.map((_, i) => i + 1));
      expect(argsOf(log, 'open')).toHaveLength(1);
      expect(argsOf(log, 'drop')).toHaveLength(0);
      expect(argsOf(log, 'stopped')).toHaveLength(0);
    }, 60_000);

    it('backoff delays grow by factor and are capped at maxDelay', async () => {
      const dead = await deadServer();
      const rws = client(dead.url, { minDelay: 10, factor: 2, maxDelay: 80, random: () => 0.5 });
      const log = record(rws);
      await waitUntil(() => argsOf(log, 'reconnecting').length >= 7, '7 retries');
      await rws.stop();
      const reconnecting = argsOf(log, 'reconnecting').slice(0, 7);
      expect(reconnecting.map((args) => args[0])).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(reconnecting.map((args) => args[1])).toEqual([10, 20, 40, 80, 80, 80, 80]);
      expect(reconnecting.map((args) => args[2])).toEqual([1006, 1006, 1006, 1006, 1006, 1006, 1006]);
      expect(reconnecting[0]?.[3]).toBeInstanceOf(Error);
      expect(argsOf(log, 'error').length).toBeGreaterThanOrEqual(7);
      expect(argsOf(log, 'open')).toHaveLength(0);
      expect(dead.accepted()).toBeGreaterThanOrEqual(7);
    }, 30_000);

    it('applies jitter: a ±ratio around the delay (capped), or full jitter', async () => {
      const dead = await deadServer();
      const sequence = [0, 0.25, 0.5, 0.75, 0.99];
      let next = 0;
      const ratio = client(dead.url, {
        minDelay: 40,
        factor: 1,
        maxDelay: 50,
        jitter: 0.5,
        random: () => sequence[next++ % sequence.length] as number,
      });
      const ratioLog = record(ratio);
      const full = client(dead.url, {
        minDelay: 40,
        factor: 2,
        maxDelay: 1000,
        jitter: 'full',
        random: () => 0.25,
      });
      const fullLog = record(full);
      const defaults = client(dead.url, { minDelay: 20, factor: 1 });
      const defaultLog = record(defaults);
      await waitUntil(
        () =>
          argsOf(ratioLog, 'reconnecting').length >= 5 &&
          argsOf(fullLog, 'reconnecting').length >= 3 &&
          argsOf(defaultLog, 'reconnecting').length >= 5,
        'retries of three clients',
      );
      await Promise.all([ratio.stop(), full.stop(), defaults.stop()]);
      // 40 · (1 + 0.5 · (2r − 1)) for r = 0, 0.25, 0.5, 0.75, 0.99 — the last capped at 50.
      expect(
        argsOf(ratioLog, 'reconnecting')
          .slice(0, 5)
          .map((args) => args[1]),
      ).toEqual([20, 30, 40, 50, 50]);
      // Full jitter: r · 40 · 2^(n−1).
      expect(
        argsOf(fullLog, 'reconnecting')
          .slice(0, 3)
          .map((args) => args[1]),
      ).toEqual([10, 20, 40]);
      // Default jitter (0.5, Math.random): within [10, 30] and not all the same.
      const delays = argsOf(defaultLog, 'reconnecting').map((args) => args[1] as number);
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(10);
        expect(delay).toBeLessThanOrEqual(30);
      }
      expect(new Set(delays).size).toBeGreaterThan(1);
    }, 30_000);

    it('outbox drop-oldest keeps the newest maxMessages', async () => {
      const received: string[][] = [];
      const { url } = await start(recorder(received));
      const rws = client(url, { outbox: { maxMessages: 3, overflow: 'drop-oldest' } });
      const log = record(rws);
      expect(['a', 'b', 'c', 'd', 'e'].map((m) => rws.send(m))).toEqual([
        'queued',
        'queued',
        'queued',
        'queued',
        'queued',
      ]);
      expect(rws.outboxMessages).toBe(3);
      expect(argsOf(log, 'drop')).toEqual([
        ['a', 'overflow'],
        ['b', 'overflow'],
      ]);
      await nextEvent(rws, 'open');
      expect(rws.send('f')).toBe('sent');
      await waitUntil(() => received[0]?.length === 4, 'four messages');
      expect(received[0]).toEqual(['c', 'd', 'e', 'f']);
    });

    it('outbox drop-newest refuses new messages when full', async () => {
      const received: string[][] = [];
      const { url } = await start(recorder(received));
      const rws = client(url, { outbox: { maxMessages: 3, overflow: 'drop-newest' } });
      const log = record(rws);
      expect(['a', 'b', 'c', 'd', 'e'].map((m) => rws.send(m))).toEqual([
        'queued',
        'queued',
        'queued',
        'dropped',
        'dropped',
      ]);
      expect(argsOf(log, 'drop')).toEqual([
        ['d', 'overflow'],
        ['e', 'overflow'],
      ]);
      expect(argsOf(log, 'error')).toHaveLength(0);
      await nextEvent(rws, 'open');
      await waitUntil(() => received[0]?.length === 3, 'three messages');
      await sleep(30);
      expect(received[0]).toEqual(['a', 'b', 'c']);
    });

    it("outbox 'error' emits an error and returns 'dropped' when full", async () => {
      const received: string[][] = [];
      const { url } = await start(recorder(received));
      const rws = client(url, { outbox: { maxMessages: 3, overflow: 'error' } });
      const log = record(rws);
      expect(['a', 'b', 'c', 'd', 'e'].map((m) => rws.send(m))).toEqual([
        'queued',
        'queued',
        'queued',
        'dropped',
        'dropped',
      ]);
      const errors = argsOf(log, 'error');
      expect(errors).toHaveLength(2);
      expect(errors[0]?.[0]).toBeInstanceOf(Error);
      expect(errors[0]?.[0]).toMatchObject({ name: 'ReconnectingWebSocketError', code: 'WS_OUTBOX_FULL' });
      expect(argsOf(log, 'drop').map((args) => args[0])).toEqual(['d', 'e']);
      await nextEvent(rws, 'open');
      await waitUntil(() => received[0]?.length === 3, 'three messages');
      expect(received[0]).toEqual(['a', 'b', 'c']);
    });

    it('outbox respects maxBytes (text as UTF-8) and copies queued binary data', async () => {
      const received: string[][] = [];
      const { url } = await start(recorder(received));
      const newest = client(url, { outbox: { maxBytes: 10, overflow: 'drop-newest' } });
      const buffer = new Uint8Array([7, 8]);
      expect(newest.send('12345')).toBe('queued');
      expect(newest.send(buffer)).toBe('queued');
      buffer[0] = 99; // the queued copy is not affected
      expect(newest.send('é')).toBe('queued'); // 2 bytes of UTF-8: 5 + 2 + 2 = 9
      expect(newest.outboxBytes).toBe(9);
      expect(newest.send('xy')).toBe('dropped'); // 11 > 10
      expect(newest.send(new Uint8Array([1, 2]))).toBe('dropped');
      expect(newest.send('z')).toBe('queued'); // exactly 10
      expect(newest.outboxBytes).toBe(10);
      expect(newest.outboxMessages).toBe(4);

      const oldest = client(url, { outbox: { maxBytes: 10, overflow: 'drop-oldest' } });
      const oldestLog = record(oldest);
      expect(oldest.send('aaaa')).toBe('queued');
      expect(oldest.send('bbbb')).toBe('queued');
      expect(oldest.send('cccc')).toBe('queued'); // evicts 'aaaa'
      expect(oldest.send('x'.repeat(11))).toBe('dropped'); // can never fit: evicts nothing
      expect(oldest.outboxMessages).toBe(2);
      expect(oldest.outboxBytes).toBe(8);
      expect(argsOf(oldestLog, 'drop')).toEqual([
        ['aaaa', 'overflow'],
        ['x'.repeat(11), 'overflow'],
      ]);

      await waitUntil(
        () => received.length === 2 && received[0]!.length + received[1]!.length === 6,
        'both outboxes delivered',
      );
      await sleep(30);
      const sorted = received.map((messages) => messages.join('|')).sort();
      expect(sorted).toEqual(['12345|bin:7,8|é|z', 'bbbb|cccc'].sort());
    });

    it('stop() while reconnecting cancels the pending retry: no further attempts', async () => {
      const dead = await deadServer();
      const rws = client(dead.url, { minDelay: 20, maxDelay: 40, random: () => 0.5 });
      const log = record(rws);
      await waitUntil(() => argsOf(log, 'reconnecting').length >= 2, 'two retries');
      expect(rws.state).toBe('reconnecting');
      expect(rws.send('never')).toBe('queued');
      const stopping = rws.stop();
      expect(rws.stop()).toBe(stopping);
      await withTimeout(stopping, 10_000, 'stop');
      expect(rws.state).toBe('stopped');
      expect(rws.connection).toBeUndefined();
      const attempts = dead.accepted();
      const retries = argsOf(log, 'reconnecting').length;
      await sleep(300);
      expect(dead.accepted()).toBe(attempts);
      expect(argsOf(log, 'reconnecting')).toHaveLength(retries);
      expect(argsOf(log, 'drop')).toEqual([['never', 'stopped']]);
      expect(argsOf(log, 'stopped')).toEqual([[1000, '', 'stop']]);
      expect(rws.send('late')).toBe('dropped');
      expect(rws.outboxMessages).toBe(0);
    }, 30_000);

    it('stop() during a hanging handshake aborts it; handshakeTimeout bounds each attempt', async () => {
      const silent = await silentServer();
      const hanging = client(silent.url, { handshakeTimeout: 30_000 });
      const hangingLog = record(hanging);
      await waitUntil(() => silent.accepted() === 1, 'the first attempt to connect');
      expect(hanging.state).toBe('connecting');
      await withTimeout(hanging.stop(), 5000, 'stop during the handshake');
      expect(hanging.state).toBe('stopped');
      expect(argsOf(hangingLog, 'error')).toHaveLength(0);
      expect(argsOf(hangingLog, 'stopped')).toEqual([[1000, '', 'stop']]);

      const timing = client(silent.url, { handshakeTimeout: 150, minDelay: 20, random: () => 0.5 });
      const timingLog = record(timing);
      await waitUntil(() => argsOf(timingLog, 'reconnecting').length >= 2, 'two timed-out attempts');
      await timing.stop();
      expect(argsOf(timingLog, 'error')[0]?.[0]).toMatchObject({ code: 'WS_TIMEOUT' });
      expect(argsOf(timingLog, 'reconnecting')[1]?.[3]).toMatchObject({ code: 'WS_TIMEOUT' });
    }, 30_000);

    it('shouldReconnect returning false ends after the first close', async () => {
      let connections = 0;
      const { url } = await start((server) =>
        server.on('connection', (ws) => {
          connections++;
          ws.close(4000, 'bye');
        }),
      );
      const calls: unknown[][] = [];
      const rws = client(url, {
        minDelay: 10,
        shouldReconnect: (code, reason, context) => {
          calls.push([code, reason, context.retries]);
          return false;
        },
      });
      const log = record(rws);
      await nextEvent(rws, 'stopped');
      await sleep(100);
      expect(log.map((entry) => entry[0])).toEqual(['open', 'close', 'stopped']);
      expect(argsOf(log, 'close')).toEqual([[4000, 'bye', false]]);
      expect(argsOf(log, 'stopped')).toEqual([[4000, 'bye', 'shouldReconnect']]);
      expect(calls).toEqual([[4000, 'bye', 0]]);
      expect(connections).toBe(1);
      expect(rws.state).toBe('stopped');
      await withTimeout(rws.stop(), 1000, 'stop after stopped');
    });

    it('default policy: reconnects after an application close code, not after a 1008 from the server', async () => {
      let connections = 0;
      const { url } = await start((server) =>
        server.on('connection', (ws) => {
          connections++;
          if (connections === 1) ws.close(4001, 'come back');
          else ws.close(1008, 'go away');
        }),
      );
      const rws = client(url, { minDelay: 10 });
      const log = record(rws);
      await nextEvent(rws, 'stopped');
      expect(log.map((entry) => entry[0])).toEqual([
        'open',
        'close',
        'reconnecting',
        'reconnected',
        'close',
        'stopped',
      ]);
      expect(argsOf(log, 'close')).toEqual([
        [4001, 'come back', true],
        [1008, 'go away', false],
      ]);
      expect(argsOf(log, 'stopped')).toEqual([[1008, 'go away', 'shouldReconnect']]);
      expect(connections).toBe(2);
    });

    it('a server refusing with 403: attempts increase until maxRetries ends it', async () => {
      let upgrades = 0;
      const { url } = await start(undefined, {
        upgrade: () => {
          upgrades++;
          return { status: 403, body: 'forbidden' };
        },
      });
      const rws = client(url, { minDelay: 10, maxRetries: 3, shouldReconnect: () => true });
      const log = record(rws);
      const [code, , cause] = await nextEvent(rws, 'stopped');
      expect(code).toBe(1006);
      expect(cause).toBe('maxRetries');
      expect(argsOf(log, 'reconnecting').map((args) => args[0])).toEqual([1, 2, 3]);
      const errors = argsOf(log, 'error');
      expect(errors).toHaveLength(4);
      for (const [error] of errors)
        expect(error).toMatchObject({ name: 'WebSocketHandshakeError', status: 403 });
      expect(argsOf(log, 'open')).toHaveLength(0);
      expect(argsOf(log, 'close')).toHaveLength(0);
      expect(upgrades).toBe(4);
      expect(rws.state).toBe('stopped');
      expect(rws.attempt).toBe(3);
      await sleep(100);
      expect(upgrades).toBe(4);
    });

    it('default policy: a 403 stops at once, a 503 is retried until the server accepts', async () => {
      const forbidden = await start(undefined, { upgrade: () => ({ status: 403 }) });
      const refused = client(forbidden.url, { minDelay: 10 });
      const refusedLog = record(refused);
      const [, , cause] = await nextEvent(refused, 'stopped');
      expect(cause).toBe('shouldReconnect');
      expect(argsOf(refusedLog, 'error')).toHaveLength(1);
      expect(argsOf(refusedLog, 'reconnecting')).toHaveLength(0);

      let upgrades = 0;
      const busy = await start(undefined, {
        upgrade: () => (++upgrades <= 2 ? { status: 503 } : undefined),
      });
      const patient = client(busy.url, { minDelay: 10 });
      const patientLog = record(patient);
      const [connection] = await nextEvent(patient, 'open');
      expect(connection).toBe(patient.connection);
      expect(patient.attempt).toBe(2);
      expect(patientLog.map((entry) => entry[0])).toEqual([
        'error',
        'reconnecting',
        'error',
        'reconnecting',
        'open',
      ]);
      expect(argsOf(patientLog, 'reconnected')).toHaveLength(0);
    });

    it('async iteration and message events span reconnects; the loop ends on stop()', async () => {
      let connections = 0;
      const { url } = await start((server) =>
        server.on('connection', (ws: WebSocketConnection<unknown>) => {
          const n = ++connections;
          ws.send(`c${n}`);
          ws.send(new Uint8Array([n]));
          ws.close(1012, 'restart');
        }),
      );
      const rws = client(url, { minDelay: 10, random: () => 0.5 });
      const events: unknown[][] = [];
      rws.on('message', (data, isBinary) => events.push([show(data), isBinary]));
      const got: string[] = [];
      const loop = (async () => {
        for await (const message of rws) {
          got.push(show(message));
          if (got.length === 6) void rws.stop();
        }
      })();
      await withTimeout(loop, 15_000, 'the for await loop to end');
      expect(got).toEqual(['c1', 'bin:1', 'c2', 'bin:2', 'c3', 'bin:3']);
      expect(events.slice(0, 6)).toEqual([
        ['c1', false],
        ['bin:1', true],
        ['c2', false],
        ['bin:2', true],
        ['c3', false],
        ['bin:3', true],
      ]);
      expect(rws.state).toBe('stopped');
      const after = await rws[Symbol.asyncIterator]().next();
      expect(after.done).toBe(true);
    });

    it('a connection that stayed open resetAfter ms resets the backoff', async () => {
      let connections = 0;
      const { url } = await start((server) =>
        server.on('connection', (ws) => {
          const n = ++connections;
          if (n <= 3) ws.close(4000, 'short');
          else if (n === 4) setTimeout(() => ws.close(4000, 'long'), 900);
        }),
      );
      const rws = client(url, { minDelay: 10, factor: 2, random: () => 0.5, resetAfter: 400 });
      const log = record(rws);
      await waitUntil(() => argsOf(log, 'reconnected').length >= 4, 'the fifth connection', 20_000);
      const reconnecting = argsOf(log, 'reconnecting').map((args) => args.slice(0, 2));
      expect(reconnecting).toEqual([
        [1, 10],
        [2, 20],
        [3, 40],
        [1, 10],
      ]);
      expect(argsOf(log, 'reconnected').map((args) => args[1])).toEqual([1, 2, 3, 1]);
    }, 30_000);

    it('stop(code, reason) closes the open connection with them; the signal option stops too', async () => {
      const closes: unknown[][] = [];
      const { url } = await start((server) =>
        server.on('connection', (ws) => ws.on('close', (code, reason) => closes.push([code, reason]))),
      );
      const rws = client(url);
      const log = record(rws);
      await nextEvent(rws, 'open');
      expect(() => rws.stop(1006)).toThrow(RangeError);
      expect(rws.state).toBe('open');
      await withTimeout(rws.stop(4000, 'done'), 5000, 'stop');
      expect(log.map((entry) => entry[0])).toEqual(['open', 'close', 'stopped']);
      expect(argsOf(log, 'close')[0]?.[2]).toBe(false);
      expect(argsOf(log, 'stopped')).toEqual([[4000, 'done', 'stop']]);
      await waitUntil(() => closes.length === 1, 'the server to see the close');
      expect(closes[0]).toEqual([4000, 'done']);

      const controller = new AbortController();
      const aborted = client(url, { signal: controller.signal });
      await nextEvent(aborted, 'open');
      const stopped = nextEvent(aborted, 'stopped');
      controller.abort();
      expect(await stopped).toEqual([1000, '', 'stop']);
      expect(aborted.state).toBe('stopped');
      await waitUntil(() => closes.length === 2, 'the server to see the second close');
      expect(closes[1]?.[0]).toBe(1000);
    });
  });
}
