/** The chat demo on Bun: `bun src/bun.ts` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/bun';
import { runChat } from './app.ts';

const stop = await runChat((options) => new WebSocketServer(options), process.env, `Bun ${Bun.version}`);
const exit = (): void => {
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
