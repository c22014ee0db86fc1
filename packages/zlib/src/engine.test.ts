import { type DeflateEngine, type DeflateParams, InflateLimitError } from '@fullduplex/protocol';
import { describe, expect, it } from 'vitest';
import { createZlibEngine } from './engine.ts';
import { ConcurrencyLimiter } from './limiter.ts';

const TAKEOVER: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const NO_TAKEOVER: DeflateParams = {
  ...TAKEOVER,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
};
const enc = new TextEncoder();

function pair(params: DeflateParams, syncLimit?: number): { server: DeflateEngine; client: DeflateEngine } {
  const factory = createZlibEngine({ syncLimit });
  return { server: factory({ side: 'server', params }), client: factory({ side: 'client', params }) };
}

describe('zlib engine', () => {
  for (const [name, params] of [
    ['context takeover', TAKEOVER],
    ['no context takeover', NO_TAKEOVER],
  ] as const) {
    it(`round-trips messages of every size (${name}, sync and async paths)`, async () => {
      for (const syncLimit of [0, 1 << 20]) {
        const { server, client } = pair(params, syncLimit);
        for (const size of [0, 1, 100, 5000, 70_000, 1 << 20]) {
          const data = enc.encode('chat message '.repeat(Math.ceil(size / 13)).slice(0, size));
          const packed = await server.compress(data);
          expect(Array.from((await client.decompress(packed, 1 << 22)).subarray(0, 64))).toEqual(
            Array.from(data.subarray(0, 64)),
          );
          expect((await client.decompress(await server.compress(data), 1 << 22)).length).toBe(size);
        }
        server.close();
        client.close();
      }
    });
  }

  it('strips the trailing 00 00 ff ff (RFC 7692 §7.2.1): "Hello" is f2 48 cd c9 c9 07 00', async () => {
    const { server } = pair(NO_TAKEOVER);
    expect(Array.from(await server.compress(enc.encode('Hello')))).toEqual([
      0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
    ]);
  });

  it('with context takeover a repeated message compresses to less the second time (RFC 7692 §7.2.3.2)', async () => {
    const { server, client } = pair(TAKEOVER);
    const hello = enc.encode('Hello');
    const first = await server.compress(hello);
    const second = await server.compress(hello);
    expect(Array.from(second)).toEqual([0xf2, 0x00, 0x11, 0x00, 0x00]);
    expect(second.length).toBeLessThan(first.length);
    expect(new TextDecoder().decode(await client.decompress(first, 100))).toBe('Hello');
    expect(new TextDecoder().decode(await client.decompress(second, 100))).toBe('Hello');
  });

  it('after a message that ends the DEFLATE stream (BFINAL), inflates the next ones on a new stream', async () => {
    // Found by the fuzzer (packages/fuzz/regressions/inflate): the context-takeover
    // inflater went on feeding an ended zlib stream, so later messages came out empty.
    for (const syncLimit of [0, 1 << 20]) {
      const { client } = pair(TAKEOVER, syncLimit);
      const finalHello = Uint8Array.of(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00);
      const hello = Uint8Array.of(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
      const text = async (data: Uint8Array) => new TextDecoder().decode(await client.decompress(data, 100));
      expect(await text(finalHello)).toBe('Hello');
      expect(await text(finalHello)).toBe('Hello');
      expect(await text(hello)).toBe('Hello');
      expect(await text(Uint8Array.of(0xf2, 0x00, 0x11, 0x00, 0x00))).toBe('Hello'); // refers back to the last one
      client.close();
    }
  });

  it('stops inflating at the limit: 16 MiB of zeros against a 1 MiB cap (sync and async)', async () => {
    for (const params of [TAKEOVER, NO_TAKEOVER]) {
      const { server, client } = pair(params);
      const bomb = await server.compress(new Uint8Array(16 * 1024 * 1024));
      expect(bomb.length).toBeLessThan(128 * 1024); // level 1: ~72 KiB
      let caught: unknown;
      try {
        await client.decompress(bomb, 1024 * 1024);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InflateLimitError);
    }
  });

  it('rejects corrupt data with an error that is not a limit error', async () => {
    for (const params of [TAKEOVER, NO_TAKEOVER]) {
      const { client } = pair(params);
      let caught: unknown;
      try {
        await client.decompress(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]), 1000);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Error);
      expect(caught).not.toBeInstanceOf(InflateLimitError);
    }
  });

  it('does not compress when its window was capped at 8 bits', () => {
    const factory = createZlibEngine();
    expect(factory({ side: 'client', params: { ...TAKEOVER, clientMaxWindowBits: 8 } }).compresses).toBe(
      false,
    );
    expect(factory({ side: 'server', params: { ...TAKEOVER, clientMaxWindowBits: 8 } }).compresses).toBe(
      true,
    );
  });

  it('keeps the order of overlapping calls on one context', async () => {
    const { server, client } = pair(TAKEOVER, 0);
    const messages = Array.from({ length: 50 }, (_, i) => enc.encode(`message ${i} `.repeat(100 + i)));
    const packed = await Promise.all(messages.map((m) => server.compress(m)));
    for (let i = 0; i < messages.length; i++) {
      expect((await client.decompress(packed[i] as Uint8Array, 1 << 20)).length).toBe(
        (messages[i] as Uint8Array).length,
      );
    }
  });
});

describe('ConcurrencyLimiter', () => {
  it('never runs more than its limit at once, in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(limiter.pending).toBe(0);
    expect(() => new ConcurrencyLimiter(0)).toThrow(RangeError);
  });
});

describe('ConcurrencyLimiter: byte budget', () => {
  it('holds jobs whose reservation does not fit, in arrival order; one larger than the budget runs alone', async () => {
    const limiter = new ConcurrencyLimiter(10, 100);
    let reservedPeak = 0;
    const order: string[] = [];
    const job = (name: string, ms: number) => async (): Promise<void> => {
      reservedPeak = Math.max(reservedPeak, limiter.reservedBytes);
      order.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      order.push(`end ${name}`);
    };
    await Promise.all([
      limiter.run(job('a', 20), 60),
      limiter.run(job('b', 5), 60), // does not fit beside a
      limiter.run(job('c', 5), 10), // would fit, but waits behind b (FIFO)
      limiter.run(job('huge', 5), 500), // runs once nothing is reserved
      limiter.run(job('d', 5), 30),
    ]);
    expect(order.slice(0, 3)).toEqual(['start a', 'end a', 'start b']);
    expect(order.indexOf('start c')).toBeGreaterThan(order.indexOf('start b'));
    const huge = order.indexOf('start huge');
    expect(order.slice(huge, huge + 2)).toEqual(['start huge', 'end huge']);
    expect(reservedPeak).toBeLessThanOrEqual(500);
    expect(limiter.reservedBytes).toBe(0);
    expect(() => new ConcurrencyLimiter(1, 0)).toThrow(RangeError);
  });

  it('inflating many bombs at once stays within the budget: each is refused at its cap, and later messages inflate', async () => {
    const budget = 8 * 1024 * 1024;
    const factory = createZlibEngine({ inflateBudget: budget, concurrency: 16 });
    const server = factory({ side: 'server', params: TAKEOVER });
    const bomb = await server.compress(new Uint8Array(32 * 1024 * 1024));
    const clients = Array.from({ length: 16 }, () => factory({ side: 'client', params: TAKEOVER }));
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, factory.inflateReservedBytes);
    }, 1);
    const all = Promise.allSettled(clients.map((c) => c.decompress(bomb, 4 * 1024 * 1024)));
    const results = await all;
    clearInterval(sampler);
    // Two 4 MiB reservations fit in 8 MiB: never more than that at once, not 16 × 4 MiB.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(budget);
    expect(factory.pendingJobs).toBe(0);
    // What the refused inflates allocated holds the budget until it is collected, or briefly.
    for (let i = 0; i < 100 && factory.inflateReservedBytes !== 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(factory.inflateReservedBytes).toBe(0);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(InflateLimitError);
    }
    const sender = factory({ side: 'server', params: TAKEOVER });
    const fresh = factory({ side: 'client', params: TAKEOVER });
    const hello = await sender.compress(enc.encode('still works'));
    expect(new TextDecoder().decode(await fresh.decompress(hello, 100))).toBe('still works');
    for (const engine of [server, sender, fresh, ...clients]) engine.close();
  }, 15_000);
});

describe('zlib engine: context takeover across messages', () => {
  for (const windowBits of [9, 10, 12, 15]) {
    it(`inflates a long run of messages that refer back into earlier ones (window ${windowBits} bits, sync and async)`, async () => {
      for (const syncLimit of [0, 1 << 20]) {
        const params: DeflateParams = {
          ...TAKEOVER,
          serverMaxWindowBits: windowBits,
          clientMaxWindowBits: windowBits,
        };
        const factory = createZlibEngine({ syncLimit });
        const sender = factory({ side: 'server', params });
        const receiver = factory({ side: 'client', params });
        const words = ['alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon ', '{"type":"chat","room":"lobby"} '];
        let seed = windowBits * 7 + syncLimit;
        const random = (): number => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed;
        };
        for (let i = 0; i < 150; i++) {
          // Sizes from a few bytes to beyond the window, so references cross message boundaries.
          const size = [3, 40, 700, 5000, 40_000][random() % 5] as number;
          let text = '';
          while (text.length < size) text += words[random() % words.length];
          const message = enc.encode(text.slice(0, size));
          const packed = await sender.compress(message);
          const inflated = await receiver.decompress(packed, 1 << 20);
          expect(inflated.length).toBe(message.length);
          expect(Buffer.from(inflated).equals(Buffer.from(message))).toBe(true);
        }
        sender.close();
        receiver.close();
      }
    });
  }

  it('a small message inflated from a large output chunk does not keep the chunk', async () => {
    const factory = createZlibEngine({ syncLimit: 0 });
    const { server, client } = {
      server: factory({ side: 'server', params: TAKEOVER }),
      client: factory({ side: 'client', params: TAKEOVER }),
    };
    const out = await client.decompress(await server.compress(enc.encode('small')), 1000);
    expect(out.buffer.byteLength).toBeLessThan(64 * 1024);
    server.close();
    client.close();
  });
});
