/**
 * Small tools for an adapter's own transport tests (the part of a fork the shared
 * suites cannot see): a recording TransportHandler and a polling wait.
 */
import type { TransportHandler } from '@fullduplex/protocol';

/** A TransportHandler that records what the transport reports. */
export interface TransportRecorder {
  readonly handler: TransportHandler;
  /** `drain`, `end`, `close` or `close:<error message>`, in order. */
  readonly events: string[];
  /** Chunks passed to onData, as given. */
  readonly data: Uint8Array[];
  /** Their total length. */
  readonly dataBytes: number;
}

export function recordTransport(): TransportRecorder {
  const events: string[] = [];
  const data: Uint8Array[] = [];
  let dataBytes = 0;
  const handler: TransportHandler = {
    onData(chunk) {
      data.push(chunk);
      dataBytes += chunk.length;
    },
    onDrain() {
      events.push('drain');
    },
    onEnd() {
      events.push('end');
    },
    onClose(error) {
      events.push(error ? `close:${error.message}` : 'close');
    },
  };
  return {
    handler,
    events,
    data,
    get dataBytes() {
      return dataBytes;
    },
  };
}

/** Polls `predicate` every few milliseconds; throws `timed out: <what>` after `ms`. */
export async function until(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
