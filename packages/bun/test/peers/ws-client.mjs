// A scripted client on the npm `ws` package, running on NODE, a peer we did not write, for the Bun
// interop tests:
//   node ws-client.mjs < '{"url", "protocols", "perMessageDeflate", "script": {send, expect, close}}'
// (the JSON on stdin: messages can be bigger than a command-line argument may be).
// Sends every message of `script.send` right after the handshake; after `script.expect` messages
// closes with `script.close` (or, when null, waits for the server to close). Prints one JSON line:
// {"protocol", "extensions", "received", "closeCode", "closeReason", "error", "bytesRead",
// "bytesWritten"} (binaries summarised as {type, size, sha256}; messages of type `binary_size` are
// the testkit's pattern bytes, (i * 31 + seed) & 255; the byte counts are the TCP payload).
import { createHash } from 'node:crypto';
import { WebSocket } from 'ws';

let input = '';
for await (const chunk of process.stdin.setEncoding('utf8')) input += chunk;
const { url, protocols = [], perMessageDeflate = false, script } = JSON.parse(input);

const pattern = (size, seed) => {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
};
const outgoing = (m) =>
  m.type === 'text'
    ? m.data
    : m.type === 'binary'
      ? Buffer.from(m.base64, 'base64')
      : pattern(m.size, m.seed ?? 0);
const summarise = (data, isBinary) =>
  isBinary
    ? { type: 'binary', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }
    : { type: 'text', data: data.toString('utf8') };

const result = {
  protocol: null,
  extensions: null,
  received: [],
  closeCode: null,
  closeReason: null,
  error: null,
  bytesRead: 0,
  bytesWritten: 0,
};
const ws = new WebSocket(url, protocols, { perMessageDeflate, maxPayload: 64 * 1024 * 1024 });
const timer = setTimeout(() => {
  result.error = 'timed out after 20 s';
  ws.terminate();
}, 20_000);
let closing = false;
const maybeClose = () => {
  if (!script.close || closing || result.received.length < script.expect) return;
  closing = true;
  ws.close(script.close.code, script.close.reason);
};
let socket;
ws.on('upgrade', (response) => {
  socket = response.socket;
});
ws.on('open', () => {
  result.protocol = ws.protocol || null;
  result.extensions = ws.extensions || null;
  for (const m of script.send) ws.send(outgoing(m), { binary: m.type !== 'text' });
  maybeClose();
});
ws.on('message', (data, isBinary) => {
  result.received.push(summarise(data, isBinary));
  maybeClose();
});
ws.on('error', (error) => {
  result.error ??= error.message;
});
ws.on('close', (code, reason) => {
  clearTimeout(timer);
  result.closeCode = code;
  result.closeReason = reason.toString('utf8');
  result.bytesRead = socket?.bytesRead ?? 0;
  result.bytesWritten = socket?.bytesWritten ?? 0;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
});
