// A hostile WebSocket peer on Node: raw node:net sockets, masked client frames written by hand, no
// WebSocket library, so that the servers of every runtime are attacked byte for byte alike.
//
//   node packages/testkit/src/hostile/attacker.mjs '{"attack":"ping-flood","port":9001}'
//
// One attack per run, against 127.0.0.1 (or another loopback address) only, bounded in count and
// time: every attack has a duration or timeout, and a hard deadline ends the process whatever the
// server does. Prints JSON lines on stdout: progress events ({"event":"flooding"},
// {"event":"holding","open":N}) and last {"event":"result",...}: what was sent, what was observed
// (bytes received, close code, time from the attack's start until the server closed or reset the
// connection, errors). Exit 0 once the attack ran (whatever the server did), 2 on bad parameters,
// 3 at the hard deadline (the partial result is printed first), 1 on a crash.
//
// Attacks and their parameters (JSON on argv; durations in ms; defaults in DEFAULTS):
//   ping-flood           handshake, then masked pings of `payloadSize` bytes as fast as the socket
//                        takes them for `durationMs`, never reading (`read: false`), or until the
//                        server closes or resets the connection; then reads for up to `drainMs` to
//                        see what the server sent (and its close frame: a peer that does not read
//                        sees it only then, so `closeFrameAfterMs` is when it was read).
//   pong-flood           the same with unsolicited pongs (`read` may be true: pongs need no reply).
//   never-reading-small  binary messages of `messageSize` (16 B) to the echo server, never reading.
//   never-reading-large  the same with 1 MiB messages.
//   half-open            `partialHead` connections that send part of an upgrade request, `silent`
//                        ones that send nothing, `upgraded` ones that complete the handshake, all
//                        then silent, held `durationMs` after the last one opened; reports per
//                        group when and how the server closed them (HTTP status, close code).
//   reset-storm          for `durationMs`, up to `ratePerSecond` connections a second (at most
//                        `concurrency` at once) that are reset (RST) as soon as they connect,
//                        while a probe in a child process serves as a fresh client every
//                        `probeIntervalMs`.
//   idle                 `connections` WebSocket connections, handshake done and nothing more,
//                        held `durationMs`.
//   bombs                `connections` parallel connections negotiating permessage-deflate, each
//                        sending one message of `inflatedBytes` zeros deflated (RSV1, masked);
//                        waits up to `timeoutMs` for each to be closed.
//   probe                `count` fresh clients, one every `intervalMs`: handshake, a `size`-byte
//                        binary message, its echo, close; reports each one's latency.
//   warmup               no attack: ordinary echo traffic (`inflight` messages of `size` bytes at a
//                        time, for `durationMs`), to bring a server to its steady state first.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';

const MiB = 1024 * 1024;

export const DEFAULTS = {
  'ping-flood': { durationMs: 3000, payloadSize: 8, read: false, drainMs: 2000 },
  'pong-flood': { durationMs: 3000, payloadSize: 8, read: false, drainMs: 2000 },
  'never-reading-small': { durationMs: 3000, messageSize: 16, drainMs: 2000 },
  'never-reading-large': { durationMs: 3000, messageSize: MiB, drainMs: 2000 },
  'half-open': { partialHead: 1000, silent: 1000, upgraded: 1000, durationMs: 12_500, concurrency: 200 },
  'reset-storm': {
    durationMs: 5000,
    ratePerSecond: 2000,
    concurrency: 64,
    probeIntervalMs: 200,
    probeTimeoutMs: 3000,
  },
  idle: { connections: 2000, durationMs: 3000, concurrency: 200 },
  bombs: { connections: 16, inflatedBytes: 80 * MiB, timeoutMs: 20_000 },
  probe: { count: 1, intervalMs: 200, size: 16, timeoutMs: 5000 },
  warmup: { durationMs: 1000, size: 4096, inflight: 16 },
};

const OP = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Time given to a connect or a handshake before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5000;

const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ frames

/** A masked client frame (RFC 6455 5.2), as one Buffer. */
export function maskedFrame(opcode, payload, { fin = true, rsv1 = false, mask = randomBytes(4) } = {}) {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const at = 2 + lengthBytes;
  mask.copy(frame, at);
  for (let i = 0; i < length; i++) frame[at + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** `count` copies of `frame` back to back: one write carries many frames. */
function repeated(frame, count) {
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

/**
 * Parses the server's frames as bytes arrive, without keeping payloads (a flood's replies can be
 * gigabytes) except those of control frames and, if asked, of data frames up to `keepData` bytes.
 */
class FrameReader {
  constructor({ keepData = 0, onFrame = () => {} } = {}) {
    this.keepData = keepData;
    this.onFrame = onFrame;
    this.header = Buffer.alloc(0);
    this.frame = undefined;
    this.counts = {};
    this.closeCode = undefined;
    this.closeReason = undefined;
    this.protocolError = undefined;
  }

  push(chunk) {
    let at = 0;
    while (at < chunk.length) {
      if (this.frame === undefined) {
        const take = Math.min(14 - this.header.length, chunk.length - at);
        const header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        const parsed = parseHeader(header);
        if (parsed === undefined) {
          this.header = header;
          at += take;
          continue;
        }
        at += parsed.headerLength - this.header.length;
        this.header = Buffer.alloc(0);
        const keep = parsed.opcode >= OP.CLOSE || parsed.length <= this.keepData;
        this.frame = { ...parsed, remaining: parsed.length, parts: keep ? [] : undefined };
      }
      const frame = this.frame;
      const take = Math.min(frame.remaining, chunk.length - at);
      if (frame.parts !== undefined && take > 0) frame.parts.push(Buffer.from(chunk.subarray(at, at + take)));
      frame.remaining -= take;
      at += take;
      if (frame.remaining === 0) this.finish(frame);
    }
  }

  finish(frame) {
    this.frame = undefined;
    this.counts[frame.opcode] = (this.counts[frame.opcode] ?? 0) + 1;
    const payload = frame.parts === undefined ? undefined : Buffer.concat(frame.parts);
    if (frame.opcode === OP.CLOSE && this.closeCode === undefined) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.closeReason = payload.subarray(2).toString('utf8');
    }
    this.onFrame(frame.opcode, payload);
  }
}

/** Opcode, payload length and header length of a frame header, or undefined if incomplete. */
function parseHeader(bytes) {
  if (bytes.length < 2) return undefined;
  const opcode = bytes[0] & 0x0f;
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let headerLength = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    headerLength = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    headerLength = 10;
  }
  if (masked) headerLength += 4;
  if (bytes.length < headerLength) return undefined;
  return { opcode, length, headerLength };
}

/** Counts of an opcode map as names: { pong: 12, close: 1 }. */
function namedCounts(counts) {
  const names = Object.fromEntries(Object.entries(OP).map(([name, code]) => [code, name.toLowerCase()]));
  return Object.fromEntries(Object.entries(counts).map(([op, n]) => [names[op] ?? `op${op}`, n]));
}

// ------------------------------------------------------------------ connections

/** A TCP connection to the target; rejects after CONNECT_TIMEOUT_MS. */
function openSocket(target) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, CONNECT_TIMEOUT_MS);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

function upgradeHead(target, key, { deflate = false } = {}) {
  return (
    'GET / HTTP/1.1\r\n' +
    `Host: ${target.host}:${target.port}\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
    '\r\n'
  );
}

/** Status and lower-cased headers of an HTTP response head. */
function parseResponseHead(text) {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/**
 * Opens a WebSocket connection: TCP connect, upgrade request, a checked 101 response. Resolves with
 * the socket (its 'data' handler feeds `reader`) once the handshake is done.
 */
async function openWebSocket(target, { deflate = false, reader = new FrameReader() } = {}) {
  const socket = await openSocket(target);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.on('error', () => {});
  socket.write(upgradeHead(target, key, { deflate }));
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('handshake timed out')), CONNECT_TIMEOUT_MS);
    const fail = (error) => {
      clearTimeout(timer);
      socket.off('data', onHead);
      socket.destroy();
      reject(error);
    };
    const onHead = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16_384) fail(new Error('response head too large'));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onHead);
      socket.off('close', onClose);
      const response = parseResponseHead(head.subarray(0, end).toString('latin1'));
      if (response.status !== 101 || response.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        reject(new Error(`handshake refused: HTTP ${response.status}`));
        return;
      }
      const extensions = response.headers['sec-websocket-extensions'] ?? '';
      socket.on('data', (data) => reader.push(data));
      const rest = head.subarray(end + 4);
      if (rest.length > 0) reader.push(rest);
      resolve({ socket, reader, extensions });
    };
    const onClose = () => fail(new Error('closed during the handshake'));
    socket.on('data', onHead);
    socket.once('close', onClose);
  });
}

/** Runs `openOne(i)` for i < count with at most `concurrency` pending; resolves with the results. */
async function openMany(count, concurrency, openOne) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await openOne(i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Error codes (or messages) counted: { ECONNRESET: 3 }. */
function countErrors(errors) {
  const counts = {};
  for (const error of errors) {
    const key = error.code ?? error.message;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Resolves after `ms`, or earlier when `socket` drains or closes. */
function drainOrTimeout(socket, ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** Destroys with a TCP RST: the attacker leaves at once, and no TIME_WAIT is left behind. */
function reset(socket) {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/** min, median, max (rounded ms) of a list of numbers, or null if it is empty. */
function spread(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x) => Math.round(x);
  return {
    count: sorted.length,
    min: round(sorted[0]),
    median: round(sorted[sorted.length >> 1]),
    max: round(sorted[sorted.length - 1]),
  };
}

// ------------------------------------------------------------------ attacks

/**
 * Writes `chunk` (whole frames) over and over for `durationMs`, as fast as the socket takes it;
 * stops early if the server closes or resets the connection. Never reads unless `read`.
 */
async function flood(target, params, frame, framesPerChunk, result) {
  const observed = result.observed;
  let started = now();
  const reader = new FrameReader({
    onFrame: (opcode) => {
      // When not reading, this is when the close frame was read, not when it was sent.
      if (opcode === OP.CLOSE) observed.closeFrameAfterMs ??= Math.round(now() - started);
    },
  });
  const { socket } = await openWebSocket(target, { reader });
  const chunk = repeated(frame, framesPerChunk);
  started = now();
  let leaving = false;
  const markClosed = (how) => {
    // Our own reset at the end is not the server closing.
    if (leaving || observed.closedAfterMs !== null) return;
    observed.closedAfterMs = Math.round(now() - started);
    observed.closedBy = how;
  };
  socket.on('error', (error) => {
    observed.errors.push(error.code ?? error.message);
    markClosed(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : 'error');
  });
  socket.on('end', () => markClosed('fin'));
  socket.on('close', () => markClosed('close'));
  if (!params.read) socket.pause();
  emit({ event: 'flooding' });
  const writtenBefore = socket.bytesWritten;
  const end = started + params.durationMs;
  while (now() < end && !socket.destroyed && observed.closedAfterMs === null) {
    if (!socket.write(chunk)) await drainOrTimeout(socket, end - now());
  }
  const flushed = socket.bytesWritten - writtenBefore - socket.writableLength;
  result.sent = { frames: Math.floor(flushed / frame.length), bytes: flushed, frameBytes: frame.length };
  result.floodMs = Math.round(now() - started);
  // Read what the server queued for us, up to drainMs: its replies, and a close frame behind them.
  if (!socket.destroyed) {
    socket.resume();
    const drainEnd = now() + params.drainMs;
    while (now() < drainEnd && !socket.destroyed && reader.closeCode === undefined) await sleep(20);
  }
  observed.bytesReceived = socket.bytesRead;
  observed.frames = namedCounts(reader.counts);
  observed.closeCode = reader.closeCode ?? null;
  observed.closeReason = reader.closeReason ?? null;
  leaving = true;
  reset(socket);
}

function floodResult(attack, params) {
  return {
    attack,
    params,
    sent: {},
    observed: {
      bytesReceived: 0,
      frames: {},
      closeCode: null,
      closeReason: null,
      closeFrameAfterMs: null,
      closedAfterMs: null,
      closedBy: null,
      errors: [],
    },
  };
}

async function controlFlood(opcode, target, params, result) {
  const frame = maskedFrame(opcode, randomBytes(params.payloadSize));
  await flood(target, params, frame, Math.max(1, Math.floor(65_536 / frame.length)), result);
}

async function neverReading(target, params, result) {
  const frame = maskedFrame(OP.BINARY, randomBytes(params.messageSize));
  await flood(
    target,
    { ...params, read: false },
    frame,
    Math.max(1, Math.floor(65_536 / frame.length)),
    result,
  );
  result.sent.messages = result.sent.frames;
}

/** One half-open connection of `group`: opened, then silent; records how the server ends it. */
async function halfOpenConnection(target, group, records) {
  const record = { group, openedAt: 0, closedAt: null, status: null, closeCode: null, error: null };
  let socket;
  if (group === 'upgraded') {
    const reader = new FrameReader({
      onFrame: (opcode) => {
        if (opcode === OP.CLOSE) record.closeCode = reader.closeCode;
      },
    });
    ({ socket } = await openWebSocket(target, { reader }));
  } else {
    socket = await openSocket(target);
    let head = '';
    socket.on('data', (chunk) => {
      if (record.status !== null || head.length > 1024) return;
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (match) record.status = Number(match[1]);
    });
    if (group === 'partialHead') {
      socket.write(`GET / HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\n`);
    }
  }
  record.openedAt = now();
  records.push(record);
  socket.on('error', (error) => {
    record.error = error.code ?? error.message;
  });
  socket.on('close', () => {
    record.closedAt ??= now();
  });
  return socket;
}

async function halfOpen(target, params, result) {
  const groups = [
    ...Array.from({ length: params.partialHead }, () => 'partialHead'),
    ...Array.from({ length: params.silent }, () => 'silent'),
    ...Array.from({ length: params.upgraded }, () => 'upgraded'),
  ];
  const records = [];
  const opened = await openMany(groups.length, params.concurrency, (i) =>
    halfOpenConnection(target, groups[i], records),
  );
  const sockets = opened.filter((r) => r.ok).map((r) => r.value);
  const lastOpened = now();
  emit({ event: 'holding', open: sockets.length });
  const holdEnd = lastOpened + params.durationMs;
  while (now() < holdEnd && records.some((r) => r.closedAt === null)) await sleep(50);
  result.heldMs = Math.round(now() - lastOpened);
  result.sent = { partialHead: params.partialHead, silent: params.silent, upgraded: params.upgraded };
  result.groups = {};
  for (const group of ['partialHead', 'silent', 'upgraded']) {
    const mine = records.filter((r) => r.group === group);
    const closed = mine.filter((r) => r.closedAt !== null);
    const statuses = {};
    const closeCodes = {};
    for (const r of closed) {
      if (r.status !== null) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.closeCode !== null) closeCodes[r.closeCode] = (closeCodes[r.closeCode] ?? 0) + 1;
    }
    result.groups[group] = {
      opened: mine.length,
      closedByServer: closed.length,
      statuses,
      closeCodes,
      closedAfterMs: spread(closed.map((r) => r.closedAt - r.openedAt)),
    };
  }
  result.observed = {
    openErrors: countErrors(opened.filter((r) => !r.ok).map((r) => r.error)),
    errors: countErrors(records.filter((r) => r.error !== null).map((r) => ({ code: r.error }))),
  };
  for (const socket of sockets) reset(socket);
}

async function resetStorm(target, params, result) {
  const probeCount = Math.max(1, Math.floor(params.durationMs / params.probeIntervalMs));
  const probe = runChildProbe(target, {
    count: probeCount,
    intervalMs: params.probeIntervalMs,
    timeoutMs: params.probeTimeoutMs,
  });
  const started = now();
  const end = started + params.durationMs;
  const counts = { attempted: 0, connected: 0 };
  const errors = [];
  let pending = 0;
  const one = () => {
    counts.attempted++;
    pending++;
    const socket = connect({ host: target.host, port: target.port });
    socket.once('connect', () => {
      counts.connected++;
      socket.resetAndDestroy();
    });
    socket.once('error', (error) => errors.push(error));
    socket.once('close', () => pending--);
  };
  emit({ event: 'flooding' });
  while (now() < end) {
    const allowed = Math.floor(((now() - started) / 1000) * params.ratePerSecond);
    while (counts.attempted < allowed && pending < params.concurrency) one();
    await sleep(5);
  }
  const settle = now() + 2000;
  while (pending > 0 && now() < settle) await sleep(10);
  result.sent = { connections: counts.attempted, reset: counts.connected };
  result.observed = { errors: countErrors(errors), stillPending: pending };
  result.probe = await probe;
}

/** Runs the `probe` attack in a child process (its own event loop, not slowed by ours). */
function runChildProbe(target, params) {
  const self = fileURLToPath(import.meta.url);
  const job = { attack: 'probe', host: target.host, port: target.port, ...params };
  const child = spawn(process.execPath, [self, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      err += chunk;
    });
    child.once('close', (code) => {
      children.delete(child);
      const line = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((l) => l.event === 'result');
      resolve(line ?? { error: `probe exited ${code}: ${err.trim()}` });
    });
  });
}

async function idle(target, params, result) {
  let closedByServer = 0;
  const opened = await openMany(params.connections, params.concurrency, async () => {
    const { socket } = await openWebSocket(target);
    socket.once('close', () => {
      closedByServer++;
    });
    return socket;
  });
  const sockets = opened.filter((r) => r.ok).map((r) => r.value);
  emit({ event: 'holding', open: sockets.length });
  await sleep(params.durationMs);
  result.sent = { connections: params.connections };
  result.observed = {
    open: sockets.length,
    openErrors: countErrors(opened.filter((r) => !r.ok).map((r) => r.error)),
    closedByServer,
  };
  for (const socket of sockets) socket.removeAllListeners('close');
  for (const socket of sockets) reset(socket);
}

/** `inflatedBytes` zeros deflated as one permessage-deflate message (RFC 7692 7.2.1). */
function bombPayload(inflatedBytes) {
  const deflated = deflateRawSync(Buffer.alloc(inflatedBytes), {
    level: 9,
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });
  const tail = deflated.subarray(deflated.length - 4);
  return tail.equals(Buffer.from([0, 0, 0xff, 0xff])) ? deflated.subarray(0, deflated.length - 4) : deflated;
}

async function bombs(target, params, result) {
  const payload = bombPayload(params.inflatedBytes);
  const records = [];
  let sentAt = now();
  const opened = await openMany(params.connections, params.connections, async () => {
    const record = { closeCode: null, closeFrameAfterMs: null, closedAfterMs: null, error: null };
    const reader = new FrameReader({
      onFrame: (opcode) => {
        if (opcode !== OP.CLOSE || record.closeFrameAfterMs !== null) return;
        record.closeCode = reader.closeCode;
        record.closeFrameAfterMs = now() - sentAt;
        connection.socket.end(maskedFrame(OP.CLOSE, Buffer.from([reader.closeCode >> 8, reader.closeCode])));
      },
    });
    const connection = await openWebSocket(target, { deflate: true, reader });
    if (!/permessage-deflate/.test(connection.extensions)) {
      reset(connection.socket);
      throw new Error('permessage-deflate not negotiated');
    }
    connection.socket.on('error', (error) => {
      record.error = error.code ?? error.message;
    });
    connection.socket.once('close', () => {
      record.closedAfterMs = now() - sentAt;
    });
    records.push(record);
    return connection.socket;
  });
  const sockets = opened.filter((r) => r.ok).map((r) => r.value);
  const frame = maskedFrame(OP.BINARY, payload, { rsv1: true });
  // All handshakes first, then every bomb at once: they inflate in parallel.
  sentAt = now();
  emit({ event: 'flooding' });
  for (const socket of sockets) socket.write(frame);
  const end = now() + params.timeoutMs;
  while (now() < end && records.some((r) => r.closedAfterMs === null)) await sleep(20);
  const closeCodes = {};
  for (const r of records) {
    if (r.closeCode !== null) closeCodes[r.closeCode] = (closeCodes[r.closeCode] ?? 0) + 1;
  }
  result.sent = {
    connections: sockets.length,
    messageBytes: payload.length,
    inflatedBytes: params.inflatedBytes,
  };
  result.observed = {
    openErrors: countErrors(opened.filter((r) => !r.ok).map((r) => r.error)),
    closeCodes,
    closeFrameAfterMs: spread(
      records.filter((r) => r.closeFrameAfterMs !== null).map((r) => r.closeFrameAfterMs),
    ),
    closedAfterMs: spread(records.filter((r) => r.closedAfterMs !== null).map((r) => r.closedAfterMs)),
    notClosed: records.filter((r) => r.closedAfterMs === null).length,
    errors: countErrors(records.filter((r) => r.error !== null).map((r) => ({ code: r.error }))),
  };
  for (const socket of sockets) reset(socket);
}

/** One fresh client: handshake, a message, its echo, close. Resolves with its latency. */
async function probeOnce(target, size, timeoutMs) {
  const started = now();
  const message = randomBytes(size);
  let echoed;
  const gotEcho = new Promise((resolve) => {
    echoed = resolve;
  });
  const reader = new FrameReader({
    keepData: size,
    onFrame: (opcode, payload) => {
      if (opcode === OP.BINARY && payload?.equals(message)) echoed();
    },
  });
  let socket;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        ({ socket } = await openWebSocket(target, { reader }));
        socket.write(maskedFrame(OP.BINARY, message));
        await gotEcho;
      })(),
      timeout,
    ]);
    const latencyMs = now() - started;
    socket.end(maskedFrame(OP.CLOSE, Buffer.from([0x03, 0xe8])));
    return latencyMs;
  } finally {
    clearTimeout(timer);
    if (socket) setTimeout(() => socket.destroy(), 200).unref();
  }
}

async function probe(target, params, result) {
  const started = now();
  const probes = await Promise.all(
    Array.from({ length: params.count }, async (_, i) => {
      await sleep(Math.max(0, started + i * params.intervalMs - now()));
      const at = Math.round(now() - started);
      try {
        const latencyMs = await probeOnce(target, params.size, params.timeoutMs);
        return { atMs: at, ok: true, latencyMs: Math.round(latencyMs * 10) / 10 };
      } catch (error) {
        return { atMs: at, ok: false, error: error.code ?? error.message };
      }
    }),
  );
  const latencies = probes.filter((p) => p.ok).map((p) => p.latencyMs);
  result.sent = { probes: params.count };
  result.observed = {
    served: latencies.length,
    failed: probes.length - latencies.length,
    maxLatencyMs: latencies.length ? Math.max(...latencies) : null,
    medianLatencyMs: spread(latencies)?.median ?? null,
    probes,
  };
}

/** Not an attack: a well-behaved client that echoes `inflight` messages at a time for `durationMs`. */
async function warmup(target, params, result) {
  const message = randomBytes(params.size);
  const frame = maskedFrame(OP.BINARY, message);
  let echoes = 0;
  const { socket } = await openWebSocket(target, {
    reader: new FrameReader({
      onFrame: (opcode) => {
        if (opcode !== OP.BINARY) return;
        echoes++;
        if (now() < end) socket.write(frame);
      },
    }),
  });
  const end = now() + params.durationMs;
  for (let i = 0; i < params.inflight; i++) socket.write(frame);
  while (now() < end && !socket.destroyed) await sleep(20);
  result.sent = { messages: echoes + params.inflight };
  result.observed = { echoes };
  socket.end(maskedFrame(OP.CLOSE, Buffer.from([0x03, 0xe8])));
  await sleep(100);
  socket.destroy();
}

const ATTACKS = {
  'ping-flood': (target, params, result) => controlFlood(OP.PING, target, params, result),
  'pong-flood': (target, params, result) => controlFlood(OP.PONG, target, params, result),
  'never-reading-small': neverReading,
  'never-reading-large': neverReading,
  'half-open': halfOpen,
  'reset-storm': resetStorm,
  idle,
  bombs,
  probe,
  warmup,
};

// ------------------------------------------------------------------ main

const children = new Set();

function emit(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

function isLoopback(host) {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function usageError(message) {
  process.stderr.write(`attacker: ${message}\n`);
  process.exit(2);
}

async function main() {
  let job;
  try {
    job = JSON.parse(process.argv[2] ?? '');
  } catch {
    usageError(
      `expected one JSON argument, e.g. '{"attack":"probe","port":9001}'; attacks: ${Object.keys(ATTACKS).join(', ')}`,
    );
  }
  const { attack, host = '127.0.0.1', port, deadlineMs, ...rest } = job;
  if (!Object.hasOwn(ATTACKS, attack)) usageError(`unknown attack ${JSON.stringify(attack)}`);
  if (!isLoopback(host)) usageError(`only loopback targets are attacked, not ${JSON.stringify(host)}`);
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) usageError(`bad port ${JSON.stringify(port)}`);
  const params = { ...DEFAULTS[attack], ...rest };
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'number' && !(value >= 0 && Number.isFinite(value)))
      usageError(`bad ${name}: ${value}`);
  }
  const result =
    attack.endsWith('-flood') || attack.startsWith('never-reading')
      ? floodResult(attack, params)
      : { attack, params, sent: {}, observed: {} };
  const started = now();
  // Whatever the server does, this process ends: the partial result, then exit 3.
  const limit = deadlineMs ?? (params.durationMs ?? params.timeoutMs ?? 0) + (params.drainMs ?? 0) + 30_000;
  const hard = setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    emit({ event: 'result', ...result, elapsedMs: Math.round(now() - started), error: 'hard deadline' });
    process.exit(3);
  }, limit);
  await ATTACKS[attack]({ host, port }, params, result);
  clearTimeout(hard);
  emit({ event: 'result', ...result, elapsedMs: Math.round(now() - started) });
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    for (const child of children) child.kill('SIGKILL');
    emit({ event: 'result', error: error.stack ?? String(error) });
    process.exit(1);
  });
}
