import { connect, type WebSocketConnection } from '@fullduplex/node';
import { SUBPROTOCOL } from '../src/server/protocol.ts';

// biome-ignore lint/suspicious/noExplicitAny: test messages are inspected loosely
export type Json = any;

/** A test client: records every JSON message (file messages get their bytes attached). */
export class Client {
  readonly messages: Json[] = [];
  private pendingFile: Json;
  private waiters: (() => void)[] = [];
  closeInfo: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocketConnection) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        if (this.pendingFile) this.pendingFile.bytes = Uint8Array.from(data as Uint8Array);
        this.pendingFile = undefined;
      } else {
        const message = JSON.parse(data as string);
        if (message.type === 'file') this.pendingFile = message;
        this.messages.push(message);
      }
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason };
      this.wake();
    });
  }

  static async open(url: string, nick?: string, protocols: string[] = [SUBPROTOCOL]): Promise<Client> {
    const client = new Client(await connect(url, { protocols }));
    if (nick) {
      client.send({ type: 'hello', nick });
      await client.next((m) => m.type === 'welcome');
    }
    return client;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(message: Json): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves with the first recorded message matching `predicate` (waits for it). */
  async next(predicate: (m: Json) => boolean, timeout = 10_000): Promise<Json> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = this.messages.find((m) => predicate(m) && (m.type !== 'file' || m.bytes));
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`timed out; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async closed(timeout = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeout;
    while (!this.closeInfo) {
      if (Date.now() > deadline) throw new Error('not closed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.closeInfo;
  }

  chat(room?: string): Json[] {
    return this.messages.filter((m) => (m.type === 'msg' || m.type === 'file') && (!room || m.room === room));
  }
}
