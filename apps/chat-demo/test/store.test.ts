/**
 * The store contract for MemoryStore and RedisStore, then what only a shared store
 * has to get right: several instances on one Redis agree on ids, order and presence,
 * survive a lost subscriber connection, reap a crashed instance, and fail clearly.
 * Redis is a private `redis-server` per run (see redis-server.ts).
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../src/server/redis-store.ts';
import { MemoryStore } from '../src/server/store.ts';
import { freePort, type RedisServer, startRedisServer } from './redis-server.ts';
import {
  defineStoreContract,
  eventually,
  file,
  member,
  Recorder,
  randomBytes,
  range,
  sameBytes,
  text,
} from './store-contract.ts';

let redis: RedisServer | undefined;
let admin: ReturnType<typeof createClient> | undefined;
let prefixes = 0;
const opened: RedisStore[] = [];
const errors: { error: Error; source: string }[] = [];

function server(): RedisServer {
  if (!redis) throw new Error('redis-server did not start (see the beforeAll error)');
  return redis;
}

/** A store on the shared server; each `prefix` is a separate world. */
async function redisStore(prefix: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const store = await createRedisStore(server().url, {
    prefix,
    onError: (error, source) => errors.push({ error, source }),
    ...options,
  });
  opened.push(store);
  return store;
}

/** Makes Redis drop the store's subscriber connection (it reconnects by itself). */
async function killSubscriber(store: RedisStore): Promise<void> {
  const list = String(await admin?.sendCommand(['CLIENT', 'LIST']));
  const line = list.split('\n').find((l) => l.includes(` name=${store.prefix}sub:${store.instanceId} `));
  const id = line?.match(/^id=(\d+)/)?.[1];
  if (!id) throw new Error(`subscriber of ${store.instanceId} not in CLIENT LIST`);
  expect(await admin?.sendCommand(['CLIENT', 'KILL', 'ID', id])).toBe(1);
}

const newPrefix = (): string => `t${++prefixes}-${Math.random().toString(36).slice(2, 8)}:`;

defineStoreContract('MemoryStore', (options) => new MemoryStore(options));

describe('RedisStore', () => {
  // A missing redis-server fails every test below with instructions (no skipping).
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await admin?.close();
    await redis?.stop();
  });

  defineStoreContract('RedisStore', (options) => redisStore(newPrefix(), options));

  describe('across instances', () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it('two instances see the same messages, presence and typing, in the same order', async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByA = new Recorder(a);
      const seenByB = new Recorder(b);
      await a.join('lobby', member('a1', 'ada'));
      await b.join('lobby', member('b1', 'bob'));
      for (let i = 0; i < 10; i++) {
        await (i % 2 ? a : b).append(
          'lobby',
          text('lobby', `m${i}`, i % 2 ? member('a1', 'ada') : member('b1', 'bob')),
        );
      }
      await b.broadcast('lobby', { kind: 'typing', from: member('b1', 'bob'), typing: true });
      await a.leave('lobby', 'a1');
      // 2 joins, 10 messages, typing, 1 leave.
      const done = (r: Recorder) => r.events.length === 14;
      await eventually(() => done(seenByA) && done(seenByB), '14 events on both instances');
      expect(seenByA.ids('lobby')).toEqual(range(1, 10));
      const summary = (r: Recorder) =>
        r.events.map(({ event }) =>
          event.kind === 'message'
            ? `${event.message.id}:${event.message.type === 'msg' ? event.message.text : ''}`
            : event.kind === 'presence'
              ? event.members.map((m) => m.nick).join('+')
              : `typing:${event.from.nick}`,
        );
      expect(summary(seenByA)).toEqual(summary(seenByB));
      expect(summary(seenByA)).toEqual([
        'ada',
        'ada+bob',
        ...range(1, 10).map((id) => `${id}:m${id - 1}`),
        'typing:bob',
        'bob',
      ]);
      expect(await a.rooms()).toEqual([{ name: 'lobby', online: 1 }]);
    });

    it('numbers 2×200 concurrent appends 1..400 and both instances deliver 1..400 in order', async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByA = new Recorder(a);
      const seenByB = new Recorder(b);
      const ids = await Promise.all(
        range(1, 200).flatMap((i) => [
          a.append('race', text('race', `a${i}`)),
          b.append('race', text('race', `b${i}`)),
        ]),
      );
      expect([...ids].sort((x, y) => x - y)).toEqual(range(1, 400));
      await eventually(
        () => seenByA.ids('race').length >= 400 && seenByB.ids('race').length >= 400,
        '400 messages on both',
      );
      expect(seenByA.ids('race')).toEqual(range(1, 400));
      expect(seenByB.ids('race')).toEqual(range(1, 400));
      expect(seenByA.messages('race')).toEqual(seenByB.messages('race'));
      const history = await b.since('race', 0);
      expect(history.head).toBe(400);
      expect(history.messages).toEqual(seenByA.messages('race').slice(-history.messages.length));
    });

    it('carries a random 2 MiB file byte for byte, through pub/sub and history', async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByB = new Recorder(b);
      const bytes = randomBytes(2 * 1024 * 1024);
      const id = await a.append('files', file('files', bytes));
      await eventually(() => seenByB.messages('files').length === 1, 'the file on the other instance');
      const [fanned] = seenByB.messages('files');
      const [stored] = (await b.since('files', id - 1)).messages;
      for (const message of [fanned, stored]) {
        if (message?.type !== 'file') throw new Error('expected a file message');
        expect(Object.getPrototypeOf(message.bytes)).toBe(Uint8Array.prototype);
        expect(message.bytes.byteLength).toBe(bytes.byteLength);
        expect(sameBytes(message.bytes, bytes)).toBe(true);
      }
    });

    it("since() returns only once this instance's subscribers have every message up to head", async () => {
      // ChatServer relies on it: what a joining client misses in history is in its buffer.
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByA = new Recorder(a);
      for (let i = 1; i <= 40; i++) {
        await b.append('sync', text('sync', `m${i}`));
        const slice = await a.since('sync', 0, 1);
        expect(slice.head).toBe(i);
        expect(seenByA.ids('sync')).toEqual(range(1, i));
      }
      // Even while A's subscriber is reconnecting (nothing arrives by pub/sub).
      await killSubscriber(a);
      await b.append('sync', text('sync', 'm41'));
      await b.append('sync', text('sync', 'm42'));
      expect((await a.since('sync', 0, 1)).head).toBe(42);
      expect(seenByA.ids('sync')).toEqual(range(1, 42));
    });

    it('fills a gap from history when a published message never arrived', async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByA = new Recorder(a);
      await b.append('gap', text('gap', 'one'));
      await eventually(() => seenByA.ids('gap').length === 1, 'message 1');
      // Message 2 lands in history but its PUBLISH is lost (written by hand, layout as documented).
      const header = JSON.stringify({
        type: 'msg',
        room: 'gap',
        ts: 5,
        from: member('x', 'ghost'),
        text: 'unseen',
      });
      await admin?.incr(`${prefix}h:gap`);
      await admin?.rPush(`${prefix}l:gap`, `2\n${header}\n`);
      await b.append('gap', text('gap', 'three'));
      await eventually(() => seenByA.ids('gap').length >= 3, 'messages 2 and 3');
      expect(seenByA.ids('gap')).toEqual([1, 2, 3]);
      expect(seenByA.messages('gap')[1]).toMatchObject({ id: 2, text: 'unseen', from: { nick: 'ghost' } });
    });

    it('catches up after its subscriber connection is killed, without loss or repeats', async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByA = new Recorder(a);
      const seenByB = new Recorder(b);
      const before = errors.length;
      for (let i = 1; i <= 5; i++) await b.append('kill', text('kill', `before ${i}`));
      await eventually(() => seenByA.ids('kill').length === 5, 'the first 5');

      // Keep A away: new connections need a password now (open ones stay logged in).
      await admin?.sendCommand(['CONFIG', 'SET', 'requirepass', 'locked-out']);
      try {
        await killSubscriber(a);
        // Published while A is away, then silence: only the catch-up after A
        // resubscribes can deliver these.
        await b.join('kill', member('b1', 'bob'));
        await Promise.all(range(6, 15).map((i) => b.append('kill', text('kill', `away ${i}`))));
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(seenByA.ids('kill')).toEqual(range(1, 5));
      } finally {
        await admin?.sendCommand(['CONFIG', 'SET', 'requirepass', '']);
      }
      await eventually(() => seenByA.ids('kill').length >= 15, 'messages 6..15 after the reconnection');
      expect(seenByA.ids('kill')).toEqual(range(1, 15));
      // The presence change it missed is re-read too (pub/sub does not keep it).
      await eventually(() => seenByA.presence('kill').length > 0, 'the missed presence');
      expect(seenByA.presence('kill').at(-1)).toEqual([member('b1', 'bob')]);

      // Again, talking all along this time: live messages and history interleave.
      await killSubscriber(a);
      for (let i = 16; i <= 60; i++) {
        await b.append('kill', text('kill', `during ${i}`));
        if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await eventually(
        () => seenByA.ids('kill').length >= 60 && seenByB.ids('kill').length >= 60,
        '60 messages on both',
      );
      expect(seenByA.ids('kill')).toEqual(range(1, 60));
      expect(seenByA.messages('kill')).toEqual(seenByB.messages('kill'));
      expect(errors.slice(before).filter((e) => e.source === 'subscriber').length).toBeGreaterThanOrEqual(2);
      await b.append('kill', text('kill', 'after'));
      await eventually(() => seenByA.ids('kill').length === 61, 'message 61');
      expect(seenByA.ids('kill')).toEqual(range(1, 61));
    });

    it("reaps a crashed instance's members within its ttl", async () => {
      const prefix = newPrefix();
      const fast = { heartbeatInterval: 100, instanceTtl: 600 };
      const a = await redisStore(prefix, fast);
      const b = await redisStore(prefix, fast);
      const seenByB = new Recorder(b);
      await a.join('lobby', member('a1', 'ada'));
      await a.join('lobby', member('a2', 'al'));
      await a.join('side', member('a1', 'ada'));
      await b.join('lobby', member('b1', 'bob'));
      await eventually(() => seenByB.presence('lobby').length === 3, 'presence of 3');
      const crashedAt = Date.now();
      a.abandon(); // no goodbye: members stay in Redis until someone reaps them
      await eventually(
        () => seenByB.presence('lobby').at(-1)?.length === 1 && seenByB.presence('side').at(-1)?.length === 0,
        'the crashed members leaving',
        3000,
      );
      expect(Date.now() - crashedAt).toBeLessThan(600 + 100 + 500);
      expect(seenByB.presence('lobby').at(-1)).toEqual([member('b1', 'bob')]);
      expect(await b.rooms()).toEqual([{ name: 'lobby', online: 1 }]);
      const c = await redisStore(prefix, fast);
      expect(await c.join('lobby', member('c1', 'cy'))).toEqual([member('b1', 'bob'), member('c1', 'cy')]);
    });

    it('puts its members back when it was taken for dead but is alive', async () => {
      const prefix = newPrefix();
      // A heartbeats slowly, B reaps often: B sees A's entry expired before A renews it.
      const a = await redisStore(prefix, { heartbeatInterval: 300, instanceTtl: 2000 });
      const b = await redisStore(prefix, { heartbeatInterval: 30, instanceTtl: 2000 });
      const seenByB = new Recorder(b);
      await a.join('lobby', member('a1', 'ada'));
      // As if A had stalled past its ttl: B reaps it, A's next heartbeat notices.
      const reaped = () => seenByB.presence('lobby').some((list) => list.length === 0);
      for (let attempt = 0; attempt < 20 && !reaped(); attempt++) {
        await admin?.zAdd(`${prefix}instances`, { score: 0, value: a.instanceId });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(reaped()).toBe(true);
      await eventually(() => seenByB.presence('lobby').at(-1)?.length === 1, 'A back', 3000);
      expect(seenByB.presence('lobby').at(-1)).toEqual([member('a1', 'ada')]);
    });

    it("close() removes the instance's members for everyone", async () => {
      const prefix = newPrefix();
      const a = await redisStore(prefix);
      const b = await redisStore(prefix);
      const seenByB = new Recorder(b);
      await a.join('lobby', member('a1', 'ada'));
      await b.join('lobby', member('b1', 'bob'));
      await a.close();
      await eventually(() => seenByB.presence('lobby').at(-1)?.length === 1, 'ada leaving');
      expect(seenByB.presence('lobby').at(-1)).toEqual([member('b1', 'bob')]);
      await expect(a.append('lobby', text('lobby', 'late'))).rejects.toThrow(/closed/);
    });

    it('rejects clearly when Redis is unreachable, within the connect timeout', async () => {
      const port = await freePort();
      const started = Date.now();
      await expect(
        createRedisStore(`redis://:secret@127.0.0.1:${port}`, { connectTimeout: 500, onError: () => {} }),
      ).rejects.toThrow(
        /Redis unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? \(no connection within 500 ms\)/,
      );
      expect(Date.now() - started).toBeLessThan(1500);
    });

    it('fails commands while Redis is down and recovers when it is back', async () => {
      const own = await startRedisServer();
      let again: RedisServer | undefined;
      const seen: { error: Error; source: string }[] = [];
      const store = await createRedisStore(own.url, {
        reconnectMaxDelay: 100,
        heartbeatInterval: 100,
        onError: (error, source) => seen.push({ error, source }),
      });
      try {
        const recorder = new Recorder(store);
        await store.join('r', member('m1', 'ada'));
        await store.append('r', text('r', 'one'));
        await store.append('r', text('r', 'two'));
        await eventually(() => recorder.ids('r').length === 2, 'two messages');
        await own.stop();
        await expect(store.append('r', text('r', 'lost'))).rejects.toThrow();
        await expect(store.since('r', 0)).rejects.toThrow();
        await expect(store.rooms()).rejects.toThrow();
        again = await startRedisServer(own.port);
        // A fresh Redis (no data, no scripts): ids start over, scripts are sent again.
        const deadline = Date.now() + 5000;
        let id: number | undefined;
        while (id === undefined) {
          if (Date.now() > deadline) throw new Error('no successful append within 5 s of the restart');
          id = await store.append('r', text('r', 'after restart')).catch(() => undefined);
          if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(id).toBe(1);
        await eventually(
          () => recorder.messages('r').some((m) => m.type === 'msg' && m.text === 'after restart'),
          'the new message delivered',
        );
        // The heartbeat found the instance missing and joined its member again.
        for (let i = 0; (await store.rooms())[0]?.online !== 1; i++) {
          if (i > 100) throw new Error('presence not restored within 3 s');
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        expect(await store.rooms()).toEqual([{ name: 'r', online: 1 }]);
        await eventually(() => recorder.presence('r').at(-1)?.length === 1, 'presence delivered');
        expect(recorder.presence('r').at(-1)).toEqual([member('m1', 'ada')]);
        expect(seen.some((e) => e.source === 'command')).toBe(true);
        await store.close();
      } finally {
        store.abandon();
        await own.stop();
        await again?.stop();
      }
    });
  });
});
