/**
 * A raw TCP client for feeding servers bytes no well-behaved client would send.
 * Uses `node:net`, which Node, Bun and Deno all provide.
 */
import { connect, type Socket } from 'node:net';

/** A TCP connection that records everything it receives. */
export class RawClient {
  private received: Uint8Array[] = [];
  private receivedBytes = 0;
  private waiters: (() => void)[] = [];
  /** Resolves when the server closed the connection (or it errored). */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Uint8Array) => {
      this.received.push(new Uint8Array(chunk));
      this.receivedBytes += chunk.length;
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        this.isClosed = true;
        this.wake();
        resolve();
      };
      socket.on('close', done);
      socket.on('error', () => {});
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Whether the server closed the connection. */
  get ended(): boolean {
    return this.isClosed;
  }

  /** Writes bytes (a string is sent as latin1 — HTTP heads are ASCII). */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? latin1(data) : data;
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes `data` in pieces of 1..maxPiece bytes, each in its own write (and TCP segment when possible). */
  async writeChopped(data: Uint8Array, maxPiece = 7): Promise<void> {
    let at = 0;
    let i = 0;
    while (at < data.length) {
      const size = 1 + ((i++ * 5) % maxPiece);
      await this.write(data.subarray(at, at + size));
      at += size;
    }
  }

  /** Everything received so far, as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.receivedBytes);
    let at = 0;
    for (const chunk of this.received) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  /** Everything received so far as latin1 text. */
  text(): string {
    return String.fromCharCode(...this.bytes());
  }

  /** Waits until `predicate` holds for what was received, or the socket closed, or `timeoutMs`. */
  async waitFor(predicate: (received: Uint8Array) => boolean, timeoutMs = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const bytes = this.bytes();
      if (predicate(bytes)) return bytes;
      if (this.isClosed)
        throw new Error(`connection closed before the expected bytes arrived (got ${bytes.length} bytes)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for bytes (got ${bytes.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until the server closes the connection; returns everything received. */
  async readToEnd(timeoutMs = 5000): Promise<Uint8Array> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.closed,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out waiting for the server to close')), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return this.bytes();
  }

  /** Stops reading from the socket (to build up backpressure on the server). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** A minimal valid upgrade request head. */
export function upgradeRequest(
  path = '/',
  extraHeaders: Record<string, string> = {},
  host = '127.0.0.1',
): string {
  const headers: Record<string, string> = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...extraHeaders,
  };
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

/** Index just past the end of an HTTP head in `bytes`, or -1. */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) return i + 1;
  }
  return -1;
}
