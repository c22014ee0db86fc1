/** The WebSocket client on Deno's sockets. */
import {
  type ClientOptions,
  type ClientRuntime,
  type Dialer,
  type DialOptions,
  connect as sessionConnect,
  type WebSocketConnection,
} from '@fullduplex/protocol';
import { zlibDeflateEngine } from '@fullduplex/zlib';
import { DenoConnTransport } from './transport.ts';

/** ALPN: WebSocket upgrades are HTTP/1.1 (RFC 6455; RFC 8441 would be h2). */
const ALPN = ['http/1.1'];

/**
 * Dials TCP with `Deno.connect`, TLS with `Deno.connect` + `Deno.startTls` (so Nagle
 * can be turned off first, and SNI/verification can use `tls.servername`) or, with
 * a client certificate, `Deno.connectTls`. `tls.rejectUnauthorized: false` goes
 * through Deno's `node:tls` (see insecure-tls.ts).
 */
export const denoDialer: Dialer = async (options: DialOptions) => {
  const { host: hostname, port, signal } = options;
  signal?.throwIfAborted();
  if (!options.secure) {
    return new DenoConnTransport(await Deno.connect({ hostname, port, transport: 'tcp', signal }), false);
  }

  const tls = options.tls ?? {};
  if (tls.rejectUnauthorized === false) {
    const { connectInsecureTls } = await import('./insecure-tls.ts');
    return new DenoConnTransport(await connectInsecureTls(options), true);
  }

  // Deno adds these to its root store (Node's `ca` replaces it).
  const caCerts = tls.ca === undefined ? undefined : typeof tls.ca === 'string' ? [tls.ca] : [...tls.ca];
  let conn: Deno.TlsConn;
  if (tls.cert !== undefined || tls.key !== undefined) {
    if (tls.cert === undefined || tls.key === undefined) {
      throw new TypeError('tls.cert and tls.key must be given together');
    }
    if (tls.servername !== undefined && tls.servername !== hostname) {
      // Deno.connectTls verifies (and sends SNI for) the host it dials; Deno.startTls,
      // which takes a separate name, has no client certificate option.
      throw new TypeError(
        'on Deno, tls.servername cannot differ from the host when a client certificate is used',
      );
    }
    conn = await abortable(
      Deno.connectTls({ hostname, port, caCerts, cert: tls.cert, key: tls.key, alpnProtocols: ALPN }),
      signal,
    );
  } else {
    const tcp = await Deno.connect({ hostname, port, transport: 'tcp', signal });
    tcp.setNoDelay(true);
    try {
      conn = await Deno.startTls(tcp, { hostname: tls.servername ?? hostname, caCerts, alpnProtocols: ALPN });
    } catch (error) {
      closeQuietly(tcp);
      throw error;
    }
  }
  // Certificate errors surface here, as a failed dial, rather than on the first read.
  try {
    await abortable(conn.handshake(), signal, () => closeQuietly(conn));
  } catch (error) {
    closeQuietly(conn);
    throw explainTlsError(error);
  }
  return new DenoConnTransport(conn, true);
};

/** Adds a hint to the certificate error Node and Bun users do not expect. */
function explainTlsError(error: unknown): unknown {
  if (error instanceof Error && error.message.includes('CaUsedAsEndEntity')) {
    return new Error(
      `${error.message}: the server presents a CA certificate (basicConstraints CA:TRUE) as its own, ` +
        "which Deno's TLS client refuses even when it is trusted through tls.ca; " +
        'give the server a leaf certificate (CA:FALSE), e.g. openssl req -x509 … -addext basicConstraints=critical,CA:FALSE',
      { cause: error },
    );
  }
  return error;
}

/** Races `promise` against `signal`; a connection resolved after the abort is closed. */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort?: () => void,
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const abort = (): void => {
      aborted = true;
      onAbort?.();
      reject(signal.reason);
    };
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        if (!aborted) resolve(value);
        else if (isClosable(value)) closeQuietly(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        if (!aborted) reject(error);
      },
    );
  });
}

function isClosable(value: unknown): value is { close(): void } {
  return typeof (value as { close?: unknown } | null)?.close === 'function';
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** What the session layer's client needs from Deno: the dialer and node:zlib for permessage-deflate. */
export const denoRuntime: ClientRuntime = { dial: denoDialer, deflateEngine: zlibDeflateEngine };

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
  return sessionConnect<Data>(denoRuntime, url, options, data);
}
