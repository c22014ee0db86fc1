import { connect } from '@fullduplex/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeChat, startNodeChat } from '../src/node-app.ts';
import { LIMITS } from '../src/server/protocol.ts';
import { MemoryStore } from '../src/server/store.ts';
import { Client } from './helpers.ts';

let chat: NodeChat;
let url: string;
const store = new MemoryStore();
const clients: Client[] = [];
const open = async (nick?: string): Promise<Client> => {
  const client = await Client.open(url, nick);
  clients.push(client);
  return client;
};
const ids = (messages: { id: number }[]) => messages.map((m) => m.id);
const sameSet = <T>(a: Set<T>, b: Set<T>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

beforeAll(async () => {
  chat = await startNodeChat({ port: 0, host: '127.0.0.1', store });
  url = `ws://127.0.0.1:${chat.port}/ws`;
});
afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await chat.close();
});

describe('handshake', () => {
  it('refuses a client without the subprotocol with 400', async () => {
    await expect(connect(url)).rejects.toThrow(/400/);
    await expect(connect(url, { protocols: ['fullduplex-chat.v0'] })).rejects.toThrow(/400/);
  });

  it('serves the page on the same port', async () => {
    const res = await fetch(`http://127.0.0.1:${chat.port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('fullduplex chat');
    expect((await fetch(`http://127.0.0.1:${chat.port}/%2e%2e/package.json`)).status).toBe(404);
  });
});

describe('a room', () => {
  it('carries text, files, presence and typing between two clients', async () => {
    const ada = await open('ada');
    ada.send({ type: 'join', room: 'lobby' });
    const joined = await ada.next((m) => m.type === 'joined');
    expect(joined).toMatchObject({ room: 'lobby', head: 0, count: 0, truncated: false });

    const bob = await open('bob');
    bob.send({ type: 'join', room: 'lobby' });
    await bob.next((m) => m.type === 'joined');
    const presence = await ada.next((m) => m.type === 'presence' && m.joined.length > 0);
    // Only the change travels: bob came, nobody left.
    expect(presence).toMatchObject({ room: 'lobby', joined: [{ nick: 'bob' }], left: [] });
    const bobId = presence.joined[0].id;
    const bobJoined = bob.messages.find((m) => m.type === 'joined');
    expect(bobJoined.members.map((m: { nick: string }) => m.nick).sort()).toEqual(['ada', 'bob']);

    bob.send({ type: 'typing', room: 'lobby', typing: true });
    expect(await ada.next((m) => m.type === 'typing')).toMatchObject({ from: { nick: 'bob' }, typing: true });

    ada.send({ type: 'msg', room: 'lobby', text: 'hello bob', nonce: 'n-1' });
    const text = await bob.next((m) => m.type === 'msg');
    expect(text).toMatchObject({
      room: 'lobby',
      id: 1,
      text: 'hello bob',
      from: { nick: 'ada' },
      nonce: 'n-1',
    });
    // The sender gets its own message back, with its id.
    expect(await ada.next((m) => m.type === 'msg')).toMatchObject({ id: 1, nonce: 'n-1' });

    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
    bob.send({ type: 'file', room: 'lobby', name: 'pic.png', mime: 'image/png', size: bytes.length });
    bob.ws.send(bytes, { binary: true });
    const file = await ada.next((m) => m.type === 'file');
    expect(file).toMatchObject({
      id: 2,
      name: 'pic.png',
      mime: 'image/png',
      size: bytes.length,
      from: { nick: 'bob' },
    });
    expect(Buffer.from(file.bytes).equals(Buffer.from(bytes))).toBe(true);

    bob.ws.close(1000);
    const after = await ada.next((m) => m.type === 'presence' && m.left.length > 0);
    expect(after).toMatchObject({ joined: [], left: [bobId] });
  });

  it('resumes after a reconnect with exactly the missed messages, in order, none twice', async () => {
    const ada = await open('ada');
    const bob = await open('bob');
    for (const c of [ada, bob]) c.send({ type: 'join', room: 'resume' });
    await ada.next((m) => m.type === 'joined');
    await bob.next((m) => m.type === 'joined');
    for (let i = 1; i <= 3; i++) ada.send({ type: 'msg', room: 'resume', text: `before ${i}` });
    await bob.next((m) => m.type === 'msg' && m.text === 'before 3');
    const lastSeen = bob.chat('resume').at(-1).id;
    bob.ws.terminate();

    for (let i = 1; i <= 4; i++) ada.send({ type: 'msg', room: 'resume', text: `missed ${i}` });
    await ada.next((m) => m.type === 'msg' && m.text === 'missed 4');

    const back = await open('bob');
    back.send({ type: 'join', room: 'resume', since: lastSeen });
    const joined = await back.next((m) => m.type === 'joined');
    expect(joined).toMatchObject({ head: lastSeen + 4, count: 4, truncated: false });
    ada.send({ type: 'msg', room: 'resume', text: 'live' });
    await back.next((m) => m.type === 'msg' && m.text === 'live');
    expect(back.chat('resume').map((m) => m.text)).toEqual([
      'missed 1',
      'missed 2',
      'missed 3',
      'missed 4',
      'live',
    ]);
    expect(ids(back.chat('resume'))).toEqual([4, 5, 6, 7, 8]);
  });

  it('joining while messages stream in loses none and repeats none', async () => {
    const ada = await open('ada');
    ada.send({ type: 'join', room: 'stream' });
    await ada.next((m) => m.type === 'joined');
    const late = await open('late');
    for (let i = 1; i <= 30; i++) {
      ada.send({ type: 'msg', room: 'stream', text: `m${i}` });
      if (i === 10) late.send({ type: 'join', room: 'stream', since: 0 });
    }
    await late.next((m) => m.type === 'msg' && m.text === 'm30');
    expect(ids(late.chat('stream'))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('presence travels as changes: every member ends with the true list, at O(N) bytes per join', async () => {
    // Two instances on one store: half the members on each.
    const other = await startNodeChat({ port: 0, host: '127.0.0.1', store });
    try {
      const urls = [url, `ws://127.0.0.1:${other.port}/ws`];
      const members: Client[] = [];
      for (let i = 0; i < 30; i++) {
        const client = await Client.open(urls[i % 2] as string, `p${i}`);
        clients.push(client);
        client.send({ type: 'join', room: 'crowd' });
        await client.next((m) => m.type === 'joined');
        members.push(client);
      }
      const picture = (client: Client): Set<string> => {
        const joined = client.messages.find((m) => m.type === 'joined' && m.room === 'crowd');
        const list = new Map<string, string>(
          joined.members.map((m: { id: string; nick: string }) => [m.id, m.nick]),
        );
        for (const m of client.messages) {
          if (m.type !== 'presence' || m.room !== 'crowd') continue;
          for (const id of m.left) list.delete(id);
          for (const member of m.joined) list.set(member.id, member.nick);
        }
        return new Set(list.values());
      };
      const nicks = (from: number, to: number) =>
        new Set(Array.from({ length: to - from }, (_, i) => `p${from + i}`));
      const settle = async (expected: Set<string>, who: Client[]): Promise<void> => {
        const deadline = Date.now() + 10_000;
        while (who.some((c) => !sameSet(picture(c), expected)) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        for (const c of who) expect(picture(c)).toEqual(expected);
      };
      await settle(nicks(0, 30), members);
      // Full lists would cost the room ~35 B × N³/3 ≈ 315 KB here; changes cost O(N²) in all.
      const presenceBytes = members
        .flatMap((c) => c.messages.filter((m) => m.type === 'presence'))
        .reduce((sum, m) => sum + JSON.stringify(m).length, 0);
      expect(presenceBytes).toBeLessThan(60_000);
      // The first ten go (five from each instance); the rest see exactly the twenty left.
      for (const client of members.slice(0, 10)) client.ws.close(1000);
      await settle(nicks(10, 30), members.slice(10));
    } finally {
      await other.close();
    }
  });

  it('resumes across a server restart on the same port (store kept)', async () => {
    const ada = await open('ada');
    ada.send({ type: 'join', room: 'restart' });
    await ada.next((m) => m.type === 'joined');
    ada.send({ type: 'msg', room: 'restart', text: 'one' });
    const seen = await ada.next((m) => m.type === 'msg' && m.text === 'one');

    const port = chat.port;
    await chat.kill();
    expect((await ada.closed()).code).toBe(1006);
    chat = await startNodeChat({ port, host: '127.0.0.1', store });
    const other = await open('other');
    other.send({ type: 'join', room: 'restart' });
    await other.next((m) => m.type === 'joined');
    other.send({ type: 'msg', room: 'restart', text: 'two' });
    other.send({ type: 'msg', room: 'restart', text: 'three' });
    await other.next((m) => m.type === 'msg' && m.text === 'three');

    const again = await open('ada');
    again.send({ type: 'join', room: 'restart', since: seen.id });
    await again.next((m) => m.type === 'msg' && m.text === 'three');
    expect(again.chat('restart').map((m) => m.text)).toEqual(['two', 'three']);
  });

  it('reports evicted history as truncated', async () => {
    const small = new MemoryStore({ historyLimit: 3 });
    for (let i = 0; i < 5; i++) {
      await small.append('r', {
        type: 'msg',
        room: 'r',
        ts: 0,
        from: { id: 'x', nick: 'x' },
        text: String(i),
      });
    }
    const slice = await small.since('r', 1);
    expect(ids([...slice.messages])).toEqual([3, 4, 5]);
    expect(slice.head).toBe(5);
  });
});

describe('malformed and oversized input', () => {
  it('answers invalid messages with an error and stays open', async () => {
    const c = await open();
    c.send({ type: 'join', room: 'lobby' });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'not_ready' });
    c.send({ type: 'hello', nick: '<script>' });
    expect(await c.next((m) => m.code === 'bad_nick')).toBeTruthy();
    c.send({ type: 'hello', nick: 'ok' });
    await c.next((m) => m.type === 'welcome');
    c.send('not json');
    expect(await c.next((m) => m.code === 'bad_json')).toBeTruthy();
    c.send({ type: 'nope' });
    expect(await c.next((m) => m.code === 'unknown_type')).toBeTruthy();
    c.send({ type: 'msg', room: 'lobby', text: 'not joined' });
    expect(await c.next((m) => m.code === 'not_joined')).toBeTruthy();
    c.send({ type: 'file', room: 'lobby', name: 'x', mime: 'image/png', size: LIMITS.maxFileBytes + 1 });
    expect(await c.next((m) => m.code === 'too_large')).toBeTruthy();
    expect(c.closeInfo).toBeUndefined();
  });

  it('closes 1003 on a binary frame nobody announced', async () => {
    const c = await open('bin');
    c.ws.send(new Uint8Array([1, 2, 3]), { binary: true });
    expect((await c.closed()).code).toBe(1003);
  });

  it('closes 1008 when the file bytes do not match the announcement', async () => {
    const c = await open('liar');
    c.send({ type: 'join', room: 'lobby' });
    await c.next((m) => m.type === 'joined');
    c.send({ type: 'file', room: 'lobby', name: 'x.bin', mime: 'application/octet-stream', size: 10 });
    c.ws.send(new Uint8Array(11), { binary: true });
    expect((await c.closed()).code).toBe(1008);
  });

  it('closes 1009 on an oversized control message and on a frame over the file limit', async () => {
    const a = await open('big');
    a.send('x'.repeat(LIMITS.maxControlChars + 1));
    expect((await a.closed()).code).toBe(1009);
    const b = await open('bigger');
    b.ws.send(new Uint8Array(LIMITS.maxFileBytes + 1), { binary: true });
    expect((await b.closed()).code).toBe(1009);
  });

  it('closes 1008 after too many errors and on floods', async () => {
    const a = await open('noisy');
    for (let i = 0; i <= LIMITS.maxErrors; i++) a.send('{');
    expect((await a.closed()).code).toBe(1008);
    const b = await open('flood');
    for (let i = 0; i < 100; i++) b.send({ type: 'typing', room: 'lobby', typing: true });
    expect((await b.closed()).code).toBe(1008);
  });
});
