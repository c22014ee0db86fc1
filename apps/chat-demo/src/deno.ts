/** The chat demo on Deno: `deno run --allow-net --allow-read --allow-env src/deno.ts` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/deno';
import { runChat } from './app.ts';

await runChat((options) => new WebSocketServer(options), `Deno ${Deno.version.deno}`);
