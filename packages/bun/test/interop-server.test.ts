/**
 * Interoperability of our Bun SERVER with clients we did not write:
 *   Bun's native `WebSocket` (in process), the npm `ws` client running on Node (a child process),
 *   headless Chromium's `WebSocket` (playwright-core, which works under Bun).
 * Each pairing round-trips text (non-ASCII, empty, long), binary (small, empty, 1 MiB), selects a
 * subprotocol, and closes from each side with a code + reason that both ends must report exactly;
 * then permessage-deflate (every one of these clients offers it): the negotiated extension and a
 * compressible 1 MiB round trip (with `ws`, also the compressed byte counts on the wire).
 *
 * Needs `node` on PATH and the Debian `chromium` (`.ci/setup --system`).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import {
  type BrowserClientResult,
  echoSummary,
  launchChromium,
  type PeerClientResult,
  type PeerScript,
  runBrowserClient,
} from '@fullduplex/testkit/peers';
import {
  BIG,
  CLIENT_CLOSE,
  DEFLATE_BYTES,
  DEFLATE_ECHOES,
  DEFLATE_SENDS,
  ECHOES,
  killChildren,
  NODE,
  OFFERED,
  outgoing,
  PEERS,
  runChild,
  SENDS,
  SERVER_CLOSE,
  SERVER_CLOSE_COMMAND,
  startCountingProxy,
  startOurEchoServer,
  summarise,
  withTimeout,
} from './support.ts';

/** Per test and hook: child processes and browsers are slow on a busy machine. */
const TIMEOUT = 20_000;

afterAll(killChildren);

/** Our permessage-deflate answer to an offer of `permessage-deflate; client_max_window_bits`. */
const DEFLATE_ANSWER = 'permessage-deflate';

const ECHO_AND_CLIENT_CLOSE: PeerScript = { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE };
const SERVER_CLOSES: PeerScript = {
  send: [SENDS[0]!, BIG, SERVER_CLOSE_COMMAND],
  expect: 2,
  close: null,
};
const DEFLATE_SCRIPT: PeerScript = { send: DEFLATE_SENDS, expect: DEFLATE_SENDS.length, close: CLIENT_CLOSE };

// ------------------------------------------------------------------ Bun's native client

/** Bun's own `WebSocket` client, scripted like the testkit's peers. */
function runBunClient(
  url: string,
  script: PeerScript,
  protocols: string[],
  perMessageDeflate?: boolean,
): Promise<BrowserClientResult> {
  return new Promise((resolve) => {
    const ws =
      perMessageDeflate === undefined
        ? new WebSocket(url, protocols)
        : new WebSocket(url, { protocols, perMessageDeflate });
    ws.binaryType = 'arraybuffer';
    const result: BrowserClientResult = {
      protocol: null,
      extensions: null,
      received: [],
      closeCode: null,
      closeReason: null,
      wasClean: null,
      error: null,
    };
    const timer = setTimeout(() => {
      result.error = 'timed out after 20 s';
      ws.close();
    }, 20_000);
    let closing = false;
    const maybeClose = (): void => {
      if (!script.close || closing || result.received.length < script.expect) return;
      closing = true;
      ws.close(script.close.code, script.close.reason);
    };
    ws.onopen = () => {
      result.protocol = ws.protocol || null;
      result.extensions = ws.extensions || null;
      for (const m of script.send) ws.send(outgoing(m));
      maybeClose();
    };
    ws.onmessage = (event) => {
      result.received.push(summarise(event.data, typeof event.data !== 'string'));
      maybeClose();
    };
    ws.onerror = () => {
      result.error ??= 'error event';
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

describe('our Bun server ↔ Bun’s native WebSocket client', () => {
  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const result = await runBunClient(server.url, ECHO_AND_CLIENT_CLOSE, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          // Bun offers permessage-deflate; our server has it off by default.
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
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const result = await runBunClient(server.url, SERVER_CLOSES, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: null,
          received: [ECHOES[0]!, echoSummary(BIG)],
          closeCode: SERVER_CLOSE.code,
          closeReason: SERVER_CLOSE.reason,
          wasClean: true,
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual([ECHOES[0]!, echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)]);
        expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'a close without a code is 1005 on both sides',
    async () => {
      const server = await startOurEchoServer();
      try {
        const ws = new WebSocket(server.url);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        const closed = new Promise<CloseEvent>((resolve) => {
          ws.onclose = resolve;
        });
        ws.close();
        const event = await withTimeout(closed, 5000, 'Bun client close');
        expect({ code: event.code, reason: event.reason, wasClean: event.wasClean }).toEqual({
          code: 1005,
          reason: '',
          wasClean: true,
        });
        expect(await server.connections[0]!.closed).toEqual({ code: 1005, reason: '', wasClean: true });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate: negotiated with Bun’s offer, compressible 1 MiB round trips compressed both ways',
    async () => {
      const server = await startOurEchoServer({ perMessageDeflate: true });
      const proxy = await startCountingProxy(Number(new URL(server.url).port));
      try {
        const result = await runBunClient(proxy.url, DEFLATE_SCRIPT, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: DEFLATE_ANSWER,
          received: DEFLATE_ECHOES,
          closeCode: CLIENT_CLOSE.code,
          closeReason: CLIENT_CLOSE.reason,
          wasClean: true,
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.extensions).toBe(DEFLATE_ANSWER);
        expect(side.received).toEqual(DEFLATE_ECHOES);
        expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
        // ~2 MiB each way uncompressed: both directions really were compressed.
        const { up, down } = proxy.counts();
        expect(up).toBeLessThan(DEFLATE_BYTES / 10);
        expect(down).toBeLessThan(DEFLATE_BYTES / 10);
      } finally {
        await proxy.close();
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate on the server, Bun’s offer turned off: no extension',
    async () => {
      const server = await startOurEchoServer({ perMessageDeflate: true });
      try {
        const result = await runBunClient(server.url, DEFLATE_SCRIPT, OFFERED, false);
        expect(result).toMatchObject({
          extensions: null,
          received: DEFLATE_ECHOES,
          closeCode: 4001,
          error: null,
        });
        expect(server.connections[0]!.extensions).toBe('');
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------ ws on Node

interface WsClientResult extends PeerClientResult {
  bytesRead: number;
  bytesWritten: number;
}

/** The npm `ws` client, run by Node in a child process (test/peers/ws-client.mjs). */
async function runNodeWsClient(
  url: string,
  script: PeerScript,
  protocols: string[],
  perMessageDeflate = false,
): Promise<WsClientResult> {
  const input = JSON.stringify({ url, protocols, perMessageDeflate, script });
  const stdout = await runChild([NODE, `${PEERS}ws-client.mjs`], input);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as WsClientResult;
}

describe('our Bun server ↔ ws client on Node', () => {
  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const {
          bytesRead: _r,
          bytesWritten: _w,
          ...result
        } = await runNodeWsClient(server.url, ECHO_AND_CLIENT_CLOSE, OFFERED);
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
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const {
          bytesRead: _r,
          bytesWritten: _w,
          ...result
        } = await runNodeWsClient(server.url, SERVER_CLOSES, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: null,
          received: [ECHOES[0]!, echoSummary(BIG)],
          closeCode: SERVER_CLOSE.code,
          closeReason: SERVER_CLOSE.reason,
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual([ECHOES[0]!, echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)]);
        expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate: negotiated, compressible 1 MiB round trips compressed both ways',
    async () => {
      const server = await startOurEchoServer({ perMessageDeflate: true });
      try {
        const { bytesRead, bytesWritten, ...result } = await runNodeWsClient(
          server.url,
          DEFLATE_SCRIPT,
          OFFERED,
          true,
        );
        expect(result).toEqual({
          protocol: 'chat.v1',
          // ws offers `permessage-deflate; client_max_window_bits`.
          extensions: DEFLATE_ANSWER,
          received: DEFLATE_ECHOES,
          closeCode: CLIENT_CLOSE.code,
          closeReason: CLIENT_CLOSE.reason,
          error: null,
        });
        // ~2 MiB each way uncompressed: both directions really were compressed.
        expect(bytesWritten).toBeLessThan(DEFLATE_BYTES / 10);
        expect(bytesRead).toBeLessThan(DEFLATE_BYTES / 10);
        const side = server.connections[0]!;
        expect(side.extensions).toBe(DEFLATE_ANSWER);
        expect(side.received).toEqual(DEFLATE_ECHOES);
        expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );
});

// ------------------------------------------------------------------ Chromium

describe('our Bun server ↔ headless Chromium', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  }, TIMEOUT);

  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, browser closes 4001 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const result = await runBrowserClient(browser, server.url, ECHO_AND_CLIENT_CLOSE, {
          subprotocols: OFFERED,
        });
        expect(result).toEqual({
          protocol: 'chat.v1',
          // Chromium offers permessage-deflate; our server has it off by default.
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
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const server = await startOurEchoServer();
      try {
        const result = await runBrowserClient(browser, server.url, SERVER_CLOSES, { subprotocols: OFFERED });
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: null,
          received: [ECHOES[0]!, echoSummary(BIG)],
          closeCode: SERVER_CLOSE.code,
          closeReason: SERVER_CLOSE.reason,
          wasClean: true,
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual([ECHOES[0]!, echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)]);
        expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate: negotiated with Chromium’s offer, compressible 1 MiB round trips compressed both ways',
    async () => {
      const server = await startOurEchoServer({ perMessageDeflate: true });
      const proxy = await startCountingProxy(Number(new URL(server.url).port));
      try {
        const result = await runBrowserClient(browser, proxy.url, DEFLATE_SCRIPT, { subprotocols: OFFERED });
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: DEFLATE_ANSWER,
          received: DEFLATE_ECHOES,
          closeCode: CLIENT_CLOSE.code,
          closeReason: CLIENT_CLOSE.reason,
          wasClean: true,
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.extensions).toBe(DEFLATE_ANSWER);
        expect(side.received).toEqual(DEFLATE_ECHOES);
        expect(await withTimeout(side.closed, 5000, 'server close')).toEqual({
          ...CLIENT_CLOSE,
          wasClean: true,
        });
        // ~2 MiB each way uncompressed: both directions really were compressed.
        const { up, down } = proxy.counts();
        expect(up).toBeLessThan(DEFLATE_BYTES / 10);
        expect(down).toBeLessThan(DEFLATE_BYTES / 10);
      } finally {
        await proxy.close();
        await server.stop();
      }
    },
    TIMEOUT,
  );
});
