/**
 * Runs examples/autobahn-client/node.mjs (a child process on the built @fullduplex/node) against a
 * small fake Autobahn|Testsuite fuzzingserver written with `ws`, and checks the whole protocol:
 * the paths and agent it requests, the echoes of each case (text, binary, empty, fragmented with a
 * ping in between, a code point split across fragments, a 1 MiB + burst), who closes, exit code 0.
 * The real fuzzingserver cannot be installed here (no PyPI, no Docker).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = 'examples/autobahn-client/node.mjs';
const BUILT = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface Message {
  binary: boolean;
  data: Buffer;
}

const text = (s: string): Message => ({ binary: false, data: Buffer.from(s, 'utf8') });
const binary = (bytes: Uint8Array): Message => ({ binary: true, data: Buffer.from(bytes) });

function pattern(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

/** What the fake server saw of one runCase connection. */
interface CaseReport {
  url: string;
  /** Echoes received, in order (base64 for compactness in diffs of binary data). */
  echoes: Message[];
  expected: Message[];
  pongs: string[];
  /** The close the client sent back (it must only answer ours). */
  clientClose: { code: number; reason: string } | undefined;
  /** The client closed before we did (it must echo until the server closes). */
  clientClosedFirst: boolean;
  error: string | undefined;
}

interface FakeFuzzingServer {
  url: string;
  /** Every request target, in order. */
  requests: string[];
  cases: CaseReport[];
  reportsAgent: string[];
  stop(): Promise<void>;
}

/**
 * A case: sends its messages (some fragmented, with control frames in between) and returns the
 * messages the client must echo, in order.
 */
type CaseScript = (ws: WsSocket) => Message[];

const CASES: CaseScript[] = [
  // 1: whole messages of each type, empty ones included.
  (ws) => {
    const messages = [
      text('Hello, wörld ✓ 🚀'),
      binary(new Uint8Array([0, 1, 2, 255])),
      text(''),
      binary(new Uint8Array()),
    ];
    for (const m of messages) ws.send(m.data, { binary: m.binary });
    return messages;
  },
  // 2: fragmented text with a code point split across fragments and a ping in between;
  //    fragmented binary.
  (ws) => {
    const t = Buffer.from('frag 🚀 mented ✓', 'utf8');
    const cut = t.indexOf(Buffer.from('🚀', 'utf8')) + 2;
    ws.send(t.subarray(0, 3), { binary: false, fin: false });
    ws.send(t.subarray(3, cut), { binary: false, fin: false });
    ws.ping(Buffer.from('mid'));
    ws.send(t.subarray(cut), { binary: false, fin: true });
    const b = pattern(3000, 3);
    ws.send(b.subarray(0, 1000), { binary: true, fin: false });
    ws.send(b.subarray(1000, 2000), { binary: true, fin: false });
    ws.send(b.subarray(2000), { binary: true, fin: true });
    return [{ binary: false, data: t }, binary(b)];
  },
  // 3: 1 MiB binary followed by a burst of 50 small texts, all sent without waiting.
  (ws) => {
    const messages = [binary(pattern(1024 * 1024, 9))];
    for (let i = 0; i < 50; i++) messages.push(text(`message ${i} ✓`));
    for (const m of messages) ws.send(m.data, { binary: m.binary });
    return messages;
  },
];

async function startFakeFuzzingServer(): Promise<FakeFuzzingServer> {
  const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 << 20 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const server: FakeFuzzingServer = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    requests: [],
    cases: [],
    reportsAgent: [],
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };

  wss.on('connection', (ws, req) => {
    const target = req.url ?? '';
    server.requests.push(target);
    const url = new URL(target, 'ws://fuzzingserver');
    switch (url.pathname) {
      case '/getCaseCount':
        ws.send(String(CASES.length));
        ws.close(1000);
        return;
      case '/updateReports':
        server.reportsAgent.push(url.searchParams.get('agent') ?? '');
        ws.close(1000);
        return;
      case '/runCase':
        runCase(ws, target, CASES[Number(url.searchParams.get('case')) - 1]);
        return;
      default:
        ws.close(4404, 'unknown path');
    }
  });

  function runCase(ws: WsSocket, target: string, script: CaseScript | undefined): void {
    const report: CaseReport = {
      url: target,
      echoes: [],
      expected: [],
      pongs: [],
      clientClose: undefined,
      clientClosedFirst: false,
      error: undefined,
    };
    server.cases.push(report);
    let weClosed = false;
    const finish = (code: number, reason: string) => {
      clearTimeout(timer);
      weClosed = true;
      ws.close(code, reason);
    };
    const timer = setTimeout(() => {
      report.error = `only ${report.echoes.length} of ${report.expected.length} echoes after 10 s`;
      finish(1011, 'timeout');
    }, 10_000);
    ws.on('message', (data, isBinary) => {
      report.echoes.push({ binary: isBinary, data: data as Buffer });
      if (!weClosed && report.echoes.length === report.expected.length) finish(1000, '');
    });
    ws.on('pong', (data) => report.pongs.push(data.toString('utf8')));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      report.clientClosedFirst = !weClosed;
      report.clientClose = { code, reason: reason.toString('utf8') };
    });
    if (!script) {
      report.error = 'no such case';
      finish(4400, 'no such case');
      return;
    }
    report.expected = script(ws);
  }

  return server;
}

function runExample(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`example did not exit within 15 s\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`),
      );
    }, 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Shapes a report for comparison: binary payloads as size + base64 prefix, text decoded. */
function show(messages: Message[]): Array<{ binary: boolean; size: number; data: string }> {
  return messages.map((m) => ({
    binary: m.binary,
    size: m.data.length,
    data: m.binary ? m.data.toString('base64') : m.data.toString('utf8'),
  }));
}

describe('examples/autobahn-client against a fake fuzzingserver', () => {
  let server: FakeFuzzingServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('has the built package to run on', () => {
    // The example imports '@fullduplex/node', i.e. packages/node/dist: build it first (tsup).
    expect(existsSync(BUILT), `${BUILT} is missing: run tsup in packages/node first`).toBe(true);
  });

  it('follows the protocol: count, every case echoed until the server closes, reports for the agent', async () => {
    server = await startFakeFuzzingServer();
    const run = await runExample([server.url, 'agentX']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    expect(server.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=agentX',
      '/runCase?case=2&agent=agentX',
      '/runCase?case=3&agent=agentX',
      '/updateReports?agent=agentX',
    ]);
    expect(server.reportsAgent).toEqual(['agentX']);
    expect(server.cases).toHaveLength(3);
    for (const report of server.cases) {
      expect(report.error, report.url).toBeUndefined();
      expect(show(report.echoes), report.url).toEqual(show(report.expected));
      expect(report.clientClosedFirst, report.url).toBe(false);
      expect(report.clientClose, report.url).toEqual({ code: 1000, reason: '' });
    }
    expect(server.cases[1]!.pongs).toEqual(['mid']);

    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`3 cases, agent "agentX", fuzzing server ${server.url}`);
    expect(lines.slice(1, 4).map((l) => l.replace(/ \[\d+ ms\]$/, ''))).toEqual([
      'case 1/3: closed 1000',
      'case 2/3: closed 1000',
      'case 3/3: closed 1000',
    ]);
    expect(lines[4]).toMatch(/^reports updated for agent "agentX" \(3 cases in \d+\.\d s\)$/);
    expect(lines).toHaveLength(5);
  });

  it('defaults the agent to fullduplex-node and accepts a trailing slash on the base URL', async () => {
    server = await startFakeFuzzingServer();
    const run = await runExample([`${server.url}/`]);
    expect(run.code).toBe(0);
    expect(server.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=fullduplex-node',
      '/runCase?case=2&agent=fullduplex-node',
      '/runCase?case=3&agent=fullduplex-node',
      '/updateReports?agent=fullduplex-node',
    ]);
    expect(server.reportsAgent).toEqual(['fullduplex-node']);
    expect(server.cases.map((c) => c.error)).toEqual([undefined, undefined, undefined]);
  });

  it('exits 1 with a message when no fuzzing server answers', async () => {
    const dead = await startFakeFuzzingServer();
    const url = dead.url;
    await dead.stop();
    const run = await runExample([url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cannot get the case count from ws:\/\/127\.0\.0\.1:\d+: /);
  });
});
