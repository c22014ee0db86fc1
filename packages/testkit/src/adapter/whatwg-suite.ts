/**
 * Conformance tests of the WHATWG `WebSocket` class (https://websockets.spec.whatwg.org/)
 * an adapter builds with `createWebSocketClass(dialer)`, against the adapter's own
 * server over loopback:
 *
 * ```ts
 * import { defineWhatwgSuite } from '@fullduplex/testkit/adapter/whatwg';
 * import { WebSocket, WebSocketServer } from '../src/index.ts';
 * defineWhatwgSuite({ name: 'node', WebSocket, WebSocketServer });
 * ```
 *
 * Written against the vitest API with Jest-compatible matchers only, so the same file
 * runs under `bun test` and `deno test` (through the vitest shim). Nothing asserts on
 * timing; waits have generous timeouts only so that a failure does not hang.
 */
import { createServer as createNetServer } from 'node:net';
import {
  CloseEvent,
  type ServerOptions,
  type UpgradeRequest,
  type WebSocketConnection,
  type WhatwgWebSocket,
} from '@fullduplex/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdapterModule, ListeningServer } from './suite.ts';

/** What an adapter passes to {@link defineWhatwgSuite}. */
export interface WhatwgAdapterModule {
  readonly name: string;
  /** The class from `createWebSocketClass(yourDialer)`. */
  readonly WebSocket: typeof WhatwgWebSocket;
  readonly WebSocketServer: AdapterModule['WebSocketServer'];
}

const WAIT = 15_000;
const enc = new TextEncoder();

function pattern(size: number, seed = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

/** What `fn` threw (undefined if it did not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Asserts that `fn` throws a DOMException named `name`. */
function expectDomException(fn: () => unknown, name: string): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DOMException);
  expect((error as DOMException).name).toBe(name);
}

/** Resolves with the next `type` event of `target`. */
function nextEvent<E extends Event = Event>(target: EventTarget, type: string, what = type): Promise<E> {
  return withTimeout(
    new Promise<E>((resolve) =>
      target.addEventListener(type, (event) => resolve(event as E), { once: true }),
    ),
    what,
  );
}

/** Everything a socket fires, in order. */
interface Recording {
  /** `open`, `message`, `error`, `close`, with the readyState seen in the listener. */
  readonly log: string[];
  readonly messages: MessageEvent[];
  /** Resolves with the close event (rejects if none arrives in time). */
  readonly closed: Promise<CloseEvent>;
}

function record(ws: WhatwgWebSocket): Recording {
  const log: string[] = [];
  const messages: MessageEvent[] = [];
  ws.addEventListener('open', () => log.push(`open:${ws.readyState}`));
  ws.addEventListener('message', (event) => {
    log.push(`message:${ws.readyState}`);
    messages.push(event);
  });
  ws.addEventListener('error', (event) => {
    // A plain Event, not an ErrorEvent/CloseEvent.
    log.push(`error:${ws.readyState}:${event.constructor === Event}`);
  });
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener('close', (event) => {
      log.push(`close:${ws.readyState}`);
      resolve(event);
    }),
  );
  const guarded = withTimeout(closed, 'close event');
  guarded.catch(() => undefined); // rejects only when awaited by a test that is failing anyway
  return { log, messages, closed: guarded };
}

/** Resolves when `ws` opens; rejects if it closes first. */
function opened(ws: WhatwgWebSocket): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener(
        'close',
        (event) => reject(new Error(`closed before open: ${event.code} ${event.reason}`)),
        { once: true },
      );
    }),
    'open event',
  );
}

async function bytesOf(data: unknown): Promise<Uint8Array> {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  throw new Error(`expected binary data, got ${typeof data}`);
}

/** Registers the WHATWG WebSocket suite for `adapter`. */
export function defineWhatwgSuite(adapter: WhatwgAdapterModule): void {
  const { WebSocket } = adapter;
  const servers: ListeningServer<unknown>[] = [];
  const sockets: WhatwgWebSocket[] = [];

  async function start(
    options: ServerOptions<unknown> = {},
  ): Promise<{ server: ListeningServer<unknown>; port: number; url: string }> {
    const server = new adapter.WebSocketServer<unknown>(options);
    const { port } = await server.listen(0, '127.0.0.1');
    servers.push(server);
    return { server, port, url: `ws://127.0.0.1:${port}` };
  }

  async function startEcho(options: ServerOptions<unknown> = {}) {
    const started = await start(options);
    started.server.on('connection', (conn) => {
      conn.on('message', (data, binary) => conn.send(data, { binary }));
    });
    return started;
  }

  /** Server-side messages in arrival order. */
  function collect(server: ListeningServer<unknown>): { data: string | Uint8Array; binary: boolean }[] {
    const received: { data: string | Uint8Array; binary: boolean }[] = [];
    server.on('connection', (conn) => {
      conn.on('message', (data, binary) => {
        received.push({ data: typeof data === 'string' ? data : new Uint8Array(data), binary });
      });
    });
    return received;
  }

  function nextConnection(server: ListeningServer<unknown>): Promise<WebSocketConnection<unknown>> {
    return withTimeout(
      new Promise((resolve) => server.once('connection', (conn) => resolve(conn))),
      'server connection',
    );
  }

  /** Waits until `predicate` holds, checking after every macrotask. */
  async function until(predicate: () => boolean, what: string): Promise<void> {
    await withTimeout(
      (async () => {
        while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      what,
    );
  }

  function create(url: string | URL, protocols?: string | string[], options?: object): WhatwgWebSocket {
    const ws = new WebSocket(url, protocols, options);
    sockets.push(ws);
    return ws;
  }

  async function openSocket(url: string, protocols?: string | string[]): Promise<WhatwgWebSocket> {
    const ws = create(url, protocols);
    await opened(ws);
    return ws;
  }

  /** A port nothing listens on (just released by a listener). */
  async function freePort(): Promise<number> {
    const net = createNetServer();
    await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
    const port = (net.address() as { port: number }).port;
    await new Promise((resolve) => net.close(resolve));
    return port;
  }

  afterEach(async () => {
    const open = sockets.splice(0).filter((ws) => ws.readyState !== WebSocket.CLOSED);
    const closes = open.map(
      (ws) => new Promise<void>((resolve) => ws.addEventListener('close', () => resolve(), { once: true })),
    );
    for (const ws of open) if (ws.readyState !== WebSocket.CLOSING) ws.close();
    await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
    await withTimeout(Promise.all(closes), 'clients closed', 5000).catch(() => undefined);
  });

  describe(`${adapter.name} WHATWG WebSocket: constructor`, () => {
    it('has the spec constants, statically and on instances, and starts CONNECTING', async () => {
      const { url } = await startEcho();
      expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([
        0, 1, 2, 3,
      ]);
      const ws = create(url);
      expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
      expect(ws).toBeInstanceOf(EventTarget);
      expect(ws).toBeInstanceOf(WebSocket);
      expect(Object.prototype.toString.call(ws)).toBe('[object WebSocket]');
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
      expect(ws.bufferedAmount).toBe(0);
      expect(ws.protocol).toBe('');
      expect(ws.extensions).toBe('');
      expect(ws.binaryType).toBe('blob');
      expect(ws.onopen).toBeNull();
      expect(ws.onmessage).toBeNull();
      expect(ws.onerror).toBeNull();
      expect(ws.onclose).toBeNull();
      expect(() => {
        (ws as unknown as { CONNECTING: number }).CONNECTING = 5;
      }).toThrow(TypeError); // modules are strict: the constant is read-only
      await opened(ws);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(ws.extensions).toBe('');
    });

    it('serializes the URL, mapping http: and https: to ws: and wss:', async () => {
      const targets: string[] = [];
      const { port } = await startEcho({
        upgrade: (request: UpgradeRequest) => {
          targets.push(request.url);
          return undefined;
        },
      });
      const a = create(`http://127.0.0.1:${port}`);
      expect(a.url).toBe(`ws://127.0.0.1:${port}/`);
      await opened(a);
      const b = create(new URL(`ws://127.0.0.1:${port}/path?q=1`));
      expect(typeof b.url).toBe('string');
      expect(b.url).toBe(`ws://127.0.0.1:${port}/path?q=1`);
      await opened(b);
      expect(targets).toEqual(['/', '/path?q=1']);

      const c = create(`https://127.0.0.1:${await freePort()}/x`);
      expect(c.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/x$/);
      c.close();
    });

    it('throws SyntaxError synchronously for invalid URLs, other schemes and fragments', () => {
      for (const url of [
        'not a url',
        '/relative/path',
        'ftp://127.0.0.1/',
        'file:///tmp/socket',
        'javascript:void(0)',
        'data:text/plain,x',
        'ws://127.0.0.1/#',
        'ws://127.0.0.1/#fragment',
        'https://127.0.0.1/path#x',
        'ws://user:secret@127.0.0.1/', // refused rather than silently dropped (documented deviation)
      ]) {
        expectDomException(() => new WebSocket(url), 'SyntaxError');
      }
      expect(() => new (WebSocket as unknown as new () => unknown)()).toThrow(TypeError);
    });

    it('throws SyntaxError for duplicate or invalid subprotocols', () => {
      const url = 'ws://127.0.0.1:9/';
      for (const protocols of [
        ['chat', 'chat'],
        ['chat', 'CHAT'], // duplicates compare case-insensitively, as in browsers
        [''],
        '',
        ['a b'],
        ['a,b'],
        'a;b',
        ['(x)'],
        ['caf\u00e9'],
        ['ok', ''],
      ]) {
        expectDomException(() => new WebSocket(url, protocols), 'SyntaxError');
      }
    });

    it('offers subprotocols and shows the one the server selected in `protocol`', async () => {
      const offered: (readonly string[])[] = [];
      const { url } = await startEcho({
        protocols: ['v2.chat', 'v1.chat'],
        upgrade: (request: UpgradeRequest) => {
          offered.push(request.protocols);
          return undefined;
        },
      });
      const both = create(url, ['v1.chat', 'v2.chat']);
      expect(both.protocol).toBe('');
      await opened(both);
      expect(both.protocol).toBe('v2.chat');
      const one = await openSocket(url, 'v1.chat');
      expect(one.protocol).toBe('v1.chat');
      const none = await openSocket(url, ['other']);
      expect(none.protocol).toBe('');
      const unoffered = await openSocket(url);
      expect(unoffered.protocol).toBe('');
      expect(offered).toEqual([['v1.chat', 'v2.chat'], ['v1.chat'], ['other'], []]);
    });

    it('passes the non-standard options (headers, protocols) to the handshake', async () => {
      const seen: { token: string | undefined; protocols: readonly string[] }[] = [];
      const { url } = await startEcho({
        handleProtocols: (offered) => offered[0],
        upgrade: (request: UpgradeRequest) => {
          seen.push({ token: request.headers.get('x-token'), protocols: request.protocols });
          return undefined;
        },
      });
      const ws = create(url, undefined, { headers: { 'X-Token': 'abc' }, protocols: ['p1'] });
      await opened(ws);
      expect(ws.protocol).toBe('p1');
      expect(seen).toEqual([{ token: 'abc', protocols: ['p1'] }]);
      // Headers the handshake owns are refused synchronously.
      expect(() => new WebSocket(url, [], { headers: { Host: 'elsewhere' } })).toThrow(TypeError);
    });

    it('binaryType accepts "blob" and "arraybuffer" and ignores anything else', async () => {
      const { url } = await startEcho();
      const ws = create(url);
      expect(ws.binaryType).toBe('blob');
      ws.binaryType = 'arraybuffer';
      expect(ws.binaryType).toBe('arraybuffer');
      ws.binaryType = 'nodebuffer' as 'blob';
      expect(ws.binaryType).toBe('arraybuffer');
      ws.binaryType = 'blob';
      expect(ws.binaryType).toBe('blob');
      ws.binaryType = '' as 'blob';
      expect(ws.binaryType).toBe('blob');
      await opened(ws);
    });
  });

  describe(`${adapter.name} WHATWG WebSocket: sending and receiving`, () => {
    it('send() while CONNECTING throws InvalidStateError', async () => {
      const { url } = await startEcho();
      const ws = create(url);
      expectDomException(() => ws.send('too early'), 'InvalidStateError');
      expectDomException(() => ws.send(new Uint8Array(4)), 'InvalidStateError');
      expectDomException(() => ws.send(new Blob(['x'])), 'InvalidStateError');
      expect(ws.bufferedAmount).toBe(0);
      await opened(ws);
    });

    it('echoes text as MessageEvents with `data` and the URL origin as `origin`', async () => {
      const { url, port } = await startEcho();
      const ws = await openSocket(`${url}/some/path?x=1`);
      for (const text of ['hello', '', 'héllo wörld ✓ 🎉', 'x'.repeat(70_000)]) {
        const message = nextEvent<MessageEvent>(ws, 'message');
        ws.send(text);
        const event = await message;
        expect(event).toBeInstanceOf(MessageEvent);
        expect(event.type).toBe('message');
        expect(event.data).toBe(text);
        expect(event.origin).toBe(`ws://127.0.0.1:${port}`);
      }
    });

    it('delivers binary messages as ArrayBuffer with binaryType "arraybuffer", from every binary type', async () => {
      const { url } = await startEcho();
      const ws = await openSocket(url);
      ws.binaryType = 'arraybuffer';
      const source = pattern(64, 7);
      const cases: [unknown, Uint8Array][] = [
        [source.buffer, source],
        [source, source],
        [source.subarray(8, 24), source.subarray(8, 24)],
        [new Uint16Array(source.buffer, 16, 4), source.subarray(16, 24)],
        [new DataView(source.buffer, 3, 5), source.subarray(3, 8)],
        [new ArrayBuffer(0), new Uint8Array(0)],
        [new Blob([source.subarray(0, 10)]), source.subarray(0, 10)],
      ];
      for (const [data, expected] of cases) {
        const message = nextEvent<MessageEvent>(ws, 'message');
        ws.send(data as ArrayBuffer);
        const event = await message;
        expect(event.data).toBeInstanceOf(ArrayBuffer);
        expect(sameBytes(new Uint8Array(event.data as ArrayBuffer), expected)).toBe(true);
      }
    });

    it('delivers binary messages as Blob by default', async () => {
      const { url } = await startEcho();
      const ws = await openSocket(url);
      const source = pattern(300, 3);
      const message = nextEvent<MessageEvent>(ws, 'message');
      ws.send(source);
      const event = await message;
      expect(event.data).toBeInstanceOf(Blob);
      expect((event.data as Blob).size).toBe(300);
      expect(sameBytes(await bytesOf(event.data), source)).toBe(true);
    });

    it('round-trips 1 MiB of binary in both binaryTypes', async () => {
      const { url } = await startEcho();
      const ws = await openSocket(url);
      const big = pattern(1024 * 1024, 11);
      for (const binaryType of ['arraybuffer', 'blob'] as const) {
        ws.binaryType = binaryType;
        const message = nextEvent<MessageEvent>(ws, 'message', `1 MiB echo as ${binaryType}`);
        ws.send(big);
        expect(ws.bufferedAmount).toBeGreaterThanOrEqual(big.length);
        const event = await message;
        expect(event.data).toBeInstanceOf(binaryType === 'blob' ? Blob : ArrayBuffer);
        expect(sameBytes(await bytesOf(event.data), big)).toBe(true);
      }
    }, 60_000);

    it('keeps Blob sends in order with the sends around them', async () => {
      const { server, url } = await start();
      const received = collect(server);
      const ws = await openSocket(url);
      const bigBlob = pattern(256 * 1024, 5);
      ws.send('first');
      ws.send(new Blob([bigBlob]));
      ws.send('second');
      ws.send(new Uint8Array([1, 2, 3]));
      ws.send(new Blob(['bl', 'ob ✓']));
      ws.send(new Blob([]));
      ws.send('last');
      // The Blobs are read asynchronously: their bytes and what queues behind them count.
      expect(ws.bufferedAmount).toBeGreaterThanOrEqual(bigBlob.length + 3 + 7 + 4);
      await until(() => received.length === 7, 'seven messages at the server');
      expect(received.map((m) => m.binary)).toEqual([false, true, false, true, true, true, false]);
      expect(received[0]?.data).toBe('first');
      expect(sameBytes(received[1]?.data as Uint8Array, bigBlob)).toBe(true);
      expect(received[2]?.data).toBe('second');
      expect(Array.from(received[3]?.data as Uint8Array)).toEqual([1, 2, 3]);
      expect(sameBytes(received[4]?.data as Uint8Array, enc.encode('blob ✓'))).toBe(true);
      expect(received[5]?.data).toEqual(new Uint8Array(0));
      expect(received[6]?.data).toBe('last');
    });

    it('snapshots binary data queued behind a Blob', async () => {
      const { server, url } = await start();
      const received = collect(server);
      const ws = await openSocket(url);
      const reused = new Uint8Array([1, 1, 1]);
      ws.send(new Blob(['b']));
      ws.send(reused);
      reused.fill(9);
      await until(() => received.length === 2, 'two messages at the server');
      expect(Array.from(received[1]?.data as Uint8Array)).toEqual([1, 1, 1]);
    });

    it('bufferedAmount includes what send() just queued', async () => {
      const { url } = await startEcho();
      const ws = await openSocket(url);
      const before = ws.bufferedAmount;
      ws.send('héllo'); // 6 UTF-8 bytes
      expect(ws.bufferedAmount).toBeGreaterThanOrEqual(before + 6);
      ws.send(new Uint8Array(10));
      expect(ws.bufferedAmount).toBeGreaterThanOrEqual(before + 16);
    });

    it('converts other values to strings, as WebIDL does', async () => {
      const { server, url } = await start();
      const received = collect(server);
      const ws = await openSocket(url);
      ws.send(42 as unknown as string);
      ws.send(null as unknown as string);
      ws.send({ toString: () => 'object' } as unknown as string);
      await until(() => received.length === 3, 'three messages at the server');
      expect(received).toEqual([
        { data: '42', binary: false },
        { data: 'null', binary: false },
        { data: 'object', binary: false },
      ]);
      expect(() => (ws.send as () => void)()).toThrow(TypeError);
    });

    it('calls onmessage and addEventListener listeners in the spec order', async () => {
      const { url } = await startEcho();
      const ws = await openSocket(url);
      const calls: string[] = [];
      let thisValue: unknown;
      let round: (() => void) | undefined;
      const a = (event: MessageEvent): void => {
        calls.push(`A${event.data}`);
      };
      const b = function (this: unknown, event: MessageEvent): void {
        thisValue = this;
        calls.push(`B${event.data}`);
      };
      const b2 = (event: MessageEvent): void => {
        calls.push(`b${event.data}`);
      };
      const c = (event: MessageEvent): void => {
        calls.push(`C${event.data}`);
      };
      const last = (): void => round?.();
      const exchange = async (text: string): Promise<void> => {
        const done = withTimeout(
          new Promise<void>((resolve) => {
            round = resolve;
          }),
          `echo ${text}`,
        );
        ws.send(text);
        await done;
      };

      ws.addEventListener('message', a);
      ws.onmessage = b;
      ws.addEventListener('message', c);
      ws.addEventListener('message', last);
      expect(ws.onmessage).toBe(b);
      await exchange('1');
      expect(thisValue).toBe(ws);
      // Replacing the handler keeps its place in the listener list.
      ws.onmessage = b2;
      await exchange('2');
      // null removes it; setting it again appends it.
      ws.onmessage = null;
      expect(ws.onmessage).toBeNull();
      await exchange('3');
      ws.removeEventListener('message', last);
      ws.onmessage = b;
      ws.addEventListener('message', last);
      await exchange('4');
      expect(calls).toEqual(['A1', 'B1', 'C1', 'A2', 'b2', 'C2', 'A3', 'C3', 'A4', 'C4', 'B4']);
      ws.onmessage = 'not a function' as unknown as null;
      expect(ws.onmessage).toBeNull();
    });

    it('fires open before any message, even when the server sends and closes at once', async () => {
      const { server, url } = await start();
      server.on('connection', (conn) => {
        conn.send('first');
        conn.send(new Uint8Array([7]));
        conn.close(4000, 'done');
      });
      const ws = create(url);
      ws.binaryType = 'arraybuffer';
      const events = record(ws);
      const onopen: string[] = [];
      ws.onopen = (event) => onopen.push(event.type);
      const close = await events.closed;
      expect(events.log).toEqual(['open:1', 'message:1', 'message:1', 'close:3']);
      expect(onopen).toEqual(['open']);
      expect(events.messages[0]?.data).toBe('first');
      expect(Array.from(new Uint8Array(events.messages[1]?.data as ArrayBuffer))).toEqual([7]);
      expect(close.code).toBe(4000);
      expect(close.reason).toBe('done');
      expect(close.wasClean).toBe(true);
    });
  });

  describe(`${adapter.name} WHATWG WebSocket: closing`, () => {
    it('validates close() arguments: InvalidAccessError for codes, SyntaxError for long reasons', async () => {
      const { server, url } = await startEcho();
      const connection = nextConnection(server);
      const ws = create(url);
      // Validation comes first, in every state: a bad call while CONNECTING changes nothing.
      expectDomException(() => ws.close(1001), 'InvalidAccessError');
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
      await opened(ws);
      for (const code of [0, 999, 1001, 1005, 1006, 1011, 2999, 5000, 65535, Number.NaN]) {
        expectDomException(() => ws.close(code), 'InvalidAccessError');
      }
      expectDomException(() => ws.close(1000, 'x'.repeat(124)), 'SyntaxError');
      expectDomException(() => ws.close(4000, 'é'.repeat(62)), 'SyntaxError'); // 124 bytes
      expectDomException(() => ws.close(undefined, 'x'.repeat(124)), 'SyntaxError');
      expect(ws.readyState).toBe(WebSocket.OPEN);
      const conn = await connection;
      const reason = `${'é'.repeat(61)}x`; // exactly 123 bytes
      const events = record(ws);
      ws.close(3000.4, reason); // [Clamp] unsigned short: 3000
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const seen = await withTimeout(conn.closed(), 'server close');
      expect(seen.code).toBe(3000);
      expect(seen.reason).toBe(reason);
      expect((await events.closed).code).toBe(3000);
      expectDomException(() => ws.close(2000), 'InvalidAccessError');
      expect(() => ws.close(1000)).not.toThrow();
    });

    it('close codes and reasons are seen by both sides (client-initiated)', async () => {
      const { server, url } = await startEcho();
      const connection = nextConnection(server);
      const ws = await openSocket(url);
      const conn = await connection;
      const events = record(ws);
      ws.close(4001, 'client bye');
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const close = await events.closed;
      expect(close).toBeInstanceOf(CloseEvent);
      expect(close).toBeInstanceOf(Event);
      expect(close.type).toBe('close');
      expect(close.code).toBe(4001);
      expect(close.reason).toBe('client bye');
      expect(close.wasClean).toBe(true);
      expect(events.log).toEqual(['close:3']);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
      expect(await withTimeout(conn.closed(), 'server close')).toEqual({
        code: 4001,
        reason: 'client bye',
        wasClean: true,
      });
    });

    it('close codes and reasons are seen by both sides (server-initiated)', async () => {
      const { server, url } = await startEcho();
      const connection = nextConnection(server);
      const ws = await openSocket(url);
      const events = record(ws);
      const onclose: CloseEvent[] = [];
      ws.onclose = (event) => onclose.push(event);
      const conn = await connection;
      conn.close(4002, 'server bye');
      const close = await events.closed;
      expect([close.code, close.reason, close.wasClean]).toEqual([4002, 'server bye', true]);
      expect(onclose).toHaveLength(1);
      expect(onclose[0]).toBe(close);
      expect(events.log).toEqual(['close:3']);
      expect((await withTimeout(conn.closed(), 'server close')).code).toBe(4002);
    });

    it('close() without a code sends none (1005); a reason alone sends 1000', async () => {
      const { server, url } = await startEcho();
      let connection = nextConnection(server);
      const bare = await openSocket(url);
      let conn = await connection;
      const bareEvents = record(bare);
      bare.close();
      expect((await withTimeout(conn.closed(), 'server close')).code).toBe(1005);
      expect((await bareEvents.closed).code).toBe(1005);

      connection = nextConnection(server);
      const withReason = await openSocket(url);
      conn = await connection;
      const reasonEvents = record(withReason);
      withReason.close(undefined, 'why');
      expect(await withTimeout(conn.closed(), 'server close')).toMatchObject({ code: 1000, reason: 'why' });
      expect(await reasonEvents.closed).toMatchObject({ code: 1000, reason: 'why', wasClean: true });
    });

    it('close() while CLOSING or CLOSED does nothing', async () => {
      const { server, url } = await startEcho();
      const connection = nextConnection(server);
      const ws = await openSocket(url);
      const conn = await connection;
      const events = record(ws);
      ws.close(4001, 'first');
      ws.close(4002, 'second');
      ws.close();
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const close = await events.closed;
      expect(close.code).toBe(4001);
      expect((await withTimeout(conn.closed(), 'server close')).code).toBe(4001);
      ws.close(4003);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events.log).toEqual(['close:3']);
    });

    it('send() after close does not throw and grows bufferedAmount by the data size', async () => {
      const { server, url } = await start();
      const received = collect(server);
      const ws = await openSocket(url);
      const events = record(ws);
      ws.close(1000);
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      let before = ws.bufferedAmount;
      ws.send('héllo'); // 6 bytes of UTF-8
      expect(ws.bufferedAmount).toBe(before + 6);
      ws.send(new ArrayBuffer(10));
      expect(ws.bufferedAmount).toBe(before + 16);
      ws.send(new Uint8Array(20).subarray(5));
      expect(ws.bufferedAmount).toBe(before + 31);
      ws.send(new Blob(['abcd']));
      expect(ws.bufferedAmount).toBe(before + 35);
      await events.closed;
      expect(ws.readyState).toBe(WebSocket.CLOSED);
      before = ws.bufferedAmount;
      expect(before).toBeGreaterThanOrEqual(35);
      expect(() => ws.send('x\u{1F389}')).not.toThrow(); // 1 + 4 bytes
      expect(ws.bufferedAmount).toBe(before + 5);
      ws.send(new Blob([new Uint8Array(7)]));
      expect(ws.bufferedAmount).toBe(before + 12);
      expect(received).toEqual([]);
    });

    it('drops messages that arrive after close() was called', async () => {
      const { server, url } = await start();
      const results: string[] = [];
      server.on('connection', (conn) => {
        conn.on('message', () => results.push(conn.send('late')));
      });
      const ws = await openSocket(url);
      const events = record(ws);
      ws.send('trigger');
      ws.close(1000);
      const close = await events.closed;
      expect(results).toEqual(['sent']);
      expect(events.messages).toHaveLength(0);
      expect(close.code).toBe(1000);
    });

    it('close() while CONNECTING fails the connection: error, then close 1006', async () => {
      const { url } = await startEcho();
      const ws = create(url);
      const events = record(ws);
      ws.close();
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const close = await events.closed;
      expect(events.log).toEqual(['error:3:true', 'close:3']);
      expect([close.code, close.reason, close.wasClean]).toEqual([1006, '', false]);
      // And for a close code given while CONNECTING too.
      const other = create(url);
      const otherEvents = record(other);
      other.close(4000, 'never mind');
      expect((await otherEvents.closed).code).toBe(1006);
      expect(otherEvents.log).toEqual(['error:3:true', 'close:3']);
    });

    it('a handshake rejected by the server (403) fires error, then close 1006', async () => {
      const { server, url } = await start({ upgrade: () => ({ status: 403, body: 'go away' }) });
      let connections = 0;
      server.on('connection', () => connections++);
      const ws = create(url);
      const events = record(ws);
      const onerror: string[] = [];
      ws.onerror = (event) => onerror.push(event.type);
      const close = await events.closed;
      expect(events.log).toEqual(['error:3:true', 'close:3']);
      expect(onerror).toEqual(['error']);
      expect([close.code, close.reason, close.wasClean]).toEqual([1006, '', false]);
      expect(ws.protocol).toBe('');
      expect(connections).toBe(0);
    });

    it('an unreachable server or an aborted signal fires error, then close 1006', async () => {
      const refused = create(`ws://127.0.0.1:${await freePort()}/`);
      const refusedEvents = record(refused);
      expect((await refusedEvents.closed).code).toBe(1006);
      expect(refusedEvents.log).toEqual(['error:3:true', 'close:3']);

      const { url } = await startEcho();
      const aborted = create(url, [], { signal: AbortSignal.abort() });
      const abortedEvents = record(aborted);
      expect((await abortedEvents.closed).wasClean).toBe(false);
      expect(abortedEvents.log).toEqual(['error:3:true', 'close:3']);
    });

    it('the server dropping the connection fires error, then close 1006', async () => {
      const { server, url } = await startEcho();
      const connection = nextConnection(server);
      const ws = await openSocket(url);
      const events = record(ws);
      (await connection).terminate();
      const close = await events.closed;
      expect(events.log).toEqual(['error:3:true', 'close:3']);
      expect([close.code, close.wasClean]).toEqual([1006, false]);
    });
  });

  describe(`${adapter.name} WHATWG WebSocket: CloseEvent`, () => {
    it('is an Event with code, reason and wasClean', () => {
      const plain = new CloseEvent('close');
      expect(plain).toBeInstanceOf(Event);
      expect([plain.type, plain.code, plain.reason, plain.wasClean]).toEqual(['close', 0, '', false]);
      const init = new CloseEvent('close', { code: 4000, reason: 'r', wasClean: true, cancelable: true });
      expect([init.code, init.reason, init.wasClean, init.cancelable]).toEqual([4000, 'r', true, true]);
    });
  });
}
