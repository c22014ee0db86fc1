// The transport contract (testkit), then Bun-specific behaviour of the adapter: partial
// writes, received-buffer ownership, pause/resume, end/destroy, TLS details. The shared
// WebSocket suite is adapter.test.ts.
import { afterEach, describe, expect, it } from 'bun:test';
import { createServer as createNetServer, connect as netConnect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { checkStream, streamBytes } from '@fullduplex/testkit/adapter/byte-stream';
import { selfSignedCertificate } from '@fullduplex/testkit/adapter/certs';
import { defineTransportSuite } from '@fullduplex/testkit/adapter/transport';
import { recordTransport, until } from '@fullduplex/testkit/adapter/transport-tools';
import type { Socket } from 'bun';
import {
  type BunSocket,
  BunSocketTransport,
  bunDialer,
  connect,
  socketHandlers,
  WebSocketServer,
} from './index.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The other end: a plain Bun socket (its pause() really stops reading, unlike node:net's under Bun). */
interface Peer {
  readonly socket: Socket<undefined>;
  readonly received: Uint8Array[];
  readonly receivedBytes: number;
  readonly ended: boolean;
  readonly closed: boolean;
  readonly closeError: Error | undefined;
}

/** A Bun listener whose accepted socket becomes a transport, and a Bun client dialling it. */
async function transportPair(): Promise<{ transport: BunSocketTransport; peer: Peer }> {
  let accepted: BunSocketTransport | undefined;
  const listener = Bun.listen<BunSocketTransport>({
    hostname: '127.0.0.1',
    port: 0,
    allowHalfOpen: true,
    socket: {
      ...socketHandlers,
      open(socket: BunSocket) {
        accepted = new BunSocketTransport(socket, false);
      },
    },
  });
  cleanup.push(() => listener.stop(true));
  const state = {
    received: [] as Uint8Array[],
    receivedBytes: 0,
    ended: false,
    closed: false,
    closeError: undefined as Error | undefined,
  };
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: listener.port,
    allowHalfOpen: true,
    socket: {
      binaryType: 'uint8array',
      data(_socket, chunk: Uint8Array) {
        state.received.push(chunk);
        state.receivedBytes += chunk.length;
      },
      end() {
        state.ended = true;
      },
      close(_socket, error) {
        state.closed = true;
        state.closeError = error;
      },
    } as Parameters<typeof Bun.connect<undefined>>[0]['socket'],
  });
  cleanup.push(() => socket.terminate());
  await until('accept', () => accepted !== undefined);
  const peer = Object.assign(state, { socket }) as unknown as Peer;
  Object.defineProperty(peer, 'socket', { value: socket });
  return { transport: accepted as BunSocketTransport, peer };
}

/** Writes all of `bytes` from the peer, waiting out partial writes. */
async function peerWrite(peer: Peer, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    at += Math.max(0, peer.socket.write(bytes.subarray(at)));
    if (at < bytes.length) await Bun.sleep(1);
  }
}

defineTransportSuite({ name: 'bun', dial: bunDialer });

describe('bun adapter: partial writes', () => {
  it('keeps what Bun did not take as views of the chunks given, writes it on drain, then onDrain once', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    peer.socket.pause(); // a reader that does not read

    const big = streamBytes(0, 8 * 1024 * 1024);
    const tail = streamBytes(big.length, 100);
    // The kernel takes a few MiB at most; the rest waits here.
    expect(transport.write([big, tail])).toBe(false);
    // The remainder is a view of the caller's buffer, not a copy, and the tail is the caller's chunk.
    const pending = (transport as unknown as { pending: Uint8Array[] }).pending;
    expect(pending[0]?.buffer).toBe(big.buffer);
    expect(pending[0]?.byteOffset).toBeGreaterThan(0);
    expect(pending[1]).toBe(tail);
    expect(rec.events).toEqual([]);

    // A slow reader: a read or two every few ms.
    let reading = true;
    const slowRead = setInterval(() => {
      peer.socket.resume();
      setTimeout(() => {
        if (reading) peer.socket.pause();
      }, 1);
    }, 5);
    cleanup.push(() => clearInterval(slowRead));
    await until('drain', () => rec.events.includes('drain'), 30_000);
    clearInterval(slowRead);
    reading = false;
    peer.socket.resume();
    expect(rec.events).toEqual(['drain']);
    const total = big.length + tail.length;
    await until('all bytes', () => peer.receivedBytes >= total);
    expect(checkStream(peer.received, total)).toBe(0);
    // Nothing pending: writes go straight to the socket again.
    expect(transport.write([streamBytes(total, 10)])).toBe(true);
  }, 60_000);

  it('every chunk is its own socket.write, in order (the session layer coalesces)', async () => {
    const { transport, peer } = await transportPair();
    transport.attach(recordTransport().handler);
    const calls: number[] = [];
    const socket = transport.socket;
    const write = socket.write.bind(socket);
    socket.write = ((chunk: Uint8Array) => {
      calls.push(chunk.length);
      return write(chunk);
    }) as typeof socket.write;
    expect(transport.write([streamBytes(0, 2), streamBytes(2, 300), streamBytes(302, 5)])).toBe(true);
    expect(calls).toEqual([2, 300, 5]);
    await until('bytes', () => peer.receivedBytes >= 307);
    expect(checkStream(peer.received, 307)).toBe(0);
  });
});

describe('bun adapter: received buffers', () => {
  it('Bun hands every data callback a fresh buffer that stays intact after the callback', async () => {
    // If Bun reused its receive buffer, chunks kept past their callback (as the
    // core keeps views of whole messages) would be overwritten by later reads.
    for (const secure of [false, true]) {
      const cert = selfSignedCertificate();
      const kept: Uint8Array[] = [];
      const buffers = new Set<ArrayBufferLike>();
      let total = 0;
      const listener = Bun.listen<undefined>({
        hostname: '127.0.0.1',
        port: 0,
        tls: secure ? cert : undefined,
        socket: {
          binaryType: 'uint8array',
          data(_socket, chunk: Uint8Array) {
            kept.push(chunk);
            buffers.add(chunk.buffer);
            total += chunk.length;
            // Scribbling on a chunk (the core unmasks in place) must not touch later ones.
            chunk.fill(0xee, 0, Math.min(1, chunk.length));
          },
        } as Parameters<typeof Bun.listen<undefined>>[0]['socket'],
      });
      cleanup.push(() => listener.stop(true));
      const client = await Bun.connect({
        hostname: '127.0.0.1',
        port: listener.port,
        tls: secure ? { ca: cert.cert } : undefined,
        socket: { data() {} },
      });
      cleanup.push(() => client.terminate());
      const pieces = 64;
      const size = 40_000;
      for (let i = 0; i < pieces; i++) {
        const piece = new Uint8Array(size).fill(i + 1);
        let at = 0;
        while (at < size) {
          const n = client.write(piece.subarray(at));
          at += Math.max(n, 0);
          if (at < size) await Bun.sleep(1);
        }
        if (i % 8 === 0) await Bun.sleep(2); // several reads, not one
      }
      await until('all bytes', () => total >= pieces * size);
      expect(kept.length).toBeGreaterThan(1);
      // One ArrayBuffer per callback, exactly the chunk (no pooled slab behind it).
      expect(buffers.size).toBe(kept.length);
      for (const chunk of kept) {
        expect(chunk.byteOffset).toBe(0);
        expect(chunk.buffer.byteLength).toBe(chunk.length);
      }
      // Content intact apart from each chunk's own first byte.
      let at = 0;
      let bad = 0;
      for (const chunk of kept) {
        for (let i = 1; i < chunk.length; i++) if (chunk[i] !== Math.floor((at + i) / size) + 1) bad++;
        at += chunk.length;
      }
      expect(bad).toBe(0);
      for (const fn of cleanup.splice(0).reverse()) await fn();
    }
  });

  it('messages held unread (views of received chunks) stay intact while more data arrives', async () => {
    const server = new WebSocketServer({ maxQueuedMessages: 10_000 });
    const { port } = await server.listen(0, '127.0.0.1');
    cleanup.push(() => server.close({ timeout: 200 }));
    let peer: Awaited<ReturnType<typeof connect>> | undefined;
    server.on('connection', (ws) => {
      peer = ws; // no listener yet: messages are held
    });
    const ws = await connect(`ws://127.0.0.1:${port}`);
    cleanup.push(() => ws.terminate());
    const count = 400;
    for (let i = 0; i < count; i++) ws.send(new Uint8Array(1000 + (i % 7)).fill(i & 0xff));
    ws.send('done');
    await until('peer', () => peer !== undefined);
    const got: (string | Uint8Array)[] = [];
    await Bun.sleep(100); // let everything arrive while held
    for await (const message of peer as NonNullable<typeof peer>) {
      got.push(message);
      if (message === 'done') break;
    }
    expect(got.length).toBe(count + 1);
    for (let i = 0; i < count; i++) {
      const message = got[i] as Uint8Array;
      expect(message.length).toBe(1000 + (i % 7));
      expect(message.every((b) => b === (i & 0xff))).toBe(true);
    }
  });
});

describe('bun adapter: reading and closing', () => {
  it('pause() stops onData until resume(), which delivers in order', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    transport.pause();
    await peerWrite(peer, streamBytes(0, 100_000));
    await Bun.sleep(100);
    expect(rec.dataBytes).toBe(0);
    transport.resume();
    await until('data', () => rec.dataBytes >= 100_000);
    expect(checkStream(rec.data, 100_000)).toBe(0);
  });

  it('TLS: a FIN read together with the last data is held while paused and delivered after it', async () => {
    const cert = selfSignedCertificate();
    let accepted: BunSocketTransport | undefined;
    const listener = Bun.listen<BunSocketTransport>({
      hostname: '127.0.0.1',
      port: 0,
      tls: cert,
      allowHalfOpen: true,
      socket: {
        ...socketHandlers,
        open(socket: BunSocket) {
          accepted = new BunSocketTransport(socket, true);
        },
        handshake() {},
      },
    });
    cleanup.push(() => listener.stop(true));
    const peer = tlsConnect({
      host: '127.0.0.1',
      port: listener.port,
      ca: cert.cert,
      servername: 'localhost',
    });
    peer.on('error', () => {});
    cleanup.push(() => peer.destroy());
    await new Promise((resolve) => peer.once('secureConnect', resolve));
    await until('accept', () => accepted !== undefined);
    const transport = accepted as BunSocketTransport;
    const rec = recordTransport();
    let pausedAt = -1;
    transport.attach({
      ...rec.handler,
      onData(chunk) {
        rec.handler.onData(chunk);
        if (pausedAt === -1) {
          pausedAt = rec.dataBytes;
          transport.pause();
        }
      },
    });
    for (let i = 0; i < 200; i++) peer.write(streamBytes(i * 100, 100));
    peer.end();
    await until('first data', () => pausedAt !== -1);
    await Bun.sleep(200);
    expect(rec.dataBytes).toBe(pausedAt);
    expect(rec.events).toEqual([]);
    transport.resume();
    await until('end', () => rec.events.includes('end'));
    expect(checkStream(rec.data, 20_000)).toBe(0);
  });

  it('events before attach are held and delivered by it, in order', async () => {
    const { transport, peer } = await transportPair();
    await peerWrite(peer, streamBytes(0, 5000));
    peer.socket.shutdown();
    await Bun.sleep(100);
    const rec = recordTransport();
    transport.attach(rec.handler);
    await until('end', () => rec.events.includes('end'));
    expect(checkStream(rec.data, 5000)).toBe(0);
    expect(() => transport.attach(rec.handler)).toThrow(TypeError);
  });

  it('destroy() resets the connection; onClose follows exactly once, after the call, and nothing after it', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    transport.destroy();
    expect(rec.events).toEqual([]); // not from inside destroy()
    await Bun.sleep(0);
    expect(rec.events).toEqual(['close']);
    transport.destroy();
    transport.end();
    expect(transport.write([new Uint8Array(3)])).toBe(true);
    await until('peer close', () => peer.closed);
    expect(peer.closeError?.message).toMatch(/ECONNRESET/);
    await Bun.sleep(20);
    expect(rec.events).toEqual(['close']);
  });

  it('a peer reset reaches onClose with the error', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    peer.socket.terminate();
    await until('close', () => rec.events.length > 0);
    expect(rec.events).toEqual([expect.stringMatching(/^close:.*ECONNRESET/)]);
    expect(transport.remoteAddress).toBe('127.0.0.1');
  });
});

describe('bun adapter: TLS and dialling', () => {
  it('handshakeTimeout also covers a client that never starts TLS', async () => {
    const server = new WebSocketServer({ tls: selfSignedCertificate(), handshakeTimeout: 200 });
    const { port } = await server.listen(0, '127.0.0.1');
    cleanup.push(() => server.close({ timeout: 200 }));
    const silent = netConnect({ host: '127.0.0.1', port });
    silent.on('error', () => {});
    cleanup.push(() => silent.destroy());
    const started = Date.now();
    await new Promise((resolve) => silent.once('close', resolve));
    // 200 ms to the 408 refusal, then the 2 s grace for the peer to close.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('honours servername (SNI and the name checked) and mutual TLS', async () => {
    const cert = selfSignedCertificate();
    const server = new WebSocketServer({
      tls: { ...cert, ca: cert.cert, requestCert: true, rejectUnauthorized: true },
    });
    const { port } = await server.listen(0, '127.0.0.1');
    cleanup.push(() => server.close({ timeout: 200 }));
    server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    const url = `wss://127.0.0.1:${port}`;
    const ws = await connect(url, { tls: { ca: cert.cert, servername: 'localhost', ...cert } });
    cleanup.push(() => ws.terminate());
    ws.send('mtls');
    expect(await new Promise((resolve) => ws.once('message', resolve))).toBe('mtls');
    // The name checked is the servername, not the address.
    const wrongName = await connect(url, {
      tls: { ca: cert.cert, servername: 'example.com', ...cert },
      handshakeTimeout: 3000,
    }).catch((e: unknown) => e);
    expect(wrongName).toMatchObject({ name: 'WebSocketHandshakeError', code: 'WS_DIAL_FAILED' });
    // No client certificate: the server refuses the TLS handshake.
    const anonymous = await connect(url, { tls: { ca: cert.cert }, handshakeTimeout: 3000 }).catch(
      (e: unknown) => e,
    );
    expect(anonymous).toMatchObject({ name: 'WebSocketHandshakeError' });
  });

  it('sends SNI: the servername option, else the host name, never an IP address', async () => {
    const cert = selfSignedCertificate();
    const seen: string[] = [];
    const listener = Bun.listen<undefined>({
      hostname: '127.0.0.1',
      port: 0,
      tls: cert,
      socket: {
        handshake(socket) {
          seen.push(socket.getServername() || '(none)');
        },
        data() {},
      },
    });
    cleanup.push(() => listener.stop(true));
    const port = listener.port;
    for (const [host, servername] of [
      ['127.0.0.1', 'localhost'],
      ['localhost', undefined],
      ['127.0.0.1', undefined],
    ] as const) {
      const pending = await bunDialer({
        host,
        port,
        secure: true,
        tls: { ca: cert.cert, ...(servername ? { servername } : {}) },
      });
      // TLS 1.3: the client is done before the server; a reset now would abort the server's side.
      const expected = seen.length + 1;
      await until('server handshake', () => seen.length === expected);
      pending.transport.destroy();
    }
    await until('handshakes', () => seen.length === 3);
    expect(seen).toEqual(['localhost', 'localhost', '(none)']);
  });

  it('a dial aborted by handshakeTimeout while TLS stalls leaves no socket behind', async () => {
    // A TCP server that accepts and never speaks TLS.
    let peerClosed = false;
    const stall: Server = createNetServer((socket) => {
      socket.resume(); // read, so that our reset is noticed
      socket.on('error', () => {});
      socket.on('close', () => {
        peerClosed = true;
      });
    });
    cleanup.push(() => new Promise((resolve) => stall.close(resolve)));
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const port = (stall.address() as { port: number }).port;
    const started = Date.now();
    const error = await connect(`wss://127.0.0.1:${port}`, { handshakeTimeout: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'WS_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
    await until('socket closed', () => peerClosed, 3000);
  });

  it('a refused port rejects with WS_DIAL_FAILED', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const error = await connect(`ws://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WS_DIAL_FAILED' });
  });

  it('listen() honours port/host options, reports the address, and close() stops accepting', async () => {
    const probe = new WebSocketServer();
    const { port } = await probe.listen(0, '127.0.0.1');
    await probe.close();
    const server = new WebSocketServer({ port, host: '127.0.0.1' });
    expect(await server.listen()).toEqual({ port, hostname: '127.0.0.1' });
    expect(server.address()).toEqual({ port, hostname: '127.0.0.1' });
    await expect(server.listen()).rejects.toThrow(TypeError);
    const taken = new WebSocketServer({ port, host: '127.0.0.1' });
    await expect(taken.listen()).rejects.toThrow();
    await server.close();
    expect(await connect(`ws://127.0.0.1:${port}`, { handshakeTimeout: 1000 }).catch((e) => e)).toMatchObject(
      {
        code: 'WS_DIAL_FAILED',
      },
    );
  });
});
