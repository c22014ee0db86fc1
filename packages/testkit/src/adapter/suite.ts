/**
 * The adapter conformance suite: the same integration tests for every runtime
 * adapter, over real loopback sockets. An adapter proves itself with
 *
 * ```ts
 * import { defineAdapterSuite } from '@fullduplex/testkit/adapter';
 * import * as adapter from '../src/index.ts';
 * defineAdapterSuite({ name: 'node', ...adapter });
 * ```
 *
 * and its runtime's test runner (vitest on Node, `bun test`, `deno test` through
 * the vitest shim). Only `node:net`, `node:child_process`, `node:fs`, `node:os` and
 * `node:path` are used for the test's own peers: all three runtimes have them.
 */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import {
  type ClientOptions,
  encodeFrameBytes,
  Opcode,
  originAllowlist,
  type ServerOptions,
  type UpgradeRequest,
  type WebSocketConnection,
  type WebSocketServer,
} from '@fullduplex/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from './certs.ts';
import { BAD_FRAMES, BAD_HANDSHAKES } from './malformed.ts';
import { headEnd, RawClient, upgradeRequest } from './raw-client.ts';

/** A server an adapter can start: the session server plus `listen`. */
export interface ListeningServer<Data> extends WebSocketServer<Data> {
  listen(port?: number, host?: string): Promise<{ port: number }>;
}

/** What an adapter package must export for the suite. */
export interface AdapterModule {
  readonly name: string;
  readonly WebSocketServer: new <Data = unknown>(
    options?: ServerOptions<Data> & { tls?: { key: string; cert: string } },
  ) => ListeningServer<Data>;
  readonly connect: <Data = unknown>(
    url: string,
    options?: ClientOptions,
    data?: Data,
  ) => Promise<WebSocketConnection<Data>>;
}

const MASK = new Uint8Array([1, 2, 3, 4]);
const enc = new TextEncoder();

function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function nextMessage(
  ws: WebSocketConnection<unknown>,
  timeoutMs = 10_000,
): Promise<{ data: string | Uint8Array; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within timeout')), timeoutMs);
    const onMessage = (data: string | Uint8Array, binary: boolean): void => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve({ data, binary });
    };
    ws.on('message', onMessage);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses server frames (unmasked) from raw bytes: [opcode, payload][]. */
function parseServerFrames(bytes: Uint8Array): { opcode: number; payload: Uint8Array }[] {
  const frames: { opcode: number; payload: Uint8Array }[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = ((bytes[offset] as number) << 8) | (bytes[offset + 1] as number);
      offset += 2;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0));
      offset += 8;
    }
    if (offset + length > bytes.length) break;
    frames.push({ opcode, payload: bytes.subarray(offset, offset + length) });
    at = offset + length;
  }
  return frames;
}

function closeCodeOf(frames: { opcode: number; payload: Uint8Array }[]): number | undefined {
  const close = frames.find((f) => f.opcode === Opcode.CLOSE);
  if (!close || close.payload.length < 2) return undefined;
  return ((close.payload[0] as number) << 8) | (close.payload[1] as number);
}

/** Registers the whole conformance suite for `adapter`. */
export function defineAdapterSuite(adapter: AdapterModule): void {
  const servers: ListeningServer<unknown>[] = [];
  const clients: WebSocketConnection<unknown>[] = [];
  const raws: RawClient[] = [];
  const netServers: NetServer[] = [];

  async function start<Data = unknown>(
    options: ServerOptions<Data> & { tls?: { key: string; cert: string } } = {},
  ): Promise<{ server: ListeningServer<Data>; port: number; url: string }> {
    const server = new adapter.WebSocketServer<Data>(options);
    const { port } = await server.listen(0, '127.0.0.1');
    servers.push(server as ListeningServer<unknown>);
    return { server, port, url: `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}` };
  }

  async function startEcho(options: ServerOptions<unknown> & { tls?: { key: string; cert: string } } = {}) {
    const started = await start(options);
    started.server.on('connection', (ws) => {
      ws.on('message', (data, binary) => ws.send(data, { binary }));
    });
    return started;
  }

  async function dial<Data = unknown>(
    url: string,
    options?: ClientOptions,
    data?: Data,
  ): Promise<WebSocketConnection<Data>> {
    const ws = await adapter.connect<Data>(url, options, data);
    clients.push(ws as WebSocketConnection<unknown>);
    return ws;
  }

  async function raw(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    raws.push(client);
    return client;
  }

  /** A raw client that completed a valid handshake. */
  async function rawOpen(port: number, path = '/'): Promise<RawClient> {
    const client = await raw(port);
    await client.write(upgradeRequest(path));
    await client.waitFor((bytes) => headEnd(bytes) !== -1);
    expect(client.text()).toContain('HTTP/1.1 101');
    return client;
  }

  /** Bytes the raw client received after the 101 head. */
  function framesAfterHead(client: RawClient): { opcode: number; payload: Uint8Array }[] {
    const bytes = client.bytes();
    return parseServerFrames(bytes.subarray(headEnd(bytes)));
  }

  afterEach(async () => {
    for (const r of raws.splice(0)) r.destroy();
    for (const ws of clients.splice(0)) ws.terminate();
    await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
    await Promise.all(netServers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  describe(`${adapter.name} adapter: messages`, () => {
    it('echoes text and binary of every length class, 0 B to 16 MiB, both ways', async () => {
      const { url } = await startEcho();
      const ws = await dial(url);
      expect(ws.readyState).toBe(1);
      for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024]) {
        const payload = pattern(size, size & 0xff);
        ws.send(payload);
        const echoed = await nextMessage(ws);
        expect(echoed.binary).toBe(true);
        expect(sameBytes(echoed.data as Uint8Array, payload)).toBe(true);
      }
      for (const text of ['', 'hello', 'héllo wörld ✓ 🎉', 'x'.repeat(70_000)]) {
        ws.send(text);
        expect(await nextMessage(ws)).toEqual({ data: text, binary: false });
      }
    }, 60_000);

    it('accepts ArrayBuffer, typed-array views and binary strings', async () => {
      const { url } = await startEcho();
      const ws = await dial(url);
      const source = pattern(64);
      ws.send(source.buffer);
      expect(sameBytes((await nextMessage(ws)).data as Uint8Array, source)).toBe(true);
      ws.send(new Uint16Array(source.buffer, 8, 4));
      expect(sameBytes((await nextMessage(ws)).data as Uint8Array, source.subarray(8, 16))).toBe(true);
      ws.send('bin', { binary: true });
      const echoed = await nextMessage(ws);
      expect(echoed.binary).toBe(true);
      expect(sameBytes(echoed.data as Uint8Array, enc.encode('bin'))).toBe(true);
      expect(() => ws.send(42 as unknown as string)).toThrow(TypeError);
    });

    it('delivers many messages in order, and by async iteration', async () => {
      const { url } = await startEcho();
      const ws = await dial(url);
      for (let i = 0; i < 500; i++) ws.send(`m${i}`);
      const got: string[] = [];
      for await (const message of ws) {
        got.push(message as string);
        if (got.length === 500) break;
      }
      expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    });

    it('async iteration ends when the connection closes', async () => {
      const { server, url } = await start();
      server.on('connection', (ws) => {
        ws.send('one');
        ws.send('two');
        ws.close(1000, 'done');
      });
      const ws = await dial(url);
      const got: (string | Uint8Array)[] = [];
      for await (const message of ws) got.push(message);
      expect(got).toEqual(['one', 'two']);
      expect(ws.closeCode).toBe(1000);
    });

    it('reassembles fragmented frames sent in chopped TCP writes', async () => {
      const { server, port } = await start();
      const received = new Promise<string>((resolve) => {
        server.on('connection', (ws) => ws.on('message', (data) => resolve(data as string)));
      });
      const client = await rawOpen(port);
      const wire = new Uint8Array([
        ...encodeFrameBytes(enc.encode('frag'), { opcode: Opcode.TEXT, fin: false, mask: MASK }),
        ...encodeFrameBytes(enc.encode('p'), { opcode: Opcode.PING, mask: MASK }),
        ...encodeFrameBytes(enc.encode('mented ✓'), { opcode: Opcode.CONTINUATION, fin: false, mask: MASK }),
        ...encodeFrameBytes(new Uint8Array(0), { opcode: Opcode.CONTINUATION, fin: true, mask: MASK }),
      ]);
      await client.writeChopped(wire, 3);
      expect(await withTimeout(received, 5000, 'fragmented message')).toBe('fragmented ✓');
      // The interleaved ping was answered with a pong carrying its payload.
      await client.waitFor(
        (bytes) => framesAfterHead(client).some((f) => f.opcode === Opcode.PONG) || bytes.length === 0,
      );
      const pong = framesAfterHead(client).find((f) => f.opcode === Opcode.PONG);
      expect(pong && new TextDecoder().decode(pong.payload)).toBe('p');
    });

    it('a burst of replies per message (every length class) arrives intact and in order on each connection', async () => {
      // Adapters coalesce and hold writes (per tick, per read, in pooled buffers): nothing may be reordered or reused early.
      const { server, url } = await start();
      const sizes = [0, 1, 125, 126, 1000, 16 * 1024, 65_535, 65_536, 100_000, 3];
      server.on('connection', (ws) => {
        ws.on('message', (data) => {
          const seed = (data as Uint8Array)[0] as number;
          for (let i = 0; i < sizes.length; i++) {
            ws.send(new Uint8Array(sizes[i] as number).fill((seed + i) & 0xff));
            if (i === 4) ws.send(`text ${seed}`);
          }
        });
      });
      const rounds = 20;
      const expected = rounds * (sizes.length + 1);
      const sockets = await Promise.all([0, 1, 2].map(() => dial(url)));
      const received = sockets.map(
        (ws) =>
          new Promise<(string | Uint8Array)[]>((resolve) => {
            const got: (string | Uint8Array)[] = [];
            ws.on('message', (data) => {
              got.push(data as string | Uint8Array);
              if (got.length === expected) resolve(got);
            });
          }),
      );
      for (const ws of sockets) for (let r = 0; r < rounds; r++) ws.send(new Uint8Array([r]));
      for (const messages of await withTimeout(Promise.all(received), 20_000, 'bursts')) {
        let k = 0;
        for (let r = 0; r < rounds; r++) {
          for (let i = 0; i < sizes.length; i++) {
            const message = messages[k++] as Uint8Array;
            expect(message.length).toBe(sizes[i] as number);
            expect(message.every((b) => b === ((r + i) & 0xff))).toBe(true);
            if (i === 4) expect(messages[k++]).toBe(`text ${r}`);
          }
        }
      }
    }, 30_000);
  });

  describe(`${adapter.name} adapter: ping, pong and closing`, () => {
    it('pings with payloads both ways and sees the pongs', async () => {
      const { server, url } = await start();
      const serverSide = new Promise<WebSocketConnection<unknown>>((resolve) =>
        server.on('connection', resolve),
      );
      const ws = await dial(url);
      const peer = await serverSide;
      const clientPong = new Promise<Uint8Array>((resolve) => ws.once('pong', resolve));
      const serverPing = new Promise<Uint8Array>((resolve) => peer.once('ping', resolve));
      expect(ws.ping('from client')).toBe(true);
      expect(new TextDecoder().decode(await serverPing)).toBe('from client');
      expect(new TextDecoder().decode(await clientPong)).toBe('from client');
      const serverPong = new Promise<Uint8Array>((resolve) => peer.once('pong', resolve));
      peer.ping(new Uint8Array([1, 2, 3]));
      expect(Array.from(await serverPong)).toEqual([1, 2, 3]);
      expect(() => ws.ping(new Uint8Array(126))).toThrow(RangeError);
    });

    it('client closes with a code and reason: both sides see them, cleanly', async () => {
      const { server, url } = await start();
      const serverClose = new Promise<[number, string, boolean]>((resolve) =>
        server.on('connection', (ws) =>
          ws.on('close', (code, reason, clean) => resolve([code, reason, clean])),
        ),
      );
      const ws = await dial(url);
      ws.close(4001, 'client says bye');
      expect(ws.readyState).toBe(2);
      expect(await withTimeout(serverClose, 5000, 'server close')).toEqual([4001, 'client says bye', true]);
      const closed = await withTimeout(ws.closed(), 5000, 'client close');
      expect(closed).toEqual({ code: 4001, reason: 'client says bye', wasClean: true });
      expect(ws.readyState).toBe(3);
    });

    it('server closes with a code and reason: both sides see them, cleanly', async () => {
      const { server, url } = await start();
      let serverClose: Promise<{ code: number; reason: string; wasClean: boolean }> | undefined;
      server.on('connection', (ws) => {
        serverClose = ws.closed();
        ws.close(4002, 'server says bye');
      });
      const ws = await dial(url);
      expect(await withTimeout(ws.closed(), 5000, 'client close')).toEqual({
        code: 4002,
        reason: 'server says bye',
        wasClean: true,
      });
      expect(await serverClose).toEqual({ code: 4002, reason: 'server says bye', wasClean: true });
      expect(server.clients.size).toBe(0);
    });

    it('a close without a code reports 1005', async () => {
      const { server, url } = await start();
      server.on('connection', (ws) => ws.close());
      const ws = await dial(url);
      expect((await ws.closed()).code).toBe(1005);
    });

    it('terminate() drops the connection: the peer sees 1006', async () => {
      const { server, url } = await start();
      server.on('connection', (ws) => ws.terminate());
      const ws = await dial(url);
      expect(await withTimeout(ws.closed(), 5000, 'close')).toEqual({
        code: 1006,
        reason: '',
        wasClean: false,
      });
    });

    it('sends after close report "dropped" instead of throwing', async () => {
      const { url } = await startEcho();
      const ws = await dial(url);
      ws.close(1000);
      expect(ws.send('late')).toBe('dropped');
      expect(ws.ping()).toBe(false);
      await ws.closed();
      expect(ws.send(new Uint8Array(3))).toBe('dropped');
      await expect(ws.sendAsync('late')).rejects.toThrow(/not sent/);
      expect(() => ws.close(1000)).not.toThrow();
    });

    it('rejects close codes and reasons an application may not send', async () => {
      const { url } = await startEcho();
      const ws = await dial(url);
      expect(() => ws.close(1006)).toThrow(RangeError);
      expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(RangeError);
      expect(() => ws.close(1000, new Float32Array(20) as unknown as string)).toThrow(TypeError);
      expect(ws.readyState).toBe(1);
    });

    it('a peer that never answers our close is dropped after closeTimeout (1006)', async () => {
      const { server, port } = await start({ closeTimeout: 300 });
      const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) =>
        server.on('connection', (ws) => {
          void ws.closed().then(resolve);
          ws.close(1000, 'bye');
        }),
      );
      const client = await rawOpen(port);
      const result = await withTimeout(closed, 3000, 'close timeout');
      expect(result.code).toBe(1006);
      expect(result.wasClean).toBe(false);
      await client.readToEnd(3000);
      expect(closeCodeOf(framesAfterHead(client))).toBe(1000);
    });

    it('graceful shutdown closes every connection with 1001 and resolves', async () => {
      const { server, url } = await start();
      const a = await dial(url);
      const b = await dial(url);
      expect(server.clients.size).toBe(2);
      await withTimeout(server.close(), 5000, 'server close');
      expect((await a.closed()).code).toBe(1001);
      expect((await b.closed()).code).toBe(1001);
      expect(server.clients.size).toBe(0);
      await expect(adapter.connect(url, { handshakeTimeout: 1000 })).rejects.toThrow();
    });
  });

  describe(`${adapter.name} adapter: handshake`, () => {
    it('selects the subprotocol by server preference', async () => {
      const { url } = await start({ protocols: ['v2.chat', 'v1.chat'] });
      const ws = await dial(url, { protocols: ['v1.chat', 'v2.chat'] });
      expect(ws.protocol).toBe('v2.chat');
      const none = await dial(url, { protocols: ['other'] });
      expect(none.protocol).toBe('');
    });

    it('lets the upgrade hook inspect the request, pick a protocol, set headers and attach data', async () => {
      let seen: UpgradeRequest | undefined;
      const { server, url } = await start<{ user: string }>({
        upgrade: (request) => {
          seen = request;
          return {
            protocol: 'b',
            data: { user: request.cookies.get('user') ?? '?' },
            headers: { 'X-Hello': 'yes' },
          };
        },
      });
      const connected = new Promise<WebSocketConnection<{ user: string }>>((resolve) =>
        server.on('connection', resolve),
      );
      const ws = await dial(`${url}/room/42?token=abc`, {
        protocols: ['a', 'b'],
        headers: { Cookie: 'user=ada; theme=dark', 'X-Custom': '1' },
        origin: 'http://example.test',
      });
      expect(ws.protocol).toBe('b');
      const peer = await connected;
      expect(peer.data).toEqual({ user: 'ada' });
      expect(peer.protocol).toBe('b');
      expect(seen?.path).toBe('/room/42');
      expect(seen?.query.get('token')).toBe('abc');
      expect(seen?.origin).toBe('http://example.test');
      expect(seen?.headers.get('x-custom')).toBe('1');
      expect(seen?.protocols).toEqual(['a', 'b']);
      expect(seen?.remoteAddress).toMatch(/127\.0\.0\.1/);
      expect(peer.remoteAddress).toMatch(/127\.0\.0\.1/);
      // Not kept on the connection unless asked (it costs ~2 KiB per connection).
      expect(peer.request).toBeUndefined();
      expect(ws.request).toBeUndefined();
    });

    it('retainRequest keeps the upgrade request on the connection; the connection event always gets it', async () => {
      const { server, url } = await startEcho({ retainRequest: true });
      const connected = new Promise<[WebSocketConnection<unknown>, UpgradeRequest]>((resolve) =>
        server.on('connection', (ws, request) => resolve([ws, request])),
      );
      await dial(`${url}/room/7?x=1`, { headers: { 'X-Custom': '2' } });
      const [peer, request] = await connected;
      expect(request.path).toBe('/room/7');
      expect(peer.request).toBe(request);
      expect(peer.request?.headers.get('x-custom')).toBe('2');
      expect(peer.request?.query.get('x')).toBe('1');
      const plain = await startEcho();
      const plainConnected = new Promise<[WebSocketConnection<unknown>, UpgradeRequest]>((resolve) =>
        plain.server.on('connection', (ws, req) => resolve([ws, req])),
      );
      await dial(`${plain.url}/p`);
      const [plainPeer, plainRequest] = await plainConnected;
      expect(plainRequest.path).toBe('/p');
      expect(plainPeer.request).toBeUndefined();
      expect(plainPeer.url).toBe('/p');
    });

    it('rejects from the upgrade hook with any status and body', async () => {
      const { port, url } = await start({
        upgrade: async (request) =>
          request.origin === 'http://evil.test' ? { status: 403, body: 'go away' } : undefined,
      });
      const error = await adapter.connect(url, { origin: 'http://evil.test' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'WebSocketHandshakeError', status: 403 });
      const client = await raw(port);
      await client.write(upgradeRequest('/', { Origin: 'http://evil.test' }));
      const response = new TextDecoder().decode(await client.readToEnd());
      expect(response).toMatch(/^HTTP\/1\.1 403 /);
      expect(response.endsWith('go away')).toBe(true);
      const ok = await dial(url, { origin: 'http://good.test' });
      expect(ok.readyState).toBe(1);
    });

    it('allowedOrigins refuses other origins with 403 before the upgrade hook runs', async () => {
      let hookCalls = 0;
      const { url } = await start({
        allowedOrigins: originAllowlist(['http://good.test', 'https://*.good.test']),
        upgrade: () => {
          hookCalls++;
        },
      });
      for (const origin of ['http://evil.test', 'http://good.test.evil.test', 'null']) {
        const error = await adapter.connect(url, { origin }).catch((e: unknown) => e);
        expect(error).toMatchObject({ name: 'WebSocketHandshakeError', status: 403 });
      }
      expect(hookCalls).toBe(0);
      expect((await dial(url, { origin: 'http://good.test' })).readyState).toBe(1);
      expect((await dial(url, { origin: 'https://app.good.test' })).readyState).toBe(1);
      // Not a browser: no Origin at all is allowed by default.
      expect((await dial(url)).readyState).toBe(1);
      expect(hookCalls).toBe(3);
    });

    it('a throwing upgrade hook answers 500 and reports the error, without crashing', async () => {
      const { server, url } = await start({
        upgrade: () => {
          throw new Error('hook bug');
        },
      });
      const reported = new Promise<Error>((resolve) => server.on('error', resolve));
      const error = await adapter.connect(url).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 500 });
      expect((await reported).message).toBe('hook bug');
    });

    it('routes by path: other paths get 404', async () => {
      const { url } = await start({ path: '/ws' });
      expect((await dial(`${url}/ws?x=1`)).readyState).toBe(1);
      const error = await adapter.connect(`${url}/other`).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 404 });
    });

    it('refuses beyond maxConnections with 503', async () => {
      const { url } = await start({ maxConnections: 1 });
      await dial(url);
      expect(await adapter.connect(url).catch((e: unknown) => e)).toMatchObject({ status: 503 });
    });

    it('answers malformed handshakes with the right status, and keeps serving', async () => {
      const { port, url } = await startEcho({ maxHeaderCount: 50, maxHeadSize: 8192 });
      for (const [, request, expected] of BAD_HANDSHAKES) {
        const client = await raw(port);
        await client.write(request);
        const response = new TextDecoder().decode(await client.readToEnd());
        expect(response).toMatch(expected);
      }
      const ws = await dial(url);
      ws.send('still alive');
      expect((await nextMessage(ws)).data).toBe('still alive');
    });

    it('httpHandler answers plain HTTP requests on the same port; upgrades still work', async () => {
      const seen: string[] = [];
      const { server, port, url } = await startEcho({
        path: '/ws',
        httpHandler: async (request) => {
          seen.push(
            `${request.method} ${request.path} ${request.query.get('q')} ${request.headers.get('x-a')}`,
          );
          if (request.path === '/boom') throw new Error('handler bug');
          return request.path === '/'
            ? { status: 200, headers: { 'Content-Type': 'text/html' }, body: '<h1>héllo</h1>' }
            : { status: 404, body: 'nope\n' };
        },
      });
      const get = async (head: string): Promise<string> => {
        const client = await raw(port);
        await client.write(head);
        return new TextDecoder().decode(await client.readToEnd(4000));
      };
      const page = await get('GET /?q=1 HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n');
      expect(page).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(page).toMatch(/\r\nContent-Type: text\/html\r\n/);
      expect(page).toMatch(/\r\nContent-Length: 15\r\n/);
      expect(page).toMatch(/\r\nConnection: close\r\n/);
      expect(page.endsWith('\r\n\r\n<h1>héllo</h1>')).toBe(true);
      const head = await get('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(head).toMatch(/\r\nContent-Length: 15\r\n/);
      expect(head.endsWith('\r\n\r\n')).toBe(true);
      expect(await get('GET /missing HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 404 [\s\S]*nope\n$/);
      const reported = new Promise<Error>((resolve) => server.on('error', resolve));
      expect(await get('GET /boom HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 500 /);
      expect((await reported).message).toBe('handler bug');
      expect(seen).toEqual([
        'GET / 1 b',
        'HEAD / null undefined',
        'GET /missing null undefined',
        'GET /boom null undefined',
      ]);
      // A request with an Upgrade header is a handshake, never the handler's.
      const ws = await dial(`${url}/ws`);
      ws.send('still a WebSocket server');
      expect((await nextMessage(ws)).data).toBe('still a WebSocket server');
      expect(await get('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n')).toMatch(
        /^HTTP\/1\.1 400 /,
      );
      expect(seen).toHaveLength(4);
    });

    it('without httpHandler a plain HTTP request gets 400; a slow handler gets 408', async () => {
      const { port } = await start();
      const client = await raw(port);
      await client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(new TextDecoder().decode(await client.readToEnd(4000))).toMatch(
        /^HTTP\/1\.1 400 [\s\S]*Missing Upgrade: websocket\n$/,
      );
      const slow = await start({
        handshakeTimeout: 300,
        httpHandler: () => new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 1500)),
      });
      const late = await raw(slow.port);
      await late.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(new TextDecoder().decode(await late.readToEnd(4000))).toMatch(/^HTTP\/1\.1 408 /);
    });

    it('a handshake sent one byte at a time completes', async () => {
      const { port } = await startEcho();
      const client = await raw(port);
      await client.writeChopped(enc.encode(upgradeRequest('/')), 1);
      await client.waitFor((bytes) => headEnd(bytes) !== -1);
      expect(client.text()).toMatch(
        /^HTTP\/1\.1 101 [\s\S]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/,
      );
    });

    it('answers a TLS ClientHello on the plain port with 400 at once, not at the handshake timeout', async () => {
      const { port } = await start({ handshakeTimeout: 10_000 });
      const client = await raw(port);
      const started = Date.now();
      await client.write(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03));
      const response = new TextDecoder().decode(await client.readToEnd(4000));
      expect(response).toMatch(/^HTTP\/1\.1 400 [\s\S]*Invalid request method/);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('drops a client that sends no handshake within handshakeTimeout (408)', async () => {
      const { port } = await start({ handshakeTimeout: 300 });
      const client = await raw(port);
      await client.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const response = new TextDecoder().decode(await client.readToEnd(4000));
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
    });

    it('frames that arrive together with the handshake are not lost', async () => {
      const { server, port } = await start();
      const received = new Promise<string>((resolve) =>
        server.on('connection', (ws) => ws.on('message', (data) => resolve(data as string))),
      );
      const client = await raw(port);
      const frame = encodeFrameBytes(enc.encode('eager'), { opcode: Opcode.TEXT, mask: MASK });
      await client.write(new Uint8Array([...enc.encode(upgradeRequest('/')), ...frame]));
      expect(await withTimeout(received, 5000, 'eager frame')).toBe('eager');
    });

    it('client: handshake timeout against a server that never answers', async () => {
      const silent = createNetServer((socket) => {
        // Read (and ignore) everything, so the socket sees our FIN and closes.
        socket.resume();
        socket.on('error', () => {});
      });
      netServers.push(silent);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      const started = Date.now();
      const error = await adapter
        .connect(`ws://127.0.0.1:${port}`, { handshakeTimeout: 300 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'WS_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('client: a wrong Sec-WebSocket-Accept is refused', async () => {
      const liar = createNetServer((socket) => {
        socket.once('data', () =>
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
          ),
        );
        socket.on('error', () => {});
      });
      netServers.push(liar);
      await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
      const port = (liar.address() as { port: number }).port;
      expect(await adapter.connect(`ws://127.0.0.1:${port}`).catch((e: unknown) => e)).toMatchObject({
        code: 'WS_INVALID_ACCEPT',
        status: 101,
      });
    });

    it('client: redirects are off by default, followed when allowed, and drop credentials across origins', async () => {
      let seenAuth: string | undefined = 'unset';
      const { port } = await start({
        upgrade: (request) => {
          seenAuth = request.headers.get('authorization');
        },
      });
      const redirector = createNetServer((socket) => {
        socket.once('data', () =>
          socket.end(
            `HTTP/1.1 302 Found\r\nLocation: ws://localhost:${port}/target\r\nContent-Length: 0\r\n\r\n`,
          ),
        );
        socket.on('error', () => {});
      });
      netServers.push(redirector);
      await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
      const from = `ws://127.0.0.1:${(redirector.address() as { port: number }).port}/start`;
      expect(await adapter.connect(from).catch((e: unknown) => e)).toMatchObject({ status: 302 });
      const ws = await dial(from, { maxRedirects: 1, headers: { Authorization: 'Bearer secret' } });
      expect(ws.readyState).toBe(1);
      expect(ws.url).toBe(`ws://localhost:${port}/target`);
      expect(seenAuth).toBeUndefined();
    });
  });

  describe(`${adapter.name} adapter: malformed frames`, () => {
    for (const [what, bytes, code] of BAD_FRAMES) {
      it(`${what} closes the connection with ${code} and the server keeps serving`, async () => {
        const { server, port, url } = await startEcho({ maxMessageSize: 1024 * 1024 });
        const serverError = new Promise<Error>((resolve) =>
          server.on('connection', (ws) => ws.on('error', resolve)),
        );
        const serverClose = new Promise<number>((resolve) =>
          server.on('connection', (ws) => ws.on('close', (closeCode) => resolve(closeCode))),
        );
        const client = await rawOpen(port);
        await client.write(bytes);
        await client.readToEnd(5000);
        expect(closeCodeOf(framesAfterHead(client))).toBe(code);
        expect(await withTimeout(serverClose, 5000, 'server close event')).toBe(code);
        expect((await serverError).name).toBe('WebSocketProtocolError');
        const ws = await dial(url);
        ws.send('ok');
        expect((await nextMessage(ws)).data).toBe('ok');
      });
    }

    it('random garbage after the handshake never crashes the server', async () => {
      const { port, url } = await startEcho();
      for (let round = 0; round < 20; round++) {
        const client = await rawOpen(port);
        const garbage = new Uint8Array(64 + round * 13);
        for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + round * 104729) & 0xff;
        await client.write(garbage);
        client.destroy();
      }
      const ws = await dial(url);
      ws.send('alive');
      expect((await nextMessage(ws)).data).toBe('alive');
    });
  });

  describe(`${adapter.name} adapter: topics`, () => {
    it('publishes to subscribers only, excluding the sender, framing once; cleans up on close', async () => {
      const { server, url } = await start();
      server.on('connection', (ws) => {
        ws.subscribe('room');
        ws.subscribe('room'); // twice is harmless (uWS#962)
        ws.on('message', (data) => {
          if (data === 'leave') ws.unsubscribe('room');
          else ws.publish('room', data);
        });
      });
      const a = await dial(url);
      const b = await dial(url);
      const c = await dial(url);
      await withTimeout(
        (async () => {
          while (server.subscriberCount('room') < 3) await sleep(5);
        })(),
        5000,
        'subscriptions',
      );
      const gotA: (string | Uint8Array)[] = [];
      a.on('message', (data) => gotA.push(data));
      const bMessage = nextMessage(b);
      const cMessage = nextMessage(c);
      a.send('hello room');
      expect((await bMessage).data).toBe('hello room');
      expect((await cMessage).data).toBe('hello room');
      expect(server.publish('room', pattern(1000))).toBe(3);
      const bBinary = await nextMessage(b);
      expect(sameBytes(bBinary.data as Uint8Array, pattern(1000))).toBe(true);
      c.close();
      await c.closed();
      await withTimeout(
        (async () => {
          while (server.subscriberCount('room') !== 2) await sleep(5);
        })(),
        5000,
        'unsubscribe on close',
      );
      expect(gotA).toHaveLength(1);
      expect(server.publish('nobody', 'x')).toBe(0);
    });
  });

  describe(`${adapter.name} adapter: backpressure`, () => {
    it('send reports "buffered" when the reader is slow, drain follows, memory stays bounded', async () => {
      let peer: WebSocketConnection<unknown> | undefined;
      const { server, port } = await start({
        highWaterMark: 64 * 1024,
        maxBufferedAmount: 8 * 1024 * 1024,
        backpressurePolicy: 'drop',
      });
      server.on('connection', (ws) => {
        peer = ws;
      });
      const client = await rawOpen(port);
      client.pause();
      await withTimeout(
        (async () => {
          while (!peer) await sleep(5);
        })(),
        5000,
        'connection',
      );
      const ws = peer as WebSocketConnection<unknown>;
      const chunk = new Uint8Array(64 * 1024);
      const results = new Map<string, number>();
      for (let i = 0; i < 400; i++) {
        const result = ws.send(chunk);
        results.set(result, (results.get(result) ?? 0) + 1);
      }
      expect(results.get('buffered') ?? 0).toBeGreaterThan(0);
      expect(results.get('dropped') ?? 0).toBeGreaterThan(0);
      expect(ws.bufferedAmount).toBeLessThanOrEqual(8 * 1024 * 1024 + 64 * 1024);
      const drained = new Promise<void>((resolve) => ws.once('drain', resolve));
      client.resume();
      await withTimeout(drained, 10_000, 'drain');
      expect(ws.bufferedAmount).toBeLessThanOrEqual(64 * 1024);
      expect(ws.send('after drain')).toBe('sent');
    });

    it('with the close policy, a reader that never reads is failed with 1008', async () => {
      let peer: WebSocketConnection<unknown> | undefined;
      const { server, port } = await start({ maxBufferedAmount: 1024 * 1024 });
      server.on('connection', (ws) => {
        peer = ws;
      });
      const client = await rawOpen(port);
      client.pause();
      await withTimeout(
        (async () => {
          while (!peer) await sleep(5);
        })(),
        5000,
        'connection',
      );
      const ws = peer as WebSocketConnection<unknown>;
      const errors: Error[] = [];
      ws.on('error', (e) => errors.push(e));
      let last = 'sent';
      for (let i = 0; i < 200 && last !== 'dropped'; i++) last = ws.send(new Uint8Array(64 * 1024));
      expect(last).toBe('dropped');
      expect(errors.map((e) => (e as { code?: string }).code)).toContain('WS_BACKPRESSURE_LIMIT');
      expect(ws.readyState).toBeGreaterThanOrEqual(2);
      ws.terminate();
    });

    it('a high-water mark below any transport threshold: every "buffered" send is followed by "drain"', async () => {
      const { url } = await startEcho();
      for (const highWaterMark of [0, 1, 100]) {
        const ws = await dial(url, { highWaterMark });
        let drains = 0;
        ws.on('drain', () => {
          drains++;
        });
        let echoes = 0;
        ws.on('message', () => {
          echoes++;
        });
        let buffered = 0;
        for (let round = 0; round < 20; round++) {
          if (ws.send(new Uint8Array(50 + round)) === 'buffered') {
            buffered++;
            const before = drains;
            await withTimeout(
              (async () => {
                while (drains === before) await sleep(1);
              })(),
              5000,
              `drain after a buffered send (highWaterMark ${highWaterMark})`,
            );
          }
        }
        expect(buffered).toBeGreaterThan(0);
        await withTimeout(
          (async () => {
            while (echoes < 20) await sleep(2);
          })(),
          10_000,
          'echoes',
        );
        ws.close();
      }
    });

    it('sendAsync waits for the buffer to drain', async () => {
      const { url } = await startEcho();
      const ws = await dial(url, { highWaterMark: 16 * 1024 });
      let echoed = 0;
      ws.on('message', () => {
        echoed++;
      });
      for (let i = 0; i < 50; i++) await ws.sendAsync(new Uint8Array(256 * 1024));
      expect(ws.bufferedAmount).toBeLessThanOrEqual(16 * 1024);
      await withTimeout(
        (async () => {
          while (echoed < 50) await sleep(10);
        })(),
        20_000,
        'echoes',
      );
      expect(echoed).toBe(50);
    }, 30_000);
  });

  describe(`${adapter.name} adapter: heartbeat and idle timeout`, () => {
    it('heartbeat terminates a peer that stops answering, and keeps a live one', async () => {
      const { server, port, url } = await start({ heartbeat: { interval: 150, timeout: 150 } });
      const closes: number[] = [];
      server.on('connection', (ws) => ws.on('close', (code) => closes.push(code)));
      const live = await dial(url);
      const silent = await rawOpen(port); // never answers pings
      await silent.readToEnd(5000);
      const pings = framesAfterHead(silent).filter((f) => f.opcode === Opcode.PING);
      expect(pings.length).toBeGreaterThanOrEqual(1);
      await withTimeout(
        (async () => {
          while (!closes.includes(1006)) await sleep(5);
        })(),
        3000,
        'server close event',
      );
      await sleep(400);
      expect(live.readyState).toBe(1);
      expect(server.clients.size).toBe(1);
    });

    it('idleTimeout closes a connection with no messages with 1001', async () => {
      const { url } = await start({ idleTimeout: 200 });
      const ws = await dial(url);
      const closed = await withTimeout(ws.closed(), 5000, 'idle close');
      expect(closed.code).toBe(1001);
    });
  });

  describe(`${adapter.name} adapter: TLS`, () => {
    it('wss: echo with a trusted self-signed certificate, both directions', async () => {
      const cert = selfSignedCertificate();
      const { url } = await startEcho({ tls: cert });
      const ws = await dial(url, { tls: { ca: cert.cert } });
      expect(ws.secure).toBe(true);
      ws.send('secure hello');
      expect((await nextMessage(ws)).data).toBe('secure hello');
      const big = pattern(1024 * 1024, 7);
      ws.send(big);
      expect(sameBytes((await nextMessage(ws)).data as Uint8Array, big)).toBe(true);
      ws.close(4003, 'tls bye');
      expect((await ws.closed()).code).toBe(4003);
    });

    it('wss: an untrusted certificate is refused unless rejectUnauthorized is false', async () => {
      const cert = selfSignedCertificate();
      const { url } = await startEcho({ tls: cert });
      const error = await adapter.connect(url, { handshakeTimeout: 3000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'WebSocketHandshakeError' });
      const ws = await dial(url, { tls: { rejectUnauthorized: false } });
      expect(ws.readyState).toBe(1);
    });
  });
}
