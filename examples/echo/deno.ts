// Echo server on @fullduplex/deno: every message goes back verbatim, same type.
//   deno run -A examples/echo/deno.ts
//   PORT     port to listen on (default 9001; 0 picks a free one)
//   DEFLATE  1 turns on permessage-deflate
// Prints "listening on <port>" when ready; exits cleanly on SIGTERM/SIGINT.
//
// Imported from the package's TypeScript source, which Deno runs as is: no deno.json, no
// `--config` and no build of @fullduplex/deno needed (its dependencies, @fullduplex/protocol
// and @fullduplex/zlib, resolve through packages/deno/node_modules to their builds).
import { WebSocketServer } from '../../packages/deno/src/index.ts';

const port = Number(Deno.env.get('PORT') ?? 9001);
const deflate = Deno.env.get('DEFLATE') === '1';

const server = new WebSocketServer({ maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: deflate });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
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
