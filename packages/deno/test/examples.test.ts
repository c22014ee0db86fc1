/**
 * The contract other tools rely on, for examples/echo/deno.ts and examples/broadcast/deno.ts run as
 * `deno run -A examples/<name>/deno.ts` from the repository root: PORT, DEFLATE=1, exactly
 * `listening on <port>` once ready, exit code 0 on SIGTERM and SIGINT; echo returns every message
 * verbatim with its type; broadcast relays every message to every other connection, not the sender.
 */
import { until } from '@fullduplex/testkit/adapter/transport-tools';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocketConnection } from '../src/index.ts';
import {
  BIG,
  COMPRESSIBLE,
  COMPRESSIBLE_TEXT,
  echoSummary,
  outgoing,
  type PeerMessage,
  type ReceivedMessage,
  runDenoNativeClient,
  runOurClient,
  SENDS,
  sleep,
  startExample,
  summarise,
  TEXT,
} from './support.ts';

const CLOSE = { code: 1000, reason: 'bye' };

describe('examples/echo/deno.ts', () => {
  it('prints exactly "listening on <PORT>", echoes text and binary with their types, exits 0 on SIGTERM', async () => {
    const example = await startExample('echo');
    try {
      expect(example.firstLine).toBe(`listening on ${example.port}`);
      const ours = await runOurClient(example.url, { send: SENDS, expect: SENDS.length, close: CLOSE }, []);
      expect(ours).toEqual({
        protocol: '',
        extensions: '',
        received: SENDS.map(echoSummary),
        close: { ...CLOSE, wasClean: true },
        errors: [],
      });
      // A client we did not write, too.
      const native = await runDenoNativeClient(example.url, {
        send: SENDS,
        expect: SENDS.length,
        close: CLOSE,
      });
      expect(native).toMatchObject({ received: SENDS.map(echoSummary), closeCode: 1000, error: null });
    } finally {
      const status = await example.stop('SIGTERM');
      expect(status).toEqual({ success: true, code: 0, signal: null });
      expect(example.child.stderr).toBe('');
    }
  });

  it('exits 0 on SIGINT, closing open connections with 1001', async () => {
    const example = await startExample('echo');
    const ws = await connect(example.url);
    const closed = ws.closed();
    const status = await example.stop('SIGINT');
    expect(status).toEqual({ success: true, code: 0, signal: null });
    expect(await closed).toMatchObject({ code: 1001 });
  });

  it('DEFLATE=1 negotiates permessage-deflate; a compressible 1 MiB round-trips', async () => {
    const example = await startExample('echo', true);
    try {
      expect(example.firstLine).toBe(`listening on ${example.port}`);
      const sends: PeerMessage[] = [{ type: 'text', data: TEXT }, COMPRESSIBLE, COMPRESSIBLE_TEXT, BIG];
      const result = await runOurClient(example.url, { send: sends, expect: sends.length, close: CLOSE }, []);
      expect(result).toEqual({
        protocol: '',
        extensions: 'permessage-deflate',
        received: sends.map(echoSummary),
        close: { ...CLOSE, wasClean: true },
        errors: [],
      });
    } finally {
      expect(await example.stop()).toEqual({ success: true, code: 0, signal: null });
    }
  });
});

/** Collects what a connection receives. */
function collect(ws: WebSocketConnection): ReceivedMessage[] {
  const received: ReceivedMessage[] = [];
  ws.on('message', (data) => received.push(summarise(data)));
  return received;
}

for (const deflate of [false, true]) {
  describe(`examples/broadcast/deno.ts${deflate ? ' with DEFLATE=1' : ''}`, () => {
    it('relays every message, with its type, to the two other clients and not to the sender', async () => {
      const example = await startExample('broadcast', deflate);
      try {
        expect(example.firstLine).toBe(`listening on ${example.port}`);
        const clients = await Promise.all([connect(example.url), connect(example.url), connect(example.url)]);
        for (const ws of clients) expect(ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
        const received = clients.map(collect);
        const [a, b, c] = clients as [WebSocketConnection, WebSocketConnection, WebSocketConnection];
        const fromA: PeerMessage[] = [{ type: 'text', data: `A: ${TEXT}` }, BIG];
        const fromB: PeerMessage[] = [{ type: 'binary', base64: btoa('B\u0000\u00ff') }];
        for (const m of fromA) a.send(outgoing(m), { binary: m.type !== 'text' });
        await until(
          'the first message at both others',
          () => received[1]!.length === 2 && received[2]!.length === 2,
        );
        for (const m of fromB) b.send(outgoing(m), { binary: true });
        await until(
          'the second message at both others',
          () => received[0]!.length === 1 && received[2]!.length === 3,
        );
        await sleep(200); // nothing else arrives: in particular no echo to the sender
        expect(received).toEqual([
          fromB.map(echoSummary),
          fromA.map(echoSummary),
          [...fromA, ...fromB].map(echoSummary),
        ]);
        for (const ws of clients) ws.close(1000);
        for (const ws of [a, b, c])
          expect(await ws.closed()).toEqual({ code: 1000, reason: '', wasClean: true });
      } finally {
        expect(await example.stop()).toEqual({ success: true, code: 0, signal: null });
      }
    });
  });
}
