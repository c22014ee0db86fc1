import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMask, createMaskKey, maskCopy } from './mask.ts';

/** The definition from RFC 6455 §5.3, byte by byte. */
function naiveMask(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[(offset + i) % 4]!;
  return out;
}

const keyArb = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe('applyMask', () => {
  it('masks "Hello" as in RFC 6455 §5.7', () => {
    const data = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
    expect(Array.from(data)).toEqual([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it('unmasks the RFC 6455 §5.7 example back to "Hello"', () => {
    const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
    expect(String.fromCharCode(...data)).toBe('Hello');
  });

  it('continues the key rotation from the given offset', () => {
    const data = new Uint8Array([0x6c, 0x6f]);
    // "lo" is bytes 3 and 4 of "Hello": keys 0x3d and 0x37.
    applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), 3);
    expect(Array.from(data)).toEqual([0x51, 0x58]);
  });

  it('handles huge offsets without losing the rotation', () => {
    const key = new Uint8Array([1, 2, 4, 8]);
    const data = new Uint8Array(200);
    applyMask(data, key, 2 ** 52 + 1);
    expect(Array.from(data.subarray(0, 4))).toEqual([2, 4, 8, 1]);
    expect(data[199]).toBe(1);
  });

  it('does nothing to an empty array', () => {
    const data = new Uint8Array(0);
    applyMask(data, new Uint8Array([1, 2, 3, 4]), 1);
    expect(data).toHaveLength(0);
  });

  it('rejects keys that are not 4 bytes', () => {
    expect(() => applyMask(new Uint8Array(8), new Uint8Array(3))).toThrow(RangeError);
    expect(() => applyMask(new Uint8Array(8), new Uint8Array(5))).toThrow(RangeError);
  });

  it('touches only the bytes of the view it is given', () => {
    const backing = new Uint8Array(600).fill(0xaa);
    applyMask(backing.subarray(3, 597), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(Array.from(backing.subarray(0, 3))).toEqual([0xaa, 0xaa, 0xaa]);
    expect(Array.from(backing.subarray(597))).toEqual([0xaa, 0xaa, 0xaa]);
    expect(backing.subarray(3, 597).every((b) => b === 0x55)).toBe(true);
  });

  it('matches the byte-by-byte definition at every alignment, length and offset', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }),
        keyArb,
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        (data, key, alignment, offset) => {
          const backing = new Uint8Array(data.length + 16);
          const view = backing.subarray(alignment, alignment + data.length);
          view.set(data);
          applyMask(view, key, offset);
          expect(Array.from(view)).toEqual(Array.from(naiveMask(data, key, offset)));
          expect(backing.subarray(0, alignment).every((b) => b === 0)).toBe(true);
          expect(backing.subarray(alignment + data.length).every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('masking a payload in arbitrary pieces equals masking it whole', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 1000 }),
        keyArb,
        fc.array(fc.nat(), { maxLength: 6 }),
        (data, key, rawCuts) => {
          const cuts = rawCuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
          const pieces = data.slice();
          let start = 0;
          for (const cut of [...cuts, data.length]) {
            applyMask(pieces.subarray(start, cut), key, start);
            start = cut;
          }
          expect(Array.from(pieces)).toEqual(Array.from(naiveMask(data, key, 0)));
        },
      ),
    );
  });

  it('is its own inverse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), keyArb, fc.nat(), (data, key, offset) => {
        const copy = data.slice();
        applyMask(copy, key, offset);
        applyMask(copy, key, offset);
        expect(Array.from(copy)).toEqual(Array.from(data));
      }),
    );
  });
});

describe('maskCopy', () => {
  it('writes the masked bytes at the destination offset and leaves the source alone', () => {
    const src = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    const dst = new Uint8Array(8);
    maskCopy(src, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), dst, 2);
    expect(Array.from(dst)).toEqual([0, 0, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0]);
    expect(Array.from(src)).toEqual([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('rejects a destination that is too short', () => {
    const key = new Uint8Array(4);
    expect(() => maskCopy(new Uint8Array(5), key, new Uint8Array(6), 2)).toThrow(RangeError);
    expect(() => maskCopy(new Uint8Array(1), key, new Uint8Array(6), -1)).toThrow(RangeError);
  });

  it('matches the definition for random data, offsets and alignments', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }),
        keyArb,
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        (data, key, srcAlign, dstOffset, offset) => {
          const src = new Uint8Array(data.length + 8).subarray(srcAlign, srcAlign + data.length);
          src.set(data);
          const dst = new Uint8Array(data.length + 8);
          maskCopy(src, key, dst, dstOffset, offset);
          expect(Array.from(src)).toEqual(Array.from(data));
          const expected = new Uint8Array(data.length + 8);
          expected.set(naiveMask(data, key, offset), dstOffset);
          expect(Array.from(dst)).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('createMaskKey', () => {
  it('returns a new 4-byte array each time', () => {
    const a = createMaskKey();
    const b = createMaskKey();
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a).toHaveLength(4);
    const bBefore = Array.from(b);
    a.fill(0xee);
    expect(Array.from(b)).toEqual(bBefore);
  });

  it('keeps returned keys stable across pool refills', () => {
    const kept = Array.from({ length: 3000 }, () => createMaskKey());
    const before = kept.map((k) => Array.from(k));
    for (let i = 0; i < 3000; i++) createMaskKey();
    expect(kept.map((k) => Array.from(k))).toEqual(before);
  });

  it('does not expose future keys through the buffer of a returned key', () => {
    const key = createMaskKey();
    const view = new Uint8Array(key.buffer);
    const after = key.byteOffset + 4;
    // Everything after the key in its buffer is still unwritten.
    expect(view.subarray(after).every((b) => b === 0)).toBe(true);
  });

  it('produces keys that look random, including across refills', () => {
    const seen = new Set<number>();
    const count = 5000;
    const byteCounts = new Array<number>(256).fill(0);
    for (let i = 0; i < count; i++) {
      const k = createMaskKey();
      seen.add(((k[0]! << 24) | (k[1]! << 16) | (k[2]! << 8) | k[3]!) >>> 0);
      for (const b of k) byteCounts[b] = byteCounts[b]! + 1;
    }
    // 5000 draws from 2^32 collide with probability ~0.3%; allow a couple.
    expect(seen.size).toBeGreaterThan(count - 3);
    // 20000 bytes over 256 values: each count is ~78 ± 9; a stuck pool would fail this.
    expect(Math.min(...byteCounts)).toBeGreaterThan(20);
    expect(Math.max(...byteCounts)).toBeLessThan(160);
  });
});
