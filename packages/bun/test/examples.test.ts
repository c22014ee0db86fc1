/**
 * The contract of the Bun examples that other tools (benchmarks, Autobahn, CI) rely on, checked on
 * the real programs run as `bun examples/<name>/bun.ts` in child processes:
 *   PORT is honoured, `listening on <port>` is printed exactly, echo returns every message verbatim
 *   with its type, broadcast relays to every OTHER connection, DEFLATE=1 negotiates
 *   permessage-deflate, SIGTERM and SIGINT end the process with exit code 0.
 * And the malformed input of the shared adapter suite (raw TCP garbage, bad handshakes, bad frames)
 * thrown at the echo example: each ends with the right status or close code, and the process is
 * still alive and echoing afterwards.
 *
 * Needs the built package (`cd packages/bun && npx tsup`): the examples import '@fullduplex/bun'.
 */

import { afterAll, describe, expect, it } from 'bun:test';
import { Opcode, type WebSocketConnection } from '@fullduplex/protocol';
import { BAD_FRAMES, BAD_HANDSHAKES } from '@fullduplex/testkit/adapter/malformed';
import { headEnd, RawClient, upgradeRequest } from '@fullduplex/testkit/adapter/raw-client';
import { connect } from '../src/index.ts';
import {
  type ChildServer,
  freePort,
  killChildren,
  MiB,
  ROOT,
  spawnServer,
  summarise,
  withTimeout,
} from './support.ts';

/** Per test and hook: child processes and browsers are slow on a busy machine. */
const TIMEOUT = 20_000;

afterAll(killChildren);

const TEXT = 'echo ✓ 🚀 漢字';
const BYTES = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);

/** `bun examples/<name>/bun.ts` with PORT (a free port we picked) and the given environment. */
async function startExample(
  name: 'echo' | 'broadcast',
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const port = await freePort();
  const example = await spawnServer([process.execPath, `examples/${name}/bun.ts`], /^listening on (\d+)$/, {
    cwd: ROOT,
    env: { PORT: String(port), ...env },
    what: `bun examples/${name}/bun.ts`,
  });
  // PORT is honoured and the line is exactly `listening on <port>`.
  expect(example.port).toBe(port);
  return example;
}

/** Sends `signal` and resolves with the exit code (null if it did not exit within 5 s). */
async function stopExample(example: ChildServer, signal: 'SIGTERM' | 'SIGINT'): Promise<number | null> {
  example.child.kill(signal);
  const exited = await withTimeout(example.child.exited, 5000, `exit after ${signal}`).catch(() => null);
  if (exited === null) example.child.kill('SIGKILL');
  return exited === null ? null : example.child.exitCode;
}

function nextMessage(
  ws: WebSocketConnection,
  timeoutMs = 5000,
): Promise<{ data: string | Uint8Array; binary: boolean }> {
  return withTimeout(
    new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data, binary }))),
    timeoutMs,
    'a message',
  );
}

/** Checks the example echoes text and binary verbatim with their types, and closes cleanly. */
async function expectEchoes(url: string): Promise<void> {
  const ws = await connect(url);
  ws.send(TEXT);
  expect(await nextMessage(ws)).toEqual({ data: TEXT, binary: false });
  ws.send(BYTES);
  const echoed = await nextMessage(ws);
  expect(echoed.binary).toBe(true);
  expect([...(echoed.data as Uint8Array)]).toEqual([...BYTES]);
  ws.close(1000);
  expect(await ws.closed()).toEqual({ code: 1000, reason: '', wasClean: true });
}

describe('examples/echo/bun.ts', () => {
  it(
    'honours PORT, prints `listening on <port>`, echoes text and binary, exits 0 on SIGTERM',
    async () => {
      const example = await startExample('echo');
      await expectEchoes(example.url);
      // A connection still open at SIGTERM is closed gracefully (1001) before the exit.
      const open = await connect(example.url);
      expect(await stopExample(example, 'SIGTERM')).toBe(0);
      expect(await open.closed()).toMatchObject({ code: 1001, wasClean: true });
    },
    TIMEOUT,
  );

  it(
    'exits 0 on SIGINT too',
    async () => {
      const example = await startExample('echo');
      await expectEchoes(example.url);
      expect(await stopExample(example, 'SIGINT')).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'DEFLATE=1 negotiates permessage-deflate and echoes a compressible 1 MiB both ways',
    async () => {
      const example = await startExample('echo', { DEFLATE: '1' });
      try {
        const ws = await connect(example.url, { maxMessageSize: 4 * MiB });
        expect(ws.extensions).toMatch(/^permessage-deflate(;|$)/);
        const text = 'deflate ✓ 漢字 '.repeat(60_000);
        ws.send(text);
        expect(await nextMessage(ws)).toEqual({ data: text, binary: false });
        const bytes = new Uint8Array(MiB).map((_, i) => (i * 31) & 255);
        ws.send(bytes);
        const echoed = await nextMessage(ws);
        expect(summarise(echoed.data, echoed.binary)).toEqual(summarise(bytes, true));
        ws.close(1000);
        await ws.closed();
      } finally {
        expect(await stopExample(example, 'SIGTERM')).toBe(0);
      }
    },
    TIMEOUT,
  );

  it(
    'without DEFLATE, declines permessage-deflate',
    async () => {
      const example = await startExample('echo');
      try {
        const ws = await connect(example.url);
        expect(ws.extensions).toBe('');
        ws.close(1000);
        await ws.closed();
      } finally {
        expect(await stopExample(example, 'SIGTERM')).toBe(0);
      }
    },
    TIMEOUT,
  );
});

describe('examples/broadcast/bun.ts', () => {
  async function expectRelaysToOthers(url: string): Promise<void> {
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    const inboxes = clients.map(() => [] as ReturnType<typeof summarise>[]);
    clients.forEach((ws, i) => {
      ws.on('message', (data, binary) => inboxes[i]!.push(summarise(data, binary)));
    });
    const [a, b, c] = clients as [WebSocketConnection, WebSocketConnection, WebSocketConnection];
    // Every connection is subscribed once its handshake is done; give the server a moment anyway.
    const waitFor = async (predicate: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}: ${JSON.stringify(inboxes)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    a.send(TEXT);
    await waitFor(() => inboxes[1]!.length === 1 && inboxes[2]!.length === 1, 'text from a');
    b.send(BYTES);
    await waitFor(() => inboxes[0]!.length === 1 && inboxes[2]!.length === 2, 'binary from b');
    // c's text is the last thing relayed; once a and b have it, nothing else is in flight.
    c.send('from c');
    await waitFor(() => inboxes[0]!.length === 2 && inboxes[1]!.length === 2, 'text from c');
    const text = { type: 'text' as const, data: TEXT };
    const binary = summarise(BYTES, true);
    const fromC = { type: 'text' as const, data: 'from c' };
    // Each sees the others' messages in order, never its own.
    expect(inboxes).toEqual([
      [binary, fromC],
      [text, fromC],
      [text, binary],
    ]);
    for (const ws of clients) ws.close(1000);
    await Promise.all(clients.map((ws) => ws.closed()));
  }

  it(
    'honours PORT, relays every message (text and binary) to all other connections, exits 0 on SIGTERM',
    async () => {
      const example = await startExample('broadcast');
      try {
        await expectRelaysToOthers(example.url);
      } finally {
        expect(await stopExample(example, 'SIGTERM')).toBe(0);
      }
    },
    TIMEOUT,
  );

  it(
    'DEFLATE=1: negotiates permessage-deflate and still relays; exits 0 on SIGINT',
    async () => {
      const example = await startExample('broadcast', { DEFLATE: '1' });
      try {
        const probe = await connect(example.url);
        expect(probe.extensions).toMatch(/^permessage-deflate(;|$)/);
        probe.close(1000);
        await probe.closed();
        await expectRelaysToOthers(example.url);
      } finally {
        expect(await stopExample(example, 'SIGINT')).toBe(0);
      }
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------ malformed input

/** Close code of the first close frame the server sent after its 101 head (unmasked frames). */
function closeCodeAfterHead(bytes: Uint8Array): number | undefined {
  let at = headEnd(bytes);
  if (at === -1) return undefined;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at]! & 0x0f;
    let length = bytes[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = (bytes[offset]! << 8) | bytes[offset + 1]!;
      offset += 2;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0));
      offset += 8;
    }
    if (offset + length > bytes.length) return undefined;
    if (opcode === Opcode.CLOSE) return length >= 2 ? (bytes[offset]! << 8) | bytes[offset + 1]! : 1005;
    at = offset + length;
  }
  return undefined;
}

/** Not HTTP at all: what is sent, and the status it must get at once. */
const RAW_GARBAGE: [string, Uint8Array, string][] = [
  // Pseudo-random bytes (line ends among them).
  ['4 kB of binary junk', new Uint8Array(4096).map((_, i) => (i * 7919 + 13) & 0xff), '400'],
  ['NUL bytes then an empty line', new Uint8Array([...new Uint8Array(512), 13, 10, 13, 10]), '400'],
  // One endless request line: over maxHeadSize (16 KiB) before any line end.
  ['20 kB without a line end', new Uint8Array(20_000).fill(0x41), '414'],
];

describe('examples/echo/bun.ts under malformed input', () => {
  it('answers bad handshakes and bad frames with the right status / close code, survives garbage, keeps echoing', async () => {
    const example = await startExample('echo');
    const raws: RawClient[] = [];
    const raw = async (): Promise<RawClient> => {
      const client = await RawClient.connect(example.port);
      raws.push(client);
      return client;
    };
    const outcomes: Record<string, string> = {};
    try {
      // Raw TCP garbage instead of a request. A TLS ClientHello is refused at its first byte
      // (0x16 starts no method), without waiting for a line end or the handshake timeout.
      const tlsHello = await raw();
      await tlsHello.write(
        new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
      );
      for (const [what, bytes] of RAW_GARBAGE) {
        const client = await raw();
        await client.write(bytes);
        const response = new TextDecoder().decode(await client.readToEnd(5000));
        outcomes[what] =
          /^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? `no status: ${JSON.stringify(response)}`;
      }
      for (const [what, request] of BAD_HANDSHAKES) {
        const client = await raw();
        await client.write(request);
        const response = new TextDecoder().decode(await client.readToEnd(5000));
        outcomes[what] = response;
      }
      for (const [what, frame] of BAD_FRAMES) {
        const client = await raw();
        await client.write(upgradeRequest('/'));
        await client.waitFor((bytes) => headEnd(bytes) !== -1);
        expect(client.text()).toStartWith('HTTP/1.1 101 ');
        await client.write(frame);
        outcomes[what] = String(closeCodeAfterHead(await client.readToEnd(5000)));
      }
      // Random garbage after a valid handshake, sent in one piece and chopped, then dropped.
      for (let round = 0; round < 20; round++) {
        const client = await raw();
        await client.write(upgradeRequest('/'));
        await client.waitFor((bytes) => headEnd(bytes) !== -1);
        const garbage = new Uint8Array(64 + round * 13);
        for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + round * 104729) & 0xff;
        if (round % 2) await client.writeChopped(garbage);
        else await client.write(garbage);
        client.destroy();
      }
      // A client that vanishes in the middle of its handshake.
      const half = await raw();
      await half.write('GET / HTTP/1.1\r\nHost: x\r\nUpg');
      half.destroy();

      for (const [what, , status] of RAW_GARBAGE) {
        expect({ what, status: outcomes[what] }).toEqual({ what, status });
      }
      for (const [what, , expected] of BAD_HANDSHAKES) {
        expect({ what, response: outcomes[what] }).toEqual({
          what,
          response: expect.stringMatching(expected),
        });
      }
      for (const [what, , code] of BAD_FRAMES) {
        expect({ what, code: outcomes[what] }).toEqual({ what, code: String(code) });
      }

      // Still the same process, still echoing; the silent TLS client is still waiting.
      expect(new TextDecoder().decode(await tlsHello.readToEnd(5000))).toMatch(/^HTTP\/1\.1 400 /);
      expect(example.child.exitCode).toBeNull();
      expect(example.child.signalCode).toBeNull();
      await expectEchoes(example.url);
      expect(example.stderr()).toBe('');
    } finally {
      for (const client of raws) client.destroy();
      expect(await stopExample(example, 'SIGTERM')).toBe(0);
    }
  }, 30_000);
});
