/**
 * `rejectUnauthorized: false` on Deno.
 *
 * `Deno.connectTls`/`Deno.startTls` always verify the certificate chain (only
 * hostname verification can be turned off), and `--unsafely-ignore-certificate-errors`
 * is a process-wide CLI flag. Deno's built-in `node:tls` does honour
 * `rejectUnauthorized: false` per connection, so this one case dials with it and
 * presents the socket as a {@link DenoConnLike}. Loaded lazily: verifying
 * connections never touch the Node compatibility layer.
 */
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { DialOptions } from '@fullduplex/protocol';
import type { DenoConnLike } from './transport.ts';

/** Dials TLS without verifying the server's certificate. */
export function connectInsecureTls(options: DialOptions): Promise<DenoConnLike> {
  return new Promise((resolve, reject) => {
    const tls = options.tls;
    const socket = tlsConnect({
      host: options.host,
      port: options.port,
      servername: tls?.servername ?? (isIp(options.host) ? undefined : options.host),
      cert: tls?.cert,
      key: tls?.key,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const cleanup = (): void => {
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      cleanup();
      resolve(new NodeSocketConn(socket));
    });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** Pauses the socket while this much is received but not yet read. */
const MAX_UNREAD = 64 * 1024;

/** A connected `node:tls` socket behind the pull-style `Deno.Conn` read/write API. */
class NodeSocketConn implements DenoConnLike {
  readonly remoteAddr: Deno.NetAddr;
  private chunks: Uint8Array[] = [];
  private unread = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly socket: TLSSocket) {
    this.remoteAddr = {
      transport: 'tcp',
      hostname: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Uint8Array) => {
      this.chunks.push(chunk);
      this.unread += chunk.length;
      if (this.unread > MAX_UNREAD) socket.pause();
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (error: Error) => {
      this.error ??= error;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.chunks.length === 0) {
      if (this.error) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    let n = 0;
    while (n < p.length && this.chunks.length > 0) {
      const chunk = this.chunks[0] as Uint8Array;
      const take = Math.min(chunk.length, p.length - n);
      p.set(take === chunk.length ? chunk : chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.unread -= n;
    if (this.unread <= MAX_UNREAD && this.socket.isPaused()) this.socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(this.error ?? new Error('socket closed'));
        return;
      }
      this.socket.write(p, (error) => (error ? reject(error) : resolve(p.length)));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.end(() => resolve());
    });
  }

  close(): void {
    this.socket.destroy();
    this.ended = true;
    this.notify();
  }
}
