// Broadcast server on the npm `ws` package, with the same contract as examples/broadcast/node.mjs:
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate (`perMessageDeflate: true`)
// Every message received on any connection goes to all other open connections, the way ws's
// README broadcasts (a loop over `server.clients`; ws has no topics). Prints "listening on <port>"
// when ready; exits cleanly on SIGTERM/SIGINT.
import { WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';

const server = new WebSocketServer({ port, perMessageDeflate: deflate, maxPayload: 64 * 1024 * 1024 });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of server.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
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
