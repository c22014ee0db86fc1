/**
 * Our Deno client with servers we did not write:
 *   Deno's own `Deno.serve` + `Deno.upgradeWebSocket` (in this process), the npm `ws` server on
 *   Node, Bun's native server (`Bun.serve` with a `websocket` handler) in a Bun process.
 * Each: text (non-ASCII, empty, long), binary (small, empty, 1 MiB), subprotocol selection, a close
 * code + reason from each side asserted where both ends report it, ping/pong, a close without a
 * status (1005), a message sent together with the close, and permessage-deflate (our
 * offer, the answer both sides report, a compressible 1 MiB round trip) or — with Deno.serve, which
 * has no compression — a clean fallback to an uncompressed connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/index.ts';
import {
  CLIENT_CLOSE,
  DEFLATE_ECHOES,
  DEFLATE_SENDS,
  ECHOES,
  echoSummary,
  NodePeer,
  OFFERED,
  type PeerEchoServer,
  runOurClient,
  SENDS,
  SERVER_CLOSE,
  SERVER_CLOSE_COMMAND,
  startBunServer,
  startDenoNativeServer,
} from './support.ts';

/** What our client offers by default (RFC 7692 §7.1.2.2: any window the server likes). */
const OUR_OFFER = 'permessage-deflate; client_max_window_bits';

let node: NodePeer;
beforeAll(async () => {
  node = await NodePeer.start();
});
afterAll(async () => {
  await node?.stop();
});

interface ServerUnderTest {
  name: string;
  start(options: { perMessageDeflate: boolean }): Promise<PeerEchoServer>;
  /** Whether the server reports `wasClean` (WHATWG server sockets). */
  whatwg: boolean;
  /** With permessage-deflate on, what the server answers to our offer (`''`: nothing). */
  deflateAnswer: string;
  /** Whether its observations say how many bytes it read (to check that we compressed). */
  countsBytes: boolean;
}

const SERVERS: ServerUnderTest[] = [
  {
    name: 'Deno.serve',
    start: async () => startDenoNativeServer(),
    whatwg: true,
    // Deno.upgradeWebSocket has no permessage-deflate: our offer goes unanswered.
    deflateAnswer: '',
    countsBytes: false,
  },
  {
    name: 'ws server (Node)',
    start: (options) => node.wsServer(options),
    whatwg: false,
    deflateAnswer: 'permessage-deflate',
    countsBytes: true,
  },
  {
    name: 'Bun.serve',
    start: (options) => startBunServer(options),
    whatwg: false,
    // Bun (uWebSockets) keeps no context between messages, on either side.
    deflateAnswer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
    countsBytes: false,
  },
];

for (const peer of SERVERS) {
  describe(`our client ↔ ${peer.name}`, () => {
    it('echoes text, binary and 1 MiB, selects the subprotocol; client closes 4001 + reason', async () => {
      const server = await peer.start({ perMessageDeflate: false });
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
        });
        const seen = await server.nextObservation();
        expect(seen).toMatchObject({ protocol: 'chat.v1', received: ECHOES, ...CLIENT_CLOSE });
        if (peer.whatwg) expect(seen.wasClean).toBe(true);
      } finally {
        await server.stop();
      }
    });

    it('server closes 4002 + reason', async () => {
      const server = await peer.start({ perMessageDeflate: false });
      try {
        const result = await runOurClient(
          server.url,
          { send: [SENDS[0]!, SENDS[5]!, SERVER_CLOSE_COMMAND], expect: 2, close: null },
          OFFERED,
        );
        expect(result).toEqual({
          protocol: 'chat.v1',
          extensions: '',
          received: [ECHOES[0], ECHOES[5]],
          close: { ...SERVER_CLOSE, wasClean: true },
          errors: [],
        });
        const seen = await server.nextObservation();
        expect(seen).toMatchObject({
          protocol: 'chat.v1',
          received: [ECHOES[0], ECHOES[5], echoSummary(SERVER_CLOSE_COMMAND)],
          ...SERVER_CLOSE,
        });
        if (peer.whatwg) expect(seen.wasClean).toBe(true);
      } finally {
        await server.stop();
      }
    });

    it('answers our ping with a pong carrying the same payload; close() without a code is 1005 on both sides', async () => {
      const server = await peer.start({ perMessageDeflate: false });
      try {
        const ws = await connect(server.url);
        const pong = new Promise<Uint8Array>((resolve) => ws.once('pong', resolve));
        expect(ws.ping('ping ✓')).toBe(true);
        expect(new TextDecoder().decode(await pong)).toBe('ping ✓');
        ws.close();
        expect(await ws.closed()).toEqual({ code: 1005, reason: '', wasClean: true });
        expect(await server.nextObservation()).toMatchObject({ code: 1005, reason: '' });
      } finally {
        await server.stop();
      }
    });

    it('a message sent right before close() is echoed, and the echo delivered while closing', async () => {
      const server = await peer.start({ perMessageDeflate: false });
      try {
        // send() and close() in the same turn: both frames leave in one write.
        const result = await runOurClient(
          server.url,
          { send: [SENDS[0]!], expect: 0, close: CLIENT_CLOSE },
          OFFERED,
        );
        expect(result).toMatchObject({ received: [ECHOES[0]], close: { ...CLIENT_CLOSE, wasClean: true } });
        expect(await server.nextObservation()).toMatchObject({ received: [ECHOES[0]], ...CLIENT_CLOSE });
      } finally {
        await server.stop();
      }
    });

    it(
      peer.deflateAnswer
        ? 'permessage-deflate: negotiated, compressible 1 MiB round trip'
        : 'permessage-deflate offered, not supported: clean fallback, same round trip',
      async () => {
        const server = await peer.start({ perMessageDeflate: true });
        try {
          const result = await runOurClient(
            server.url,
            { send: DEFLATE_SENDS, expect: DEFLATE_SENDS.length, close: CLIENT_CLOSE },
            [],
          );
          expect(result).toEqual({
            protocol: '',
            extensions: peer.deflateAnswer,
            received: DEFLATE_ECHOES,
            close: { ...CLIENT_CLOSE, wasClean: true },
            errors: [],
          });
          const seen = await server.nextObservation();
          expect(seen).toMatchObject({
            protocol: null,
            offered: OUR_OFFER,
            received: DEFLATE_ECHOES,
            ...CLIENT_CLOSE,
          });
          if ('extensions' in seen) expect(seen.extensions).toBe(peer.deflateAnswer || null);
          // ~2.7 MB of messages: compressed, they take a few tens of KiB on the wire.
          if (peer.countsBytes) expect(seen.bytesRead).toBeLessThan(256 * 1024);
        } finally {
          await server.stop();
        }
      },
    );
  });
}
