// Load generator of broadcast.mjs (one process per run, never sharing an event loop with a server).
//
//   node packages/bench/broadcast-load.mjs --port PORT [--receivers 1000] [--senders 1]
//        [--size 16] [--window 64] [--batch 16] [--warmup 2] [--duration 5]
//
// Raw node:net sockets (lib/raw-ws.mjs), the same for every server: opens the receivers, then the
// senders; senders publish text messages of --size bytes, which the server relays to every other
// connection (receivers and the other senders). Receivers only scan frame headers and count
// messages. The window keeps the server saturated without letting queues grow: a sender writes
// --batch messages at once (round-robin over the senders) whenever fewer than --window − --batch
// messages are still undelivered somewhere (sent × fan-out − delivered, over all connections).
// Warms up, then counts deliveries for --duration seconds between `start` and `stop` lines on
// stdout; stops sending, waits (5 s at most) for what is in flight, and prints one JSON line:
//   {"deliveries", "seconds", "rate", "sent", "fanout", "perReceiver": {min, max},
//    "lost" (never delivered), "errors"}
// Exits 2 on a failed handshake, a closed connection, or if the run takes 60 s longer than it should.
import { parseArgs } from 'node:util';
import { sleep } from './lib/measure.mjs';
import { FrameScanner, openRaw, pooled, textFrame } from './lib/raw-ws.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    receivers: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '1' },
    size: { type: 'string', default: '16' },
    window: { type: 'string', default: '64' },
    batch: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
  },
});
const port = Number(values.port);
const R = Number(values.receivers);
const S = Number(values.senders);
const WINDOW = Number(values.window);
const BATCH = Math.min(Number(values.batch), WINDOW);
const warmup = Number(values.warmup);
const duration = Number(values.duration);

function fail(message) {
  console.error(`broadcast-load: ${message}`);
  process.exit(2);
}
if (!(port > 0) || !(R > 0) || !(S > 0) || !(BATCH > 0)) fail('bad arguments');
setTimeout(() => fail('timed out'), (warmup + duration + 60) * 1000).unref();

const FANOUT = R + S - 1;
const frame = textFrame(Number(values.size));
const batchFrames = Buffer.concat(Array.from({ length: BATCH }, () => frame));
// Sending resumes when at most this many deliveries are outstanding.
const lowWater = (WINDOW - BATCH) * FANOUT;

let running = false;
let sent = 0;
let delivered = 0;
let closing = false;
let nextSender = 0;
const senders = [];
const counts = new Float64Array(R);

function pump() {
  while (running && sent * FANOUT - delivered <= lowWater) {
    senders[nextSender].write(batchFrames);
    nextSender = (nextSender + 1) % S;
    sent += BATCH;
  }
}

async function open(index) {
  const { socket, rest } = await openRaw(port);
  const scanner = new FrameScanner((f) => socket.write(f));
  const receiver = index < R;
  const onData = (chunk) => {
    const n = scanner.scan(chunk);
    if (n === 0) return;
    delivered += n;
    if (receiver) counts[index] += n;
    if (running && sent * FANOUT - delivered <= lowWater) pump();
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  socket.once('close', () => {
    if (!closing) fail(`connection ${index} closed by the server`);
  });
  if (rest) onData(rest);
  socket.resume();
  if (!receiver) senders.push(socket);
}

try {
  await pooled(R, 256, open);
  await pooled(S, S, (i) => open(R + i));
} catch (error) {
  fail(error.message);
}
// Subscriptions happen as connections open; give the server a moment to finish them.
await sleep(500);

running = true;
pump();
await sleep(warmup * 1000);
const start = { delivered, counts: Float64Array.from(counts), t: performance.now() };
console.log('start');
await sleep(duration * 1000);
const stop = { delivered, counts: Float64Array.from(counts), t: performance.now() };
console.log('stop');
running = false;

// What is still in flight should arrive; anything short of sent × fan-out was lost.
const drainUntil = performance.now() + 5000;
while (delivered < sent * FANOUT && performance.now() < drainUntil) await sleep(20);
closing = true;

const seconds = (stop.t - start.t) / 1000;
const perReceiver = Array.from(stop.counts, (c, i) => c - start.counts[i]);
const result = {
  deliveries: stop.delivered - start.delivered,
  seconds,
  rate: (stop.delivered - start.delivered) / seconds,
  sent,
  fanout: FANOUT,
  perReceiver: { min: Math.min(...perReceiver), max: Math.max(...perReceiver) },
  lost: sent * FANOUT - delivered,
  errors: [],
};
console.log(JSON.stringify(result));
process.exit(0);
