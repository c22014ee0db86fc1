// Broadcast server on @fullduplex/bun: every message received on any connection
// is relayed, through the topics API, to all other connections.
//   bun examples/broadcast/bun.ts
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
import { WebSocketServer } from '@fullduplex/bun';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';

const server = new WebSocketServer({ maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: deflate });
server.on('connection', (ws) => {
  ws.subscribe('all');
  // publish() frames the message once and skips the sender.
  ws.on('message', (data, isBinary) => ws.publish('all', data, { binary: isBinary }));
});
const address = await server.listen(port);
console.log(`listening on ${address.port}`);

const stop = async (): Promise<void> => {
  await server.close({ timeout: 1000 });
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
