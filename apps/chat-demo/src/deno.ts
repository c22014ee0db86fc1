/** The chat demo on Deno: `deno run --allow-net --allow-read --allow-env src/deno.ts` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/deno';
import { runChat } from './app.ts';

const stop = await runChat(
  (options) => new WebSocketServer(options),
  Deno.env.toObject(),
  `Deno ${Deno.version.deno}`,
);
const exit = (): void => {
  stop().then(
    () => Deno.exit(0),
    () => Deno.exit(1),
  );
};
Deno.addSignalListener('SIGTERM', exit);
Deno.addSignalListener('SIGINT', exit);
