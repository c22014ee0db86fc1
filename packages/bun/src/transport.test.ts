// Bun-specific behaviour of the adapter: partial writes, received-buffer ownership,
// pause/resume, end/destroy, TLS details. The shared suite is adapter.test.ts.
import { afterEach, describe, expect, it } from 'bun:test';
import { createServer as createNetServer, connect as netConnect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ByteStream, checkStream, streamBytes } from '@fullduplex/testkit/adapter/byte-stream';
import { selfSignedCertificate } from '@fullduplex/testkit/adapter/certs';
import { recordTransport, until } from '@fullduplex/testkit/adapter/transport-tools';
import type { Socket } from 'bun';
import {
  type BunSocket,
  BunSocketTransport,
  bunDialer,
  COALESCE_LIMIT,
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

describe('bun adapter: partial writes', () => {
  it('queues what Bun did not take as views, flushes on drain, reports bufferedAmount, drains once', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    peer.socket.pause(); // a reader that does not read

    const big = streamBytes(0, 8 * 1024 * 1024);
    const accepted = transport.write([big]);
    // The kernel takes a few MiB at most; the rest waits in user space.
    expect(accepted).toBe(false);
    const queued = transport.bufferedAmount;
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThan(big.length);
    // The remainder is a view of the caller's buffer, not a copy.
    const queue = (transport as unknown as { queue: Uint8Array[] }).queue;
    expect(queue[0]?.buffer).toBe(big.buffer);
    expect(queue[0]?.byteOffset).toBe(big.length - queued);

    // While anything is queued, every write queues (in order) and returns false.
    const tail = streamBytes(big.length, 100);
    expect(transport.write([tail])).toBe(false);
    expect(transport.bufferedAmount).toBe(queued + 100);
    expect(rec.events).toEqual([]);

    // A slow reader: a read or two every few ms.
    const slowRead = setInterval(() => {
      peer.socket.resume();
      setTimeout(() => peer.socket.pause(), 1);
    }, 5);
    cleanup.push(() => clearInterval(slowRead));
    await until('drain', () => rec.events.includes('drain'), 30_000);
    clearInterval(slowRead);
    peer.socket.resume();
    expect(rec.events).toEqual(['drain']);
    expect(transport.bufferedAmount).toBe(0);
    const total = big.length + tail.length;
    await until('all bytes', () => peer.receivedBytes >= total);
    expect(checkStream(peer.received, total)).toBe(0);
    // An empty queue: writes go straight to the socket again.
    expect(transport.write([streamBytes(total, 10)])).toBe(true);
  }, 60_000);

  it('writes runs of small chunks with one socket.write and big chunks as views', async () => {
    const { transport, peer } = await transportPair();
    transport.attach(recordTransport().handler);
    const calls: Uint8Array[] = [];
    const socket = transport.socket;
    const write = socket.write.bind(socket);
    socket.write = ((data: Uint8Array) => {
      calls.push(data);
      return write(data);
    }) as typeof socket.write;
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    expect(transport.write([next(2), next(10)])).toBe(true);
    expect(calls.map((c) => c.length)).toEqual([12]);
    // A header and a payload up to the limit: one write.
    calls.length = 0;
    transport.write([next(4), next(100_000)]);
    expect(calls.map((c) => c.length)).toEqual([100_004]);
    // Above it, the payload goes as it is, not copied.
    const header = next(4);
    const big = next(COALESCE_LIMIT);
    calls.length = 0;
    transport.write([header, big]);
    expect(calls.map((c) => c.length)).toEqual([4, COALESCE_LIMIT]);
    expect(calls[1]).toBe(big);
    calls.length = 0;
    transport.write([
      next(10),
      next(0),
      next(10),
      next(COALESCE_LIMIT - 20),
      next(1),
      next(COALESCE_LIMIT + 1),
      next(5),
      next(5),
    ]);
    expect(calls.map((c) => c.length)).toEqual([COALESCE_LIMIT, 1, COALESCE_LIMIT + 1, 10]);
    await until('all bytes', () => peer.receivedBytes >= stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
  });

  it('keeps the byte stream intact through many mixed-size writes to a reader that reads in bursts', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    peer.socket.pause();
    // Fill the kernel's buffers first (a paused Bun socket's receive window stays small).
    const stream = new ByteStream();
    expect(transport.write([stream.next(8 * 1024 * 1024)])).toBe(false);
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let sawFalse = false;
    let maxBuffered = 0;
    for (let round = 0; round < 300; round++) {
      // Header-and-payload pairs, lone small chunks, big chunks, empty chunks.
      const chunks: Uint8Array[] = [];
      const n = 1 + Math.floor(random() * 4);
      for (let k = 0; k < n; k++) {
        const kind = random();
        const size =
          kind < 0.4
            ? Math.floor(random() * 14)
            : kind < 0.8
              ? Math.floor(random() * 4096)
              : Math.floor(random() * 200_000);
        chunks.push(stream.next(size));
      }
      if (!transport.write(chunks)) sawFalse = true;
      maxBuffered = Math.max(maxBuffered, transport.bufferedAmount);
      if (round % 50 === 49) {
        peer.socket.resume();
        await Bun.sleep(5);
        peer.socket.pause();
      }
    }
    expect(sawFalse).toBe(true);
    expect(maxBuffered).toBeGreaterThan(COALESCE_LIMIT);
    peer.socket.resume();
    await until('all bytes', () => peer.receivedBytes >= stream.offset, 30_000);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
    await until('drain', () => transport.bufferedAmount === 0);
    expect(rec.events.filter((e) => e === 'drain').length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('end() sends FIN only after the queue is flushed; writes after end() are ignored', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    transport.attach(rec.handler);
    peer.socket.pause();
    const big = streamBytes(0, 6 * 1024 * 1024);
    transport.write([big]);
    expect(transport.bufferedAmount).toBeGreaterThan(0);
    transport.end();
    expect(transport.write([new Uint8Array(5)])).toBe(false);
    peer.socket.resume();
    await until('peer end', () => peer.ended, 30_000);
    expect(checkStream(peer.received, big.length)).toBe(0);
    expect(rec.events).toEqual([]);
    peer.socket.shutdown(); // the peer's FIN: now Bun closes the socket
    await until('close', () => rec.events.includes('close'));
    // Plain TCP: Bun goes straight to \`close\` when the peer's FIN follows ours (TLS reports \`end\` first).
    expect(rec.events.filter((e) => e !== 'end')).toEqual(['close']);
  }, 60_000);
});

/** Records the length of every `socket.write()` the transport makes (and can make it take less). */
function spyWrites(transport: BunSocketTransport): {
  calls: number[];
  limit: number | undefined;
  partial: number;
} {
  const spy = { calls: [] as number[], limit: undefined as number | undefined, partial: 0 };
  const socket = transport.socket;
  const write = socket.write.bind(socket);
  socket.write = ((data: Uint8Array) => {
    spy.calls.push(data.length);
    const written = write(
      spy.limit !== undefined && data.length > spy.limit ? data.subarray(0, spy.limit) : data,
    );
    if (written >= 0 && written < data.length) spy.partial++;
    return written;
  }) as typeof socket.write;
  return spy;
}

describe('bun adapter: writes inside onData', () => {
  it('everything written during one onData leaves in one socket.write after it, in order; drain follows', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    const spy = spyWrites(transport);
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    const during: { returned: boolean[]; buffered: number; calls: number } = {
      returned: [],
      buffered: 0,
      calls: -1,
    };
    transport.attach({
      ...rec.handler,
      onData(chunk) {
        rec.handler.onData(chunk);
        // A burst of frames (header + payload pairs, lone chunks, an empty one).
        for (let i = 0; i < 50; i++) during.returned.push(transport.write([next(2), next(i * 37)]));
        during.returned.push(transport.write([next(0), next(1000)]));
        during.buffered = transport.bufferedAmount;
        during.calls = spy.calls.length;
      },
    });
    await peerWrite(peer, new Uint8Array([1]));
    await until('data', () => rec.dataBytes === 1);
    // Nothing left inside the callback; the writes were held, counted and reported.
    expect(during.calls).toBe(0);
    expect(during.buffered).toBe(stream.offset);
    expect(during.returned.every((r) => r === false)).toBe(true);
    // One write of everything once it returned, then the drain owed for those `false`s.
    expect(spy.calls).toEqual([stream.offset]);
    expect(transport.bufferedAmount).toBe(0);
    expect(rec.events).toEqual(['drain']);
    await until('all bytes', () => peer.receivedBytes >= stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
    // Outside onData, writes go out at once, as before.
    expect(transport.write([next(3), next(5)])).toBe(true);
    expect(spy.calls).toEqual([stream.offset - 8, 8]);
    await until('all bytes', () => peer.receivedBytes >= stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
  });

  it('more than COALESCE_LIMIT inside one onData leaves in several writes, big chunks as views', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    const spy = spyWrites(transport);
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    const sizes = [4, 30_000, 4, 30_000, 4, 30_000, 10, COALESCE_LIMIT * 2, 2, 100];
    transport.attach({
      ...rec.handler,
      onData(chunk) {
        rec.handler.onData(chunk);
        for (let i = 0; i < sizes.length; i += 2) {
          transport.write([next(sizes[i] as number), next(sizes[i + 1] as number)]);
        }
      },
    });
    await peerWrite(peer, new Uint8Array([1]));
    await until('data', () => rec.dataBytes === 1);
    await until('all bytes', () => peer.receivedBytes >= stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
    expect(spy.calls.reduce((a, b) => a + b, 0)).toBe(stream.offset);
    // Each write is one run up to the limit, or one big chunk on its own.
    for (const size of spy.calls) expect(size <= COALESCE_LIMIT || size === COALESCE_LIMIT * 2).toBe(true);
    expect(spy.calls).toContain(COALESCE_LIMIT * 2);
    expect(spy.calls.length).toBeLessThan(sizes.length / 2 + 2);
    await until('drain', () => rec.events.includes('drain'));
  });

  it('a partial write of a coalesced batch queues a copy of the rest (the shared buffer is reused)', async () => {
    const { transport, peer } = await transportPair();
    const other = await transportPair();
    other.transport.attach(recordTransport().handler);
    const rec = recordTransport();
    const spy = spyWrites(transport);
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    transport.attach({
      ...rec.handler,
      onData(chunk) {
        rec.handler.onData(chunk);
        for (let i = 0; i < 20; i++) transport.write([next(2), next(500)]);
      },
    });
    spy.limit = 1234; // the socket takes only this much of the batch
    await peerWrite(peer, new Uint8Array([1]));
    await until('data', () => rec.dataBytes === 1);
    await Bun.sleep(0);
    expect(spy.calls).toEqual([stream.offset]);
    expect(transport.bufferedAmount).toBe(stream.offset - 1234);
    expect(rec.events).toEqual([]); // no drain while bytes are queued
    // Another transport's coalesced write (no bigger: the buffer only grows) reuses the shared buffer.
    other.transport.write([new Uint8Array(2).fill(0xee), new Uint8Array(8000).fill(0xee)]);
    // Writes while bytes are queued are queued behind them, in order.
    expect(transport.write([next(3), next(7)])).toBe(false);
    // Bun's drain: the queue leaves as one coalesced write, again taken only in part.
    spy.limit = 5000;
    transport.handleDrain();
    expect(spy.calls).toEqual([stream.offset - 10, stream.offset - 1234]);
    expect(transport.bufferedAmount).toBe(stream.offset - 1234 - 5000);
    other.transport.write([new Uint8Array(2).fill(0xee), new Uint8Array(8000).fill(0xee)]);
    expect(rec.events).toEqual([]);
    spy.limit = undefined;
    transport.handleDrain();
    expect(transport.bufferedAmount).toBe(0);
    expect(rec.events).toEqual(['drain']);
    await until('all bytes', () => peer.receivedBytes >= stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
  });

  it('TLS: coalesced writes to a slow reader arrive intact while the shared buffer is reused', async () => {
    // The reader is the server side (a paused Bun TLS client socket keeps reading).
    const cert = selfSignedCertificate();
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    let reader: Socket<undefined> | undefined;
    const listener = Bun.listen<undefined>({
      hostname: '127.0.0.1',
      port: 0,
      tls: cert,
      socket: {
        binaryType: 'uint8array',
        open(socket) {
          reader = socket;
        },
        data(_socket, chunk: Uint8Array) {
          received.push(chunk);
          receivedBytes += chunk.length;
        },
      } as Parameters<typeof Bun.listen<undefined>>[0]['socket'],
    });
    cleanup.push(() => listener.stop(true));
    let dialled: BunSocketTransport | undefined;
    const socket = await Bun.connect<BunSocketTransport>({
      hostname: '127.0.0.1',
      port: listener.port,
      tls: { ca: cert.cert, serverName: 'localhost' },
      socket: {
        ...socketHandlers,
        handshake(socket: BunSocket) {
          dialled = new BunSocketTransport(socket, true);
        },
      },
    });
    cleanup.push(() => socket.terminate());
    await until('handshake', () => dialled !== undefined && reader !== undefined);
    const transport = dialled as BunSocketTransport;
    const peer = reader as Socket<undefined>;
    const other = await transportPair();
    other.transport.attach(recordTransport().handler);
    transport.attach(recordTransport().handler);
    peer.pause();
    // Fill the kernel's buffers first.
    const stream = new ByteStream();
    transport.write([stream.next(8 * 1024 * 1024)]);
    const spy = spyWrites(transport);
    let seed = 99;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      for (let k = 0; k < 3; k++) {
        const size = random() < 0.5 ? Math.floor(random() * 10) : Math.floor(random() * 40_000);
        chunks.push(stream.next(size));
      }
      transport.write(chunks);
      // Scribble over the shared buffer between writes.
      other.transport.write([new Uint8Array(3).fill(0xee), new Uint8Array(60_000).fill(0xee)]);
      if (round % 40 === 39) {
        peer.resume();
        await Bun.sleep(5);
        peer.pause();
      }
    }
    // Bun's TLS layer takes (encrypts) what it reports before write() returns, and
    // mostly all of it: partial writes are rare here, but the stream must be intact.
    expect(spy.calls.length).toBeGreaterThan(100);
    peer.resume();
    await until('all bytes', () => receivedBytes >= stream.offset, 30_000);
    expect(checkStream(received, stream.offset)).toBe(0);
  }, 60_000);

  it('end() or destroy() inside onData still writes what was written before it', async () => {
    const { transport, peer } = await transportPair();
    const rec = recordTransport();
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    transport.attach({
      ...rec.handler,
      onData(chunk) {
        rec.handler.onData(chunk);
        for (let i = 0; i < 10; i++) transport.write([next(2), next(300)]);
        transport.end();
        expect(transport.write([new Uint8Array(5)])).toBe(false);
      },
    });
    await peerWrite(peer, new Uint8Array([1]));
    await until('peer end', () => peer.ended);
    expect(peer.receivedBytes).toBe(stream.offset);
    expect(checkStream(peer.received, stream.offset)).toBe(0);
    expect(rec.events).toEqual([]); // no drain after end()
    peer.socket.shutdown();
    await until('close', () => rec.events.includes('close'));
    expect(rec.events.filter((e) => e !== 'end')).toEqual(['close']);

    const second = await transportPair();
    const rec2 = recordTransport();
    const spy = spyWrites(second.transport);
    second.transport.attach({
      ...rec2.handler,
      onData(chunk) {
        rec2.handler.onData(chunk);
        second.transport.write([new Uint8Array(2), new Uint8Array(100)]);
        second.transport.destroy();
        expect(second.transport.write([new Uint8Array(5)])).toBe(false);
      },
    });
    await peerWrite(second.peer, new Uint8Array([1]));
    await until('close', () => rec2.events.includes('close'));
    expect(spy.calls).toEqual([102]);
    await Bun.sleep(20);
    expect(rec2.events).toEqual(['close']);
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
    expect(transport.write([new Uint8Array(3)])).toBe(false);
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
