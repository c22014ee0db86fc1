/** The chat demo on Bun: `bun src/bun.ts` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/bun';
import { runChat } from './app.ts';

await runChat((options) => new WebSocketServer(options), `Bun ${Bun.version}`);
