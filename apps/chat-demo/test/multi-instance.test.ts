/**
 * Scale-out: three server processes — Node, Bun and Deno — on one Redis, members spread
 * across them, all in one room. Every message reaches every member exactly once and in
 * the same order; one instance is killed (SIGKILL) mid-way, its members reconnect to
 * another instance, resume from the last id they saw, resend what was never confirmed,
 * and miss nothing.
 */
import { connect, type WebSocketConnection } from '@fullduplex/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../src/server/protocol.ts';
import { ChatProcess, RUNTIMES, type Runtime } from './processes.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';

const ROOM = 'everyone';
const MEMBERS_PER_INSTANCE = 3;
const MESSAGES_PER_MEMBER = 24;

interface Received {
  readonly id: number;
  readonly nonce: string;
}

/** A chat member that keeps what it received by id and resumes like the page does. */
class Member {
  ws: WebSocketConnection | undefined;
  /** Every message received, in arrival order, across connections. */
  readonly received: Received[] = [];
  /** Own nonces not yet seen coming back from the room. */
  readonly unconfirmed = new Map<string, string>();
  /** History messages replayed by the last join. */
  replayed = 0;
  sent = 0;
  private lastId = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly name: string) {}

  /** Connects, says hello, joins with `since` and waits until the history replay is done. */
  async attach(url: string): Promise<void> {
    const ws = await connect(url, { protocols: [SUBPROTOCOL] });
    this.ws = ws;
    let replay = -1;
    const caughtUp = new Promise<void>((resolve, reject) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const message = JSON.parse(data as string);
        if (message.type === 'joined') {
          if (message.truncated) reject(new Error(`${this.name}: history truncated`));
          replay = message.count;
          this.replayed = message.count;
        } else if (message.type === 'msg') {
          this.received.push({ id: message.id, nonce: message.nonce });
          this.lastId = Math.max(this.lastId, message.id);
          this.unconfirmed.delete(message.nonce);
          replay -= 1;
          this.wake();
        } else if (message.type === 'error') {
          reject(new Error(`${this.name}: ${message.code} ${message.message}`));
        }
        if (replay === 0) resolve();
      });
      ws.on('close', () => {
        reject(new Error(`${this.name}: closed during join`));
        this.wake();
      });
    });
    ws.send(JSON.stringify({ type: 'hello', nick: this.name }));
    ws.send(JSON.stringify({ type: 'join', room: ROOM, ...(this.lastId > 0 ? { since: this.lastId } : {}) }));
    await caughtUp;
  }

  /** Sends the next own message (nonce = name#n). */
  sendNext(): void {
    this.sent += 1;
    const nonce = `${this.name}#${this.sent}`;
    this.unconfirmed.set(nonce, `message ${this.sent} from ${this.name}`);
    this.ws?.send(
      JSON.stringify({ type: 'msg', room: ROOM, text: `message ${this.sent} from ${this.name}`, nonce }),
    );
  }

  /** After a reconnect and catch-up: whatever the room never got goes again, same nonce. */
  resendUnconfirmed(): void {
    for (const [nonce, text] of this.unconfirmed) {
      this.ws?.send(JSON.stringify({ type: 'msg', room: ROOM, text, nonce }));
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  async waitFor(count: number, timeout = 30_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (this.received.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: ${this.received.length} of ${count} messages after ${timeout} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

let redis: RedisServer;
const instances = new Map<Runtime, ChatProcess>();
const members: Member[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  for (const runtime of RUNTIMES)
    instances.set(runtime, await ChatProcess.start(runtime, { redisUrl: redis.url }));
});
afterAll(async () => {
  for (const member of members) member.ws?.terminate();
  await Promise.all([...instances.values()].map((p) => p.kill()));
  await redis?.stop();
});

it('Node, Bun and Deno on one Redis: every member gets every message once, in one order, across a crash', async () => {
  const home = new Map<Member, Runtime>();
  for (const runtime of RUNTIMES) {
    for (let i = 0; i < MEMBERS_PER_INSTANCE; i++) {
      const member = new Member(`${runtime}${i}`);
      await member.attach((instances.get(runtime) as ChatProcess).wsUrl);
      members.push(member);
      home.set(member, runtime);
    }
  }
  const half = MESSAGES_PER_MEMBER / 2;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 120));

  // First half: everybody talks at once (under the per-connection rate limit).
  for (let round = 0; round < half; round++) {
    for (const member of members) member.sendNext();
    await pause();
  }
  // The Bun instance dies without a word while its members' last messages may be in flight.
  const victim: Runtime = 'bun';
  await (instances.get(victim) as ChatProcess).kill();
  instances.delete(victim);
  const orphans = members.filter((m) => home.get(m) === victim);
  const survivors = ['node', 'deno'] as const;
  // The room goes on without them for a while.
  for (let round = 0; round < 3; round++) {
    for (const member of members) if (!orphans.includes(member)) member.sendNext();
    await pause();
  }
  // Orphans move to the survivors (one to each, round robin) and resume from their last id.
  await Promise.all(
    orphans.map(async (member, i) => {
      await new Promise<void>((resolve) => {
        if (member.ws?.readyState === 3) resolve();
        else member.ws?.once('close', () => resolve());
      });
      const target = instances.get(survivors[i % survivors.length] as Runtime) as ChatProcess;
      await member.attach(target.wsUrl);
      member.resendUnconfirmed();
    }),
  );

  // They caught up from history on their new instance.
  for (const orphan of orphans) expect(orphan.replayed, orphan.name).toBeGreaterThanOrEqual(3 * 6);

  // Second half.
  for (let round = half; round < MESSAGES_PER_MEMBER; round++) {
    for (const member of members) member.sendNext();
    await pause();
  }
  const total = members.reduce((sum, m) => sum + m.sent, 0);
  await Promise.all(members.map((m) => m.waitFor(total)));
  await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra (a duplicate) would show up now

  const reference = members[0]?.received.map((r) => `${r.id}:${r.nonce}`) ?? [];
  expect(reference).toHaveLength(total);
  // Ids are the room's sequence: 1..total, consecutive.
  expect(members[0]?.received.map((r) => r.id)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  // Each message exactly once: every member's own nonces 1..sent.
  const expectedNonces = members.flatMap((m) =>
    Array.from({ length: m.sent }, (_, i) => `${m.name}#${i + 1}`),
  );
  expect(new Set(members[0]?.received.map((r) => r.nonce))).toEqual(new Set(expectedNonces));
  for (const member of members) {
    expect(
      member.received.map((r) => `${r.id}:${r.nonce}`),
      member.name,
    ).toEqual(reference);
    expect(member.unconfirmed.size, member.name).toBe(0);
  }
  expect(orphans).toHaveLength(MEMBERS_PER_INSTANCE);
});
