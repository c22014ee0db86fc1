// Broadcast server on Deno's own WebSocket server, `Deno.serve` + `Deno.upgradeWebSocket`, with
// the same contract as examples/broadcast/deno.ts:
//   deno run -A packages/bench/deno-native-broadcast-server.ts
//   PORT  port to listen on (default 9001; 0 picks a free one)
// Deno has no pub/sub: every message received on any connection is sent, by a loop over the open
// sockets, to all the others. No permessage-deflate (Deno.upgradeWebSocket has none). Prints
// "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
const port = Number(Deno.env.get('PORT') ?? 9001);
const sockets = new Set<WebSocket>();

const server = Deno.serve(
  {
    port,
    onListen: ({ port }) => console.log(`listening on ${port}`),
  },
  (request) => {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('WebSocket only\n', { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (event) => {
      for (const other of sockets) {
        if (other !== socket && other.readyState === WebSocket.OPEN) other.send(event.data);
      }
    };
    return response;
  },
);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => Deno.exit(0), 1000);
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);
