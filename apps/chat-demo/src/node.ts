/** The chat demo on Node: `node dist/node.js` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/node';
import { runChat } from './app.ts';

const stop = await runChat((options) => new WebSocketServer(options), process.env, `Node ${process.version}`);
const exit = (): void => {
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
