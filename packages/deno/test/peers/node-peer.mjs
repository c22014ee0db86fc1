/**
 * The Node side of the Deno interop tests: a long-running Node process hosting peers we did not
 * write — the npm `ws` client and server, and headless Chromium's WebSocket (driven with
 * playwright-core, Debian's /usr/bin/chromium) — on 127.0.0.1 only.
 *
 *   node test/peers/node-peer.mjs
 *
 * Protocol: one JSON line per command on stdin, `{"id", "cmd", "args"}`; one JSON line per answer on
 * stdout, `{"id", "result"}` or `{"id", "error"}`; and unsolicited events `{"event", ...}`. The first
 * line is `{"event":"ready"}`. Commands:
 *   wsClient {url, protocols, script, perMessageDeflate}      → client result, plus bytesRead (TCP)
 *   browserClient {url, protocols, script}                    → client result, plus wasClean
 *   wsServer {perMessageDeflate, subprotocols}                → {id, port}; then, per connection closed,
 *       {"event":"observation","server":id,"observation":{protocol, offered, extensions, received, code, reason, bytesRead}}
 *   stopServer {id}                                           → null
 * End of stdin closes the browser and the servers and exits.
 *
 * `ws` and `playwright-core` are the testkit's dependencies (the Deno package depends on the
 * testkit), so they are resolved from there.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import {
  base64ToBytes,
  CLOSE_COMMAND,
  compressibleBytes,
  outgoing,
  patternBytes,
  summarise,
  TEXT_SUMMARY_OVER,
} from './common.mjs';

const require = createRequire(
  new URL('../../node_modules/@fullduplex/testkit/package.json', import.meta.url),
);
const { WebSocket, WebSocketServer } = require('ws');

const MiB = 1024 * 1024;
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const emit = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const messageOf = (error) => (error instanceof Error ? error.message : String(error));
/** A ws message as text or bytes. */
const wsData = (data, isBinary) => (isBinary ? data : data.toString('utf8'));

// ------------------------------------------------------------------ ws client

/** Runs `script` with the `ws` client; reports the server's Sec-WebSocket-Extensions header as received. */
function wsClient({ url, protocols, script, perMessageDeflate }) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, {
      maxPayload: 64 * MiB,
      perMessageDeflate: !!perMessageDeflate,
    });
    const result = {
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
    let socket;
    ws.on('upgrade', (response) => {
      result.extensions = response.headers['sec-websocket-extensions'] ?? null;
      socket = response.socket;
    });
    ws.on('open', () => {
      result.protocol = ws.protocol || null;
      for (const message of script.send) ws.send(outgoing(message));
      maybeClose();
    });
    ws.on('message', (data, isBinary) => {
      result.received.push(summarise(wsData(data, isBinary)));
      maybeClose();
    });
    ws.on('error', (error) => {
      result.error ??= error.message;
    });
    ws.on('close', (code, reason) => {
      result.closeCode = code;
      result.closeReason = reason.toString('utf8');
      // Bytes that came over TCP, handshake included: shows whether the server compressed.
      result.bytesRead = socket?.bytesRead ?? null;
      resolve(result);
    });
  });
}

// ------------------------------------------------------------------ ws server

const servers = new Map();
let nextServerId = 1;

/** An echo server on `ws`: same type back; `close:<code>:<reason>` closes instead. */
async function wsServer({ perMessageDeflate, subprotocols }) {
  const id = nextServerId++;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: !!perMessageDeflate,
    maxPayload: 64 * MiB,
    handleProtocols: (offered) => [...offered].find((p) => subprotocols.includes(p)) ?? false,
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  // The response's Sec-WebSocket-Extensions, per request, as ws is about to send it.
  const answered = new WeakMap();
  wss.on('headers', (headers, request) => {
    const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
    answered.set(request, line ? line.slice(line.indexOf(':') + 1).trim() : null);
  });
  wss.on('connection', (ws, request) => {
    const observation = {
      protocol: ws.protocol || null,
      offered: request.headers['sec-websocket-extensions'] ?? null,
      extensions: answered.get(request) ?? null,
      received: [],
      code: null,
      reason: null,
    };
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const message = wsData(data, isBinary);
      observation.received.push(summarise(message));
      const match = isBinary ? null : CLOSE_COMMAND.exec(message);
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(data, { binary: isBinary });
    });
    const socket = request.socket;
    ws.once('close', (code, reason) => {
      observation.code = code;
      observation.reason = reason.toString('utf8');
      // Bytes that came over TCP, handshake included: shows whether the client compressed.
      observation.bytesRead = socket.bytesRead;
      emit({ event: 'observation', server: id, observation });
    });
  });
  servers.set(id, wss);
  return { id, port: wss.address().port };
}

function stopServer({ id }) {
  const wss = servers.get(id);
  servers.delete(id);
  if (!wss) return Promise.resolve(null);
  return new Promise((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve(null));
  });
}

// ------------------------------------------------------------------ Chromium

/**
 * Runs in the page: the generators of common.mjs are serialised in front of it, so the page sends
 * exactly what the other peers send. Binaries are summarised with crypto.subtle (the page is served
 * from http://127.0.0.1, a secure context).
 */
const PAGE_CLIENT = `async ({ url, protocols, script, timeoutMs }) => {
  ${patternBytes.toString()}
  ${compressibleBytes.toString()}
  ${base64ToBytes.toString()}
  ${outgoing.toString()}
  const result = {
    protocol: null, extensions: null, received: [],
    closeCode: null, closeReason: null, wasClean: null, error: null,
  };
  const toHex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  const expected = script.expect ?? 0;
  const close = script.close ?? null;
  const pending = [];
  let ws;
  try {
    ws = protocols.length > 0 ? new WebSocket(url, protocols) : new WebSocket(url);
  } catch (e) {
    result.error = 'WebSocket constructor: ' + e;
    return result;
  }
  ws.binaryType = 'arraybuffer';
  let closeRequested = false;
  await new Promise((resolve) => {
    const timer = setTimeout(() => {
      result.error = 'timed out after ' + timeoutMs + ' ms (readyState ' + ws.readyState + ')';
      try { ws.close(); } catch {}
      resolve();
    }, timeoutMs);
    const maybeClose = () => {
      if (!close || closeRequested || pending.length < expected) return;
      closeRequested = true;
      ws.close(close.code, close.reason);
    };
    ws.onopen = () => {
      result.protocol = ws.protocol || null;
      result.extensions = ws.extensions || null;
      try {
        for (const m of script.send) ws.send(outgoing(m));
      } catch (e) {
        result.error = 'send: ' + e;
      }
      maybeClose();
    };
    ws.onmessage = (event) => {
      const data = event.data;
      const summary = (type, bytes) =>
        crypto.subtle.digest('SHA-256', bytes).then((d) => ({ type, size: bytes.byteLength, sha256: toHex(d) }));
      pending.push(typeof data !== 'string' ? summary('binary', data)
        : data.length > ${TEXT_SUMMARY_OVER} ? summary('text', new TextEncoder().encode(data))
        : Promise.resolve({ type: 'text', data }));
      maybeClose();
    };
    ws.onerror = () => {
      if (!result.error) result.error = 'error event';
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      result.closeCode = event.code;
      result.closeReason = event.reason;
      result.wasClean = event.wasClean;
      resolve();
    };
  });
  result.received = await Promise.all(pending);
  return result;
}`;

let browser;
let pageServer;

async function startPageServer() {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end('<!doctype html><meta charset="utf-8"><title>fullduplex deno interop</title>');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

async function browserClient({ url, protocols, script, timeoutMs = 30_000 }) {
  if (!browser) {
    const { chromium } = require('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  }
  pageServer ??= await startPageServer();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageServer.url, { timeout: timeoutMs });
    return await page.evaluate(`(${PAGE_CLIENT})(${JSON.stringify({ url, protocols, script, timeoutMs })})`);
  } finally {
    await context.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ command loop

const COMMANDS = { wsClient, wsServer, stopServer, browserClient };

async function shutdown() {
  await Promise.all([...servers.keys()].map((id) => stopServer({ id })));
  await browser?.close().catch(() => {});
  pageServer?.server.closeAllConnections();
  pageServer?.server.close();
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() === '') return;
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    emit({ event: 'bad-command', line });
    return;
  }
  const command = COMMANDS[request.cmd];
  try {
    if (!command) throw new Error(`unknown command ${request.cmd}`);
    emit({ id: request.id, result: (await command(request.args ?? {})) ?? null });
  } catch (error) {
    emit({ id: request.id, error: messageOf(error) });
  }
});
lines.on('close', () => void shutdown());
emit({ event: 'ready' });
