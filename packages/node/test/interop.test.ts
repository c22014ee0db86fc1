/**
 * Interoperability with peers we did not write:
 *   our server ↔ the npm `ws` client, headless Chromium's WebSocket;
 *   our client ↔ a `ws` server, Python's `websockets` server.
 * Each pairing round-trips text (non-ASCII, empty, long), binary (small, empty, 1 MiB), selects a
 * subprotocol, and closes from each side with a code + reason that both ends must report exactly.
 * With `ws` also: fragments (a code point split across them, a ping in between), ping/pong, close
 * without status (1005), the longest reason, a dropped connection (1006), 1009 and 1007 failures.
 *
 * Needs the Debian packages `python3-websockets` and `chromium` (`.ci/setup --system`).
 */
import { spawn } from 'node:child_process';
import {
  binarySummary,
  echoSummary,
  launchChromium,
  messageBytes,
  type PeerClientResult,
  type PeerMessage,
  type PeerScript,
  type ReceivedMessage,
  runBrowserClient,
  startPythonEchoServer,
} from '@fullduplex/testkit/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { connect, WebSocketServer } from '../src/index.ts';

type Browser = Awaited<ReturnType<typeof launchChromium>>;

const MiB = 1024 * 1024;
const SUPPORTED = ['chat.v1'];
const OFFERED = ['chat.v2', 'chat.v1'];

/** 4-byte, 3-byte and 2-byte UTF-8 sequences, combining marks, CJK, a BOM-like character. */
const TEXT = 'héllo ✓ 🚀 — ünïcødé 漢字 e\u0301 \uFEFF end';
/** ~180 KB of multi-byte text: arrives in many TCP chunks, split inside code points. */
const LONG_TEXT = 'ü€😀'.repeat(20_000);
const SMALL: PeerMessage = {
  type: 'binary',
  base64: Buffer.from([0, 1, 2, 127, 128, 254, 255]).toString('base64'),
};
const EMPTY_BINARY: PeerMessage = { type: 'binary', base64: '' };
const BIG: PeerMessage = { type: 'binary_size', size: MiB, seed: 7 };
const SENDS: PeerMessage[] = [
  { type: 'text', data: TEXT },
  { type: 'text', data: '' },
  { type: 'text', data: LONG_TEXT },
  SMALL,
  EMPTY_BINARY,
  BIG,
];
const ECHOES: ReceivedMessage[] = SENDS.map(echoSummary);

const CLIENT_CLOSE = { code: 4001, reason: 'client done ✓' };
const SERVER_CLOSE = { code: 4002, reason: 'server done ✓' };
const SERVER_CLOSE_COMMAND: PeerMessage = {
  type: 'text',
  data: `close:${SERVER_CLOSE.code}:${SERVER_CLOSE.reason}`,
};

interface SeenClose {
  code: number;
  reason: string;
  wasClean?: boolean;
}

/** What one server-side connection observed. */
interface ServerSide {
  protocol: string;
  received: ReceivedMessage[];
  closed: Promise<SeenClose>;
}

interface EchoServer {
  url: string;
  connections: ServerSide[];
  stop(): Promise<void>;
}

function summarise(data: string | Uint8Array, isBinary: boolean): ReceivedMessage {
  return isBinary ? binarySummary(data as Uint8Array) : { type: 'text', data: data as string };
}

const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

/** A text message cut inside a 4-byte code point, and a binary one with an empty middle fragment. */
const FRAGMENTED = (() => {
  const text = Buffer.from('frag 🚀 mented ✓', 'utf8');
  const bytes = Buffer.from(messageBytes(BIG).subarray(0, 5000));
  return {
    text,
    cut: text.indexOf(Buffer.from('🚀', 'utf8')) + 2,
    bytes,
    echoes: [{ type: 'text', data: 'frag 🚀 mented ✓' }, binarySummary(bytes)] as ReceivedMessage[],
  };
})();

// ------------------------------------------------------------------ servers

/** Our server: echoes with the same type; `close:<code>:<reason>` makes it close instead. */
async function startOurEchoServer(options: { maxMessageSize?: number } = {}): Promise<EchoServer> {
  const server = new WebSocketServer({ protocols: SUPPORTED, maxMessageSize: 64 * MiB, ...options });
  const connections: ServerSide[] = [];
  server.on('connection', (ws) => {
    const side: ServerSide = { protocol: ws.protocol, received: [], closed: ws.closed() };
    connections.push(side);
    ws.on('message', (data, isBinary) => {
      side.received.push(summarise(data, isBinary));
      const match = isBinary ? null : CLOSE_COMMAND.exec(data as string);
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(data, { binary: isBinary });
    });
  });
  const address = await server.listen(0, '127.0.0.1');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    connections,
    stop: () => server.close({ timeout: 1000 }),
  };
}

/** The same echo server on the npm `ws` package. */
async function startWsEchoServer(): Promise<EchoServer> {
  const wss = new WsServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 64 * MiB,
    handleProtocols: (offered) => [...offered].find((p) => SUPPORTED.includes(p)) ?? false,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const connections: ServerSide[] = [];
  wss.on('connection', (ws) => {
    const side: ServerSide = {
      protocol: ws.protocol,
      received: [],
      closed: new Promise((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
      ),
    };
    connections.push(side);
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      const message = summarise(isBinary ? bytes : bytes.toString('utf8'), isBinary);
      side.received.push(message);
      const match = message.type === 'text' ? CLOSE_COMMAND.exec(message.data) : null;
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(bytes, { binary: isBinary });
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

/**
 * A Python `websockets` echo server that also reports, per connection, what it saw: one JSON line
 * `{"protocol", "received", "code", "reason"}` once the connection is closed. (The testkit's
 * `startPythonEchoServer` echoes but does not report its side of the close.)
 */
const PYTHON_OBSERVER = `
import asyncio, hashlib, json, sys
import websockets

def summarise(m):
    if isinstance(m, str):
        return {"type": "text", "data": m}
    return {"type": "binary", "size": len(m), "sha256": hashlib.sha256(m).hexdigest()}

async def handler(ws, *_path):
    received = []
    try:
        async for m in ws:
            received.append(summarise(m))
            if isinstance(m, str) and m.startswith("close:"):
                _, code, reason = m.split(":", 2)
                await ws.close(int(code), reason)
                break
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    print(json.dumps({"protocol": ws.subprotocol, "received": received,
                      "code": ws.close_code, "reason": ws.close_reason}), flush=True)

async def main():
    server = await websockets.serve(handler, "127.0.0.1", 0, subprotocols=["chat.v1"],
                                    compression=None, max_size=64 * 1024 * 1024)
    print("LISTENING", next(iter(server.sockets)).getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # exit when the test closes stdin
    server.close()
    await server.wait_closed()

asyncio.run(main())
`;

interface PythonObservation {
  protocol: string | null;
  received: ReceivedMessage[];
  code: number;
  reason: string;
}

async function startPythonObserver(): Promise<{
  url: string;
  nextObservation(): Promise<PythonObservation>;
  stop(): Promise<void>;
}> {
  const child = spawn('/usr/bin/python3', ['-c', PYTHON_OBSERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = lines.shift();
      if (line !== undefined) return resolve(line);
      const timer = setTimeout(() => reject(new Error(`python observer: no output\n${stderr}`)), 10_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  const first = await nextLine();
  const match = /^LISTENING (\d+)$/.exec(first.trim());
  if (!match) throw new Error(`python observer: unexpected ${JSON.stringify(first)}\n${stderr}`);
  return {
    url: `ws://127.0.0.1:${match[1]}`,
    nextObservation: async () => JSON.parse(await nextLine()) as PythonObservation,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ------------------------------------------------------------------ clients

/** The scripted-peer semantics (see testkit's PeerScript) with the npm `ws` client. */
function runWsClient(url: string, script: PeerScript, protocols: string[]): Promise<PeerClientResult> {
  return new Promise((resolve) => {
    const ws = new WsClient(url, protocols, { maxPayload: 64 * MiB, perMessageDeflate: false });
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
      const bytes = data as Buffer;
      result.received.push(summarise(isBinary ? bytes : bytes.toString('utf8'), isBinary));
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

interface OurClientResult {
  protocol: string;
  extensions: string;
  received: ReceivedMessage[];
  close: SeenClose;
  errors: string[];
  /** Whether every buffer we sent still holds what it held before (masking must not touch it). */
  sentBuffersIntact: boolean;
}

/** Our client, same script semantics: send all, receive `expect`, then close (or wait for the server). */
async function runOurClient(url: string, script: PeerScript, protocols: string[]): Promise<OurClientResult> {
  const ws = await connect(url, { protocols, maxMessageSize: 64 * MiB });
  const received: ReceivedMessage[] = [];
  const errors: string[] = [];
  ws.on('error', (error) => errors.push(error.message));
  let enough!: () => void;
  const gotEnough = new Promise<void>((resolve) => {
    enough = resolve;
  });
  if (script.expect === 0) enough();
  ws.on('message', (data, isBinary) => {
    received.push(summarise(data, isBinary));
    if (received.length === script.expect) enough();
  });
  const sent: Array<{ bytes: Uint8Array; copy: Uint8Array }> = [];
  for (const m of script.send) {
    if (m.type === 'text') {
      expect(ws.send(m.data)).not.toBe('dropped');
    } else {
      const bytes = messageBytes(m);
      sent.push({ bytes, copy: bytes.slice() });
      expect(ws.send(bytes)).not.toBe('dropped');
    }
  }
  if (script.close) {
    await Promise.race([gotEnough, ws.closed()]);
    ws.close(script.close.code, script.close.reason);
  }
  const close = await ws.closed();
  return {
    protocol: ws.protocol,
    extensions: ws.extensions,
    received,
    close,
    errors,
    sentBuffersIntact: sent.every(({ bytes, copy }) => Buffer.compare(bytes, copy) === 0),
  };
}

// ------------------------------------------------------------------ our server

describe('our server ↔ ws client', () => {
  it('echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason', async () => {
    const server = await startOurEchoServer();
    try {
      const result = await runWsClient(
        server.url,
        { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: ECHOES,
        closeCode: CLIENT_CLOSE.code,
        closeReason: CLIENT_CLOSE.reason,
        error: null,
      });
      expect(server.connections).toHaveLength(1);
      const side = server.connections[0]!;
      expect(side.protocol).toBe('chat.v1');
      expect(side.received).toEqual(ECHOES);
      expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
    } finally {
      await server.stop();
    }
  });

  it('server closes 4002 + reason', async () => {
    const server = await startOurEchoServer();
    try {
      const result = await runWsClient(
        server.url,
        { send: [SENDS[0]!, SERVER_CLOSE_COMMAND], expect: 1, close: null },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: [ECHOES[0]],
        closeCode: SERVER_CLOSE.code,
        closeReason: SERVER_CLOSE.reason,
        error: null,
      });
      const side = server.connections[0]!;
      expect(side.received).toEqual([ECHOES[0], echoSummary(SERVER_CLOSE_COMMAND)]);
      expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
    } finally {
      await server.stop();
    }
  });

  it('answers the ws client’s ping with a pong carrying the same payload', async () => {
    const server = await startOurEchoServer();
    try {
      const ws = new WsClient(server.url);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
      ws.ping(Buffer.from('ping ✓'));
      expect((await pong).toString('utf8')).toBe('ping ✓');
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      expect(await closed).toBe(1000);
      expect(await server.connections[0]!.closed).toEqual({ code: 1000, reason: '', wasClean: true });
    } finally {
      await server.stop();
    }
  });
  it('reassembles the ws client’s fragments (a code point split across them, a ping in between)', async () => {
    const server = await startOurEchoServer();
    try {
      const ws = new WsClient(server.url, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const echoes: ReceivedMessage[] = [];
      const gotTwo = new Promise<void>((resolve) =>
        ws.on('message', (data, isBinary) => {
          const bytes = data as Buffer;
          echoes.push(summarise(isBinary ? bytes : bytes.toString('utf8'), isBinary));
          if (echoes.length === 2) resolve();
        }),
      );
      const pong = new Promise<string>((resolve) => ws.once('pong', (data) => resolve(data.toString())));
      const { text, cut, bytes } = FRAGMENTED;
      ws.send(text.subarray(0, cut), { binary: false, fin: false });
      ws.ping('mid');
      ws.send(text.subarray(cut, cut + 1), { binary: false, fin: false });
      ws.send(text.subarray(cut + 1), { binary: false, fin: true });
      ws.send(bytes.subarray(0, 10), { binary: true, fin: false });
      ws.send(bytes.subarray(10, 10), { binary: true, fin: false });
      ws.send(bytes.subarray(10), { binary: true, fin: true });
      await gotTwo;
      expect(await pong).toBe('mid');
      expect(echoes).toEqual(FRAGMENTED.echoes);
      ws.close(1000);
      expect(await server.connections[0]!.closed).toEqual({ code: 1000, reason: '', wasClean: true });
      expect(server.connections[0]!.received).toEqual(FRAGMENTED.echoes);
    } finally {
      await server.stop();
    }
  });
});

describe('our server ↔ Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('echoes text, binary and 1 MiB, selects the subprotocol, browser closes 4001 + reason', async () => {
    const server = await startOurEchoServer();
    try {
      const result = await runBrowserClient(
        browser,
        server.url,
        { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE },
        { subprotocols: OFFERED },
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        // Chromium offers permessage-deflate; we do not accept it (yet).
        extensions: null,
        received: ECHOES,
        closeCode: CLIENT_CLOSE.code,
        closeReason: CLIENT_CLOSE.reason,
        wasClean: true,
        error: null,
      });
      expect(server.connections).toHaveLength(1);
      const side = server.connections[0]!;
      expect(side.protocol).toBe('chat.v1');
      expect(side.received).toEqual(ECHOES);
      expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
    } finally {
      await server.stop();
    }
  });

  it('server closes 4002 + reason', async () => {
    const server = await startOurEchoServer();
    try {
      const result = await runBrowserClient(
        browser,
        server.url,
        { send: [SENDS[0]!, BIG, SERVER_CLOSE_COMMAND], expect: 2, close: null },
        { subprotocols: OFFERED },
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: [ECHOES[0], echoSummary(BIG)],
        closeCode: SERVER_CLOSE.code,
        closeReason: SERVER_CLOSE.reason,
        wasClean: true,
        error: null,
      });
      const side = server.connections[0]!;
      expect(side.received).toEqual([ECHOES[0], echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)]);
      expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
    } finally {
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ our client

describe('our client ↔ ws server', () => {
  it('echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason', async () => {
    const server = await startWsEchoServer();
    try {
      const result = await runOurClient(
        server.url,
        { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: '',
        received: ECHOES,
        close: { ...CLIENT_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      expect(server.connections).toHaveLength(1);
      const side = server.connections[0]!;
      expect(side.protocol).toBe('chat.v1');
      expect(side.received).toEqual(ECHOES);
      expect(await side.closed).toEqual(CLIENT_CLOSE);
    } finally {
      await server.stop();
    }
  });

  it('server closes 4002 + reason', async () => {
    const server = await startWsEchoServer();
    try {
      const result = await runOurClient(
        server.url,
        { send: [SENDS[0]!, BIG, SERVER_CLOSE_COMMAND], expect: 2, close: null },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: '',
        received: [ECHOES[0], echoSummary(BIG)],
        close: { ...SERVER_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      const side = server.connections[0]!;
      expect(side.received).toEqual([ECHOES[0], echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)]);
      expect(await side.closed).toEqual(SERVER_CLOSE);
    } finally {
      await server.stop();
    }
  });

  it('gets the ws server’s pong for its ping', async () => {
    const server = await startWsEchoServer();
    try {
      const ws = await connect(server.url);
      const pong = new Promise<Uint8Array>((resolve) => ws.once('pong', resolve));
      expect(ws.ping('ping ✓')).toBe(true);
      expect(Buffer.from(await pong).toString('utf8')).toBe('ping ✓');
      ws.close(1000);
      expect(await ws.closed()).toEqual({ code: 1000, reason: '', wasClean: true });
      expect(await server.connections[0]!.closed).toEqual({ code: 1000, reason: '' });
    } finally {
      await server.stop();
    }
  });
  it('reassembles the ws server’s fragments (a code point split across them, a ping in between)', async () => {
    const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    // Starts on the client's 'go': a ping arriving with the handshake response would be emitted
    // before connect() resolves, i.e. before any listener (messages are held; pings are not).
    wss.on('connection', (peer) =>
      peer.once('message', () => {
        const { text, cut, bytes } = FRAGMENTED;
        peer.send(text.subarray(0, cut), { binary: false, fin: false });
        peer.ping('mid');
        peer.send(text.subarray(cut), { binary: false, fin: true });
        peer.send(bytes.subarray(0, 10), { binary: true, fin: false });
        peer.send(bytes.subarray(10, 10), { binary: true, fin: false });
        peer.send(bytes.subarray(10), { binary: true, fin: true });
        peer.close(1000, 'done');
      }),
    );
    try {
      const ws = await connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
      const pings: string[] = [];
      ws.on('ping', (data) => pings.push(Buffer.from(data).toString()));
      ws.send('go');
      const received: ReceivedMessage[] = [];
      for await (const message of ws) received.push(summarise(message, typeof message !== 'string'));
      expect(received).toEqual(FRAGMENTED.echoes);
      expect(pings).toEqual(['mid']);
      expect(await ws.closed()).toEqual({ code: 1000, reason: 'done', wasClean: true });
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});

describe('our client ↔ Python websockets server', () => {
  it('echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason', async () => {
    const server = await startPythonEchoServer({ subprotocols: SUPPORTED });
    try {
      const result = await runOurClient(
        server.url,
        { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        // Python websockets answers our permessage-deflate offer with its 12-bit windows.
        extensions: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
        received: ECHOES,
        close: { ...CLIENT_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
    } finally {
      await server.stop();
    }
  });

  it('server closes 4002 + reason', async () => {
    const server = await startPythonEchoServer({ subprotocols: SUPPORTED });
    try {
      const result = await runOurClient(
        server.url,
        { send: [SENDS[0]!, BIG, SERVER_CLOSE_COMMAND], expect: 2, close: null },
        OFFERED,
      );
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
        received: [ECHOES[0], echoSummary(BIG)],
        close: { ...SERVER_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
    } finally {
      await server.stop();
    }
  });

  it('the Python side reports the same messages and closes (both directions)', async () => {
    const server = await startPythonObserver();
    try {
      const byClient = await runOurClient(
        server.url,
        { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE },
        OFFERED,
      );
      expect(byClient.close).toEqual({ ...CLIENT_CLOSE, wasClean: true });
      expect(await server.nextObservation()).toEqual({
        protocol: 'chat.v1',
        received: ECHOES,
        ...CLIENT_CLOSE,
      });

      const byServer = await runOurClient(
        server.url,
        { send: [SENDS[0]!, SERVER_CLOSE_COMMAND], expect: 1, close: null },
        OFFERED,
      );
      expect(byServer).toMatchObject({
        protocol: 'chat.v1',
        received: [ECHOES[0]],
        close: { ...SERVER_CLOSE, wasClean: true },
        errors: [],
      });
      expect(await server.nextObservation()).toEqual({
        protocol: 'chat.v1',
        received: [ECHOES[0], echoSummary(SERVER_CLOSE_COMMAND)],
        ...SERVER_CLOSE,
      });
    } finally {
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ edges and failures

/** 123 bytes of UTF-8, the longest reason a close frame can carry. */
const LONGEST_REASON = `${'é'.repeat(61)}x`;
const INVALID_UTF8 = Buffer.from([0x68, 0x69, 0xc0, 0xaf]); // "hi" + an overlong '/'

/** Opens a `ws` client and resolves once it is open, with a promise of its close. */
async function openWsClient(url: string): Promise<{ ws: WsClient; closed: Promise<SeenClose> }> {
  const ws = new WsClient(url, { perMessageDeflate: false });
  ws.on('error', () => {}); // failures show in the close code
  const closed = new Promise<SeenClose>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error('closed before open')));
  });
  return { ws, closed };
}

/** A `ws` server that hands each connection to `act` and reports how each one closed. */
async function startWsServerWith(act: (ws: InstanceType<typeof WsClient>) => void): Promise<{
  url: string;
  closes: Promise<SeenClose>[];
  stop(): Promise<void>;
}> {
  const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const closes: Promise<SeenClose>[] = [];
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    closes.push(
      new Promise((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
      ),
    );
    // Act once the client says it is listening (see the fragmentation test above).
    ws.once('message', () => act(ws));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    closes,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

describe('edges and failures, our server ↔ ws client', () => {
  it('a close without status code is 1005 on both sides', async () => {
    const server = await startOurEchoServer();
    try {
      const { ws, closed } = await openWsClient(server.url);
      ws.close();
      expect(await closed).toEqual({ code: 1005, reason: '' });
      expect(await server.connections[0]!.closed).toEqual({ code: 1005, reason: '', wasClean: true });
    } finally {
      await server.stop();
    }
  });

  it('the longest possible reason (123 bytes) arrives intact both ways', async () => {
    const server = await startOurEchoServer();
    try {
      const first = await openWsClient(server.url);
      first.ws.close(4001, LONGEST_REASON);
      expect(await first.closed).toEqual({ code: 4001, reason: LONGEST_REASON });
      expect(await server.connections[0]!.closed).toEqual({
        code: 4001,
        reason: LONGEST_REASON,
        wasClean: true,
      });
      const second = await openWsClient(server.url);
      second.ws.send(`close:4002:${LONGEST_REASON}`);
      expect(await second.closed).toEqual({ code: 4002, reason: LONGEST_REASON });
      expect(await server.connections[1]!.closed).toEqual({
        code: 4002,
        reason: LONGEST_REASON,
        wasClean: true,
      });
    } finally {
      await server.stop();
    }
  });

  it('a dropped TCP connection is 1006, unclean', async () => {
    const server = await startOurEchoServer();
    try {
      const { ws } = await openWsClient(server.url);
      ws.terminate();
      expect(await server.connections[0]!.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    } finally {
      await server.stop();
    }
  });

  it('fails a message over maxMessageSize with 1009, seen by both', async () => {
    const server = await startOurEchoServer({ maxMessageSize: 1024 });
    try {
      const { ws, closed } = await openWsClient(server.url);
      ws.send(Buffer.alloc(4096));
      const client = await closed;
      expect(client.code).toBe(1009);
      const side = await server.connections[0]!.closed;
      expect(side).toEqual({ code: 1009, reason: client.reason, wasClean: false });
      expect(server.connections[0]!.received).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('fails invalid UTF-8 in a text message with 1007, seen by both', async () => {
    const server = await startOurEchoServer();
    try {
      const { ws, closed } = await openWsClient(server.url);
      ws.send(INVALID_UTF8, { binary: false });
      const client = await closed;
      expect(client.code).toBe(1007);
      expect(await server.connections[0]!.closed).toEqual({
        code: 1007,
        reason: client.reason,
        wasClean: false,
      });
      expect(server.connections[0]!.received).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe('edges and failures, our client ↔ ws server', () => {
  async function run(
    act: (ws: InstanceType<typeof WsClient>) => void,
    options: { maxMessageSize?: number } = {},
  ): Promise<{ client: SeenClose; server: SeenClose; received: ReceivedMessage[]; errors: string[] }> {
    const server = await startWsServerWith(act);
    try {
      const ws = await connect(server.url, options);
      const received: ReceivedMessage[] = [];
      const errors: string[] = [];
      ws.on('message', (data, isBinary) => received.push(summarise(data, isBinary)));
      ws.on('error', (error) => errors.push((error as Error & { code?: string }).code ?? error.message));
      ws.send('go');
      const client = await ws.closed();
      return { client, server: await server.closes[0]!, received, errors };
    } finally {
      await server.stop();
    }
  }

  it('a close without status code is 1005 on both sides', async () => {
    expect(await run((ws) => ws.close())).toEqual({
      client: { code: 1005, reason: '', wasClean: true },
      server: { code: 1005, reason: '' },
      received: [],
      errors: [],
    });
  });

  it('the longest possible reason (123 bytes) arrives intact', async () => {
    expect(await run((ws) => ws.close(4002, LONGEST_REASON))).toEqual({
      client: { code: 4002, reason: LONGEST_REASON, wasClean: true },
      server: { code: 4002, reason: LONGEST_REASON },
      received: [],
      errors: [],
    });
  });

  it('a dropped TCP connection is 1006, unclean', async () => {
    const result = await run((ws) => ws.terminate());
    expect(result.client).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(result.server).toEqual({ code: 1006, reason: '' });
  });

  it('fails a message over maxMessageSize with 1009, seen by both', async () => {
    const result = await run((ws) => ws.send(Buffer.alloc(4096)), { maxMessageSize: 1024 });
    expect(result.client).toMatchObject({ code: 1009, wasClean: false });
    expect(result.server).toEqual({ code: 1009, reason: result.client.reason });
    expect(result.received).toEqual([]);
    expect(result.errors).toHaveLength(1);
  });

  it('fails invalid UTF-8 in a text message with 1007, seen by both', async () => {
    const result = await run((ws) => ws.send(INVALID_UTF8, { binary: false }));
    expect(result.client).toMatchObject({ code: 1007, wasClean: false });
    expect(result.server).toEqual({ code: 1007, reason: result.client.reason });
    expect(result.received).toEqual([]);
    expect(result.errors).toEqual(['WS_ERR_INVALID_UTF8']);
  });
});
