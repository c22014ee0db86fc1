// A minimal WebSocket client on node:net for the load generators of idle-memory.mjs,
// broadcast.mjs and soak.mjs: the opening handshake, prebuilt masked frames written as they are,
// and a scanner that counts the server's frames by reading their headers only (payloads are
// skipped, never decoded or copied). So that 10,000 connections and millions of frames cost the
// generator little, whatever the server; it is not a general-purpose client.
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';

// One key for every connection: servers do not track keys, and the expected accept value is then
// computed once.
const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const MASK = randomBytes(4);

/** A masked client frame (FIN set) of `opcode` carrying `payload`, built once and written as is. */
export function clientFrame(opcode, payload = Buffer.alloc(0)) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + n);
  frame[0] = 0x80 | opcode;
  if (head === 2) frame[1] = 0x80 | n;
  else if (head === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  MASK.copy(frame, head);
  for (let i = 0; i < n; i++) frame[head + 4 + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

/** A text frame of `size` bytes of ASCII. */
export const textFrame = (size) => clientFrame(0x1, Buffer.alloc(size, 'x'));
/** A close frame with status 1000. */
export const CLOSE_FRAME = clientFrame(0x8, Buffer.from([0x03, 0xe8]));
export const PING_FRAME = clientFrame(0x9, Buffer.from('soak'));
const EMPTY_PONG = clientFrame(0xa);

/**
 * Counts the frames a server sends on one connection, from their headers. `scan(chunk)` returns
 * how many data messages ended in it (final text, binary or continuation frames); `pongs`,
 * `pings` and `closed` (a close frame arrived) accumulate. Server pings are answered through
 * `reply` (an empty pong: the ping payload is not read).
 */
export class FrameScanner {
  constructor(reply) {
    this.reply = reply;
    this.skip = 0;
    this.pending = undefined;
    this.pongs = 0;
    this.pings = 0;
    this.closed = false;
    this.bad = false;
  }

  scan(chunk) {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    const n = buf.length;
    let i = 0;
    if (this.skip > 0) {
      if (this.skip >= n) {
        this.skip -= n;
        return 0;
      }
      i = this.skip;
      this.skip = 0;
    }
    let messages = 0;
    while (i < n) {
      if (i + 2 > n) break;
      const b0 = buf[i];
      const b1 = buf[i + 1];
      if (b1 & 0x80) this.bad = true; // servers never mask
      let length = b1 & 0x7f;
      let head = 2;
      if (length === 126) {
        if (i + 4 > n) break;
        length = buf.readUInt16BE(i + 2);
        head = 4;
      } else if (length === 127) {
        if (i + 10 > n) break;
        length = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
        head = 10;
      }
      const opcode = b0 & 0x0f;
      if (opcode < 3) {
        if (b0 & 0x80) messages++;
      } else if (opcode === 0xa) this.pongs++;
      else if (opcode === 0x9) {
        this.pings++;
        this.reply(EMPTY_PONG);
      } else if (opcode === 0x8) this.closed = true;
      const end = i + head + length;
      if (end > n) {
        this.skip = end - n;
        return messages;
      }
      i = end;
    }
    if (i < n) this.pending = Buffer.from(buf.subarray(i));
    return messages;
  }
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and does the opening handshake (offering
 * permessage-deflate, as browsers do, when `deflate`). Resolves with `{ socket, deflate, rest }`:
 * whether the server accepted permessage-deflate, and bytes after the response (the first
 * frames, if any), once the 101 response has arrived; rejects on a refusal or a socket error.
 * The socket is left paused with no listeners, for the caller to attach its own.
 */
export function openRaw(port, { deflate = false, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('handshake timed out'));
    }, timeoutMs);
    const fail = (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 8192) fail(new Error('handshake response too long'));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('close', onClose);
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101')) {
        fail(new Error(`handshake refused: ${text.split('\r\n', 1)[0]}`));
        return;
      }
      if (!text.includes(ACCEPT)) {
        fail(new Error('wrong Sec-WebSocket-Accept'));
        return;
      }
      resolve({
        socket,
        deflate: /^sec-websocket-extensions:\s*permessage-deflate/im.test(text),
        rest: head.length > end + 4 ? head.subarray(end + 4) : undefined,
      });
    };
    const onClose = () => fail(new Error('closed during the handshake'));
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('close', onClose);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
          (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
          '\r\n',
      );
    });
  });
}

/**
 * Runs `count` calls of `task(i)` (each returning a promise), at most `concurrency` at a time;
 * resolves when all have settled, rejects with the first failure.
 */
export async function pooled(count, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
