/**
 * Proves the peer helpers against a third implementation we did not write either: the npm `ws`
 * package. Needs the Debian packages `python3-websockets` and `chromium` (`.ci/setup --system`).
 */
import { createServer } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { launchChromium, runBrowserClient } from './chromium.ts';
import { runPythonClient, startPythonEchoServer } from './python.ts';
import {
  binarySummary,
  echoSummary,
  messageBytes,
  type PeerClientResult,
  type PeerMessage,
  type PeerScript,
  patternBytes,
  type ReceivedMessage,
  sha256Hex,
} from './script.ts';

const MiB = 1024 * 1024;
const TEXT = 'héllo ✓ 🚀';
const SMALL: PeerMessage = { type: 'binary', base64: Buffer.from([0, 1, 2, 254, 255]).toString('base64') };
const BIG: PeerMessage = { type: 'binary_size', size: MiB, seed: 7 };
const ECHO_SENDS: PeerMessage[] = [{ type: 'text', data: TEXT }, SMALL, BIG];

interface SeenClose {
  code: number;
  reason: string;
}

interface WsEchoServer {
  url: string;
  /** One entry per accepted connection: the subprotocol it chose and the close it saw. */
  connections: Array<{ protocol: string; closed: Promise<SeenClose> }>;
  stop(): Promise<void>;
}

/** Echo server on the npm `ws` package; `close:<code>:<reason>` makes it close like the Python one. */
async function startWsEchoServer(
  opts: { protocols?: string[]; perMessageDeflate?: boolean } = {},
): Promise<WsEchoServer> {
  const supported = opts.protocols ?? [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: opts.perMessageDeflate ?? false,
    maxPayload: 64 * MiB,
    handleProtocols: (offered) => [...offered].find((p) => supported.includes(p)) ?? false,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const connections: WsEchoServer['connections'] = [];
  wss.on('connection', (ws) => {
    const closed = new Promise<SeenClose>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
    );
    connections.push({ protocol: ws.protocol, closed });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      const match = text === null ? null : /^close:(\d+):(.*)$/s.exec(text);
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(data, { binary: isBinary });
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    connections,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** The same script semantics as the Python/browser clients, run with a `ws` client. */
function runWsClient(url: string, script: PeerScript, protocols: string[] = []): Promise<PeerClientResult> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { maxPayload: 64 * MiB });
    const result: PeerClientResult = {
      protocol: null,
      extensions: null,
      received: [],
      closeCode: null,
      closeReason: null,
      error: null,
    };
    let closing = false;
    const maybeClose = () => {
      if (!script.close || closing || result.received.length < script.expect) return;
      closing = true;
      ws.close(script.close.code, script.close.reason);
    };
    ws.on('open', () => {
      result.protocol = ws.protocol || null;
      result.extensions = ws.extensions || null;
      for (const m of script.send) ws.send(m.type === 'text' ? m.data : messageBytes(m));
      maybeClose();
    });
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer; // binaryType 'nodebuffer' (the default)
      const summary: ReceivedMessage = isBinary
        ? binarySummary(bytes)
        : { type: 'text', data: bytes.toString('utf8') };
      result.received.push(summary);
      maybeClose();
    });
    ws.on('error', (err) => {
      result.error ??= err.message;
    });
    ws.on('close', (code, reason) => {
      result.closeCode = code;
      result.closeReason = reason.toString('utf8');
      resolve(result);
    });
  });
}

/** A 127.0.0.1 port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('script helpers', () => {
  it('patternBytes and sha256Hex are deterministic', () => {
    expect([...patternBytes(5, 250)]).toEqual([250, 25, 56, 87, 118]);
    expect(sha256Hex(new Uint8Array())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(echoSummary(BIG)).toEqual({
      type: 'binary',
      size: MiB,
      sha256: '06b7bbfb7824aa03382051691630eb26de85102d1b08a81e907ec0744cd8a286',
    });
  });
});

describe('Python websockets client ↔ ws echo server', () => {
  it('echoes text and a 1 MiB binary, picks the subprotocol, closes with 4001 + reason', async () => {
    const server = await startWsEchoServer({ protocols: ['chat.v1'] });
    try {
      const result = await runPythonClient(
        server.url,
        { send: ECHO_SENDS, expect: 3, close: { code: 4001, reason: 'client done' } },
        { subprotocols: ['chat.v2', 'chat.v1'] },
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: ECHO_SENDS.map(echoSummary),
        closeCode: 4001,
        closeReason: 'client done',
        error: null,
      });
      expect(server.connections.map((c) => c.protocol)).toEqual(['chat.v1']);
      expect(await server.connections[0]!.closed).toEqual({ code: 4001, reason: 'client done' });
    } finally {
      await server.stop();
    }
  });

  it('sees a server-initiated close 4001 with its reason', async () => {
    const server = await startWsEchoServer();
    try {
      const result = await runPythonClient(server.url, {
        send: [
          { type: 'text', data: 'one' },
          { type: 'text', data: 'close:4001:server done' },
        ],
        expect: 1,
        close: null,
      });
      expect(result).toMatchObject({
        protocol: null,
        received: [{ type: 'text', data: 'one' }],
        closeCode: 4001,
        closeReason: 'server done',
        error: null,
      });
      expect(await server.connections[0]!.closed).toEqual({ code: 4001, reason: 'server done' });
    } finally {
      await server.stop();
    }
  });

  it('negotiates permessage-deflate and round-trips 1 MiB compressed', async () => {
    const server = await startWsEchoServer({ perMessageDeflate: true });
    try {
      const result = await runPythonClient(server.url, {
        send: [BIG],
        expect: 1,
        close: { code: 1000, reason: '' },
      });
      expect(result.error).toBeNull();
      expect(result.extensions).toMatch(/^permessage-deflate\b/);
      expect(result.received).toEqual([echoSummary(BIG)]);
      expect(result.closeCode).toBe(1000);
    } finally {
      await server.stop();
    }
  });

  it('reports a refused connection in `error`', async () => {
    const result = await runPythonClient(`ws://127.0.0.1:${await deadPort()}`, { send: [], expect: 0 });
    expect(result.error).toMatch(/refused|Errno 111/i);
    expect(result.closeCode).toBeNull();
  });
});

describe('ws client ↔ Python websockets echo server', () => {
  it('echoes text and a 1 MiB binary, picks the subprotocol, closes with 4001 + reason', async () => {
    const server = await startPythonEchoServer({ subprotocols: ['chat.v1'] });
    try {
      expect(server.url).toBe(`ws://127.0.0.1:${server.port}`);
      const result = await runWsClient(
        server.url,
        { send: ECHO_SENDS, expect: 3, close: { code: 4001, reason: 'client done' } },
        ['chat.v2', 'chat.v1'],
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: expect.stringMatching(/^permessage-deflate\b/),
        received: ECHO_SENDS.map(echoSummary),
        closeCode: 4001,
        closeReason: 'client done',
        error: null,
      });
    } finally {
      await server.stop();
    }
  });

  it('closes with 4001 + reason when asked to', async () => {
    const server = await startPythonEchoServer({ compression: false });
    try {
      const result = await runWsClient(server.url, {
        send: [
          { type: 'text', data: 'one' },
          { type: 'text', data: 'close:4001:server: done' },
        ],
        expect: 1,
      });
      expect(result).toEqual({
        protocol: null,
        extensions: null,
        received: [{ type: 'text', data: 'one' }],
        closeCode: 4001,
        closeReason: 'server: done',
        error: null,
      });
    } finally {
      await server.stop();
    }
  });

  it('enforces --max-size with close 1009', async () => {
    const server = await startPythonEchoServer({ maxSize: 1024 });
    try {
      const result = await runWsClient(server.url, {
        send: [{ type: 'binary_size', size: 4096, seed: 1 }],
        expect: 0,
      });
      expect(result.received).toEqual([]);
      expect(result.closeCode).toBe(1009);
    } finally {
      await server.stop();
    }
  });

  it('the python client and server talk to each other too', async () => {
    const server = await startPythonEchoServer();
    try {
      const result = await runPythonClient(server.url, {
        send: ECHO_SENDS,
        expect: 3,
        close: { code: 4001, reason: 'bye' },
      });
      expect(result).toMatchObject({
        received: ECHO_SENDS.map(echoSummary),
        closeCode: 4001,
        closeReason: 'bye',
      });
    } finally {
      await server.stop();
    }
  });
});

describe('Chromium WebSocket ↔ ws echo server', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('echoes text and a 1 MiB binary, picks the subprotocol, closes with 4002 + reason', async () => {
    const server = await startWsEchoServer({ protocols: ['chat.v1'] });
    try {
      const result = await runBrowserClient(
        browser,
        server.url,
        { send: ECHO_SENDS, expect: 3, close: { code: 4002, reason: 'browser done' } },
        { subprotocols: ['chat.v2', 'chat.v1'] },
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: ECHO_SENDS.map(echoSummary),
        closeCode: 4002,
        closeReason: 'browser done',
        wasClean: true,
        error: null,
      });
      expect(await server.connections[0]!.closed).toEqual({ code: 4002, reason: 'browser done' });
    } finally {
      await server.stop();
    }
  });

  it('sees a server-initiated close 4002 with its reason', async () => {
    const server = await startWsEchoServer({ perMessageDeflate: true });
    try {
      const result = await runBrowserClient(browser, server.url, {
        send: [BIG, { type: 'text', data: 'close:4002:server done' }],
        expect: 1,
        close: null,
      });
      expect(result).toEqual({
        protocol: null,
        extensions: expect.stringMatching(/^permessage-deflate\b/),
        received: [echoSummary(BIG)],
        closeCode: 4002,
        closeReason: 'server done',
        wasClean: true,
        error: null,
      });
      expect(await server.connections[0]!.closed).toEqual({ code: 4002, reason: 'server done' });
    } finally {
      await server.stop();
    }
  });

  it('talks to the Python echo server as well', async () => {
    const server = await startPythonEchoServer({ subprotocols: ['chat.v1'] });
    try {
      const result = await runBrowserClient(
        browser,
        server.url,
        { send: ECHO_SENDS, expect: 3, close: { code: 4002, reason: 'bye' } },
        { subprotocols: ['chat.v1'] },
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: expect.stringMatching(/^permessage-deflate\b/),
        received: ECHO_SENDS.map(echoSummary),
        closeCode: 4002,
        closeReason: 'bye',
        wasClean: true,
        error: null,
      });
    } finally {
      await server.stop();
    }
  });

  it('reports a refused connection as an unclean 1006', async () => {
    const result = await runBrowserClient(browser, `ws://127.0.0.1:${await deadPort()}`, {
      send: [],
      expect: 0,
    });
    expect(result).toMatchObject({ closeCode: 1006, wasClean: false, received: [] });
    expect(result.error).toMatch(/error event/);
  });
});
