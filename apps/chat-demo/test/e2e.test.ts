/**
 * The page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
 * against the real entry on Node, on Bun and on Deno: two people chat, send an image, see
 * each other online and typing; the server process is killed (SIGKILL) and started again
 * on the same port, and the pages catch up on exactly what they missed. History lives in
 * a private Redis, which a second instance keeps writing to while the first is down.
 * Screenshots go to artifacts/<runtime>/ (kept by CI, not committed).
 */
import { mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from './helpers.ts';
import { ChatProcess, RUNTIMES, type Runtime } from './processes.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let browser: Browser;
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
});
afterAll(async () => {
  await browser?.close();
  await redis?.stop();
});

/** A 96×64 gradient PNG. */
function png(width = 96, height = 64): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = (crcTable[(c ^ b) & 255] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      raw.set([(x * 255) / width, (y * 255) / height, 200], y * (width * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function enter(url: string, nick: string, room: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${nick}] page error:`, error));
  await page.goto(url);
  await page.fill('#login-nick', nick);
  await page.fill('#login-room', room);
  await page.click('#login-form button');
  await page.waitForSelector('#status[data-state="online"]');
  return page;
}

const texts = (page: Page) =>
  page.$$eval('#messages .msg[data-type="msg"] .body', (nodes) => nodes.map((n) => n.textContent));
const messageIds = (page: Page) =>
  page.$$eval('#messages .msg', (nodes) => nodes.map((n) => Number((n as HTMLElement).dataset.id)));

describe.each(RUNTIMES)('the page against the %s server', (runtime: Runtime) => {
  const ARTIFACTS = new URL(`../artifacts/${runtime}/`, import.meta.url).pathname;
  // One room per runtime: the Redis is shared by the three runs.
  const room = `lobby-${runtime}`;
  let primary: ChatProcess;
  let secondary: ChatProcess;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    primary = await ChatProcess.start(runtime, { redisUrl: redis.url });
    // A second instance on the same Redis keeps the room alive while the primary is down.
    secondary = await ChatProcess.start(runtime, { redisUrl: redis.url });
  });
  afterAll(async () => {
    await primary?.kill();
    await secondary?.kill();
  });

  it('two pages chat, share an image, and catch up after the server process is killed and restarted', async () => {
    const ada = await enter(primary.url, 'ada', room);
    const bob = await enter(primary.url, 'bob', room);

    // Presence: both see both.
    await ada.waitForFunction(() => document.querySelectorAll('#members li').length === 2);
    await bob.waitForFunction(() => document.querySelectorAll('#members li').length === 2);

    // Typing indicator.
    await bob.type('#text', 'hi ada');
    await ada.waitForFunction(() =>
      document.getElementById('typing')?.textContent?.includes('bob is typing'),
    );
    await bob.press('#text', 'Enter');
    await ada.waitForFunction(() =>
      [...document.querySelectorAll('.msg .body')].some((n) => n.textContent === 'hi ada'),
    );
    await ada.waitForFunction(() => document.getElementById('typing')?.textContent === '');

    // An image, inline for both.
    await ada.setInputFiles('#file', { name: 'gradient.png', mimeType: 'image/png', buffer: png() });
    for (const page of [ada, bob]) {
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('.msg img');
        return img?.complete === true && img.naturalWidth === 96;
      });
    }
    await ada.fill('#text', 'nice, right?');
    await ada.press('#text', 'Enter');
    await bob.waitForFunction(() =>
      [...document.querySelectorAll('.msg .body')].some((n) => n.textContent === 'nice, right?'),
    );
    await ada.screenshot({ path: `${ARTIFACTS}chat-ada.png` });
    await bob.screenshot({ path: `${ARTIFACTS}chat-bob.png` });

    // The server dies; meanwhile the room goes on through the other instance.
    const port = primary.port;
    await primary.kill();
    for (const page of [ada, bob]) await page.waitForSelector('#status:not([data-state="online"])');
    await ada.screenshot({ path: `${ARTIFACTS}chat-offline.png` });
    const carol = await Client.open(secondary.wsUrl, 'carol');
    carol.send({ type: 'join', room });
    await carol.next((m) => m.type === 'joined');
    for (let i = 1; i <= 3; i++) carol.send({ type: 'msg', room, text: `missed ${i}` });
    await carol.next((m) => m.type === 'msg' && m.text === 'missed 3');

    // Back on the same port: both pages reconnect and get exactly what they missed.
    primary = await ChatProcess.start(runtime, { port, redisUrl: redis.url });
    const expected = ['hi ada', 'nice, right?', 'missed 1', 'missed 2', 'missed 3'];
    for (const page of [ada, bob]) {
      await page.waitForSelector('#status[data-state="online"]', { timeout: 20_000 });
      await page.waitForFunction(
        () => [...document.querySelectorAll('.msg .body')].some((n) => n.textContent === 'missed 3'),
        undefined,
        { timeout: 20_000 },
      );
      expect(await texts(page)).toEqual(expected);
      expect(await messageIds(page)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    await bob.waitForFunction(() => document.querySelectorAll('#members li').length === 3);

    // A reload resumes from sessionStorage: the log stays, nothing repeats, new messages arrive.
    await bob.reload();
    await bob.waitForSelector('#status[data-state="online"]');
    carol.send({ type: 'msg', room, text: 'after the reload' });
    await bob.waitForFunction(() =>
      [...document.querySelectorAll('.msg .body')].some((n) => n.textContent === 'after the reload'),
    );
    expect(await texts(bob)).toEqual([...expected, 'after the reload']);
    expect(await messageIds(bob)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await bob.screenshot({ path: `${ARTIFACTS}chat-bob-after-reload.png` });
    carol.ws.close();
  });
});
