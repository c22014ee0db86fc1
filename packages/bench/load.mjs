// Load generator for echo-throughput.mjs (one process per run, so it never shares an event
// loop with a server). Uses the npm `ws` client whatever the server, so the client side is
// identical for every server measured.
//
//   node load.mjs --url ws://127.0.0.1:PORT [--connections 50] [--inflight 1] [--size 64]
//                 [--warmup 1] [--duration 5] [--deflate]
//
// Opens the connections, keeps `inflight` binary messages of `size` bytes in flight on each
// (every echo received sends the next message: ping-pong for inflight 1), warms up, then counts
// echoes for `duration` seconds. Prints `start` and `stop` lines around the measured window, then
// one JSON line: {"messages", "seconds", "rate", "bad", "errors"}. Exits 2 on failure or if the
// run takes 20 s longer than it should. With --deflate the client offers permessage-deflate
// (`perMessageDeflate: true`), fails unless the server accepts it, and sends compressible
// JSON-like bytes instead of the byte pattern.
import { WebSocket } from 'ws';
import { loadConfig, measureAndReport, openAll, state } from './lib/load.mjs';

const config = loadConfig({ deflate: { type: 'boolean', default: false } });
const { url, size, inflight } = config;

const deflate = config.values.deflate;
const payload = Buffer.alloc(size);
if (deflate) {
  // Compressible like real traffic (about 4:1 at zlib level 1), not a trivially repeating pattern.
  let text = '';
  for (let i = 0; text.length < size; i++) {
    text += `{"id":${i * 7919},"user":"user-${(i * 31) % 613}","ok":${i % 3 === 0},"score":${(i * 37) % 1000}},`;
  }
  payload.write(text.slice(0, size), 'latin1');
} else {
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 255;
}

function open() {
  return new Promise((resolve, reject) => {
    // Without --deflate no permessage-deflate (ws's client offers it by default).
    const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => {
      if (deflate && !ws.extensions.includes('permessage-deflate')) {
        reject(new Error('the server did not accept permessage-deflate'));
        return;
      }
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

const sockets = await openAll(config, open);

for (const ws of sockets) {
  ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length !== size || (deflate && !payload.equals(data))) state.bad++;
    if (state.counting) state.count++;
    if (state.running) ws.send(payload);
  });
  ws.on('error', (error) => state.errors.push(error.message));
  ws.on('close', (code) => {
    if (state.running) state.errors.push(`connection closed during the run (${code})`);
  });
  for (let i = 0; i < inflight; i++) ws.send(payload);
}

await measureAndReport(config, sockets, (ws, done) => {
  ws.once('close', done);
  ws.close(1000);
  setTimeout(() => {
    ws.terminate();
    done();
  }, 2000).unref();
});
