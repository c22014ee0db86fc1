// Echo server on Deno's own WebSocket server, `Deno.serve` + `Deno.upgradeWebSocket`, with the
// same contract as examples/echo/deno.ts:
//   deno run -A packages/bench/deno-native-echo-server.ts
//   PORT  port to listen on (default 9001; 0 picks a free one)
// Every message goes back verbatim with the same type; no permessage-deflate (Deno.upgradeWebSocket
// has none). Binds Deno.serve's default address, 0.0.0.0, like the example (Deno.listen's default).
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
const port = Number(Deno.env.get('PORT') ?? 9001);

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
    socket.onmessage = (event) => socket.send(event.data);
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
