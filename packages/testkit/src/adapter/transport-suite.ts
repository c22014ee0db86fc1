/**
 * The transport contract suite: what every adapter's {@link Transport} must do, checked
 * over real loopback sockets. An adapter (or a fork adding one) proves its byte pipe
 * with its dialer:
 *
 * ```ts
 * import { defineTransportSuite } from '@fullduplex/testkit/adapter/transport';
 * import { myDialer } from '../src/client.ts';
 * defineTransportSuite({ name: 'myruntime', dial: myDialer });
 * ```
 *
 * The other end of each connection is a `node:net` socket (Node, Bun and Deno all
 * have it) that records what arrives and can stop reading. The rules checked are
 * those of docs/ADAPTERS.md: bytes in order and intact through partial writes,
 * `write` returning false exactly when bytes remain and `onDrain` following exactly
 * once then, pause/resume, `end()` after the pending write and reading on after it,
 * nothing before `attach` nor after `onClose`, no handler call from inside a
 * transport method.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Dialer, PendingTransport, Transport, TransportHandler } from '@fullduplex/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { checkStream, streamBytes } from './byte-stream.ts';
import { until } from './transport-tools.ts';

/** What the suite needs of an adapter. */
export interface TransportAdapter {
  readonly name: string;
  /** The adapter's dialer; the suite dials plain TCP on 127.0.0.1. */
  readonly dial: Dialer;
}

/** The peer's end of a connection. */
interface Peer {
  readonly socket: Socket;
  readonly received: Uint8Array[];
  readonly receivedBytes: number;
  readonly ended: boolean;
  readonly closed: boolean;
}

/** A handler that records events, and notes any call made from inside a transport method. */
interface Recorder {
  readonly handler: TransportHandler;
  readonly events: string[];
  readonly data: Uint8Array[];
  readonly dataBytes: number;
  /** Runs `fn` (a transport call); a handler call meanwhile is a contract violation. */
  inside<T>(fn: () => T): T;
  readonly reentered: string[];
}

function record(): Recorder {
  const events: string[] = [];
  const data: Uint8Array[] = [];
  const reentered: string[] = [];
  let dataBytes = 0;
  let depth = 0;
  const note = (event: string): void => {
    if (depth > 0) reentered.push(event);
  };
  const handler: TransportHandler = {
    onData(chunk) {
      note('data');
      data.push(chunk);
      dataBytes += chunk.length;
    },
    onDrain() {
      note('drain');
      events.push('drain');
    },
    onEnd() {
      note('end');
      events.push('end');
    },
    onClose(error) {
      note('close');
      events.push(error ? 'close:error' : 'close');
    },
  };
  return {
    handler,
    events,
    data,
    get dataBytes() {
      return dataBytes;
    },
    inside<T>(fn: () => T): T {
      depth++;
      try {
        return fn();
      } finally {
        depth--;
      }
    },
    reentered,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the transport contract suite for `adapter`. */
export function defineTransportSuite(adapter: TransportAdapter): void {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A listening node:net server and, per dial, the adapter's transport and the accepted peer. */
  async function connectPair(): Promise<{ pending: PendingTransport; transport: Transport; peer: Peer }> {
    const accepted: Socket[] = [];
    const server: Server = createServer({ allowHalfOpen: true }, (socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const pending = await adapter.dial({ host: '127.0.0.1', port, secure: false });
    cleanup.push(() => pending.transport.destroy());
    await until('accept', () => accepted.length === 1, 5000);
    const socket = accepted[0] as Socket;
    cleanup.push(() => socket.destroy());
    const state = { received: [] as Uint8Array[], receivedBytes: 0, ended: false, closed: false };
    socket.on('data', (chunk: Uint8Array) => {
      state.received.push(new Uint8Array(chunk));
      state.receivedBytes += chunk.length;
    });
    socket.on('end', () => {
      state.ended = true;
    });
    socket.on('close', () => {
      state.closed = true;
    });
    socket.on('error', () => {});
    const peer = Object.assign(state, { socket }) as Peer;
    return { pending, transport: pending.transport, peer };
  }

  /** Writes `chunks` as the session layer would: after a false, the next write waits for onDrain. */
  async function writeAll(transport: Transport, rec: Recorder, batches: Uint8Array[][]): Promise<void> {
    for (const batch of batches) {
      const drains = rec.events.filter((e) => e === 'drain').length;
      if (!rec.inside(() => transport.write(batch))) {
        await until('drain', () => rec.events.filter((e) => e === 'drain').length > drains, 20_000);
      }
    }
  }

  describe(`${adapter.name} transport contract`, () => {
    it('declares whether its writes are vectored', async () => {
      const { transport } = await connectPair();
      expect(typeof transport.vectored).toBe('boolean');
    });

    it('delivers nothing before attach; then what arrived, in order, and the FIN after it', async () => {
      const { pending, peer } = await connectPair();
      peer.socket.write(streamBytes(0, 1000));
      peer.socket.write(streamBytes(1000, 3000));
      peer.socket.end();
      await sleep(100);
      const rec = record();
      rec.inside(() => pending.attach(rec.handler));
      await until('end', () => rec.events.includes('end'));
      expect(checkStream(rec.data, 4000)).toBe(0);
      expect(rec.events[0]).toBe('end');
      expect(rec.reentered).toEqual([]);
    });

    it('writes many batches of mixed sizes intact and in order; onDrain only after a false', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      const sizes = [1, 2, 125, 126, 4096, 65_535, 65_536, 70_000, 300_000, 1, 1_048_576, 7, 2_000_000];
      const batches: Uint8Array[][] = [];
      let offset = 0;
      for (let i = 0; i < sizes.length; i++) {
        // One, two or three chunks per write.
        const batch: Uint8Array[] = [];
        for (let k = 0; k <= i % 3; k++) {
          const size = sizes[(i + k) % sizes.length] as number;
          batch.push(streamBytes(offset, size));
          offset += size;
        }
        batches.push(batch);
      }
      let falses = 0;
      for (const batch of batches) {
        const drains = rec.events.filter((e) => e === 'drain').length;
        const done = rec.inside(() => transport.write(batch));
        if (done) {
          // A write the kernel took at once owes no onDrain.
          await sleep(0);
          expect(rec.events.filter((e) => e === 'drain').length).toBe(drains);
        } else {
          falses++;
          await until('drain', () => rec.events.filter((e) => e === 'drain').length === drains + 1, 20_000);
        }
      }
      await until('all bytes', () => peer.receivedBytes >= offset, 20_000);
      expect(checkStream(peer.received, offset)).toBe(0);
      expect(rec.events.filter((e) => e === 'drain').length).toBe(falses);
      expect(rec.reentered).toEqual([]);
    });

    it('a peer that does not read: write returns false, onDrain comes once the peer reads, exactly once', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.pause();
      const big = streamBytes(0, 16 * 1024 * 1024);
      expect(rec.inside(() => transport.write([big]))).toBe(false);
      await sleep(200);
      expect(rec.events).toEqual([]);
      peer.socket.resume();
      await until('drain', () => rec.events.includes('drain'), 30_000);
      await until('all bytes', () => peer.receivedBytes >= big.length, 30_000);
      await sleep(50);
      expect(rec.events).toEqual(['drain']);
      expect(checkStream(peer.received, big.length)).toBe(0);
      // The pipe is idle again: a small write is taken, or drains once.
      await writeAll(transport, rec, [[streamBytes(big.length, 10)]]);
      await until('tail', () => peer.receivedBytes >= big.length + 10);
      expect(checkStream(peer.received, big.length + 10)).toBe(0);
      expect(rec.reentered).toEqual([]);
    }, 60_000);

    it('pause() stops onData until resume(), which delivers in order', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.write(streamBytes(0, 100));
      await until('first data', () => rec.dataBytes === 100);
      rec.inside(() => transport.pause());
      peer.socket.write(streamBytes(100, 50_000));
      await sleep(150);
      // At most a read already under way may arrive after pause().
      const whilePaused = rec.dataBytes;
      await sleep(150);
      expect(rec.dataBytes).toBe(whilePaused);
      rec.inside(() => transport.resume());
      await until('rest', () => rec.dataBytes === 50_100);
      expect(checkStream(rec.data, 50_100)).toBe(0);
      expect(rec.reentered).toEqual([]);
    });

    it('end() sends FIN after the pending write; reading goes on until the peer FIN, then onClose', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.pause();
      const big = streamBytes(0, 8 * 1024 * 1024);
      const done = rec.inside(() => transport.write([big]));
      rec.inside(() => transport.end());
      // Writes after end() are ignored.
      expect(rec.inside(() => transport.write([new Uint8Array(5).fill(0xee)]))).toBe(true);
      await sleep(100);
      expect(peer.ended).toBe(false);
      peer.socket.resume();
      await until('peer sees FIN', () => peer.ended, 30_000);
      expect(peer.receivedBytes).toBe(big.length);
      expect(checkStream(peer.received, big.length)).toBe(0);
      if (done) expect(rec.events).not.toContain('drain');
      // Half-closed: the peer can still send, and we still read.
      peer.socket.write(streamBytes(0, 300));
      await until('data after our FIN', () => rec.dataBytes === 300);
      peer.socket.end();
      await until('close', () => rec.events.some((e) => e.startsWith('close')), 10_000);
      // Once both sides sent FIN a runtime may close without reporting the peer's (Bun does).
      expect(rec.events.filter((e) => e === 'end').length).toBeLessThanOrEqual(1);
      expect(rec.events.at(-1)).toBe('close');
      expect(rec.reentered).toEqual([]);
    }, 60_000);

    it('destroy(): onClose exactly once, not from inside the call, nothing after it; writes are ignored', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.write(streamBytes(0, 10));
      await until('data', () => rec.dataBytes === 10);
      rec.inside(() => transport.destroy());
      expect(rec.events).toEqual([]);
      await until('close', () => rec.events.length > 0);
      expect(rec.inside(() => transport.write([new Uint8Array(10)]))).toBe(true);
      rec.inside(() => transport.destroy());
      peer.socket.write(streamBytes(10, 10));
      await sleep(200);
      expect(rec.events).toHaveLength(1);
      expect(rec.events[0]?.startsWith('close')).toBe(true);
      expect(rec.dataBytes).toBe(10);
      await until('peer sees the close', () => peer.closed || peer.ended, 5000);
      expect(rec.reentered).toEqual([]);
    });

    it('destroy() while a write is pending: onClose once, no onDrain', async () => {
      const { pending, transport, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.pause();
      expect(rec.inside(() => transport.write([streamBytes(0, 16 * 1024 * 1024)]))).toBe(false);
      rec.inside(() => transport.destroy());
      peer.socket.resume();
      await until('close', () => rec.events.length > 0, 5000);
      await sleep(300);
      expect(rec.events).toHaveLength(1);
      expect(rec.events[0]?.startsWith('close')).toBe(true);
      expect(rec.reentered).toEqual([]);
    });

    it('the peer closing reaches onEnd then onClose, once each', async () => {
      const { pending, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.end(streamBytes(0, 20));
      await until('end', () => rec.events.includes('end'));
      // We answer the FIN as the session layer does.
      pending.transport.end();
      await until('close', () => rec.events.some((e) => e.startsWith('close')), 5000);
      await sleep(50);
      expect(rec.events).toEqual(['end', 'close']);
      expect(checkStream(rec.data, 20)).toBe(0);
    });

    it('a peer reset reaches onClose', async () => {
      const { pending, peer } = await connectPair();
      const rec = record();
      pending.attach(rec.handler);
      peer.socket.resetAndDestroy();
      await until('close', () => rec.events.some((e) => e.startsWith('close')), 5000);
      await sleep(50);
      expect(rec.events.filter((e) => e.startsWith('close'))).toHaveLength(1);
    });
  });
}
