/**
 * Drive headless Chromium's own `WebSocket` (a client we did not write) with playwright-core,
 * using the Debian `chromium` binary (playwright never downloads a browser here).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import type { BrowserClientResult, PeerScript } from './script.ts';

export const CHROMIUM_EXECUTABLE = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserClientOptions {
  /** Passed as `new WebSocket(url, subprotocols)`. */
  subprotocols?: string[];
  /** In-page limit for the whole script (default 30 s); Node gives up 5 s later. */
  timeoutMs?: number;
}

/** Launch headless Chromium (`/usr/bin/chromium`). Launch once per test file; close it in afterAll. */
export function launchChromium(executablePath: string = CHROMIUM_EXECUTABLE): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS], timeout: 30_000 });
}

/**
 * Runs in the page. Kept as plain JavaScript source (not a TypeScript function) so that neither
 * the type checker (no DOM lib here) nor vitest's transform touch what gets serialised into the page.
 */
const PAGE_CLIENT = `async ({ url, protocols, script, timeoutMs }) => {
  const result = {
    protocol: null, extensions: null, received: [],
    closeCode: null, closeReason: null, wasClean: null, error: null,
  };
  const toHex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  const pattern = (size, seed) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
    return out;
  };
  const outgoing = (m) => {
    switch (m.type) {
      case 'text': return m.data;
      case 'binary': return Uint8Array.from(atob(m.base64), (c) => c.charCodeAt(0));
      case 'binary_size': return pattern(m.size, m.seed ?? 0);
      default: throw new Error('unknown message type ' + m.type);
    }
  };
  const expect = script.expect ?? 0;
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
      result.error = 'timed out after ' + timeoutMs + ' ms (readyState ' + ws.readyState + ', ' +
        pending.length + ' of ' + expect + ' messages)';
      try { ws.close(); } catch {}
      resolve();
    }, timeoutMs);
    const maybeClose = () => {
      if (!close || closeRequested || pending.length < expect) return;
      closeRequested = true;
      try {
        ws.close(close.code, close.reason);
      } catch (e) {
        result.error = 'close(' + close.code + '): ' + e;
        ws.close();
      }
    };
    ws.onopen = () => {
      result.protocol = ws.protocol || null;
      result.extensions = ws.extensions || null;
      try {
        for (const m of script.send ?? []) ws.send(outgoing(m));
      } catch (e) {
        result.error = 'send: ' + e;
      }
      maybeClose();
    };
    ws.onmessage = (event) => {
      const data = event.data;
      pending.push(typeof data === 'string'
        ? Promise.resolve({ type: 'text', data })
        : crypto.subtle.digest('SHA-256', data).then((d) => ({ type: 'binary', size: data.byteLength, sha256: toHex(d) })));
      maybeClose();
    };
    ws.onerror = () => {
      if (!result.error) result.error = 'error event (connection failed or closed abnormally)';
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
  if (!result.error && pending.length < expect) {
    result.error = 'connection closed after ' + pending.length + ' of ' + expect + ' messages';
  }
  return result;
}`;

const PAGE_HTML = '<!doctype html><meta charset="utf-8"><title>fullduplex browser peer</title>';

/**
 * `about:blank` may open ws:// connections but is not a secure context (no `crypto.subtle`), so the
 * client runs in a page served from http://127.0.0.1 (loopback counts as potentially trustworthy).
 */
async function startPageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE_HTML);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Run `script` with Chromium's WebSocket against `url` in a fresh browser context. Resolves with
 * the page's report (failures inside the page land in `error`); rejects only if the page itself
 * fails or does not answer within `timeoutMs` + 5 s.
 */
export async function runBrowserClient(
  browser: Browser,
  url: string,
  script: PeerScript,
  opts: BrowserClientOptions = {},
): Promise<BrowserClientResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const origin = await startPageServer();
  const context = await browser.newContext();
  const pageErrors: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.goto(origin.url, { timeout: timeoutMs });
    const args = { url, protocols: opts.subprotocols ?? [], script, timeoutMs };
    const evaluation = page.evaluate<BrowserClientResult>(`(${PAGE_CLIENT})(${JSON.stringify(args)})`);
    const guard = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `browser client (${url}): no result after ${timeoutMs + 5_000} ms; page errors: ${JSON.stringify(pageErrors)}`,
            ),
          ),
        timeoutMs + 5_000,
      );
    });
    return await Promise.race([evaluation, guard]);
  } finally {
    clearTimeout(timer);
    await context.close().catch(() => {});
    await origin.close();
  }
}
