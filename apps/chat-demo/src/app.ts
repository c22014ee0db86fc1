/**
 * The whole chat app, runtime-neutral: one WebSocket server serves the page (public/)
 * through `httpHandler` and the chat on `/ws`. The Node, Bun and Deno entries only pass
 * their adapter's `WebSocketServer` and read their environment.
 *
 * Files are read with `node:fs/promises`, which all three runtimes provide.
 */
import { readFile, stat } from 'node:fs/promises';
import process from 'node:process';
import type {
  HttpRequest,
  HttpResponse,
  ServerCloseOptions,
  ServerOptions,
  WebSocketServer,
} from '@fullduplex/protocol';
import {
  type ChatPeer,
  ChatServer,
  type ChatServerOptions,
  MemoryStore,
  type Store,
} from './server/index.ts';

/** `public/` next to `src/` and `dist/`. */
export const PUBLIC_URL = new URL('../public/', import.meta.url);

/** What the app needs of an adapter's server (Node's, Bun's and Deno's all fit). */
export interface ListeningServer
  extends Pick<WebSocketServer<ChatPeer>, 'clients' | 'publish' | 'subscriberCount' | 'on'> {
  listen(port?: number, host?: string): Promise<{ readonly port: number }>;
  close(options?: ServerCloseOptions): Promise<void>;
}

/** Builds the adapter's server from the app's options. */
export type ServerFactory = (options: ServerOptions<ChatPeer>) => ListeningServer;

export interface ChatAppOptions {
  /** Port to listen on; 0 picks a free one. Default 3000. */
  readonly port?: number;
  readonly host?: string;
  /** Where rooms live. Default: a fresh {@link MemoryStore}. */
  readonly store?: Store;
  /** Directory (file URL) of the page. Default: the app's public/. */
  readonly publicUrl?: URL;
  /** Passed to the {@link ChatServer} (rate limit, clock). */
  readonly chat?: Omit<ChatServerOptions, 'store'>;
}

export interface ChatApp {
  readonly port: number;
  readonly url: string;
  readonly store: Store;
  /** Graceful: closes every WebSocket with 1001, stops listening; the store stays open. */
  close(): Promise<void>;
  /** Abrupt, like a crash: drops every socket without a closing handshake. */
  kill(): Promise<void>;
}

/** Starts the chat on `createServer`'s runtime. */
export async function startChat(createServer: ServerFactory, options: ChatAppOptions = {}): Promise<ChatApp> {
  const store = options.store ?? new MemoryStore();
  const chat = new ChatServer({ ...options.chat, store });
  const publicUrl = options.publicUrl ?? PUBLIC_URL;
  const server = createServer({
    ...chat.serverOptions,
    path: '/ws',
    httpHandler: (request) => serveStatic(publicUrl, request),
  });
  server.on('error', (error) => console.error('chat: server error:', error.message));
  chat.attach(server);
  const { port } = await server.listen(options.port ?? 3000, options.host);
  return {
    port,
    url: `http://localhost:${port}`,
    store,
    async close() {
      chat.close();
      await server.close({ timeout: 2000 });
    },
    async kill() {
      chat.close();
      for (const ws of server.clients) ws.terminate();
      await server.close({ timeout: 0 });
    },
  };
}

/** The store `REDIS_URL` asks for: Redis when set (the client is loaded only then), memory otherwise. */
export async function storeFromEnv(redisUrl: string | undefined): Promise<Store> {
  if (!redisUrl) return new MemoryStore();
  const { createRedisStore } = await import('./server/redis-store.ts');
  return createRedisStore(redisUrl);
}

/**
 * Runs the app as a program: store from `REDIS_URL`, listens on `PORT` (default 3000)
 * and `HOST`, prints `chat demo on http://localhost:<port>`; on SIGTERM or SIGINT
 * closes every connection with 1001, closes the store and exits 0.
 * `node:process` gives the environment and signals the same way on all three runtimes.
 */
export async function runChat(createServer: ServerFactory, runtime: string): Promise<ChatApp> {
  const redisUrl = process.env.REDIS_URL || undefined;
  const store = await storeFromEnv(redisUrl);
  const app = await startChat(createServer, {
    port: Number(process.env.PORT || 3000),
    host: process.env.HOST || undefined,
    store,
  });
  console.log(`chat demo on http://localhost:${app.port}`);
  console.log(`(${runtime}, ${redisUrl ? `Redis store at ${redactUrl(redisUrl)}` : 'in-memory store'})`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    app
      .close()
      .finally(() => store.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return app;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json',
};

/** Serves files under `root` (GET and HEAD only); never outside it. */
export async function serveStatic(root: URL, request: HttpRequest): Promise<HttpResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return { status: 405, headers: { Allow: 'GET, HEAD' } };
  }
  let path: string;
  try {
    path = decodeURIComponent(request.path);
  } catch {
    return { status: 400, body: 'bad path\n' };
  }
  if (path.endsWith('/')) path += 'index.html';
  // Only plain names: no dot segments, backslashes or NULs can climb out of root.
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) {
    return { status: 404, body: 'not found\n' };
  }
  const file = new URL(segments.map(encodeURIComponent).join('/'), root);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return { status: 404, body: 'not found\n' };
  const body = new Uint8Array(await readFile(file));
  const extension = segments.at(-1)?.split('.').pop() ?? '';
  return {
    status: 200,
    headers: {
      'Content-Type': TYPES[extension] ?? 'application/octet-stream',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    },
    body,
  };
}
