// Echo server on Bun's native WebSocket server (`Bun.serve` with a `websocket` handler), with the
// same contract as examples/echo/bun.ts, for echo-throughput-bun.mjs:
//   bun packages/bench/bun-native-echo-server.mjs
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate (then every echo is sent compressed)
// Every message goes back verbatim with the same type. Prints "listening on <port>" when ready;
// exits cleanly on SIGTERM/SIGINT.
const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';

const server = Bun.serve({
  port,
  fetch(request, srv) {
    if (srv.upgrade(request)) return undefined;
    return new Response('WebSocket only', { status: 426, headers: { Upgrade: 'websocket' } });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    perMessageDeflate: deflate,
    // A string arrives for text, a Buffer for binary: send() keeps the type.
    message(ws, message) {
      ws.send(message, deflate);
    },
  },
});
console.log(`listening on ${server.port}`);

const stop = async () => {
  await server.stop(true);
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
