/**
 * A byte stream whose every byte depends on its position, for transport tests that
 * write many chunks and check what arrived: a byte out of place, lost, repeated or
 * overwritten by a reused buffer shows up as a mismatch.
 */

function byteAt(position: number): number {
  return (position ^ (position >>> 8) ^ (position >>> 16)) & 0xff;
}

/** Bytes `offset` .. `offset + size - 1` of the stream. */
export function streamBytes(offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = byteAt(offset + i);
  return out;
}

/** Hands out the stream piece by piece: `next(size)` is the next `size` bytes. */
export class ByteStream {
  /** Bytes handed out so far: the length the receiver must end up with. */
  offset = 0;

  next(size: number): Uint8Array {
    const bytes = streamBytes(this.offset, size);
    this.offset += size;
    return bytes;
  }
}

/**
 * Checks received chunks against the stream from position 0: the number of wrong
 * bytes, or -1 when the total length is not `total`.
 */
export function checkStream(received: readonly Uint8Array[], total: number): number {
  let at = 0;
  let bad = 0;
  for (const chunk of received) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== byteAt(at + i)) bad++;
    at += chunk.length;
  }
  return at === total ? bad : -1;
}
