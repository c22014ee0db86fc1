// Broadcast server on Bun's native WebSocket server (`Bun.serve` with a `websocket` handler and
// its pub/sub), with the same contract as examples/broadcast/bun.ts:
//   bun packages/bench/bun-native-broadcast-server.mjs
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate
// Every connection subscribes to one topic; a message received on any connection is published to
// it with `ws.publish`, which, like ours, skips the sender (`server.publish` would include it).
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
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
    open(ws) {
      ws.subscribe('all');
    },
    // A string arrives for text, a Buffer for binary: publish() keeps the type.
    message(ws, message) {
      ws.publish('all', message, deflate);
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
