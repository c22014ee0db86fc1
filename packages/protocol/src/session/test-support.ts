/**
 * Test support for the session layer's own tests (not exported by the package): a
 * transport with a kernel the test controls.
 */
import type { Transport } from './transport.ts';

/**
 * A transport whose kernel takes everything at once (`mode: 'take'`) or nothing until
 * the test completes the write (`'hold'`). A held write's bytes are copied only when
 * it completes, as a real socket reads them only when it sends: a buffer reused
 * meanwhile shows up as wrong bytes.
 */
export class FakeTransport implements Transport {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  readonly secure = false;
  mode: 'take' | 'hold' = 'take';
  /** Each write's chunks, as given (views). */
  readonly writes: Uint8Array[][] = [];
  /** The bytes the kernel took, in order. */
  readonly sent: number[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  pauses = 0;
  private held: Uint8Array[] | undefined;

  constructor(readonly vectored: boolean) {}

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.held) throw new Error('write while a write is pending');
    if (this.ended || this.destroyed) return true;
    this.writes.push([...chunks]);
    if (this.mode === 'hold') {
      this.held = [...chunks];
      return false;
    }
    for (const chunk of chunks) this.take(chunk);
    return true;
  }

  /** Completes the pending write; the caller then calls the flow's onDrain. */
  complete(): void {
    for (const chunk of this.held ?? []) this.take(chunk);
    this.held = undefined;
  }

  private take(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) this.sent.push(chunk[i] as number);
  }

  get pending(): boolean {
    return this.held !== undefined;
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  pause(): void {
    this.paused = true;
    this.pauses++;
  }

  resume(): void {
    this.paused = false;
  }
}
