/**
 * A small fake Autobahn|Testsuite fuzzingserver on the npm `ws` server, for the Deno test of
 * examples/autobahn-client/deno.ts (the real one cannot be installed here: no PyPI, no Docker).
 * The same cases as packages/node/test/autobahn-client.test.ts: whole messages of each type,
 * fragments with a code point split across them and a ping in between, 1 MiB + a burst of 50.
 *
 *   node test/peers/fake-fuzzingserver.mjs
 *
 * Binds 127.0.0.1 on a free port and prints `LISTENING <port>`. When stdin ends it prints one JSON
 * line — `{requests, reportsAgent, cases: [{url, echoes, expected, pongs, clientClose,
 * clientClosedFirst, error}]}`, messages as `{binary, size, data}` (binary data base64) — and exits.
 */
import { createRequire } from 'node:module';

const require = createRequire(
  new URL('../../node_modules/@fullduplex/testkit/package.json', import.meta.url),
);
const { WebSocketServer } = require('ws');

const text = (s) => ({ binary: false, data: Buffer.from(s, 'utf8') });
const binary = (bytes) => ({ binary: true, data: Buffer.from(bytes) });
const pattern = (size, seed) => {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
};

/** Each case sends its messages and returns those the client must echo, in order. */
const CASES = [
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
  (ws) => {
    const messages = [binary(pattern(1024 * 1024, 9))];
    for (let i = 0; i < 50; i++) messages.push(text(`message ${i} ✓`));
    for (const m of messages) ws.send(m.data, { binary: m.binary });
    return messages;
  },
];

const show = (messages) =>
  messages.map((m) => ({
    binary: m.binary,
    size: m.data.length,
    data: m.binary ? m.data.toString('base64').slice(0, 64) : m.data.toString('utf8'),
  }));

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 64 << 20,
});
await new Promise((resolve, reject) => {
  wss.once('listening', resolve);
  wss.once('error', reject);
});
const requests = [];
const reportsAgent = [];
const cases = [];

wss.on('connection', (ws, request) => {
  const target = request.url ?? '';
  requests.push(target);
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

console.log(`LISTENING ${wss.address().port}`);
process.stdin.resume();
process.stdin.on('end', () => {
  const summary = {
    requests,
    reportsAgent,
    cases: cases.map((c) => ({ ...c, echoes: show(c.echoes), expected: show(c.expected) })),
  };
  console.log(JSON.stringify(summary));
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
});
