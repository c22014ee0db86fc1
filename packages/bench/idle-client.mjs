// Load generator of idle-memory.mjs: holds many idle WebSocket connections to one server.
//
//   node packages/bench/idle-client.mjs --port PORT --connections N [--deflate]
//
// Raw node:net sockets (lib/raw-ws.mjs): each does the opening handshake (offering
// permessage-deflate with --deflate, as browsers do) and then sends nothing; frames from the
// server are only counted, pings answered. At most 256 handshakes are in flight. Prints
//   open {"connections", "deflate", "seconds", "fds"}   once all N are open (`deflate`: how many
//                                                        negotiated it; `fds`: this process's)
// then reads commands on stdin:
//   status   → `status {"open", "closedEarly", "pings", "messages"}`
//   close    sends a close frame on every connection, waits for the server to close them (3 s at
//            most) → `closed {"clean", "forced"}`, then exits 0
// and exits when stdin ends. Exits 2 on a failed handshake or after 10 minutes.
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CLOSE_FRAME, FrameScanner, openRaw, pooled } from './lib/raw-ws.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    deflate: { type: 'boolean', default: false },
  },
});
const port = Number(values.port);
const total = Number(values.connections);

function fail(message) {
  console.error(`idle-client: ${message}`);
  process.exit(2);
}
if (!(port > 0) || !(Number.isInteger(total) && total > 0)) fail('--port and --connections are required');
setTimeout(() => fail('still running after 10 minutes'), 600_000).unref();

const connections = [];
let closedEarly = 0;
let closing = false;
let messages = 0;

async function open() {
  const { socket, deflate, rest } = await openRaw(port, { deflate: values.deflate });
  const connection = { socket, deflate, scanner: new FrameScanner((frame) => socket.write(frame)) };
  socket.on('data', (chunk) => {
    messages += connection.scanner.scan(chunk);
  });
  socket.on('error', () => {});
  socket.once('close', () => {
    if (!closing) closedEarly++;
  });
  if (rest) messages += connection.scanner.scan(rest);
  socket.resume();
  connections.push(connection);
}

const t0 = performance.now();
try {
  await pooled(total, 256, open);
} catch (error) {
  fail(`after ${connections.length} connections: ${error.message}`);
}
console.log(
  `open ${JSON.stringify({
    connections: connections.length,
    deflate: connections.filter((c) => c.deflate).length,
    seconds: (performance.now() - t0) / 1000,
    fds: readdirSync('/proc/self/fd').length,
  })}`,
);

async function closeAll() {
  closing = true;
  let forced = 0;
  await Promise.all(
    connections.map(
      ({ socket }) =>
        new Promise((resolve) => {
          if (socket.destroyed) return resolve();
          const timer = setTimeout(() => {
            forced++;
            socket.destroy();
          }, 3000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.write(CLOSE_FRAME);
        }),
    ),
  );
  console.log(`closed ${JSON.stringify({ clean: connections.length - forced, forced })}`);
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const command = line.trim();
    if (command === 'status') {
      const open = connections.filter((c) => !c.socket.destroyed).length;
      const pings = connections.reduce((sum, c) => sum + c.scanner.pings, 0);
      console.log(`status ${JSON.stringify({ open, closedEarly, pings, messages })}`);
    } else if (command === 'close') closeAll();
  })
  .on('close', () => {
    if (!closing) process.exit(0);
  });
