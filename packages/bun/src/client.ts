/** The WebSocket client on Bun's sockets. */

import {
  type ClientOptions,
  type ClientRuntime,
  type Dialer,
  type DialOptions,
  connect as sessionConnect,
  type WebSocketConnection,
} from '@fullduplex/protocol';
import type { TLSOptions } from 'bun';
import { bunDeflateEngine } from './deflate.ts';
import { type BunSocket, BunSocketTransport, socketHandlers } from './transport.ts';

/**
 * Client callbacks: the shared ones plus those that settle the dial. `data` of a
 * dialled socket is its transport from the start (passed to `Bun.connect`).
 */
const clientHandlers = {
  ...socketHandlers,
  open(socket: BunSocket): void {
    const transport = socket.data;
    if (transport.dial === undefined) {
      // Aborted while connecting: the dial was rejected, nobody wants this socket.
      socket.terminate();
      return;
    }
    transport.bind(socket);
    // TLS: wait for `handshake` (the certificate check) before handing it out.
    if (!transport.secure) settle(transport);
  },
  handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void {
    const transport = socket.data;
    if (success) {
      settle(transport);
      return;
    }
    const dial = transport.dial;
    transport.dial = undefined;
    dial?.reject(authorizationError ?? new Error('TLS handshake failed'));
    transport.destroy();
  },
  connectError(socket: BunSocket, error: Error): void {
    const dial = socket.data?.dial;
    if (!dial) return;
    socket.data.dial = undefined;
    dial.reject(error);
  },
};

function settle(transport: BunSocketTransport): void {
  const dial = transport.dial;
  transport.dial = undefined;
  dial?.resolve(transport);
}

/** Dials TCP or TLS with `Bun.connect`; for TLS it resolves once the handshake and certificate check passed. */
export const bunDialer: Dialer = (options: DialOptions) =>
  new Promise((resolve, reject) => {
    const signal = options.signal;
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const transport = new BunSocketTransport(undefined, options.secure);
    const onAbort = (): void => {
      const dial = transport.dial;
      if (!dial) return;
      transport.dial = undefined;
      dial.reject(signal?.reason ?? new Error('aborted'));
      // A socket still connecting is terminated when it opens (see `open`).
      transport.destroy();
    };
    transport.dial = {
      resolve: (value) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      reject: (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const tls = options.tls;
    const failed = (error: unknown): void => {
      // `connectError` normally got there first.
      const dial = transport.dial;
      transport.dial = undefined;
      dial?.reject(error instanceof Error ? error : new Error(String(error)));
    };
    try {
      Bun.connect<BunSocketTransport>({
        hostname: options.host,
        port: options.port,
        data: transport,
        allowHalfOpen: true,
        tls: options.secure
          ? ({
              ca: typeof tls?.ca === 'string' ? tls.ca : tls?.ca ? [...tls.ca] : undefined,
              cert: tls?.cert,
              key: tls?.key,
              rejectUnauthorized: tls?.rejectUnauthorized ?? true,
              // Bun sends the connect address as SNI by default, IP literals included
              // (RFC 6066 forbids them); '' sends none and still checks the certificate
              // against the address.
              serverName: tls?.servername ?? (isIp(options.host) ? '' : options.host),
            } satisfies TLSOptions)
          : undefined,
        socket: clientHandlers,
      }).then(undefined, failed);
    } catch (error) {
      failed(error); // invalid options
    }
  });

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** What the session layer's client needs from Bun: the dialer and node:zlib for permessage-deflate. */
export const bunRuntime: ClientRuntime = { dial: bunDialer, deflateEngine: bunDeflateEngine };

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
  return sessionConnect<Data>(bunRuntime, url, options, data);
}
