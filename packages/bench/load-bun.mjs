// Load generator for echo-throughput-bun.mjs on Bun's native WebSocket client, with the contract
// of load.mjs (one process per run; the same client for every server measured):
//
//   bun load-bun.mjs --url ws://127.0.0.1:PORT [--connections 50] [--inflight 1] [--size 64]
//                    [--warmup 1] [--duration 5]
//
// Opens the connections (no permessage-deflate offer), keeps `inflight` binary messages of `size`
// bytes in flight on each (every echo received sends the next message: ping-pong for inflight 1),
// warms up, then counts echoes for `duration` seconds. Prints `start` and `stop` lines around the
// measured window, then one JSON line: {"messages", "seconds", "rate", "bad", "errors"}. Exits 2 on
// failure or if the run takes 20 s longer than it should.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '1' },
    size: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
  },
});
const url = values.url;
const connections = Number(values.connections);
const inflight = Number(values.inflight);
const size = Number(values.size);
const warmup = Number(values.warmup);
const duration = Number(values.duration);
if (!url) fail('--url is required');

const deadline = setTimeout(() => fail('timed out'), (warmup + duration + 20) * 1000);

function fail(message) {
  console.error(`load: ${message}`);
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const payload = new Uint8Array(size);
for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 255;

let running = true;
let counting = false;
let count = 0;
let bad = 0;
const errors = [];

function open() {
  return new Promise((resolve, reject) => {
    // Bun's client offers permessage-deflate by default; neither server would use it here.
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('connection failed'));
  });
}

let sockets;
try {
  sockets = await Promise.all(Array.from({ length: connections }, open));
} catch (error) {
  fail(`connecting to ${url}: ${error.message}`);
}

for (const ws of sockets) {
  ws.onmessage = (event) => {
    const data = event.data;
    if (typeof data === 'string' || data.byteLength !== size) bad++;
    if (counting) count++;
    if (running) ws.send(payload);
  };
  ws.onerror = () => errors.push('error event');
  ws.onclose = (event) => {
    if (running) errors.push(`connection closed during the run (${event.code})`);
  };
  for (let i = 0; i < inflight; i++) ws.send(payload);
}

await sleep(warmup * 1000);
count = 0;
counting = true;
const t0 = performance.now();
console.log('start');
await sleep(duration * 1000);
const messages = count;
const seconds = (performance.now() - t0) / 1000;
counting = false;
running = false;
console.log('stop');

await Promise.all(
  sockets.map(
    (ws) =>
      new Promise((resolve) => {
        ws.addEventListener('close', resolve, { once: true });
        ws.close(1000);
        setTimeout(resolve, 2000).unref();
      }),
  ),
);
clearTimeout(deadline);
console.log(JSON.stringify({ messages, seconds, rate: messages / seconds, bad, errors: errors.slice(0, 5) }));
process.exit(0);
