// Client side of deflate-memory.mjs: holds many idle permessage-deflate connections to one server.
//
//   node deflate-memory-client.mjs --url ws://127.0.0.1:PORT --connections N [--size 4096]
//
// A minimal client on node:net, so that 10,000 connections cost the client little time and no
// zlib contexts, whatever the server: it offers `permessage-deflate; client_max_window_bits` (the
// offer of the ws client and of browsers), requires the server to accept it, and speaks just
// enough RFC 6455 for one message each way. Driven by lines on stdin, answers on stdout:
//   (start)    opens N connections, at most 256 handshakes at a time → `connected {"deflate": k}`
//   exchange   each connection sends one compressible text message of --size bytes, compressed
//              (RSV1, masked, raw deflate as the first message of a fresh context), and waits for
//              the echo, which must come back compressed and inflate to the same text
//                                                                   → `exchanged {"ok": k}`
//   close      sends a close frame on every connection, waits for the server to end, exits
//                                                                   → `closed`
// Exits 2 on any failure (a refused handshake, deflate not negotiated, an early close, a wrong echo).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    size: { type: 'string', default: '4096' },
  },
});
if (!values.url) fail('--url is required');
const url = new URL(values.url);
const total = Number(values.connections);
const size = Number(values.size);
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function fail(message) {
  console.error(`deflate-memory-client: ${message}`);
  process.exit(2);
}

/** Compressible text: JSON-like records with varying numbers. */
function message(seed) {
  let out = '';
  for (let i = 0; out.length < size; i++) {
    out += `{"id":${seed * 1000 + i},"user":"user-${(seed * 7 + i) % 613}","ok":true,"score":${(i * 37) % 1000}},`;
  }
  return out.slice(0, size);
}

/** A masked text frame with RSV1 carrying `text` deflated as RFC 7692 §7.2.1 says. */
function compressedFrame(text) {
  const deflated = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  const payload = deflated.subarray(0, deflated.length - 4);
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0xc1, 0x80 | n]) : Buffer.from([0xc1, 0x80 | 126, n >> 8, n & 255]);
  if (n > 0xffff) fail('message too large for this client');
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

const CLOSE_FRAME = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]); // 1000, masked

class Connection {
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.onFrame = undefined;
    this.closing = false;
    socket.on('data', (chunk) => this.data(chunk));
    socket.on('close', () => {
      if (!this.closing) fail('a connection closed early');
    });
    socket.on('error', (error) => {
      if (!this.closing) fail(`socket error: ${error.message}`);
    });
  }

  data(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + length) return;
      const frame = {
        fin: (b[0] & 0x80) !== 0,
        rsv1: (b[0] & 0x40) !== 0,
        opcode: b[0] & 0x0f,
        payload: b.subarray(at, at + length),
      };
      this.buffer = b.subarray(at + length);
      this.onFrame?.(frame);
    }
  }
}

function open() {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('error', reject);
      const text = head.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(text))
        return reject(new Error(`handshake refused: ${text.split('\r\n')[0]}`));
      const extensions = /^sec-websocket-extensions:\s*(.*)$/im.exec(text)?.[1]?.trim() ?? '';
      const connection = new Connection(socket);
      connection.extensions = extensions;
      if (head.length > end + 4) connection.data(head.subarray(end + 4));
      resolve(connection);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
      );
    });
  });
}

const connections = [];

async function openAll() {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      try {
        connections.push(await open());
      } catch (error) {
        fail(`connecting to ${url.href}: ${error.message} (after ${connections.length})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, total) }, worker));
  const deflate = connections.filter((c) => c.extensions.startsWith('permessage-deflate')).length;
  if (deflate !== total) fail(`permessage-deflate negotiated on ${deflate} of ${total} connections`);
  console.log(`connected ${JSON.stringify({ deflate, extensions: connections[0]?.extensions })}`);
}

async function exchange() {
  let ok = 0;
  await Promise.all(
    connections.map(
      (connection, i) =>
        new Promise((resolve) => {
          const text = message(i);
          connection.onFrame = (frame) => {
            if (frame.opcode !== 1 || !frame.fin || !frame.rsv1)
              fail(`echo ${i} is not one compressed text frame`);
            const echoed = inflateRawSync(Buffer.concat([frame.payload, TAIL]), {
              finishFlush: constants.Z_SYNC_FLUSH,
            });
            if (echoed.toString() !== text) fail(`wrong echo on connection ${i}`);
            connection.onFrame = undefined;
            ok++;
            resolve();
          };
          connection.socket.write(compressedFrame(text));
        }),
    ),
  );
  console.log(`exchanged ${JSON.stringify({ ok })}`);
}

async function closeAll() {
  await Promise.all(
    connections.map(
      (connection) =>
        new Promise((resolve) => {
          connection.closing = true;
          connection.socket.once('close', resolve);
          connection.socket.write(CLOSE_FRAME);
          setTimeout(() => {
            connection.socket.destroy();
            resolve();
          }, 3000).unref();
        }),
    ),
  );
  console.log('closed');
  process.exit(0);
}

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const command = line.trim();
  if (command === 'exchange') exchange().catch((error) => fail(error.message));
  else if (command === 'close') closeAll().catch((error) => fail(error.message));
});
commands.on('close', () => process.exit(0));
await openAll();
