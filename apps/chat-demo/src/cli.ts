/**
 * A terminal client for the chat: `node dist/cli.js --url ws://localhost:3000/ws --nick ada --room lobby`.
 * Prints the room's messages, sends each stdin line; reconnects and resumes from the last id.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect, type WebSocketConnection } from '@fullduplex/node';
import { type ServerMessage, SUBPROTOCOL } from './server/protocol.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://localhost:3000/ws' },
    nick: { type: 'string', default: `cli-${Math.floor(Math.random() * 1000)}` },
    room: { type: 'string', default: 'lobby' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: fullduplex-chat [--url ws://host:port/ws] [--nick NAME] [--room ROOM]');
  process.exit(0);
}
const { url, nick, room } = values as { url: string; nick: string; room: string };

let lastId: number | undefined;
let ws: WebSocketConnection | undefined;
let stopped = false;
const outbox: string[] = [];
/** Who is in the room: id → nick, from `joined` and then `presence` changes. */
let online = new Map<string, string>();

const time = (ts: number): string => new Date(ts).toTimeString().slice(0, 5);

function print(message: ServerMessage): void {
  switch (message.type) {
    case 'welcome':
      console.error(`* connected as ${message.nick}`);
      break;
    case 'joined':
      online = new Map(message.members.map((m) => [m.id, m.nick]));
      console.error(
        `* in #${message.room}: ${[...online.values()].join(', ')}${message.truncated ? ' (some history was lost)' : ''}`,
      );
      break;
    case 'presence': {
      const gone = message.left.map((id) => online.get(id)).filter((nick) => nick !== undefined);
      for (const id of message.left) online.delete(id);
      for (const m of message.joined) online.set(m.id, m.nick);
      const came = message.joined.map((m) => m.nick);
      console.error(
        `* ${[came.length > 0 ? `+${came.join(', +')}` : '', gone.length > 0 ? `-${gone.join(', -')}` : ''].filter(Boolean).join(' ')} (online: ${[...online.values()].join(', ')})`,
      );
      break;
    }
    case 'msg':
    case 'file':
      if (lastId !== undefined && message.id <= lastId) return;
      lastId = message.id;
      console.log(
        message.type === 'msg'
          ? `[${time(message.ts)}] <${message.from.nick}> ${message.text}`
          : `[${time(message.ts)}] <${message.from.nick}> sent ${message.name} (${message.mime}, ${message.size} bytes)`,
      );
      break;
    case 'error':
      console.error(`! ${message.code}: ${message.message}`);
      break;
  }
}

async function run(): Promise<void> {
  let delay = 500;
  while (!stopped) {
    try {
      const conn = await connect(url, { protocols: [SUBPROTOCOL] });
      ws = conn;
      delay = 500;
      conn.send(JSON.stringify({ type: 'hello', nick }));
      conn.send(
        JSON.stringify(lastId === undefined ? { type: 'join', room } : { type: 'join', room, since: lastId }),
      );
      for (const line of outbox.splice(0)) conn.send(line);
      for await (const data of conn) {
        if (typeof data !== 'string') continue; // file bytes: announced above, not shown in a terminal
        print(JSON.parse(data) as ServerMessage);
      }
      ws = undefined;
      const { code, reason } = await conn.closed();
      if (stopped) return;
      console.error(`* disconnected (${code}${reason ? ` ${reason}` : ''}), reconnecting`);
    } catch (error) {
      ws = undefined;
      if (stopped) return;
      console.error(`* cannot connect (${(error as Error).message}), retrying in ${Math.round(delay)} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
    delay = Math.min(delay * 2, 10_000);
  }
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const text = line.trim();
  if (!text) return;
  const frame = JSON.stringify({ type: 'msg', room, text });
  if (ws) ws.send(frame);
  else outbox.push(frame);
});
input.on('close', () => {
  // stdin ended (piped input): let the last sends go out, then leave.
  setTimeout(() => {
    stopped = true;
    ws?.close(1000, 'bye');
  }, 300);
});

await run();
