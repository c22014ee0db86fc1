// An echo server on the npm `ws` package, running on NODE, a peer we did not write, for the Bun
// interop tests:
//   node ws-server.mjs '{"perMessageDeflate": false}'
// Binds 127.0.0.1 on a free port and prints `LISTENING <port>`. Selects `chat.v1` when offered;
// echoes every message with its type; a text `close:<code>:<reason>` makes it close instead. Once a
// connection is closed it prints one JSON line: {"protocol", "extensions", "received", "code",
// "reason", "bytesRead", "bytesWritten"} (binaries summarised as {type, size, sha256}; the byte
// counts are the TCP payload, to see compression on the wire). Exits when stdin ends.
import { createHash } from 'node:crypto';
import { WebSocketServer } from 'ws';

const options = JSON.parse(process.argv[2] ?? '{}');
const SUPPORTED = ['chat.v1'];
const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

const summarise = (data, isBinary) =>
  isBinary
    ? { type: 'binary', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }
    : { type: 'text', data: data.toString('utf8') };

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: options.perMessageDeflate ?? false,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (offered) => [...offered].find((p) => SUPPORTED.includes(p)) ?? false,
});
wss.on('connection', (ws, request) => {
  const socket = request.socket;
  const received = [];
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const message = summarise(data, isBinary);
    received.push(message);
    const match = message.type === 'text' ? CLOSE_COMMAND.exec(message.data) : null;
    if (match) ws.close(Number(match[1]), match[2]);
    else ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    console.log(
      JSON.stringify({
        protocol: ws.protocol || null,
        extensions: ws.extensions || null,
        received,
        code,
        reason: reason.toString('utf8'),
        bytesRead: socket.bytesRead,
        bytesWritten: socket.bytesWritten,
      }),
    );
  });
});
wss.once('listening', () => console.log(`LISTENING ${wss.address().port}`));

process.stdin.resume();
process.stdin.on('end', () => {
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
});
