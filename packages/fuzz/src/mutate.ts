/**
 * Generic byte-level mutations in the style of AFL's "havoc" stage: a few random
 * edits stacked on one corpus entry, sometimes crossed with another entry, plus the
 * target's dictionary and its own structure-aware mutation.
 */
import type { Random } from './random.ts';
import type { FuzzTarget } from './target.ts';

/** Byte values at the edges of the formats: lengths 125–127, CR/LF, SP/HTAB, sign bits. */
const INTERESTING_BYTES = [
  0, 1, 2, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x3d, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0xc0, 0xff,
];
/** 16-bit lengths at the edges of the 7/16/64-bit payload length encodings. */
const INTERESTING_U16 = [0, 1, 125, 126, 127, 128, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff];

export class Mutator {
  constructor(
    private readonly target: FuzzTarget,
    private readonly random: Random,
  ) {}

  /** A mutated copy of `input`; `other` is another corpus entry to cross with. */
  mutate(input: Uint8Array, other: Uint8Array): Uint8Array {
    const random = this.random;
    let data = input;
    // Mostly one or two edits: big jumps rarely keep a structured input meaningful.
    const edits = 1 + (random.chance(0.5) ? 0 : random.below(random.chance(0.5) ? 4 : 16));
    for (let i = 0; i < edits; i++) data = this.edit(data, other);
    if (data.length > this.target.maxLength) data = data.subarray(0, this.target.maxLength);
    return data === input ? Uint8Array.from(input) : data;
  }

  private edit(data: Uint8Array, other: Uint8Array): Uint8Array {
    const random = this.random;
    const target = this.target;
    switch (random.below(14)) {
      case 0:
        return withByte(data, random.below(data.length), (b) => b ^ (1 << random.below(8)));
      case 1:
        return withByte(data, random.below(data.length), () => random.next() & 0xff);
      case 2:
        return withByte(data, random.below(data.length), () => random.pick(INTERESTING_BYTES));
      case 3:
        return withByte(data, random.below(data.length), (b) => b + random.below(9) - 4);
      case 4: {
        if (data.length < 2) return data;
        const at = random.below(data.length - 1);
        const value = random.pick(INTERESTING_U16);
        const out = Uint8Array.from(data);
        out[at] = value >>> 8;
        out[at + 1] = value & 0xff;
        return out;
      }
      case 5:
        return insert(data, random.below(data.length + 1), random.bytes(1 + random.below(8)));
      case 6: {
        if (data.length === 0) return data;
        const at = random.below(data.length);
        const count = 1 + random.below(Math.min(data.length - at, random.chance(0.8) ? 8 : 256));
        return remove(data, at, count);
      }
      case 7: {
        // Duplicate a range: repeated header lines, repeated frames.
        if (data.length === 0) return data;
        const at = random.below(data.length);
        const count = 1 + random.below(Math.min(data.length - at, 256));
        return insert(data, random.below(data.length + 1), data.slice(at, at + count));
      }
      case 8: {
        if (data.length < 2) return data;
        const from = random.below(data.length);
        const to = random.below(data.length);
        const count = 1 + random.below(Math.min(data.length - from, data.length - to, 64));
        const out = Uint8Array.from(data);
        out.copyWithin(to, from, from + count);
        return out;
      }
      case 9:
      case 10: {
        if (target.dictionary.length === 0) return data;
        const word = random.pick(target.dictionary);
        if (random.chance(0.5)) return insert(data, random.below(data.length + 1), word);
        const at = random.below(data.length + 1);
        const out = new Uint8Array(Math.max(data.length, at + word.length));
        out.set(data);
        out.set(word, at);
        return out;
      }
      case 11: {
        // Crossover: the head of one input with the tail of another.
        const cut = random.below(data.length + 1);
        const otherCut = random.below(other.length + 1);
        const out = new Uint8Array(cut + other.length - otherCut);
        out.set(data.subarray(0, cut));
        out.set(other.subarray(otherCut), cut);
        return out;
      }
      case 12:
        // The configuration and chunking bytes of the stream targets.
        return withByte(data, random.below(Math.min(2, data.length)), () => random.next() & 0xff);
      default:
        return target.mutate ? target.mutate(data, random) : data;
    }
  }
}

function withByte(data: Uint8Array, at: number, change: (byte: number) => number): Uint8Array {
  if (data.length === 0) return Uint8Array.of(change(0) & 0xff);
  const out = Uint8Array.from(data);
  out[at] = change(out[at]!) & 0xff;
  return out;
}

export function insert(data: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + bytes.length);
  out.set(data.subarray(0, at));
  out.set(bytes, at);
  out.set(data.subarray(at), at + bytes.length);
  return out;
}

export function remove(data: Uint8Array, at: number, count: number): Uint8Array {
  const out = new Uint8Array(data.length - count);
  out.set(data.subarray(0, at));
  out.set(data.subarray(at + count), at);
  return out;
}

/** The default stretch: repeat one slice of the input in place until it is about `size` bytes. */
export function repeatSlice(input: Uint8Array, size: number, random: Random, keepPrefix = 0): Uint8Array {
  if (input.length <= keepPrefix) return input;
  const start = keepPrefix + random.below(input.length - keepPrefix);
  const end = start + 1 + random.below(Math.min(input.length - start, 64));
  const slice = input.subarray(start, end);
  const copies = Math.max(1, Math.ceil((size - input.length) / slice.length));
  const out = new Uint8Array(input.length + copies * slice.length);
  out.set(input.subarray(0, end));
  for (let i = 0; i < copies; i++) out.set(slice, end + i * slice.length);
  out.set(input.subarray(end), end + copies * slice.length);
  return out;
}

/**
 * Flips the case of every ASCII letter in one run of letters (a word of a header name,
 * value or token): text protocols compare some names case-insensitively and others
 * not, and one bit flip at the right place in the right seed is a long shot.
 */
export function flipWordCase(input: Uint8Array, random: Random): Uint8Array {
  const isLetter = (byte: number | undefined): boolean =>
    byte !== undefined && ((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a));
  const starts: number[] = [];
  for (let i = 0; i < input.length; i++) if (isLetter(input[i]) && !isLetter(input[i - 1])) starts.push(i);
  if (starts.length === 0) return input;
  const out = Uint8Array.from(input);
  const start = random.pick(starts);
  // The whole word or just its first letter: `Permessage-deflate` as well as `PERMESSAGE`.
  const end = random.chance(0.5) ? start + 1 : input.length;
  for (let i = start; i < end && isLetter(out[i]); i++) out[i]! ^= 0x20;
  return out;
}
