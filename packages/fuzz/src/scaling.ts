/**
 * The linear-time check: the same input at 4 KiB and at 64 KiB (its own structure
 * repeated, see `FuzzTarget.stretch`), compared by time per byte. A parser that
 * rescans (the quadratic head parsing of tungstenite CVE-2023-43669, a regex
 * backtracking over spaces as in ws CVE-2021-32640) shows up as a growing cost per byte.
 */
import { repeatSlice } from './mutate.ts';
import { Random } from './random.ts';
import type { FuzzTarget } from './target.ts';

export const SMALL_SIZE = 4096;
export const BIG_SIZE = 65536;

/** The small and the big version of `input`, grown by the same random choices. */
export function stretchPair(
  target: FuzzTarget,
  input: Uint8Array,
  seed: number,
): { small: Uint8Array; big: Uint8Array } {
  const grow = (size: number): Uint8Array => {
    const random = new Random(seed);
    return target.stretch ? target.stretch(input, size, random) : repeatSlice(input, size, random);
  };
  return { small: grow(SMALL_SIZE), big: grow(BIG_SIZE) };
}

/**
 * A description of the slowdown if the big input cost over 8× the time per byte of
 * the small one and took over 250 ms; undefined otherwise. Both conditions, because
 * timings of a few milliseconds on a busy machine are noise.
 */
export function superLinear(
  small: Uint8Array,
  smallMs: number,
  big: Uint8Array,
  bigMs: number,
): string | undefined {
  const ratio = bigMs / big.length / (Math.max(smallMs, 0.01) / small.length);
  if (bigMs <= 250 || ratio <= 8) return undefined;
  return `super-linear: ${big.length} bytes took ${bigMs.toFixed(0)} ms, ${small.length} bytes ${smallMs.toFixed(1)} ms (${ratio.toFixed(0)}× the time per byte)`;
}
