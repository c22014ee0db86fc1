/**
 * Support for the Deno package's interop and example tests: the scripted messages, our server and
 * client driven by a script, Deno's own WebSocket client and `Deno.serve` server, and the peers in
 * other processes (Node: `ws`, Chromium; Bun: `Bun.serve`; the examples on Deno).
 *
 * Every child process binds 127.0.0.1 only, prints its port, and is stopped by the test file's
 * afterAll (end of stdin, then SIGTERM, then SIGKILL).
 */
import { type ClientOptions, connect, type ServerOptions, WebSocketServer } from '../src/index.ts';
import {
  CLOSE_COMMAND,
  echoSummary,
  outgoing,
  type PeerClose,
  type PeerMessage,
  type PeerScript,
  type ReceivedMessage,
  summarise,
} from './peers/common.mjs';

export {
  binarySummary,
  CLOSE_COMMAND,
  compressibleBytes,
  echoSummary,
  outgoing,
  type PeerClose,
  type PeerMessage,
  type PeerScript,
  patternBytes,
  type ReceivedMessage,
  summarise,
} from './peers/common.mjs';

// ------------------------------------------------------------------ paths

export const here = (path: string): string => decodeURIComponent(new URL(path, import.meta.url).pathname);

/** The repository root (examples are run from there). */
export const REPO_ROOT = here('../../../');
/** Node, from PATH (`--allow-run=node`). */
export const NODE = 'node';
/** The Deno binary itself (not the npm shim, which would not forward signals). */
export const DENO = here('../node_modules/deno/deno');
/** Bun, as installed for @fullduplex/bun (its shim execs the binary). */
export const BUN = here('../../bun/node_modules/.bin/bun');
export const NODE_PEER = here('./peers/node-peer.mjs');
export const BUN_SERVER = here('./peers/bun-server.mjs');

// ------------------------------------------------------------------ scripted messages

export const MiB = 1024 * 1024;
export const SUPPORTED = ['chat.v1'];
export const OFFERED = ['chat.v2', 'chat.v1'];

/** 4-, 3- and 2-byte UTF-8 sequences, a combining mark, CJK, U+FEFF. */
export const TEXT = 'héllo ✓ 🚀 — ünïcødé 漢字 e\u0301 \uFEFF end';
/** ~180 KB of multi-byte text: arrives in many TCP chunks, split inside code points. */
export const LONG_TEXT = 'ü€😀'.repeat(20_000);
export const SMALL: PeerMessage = {
  type: 'binary',
  base64: btoa(String.fromCharCode(0, 1, 2, 127, 128, 254, 255)),
};
export const EMPTY_BINARY: PeerMessage = { type: 'binary', base64: '' };
/** 1 MiB of a pattern deflate cannot shrink much. */
export const BIG: PeerMessage = { type: 'pattern', size: MiB, seed: 7 };
/** 1 MiB that deflate shrinks a hundredfold. */
export const COMPRESSIBLE: PeerMessage = { type: 'compressible', size: MiB };
/** ~650 KB of compressible non-ASCII text (UTF-8 is validated after inflating). */
export const COMPRESSIBLE_TEXT: PeerMessage = { type: 'text', data: 'fullduplex ✓ 🚀 '.repeat(40_000) };

export const SENDS: PeerMessage[] = [
  { type: 'text', data: TEXT },
  { type: 'text', data: '' },
  { type: 'text', data: LONG_TEXT },
  SMALL,
  EMPTY_BINARY,
  BIG,
];
export const ECHOES: ReceivedMessage[] = SENDS.map(echoSummary);
export const DEFLATE_SENDS: PeerMessage[] = [
  { type: 'text', data: TEXT },
  COMPRESSIBLE,
  COMPRESSIBLE_TEXT,
  BIG,
];
export const DEFLATE_ECHOES: ReceivedMessage[] = DEFLATE_SENDS.map(echoSummary);

export const CLIENT_CLOSE: PeerClose = { code: 4001, reason: 'client done ✓' };
export const SERVER_CLOSE: PeerClose = { code: 4002, reason: 'server done ✓' };
export const SERVER_CLOSE_COMMAND: PeerMessage = {
  type: 'text',
  data: `close:${SERVER_CLOSE.code}:${SERVER_CLOSE.reason}`,
};

/** What a scripted client reports (Node `ws`, Chromium, Deno's WebSocket). */
export interface PeerClientResult {
  protocol: string | null;
  /** The server's Sec-WebSocket-Extensions as the client saw it; `null` when absent. */
  extensions: string | null;
  received: ReceivedMessage[];
  closeCode: number | null;
  closeReason: string | null;
  /** `CloseEvent.wasClean` (WHATWG clients only). */
  wasClean?: boolean | null;
  error: string | null;
}

/** What a peer server saw of one connection. */
export interface PeerServerObservation {
  protocol: string | null;
  /** The client's Sec-WebSocket-Extensions offer. */
  offered?: string | null;
  /** The server's answer (where the peer tells). */
  extensions?: string | null;
  received: ReceivedMessage[];
  code: number | null;
  reason: string | null;
  wasClean?: boolean;
  /** Bytes the server's TCP socket received, handshake included (where the peer tells). */
  bytesRead?: number;
}

export interface SeenClose {
  code: number;
  reason: string;
  wasClean?: boolean;
}

// ------------------------------------------------------------------ small tools

/** A FIFO whose `next()` waits, up to a timeout, for the next value; `end()` fails the waiting. */
export class Queue<T> {
  private readonly values: T[] = [];
  private readonly waiters: Array<{ resolve(value: T): void; reject(error: Error): void }> = [];
  private ended = false;

  push(value: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(value);
    else this.values.push(value);
  }

  /** No more values: pending and later `next()` calls reject once the queued values are taken. */
  end(): void {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('ended'));
  }

  next(timeoutMs = 20_000, what = 'value'): Promise<T> {
    if (this.values.length > 0) return Promise.resolve(this.values.shift() as T);
    if (this.ended) return Promise.reject(new Error(`no ${what}: ended`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (value: T): void => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error: Error): void => {
          clearTimeout(timer);
          reject(new Error(`no ${what}: ${error.message}`));
        },
      };
      this.waiters.push(waiter);
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (bound and released; the caller uses it right away). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

// ------------------------------------------------------------------ child processes

/** A child process whose stdout is read line by line; stderr is kept for error messages. */
export class Child {
  readonly process: Deno.ChildProcess;
  readonly lines = new Queue<string>();
  readonly status: Promise<Deno.CommandStatus>;
  /** The exit status, once the output pipes are drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  stdout = '';
  stderr = '';
  private readonly stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  private stdinClosed = false;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    options: { cwd?: string; env?: Record<string, string>; stdin?: boolean } = {},
  ) {
    this.process = new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin === false ? 'null' : 'piped',
      stdout: 'piped',
      stderr: 'piped',
    }).spawn();
    this.stdin = options.stdin === false ? undefined : this.process.stdin.getWriter();
    this.status = this.process.status;
    const pumped = Promise.all([this.pumpStdout(), this.pumpStderr()]);
    // Status first, then the pipes: a caller awaiting `exited` sees all output.
    this.exited = this.status.then(async (status) => {
      await pumped;
      return status;
    });
  }

  private async pumpStdout(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of this.process.stdout) {
      const text = decoder.decode(chunk, { stream: true });
      this.stdout += text;
      buffered += text;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        this.lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
    if (buffered !== '') this.lines.push(buffered);
    this.lines.end();
  }

  private async pumpStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.process.stderr) this.stderr += decoder.decode(chunk, { stream: true });
  }

  /** The next stdout line (rejects with the output so far on timeout). */
  async nextLine(timeoutMs = 20_000): Promise<string> {
    try {
      return await this.lines.next(timeoutMs, `line from ${this.label}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}; stdout: ${this.stdout}; stderr: ${this.stderr}`);
    }
  }

  /** Waits for a stdout line matching `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.nextLine(Math.max(1, deadline - Date.now()));
      const match = pattern.exec(line);
      if (match) return match;
    }
  }

  async writeLine(line: string): Promise<void> {
    if (!this.stdin) throw new Error(`${this.label}: no stdin`);
    await this.stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  async closeStdin(): Promise<void> {
    if (!this.stdin || this.stdinClosed) return;
    this.stdinClosed = true;
    await this.stdin.close().catch(() => {});
  }

  kill(signal: Deno.Signal = 'SIGTERM'): void {
    try {
      this.process.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Ends stdin, then SIGTERM after `graceMs`, then SIGKILL after as long again. */
  async stop(graceMs = 5_000): Promise<Deno.CommandStatus> {
    await this.closeStdin();
    const term = setTimeout(() => this.kill('SIGTERM'), graceMs);
    const hard = setTimeout(() => this.kill('SIGKILL'), 2 * graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(term);
      clearTimeout(hard);
    }
  }
}

// ------------------------------------------------------------------ Node peer (ws, Chromium)

interface NodeReply {
  id?: number;
  result?: unknown;
  error?: string;
  event?: string;
  server?: number;
  observation?: PeerServerObservation;
}

/** The Node process of peers/node-peer.mjs: `ws` client and server, Chromium. */
export class NodePeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly observations = new Map<number, Queue<PeerServerObservation>>();

  private constructor(readonly child: Child) {}

  static async start(): Promise<NodePeer> {
    const child = new Child('node peer', NODE, [NODE_PEER]);
    const first = await child.nextLine(20_000);
    if (JSON.parse(first).event !== 'ready') throw new Error(`node peer: unexpected ${first}`);
    const peer = new NodePeer(child);
    void peer.dispatch();
    return peer;
  }

  private async dispatch(): Promise<void> {
    for (;;) {
      let line: string;
      try {
        line = await this.child.lines.next(24 * 3600_000);
      } catch {
        return;
      }
      const reply = JSON.parse(line) as NodeReply;
      if (reply.event === 'observation' && reply.server !== undefined && reply.observation) {
        this.queueOf(reply.server).push(reply.observation);
      } else if (reply.id !== undefined) {
        const pending = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.error !== undefined) pending?.reject(new Error(`node peer: ${reply.error}`));
        else pending?.resolve(reply.result);
      }
    }
  }

  private queueOf(server: number): Queue<PeerServerObservation> {
    let queue = this.observations.get(server);
    if (!queue) {
      queue = new Queue();
      this.observations.set(server, queue);
    }
    return queue;
  }

  call<T>(cmd: string, args: unknown, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`node peer: ${cmd} timed out; stderr: ${this.child.stderr}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.writeLine(JSON.stringify({ id, cmd, args })).catch(reject);
    });
  }

  /** `bytesRead`: what the client's TCP socket received, handshake included. */
  wsClient(
    url: string,
    script: PeerScript,
    options: { protocols?: string[]; perMessageDeflate?: boolean } = {},
  ): Promise<PeerClientResult & { bytesRead: number | null }> {
    return this.call('wsClient', {
      url,
      script,
      protocols: options.protocols ?? [],
      perMessageDeflate: options.perMessageDeflate ?? false,
    });
  }

  browserClient(url: string, script: PeerScript, protocols: string[] = []): Promise<PeerClientResult> {
    return this.call('browserClient', { url, script, protocols }, 90_000);
  }

  async wsServer(options: { perMessageDeflate?: boolean } = {}): Promise<PeerEchoServer> {
    const { id, port } = await this.call<{ id: number; port: number }>('wsServer', {
      perMessageDeflate: options.perMessageDeflate ?? false,
      subprotocols: SUPPORTED,
    });
    const queue = this.queueOf(id);
    return {
      url: `ws://127.0.0.1:${port}`,
      nextObservation: () => queue.next(20_000, 'observation from the ws server'),
      stop: () => this.call<null>('stopServer', { id }).then(() => undefined),
    };
  }

  stop(): Promise<Deno.CommandStatus> {
    return this.child.stop();
  }
}

/** A peer echo server (ws, Bun, Deno.serve) that reports each connection once it closed. */
export interface PeerEchoServer {
  url: string;
  nextObservation(): Promise<PeerServerObservation>;
  stop(): Promise<void>;
}

// ------------------------------------------------------------------ Bun peer

/** `Bun.serve` in a Bun process (peers/bun-server.mjs). */
export async function startBunServer(
  options: { perMessageDeflate?: boolean } = {},
): Promise<PeerEchoServer & { child: Child }> {
  const config = { perMessageDeflate: options.perMessageDeflate ?? false, subprotocols: SUPPORTED };
  const child = new Child('bun server', BUN, [BUN_SERVER, JSON.stringify(config)]);
  const [, port] = await child.waitFor(/^LISTENING (\d+)$/);
  return {
    child,
    url: `ws://127.0.0.1:${port}`,
    nextObservation: async () => JSON.parse(await child.nextLine()) as PeerServerObservation,
    stop: async () => {
      await child.stop();
    },
  };
}

// ------------------------------------------------------------------ Deno's own server and client

/** `Deno.serve` + `Deno.upgradeWebSocket`, in this process: the same echo contract. */
export function startDenoNativeServer(): PeerEchoServer {
  const observations = new Queue<PeerServerObservation>();
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request) => {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('WebSocket only\n', { status: 426 });
    }
    const offered = (request.headers.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const protocol = offered.find((p) => SUPPORTED.includes(p));
    // Read before upgrading: afterwards the request is closed (and throwing here stops Deno.serve).
    const offeredExtensions = request.headers.get('sec-websocket-extensions');
    const { socket, response } = Deno.upgradeWebSocket(request, protocol ? { protocol } : {});
    socket.binaryType = 'arraybuffer';
    const observation: PeerServerObservation = {
      protocol: protocol ?? null,
      offered: offeredExtensions,
      extensions: response.headers.get('sec-websocket-extensions'),
      received: [],
      code: null,
      reason: null,
    };
    socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      observation.received.push(summarise(event.data));
      const match = typeof event.data === 'string' ? CLOSE_COMMAND.exec(event.data) : null;
      if (match) socket.close(Number(match[1]), match[2]);
      else socket.send(event.data);
    };
    socket.onclose = (event) => {
      observation.code = event.code;
      observation.reason = event.reason;
      observation.wasClean = event.wasClean;
      observations.push(observation);
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    nextObservation: () => observations.next(20_000, 'observation from Deno.serve'),
    stop: async () => {
      await server.shutdown();
    },
  };
}

/** Deno's own WebSocket client, with the scripted-client semantics. */
export function runDenoNativeClient(
  url: string,
  script: PeerScript,
  protocols: string[] = [],
  timeoutMs = 30_000,
): Promise<PeerClientResult> {
  return new Promise((resolve) => {
    const result: PeerClientResult = {
      protocol: null,
      extensions: null,
      received: [],
      closeCode: null,
      closeReason: null,
      wasClean: null,
      error: null,
    };
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    let closing = false;
    const timer = setTimeout(() => {
      result.error = `timed out after ${timeoutMs} ms`;
      ws.close();
      resolve(result);
    }, timeoutMs);
    const maybeClose = (): void => {
      if (!script.close || closing || result.received.length < script.expect) return;
      closing = true;
      ws.close(script.close.code, script.close.reason);
    };
    ws.onopen = () => {
      result.protocol = ws.protocol || null;
      result.extensions = ws.extensions || null;
      for (const message of script.send) ws.send(outgoing(message) as string | Uint8Array<ArrayBuffer>);
      maybeClose();
    };
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      result.received.push(summarise(event.data));
      maybeClose();
    };
    ws.onerror = (event) => {
      result.error ??= (event as ErrorEvent).message || 'error event';
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      result.closeCode = event.code;
      result.closeReason = event.reason;
      result.wasClean = event.wasClean;
      resolve(result);
    };
  });
}

// ------------------------------------------------------------------ our server and client

/** What our server saw of one connection. */
export interface OurServerSide {
  protocol: string;
  extensions: string;
  received: ReceivedMessage[];
  closed: Promise<SeenClose>;
}

export interface OurEchoServer {
  url: string;
  port: number;
  connections: OurServerSide[];
  stop(): Promise<void>;
}

/** Our server: echoes with the same type; `close:<code>:<reason>` closes instead. */
export async function startOurEchoServer(options: ServerOptions = {}): Promise<OurEchoServer> {
  const server = new WebSocketServer({ protocols: SUPPORTED, maxMessageSize: 64 * MiB, ...options });
  const connections: OurServerSide[] = [];
  server.on('connection', (ws) => {
    const side: OurServerSide = {
      protocol: ws.protocol,
      extensions: ws.extensions,
      received: [],
      closed: ws.closed(),
    };
    connections.push(side);
    ws.on('message', (data, isBinary) => {
      side.received.push(summarise(data));
      const match = isBinary ? null : CLOSE_COMMAND.exec(data as string);
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(data, { binary: isBinary });
    });
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { url: `ws://127.0.0.1:${port}`, port, connections, stop: () => server.close({ timeout: 1000 }) };
}

export interface OurClientResult {
  protocol: string;
  extensions: string;
  received: ReceivedMessage[];
  close: SeenClose;
  errors: string[];
}

/** Our client with the scripted-client semantics: send all, receive `expect`, then close (or wait). */
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
  ws.on('message', (data) => {
    received.push(summarise(data));
    if (received.length === script.expect) enough();
  });
  for (const message of script.send) {
    const data = outgoing(message);
    const outcome = ws.send(data, { binary: typeof data !== 'string' });
    if (outcome === 'dropped') errors.push(`send dropped (${message.type})`);
  }
  if (script.close) {
    await Promise.race([gotEnough, ws.closed()]);
    ws.close(script.close.code, script.close.reason);
  }
  const close = await ws.closed();
  return { protocol: ws.protocol, extensions: ws.extensions, received, close, errors };
}

// ------------------------------------------------------------------ the examples

export interface RunningExample {
  child: Child;
  port: number;
  url: string;
  /** The first line the example printed. */
  firstLine: string;
  /** Whether the process has exited (it must not, until we stop it). */
  exited(): boolean;
  /** SIGTERM (or `signal`), then the exit status; SIGKILL if it does not exit within 10 s. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * `deno run -A examples/<name>/deno.ts` from the repository root — exactly what other tools run —
 * with PORT set to a free port and DEFLATE to `deflate ? 1 : 0`. Resolves once it printed a line.
 */
export async function startExample(name: 'echo' | 'broadcast', deflate = false): Promise<RunningExample> {
  const port = freePort();
  const child = new Child(`${name} example`, DENO, ['run', '-A', `examples/${name}/deno.ts`], {
    cwd: REPO_ROOT,
    env: { PORT: String(port), DEFLATE: deflate ? '1' : '0', NO_COLOR: '1' },
    stdin: false,
  });
  let exited = false;
  void child.status.then(() => {
    exited = true;
  });
  let firstLine: string;
  try {
    firstLine = await child.nextLine(60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}`,
    firstLine,
    exited: () => exited,
    stop: async (signal: Deno.Signal = 'SIGTERM') => {
      child.kill(signal);
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await child.exited;
      } finally {
        clearTimeout(hard);
      }
    },
  };
}
