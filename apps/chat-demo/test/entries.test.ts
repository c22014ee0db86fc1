/**
 * The three entries as people run them: each serves the page and the chat on one
 * port, speaks the same protocol, and shuts down cleanly on SIGTERM.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../src/server/protocol.ts';
import { Client } from './helpers.ts';
import { ChatProcess, RUNTIMES } from './processes.ts';

const running: ChatProcess[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await Promise.all(running.splice(0).map((p) => p.kill()));
});

async function start(runtime: (typeof RUNTIMES)[number]): Promise<ChatProcess> {
  const chat = await ChatProcess.start(runtime);
  running.push(chat);
  return chat;
}

async function open(url: string, nick: string): Promise<Client> {
  const client = await Client.open(url, nick);
  clients.push(client);
  return client;
}

describe.each(RUNTIMES)('the %s entry', (runtime) => {
  it('serves the page, its assets and nothing outside public/', async () => {
    const chat = await start(runtime);
    const page = await fetch(chat.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    const script = await fetch(`${chat.url}/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await script.text()).length).toBeGreaterThan(1000);
    const head = await fetch(`${chat.url}/style.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
    expect((await fetch(`${chat.url}/nope.js`)).status).toBe(404);
    expect((await fetch(`${chat.url}/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${chat.url}/..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${chat.url}/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(chat.url, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('chats over /ws with the subprotocol, refuses clients without it', async () => {
    const chat = await start(runtime);
    await expect(Client.open(chat.wsUrl, undefined, [])).rejects.toMatchObject({ status: 400 });
    await expect(Client.open(chat.wsUrl, undefined, ['other'])).rejects.toMatchObject({ status: 400 });
    const ada = await open(chat.wsUrl, 'ada');
    const bob = await open(chat.wsUrl, 'bob');
    ada.send({ type: 'join', room: 'lobby' });
    bob.send({ type: 'join', room: 'lobby' });
    await ada.next((m) => m.type === 'joined');
    await bob.next((m) => m.type === 'joined');
    ada.send({ type: 'msg', room: 'lobby', text: `hello from ${runtime}` });
    const got = await bob.next((m) => m.type === 'msg');
    expect(got).toMatchObject({ id: 1, room: 'lobby', text: `hello from ${runtime}`, from: { nick: 'ada' } });
    expect(ada.ws.protocol).toBe(SUBPROTOCOL);
  });

  it('SIGTERM closes every connection with 1001 and exits 0', async () => {
    const chat = await start(runtime);
    const ada = await open(chat.wsUrl, 'ada');
    expect(await chat.stop()).toBe(0);
    expect((await ada.closed()).code).toBe(1001);
  });
});
