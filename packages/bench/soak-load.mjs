// Load generator of soak.mjs (and of the short soak in test/soak.test.ts): many connections to an
// echo server, each sending a small message (or a ping) every --interval ms, a share of them
// closed and replaced every --replace-every seconds.
//
//   node packages/bench/soak-load.mjs --port PORT [--connections 10000] [--duration 300]
//        [--replace-every 10] [--replace-fraction 0.25] [--interval 1000] [--size 16] [--ping]
//        [--close-timeout 10]
//
// Raw node:net sockets (lib/raw-ws.mjs): one prebuilt masked frame written as is, replies counted
// from frame headers. One 50 ms timer sends for the whole process, to a rotating slice of the
// open connections, so each sends once per interval. Replacing: a random --replace-fraction of
// the open connections send a close frame (after their last message), wait for the server's close
// (--close-timeout seconds at most, then counted and dropped) and check that every message they sent was answered before it; as many new ones
// open meanwhile, at most 256 handshakes at a time. After --duration seconds all close the same
// way. Prints on stdout:
//   open {"connections", "seconds"}            the first N are open (the clock starts)
//   replaced {"cycle", "closed", "opened", "seconds"}   after each replacement
//   closing                                     --duration is up; closing all
//   closed {"seconds"}                          all closed
// then one JSON line: {"sent", "answered", "unanswered", "opened", "cycles", "closedClean",
// "closeTimeouts", "closedEarly", "handshakeFailures", "errors"} (the first five errors).
// Exits 2 on bad flags, 1 if the initial connections cannot be opened or the run overruns by 60 s.
import { parseArgs } from 'node:util';
import { CLOSE_FRAME, FrameScanner, openRaw, PING_FRAME, pooled, textFrame } from './lib/raw-ws.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '300' },
    'replace-every': { type: 'string', default: '10' },
    'replace-fraction': { type: 'string', default: '0.25' },
    interval: { type: 'string', default: '1000' },
    size: { type: 'string', default: '16' },
    ping: { type: 'boolean', default: false },
    'close-timeout': { type: 'string', default: '10' },
  },
});
const port = Number(values.port);
const N = Number(values.connections);
const duration = Number(values.duration);
const replaceEvery = Number(values['replace-every']);
const fraction = Number(values['replace-fraction']);
const interval = Number(values.interval);
const closeTimeout = Number(values['close-timeout']);
if (
  ![port, N, duration, replaceEvery, interval, closeTimeout].every((x) => x > 0) ||
  !(fraction >= 0 && fraction <= 1)
) {
  console.error('soak-load: bad flags');
  process.exit(2);
}
setTimeout(
  () => {
    console.error('soak-load: overran by 60 s');
    process.exit(1);
  },
  (duration + 120) * 1000,
).unref();

const FRAME = values.ping ? PING_FRAME : textFrame(Number(values.size));
const TICK = 50;

const totals = {
  sent: 0,
  answered: 0,
  unanswered: 0,
  opened: 0,
  cycles: 0,
  closedClean: 0,
  closeTimeouts: 0,
  closedEarly: 0,
  handshakeFailures: 0,
  errors: [],
};
const error = (message) => {
  if (totals.errors.length < 5) totals.errors.push(message);
};

/** Open connections, in the order the sending timer walks them. */
let live = [];

async function openOne() {
  let raw;
  try {
    raw = await openRaw(port);
  } catch (e) {
    totals.handshakeFailures++;
    error(e.message);
    return;
  }
  const { socket, rest } = raw;
  const conn = { socket, sent: 0, received: 0, closing: false, onClosed: undefined };
  const scanner = new FrameScanner((f) => socket.write(f));
  conn.scanner = scanner;
  const onData = (chunk) => {
    const messages = scanner.scan(chunk);
    conn.received = values.ping ? scanner.pongs : conn.received + messages;
    if (scanner.closed && !conn.closing) {
      conn.closing = true;
      totals.closedEarly++;
      error('the server closed a connection');
      socket.destroy();
    }
  };
  socket.on('data', onData);
  socket.on('error', (e) => {
    if (!conn.closing) error(e.message);
  });
  socket.once('close', () => {
    if (!conn.closing) {
      conn.closing = true;
      totals.closedEarly++;
      error('a connection closed without a close frame');
    }
    conn.onClosed?.();
  });
  if (rest) onData(rest);
  socket.resume();
  totals.opened++;
  live.push(conn);
}

/** Closes `conn` with a close frame; resolves once the socket is gone. */
function closeOne(conn) {
  return new Promise((resolve) => {
    if (conn.socket.destroyed) return resolve();
    conn.closing = true;
    const timer = setTimeout(() => {
      totals.closeTimeouts++;
      error(`no close from the server within ${closeTimeout} s`);
      conn.socket.destroy();
    }, closeTimeout * 1000);
    conn.onClosed = () => {
      clearTimeout(timer);
      // Replies come before the server's close frame, so all must be in by now.
      const missing = conn.sent - conn.received;
      totals.answered += conn.received;
      if (conn.scanner.closed) totals.closedClean++;
      if (missing > 0) totals.unanswered += missing;
      resolve();
    };
    conn.socket.write(CLOSE_FRAME);
  });
}

let cursor = 0;
const perTick = () => Math.ceil((live.length * TICK) / interval);
const sender = setInterval(() => {
  const n = Math.min(perTick(), live.length);
  for (let k = 0; k < n; k++) {
    if (cursor >= live.length) cursor = 0;
    const conn = live[cursor++];
    if (conn.closing) continue;
    conn.socket.write(FRAME);
    conn.sent++;
    totals.sent++;
  }
}, TICK);

const t0 = performance.now();
const since = (t) => (performance.now() - t) / 1000;
await pooled(N, 256, openOne);
if (live.length < N) {
  console.error(`soak-load: only ${live.length} of ${N} connections opened: ${totals.errors.join('; ')}`);
  process.exit(1);
}
console.log(`open ${JSON.stringify({ connections: live.length, seconds: since(t0) })}`);
const start = performance.now();

/** Closes a random `fraction` of the open connections while opening as many new ones. */
async function replace(cycle) {
  const t = performance.now();
  const count = Math.round(live.length * fraction);
  const chosen = new Set();
  while (chosen.size < count) chosen.add(Math.floor(Math.random() * live.length));
  const leaving = live.filter((_, i) => chosen.has(i));
  live = live.filter((_, i) => !chosen.has(i));
  await Promise.all([Promise.all(leaving.map(closeOne)), pooled(count, 256, openOne)]);
  totals.cycles++;
  console.log(
    `replaced ${JSON.stringify({ cycle, closed: leaving.length, opened: count, seconds: since(t) })}`,
  );
}

let cycle = 0;
while (since(start) + replaceEvery <= duration) {
  const due = start + (cycle + 1) * replaceEvery * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  await replace(++cycle);
}
await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + duration * 1000 - performance.now())));

console.log('closing');
clearInterval(sender);
const closingAt = performance.now();
const all = live;
live = [];
await Promise.all(all.map(closeOne));
console.log(`closed ${JSON.stringify({ seconds: since(closingAt) })}`);
console.log(JSON.stringify(totals));
process.exit(0);
