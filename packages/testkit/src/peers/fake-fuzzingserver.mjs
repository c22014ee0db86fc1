// A small fake Autobahn|Testsuite fuzzingserver on the npm `ws` package, running on Node, for the
// tests of examples/autobahn-client/* (the real one needs Python 2 / Docker). Serves /getCaseCount (3),
// /runCase?case=N&agent=A (sends the case's messages, some fragmented with a ping in between, and
// closes 1000 once every one came back), /updateReports?agent=A.
//
// In process (the Node tests): `await startFakeFuzzingServer()` → { url, requests, reportsAgent,
// cases, report(), stop() }.
// As a process (the Bun and Deno tests):
//   node packages/testkit/src/peers/fake-fuzzingserver.mjs
// binds 127.0.0.1 on a free port and prints `LISTENING <port>`; when stdin ends it prints report()
// as one JSON line {"requests", "reportsAgent", "cases": [{url, echoes, expected, pongs,
// clientClose, clientClosedFirst, error}]} (messages as {binary, size, data}: base64 or text) and exits.
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from 'ws';

const text = (s) => ({ binary: false, data: Buffer.from(s, 'utf8') });
const binary = (bytes) => ({ binary: true, data: Buffer.from(bytes) });
const pattern = (size, seed) => {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
};

/** Each case sends its messages and returns the ones the client must echo, in order. */
const CASES = [
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

/** Messages as {binary, size, data} with binary data in base64: comparable, printable. */
export const showMessages = (messages) =>
  messages.map((m) => ({
    binary: m.binary,
    size: m.data.length,
    data: m.binary ? m.data.toString('base64') : m.data.toString('utf8'),
  }));

/** Starts the server on 127.0.0.1 (a free port) and resolves once it listens. */
export async function startFakeFuzzingServer() {
  const requests = [];
  const reportsAgent = [];
  const cases = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 64 << 20,
  });
  wss.on('connection', (ws, req) => {
    const target = req.url ?? '';
    requests.push(target);
    ws.on('error', () => {});
    const url = new URL(target, 'ws://fuzzingserver');
    switch (url.pathname) {
      case '/getCaseCount':
        ws.send(String(CASES.length));
        ws.close(1000);
        return;
      case '/updateReports':
        reportsAgent.push(url.searchParams.get('agent') ?? '');
        ws.close(1000);
        return;
      case '/runCase':
        runCase(ws, target, CASES[Number(url.searchParams.get('case')) - 1]);
        return;
      default:
        ws.close(4404, 'unknown path');
    }
  });

  function runCase(ws, target, script) {
    const report = {
      url: target,
      echoes: [],
      expected: [],
      pongs: [],
      clientClose: undefined,
      clientClosedFirst: false,
      error: undefined,
    };
    cases.push(report);
    let weClosed = false;
    const finish = (code, reason) => {
      clearTimeout(timer);
      weClosed = true;
      ws.close(code, reason);
    };
    const timer = setTimeout(() => {
      report.error = `only ${report.echoes.length} of ${report.expected.length} echoes after 10 s`;
      finish(1011, 'timeout');
    }, 10_000);
    ws.on('message', (data, isBinary) => {
      report.echoes.push({ binary: isBinary, data });
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

  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    /** Every request target, in order. */
    requests,
    reportsAgent,
    /** What each runCase connection saw: echoes and expected messages as sent (Buffers). */
    cases,
    /** The JSON-ready report: messages through showMessages. */
    report: () => ({
      requests,
      reportsAgent,
      cases: cases.map((c) => ({ ...c, echoes: showMessages(c.echoes), expected: showMessages(c.expected) })),
    }),
    stop: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startFakeFuzzingServer();
  console.log(`LISTENING ${new URL(server.url).port}`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    const out = server.report();
    await server.stop();
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  });
}
