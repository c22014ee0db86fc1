/**
 * permessage-deflate (RFC 7692) interoperability with peers we did not write:
 *   our server ↔ the npm `ws` client, headless Chromium, Python `websockets` 10.4 (client);
 *   our client ↔ a `ws` server, the Python `websockets` server.
 *
 * Every pairing runs through a TCP tap that parses the frames going each way, so besides the
 * round trip each test checks what was really on the wire: the offer and the answer both ends
 * exchanged (`Sec-WebSocket-Extensions`, exactly), which messages each side compressed (RSV1 on
 * the first frame), and that the 16 MiB message really went compressed. Payloads: non-ASCII
 * compressible text and binary from 0 B to 16 MiB, sizes around the 1024-byte threshold included;
 * then the close code and reason, seen by both ends.
 *
 * Needs the Debian packages `python3-websockets` and `chromium` (`.ci/setup --system`).
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import {
  launchChromium,
  messageBytes,
  type PeerMessage,
  type PeerScript,
  type ReceivedMessage,
  runBrowserClient,
  runPythonClient,
  sha256Hex,
  startPythonEchoServer,
} from '@fullduplex/testkit/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PerMessageDeflateOptions, WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { connect, WebSocketServer } from '../src/index.ts';

type Browser = Awaited<ReturnType<typeof launchChromium>>;
/** Our `perMessageDeflate` option (not re-exported by @fullduplex/node under a name). */
type OurDeflateOption = NonNullable<ConstructorParameters<typeof WebSocketServer>[0]>['perMessageDeflate'];

const MiB = 1024 * 1024;
const THRESHOLD = 1024;
const TIMEOUT = 180_000;

// ------------------------------------------------------------------ payloads

/** Compressible text of exactly `bytes` UTF-8 bytes: 2-, 3- and 4-byte sequences and a running number. */
function textOfBytes(bytes: number, seed = 0): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = seed; ; i++) {
    const phrase = `Grüße ✓ 漢字 🚀 n°${i}; `;
    const length = Buffer.byteLength(phrase);
    if (size + length > bytes) {
      for (const char of phrase) {
        const charLength = Buffer.byteLength(char);
        if (size + charLength > bytes) break;
        parts.push(char);
        size += charLength;
      }
      break;
    }
    parts.push(phrase);
    size += length;
  }
  parts.push('x'.repeat(bytes - size));
  return parts.join('');
}

/** Compressible but realistic binary (JSON-ish records with varying numbers), as base64. */
function recordsBase64(bytes: number): string {
  let state = 12345;
  const random = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const record = `{"id":${random() % 100000},"name":"user${random() % 997}","score":${(random() % 10000) / 100},"tags":["a","b${random() % 7}"]},`;
    parts.push(record);
    size += record.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes), 'latin1').toString('base64');
}

const SIZES = [0, 1, 100, 1023, 1024, 1025, 4096, 65_536, MiB];
const text = (bytes: number): PeerMessage => ({ type: 'text', data: textOfBytes(bytes, bytes) });
const binary = (size: number): PeerMessage => ({ type: 'binary_size', size, seed: size & 255 });
const BIG_BINARY = binary(16 * MiB);
const BIG_TEXT = text(16 * MiB);

/**
 * Text and binary of every size, ASCII text right at the threshold, realistic binary, and 16 MiB
 * of compressible binary. `bigText` adds 16 MiB of non-ASCII text as well.
 */
function payloads(bigText: boolean): PeerMessage[] {
  const out: PeerMessage[] = [];
  for (const size of SIZES) out.push(text(size), binary(size));
  out.push({ type: 'text', data: 'a'.repeat(THRESHOLD - 1) }, { type: 'text', data: 'b'.repeat(THRESHOLD) });
  out.push({ type: 'binary', base64: recordsBase64(256 * 1024) });
  out.push(BIG_BINARY);
  if (bigText) out.push(BIG_TEXT);
  return out;
}

/** How a message is compared: type, UTF-8 size and SHA-256 (no 16 MiB diffs). */
interface Digest {
  type: 'text' | 'binary';
  size: number;
  sha256: string;
}

function digest(data: string | Uint8Array, isBinary: boolean): Digest {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { type: isBinary ? 'binary' : 'text', size: bytes.byteLength, sha256: sha256Hex(bytes) };
}

function digestOf(message: PeerMessage): Digest {
  return digest(messageBytes(message), message.type !== 'text');
}

/** A peer's report (text in full, binary summarised) as a digest. */
function digestReceived(message: ReceivedMessage): Digest {
  if (message.type === 'text') return digest(message.data, false);
  return { type: 'binary', size: message.size, sha256: message.sha256 };
}

/** Bytes on the wire: what we put into the socket for a PeerMessage. */
function outgoing(message: PeerMessage): string | Buffer {
  return message.type === 'text' ? message.data : Buffer.from(messageBytes(message));
}

/** Whether we compress `message`: at or above the threshold, counted in UTF-8 bytes as documented. */
function weCompress(message: PeerMessage, threshold = THRESHOLD): boolean {
  return messageBytes(message).byteLength >= threshold;
}

const CLIENT_CLOSE = { code: 4001, reason: 'client done ✓' };
const SERVER_CLOSE = { code: 4002, reason: 'server done ✓' };
const closeCommand = (close: { code: number; reason: string }): PeerMessage => ({
  type: 'text',
  data: `close:${close.code}:${close.reason}`,
});
const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

interface SeenClose {
  code: number;
  reason: string;
}

// ------------------------------------------------------------------ the tap

interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  length: number;
}

/** A data message as it crossed the wire. */
interface WireMessage {
  type: 'text' | 'binary';
  compressed: boolean;
  /** Payload bytes on the wire, all frames. */
  wireSize: number;
  frames: number;
  /** RSV1 on any frame but the first (must never happen). */
  rsv1OnContinuation: boolean;
}

/** Parses one direction of a WebSocket connection: the HTTP head, then frame headers (payloads skipped). */
class WireParser {
  head: string | undefined;
  readonly frames: WireFrame[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private skip = 0;

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.head === undefined) {
      this.pending = Buffer.concat([this.pending, data]);
      const end = this.pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.head = this.pending.subarray(0, end).toString('latin1');
      data = this.pending.subarray(end + 4);
      this.pending = Buffer.alloc(0);
    }
    while (data.length > 0) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      const buffer: Buffer = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
      const header = parseFrameHeader(buffer);
      if (header === undefined) {
        this.pending = Buffer.from(buffer);
        return;
      }
      this.pending = Buffer.alloc(0);
      this.frames.push(header.frame);
      this.skip = header.frame.length;
      data = buffer.subarray(header.size);
    }
  }

  /** The value of a header in the HTTP head, or null. */
  header(name: string): string | null {
    for (const line of (this.head ?? '').split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
    }
    return null;
  }

  /** Data messages in order (control frames left out). */
  messages(): WireMessage[] {
    const out: WireMessage[] = [];
    let current: WireMessage | undefined;
    for (const frame of this.frames) {
      if (frame.opcode >= 8) continue;
      if (frame.opcode !== 0) {
        current = {
          type: frame.opcode === 1 ? 'text' : 'binary',
          compressed: frame.rsv1,
          wireSize: 0,
          frames: 0,
          rsv1OnContinuation: false,
        };
        out.push(current);
      } else if (current === undefined) {
        throw new Error('continuation frame without a message');
      } else if (frame.rsv1) {
        current.rsv1OnContinuation = true;
      }
      current.wireSize += frame.length;
      current.frames++;
    }
    return out;
  }
}

function parseFrameHeader(buffer: Buffer): { frame: WireFrame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  const b0 = buffer[0] as number;
  const b1 = buffer[1] as number;
  let length = b1 & 0x7f;
  let size = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    size = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    size = 10;
  }
  if (b1 & 0x80) size += 4;
  if (buffer.length < size) return undefined;
  return { frame: { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, length }, size };
}

interface TapConnection {
  toServer: WireParser;
  toClient: WireParser;
}

interface Tap {
  url: string;
  connections: TapConnection[];
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of `port` that records what crosses it. */
async function startTap(port: number): Promise<Tap> {
  const connections: TapConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const tap: TapConnection = { toServer: new WireParser(), toClient: new WireParser() };
    connections.push(tap);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => tap.toServer.push(chunk));
    upstream.on('data', (chunk: Buffer) => tap.toClient.push(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroySoon());
    upstream.on('close', () => client.destroySoon());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${address.port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------ servers

/** What one server-side connection saw. */
interface ServerSide {
  /** The offer as the server received it. */
  offer: string | null;
  /** The answer as the server's API reports it. */
  extensions: string;
  received: Digest[];
  closed: Promise<SeenClose>;
}

interface EchoServer {
  port: number;
  connections: ServerSide[];
  stop(): Promise<void>;
}

/** Our echo server; the text `close:<code>:<reason>` makes it close instead. */
async function startOurServer(perMessageDeflate: OurDeflateOption): Promise<EchoServer> {
  const server = new WebSocketServer({
    perMessageDeflate,
    maxMessageSize: 64 * MiB,
    maxBufferedAmount: 256 * MiB,
  });
  const connections: ServerSide[] = [];
  server.on('connection', (ws, request) => {
    const side: ServerSide = {
      offer: request.headers.get('sec-websocket-extensions') ?? null,
      extensions: ws.extensions,
      received: [],
      closed: ws.closed().then(({ code, reason }) => ({ code, reason })),
    };
    connections.push(side);
    ws.on('message', (data, isBinary) => {
      side.received.push(digest(data, isBinary));
      const match = isBinary ? null : CLOSE_COMMAND.exec(data as string);
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(data, { binary: isBinary });
    });
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, connections, stop: () => server.close({ timeout: 1000 }) };
}

/** The same on the npm `ws` package; `offer`/`extensions` come from its `headers` event. */
async function startWsServer(perMessageDeflate: boolean | PerMessageDeflateOptions): Promise<EchoServer> {
  const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload: 64 * MiB });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const answers: string[] = [];
  wss.on('headers', (headers) => {
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    answers.push(line ? line.slice(line.indexOf(':') + 1).trim() : '');
  });
  const connections: ServerSide[] = [];
  wss.on('connection', (ws, request) => {
    const side: ServerSide = {
      offer: request.headers['sec-websocket-extensions'] ?? null,
      extensions: answers[connections.length] ?? '',
      received: [],
      closed: new Promise((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
      ),
    };
    connections.push(side);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      side.received.push(digest(bytes, isBinary));
      const match = isBinary ? null : CLOSE_COMMAND.exec(bytes.toString('utf8'));
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(bytes, { binary: isBinary });
    });
  });
  return {
    port: (wss.address() as { port: number }).port,
    connections,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------ clients

/** What a client saw: the answer its API reports, the echoes, the close. */
interface ClientSide {
  extensions: string | null;
  received: Digest[];
  close: SeenClose | null;
  error: string | null;
}

/** The PeerScript semantics with the npm `ws` client. */
function runWsClient(
  url: string,
  perMessageDeflate: boolean | PerMessageDeflateOptions,
  script: PeerScript,
): Promise<ClientSide & { apiExtensions: string }> {
  return new Promise((resolve) => {
    const ws = new WsClient(url, { perMessageDeflate, maxPayload: 64 * MiB });
    const result = {
      extensions: null as string | null,
      apiExtensions: '',
      received: [] as Digest[],
      close: null as SeenClose | null,
      error: null as string | null,
    };
    let closing = false;
    const maybeClose = (): void => {
      if (!script.close || closing || result.received.length < script.expect) return;
      closing = true;
      ws.close(script.close.code, script.close.reason);
    };
    ws.on('upgrade', (response) => {
      result.extensions = response.headers['sec-websocket-extensions'] ?? null;
    });
    ws.on('open', () => {
      result.apiExtensions = ws.extensions;
      for (const m of script.send) ws.send(outgoing(m), { binary: m.type !== 'text' });
      maybeClose();
    });
    ws.on('message', (data, isBinary) => {
      result.received.push(digest(data as Buffer, isBinary));
      maybeClose();
    });
    ws.on('error', (error) => {
      result.error ??= error.message;
    });
    ws.on('close', (code, reason) => {
      result.close = { code, reason: reason.toString('utf8') };
      resolve(result);
    });
  });
}

/** The same with our client. */
async function runOurClient(url: string, perMessageDeflate: OurDeflateOption, script: PeerScript) {
  const ws = await connect(url, {
    perMessageDeflate,
    maxMessageSize: 64 * MiB,
    maxBufferedAmount: 256 * MiB,
  });
  const received: Digest[] = [];
  const errors: string[] = [];
  ws.on('error', (error) => errors.push(error.message));
  let enough!: () => void;
  const gotEnough = new Promise<void>((resolve) => {
    enough = resolve;
  });
  if (script.expect === 0) enough();
  ws.on('message', (data, isBinary) => {
    received.push(digest(data, isBinary));
    if (received.length === script.expect) enough();
  });
  for (const m of script.send) {
    expect(ws.send(m.type === 'text' ? m.data : messageBytes(m))).not.toBe('dropped');
  }
  if (script.close) {
    await Promise.race([gotEnough, ws.closed()]);
    ws.close(script.close.code, script.close.reason);
  }
  const { code, reason, wasClean } = await ws.closed();
  return { extensions: ws.extensions, received, close: { code, reason }, wasClean, errors };
}

// ------------------------------------------------------------------ wire checks

/** The compressor windows an answer sets: `[client→server, server→client]`, 15 when not named. */
function windows(answer: string): [number, number] {
  const bits = (name: string): number => Number(new RegExp(`${name}=(\\d+)`).exec(answer)?.[1] ?? 15);
  return [bits('client_max_window_bits'), bits('server_max_window_bits')];
}

/**
 * Checks one direction of the tap against the messages sent that way: same count and types,
 * RSV1 only on first frames, and (for the side we are) compression exactly where the threshold
 * says. The 16 MiB message must go compressed whoever sends it, and shrink at least by half unless
 * the compressor's window is 9 bits (a 512-byte window with 262 bytes of lookahead cannot see the
 * pattern's 256-byte period: zlib's output is then a little larger than its input).
 */
function checkWire(
  messages: WireMessage[],
  sent: PeerMessage[],
  window: number,
  ours: { threshold: number; compresses: boolean } | undefined,
  peer: PeerCompression,
): void {
  expect(messages.map((m) => m.type)).toEqual(sent.map((m) => (m.type === 'text' ? 'text' : 'binary')));
  expect(messages.filter((m) => m.rsv1OnContinuation)).toEqual([]);
  if (ours !== undefined) {
    const want = sent.map((m) => ours.compresses && weCompress(m, ours.threshold));
    expect(messages.map((m) => m.compressed)).toEqual(want);
  } else {
    // What the peer compressed: everything, or what reaches its threshold (in UTF-8 bytes).
    const want = sent.map((m) => peer === 'all' || messageBytes(m).byteLength >= peer);
    expect(messages.map((m) => m.compressed)).toEqual(want);
  }
  const bigIndex = sent.indexOf(BIG_BINARY);
  if (bigIndex !== -1 && (ours === undefined || ours.compresses)) {
    const big = messages[bigIndex] as WireMessage;
    expect(big.compressed).toBe(true);
    if (window >= 10) expect(big.wireSize).toBeLessThan(8 * MiB);
  }
}

/**
 * Which messages a peer compresses: Chromium and Python websockets 10.4 compress every message;
 * ws does too with context takeover, and applies its `threshold` (1024 bytes) only without.
 */
type PeerCompression = 'all' | number;

/** ws's rule for its own side of `answer`. */
function wsCompression(answer: string, side: 'server' | 'client', threshold = THRESHOLD): PeerCompression {
  return answer.includes(`${side}_no_context_takeover`) ? threshold : 'all';
}

/** Checks both directions; `ourSide` says which end is ours. */
function checkTap(
  tap: Tap,
  sent: PeerMessage[],
  answer: string,
  ourSide: 'server' | 'client',
  peer: PeerCompression,
  ours: { threshold: number; compresses: boolean } = { threshold: THRESHOLD, compresses: true },
): void {
  const wire = tap.connections[0] as TapConnection;
  const [clientWindow, serverWindow] = windows(answer);
  checkWire(wire.toServer.messages(), sent, clientWindow, ourSide === 'client' ? ours : undefined, peer);
  checkWire(wire.toClient.messages(), sent, serverWindow, ourSide === 'server' ? ours : undefined, peer);
}

/** The offer and the answer as they crossed the wire. */
function negotiated(tap: Tap): { offer: string | null; answer: string | null } {
  const connection = tap.connections[0] as TapConnection;
  return {
    offer: connection.toServer.header('sec-websocket-extensions'),
    answer: connection.toClient.header('sec-websocket-extensions'),
  };
}

// ------------------------------------------------------------------ our server ↔ ws client

const OUR_SERVER_VARIANTS: [string, OurDeflateOption][] = [
  ['perMessageDeflate: true', true],
  ['no context takeover both ways', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ['serverMaxWindowBits: 10', { serverMaxWindowBits: 10 }],
];

const WS_CLIENT_VARIANTS: [string, true | PerMessageDeflateOptions, string][] = [
  ['perMessageDeflate: true', true, 'permessage-deflate; client_max_window_bits'],
  [
    'clientNoContextTakeover + serverMaxWindowBits 10',
    { clientNoContextTakeover: true, serverMaxWindowBits: 10 },
    'permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits',
  ],
  [
    'serverNoContextTakeover + clientMaxWindowBits 9',
    { serverNoContextTakeover: true, clientMaxWindowBits: 9 },
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=9',
  ],
];

/** Our answer, per [our server variant][ws client variant]. */
const OUR_ANSWERS: string[][] = [
  [
    'permessage-deflate',
    'permessage-deflate; client_no_context_takeover; server_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=9',
  ],
  [
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9',
  ],
  [
    'permessage-deflate; server_max_window_bits=10',
    'permessage-deflate; client_no_context_takeover; server_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
  ],
];

/** The answer Chromium and Python clients (offer: `permessage-deflate; client_max_window_bits`) get. */
const BROWSER_OFFER = 'permessage-deflate; client_max_window_bits';
const ANSWERS_TO_DEFAULT_OFFER = OUR_ANSWERS.map((row) => row[0] as string);

describe('permessage-deflate: our server ↔ ws client', () => {
  OUR_SERVER_VARIANTS.forEach(([serverName, serverOption], s) => {
    WS_CLIENT_VARIANTS.forEach(([clientName, clientOption, offer], c) => {
      it(
        `server ${serverName} × ws client ${clientName}: negotiates, round-trips 0 B – 16 MiB, client closes`,
        async () => {
          const server = await startOurServer(serverOption);
          const tap = await startTap(server.port);
          try {
            const send = payloads(s === 0 && c === 0);
            const result = await runWsClient(tap.url, clientOption, {
              send,
              expect: send.length,
              close: CLIENT_CLOSE,
            });
            const answer = OUR_ANSWERS[s]?.[c] as string;
            expect(result).toEqual({
              extensions: answer,
              apiExtensions: 'permessage-deflate',
              received: send.map(digestOf),
              close: CLIENT_CLOSE,
              error: null,
            });
            expect(negotiated(tap)).toEqual({ offer, answer });
            const side = server.connections[0] as ServerSide;
            expect(side.offer).toBe(offer);
            expect(side.extensions).toBe(answer);
            expect(side.received).toEqual(send.map(digestOf));
            expect(await side.closed).toEqual(CLIENT_CLOSE);
            checkTap(tap, send, answer, 'server', wsCompression(answer, 'client'));
          } finally {
            await tap.close();
            await server.stop();
          }
        },
        TIMEOUT,
      );
    });
  });

  it('the server closes 4002 + reason right after a compressed message', async () => {
    const server = await startOurServer(true);
    try {
      const send = [text(5000), binary(70_000), closeCommand(SERVER_CLOSE)];
      const result = await runWsClient(`ws://127.0.0.1:${server.port}`, true, { send, expect: 2 });
      expect(result).toMatchObject({
        received: send.slice(0, 2).map(digestOf),
        close: SERVER_CLOSE,
        error: null,
      });
      const side = server.connections[0] as ServerSide;
      expect(side.received).toEqual(send.map(digestOf));
      expect(await side.closed).toEqual(SERVER_CLOSE);
    } finally {
      await server.stop();
    }
  });

  /** Sends fragmented messages the way ws does (`fin: false` … `fin: true`) and checks the echoes. */
  async function fragmentsFromWs(clientOption: true | PerMessageDeflateOptions) {
    const server = await startOurServer(true);
    const tap = await startTap(server.port);
    try {
      const ws = new WsClient(tap.url, { perMessageDeflate: clientOption });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const textBytes = Buffer.from(textOfBytes(200_000, 3));
      // Inside a 4-byte code point, past ws's 1024-byte threshold.
      const cut = textBytes.indexOf(Buffer.from('🚀'), 2000) + 2;
      const big = Buffer.from(messageBytes(binary(3 * MiB)));
      const small = Buffer.from('tiny ✓ fragments');
      const want = [digest(textBytes, false), digest(big, true), digest(small, false)];
      const echoes: Digest[] = [];
      const gotAll = new Promise<void>((resolve) =>
        ws.on('message', (data, isBinary) => {
          echoes.push(digest(data as Buffer, isBinary));
          if (echoes.length === want.length) resolve();
        }),
      );
      const pong = new Promise<string>((resolve) => ws.once('pong', (data) => resolve(data.toString())));
      ws.send(textBytes.subarray(0, cut), { binary: false, fin: false });
      ws.ping('mid');
      ws.send(textBytes.subarray(cut, cut + 1), { binary: false, fin: false });
      ws.send(textBytes.subarray(cut + 1, cut + 1), { binary: false, fin: false }); // empty
      ws.send(textBytes.subarray(cut + 1), { binary: false, fin: true });
      for (let at = 0; at < big.length; at += MiB) {
        ws.send(big.subarray(at, at + MiB), { binary: true, fin: at + MiB >= big.length });
      }
      ws.send(small.subarray(0, 4), { binary: false, fin: false });
      ws.send(small.subarray(4), { binary: false, fin: true });
      await gotAll;
      expect(await pong).toBe('mid');
      expect(echoes).toEqual(want);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      expect(await closed).toBe(1000);
      const side = server.connections[0] as ServerSide;
      expect(await side.closed).toEqual({ code: 1000, reason: '' });
      expect(side.received).toEqual(want);
      const sent = (tap.connections[0] as TapConnection).toServer.messages();
      return sent.map(({ compressed, frames, rsv1OnContinuation }) => ({
        compressed,
        frames,
        rsv1OnContinuation,
      }));
    } finally {
      await tap.close();
      await server.stop();
    }
  }

  it('reassembles and inflates compressed fragmented messages from ws (context takeover)', async () => {
    // With context takeover ws compresses every message, whatever its size.
    expect(await fragmentsFromWs(true)).toEqual([
      { compressed: true, frames: 4, rsv1OnContinuation: false },
      { compressed: true, frames: 3, rsv1OnContinuation: false },
      { compressed: true, frames: 2, rsv1OnContinuation: false },
    ]);
  }, 60_000);

  it('reassembles and inflates compressed fragmented messages from ws (client_no_context_takeover)', async () => {
    // Without context takeover ws decides on the first fragment's size against its threshold (1024).
    expect(await fragmentsFromWs({ clientNoContextTakeover: true })).toEqual([
      { compressed: true, frames: 4, rsv1OnContinuation: false },
      { compressed: true, frames: 3, rsv1OnContinuation: false },
      { compressed: false, frames: 2, rsv1OnContinuation: false },
    ]);
  }, 60_000);

  /** ws client: sends, then closes at once; reports the echoes it still got and how it closed. */
  async function sendThenClose(server: EchoServer, send: PeerMessage[]) {
    try {
      const result = await runWsClient(`ws://127.0.0.1:${server.port}`, true, {
        send,
        expect: 0,
        close: CLIENT_CLOSE,
      });
      const side = server.connections[0] as ServerSide;
      return { client: result, server: { received: side.received, closed: await side.closed } };
    } finally {
      await server.stop();
    }
  }

  const SEND_THEN_CLOSE: [string, () => Promise<EchoServer>][] = [
    ['ws server, no compression (reference)', () => startWsServer(false)],
    ['ws server, compression (reference)', () => startWsServer(true)],
    ['our server, no compression', () => startOurServer(false)],
    ['our server, compression', () => startOurServer(true)],
    [
      'our server, compression without context takeover',
      () => startOurServer({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    ],
  ];
  for (const [name, start] of SEND_THEN_CLOSE) {
    it(`a client that sends and closes at once still gets the echoes made before the close: ${name}`, async () => {
      // The server echoes each message as it is delivered, i.e. before it acts on the close frame
      // behind them, so the echoes go out before the close reply (RFC 6455 §5.5.1 allows no data
      // after it; ws sends them first, with or without compression).
      const send = [text(5000), binary(4 * MiB), text(100), binary(40_000)];
      const result = await sendThenClose(await start(), send);
      expect(result.server).toEqual({ received: send.map(digestOf), closed: CLIENT_CLOSE });
      expect(result.client).toMatchObject({ received: send.map(digestOf), close: CLIENT_CLOSE, error: null });
    });
  }

  it('40 ws clients at once, each with a mix of sizes, all echoed intact', async () => {
    const server = await startOurServer(true);
    try {
      const send = [text(100), binary(3000), text(20_000), binary(300_000), text(1024), binary(70_000)];
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          runWsClient(
            `ws://127.0.0.1:${server.port}`,
            i % 2 === 0 ? true : { clientNoContextTakeover: true },
            {
              send,
              expect: send.length,
              close: CLIENT_CLOSE,
            },
          ),
        ),
      );
      for (const result of results) {
        expect(result).toMatchObject({ received: send.map(digestOf), close: CLIENT_CLOSE, error: null });
      }
      expect(server.connections).toHaveLength(40);
      for (const side of server.connections) expect(side.received).toEqual(send.map(digestOf));
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('threshold counts UTF-8 bytes for text, as documented and as ws does', async () => {
    // 600 × "é" is 1200 bytes but 600 UTF-16 code units. PerMessageDeflateOptions.threshold says
    // "Messages smaller than this many bytes are sent uncompressed"; ws compares bytes too.
    const server = await startOurServer({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const tap = await startTap(server.port);
    try {
      const send: PeerMessage[] = [
        { type: 'text', data: 'é'.repeat(600) },
        { type: 'text', data: 'é'.repeat(511) },
      ];
      const result = await runWsClient(tap.url, true, { send, expect: 2, close: CLIENT_CLOSE });
      expect(result.received).toEqual(send.map(digestOf));
      const wire = tap.connections[0] as TapConnection;
      // ws (no context takeover, threshold 1024 bytes): 1200 bytes compressed, 1022 bytes not.
      expect(wire.toServer.messages().map((m) => m.compressed)).toEqual([true, false]);
      // Ours must do the same.
      expect(wire.toClient.messages().map((m) => m.compressed)).toEqual([true, false]);
    } finally {
      await tap.close();
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ our server ↔ Chromium

describe('permessage-deflate: our server ↔ Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  OUR_SERVER_VARIANTS.forEach(([serverName, serverOption], s) => {
    it(
      `server ${serverName}: negotiates, round-trips 0 B – 16 MiB, browser closes`,
      async () => {
        const server = await startOurServer(serverOption);
        const tap = await startTap(server.port);
        try {
          const send = payloads(false);
          const result = await runBrowserClient(
            browser,
            tap.url,
            { send, expect: send.length, close: CLIENT_CLOSE },
            { timeoutMs: 120_000 },
          );
          const answer = ANSWERS_TO_DEFAULT_OFFER[s] as string;
          expect({ ...result, received: result.received.map(digestReceived) }).toEqual({
            protocol: null,
            extensions: answer,
            received: send.map(digestOf),
            closeCode: CLIENT_CLOSE.code,
            closeReason: CLIENT_CLOSE.reason,
            wasClean: true,
            error: null,
          });
          expect(negotiated(tap)).toEqual({ offer: BROWSER_OFFER, answer });
          const side = server.connections[0] as ServerSide;
          expect(side.offer).toBe(BROWSER_OFFER);
          expect(side.extensions).toBe(answer);
          expect(side.received).toEqual(send.map(digestOf));
          expect(await side.closed).toEqual(CLIENT_CLOSE);
          checkTap(tap, send, answer, 'server', 'all');
        } finally {
          await tap.close();
          await server.stop();
        }
      },
      TIMEOUT,
    );
  });

  it('a browser that sends and closes at once: every compressed message is delivered before the close', async () => {
    const server = await startOurServer(true);
    try {
      const send = [text(5000), binary(4 * MiB), text(100), binary(40_000)];
      const result = await runBrowserClient(browser, `ws://127.0.0.1:${server.port}`, {
        send,
        expect: 0,
        close: CLIENT_CLOSE,
      });
      const side = server.connections[0] as ServerSide;
      expect(side.received).toEqual(send.map(digestOf));
      expect(await side.closed).toEqual(CLIENT_CLOSE);
      // The page sees none of the echoes: a browser drops messages once close() was called
      // (WHATWG WebSockets: "if ready state is not OPEN, return"), with a ws server as well.
      expect(result).toMatchObject({
        received: [],
        closeCode: CLIENT_CLOSE.code,
        wasClean: true,
        error: null,
      });
    } finally {
      await server.stop();
    }
  });

  it('the server closes 4002 + reason right after a compressed message', async () => {
    const server = await startOurServer(true);
    try {
      const send = [text(5000), binary(70_000), closeCommand(SERVER_CLOSE)];
      const result = await runBrowserClient(browser, `ws://127.0.0.1:${server.port}`, {
        send,
        expect: 2,
        close: null,
      });
      expect({ ...result, received: result.received.map(digestReceived) }).toEqual({
        protocol: null,
        extensions: 'permessage-deflate',
        received: send.slice(0, 2).map(digestOf),
        closeCode: SERVER_CLOSE.code,
        closeReason: SERVER_CLOSE.reason,
        wasClean: true,
        error: null,
      });
      const side = server.connections[0] as ServerSide;
      expect(side.received).toEqual(send.map(digestOf));
      expect(await side.closed).toEqual(SERVER_CLOSE);
    } finally {
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ our server ↔ Python client

describe('permessage-deflate: our server ↔ Python websockets client', () => {
  OUR_SERVER_VARIANTS.forEach(([serverName, serverOption], s) => {
    it(
      `server ${serverName}: negotiates, round-trips 0 B – 16 MiB, client closes`,
      async () => {
        const server = await startOurServer(serverOption);
        const tap = await startTap(server.port);
        try {
          const send = payloads(s === 0);
          const result = await runPythonClient(
            tap.url,
            { send, expect: send.length, close: CLIENT_CLOSE },
            { compression: true, timeoutMs: 150_000 },
          );
          const answer = ANSWERS_TO_DEFAULT_OFFER[s] as string;
          expect({ ...result, received: result.received.map(digestReceived) }).toEqual({
            protocol: null,
            extensions: answer,
            received: send.map(digestOf),
            closeCode: CLIENT_CLOSE.code,
            closeReason: CLIENT_CLOSE.reason,
            error: null,
          });
          expect(negotiated(tap)).toEqual({ offer: BROWSER_OFFER, answer });
          const side = server.connections[0] as ServerSide;
          expect(side.offer).toBe(BROWSER_OFFER);
          expect(side.extensions).toBe(answer);
          expect(side.received).toEqual(send.map(digestOf));
          expect(await side.closed).toEqual(CLIENT_CLOSE);
          checkTap(tap, send, answer, 'server', 'all');
        } finally {
          await tap.close();
          await server.stop();
        }
      },
      TIMEOUT,
    );
  });

  it('the server closes 4002 + reason right after a compressed message', async () => {
    const server = await startOurServer(true);
    try {
      const send = [text(5000), binary(70_000), closeCommand(SERVER_CLOSE)];
      const result = await runPythonClient(
        `ws://127.0.0.1:${server.port}`,
        { send, expect: 2, close: null },
        { compression: true },
      );
      expect({ ...result, received: result.received.map(digestReceived) }).toEqual({
        protocol: null,
        extensions: 'permessage-deflate',
        received: send.slice(0, 2).map(digestOf),
        closeCode: SERVER_CLOSE.code,
        closeReason: SERVER_CLOSE.reason,
        error: null,
      });
      const side = server.connections[0] as ServerSide;
      expect(side.received).toEqual(send.map(digestOf));
      expect(await side.closed).toEqual(SERVER_CLOSE);
    } finally {
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ our client ↔ ws server

/** Our client's default offer. */
const OUR_OFFER = 'permessage-deflate; client_max_window_bits';

const WS_SERVER_VARIANTS: {
  name: string;
  server: true | PerMessageDeflateOptions;
  client: OurDeflateOption;
  offer: string;
  answer: string;
  /** Our threshold, and whether the answer lets us compress at all (window 8: no). */
  ours: { threshold: number; compresses: boolean };
  /** The ws server's threshold, when not 1024. */
  wsThreshold?: number;
}[] = [
  {
    name: 'ws perMessageDeflate: true',
    server: true,
    client: undefined,
    offer: OUR_OFFER,
    answer: 'permessage-deflate',
    ours: { threshold: THRESHOLD, compresses: true },
  },
  {
    name: 'ws serverNoContextTakeover',
    server: { serverNoContextTakeover: true },
    client: undefined,
    offer: OUR_OFFER,
    answer: 'permessage-deflate; server_no_context_takeover',
    ours: { threshold: THRESHOLD, compresses: true },
  },
  {
    name: 'ws threshold 0 × our threshold 0',
    server: { threshold: 0 },
    client: { threshold: 0 },
    offer: OUR_OFFER,
    answer: 'permessage-deflate',
    ours: { threshold: 0, compresses: true },
    wsThreshold: 0,
  },
  {
    name: 'ws clientNoContextTakeover + both windows capped',
    server: { clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 10 },
    client: undefined,
    offer: OUR_OFFER,
    // ws lists the parameters in its own order.
    answer:
      'permessage-deflate; client_max_window_bits=10; client_no_context_takeover; server_max_window_bits=11',
    ours: { threshold: THRESHOLD, compresses: true },
  },
  {
    name: 'ws client window 8 (we send uncompressed)',
    server: { clientMaxWindowBits: 8 },
    client: undefined,
    offer: OUR_OFFER,
    answer: 'permessage-deflate; client_max_window_bits=8',
    ours: { threshold: THRESHOLD, compresses: false },
  },
  {
    name: 'our client asks for no context takeover both ways and server window 9',
    server: true,
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 },
    offer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits',
    answer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9',
    ours: { threshold: THRESHOLD, compresses: true },
  },
];

describe('permessage-deflate: our client ↔ ws server', () => {
  WS_SERVER_VARIANTS.forEach((variant, v) => {
    it(
      `${variant.name}: negotiates, round-trips 0 B – 16 MiB, client closes`,
      async () => {
        const server = await startWsServer(variant.server);
        const tap = await startTap(server.port);
        try {
          const send = payloads(v === 0);
          const result = await runOurClient(tap.url, variant.client, {
            send,
            expect: send.length,
            close: CLIENT_CLOSE,
          });
          expect(result).toEqual({
            extensions: variant.answer,
            received: send.map(digestOf),
            close: CLIENT_CLOSE,
            wasClean: true,
            errors: [],
          });
          expect(negotiated(tap)).toEqual({ offer: variant.offer, answer: variant.answer });
          const side = server.connections[0] as ServerSide;
          expect(side.offer).toBe(variant.offer);
          expect(side.extensions).toBe(variant.answer);
          expect(side.received).toEqual(send.map(digestOf));
          expect(await side.closed).toEqual(CLIENT_CLOSE);
          checkTap(
            tap,
            send,
            variant.answer,
            'client',
            wsCompression(variant.answer, 'server', variant.wsThreshold),
            variant.ours,
          );
        } finally {
          await tap.close();
          await server.stop();
        }
      },
      TIMEOUT,
    );
  });

  it('the ws server closes 4002 + reason right after a compressed message', async () => {
    const server = await startWsServer(true);
    try {
      const send = [text(5000), binary(70_000), closeCommand(SERVER_CLOSE)];
      const result = await runOurClient(`ws://127.0.0.1:${server.port}`, undefined, {
        send,
        expect: 2,
        close: null,
      });
      expect(result).toEqual({
        extensions: 'permessage-deflate',
        received: send.slice(0, 2).map(digestOf),
        close: SERVER_CLOSE,
        wasClean: true,
        errors: [],
      });
      const side = server.connections[0] as ServerSide;
      expect(side.received).toEqual(send.map(digestOf));
      expect(await side.closed).toEqual(SERVER_CLOSE);
    } finally {
      await server.stop();
    }
  });

  it('inflates compressed fragmented messages from a ws server', async () => {
    const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const textBytes = Buffer.from(textOfBytes(100_000, 5));
    const cut = textBytes.indexOf(Buffer.from('漢')) + 1;
    const big = Buffer.from(messageBytes(binary(2 * MiB)));
    wss.on('connection', (peer) =>
      peer.once('message', () => {
        peer.send(textBytes.subarray(0, cut), { binary: false, fin: false });
        peer.ping('mid');
        peer.send(textBytes.subarray(cut), { binary: false, fin: true });
        peer.send(big.subarray(0, MiB), { binary: true, fin: false });
        peer.send(big.subarray(MiB, MiB), { binary: true, fin: false });
        peer.send(big.subarray(MiB), { binary: true, fin: true });
        peer.close(1000, 'done');
      }),
    );
    try {
      const ws = await connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
      expect(ws.extensions).toBe('permessage-deflate');
      const pings: string[] = [];
      ws.on('ping', (data) => pings.push(Buffer.from(data).toString()));
      ws.send('go');
      const received: Digest[] = [];
      for await (const message of ws) received.push(digest(message, typeof message !== 'string'));
      expect(received).toEqual([digest(textBytes, false), digest(big, true)]);
      expect(pings).toEqual(['mid']);
      expect(await ws.closed()).toEqual({ code: 1000, reason: 'done', wasClean: true });
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});

// ------------------------------------------------------------------ our client ↔ Python server

/** Python websockets 10.4's server answers with 12-bit windows (its memory-saving default). */
const PYTHON_VARIANTS: {
  name: string;
  client: OurDeflateOption;
  offer: string;
  answer: string;
}[] = [
  {
    name: 'our default offer',
    client: undefined,
    offer: OUR_OFFER,
    answer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
  },
  {
    name: 'no context takeover both ways, server window 10',
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
    offer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits',
    answer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
  },
];

describe('permessage-deflate: our client ↔ Python websockets server', () => {
  PYTHON_VARIANTS.forEach((variant, v) => {
    it(
      `${variant.name}: negotiates, round-trips 0 B – 16 MiB, client closes`,
      async () => {
        const server = await startPythonEchoServer({ compression: true });
        const tap = await startTap(server.port);
        try {
          const send = payloads(v === 0);
          const result = await runOurClient(tap.url, variant.client, {
            send,
            expect: send.length,
            close: CLIENT_CLOSE,
          });
          expect(result).toEqual({
            extensions: variant.answer,
            received: send.map(digestOf),
            close: CLIENT_CLOSE,
            wasClean: true,
            errors: [],
          });
          expect(negotiated(tap)).toEqual({ offer: variant.offer, answer: variant.answer });
          checkTap(tap, send, variant.answer, 'client', 'all');
        } finally {
          await tap.close();
          await server.stop();
        }
      },
      TIMEOUT,
    );
  });

  it('the Python server closes 4002 + reason right after a compressed message', async () => {
    const server = await startPythonEchoServer({ compression: true });
    try {
      const send = [text(5000), binary(70_000), closeCommand(SERVER_CLOSE)];
      const result = await runOurClient(server.url, undefined, { send, expect: 2, close: null });
      expect(result).toEqual({
        extensions: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
        received: send.slice(0, 2).map(digestOf),
        close: SERVER_CLOSE,
        wasClean: true,
        errors: [],
      });
    } finally {
      await server.stop();
    }
  });
});
