/**
 * Bun's native WebSocket server (`Bun.serve` with a `websocket` handler) for the Deno interop tests:
 * echoes every message with its type; a text `close:<code>:<reason>` closes instead.
 *
 *   bun test/peers/bun-server.mjs '{"perMessageDeflate":true,"subprotocols":["chat.v1"]}'
 *
 * Binds 127.0.0.1 on a free port and prints `LISTENING <port>`; then, per connection closed, one
 * JSON line `{protocol, offered, received, code, reason}` (`offered`: the client's
 * Sec-WebSocket-Extensions). Exits when stdin ends.
 */
import { CLOSE_COMMAND, summarise } from './common.mjs';

const { perMessageDeflate = false, subprotocols = [] } = JSON.parse(process.argv[2] ?? '{}');

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(request, server) {
    const offered = (request.headers.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const protocol = offered.find((p) => subprotocols.includes(p)) ?? null;
    const data = {
      protocol,
      offered: request.headers.get('sec-websocket-extensions'),
      received: [],
    };
    const headers = protocol ? { 'Sec-WebSocket-Protocol': protocol } : undefined;
    if (server.upgrade(request, { data, headers })) return undefined;
    return new Response('WebSocket only\n', { status: 426 });
  },
  websocket: {
    perMessageDeflate,
    maxPayloadLength: 64 * 1024 * 1024,
    message(ws, message) {
      const data = typeof message === 'string' ? message : new Uint8Array(message);
      ws.data.received.push(summarise(data));
      const match = typeof message === 'string' ? CLOSE_COMMAND.exec(message) : null;
      if (match) ws.close(Number(match[1]), match[2]);
      else ws.send(message);
    },
    close(ws, code, reason) {
      const { protocol, offered, received } = ws.data;
      console.log(JSON.stringify({ protocol, offered, received, code, reason }));
    },
  },
});
console.log(`LISTENING ${server.port}`);

for await (const _ of Bun.stdin.stream()) {
  // Nothing to read: the test ends stdin to stop us.
}
server.stop(true);
process.exit(0);
