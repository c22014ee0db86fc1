/**
 * The chat on Node: one `http` server serves the page (public/) and upgrades `/ws`.
 * Used by the `node.ts` entry and by the tests.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from '@fullduplex/node';
import { type ChatPeer, ChatServer, MemoryStore, type Store } from './server/index.ts';

/** `public/` next to `src/` and `dist/`. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export interface NodeChatOptions {
  readonly port?: number;
  readonly host?: string;
  /** Shared by restarts and by several instances (history survives a restart in tests). */
  readonly store?: Store;
  readonly publicDir?: string;
}

export interface NodeChat {
  readonly port: number;
  readonly url: string;
  readonly store: Store;
  /** Graceful: closes every WebSocket with 1001, stops listening. */
  close(): Promise<void>;
  /** Abrupt, like a crash: drops every socket without a closing handshake. */
  kill(): Promise<void>;
}

export async function startNodeChat(options: NodeChatOptions = {}): Promise<NodeChat> {
  const store = options.store ?? new MemoryStore();
  const publicDir = options.publicDir ?? PUBLIC_DIR;
  const http: Server = createServer((req, res) => {
    serveStatic(publicDir, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const chat = new ChatServer({ store });
  const wss = new WebSocketServer<ChatPeer>({ ...chat.serverOptions, server: http, path: '/ws' });
  wss.on('error', (error) => console.error('ws:', error.message));
  chat.attach(wss);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const stopHttp = (): Promise<void> =>
    new Promise((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  return {
    port,
    url: `http://localhost:${port}`,
    store,
    async close() {
      chat.close();
      const httpClosed = stopHttp();
      await wss.close({ timeout: 2000 });
      await httpClosed;
    },
    async kill() {
      chat.close();
      for (const ws of wss.clients) ws.terminate();
      const httpClosed = stopHttp();
      await wss.close({ timeout: 0 });
      await httpClosed;
    },
  };
}

async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(root, path));
  if (!file.startsWith(normalize(root + sep)) || path.includes('\0')) {
    res.writeHead(404).end();
    return;
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': body.byteLength,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
