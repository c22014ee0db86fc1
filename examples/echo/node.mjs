// Echo server on @fullduplex/node: every message goes back verbatim, same type.
//   PORT     port to listen on (default 9001)
//   DEFLATE  1 turns on permessage-deflate
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
import { WebSocketServer } from '@fullduplex/node';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';

const server = new WebSocketServer({ maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: deflate });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
const address = await server.listen(port);
console.log(`listening on ${address.port}`);

const stop = async () => {
  await server.close({ timeout: 1000 });
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
