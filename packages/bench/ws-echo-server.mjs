// Echo server on the npm `ws` package, with the same contract as examples/echo/node.mjs:
//   PORT                          port to listen on (default 9001; 0 picks a free one)
//   DEFLATE                       1 turns on permessage-deflate (`perMessageDeflate: true`)
//   DEFLATE_NO_CONTEXT_TAKEOVER   1 also imposes server_ and client_no_context_takeover
// Every message goes back verbatim with the same type; no permessage-deflate unless DEFLATE=1
// (ws's server default). Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';
const noContextTakeover = process.env.DEFLATE_NO_CONTEXT_TAKEOVER === '1';

const server = new WebSocketServer({
  port,
  perMessageDeflate:
    deflate && noContextTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : deflate,
  maxPayload: 64 * 1024 * 1024,
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  // ws emits a peer's protocol errors (an oversized message, …) on the socket; unhandled, they end the process.
  ws.on('error', () => {});
});
await new Promise((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
console.log(`listening on ${server.address().port}`);

const stop = () => {
  for (const ws of server.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
