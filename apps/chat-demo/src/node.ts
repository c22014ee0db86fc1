/** The chat demo on Node: `node dist/node.js` (PORT, HOST, REDIS_URL). */
import { WebSocketServer } from '@fullduplex/node';
import { runChat } from './app.ts';

await runChat((options) => new WebSocketServer(options), `Node ${process.version}`);
