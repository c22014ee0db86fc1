/**
 * How the byte-stream targets read an input: the first byte selects a configuration
 * (side, limits, …), the second how the rest is cut into chunks, the rest is the
 * stream itself. Keeping the configuration inside the input lets mutation explore
 * configurations too, and makes every corpus file replay exactly.
 */

export interface StreamInput {
  readonly config: number;
  readonly chunking: number;
  readonly body: Uint8Array;
}

export function splitInput(input: Uint8Array): StreamInput {
  return { config: input[0] ?? 0, chunking: input[1] ?? 0, body: input.subarray(2) };
}

export function joinInput(config: number, chunking: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 2);
  out[0] = config;
  out[1] = chunking;
  out.set(body, 2);
  return out;
}

/**
 * Chunk sizes covering `length` bytes, derived from the chunking byte:
 * low two bits 0 → one byte per chunk, 1 → fixed size (upper bits + 2),
 * 2 and 3 → pseudo-random sizes 1–64 seeded by the byte. Never a single
 * chunk: the targets always compare a chunked run against a one-chunk run.
 */
export function chunkSizes(chunking: number, length: number): number[] {
  const sizes: number[] = [];
  const mode = chunking & 3;
  let state = chunking * 0x9e3779b1 + 1;
  for (let left = length; left > 0; ) {
    let size: number;
    if (mode === 0) size = 1;
    else if (mode === 1) size = (chunking >>> 2) + 2;
    else {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      size = (state >>> 16) % 64 || 1;
    }
    size = Math.min(size, left);
    sizes.push(size);
    left -= size;
  }
  return sizes;
}
