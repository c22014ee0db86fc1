/**
 * Interoperability of our Bun CLIENT with servers we did not write:
 *   `Bun.serve` with its native `websocket` handler (in process), an npm `ws` server running on
 *   Node (a child process), a Deno native server (`Deno.serve` + `Deno.upgradeWebSocket`, a child
 *   process).
 * Each pairing round-trips text (non-ASCII, empty, long), binary (small, empty, 1 MiB), selects a
 * subprotocol, and closes from each side with a code + reason that both ends must report exactly;
 * then permessage-deflate where the server supports it (Bun.serve and ws; Deno's server does not
 * negotiate it): the extension and a compressible 1 MiB round trip (with `ws`, also the compressed
 * byte counts on the wire).
 *
 * Needs `node` on PATH and the Deno binary of packages/deno (installed by pnpm).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { echoSummary, type PeerScript, type ReceivedMessage } from '@fullduplex/testkit/peers';
import type { ServerWebSocket } from 'bun';
import { connect } from '../src/index.ts';
import {
  BIG,
  type ChildServer,
  CLIENT_CLOSE,
  CLOSE_COMMAND,
  DEFLATE_BYTES,
  DEFLATE_ECHOES,
  DEFLATE_SENDS,
  DENO,
  ECHOES,
  killChildren,
  MiB,
  NODE,
  OFFERED,
  PEERS,
  runOurClient,
  SENDS,
  SERVER_CLOSE,
  SERVER_CLOSE_COMMAND,
  type SeenClose,
  SUPPORTED,
  spawnServer,
  startCountingProxy,
  stopServer,
  summarise,
  withTimeout,
} from './support.ts';

/** Per test and hook: child processes and browsers are slow on a busy machine. */
const TIMEOUT = 20_000;

afterAll(killChildren);

const ECHO_AND_CLIENT_CLOSE: PeerScript = { send: SENDS, expect: SENDS.length, close: CLIENT_CLOSE };
const SERVER_CLOSES: PeerScript = {
  send: [SENDS[0]!, BIG, SERVER_CLOSE_COMMAND],
  expect: 2,
  close: null,
};
const DEFLATE_SCRIPT: PeerScript = { send: DEFLATE_SENDS, expect: DEFLATE_SENDS.length, close: CLIENT_CLOSE };
const SERVER_RECEIVED_WHEN_IT_CLOSES = [ECHOES[0]!, echoSummary(BIG), echoSummary(SERVER_CLOSE_COMMAND)];

// ------------------------------------------------------------------ Bun.serve

interface BunServeSide {
  protocol: string | null;
  extensions: string | null;
  received: ReceivedMessage[];
  closed: Promise<SeenClose>;
  resolveClosed(close: SeenClose): void;
}

/** A Bun.serve echo server with the native `websocket` handler, same contract as the other peers. */
function startBunServe(perMessageDeflate: boolean) {
  const connections: BunServeSide[] = [];
  const server = Bun.serve<BunServeSide>({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request, srv) {
      const offered = (request.headers.get('sec-websocket-protocol') ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const protocol = offered.find((p) => SUPPORTED.includes(p)) ?? null;
      let resolveClosed!: (close: SeenClose) => void;
      const closed = new Promise<SeenClose>((resolve) => {
        resolveClosed = resolve;
      });
      const side: BunServeSide = { protocol, extensions: null, received: [], closed, resolveClosed };
      const upgraded = srv.upgrade(request, {
        data: side,
        headers: protocol ? { 'Sec-WebSocket-Protocol': protocol } : {},
      });
      return upgraded ? undefined : new Response('websocket only', { status: 400 });
    },
    websocket: {
      perMessageDeflate,
      maxPayloadLength: 64 * MiB,
      backpressureLimit: 64 * MiB,
      open(ws: ServerWebSocket<BunServeSide>) {
        connections.push(ws.data);
      },
      message(ws: ServerWebSocket<BunServeSide>, message: string | Buffer) {
        const isBinary = typeof message !== 'string';
        ws.data.received.push(summarise(message, isBinary));
        const match = isBinary ? null : CLOSE_COMMAND.exec(message);
        if (match) ws.close(Number(match[1]), match[2]);
        else if (message === 'terminate') ws.terminate();
        // `true`: compress when permessage-deflate was negotiated (Bun.serve's send default is not to).
        else ws.send(message, true);
      },
      close(ws: ServerWebSocket<BunServeSide>, code: number, reason: string) {
        ws.data.resolveClosed({ code, reason });
      },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}`,
    connections,
    stop: () => server.stop(true),
  };
}

describe('our Bun client ↔ Bun.serve native WebSocket server', () => {
  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason',
    async () => {
      const server = startBunServe(false);
      try {
        const result = await runOurClient(server.url, ECHO_AND_CLIENT_CLOSE, OFFERED);
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
        expect(side.received).toEqual(ECHOES);
        expect(await withTimeout(side.closed, 5000, 'Bun.serve close')).toEqual(CLIENT_CLOSE);
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const server = startBunServe(false);
      try {
        const result = await runOurClient(server.url, SERVER_CLOSES, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: '',
          received: [ECHOES[0]!, echoSummary(BIG)],
          close: { ...SERVER_CLOSE, wasClean: true },
          errors: [],
          sentBuffersIntact: true,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual(SERVER_RECEIVED_WHEN_IT_CLOSES);
        expect(await withTimeout(side.closed, 5000, 'Bun.serve close')).toEqual(SERVER_CLOSE);
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'Bun.serve terminating the connection is 1006 (unclean) on our side',
    async () => {
      const server = startBunServe(false);
      try {
        const ws = await connect(server.url);
        ws.send('terminate');
        expect(await withTimeout(ws.closed(), 5000, 'our close')).toEqual({
          code: 1006,
          reason: '',
          wasClean: false,
        });
      } finally {
        await server.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate: negotiated with perMessageDeflate: true, compressible 1 MiB round trips compressed both ways',
    async () => {
      const server = startBunServe(true);
      const proxy = await startCountingProxy(Number(new URL(server.url).port));
      try {
        const result = await runOurClient(proxy.url, DEFLATE_SCRIPT, OFFERED);
        expect(result).toEqual({
          protocol: 'chat.v1',
          // Bun.serve's shared compressor and decompressor: no context takeover either way.
          extensions: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
          received: DEFLATE_ECHOES,
          close: { ...CLIENT_CLOSE, wasClean: true },
          errors: [],
          sentBuffersIntact: true,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual(DEFLATE_ECHOES);
        expect(await withTimeout(side.closed, 5000, 'Bun.serve close')).toEqual(CLIENT_CLOSE);
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

// ------------------------------------------------------------------ child-process servers

/** One line a child peer server prints per closed connection. */
interface Observation {
  protocol: string | null;
  extensions: string | null;
  received: ReceivedMessage[];
  code: number;
  reason: string;
  wasClean?: boolean;
  bytesRead?: number;
  bytesWritten?: number;
}

async function nextObservation(server: ChildServer): Promise<Observation> {
  const line = await server.nextLine(10_000);
  try {
    return JSON.parse(line) as Observation;
  } catch {
    throw new Error(`not an observation: ${JSON.stringify(line)}\nstderr: ${server.stderr()}`);
  }
}

describe('our Bun client ↔ ws server on Node', () => {
  let plain: ChildServer;
  let deflate: ChildServer;

  beforeAll(async () => {
    [plain, deflate] = await Promise.all([
      spawnServer([NODE, `${PEERS}ws-server.mjs`, '{"perMessageDeflate":false}'], /^LISTENING (\d+)$/),
      spawnServer([NODE, `${PEERS}ws-server.mjs`, '{"perMessageDeflate":true}'], /^LISTENING (\d+)$/),
    ]);
  }, 20_000);

  afterAll(async () => {
    await Promise.all([plain && stopServer(plain), deflate && stopServer(deflate)]);
  }, TIMEOUT);

  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason',
    async () => {
      const result = await runOurClient(plain.url, ECHO_AND_CLIENT_CLOSE, OFFERED);
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: '',
        received: ECHOES,
        close: { ...CLIENT_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      expect(await nextObservation(plain)).toMatchObject({
        protocol: 'chat.v1',
        extensions: null,
        received: ECHOES,
        ...CLIENT_CLOSE,
      });
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const result = await runOurClient(plain.url, SERVER_CLOSES, OFFERED);
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: '',
        received: [ECHOES[0]!, echoSummary(BIG)],
        close: { ...SERVER_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      expect(await nextObservation(plain)).toMatchObject({
        protocol: 'chat.v1',
        received: SERVER_RECEIVED_WHEN_IT_CLOSES,
        ...SERVER_CLOSE,
      });
    },
    TIMEOUT,
  );

  it(
    'permessage-deflate: negotiated, compressible 1 MiB round trips compressed both ways',
    async () => {
      const result = await runOurClient(deflate.url, DEFLATE_SCRIPT, OFFERED);
      expect(result).toEqual({
        protocol: 'chat.v1',
        // ws accepts our offer with its defaults (no parameters).
        extensions: 'permessage-deflate',
        received: DEFLATE_ECHOES,
        close: { ...CLIENT_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      const seen = await nextObservation(deflate);
      expect(seen).toMatchObject({
        protocol: 'chat.v1',
        extensions: 'permessage-deflate',
        received: DEFLATE_ECHOES,
        ...CLIENT_CLOSE,
      });
      // ~2 MiB each way uncompressed: both directions really were compressed.
      expect(seen.bytesRead).toBeLessThan(DEFLATE_BYTES / 10);
      expect(seen.bytesWritten).toBeLessThan(DEFLATE_BYTES / 10);
    },
    TIMEOUT,
  );
});

const haveDeno = existsSync(DENO);

describe.skipIf(!haveDeno)('our Bun client ↔ Deno native server (Deno.serve + Deno.upgradeWebSocket)', () => {
  let deno: ChildServer;

  beforeAll(async () => {
    deno = await spawnServer(
      [DENO, 'run', '--quiet', '--no-prompt', '--allow-net=127.0.0.1', `${PEERS}deno-server.mjs`],
      /^LISTENING (\d+)$/,
      { env: { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } },
    );
  }, 20_000);

  afterAll(async () => {
    if (deno) await stopServer(deno);
  }, TIMEOUT);

  it(
    'echoes text, binary and 1 MiB, selects the subprotocol, client closes 4001 + reason',
    async () => {
      const result = await runOurClient(deno.url, ECHO_AND_CLIENT_CLOSE, OFFERED);
      expect(result).toEqual({
        protocol: 'chat.v1',
        // Deno's server does not negotiate permessage-deflate: our offer is declined.
        extensions: '',
        received: ECHOES,
        close: { ...CLIENT_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      expect(await nextObservation(deno)).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: ECHOES,
        ...CLIENT_CLOSE,
        wasClean: true,
      });
    },
    TIMEOUT,
  );

  it(
    'server closes 4002 + reason',
    async () => {
      const result = await runOurClient(deno.url, SERVER_CLOSES, OFFERED);
      expect(result).toEqual({
        protocol: 'chat.v1',
        extensions: '',
        received: [ECHOES[0]!, echoSummary(BIG)],
        close: { ...SERVER_CLOSE, wasClean: true },
        errors: [],
        sentBuffersIntact: true,
      });
      expect(await nextObservation(deno)).toEqual({
        protocol: 'chat.v1',
        extensions: null,
        received: SERVER_RECEIVED_WHEN_IT_CLOSES,
        ...SERVER_CLOSE,
        wasClean: true,
      });
    },
    TIMEOUT,
  );
});
