// Deno-specific behaviour of the transport's writer: writes of one turn coalesced into
// one conn.write, partial writes, the shared pool of coalescing buffers, end/destroy
// after a batch. The shared suite is adapter.test.ts.
import { ByteStream, checkStream, streamBytes } from '@fullduplex/testkit/adapter/byte-stream';
import { recordTransport, until } from '@fullduplex/testkit/adapter/transport-tools';
import { afterEach, describe, expect, it } from 'vitest';
import { type DenoConnLike, DenoConnTransport } from './index.ts';

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

  read(): Promise<number | null> {
    return new Promise(() => {}); // the peer sends nothing
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

function fakeTransport(): { conn: FakeConn; transport: DenoConnTransport; events: string[] } {
  const conn = new FakeConn();
  const transport = new DenoConnTransport(conn, false);
  const rec = recordTransport();
  transport.attach(rec.handler);
  cleanup.push(() => transport.destroy());
  return { conn, transport, events: rec.events };
}

describe('deno transport: writing', () => {
  it('writes of one turn leave in one conn.write, intact and in order', async () => {
    const { conn, transport } = fakeTransport();
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    for (let i = 0; i < 40; i++) expect(transport.write([next(2), next(i * 31)])).toBe(true);
    expect(transport.write([next(0), next(10)])).toBe(true);
    expect(transport.bufferedAmount).toBe(stream.offset);
    expect(conn.calls).toEqual([]); // not before the turn is over
    await until('written', () => conn.writtenBytes === stream.offset);
    expect(conn.calls).toEqual([stream.offset]);
    expect(checkStream(conn.written, stream.offset)).toBe(0);
    expect(transport.bufferedAmount).toBe(0);
  });

  it('partial writes: the rest of a batch is written until done, later batches follow in order', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.limit = 1000;
    const stream = new ByteStream();
    const next = (size: number): Uint8Array => stream.next(size);
    for (let i = 0; i < 30; i++) transport.write([next(2), next(3000)]);
    // Above the high-water mark: false, and a drain once all is written.
    expect(transport.write([next(2), next(40_000)])).toBe(false);
    await sleep(0);
    for (let i = 0; i < 10; i++) transport.write([next(4), next(100_000)]); // big chunks go as they are
    await until('written', () => conn.writtenBytes === stream.offset);
    expect(checkStream(conn.written, stream.offset)).toBe(0);
    expect(conn.calls.every((n) => n <= 100_000)).toBe(true);
    // Each run of writes that went above the high-water mark drains once.
    await until('drain', () => events.length === 2);
    expect(events).toEqual(['drain', 'drain']);
    expect(transport.bufferedAmount).toBe(0);
  });

  it('a coalescing buffer is not reused while its write is pending (many connections, slow writes)', async () => {
    const pairs = Array.from({ length: 40 }, () => fakeTransport());
    const offsets = pairs.map(() => 0);
    const expected: number[] = pairs.map(() => 0);
    for (const { conn } of pairs) {
      conn.auto = false;
      conn.limit = 777;
    }
    // Every connection queues a coalesced batch; none of the writes completes yet.
    for (let round = 0; round < 3; round++) {
      pairs.forEach(({ transport }, k) => {
        const header = streamBytes(offsets[k] as number, 2);
        const payload = streamBytes((offsets[k] as number) + 2, 5000 + k);
        offsets[k] = (offsets[k] as number) + header.length + payload.length;
        transport.write([header, payload]);
        expected[k] = offsets[k] as number;
      });
      await sleep(0);
    }
    // Complete writes a few at a time, round-robin, with new batches coming in between.
    let progress = true;
    while (progress) {
      progress = false;
      for (const { conn } of pairs) if (conn.complete()) progress = true;
      await sleep(0);
    }
    pairs.forEach(({ conn }, k) => {
      expect(conn.writtenBytes).toBe(expected[k] as number);
      expect(checkStream(conn.written, expected[k] as number)).toBe(0);
    });
  });

  it('end() after a batch: everything is written, then closeWrite; writes after end() are ignored', async () => {
    const { conn, transport } = fakeTransport();
    conn.limit = 500;
    let offset = 0;
    for (let i = 0; i < 20; i++) {
      transport.write([streamBytes(offset, 3), streamBytes(offset + 3, 700)]);
      offset += 703;
    }
    transport.end();
    expect(transport.write([new Uint8Array(5)])).toBe(false);
    await until('closeWrite', () => conn.closeWrites === 1);
    expect(conn.writtenBytes).toBe(offset);
    expect(checkStream(conn.written, offset)).toBe(0);
  });

  it('destroy() while a batch is being written: onClose once, and the pool keeps working', async () => {
    const { conn, transport, events } = fakeTransport();
    conn.auto = false;
    transport.write([new Uint8Array(2), new Uint8Array(3000)]);
    await sleep(0);
    expect(conn.pendingWrites).toBe(1);
    transport.destroy();
    await until('close', () => events.includes('close'));
    expect(conn.closed).toBe(true);
    expect(events).toEqual(['close']);
    // The buffer lent to the abandoned write is replaced: other connections still coalesce.
    const other = fakeTransport();
    other.transport.write([streamBytes(0, 2), streamBytes(2, 3000)]);
    await until('written', () => other.conn.writtenBytes === 3002);
    expect(checkStream(other.conn.written, 3002)).toBe(0);
  });
});
