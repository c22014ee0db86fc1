/** The chat demo on Node: `PORT=3000 node dist/node.js`. */
import { startNodeChat } from './node-app.ts';

const port = Number(process.env.PORT ?? 3000);
const chat = await startNodeChat({ port });
console.log(`chat demo on http://localhost:${chat.port}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  chat.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
