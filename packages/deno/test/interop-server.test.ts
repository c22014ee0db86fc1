/**
 * Our Deno server with clients we did not write:
 *   Deno's own WebSocket (in this process), the npm `ws` client on Node, headless Chromium
 *   (playwright-core from a Node process).
 * Each: text (non-ASCII, empty, long), binary (small, empty, 1 MiB), subprotocol selection, a close
 * code + reason from each side asserted where both ends report it, and permessage-deflate (the
 * extensions both sides report, a compressible 1 MiB round trip) or its clean absence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_CLOSE,
  DEFLATE_ECHOES,
  DEFLATE_SENDS,
  ECHOES,
  echoSummary,
  NodePeer,
  OFFERED,
  type PeerClientResult,
  type PeerScript,
  runDenoNativeClient,
  SENDS,
  SERVER_CLOSE,
  SERVER_CLOSE_COMMAND,
  startOurEchoServer,
} from './support.ts';

let node: NodePeer;
beforeAll(async () => {
  node = await NodePeer.start();
});
afterAll(async () => {
  await node?.stop();
});

interface ClientUnderTest {
  name: string;
  /** WHATWG clients report `wasClean`. */
  whatwg: boolean;
  run(url: string, script: PeerScript, protocols: string[]): Promise<PeerClientResult>;
  /** What the client offers in Sec-WebSocket-Extensions (`null`: nothing). */
  offersDeflate: boolean;
  /** With deflate on, what our server answers to this client's offer. */
  deflateAnswer: string | null;
  /** Bytes the client received over TCP in its last run, where it tells. */
  bytesRead?: () => number | null;
}

let wsBytesRead: number | null = null;

const CLIENTS: ClientUnderTest[] = [
  {
    name: "Deno's WebSocket",
    whatwg: true,
    run: (url, script, protocols) => runDenoNativeClient(url, script, protocols),
    // Deno's client (fastwebsockets) has no permessage-deflate: it offers nothing.
    offersDeflate: false,
    deflateAnswer: null,
  },
  {
    name: 'ws client (Node)',
    whatwg: false,
    run: async (url, script, protocols) => {
      const { bytesRead, ...result } = await node.wsClient(url, script, {
        protocols,
        perMessageDeflate: true,
      });
      wsBytesRead = bytesRead;
      return result;
    },
    bytesRead: () => wsBytesRead,
    // ws offers `permessage-deflate; client_max_window_bits`.
    offersDeflate: true,
    deflateAnswer: 'permessage-deflate',
  },
  {
    name: 'Chromium',
    whatwg: true,
    run: (url, script, protocols) => node.browserClient(url, script, protocols),
    // Chromium always offers `permessage-deflate; client_max_window_bits`.
    offersDeflate: true,
    deflateAnswer: 'permessage-deflate',
  },
];

const clean = (client: ClientUnderTest) => (client.whatwg ? { wasClean: true } : {});

for (const client of CLIENTS) {
  describe(`our server ↔ ${client.name}`, () => {
    it('echoes text, binary and 1 MiB, selects the subprotocol; client closes 4001 + reason', async () => {
      const server = await startOurEchoServer();
      try {
        const result = await client.run(
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
          ...clean(client),
          error: null,
        });
        expect(server.connections).toHaveLength(1);
        const side = server.connections[0]!;
        expect(side.protocol).toBe('chat.v1');
        expect(side.extensions).toBe('');
        expect(side.received).toEqual(ECHOES);
        expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    });

    it('server closes 4002 + reason', async () => {
      const server = await startOurEchoServer();
      try {
        const result = await client.run(
          server.url,
          { send: [SENDS[0]!, SENDS[5]!, SERVER_CLOSE_COMMAND], expect: 2, close: null },
          OFFERED,
        );
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: null,
          received: [ECHOES[0], ECHOES[5]],
          closeCode: SERVER_CLOSE.code,
          closeReason: SERVER_CLOSE.reason,
          ...clean(client),
          error: null,
        });
        const side = server.connections[0]!;
        expect(side.received).toEqual([ECHOES[0], ECHOES[5], echoSummary(SERVER_CLOSE_COMMAND)]);
        expect(await side.closed).toEqual({ ...SERVER_CLOSE, wasClean: true });
      } finally {
        await server.stop();
      }
    });

    it(
      client.offersDeflate
        ? 'permessage-deflate: negotiated, compressible 1 MiB round trip'
        : 'permessage-deflate on, nothing offered: plain connection, same round trip',
      async () => {
        const server = await startOurEchoServer({ perMessageDeflate: true });
        try {
          const result = await client.run(
            server.url,
            { send: DEFLATE_SENDS, expect: DEFLATE_SENDS.length, close: CLIENT_CLOSE },
            [],
          );
          expect(result).toEqual({
            protocol: null,
            extensions: client.deflateAnswer,
            received: DEFLATE_ECHOES,
            closeCode: CLIENT_CLOSE.code,
            closeReason: CLIENT_CLOSE.reason,
            ...clean(client),
            error: null,
          });
          const side = server.connections[0]!;
          expect(side.protocol).toBe('');
          expect(side.extensions).toBe(client.deflateAnswer ?? '');
          expect(side.received).toEqual(DEFLATE_ECHOES);
          expect(await side.closed).toEqual({ ...CLIENT_CLOSE, wasClean: true });
          // ~2.7 MB of echoes: compressed, they take a few tens of KiB on the wire.
          if (client.bytesRead) expect(client.bytesRead()).toBeLessThan(256 * 1024);
        } finally {
          await server.stop();
        }
      },
    );
  });
}
