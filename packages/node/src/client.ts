/** The WebSocket client on Node's sockets. */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  type ClientOptions,
  type ClientRuntime,
  type Dialer,
  type DialOptions,
  connect as sessionConnect,
  type WebSocketConnection,
} from '@fullduplex/protocol';
import { zlibDeflateEngine } from '@fullduplex/zlib';
import { NodeSocketTransport, SOCKET_HIGH_WATER_MARK } from './transport.ts';

/** Socket stream options the typings lack (Node ≥ 18.17 takes them): see transport.ts. */
const SMALL_BUFFERS = { highWaterMark: SOCKET_HIGH_WATER_MARK } as object;

/** Dials TCP or TLS with `node:net` / `node:tls`. */
export const nodeDialer: Dialer = (options: DialOptions) =>
  new Promise((resolve, reject) => {
    const tls = options.tls;
    const socket: Socket = options.secure
      ? tlsConnect({
          host: options.host,
          port: options.port,
          servername: tls?.servername ?? (isIp(options.host) ? undefined : options.host),
          ca: tls?.ca as string | string[] | undefined,
          cert: tls?.cert,
          key: tls?.key,
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
          ALPNProtocols: ['http/1.1'],
          ...SMALL_BUFFERS,
        })
      : netConnect({
          host: options.host,
          port: options.port,
          noDelay: true,
          ...SMALL_BUFFERS,
        });
    const onAbort = (): void => {
      socket.destroy();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    const cleanup = (): void => {
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once(options.secure ? 'secureConnect' : 'connect', () => {
      cleanup();
      resolve(new NodeSocketTransport(socket, options.secure));
    });
  });

/** What the session layer's client needs from Node: the dialer and node:zlib for permessage-deflate. */
export const nodeRuntime: ClientRuntime = { dial: nodeDialer, deflateEngine: zlibDeflateEngine };

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * Opens a WebSocket connection to a `ws:` or `wss:` URL.
 *
 * ```ts
 * const ws = await connect('ws://localhost:9001', { protocols: ['chat'] });
 * ws.send('hello');
 * for await (const message of ws) console.log(message);
 * ```
 */
export function connect<Data = unknown>(
  url: string | URL,
  options?: ClientOptions,
  data?: Data,
): Promise<WebSocketConnection<Data>> {
  return sessionConnect<Data>(nodeRuntime, url, options, data);
}
