// The transport contract (testkit) over Deno's sockets, then Deno-specific behaviour on a
// fake connection: partial conn.write calls written until done, end/destroy while a write
// is pending, the size of the buffer a pending read holds. The shared WebSocket suite is
// adapter.test.ts.
import { checkStream, streamBytes } from '@fullduplex/testkit/adapter/byte-stream';
import { defineTransportSuite } from '@fullduplex/testkit/adapter/transport';
import { recordTransport, until } from '@fullduplex/testkit/adapter/transport-tools';
import { afterEach, describe, expect, it } from 'vitest';
import { type DenoConnLike, DenoConnTransport, denoDialer } from './index.ts';

defineTransportSuite({ name: 'deno', dial: denoDialer });

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A connection whose writes complete when the test says so, taking at most `limit`
 * bytes each. Like Deno's, a pending write reads its buffer only when it completes:
 * a buffer reused while its write is pending would send the wrong bytes.
 */
class FakeConn implements DenoConnLike {
  readonly remoteAddr = { transport: 'tcp', hostname: '127.0.0.1', port: 1234 } as Deno.Addr;
  /** Lengths passed to write(), in order. */
  readonly calls: number[] = [];
  /** What the writes took, in order. */
  readonly written: Uint8Array[] = [];
  writtenBytes = 0;
  limit = Number.POSITIVE_INFINITY;
  /** Complete writes at once (else `complete()` does, one at a time). */
  auto = true;
  closeWrites = 0;
  closed = false;
  private pending: (() => void)[] = [];

  /** Sizes of the buffers passed to read(), in order. */
  readonly readSizes: number[] = [];
  /** What the next reads return (each fills the buffer up to its length); then they wait. */
  readonly incoming: number[] = [];
  private reader: (() => void) | undefined;

  read(p: Uint8Array): Promise<number | null> {
    this.readSizes.push(p.length);
    return new Promise((resolve) => {
      const serve = (): void => {
        const size = this.incoming.shift() as number;
        const n = Math.min(size, p.length);
        if (size > n) this.incoming.unshift(size - n);
        p.fill(0x61, 0, n);
        resolve(n);
      };
      if (this.incoming.length > 0) queueMicrotask(serve);
      else this.reader = serve;
    });
  }

  /** The peer sends `sizes` (one burst each). */
  send(...sizes: number[]): void {
    this.incoming.push(...sizes);
    const reader = this.reader;
    this.reader = undefined;
    reader?.();
  }

  write(p: Uint8Array): Promise<number> {
    this.calls.push(p.length);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (this.closed) {
          reject(new Error('closed'));
          return;
        }
        const n = Math.min(p.length, this.limit);
        this.written.push(p.slice(0, n));
        this.writtenBytes += n;
        resolve(n);
      };
      if (this.auto) queueMicrotask(done);
      else this.pending.push(done);
    });
  }

  /** Completes the oldest pending write. */
  complete(): boolean {
    const done = this.pending.shift();
    done?.();
    return done !== undefined;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  closeWrite(): Promise<void> {
    this.closeWrites++;
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
    for (const done of this.pending.splice(0)) done();
  }
}

function fakeTransport(): {
  conn: FakeConn;
  transport: DenoConnTransport;
  events: string[];
  rec: ReturnType<typeof recordTransport>;
} {
  const conn = new FakeConn();
  const transport = new DenoConnTransport(conn, false);
  const rec = recordTransport();
  transport.attach(rec.handler);
  cleanup.push(() => transport.destroy());
  return { conn, transport, events: rec.events, rec };
}

describe('deno transport: writing', () => {
  it('partial conn.write calls: every chunk is written until done, then onDrain once', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.limit = 1000;
    const chunks = [streamBytes(0, 2), streamBytes(2, 5000), streamBytes(5002, 70_000)];
    expect(transport.write(chunks)).toBe(false);
    await until('drain', () => events.includes('drain'));
    expect(events).toEqual(['drain']);
    expect(conn.writtenBytes).toBe(75_002);
    expect(checkStream(conn.written, 75_002)).toBe(0);
    // No vectored write: every chunk is its own conn.write (the session layer coalesces).
    expect(conn.calls.slice(0, 3)).toEqual([2, 5000, 4000]);
  });

  it('the chunk list given to write() may be reused by the caller at once', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.auto = false;
    const list = [streamBytes(0, 10), streamBytes(10, 10)];
    expect(transport.write(list)).toBe(false);
    list.length = 0;
    list.push(new Uint8Array(10).fill(0xee));
    while (conn.complete() || conn.pendingWrites > 0) await sleep(0);
    await until('drain', () => events.includes('drain'));
    expect(checkStream(conn.written, 20)).toBe(0);
  });

  it('end() while a write is pending: closeWrite after it, writes after end() are ignored', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.auto = false;
    expect(transport.write([streamBytes(0, 100)])).toBe(false);
    transport.end();
    expect(transport.write([new Uint8Array(5)])).toBe(true);
    await sleep(10);
    expect(conn.closeWrites).toBe(0);
    conn.complete();
    await until('closeWrite', () => conn.closeWrites === 1);
    expect(conn.writtenBytes).toBe(100);
    // No onDrain once ending: nothing more can be written anyway.
    expect(events).toEqual([]);
  });

  it('destroy() while a write is pending lets it finish for a moment, then closes; onClose once', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.auto = false;
    expect(transport.write([streamBytes(0, 100)])).toBe(false);
    transport.destroy();
    expect(conn.closed).toBe(false);
    conn.complete();
    await until('close', () => events.includes('close'));
    expect(conn.closed).toBe(true);
    expect(conn.writtenBytes).toBe(100);
    await sleep(150);
    expect(events).toEqual(['close']);
  });

  it('destroy() with a write that never finishes closes after the grace period', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.auto = false;
    expect(transport.write([streamBytes(0, 100)])).toBe(false);
    const started = Date.now();
    transport.destroy();
    await until('close', () => events.includes('close'), 2000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(conn.closed).toBe(true);
  });
});

describe('deno transport: reading', () => {
  it('a pending read holds a small buffer; a read that fills it is followed by a large one', async () => {
    const { conn } = fakeTransport();
    await until('first read', () => conn.readSizes.length === 1);
    const small = conn.readSizes[0] as number;
    expect(small).toBeLessThanOrEqual(1024);
    // 100 KiB arrive at once: the small read fills, the next reads are large.
    conn.send(100 * 1024);
    await until('reads', () => conn.readSizes.length >= 4);
    expect(conn.readSizes[1]).toBe(16 * 1024);
    // Once a read did not fill its buffer, the pending read is small again.
    await sleep(10);
    expect(conn.readSizes.at(-1)).toBe(small);
  });

  it('a peer that keeps the socket full does not keep the event loop: reads yield to timers', async () => {
    const { conn, rec } = fakeTransport();
    await until('first read', () => conn.readSizes.length === 1);
    // Reads of waiting data complete in microtasks, as Deno's do: without a yield, the
    // timer would run only after all of them.
    const total = 200 * 16 * 1024;
    let deliveredWhenTimerRan = -1;
    setTimeout(() => {
      deliveredWhenTimerRan = rec.dataBytes;
    }, 0);
    conn.send(total);
    await until('all bytes', () => rec.dataBytes === total);
    expect(deliveredWhenTimerRan).toBeGreaterThanOrEqual(0);
    expect(deliveredWhenTimerRan).toBeLessThan(total / 4);
  });

  it('delivers every byte, in order, across small and large reads', async () => {
    const { conn, rec } = fakeTransport();
    conn.send(10, 512, 70_000, 3, 64 * 1024, 1);
    const total = 10 + 512 + 70_000 + 3 + 64 * 1024 + 1;
    await until('all bytes', () => rec.dataBytes === total);
    // Chunks handed over are never reused: each keeps its own bytes.
    for (const chunk of rec.data) expect(chunk.every((b) => b === 0x61)).toBe(true);
    expect(new Set(rec.data.map((c) => c.buffer)).size).toBe(rec.data.length);
  });
});
