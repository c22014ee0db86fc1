// A Deno native WebSocket echo server (Deno.serve + Deno.upgradeWebSocket), a peer we did not
// write, for the Bun interop tests. Run by them as
//   deno run --allow-net=127.0.0.1 deno-server.mjs
// Binds 127.0.0.1 on a free port and prints `LISTENING <port>`. Selects `chat.v1` when offered;
// echoes every message with its type; a text `close:<code>:<reason>` makes it close instead. Once a
// connection is closed it prints one JSON line: {"protocol", "extensions", "received", "code",
// "reason", "wasClean"} (binaries summarised as {type, size, sha256}; `protocol` is the one it
// selected: Deno leaves a server-side socket's `protocol` empty). Exits when stdin ends.
const SUPPORTED = ['chat.v1'];
const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
const summarise = async (data) =>
  typeof data === 'string'
    ? { type: 'text', data }
    : { type: 'binary', size: data.byteLength, sha256: hex(await crypto.subtle.digest('SHA-256', data)) };

const server = Deno.serve(
  {
    hostname: '127.0.0.1',
    port: 0,
    onListen: ({ port }) => console.log(`LISTENING ${port}`),
  },
  (request) => {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('websocket only', { status: 400 });
    }
    const offered = (request.headers.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const protocol = offered.find((p) => SUPPORTED.includes(p));
    const { socket, response } = Deno.upgradeWebSocket(request, protocol ? { protocol } : {});
    socket.binaryType = 'arraybuffer';
    const received = [];
    socket.onmessage = (event) => {
      const data = event.data;
      received.push(summarise(data));
      const match = typeof data === 'string' ? CLOSE_COMMAND.exec(data) : null;
      if (match) socket.close(Number(match[1]), match[2]);
      else socket.send(data);
    };
    socket.onclose = async (event) => {
      console.log(
        JSON.stringify({
          protocol: protocol ?? null,
          extensions: socket.extensions || null,
          received: await Promise.all(received),
          code: event.code,
          reason: event.reason,
          wasClean: event.wasClean,
        }),
      );
    };
    socket.onerror = () => {};
    return response;
  },
);

// Exit when the test closes our stdin (or is gone).
for await (const _ of Deno.stdin.readable) {
  // ignore input
}
await server.shutdown();
Deno.exit(0);
