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
import { loadConfig, measureAndReport, openAll, state } from './lib/load.mjs';

const config = loadConfig();
const { url, size, inflight } = config;

const payload = new Uint8Array(size);
for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 255;

function open() {
  return new Promise((resolve, reject) => {
    // Bun's client offers permessage-deflate by default; neither server would use it here.
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('connection failed'));
  });
}

const sockets = await openAll(config, open);

for (const ws of sockets) {
  ws.onmessage = (event) => {
    const data = event.data;
    if (typeof data === 'string' || data.byteLength !== size) state.bad++;
    if (state.counting) state.count++;
    if (state.running) ws.send(payload);
  };
  ws.onerror = () => state.errors.push('error event');
  ws.onclose = (event) => {
    if (state.running) state.errors.push(`connection closed during the run (${event.code})`);
  };
  for (let i = 0; i < inflight; i++) ws.send(payload);
}

await measureAndReport(config, sockets, (ws, done) => {
  ws.addEventListener('close', done, { once: true });
  ws.close(1000);
  setTimeout(done, 2000).unref();
});
