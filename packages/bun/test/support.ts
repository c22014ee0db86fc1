/**
 * Shared support for the Bun interop and example tests: the messages every pairing exchanges, our
 * own echo server and scripted client, and child-process peers (Node `ws`, Deno, the examples).
 */

import { expect } from 'bun:test';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  binarySummary,
  echoSummary,
  messageBytes,
  type PeerMessage,
  type PeerScript,
  type ReceivedMessage,
} from '@fullduplex/testkit/peers';
import { type ClientOptions, connect, type ServerOptions, WebSocketServer } from '../src/index.ts';

export const MiB = 1024 * 1024;
/** What our servers (and the peers' servers) support; clients offer both, in this order. */
export const SUPPORTED = ['chat.v1'];
export const OFFERED = ['chat.v2', 'chat.v1'];

/** 4-byte, 3-byte and 2-byte UTF-8 sequences, combining marks, CJK, a BOM-like character. */
export const TEXT = 'héllo ✓ 🚀 — ünïcødé 漢字 e\u0301 \uFEFF end';
/** ~180 KB of multi-byte text: arrives in many TCP chunks, split inside code points. */
export const LONG_TEXT = 'ü€😀'.repeat(20_000);
export const SMALL: PeerMessage = {
  type: 'binary',
  base64: Buffer.from([0, 1, 2, 127, 128, 254, 255]).toString('base64'),
};
export const EMPTY_BINARY: PeerMessage = { type: 'binary', base64: '' };
/** 1 MiB of the testkit pattern ((i * 31 + 7) & 255: period 256, so it also compresses well). */
export const BIG: PeerMessage = { type: 'binary_size', size: MiB, seed: 7 };
export const SENDS: PeerMessage[] = [
  { type: 'text', data: TEXT },
  { type: 'text', data: '' },
  { type: 'text', data: LONG_TEXT },
  SMALL,
  EMPTY_BINARY,
  BIG,
];
export const ECHOES: ReceivedMessage[] = SENDS.map(echoSummary);

/** A little over 1 MiB of compressible multi-byte text (deflated, code points straddle blocks). */
export const COMPRESSIBLE_TEXT = 'permessage-deflate ✓ héllo 漢字 🚀 — '.repeat(24_000);
/** What the permessage-deflate round trips send: compressible text and binary, and a tiny message. */
export const DEFLATE_SENDS: PeerMessage[] = [{ type: 'text', data: COMPRESSIBLE_TEXT }, BIG, SMALL];
export const DEFLATE_ECHOES: ReceivedMessage[] = DEFLATE_SENDS.map(echoSummary);
/** Bytes of DEFLATE_SENDS; on the wire, compressed, each way must stay far below this. */
export const DEFLATE_BYTES = DEFLATE_SENDS.reduce((n, m) => n + messageBytes(m).length, 0);

export const CLIENT_CLOSE = { code: 4001, reason: 'client done ✓' };
export const SERVER_CLOSE = { code: 4002, reason: 'server done ✓' };
export const SERVER_CLOSE_COMMAND: PeerMessage = {
  type: 'text',
  data: `close:${SERVER_CLOSE.code}:${SERVER_CLOSE.reason}`,
};
export const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

export interface SeenClose {
  code: number;
  reason: string;
  wasClean?: boolean;
}

export function summarise(data: string | Uint8Array | ArrayBuffer, isBinary: boolean): ReceivedMessage {
  if (!isBinary) return { type: 'text', data: data as string };
  return binarySummary(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));
}

/** The bytes to send for a scripted message (text as a string). */
export function outgoing(message: PeerMessage): string | Uint8Array {
  return message.type === 'text' ? message.data : messageBytes(message);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// ------------------------------------------------------------------ our server

/** What one server-side connection observed. */
export interface ServerSide {
  protocol: string;
  extensions: string;
  received: ReceivedMessage[];
  closed: Promise<SeenClose>;
}

export interface EchoServer {
  url: string;
  connections: ServerSide[];
  stop(): Promise<void>;
}

/** Our Bun server: echoes with the same type; a text `close:<code>:<reason>` makes it close instead. */
export async function startOurEchoServer(options: ServerOptions = {}): Promise<EchoServer> {
  const server = new WebSocketServer({
    protocols: SUPPORTED,
    maxMessageSize: 64 * MiB,
    maxBufferedAmount: 64 * MiB,
    ...options,
  });
  const connections: ServerSide[] = [];
  server.on('connection', (ws) => {
    const side: ServerSide = {
      protocol: ws.protocol,
      extensions: ws.extensions,
      received: [],
      closed: ws.closed(),
    };
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

// ------------------------------------------------------------------ our client

export interface OurClientResult {
  protocol: string;
  extensions: string;
  received: ReceivedMessage[];
  close: SeenClose;
  errors: string[];
  /** Whether every buffer we sent still holds what it held before (masking must not touch it). */
  sentBuffersIntact: boolean;
}

/** Our client, scripted: send all, receive `expect`, then close (or wait for the server to close). */
export async function runOurClient(
  url: string,
  script: PeerScript,
  protocols: string[],
  options: ClientOptions = {},
): Promise<OurClientResult> {
  const ws = await connect(url, { protocols, maxMessageSize: 64 * MiB, ...options });
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
    await withTimeout(Promise.race([gotEnough, ws.closed()]), 20_000, 'the echoes');
    ws.close(script.close.code, script.close.reason);
  }
  const close = await withTimeout(ws.closed(), 20_000, 'the close');
  return {
    protocol: ws.protocol,
    extensions: ws.extensions,
    received,
    close,
    errors,
    sentBuffersIntact: sent.every(({ bytes, copy }) => Buffer.compare(bytes, copy) === 0),
  };
}

// ------------------------------------------------------------------ child processes

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PEERS = `${HERE}peers/`;
/** The real Deno binary (not the node_modules/.bin wrapper, which would not pass signals on). */
export const DENO = `${ROOT}packages/deno/node_modules/deno/deno`;
/** Node 20 on PATH, for the `ws` peers. */
export const NODE = Bun.which('node') ?? 'node';

type Subprocess = ReturnType<typeof Bun.spawn>;

/** Every child started by a test file; `killChildren()` in afterAll ends any still running. */
const children = new Set<Subprocess>();

export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

/** A line reader over a child's stdout. */
class Lines {
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;
  /** Everything read, for error messages. */
  all = '';

  constructor(stream: ReadableStream<Uint8Array>) {
    void this.pump(stream);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        this.all += text;
        buffered += text;
        for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
          this.lines.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
        this.wake();
      }
    } catch {
      // the child went away
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The next line, or an error after `timeoutMs` or at the end of the output. */
  async next(timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.ended) throw new Error(`${what}: output ended; got ${JSON.stringify(this.all)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${what}: no line within ${timeoutMs} ms; got ${JSON.stringify(this.all)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export interface ChildServer {
  child: Subprocess;
  port: number;
  url: string;
  /** The next line the child printed after its ready line. */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Lines printed to stderr so far. */
  stderr(): string;
}

/**
 * Spawns a server process and waits for its ready line (`ready` must capture the port). The child
 * is registered for `killChildren()`.
 */
export async function spawnServer(
  cmd: string[],
  ready: RegExp,
  options: { env?: Record<string, string>; cwd?: string; what?: string } = {},
): Promise<ChildServer> {
  const what = options.what ?? cmd.join(' ');
  const child = Bun.spawn(cmd, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  let stderr = '';
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of child.stderr as ReadableStream<Uint8Array>) stderr += decoder.decode(chunk);
    } catch {
      // gone
    }
  })();
  const lines = new Lines(child.stdout as ReadableStream<Uint8Array>);
  let first: string;
  try {
    first = await lines.next(15_000, what);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\nstderr: ${stderr}`);
  }
  const match = ready.exec(first);
  if (!match) {
    child.kill('SIGKILL');
    throw new Error(`${what}: unexpected first line ${JSON.stringify(first)}\nstderr: ${stderr}`);
  }
  const port = Number(match[1]);
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}`,
    nextLine: (timeoutMs = 10_000) => lines.next(timeoutMs, what),
    stderr: () => stderr,
  };
}

/** Ends a peer server: closes its stdin (it exits by itself), SIGKILL after `graceMs`. */
export async function stopServer(server: ChildServer, graceMs = 3000): Promise<number | null> {
  const child = server.child;
  try {
    (child.stdin as { end(): void } | undefined)?.end();
  } catch {
    // already gone
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
  return child.exitCode;
}

/** Runs a child to completion with `input` on stdin; resolves with its stdout (rejects on failure). */
export async function runChild(cmd: string[], input: string, timeoutMs = 30_000): Promise<string> {
  const child = Bun.spawn(cmd, { cwd: ROOT, stdin: new Blob([input]), stdout: 'pipe', stderr: 'pipe' });
  children.add(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout as ReadableStream<Uint8Array>).text(),
    new Response(child.stderr as ReadableStream<Uint8Array>).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  children.delete(child);
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${child.signalCode ?? code}: ${stderr}${stdout}`);
  return stdout;
}

/** A port that was free a moment ago on 127.0.0.1 (for programs that must be told their port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` that counts the bytes each way: to see
 * permessage-deflate on the wire between two peers neither of which reports it.
 */
export async function startCountingProxy(targetPort: number): Promise<{
  url: string;
  /** Bytes client → server and server → client so far. */
  counts(): { up: number; down: number };
  close(): Promise<void>;
}> {
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Uint8Array) => {
      up += chunk.length;
    });
    upstream.on('data', (chunk: Uint8Array) => {
      down += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    counts: () => ({ up, down }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
