// Broadcast server on @fullduplex/deno: every message received on any connection
// is relayed, through the topics API, to all other connections.
//   deno run -A examples/broadcast/deno.ts
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
//
// Imported from the package's TypeScript source (see examples/echo/deno.ts).
import { WebSocketServer } from '../../packages/deno/src/index.ts';

const port = Number(Deno.env.get('PORT') ?? 9001);
const deflate = Deno.env.get('DEFLATE') === '1';

const server = new WebSocketServer({ maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: deflate });
server.on('connection', (ws) => {
  ws.subscribe('all');
  // publish() frames the message once and skips the sender.
  ws.on('message', (data, isBinary) => ws.publish('all', data, { binary: isBinary }));
});
const address = await server.listen(port);
console.log(`listening on ${address.port}`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await server.close({ timeout: 1000 });
  Deno.exit(0);
};
Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);
