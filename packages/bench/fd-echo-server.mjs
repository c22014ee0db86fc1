// Echo server on @fullduplex/node: examples/echo/node.mjs plus knobs for the deflate benchmarks.
//   PORT                          port to listen on (default 9001; 0 picks a free one)
//   DEFLATE                       1 turns on permessage-deflate
//   DEFLATE_NO_CONTEXT_TAKEOVER   1 also imposes server_ and client_no_context_takeover
// Every message goes back verbatim with the same type. Prints "listening on <port>" when ready;
// exits cleanly on SIGTERM/SIGINT.
import { WebSocketServer } from '@fullduplex/node';

const port = Number(process.env.PORT ?? 9001);
const deflate = process.env.DEFLATE === '1';
const noContextTakeover = process.env.DEFLATE_NO_CONTEXT_TAKEOVER === '1';

const server = new WebSocketServer({
  maxMessageSize: 64 * 1024 * 1024,
  perMessageDeflate:
    deflate && noContextTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : deflate,
});
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
