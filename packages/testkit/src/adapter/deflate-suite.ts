/**
 * permessage-deflate (RFC 7692) conformance for an adapter: negotiation, round trips
 * with every parameter combination, ordering, and the decompression-bomb limit.
 */
import { deflateRawSync } from 'node:zlib';
import {
  encodeFrameBytes,
  Opcode,
  type PerMessageDeflateOptions,
  type WebSocketConnection,
} from '@fullduplex/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { headEnd, RawClient, upgradeRequest } from './raw-client.ts';
import type { AdapterModule, ListeningServer } from './suite.ts';

const MASK = new Uint8Array([9, 8, 7, 6]);

function pattern(size: number, seed = 0): Uint8Array {
  // Compressible but not trivial: repeating phrases with a varying byte.
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i % 61 === 0 ? i * 7 + seed : 97 + ((i >> 3) % 26)) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deflates like a permessage-deflate sender: raw deflate, sync flush, tail removed. */
function deflateMessage(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

function collect(
  ws: WebSocketConnection<unknown>,
  count: number,
  timeoutMs = 20_000,
): Promise<(string | Uint8Array)[]> {
  return new Promise((resolve, reject) => {
    const got: (string | Uint8Array)[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length}/${count} messages`)), timeoutMs);
    ws.on('message', (data) => {
      got.push(data);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/** Registers the permessage-deflate suite for `adapter`. */
export function defineDeflateSuite(adapter: AdapterModule): void {
  const servers: ListeningServer<unknown>[] = [];
  const clients: WebSocketConnection<unknown>[] = [];
  const raws: RawClient[] = [];

  afterEach(async () => {
    for (const r of raws.splice(0)) r.destroy();
    for (const ws of clients.splice(0)) ws.terminate();
    await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
  });

  async function echoServer(
    perMessageDeflate: boolean | PerMessageDeflateOptions,
    maxMessageSize = 32 * 1024 * 1024,
  ) {
    // Every message is sent at once, so the send buffers must hold them all.
    const server = new adapter.WebSocketServer({
      perMessageDeflate,
      maxMessageSize,
      maxBufferedAmount: 256 * 1024 * 1024,
    });
    server.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
    const { port } = await server.listen(0, '127.0.0.1');
    servers.push(server);
    return { server, port, url: `ws://127.0.0.1:${port}` };
  }

  async function dial(url: string, perMessageDeflate?: boolean | PerMessageDeflateOptions) {
    const ws = await adapter.connect(url, {
      perMessageDeflate,
      maxMessageSize: 32 * 1024 * 1024,
      maxBufferedAmount: 256 * 1024 * 1024,
    });
    clients.push(ws);
    return ws;
  }

  describe(`${adapter.name} adapter: permessage-deflate`, () => {
    it('is negotiated when the server enables it and the client offers it (the client default)', async () => {
      const { server, url } = await echoServer(true);
      const accepted = new Promise<WebSocketConnection<unknown>>((resolve) =>
        server.on('connection', resolve),
      );
      const ws = await dial(url);
      expect(ws.extensions).toBe('permessage-deflate');
      expect((await accepted).extensions).toBe('permessage-deflate');
    });

    it('is off on servers unless enabled, and off on clients that say so', async () => {
      const off = await echoServer(false);
      expect((await dial(off.url)).extensions).toBe('');
      const on = await echoServer(true);
      expect((await dial(on.url, false)).extensions).toBe('');
    });

    const combos: [string, PerMessageDeflateOptions, PerMessageDeflateOptions | boolean][] = [
      ['context takeover both ways', {}, true],
      [
        'no context takeover both ways',
        { serverNoContextTakeover: true, clientNoContextTakeover: true },
        true,
      ],
      ['client asks for server_no_context_takeover', {}, { serverNoContextTakeover: true }],
      ['small windows', { serverMaxWindowBits: 9, clientMaxWindowBits: 10 }, { serverMaxWindowBits: 10 }],
      ['client window 8 (sent uncompressed)', { clientMaxWindowBits: 8 }, true],
      ['threshold 0, level 9, memLevel 4', { threshold: 0, level: 9, memLevel: 4 }, { threshold: 0 }],
    ];
    for (const [name, serverOptions, clientOptions] of combos) {
      it(`round-trips text and binary, 0 B to 16 MiB: ${name}`, async () => {
        const { url } = await echoServer(serverOptions);
        const ws = await dial(url, clientOptions);
        expect(ws.extensions.startsWith('permessage-deflate')).toBe(true);
        const sizes = [0, 1, 100, 1023, 1024, 4096, 65_536, 1024 * 1024, 16 * 1024 * 1024];
        const sent: (string | Uint8Array)[] = [];
        for (const size of sizes) {
          sent.push(pattern(size, size & 0xff));
          sent.push(new TextDecoder().decode(pattern(Math.min(size, 300_000), 1)).replace(/[^a-z]/g, 'é'));
        }
        const received = collect(ws, sent.length, 60_000);
        for (const message of sent) ws.send(message);
        const got = await received;
        for (let i = 0; i < sent.length; i++) {
          const want = sent[i] as string | Uint8Array;
          const have = got[i] as string | Uint8Array;
          if (typeof want === 'string') expect(have).toBe(want);
          else expect(have instanceof Uint8Array && sameBytes(have, want)).toBe(true);
        }
      }, 90_000);
    }

    it('keeps the order of compressed and uncompressed sends, and closes after them', async () => {
      const { server, url } = await echoServer({ threshold: 512 });
      const serverSide = new Promise<WebSocketConnection<unknown>>((resolve) =>
        server.on('connection', resolve),
      );
      const ws = await dial(url, { threshold: 512 });
      const peer = await serverSide;
      const got: string[] = [];
      peer.on('message', (data) =>
        got.push(typeof data === 'string' ? data.slice(0, 8) : `bin${data.length}`),
      );
      const expected: string[] = [];
      for (let i = 0; i < 60; i++) {
        const big = i % 3 === 0;
        const text = `${String(i).padStart(7, '0')}:${big ? 'x'.repeat(200_000) : 'y'}`;
        ws.send(text);
        expected.push(text.slice(0, 8));
      }
      ws.close(4000, 'after all');
      const closed = await peer.closed();
      expect(closed.code).toBe(4000);
      expect(got).toEqual(expected);
    }, 60_000);

    it('a decompression bomb (16 MiB of zeros in a few KiB) closes with 1009 within the cap', async () => {
      const { server, port } = await echoServer(true, 1024 * 1024);
      const serverClose = new Promise<number>((resolve) =>
        server.on('connection', (ws) => ws.on('close', resolve)),
      );
      const client = await RawClient.connect(port);
      raws.push(client);
      await client.write(upgradeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
      await client.waitFor((bytes) => headEnd(bytes) !== -1);
      expect(client.text()).toContain('Sec-WebSocket-Extensions: permessage-deflate');
      const bomb = deflateMessage(new Uint8Array(16 * 1024 * 1024));
      expect(bomb.length).toBeLessThan(32 * 1024);
      const rssBefore = process.memoryUsage().rss;
      await client.write(encodeFrameBytes(bomb, { opcode: Opcode.BINARY, rsv1: true, mask: MASK }));
      expect(await serverClose).toBe(1009);
      const grown = process.memoryUsage().rss - rssBefore;
      expect(grown).toBeLessThan(8 * 1024 * 1024);
    });

    it('corrupt compressed data closes with 1007; invalid UTF-8 inside compressed text too', async () => {
      for (const [payload, opcode] of [
        [new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]), Opcode.BINARY],
        [deflateMessage(new Uint8Array([0x68, 0xc3, 0x28, 0x69])), Opcode.TEXT],
      ] as const) {
        const { server, port } = await echoServer(true);
        const serverClose = new Promise<number>((resolve) =>
          server.on('connection', (ws) => ws.on('close', resolve)),
        );
        const client = await RawClient.connect(port);
        raws.push(client);
        await client.write(upgradeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
        await client.waitFor((bytes) => headEnd(bytes) !== -1);
        await client.write(encodeFrameBytes(payload, { opcode, rsv1: true, mask: MASK }));
        expect(await serverClose).toBe(1007);
      }
    });

    it('inflates a message compressed by another implementation (RFC 7692 §7.2.3.1 "Hello")', async () => {
      const { server, port } = await echoServer(true);
      const received = new Promise<string>((resolve) =>
        server.on('connection', (ws) => ws.on('message', (data) => resolve(data as string))),
      );
      const client = await RawClient.connect(port);
      raws.push(client);
      await client.write(upgradeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
      await client.waitFor((bytes) => headEnd(bytes) !== -1);
      const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
      await client.write(encodeFrameBytes(hello, { opcode: Opcode.TEXT, rsv1: true, mask: MASK }));
      expect(await received).toBe('Hello');
    });
  });
}
