import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Validator } from './utf8.ts';

// WHATWG encoding APIs, typed locally because the package compiles without DOM types.
interface Decoder {
  decode(input?: Uint8Array, options?: { stream: boolean }): string;
}
interface Encoder {
  encode(input: string): Uint8Array;
}
const encoding = globalThis as unknown as {
  TextDecoder: new (label: string, options: { fatal: boolean }) => Decoder;
  TextEncoder: new () => Encoder;
};
const encoder = new encoding.TextEncoder();
const fatalDecoder = new encoding.TextDecoder('utf-8', { fatal: true });

/** The oracle: the platform's fatal WHATWG UTF-8 decoder. */
function oracleValid(bytes: Uint8Array): boolean {
  try {
    fatalDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Index of the first byte the streaming WHATWG decoder rejects, or -1. */
function oracleFailIndex(bytes: Uint8Array): number {
  const decoder = new encoding.TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return -1;
}

/** Index of the first byte at which pushing one byte at a time returns false, or -1. */
function failIndex(bytes: Uint8Array): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) {
    if (!v.push(bytes.subarray(i, i + 1))) return i;
  }
  return -1;
}

function validatePieces(pieces: readonly Uint8Array[]): boolean {
  const v = new Utf8Validator();
  for (const piece of pieces) {
    if (!v.push(piece)) return false;
  }
  return v.end();
}

function splitAt(bytes: Uint8Array, rawCuts: readonly number[]): Uint8Array[] {
  const cuts = rawCuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Copies `data` into a larger buffer at byte offset `alignment`, to vary alignment. */
function atAlignment(data: Uint8Array, alignment: number): Uint8Array {
  const view = new Uint8Array(data.length + 8).subarray(alignment, alignment + data.length);
  view.set(data);
  return view;
}

// Markus Kuhn's "UTF-8 decoder capability and stress test", section by section.
const stressCases: ReadonlyArray<readonly [string, number[], boolean]> = [
  ['1 κόσμε', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5], true],
  ['2.1.1 U+0000', [0x00], true],
  ['2.1.2 U+0080', [0xc2, 0x80], true],
  ['2.1.3 U+0800', [0xe0, 0xa0, 0x80], true],
  ['2.1.4 U+10000', [0xf0, 0x90, 0x80, 0x80], true],
  ['2.1.5 first 5-byte sequence', [0xf8, 0x88, 0x80, 0x80, 0x80], false],
  ['2.1.6 first 6-byte sequence', [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], false],
  ['2.2.1 U+007F', [0x7f], true],
  ['2.2.2 U+07FF', [0xdf, 0xbf], true],
  ['2.2.3 U+FFFF', [0xef, 0xbf, 0xbf], true],
  ['2.2.4 U+1FFFFF', [0xf7, 0xbf, 0xbf, 0xbf], false],
  ['2.2.5 last 5-byte sequence', [0xfb, 0xbf, 0xbf, 0xbf, 0xbf], false],
  ['2.2.6 last 6-byte sequence', [0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf], false],
  ['2.3.1 U+D7FF', [0xed, 0x9f, 0xbf], true],
  ['2.3.2 U+E000', [0xee, 0x80, 0x80], true],
  ['2.3.3 U+FFFD', [0xef, 0xbf, 0xbd], true],
  ['2.3.4 U+10FFFF', [0xf4, 0x8f, 0xbf, 0xbf], true],
  ['2.3.5 U+110000', [0xf4, 0x90, 0x80, 0x80], false],
  ['3.1.1 first continuation byte', [0x80], false],
  ['3.1.2 last continuation byte', [0xbf], false],
  ['3.1.3 2 continuation bytes', [0x80, 0xbf], false],
  ['3.1.4 3 continuation bytes', [0x80, 0xbf, 0x80], false],
  ['3.1.8 7 continuation bytes', [0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf, 0x80], false],
  ['3.2.1 lonely 2-byte start', [0xc2, 0x20], false],
  ['3.2.2 lonely 3-byte start', [0xe1, 0x20], false],
  ['3.2.3 lonely 4-byte start', [0xf1, 0x20], false],
  ['3.2.4 lonely 5-byte start', [0xf8, 0x20], false],
  ['3.2.5 lonely 6-byte start', [0xfc, 0x20], false],
  ['3.3.1 2-byte U+0000 missing last byte', [0xc0], false],
  ['3.3.2 3-byte U+0000 missing last byte', [0xe0, 0x80], false],
  ['3.3.3 4-byte U+0000 missing last byte', [0xf0, 0x80, 0x80], false],
  ['3.3.6 U+07FF missing last byte', [0xdf], false],
  ['3.3.7 U+FFFF missing last byte', [0xef, 0xbf], false],
  ['3.3.8 U+10FFFF missing last byte', [0xf4, 0x8f, 0xbf], false],
  [
    '3.4 all incomplete sequences concatenated',
    [0xc0, 0xe0, 0x80, 0xf0, 0x80, 0x80, 0xdf, 0xef, 0xbf],
    false,
  ],
  ['3.5.1 FE', [0xfe], false],
  ['3.5.2 FF', [0xff], false],
  ['3.5.3 FE FE FF FF', [0xfe, 0xfe, 0xff, 0xff], false],
  ['4.1.1 overlong "/" in 2 bytes', [0xc0, 0xaf], false],
  ['4.1.2 overlong "/" in 3 bytes', [0xe0, 0x80, 0xaf], false],
  ['4.1.3 overlong "/" in 4 bytes', [0xf0, 0x80, 0x80, 0xaf], false],
  ['4.1.4 overlong "/" in 5 bytes', [0xf8, 0x80, 0x80, 0x80, 0xaf], false],
  ['4.1.5 overlong "/" in 6 bytes', [0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf], false],
  ['4.2.1 largest 2-byte overlong', [0xc1, 0xbf], false],
  ['4.2.2 largest 3-byte overlong', [0xe0, 0x9f, 0xbf], false],
  ['4.2.3 largest 4-byte overlong', [0xf0, 0x8f, 0xbf, 0xbf], false],
  ['4.3.1 overlong NUL in 2 bytes', [0xc0, 0x80], false],
  ['4.3.2 overlong NUL in 3 bytes', [0xe0, 0x80, 0x80], false],
  ['4.3.3 overlong NUL in 4 bytes', [0xf0, 0x80, 0x80, 0x80], false],
  ['5.1.1 U+D800', [0xed, 0xa0, 0x80], false],
  ['5.1.2 U+DB7F', [0xed, 0xad, 0xbf], false],
  ['5.1.3 U+DB80', [0xed, 0xae, 0x80], false],
  ['5.1.4 U+DBFF', [0xed, 0xaf, 0xbf], false],
  ['5.1.5 U+DC00', [0xed, 0xb0, 0x80], false],
  ['5.1.6 U+DF80', [0xed, 0xbe, 0x80], false],
  ['5.1.7 U+DFFF', [0xed, 0xbf, 0xbf], false],
  ['5.2.1 U+D800 U+DC00', [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], false],
  ['5.2.8 U+DBFF U+DFFF', [0xed, 0xaf, 0xbf, 0xed, 0xbf, 0xbf], false],
  ['5.3.1 U+FFFE (noncharacters are valid UTF-8)', [0xef, 0xbf, 0xbe], true],
  ['5.3.2 U+FFFF', [0xef, 0xbf, 0xbf], true],
  ['5.3.3 U+FDD0', [0xef, 0xb7, 0x90], true],
];

describe('UTF-8 decoder stress test (Markus Kuhn)', () => {
  it('gives the expected verdict on every case, whole and embedded in long text', () => {
    const padding = encoder.encode('a'.repeat(70));
    for (const [name, values, valid] of stressCases) {
      const data = Uint8Array.from(values);
      expect([name, isValidUtf8(data)]).toEqual([name, valid]);
      expect([name, validatePieces([data])]).toEqual([name, valid]);
      expect([name, oracleValid(data)]).toEqual([name, valid]);
      // Long enough to go through the word-at-a-time paths, at every alignment.
      const long = new Uint8Array(padding.length * 2 + data.length);
      long.set(padding);
      long.set(data, padding.length);
      long.set(padding, padding.length + data.length);
      for (let alignment = 0; alignment < 8; alignment++) {
        expect([name, alignment, isValidUtf8(atAlignment(long, alignment))]).toEqual([
          name,
          alignment,
          valid,
        ]);
      }
    }
  });

  it('gives the same verdict for every case fed one byte at a time', () => {
    for (const [name, values, valid] of stressCases) {
      const data = Uint8Array.from(values);
      const pieces = Array.from(data, (b) => bytes(b));
      expect([name, validatePieces(pieces)]).toEqual([name, valid]);
    }
  });

  it('rejects every lonely start byte followed by a space', () => {
    for (let lead = 0xc0; lead <= 0xff; lead++) {
      expect([lead, isValidUtf8(bytes(lead, 0x20))]).toEqual([lead, false]);
    }
  });

  it('rejects every continuation byte on its own', () => {
    for (let b = 0x80; b <= 0xbf; b++) {
      expect([b, isValidUtf8(bytes(0x41, b, 0x41))]).toEqual([b, false]);
    }
  });
});

describe('fail-fast position', () => {
  const cases: ReadonlyArray<readonly [string, number[], number]> = [
    ['F4 90 (beyond U+10FFFF)', [0xf4, 0x90, 0x80, 0x80], 1],
    ['ED A0 (surrogate)', [0xed, 0xa0, 0x80], 1],
    ['E0 80 (overlong)', [0xe0, 0x80, 0x80], 1],
    ['E0 9F (overlong)', [0xe0, 0x9f, 0xbf], 1],
    ['F0 8F (overlong)', [0xf0, 0x8f, 0xbf, 0xbf], 1],
    ['C0', [0xc0, 0x80], 0],
    ['C1', [0xc1, 0xbf], 0],
    ['F5', [0xf5, 0x80, 0x80, 0x80], 0],
    ['F8', [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
    ['FF', [0xff], 0],
    ['stray continuation', [0x41, 0x80], 1],
    ['2-byte sequence cut by ASCII', [0xc2, 0x41], 1],
    ['3-byte sequence cut by ASCII', [0xe1, 0x80, 0x41], 2],
    ['4-byte sequence cut by ASCII', [0xf1, 0x80, 0x80, 0x41], 3],
    ['4-byte sequence cut by a new lead', [0xf1, 0x80, 0x80, 0xc2], 3],
    ['surrogate after text', [0x41, 0x42, 0xed, 0xa0, 0x80], 3],
  ];

  it('fails at the first impossible byte when fed byte by byte', () => {
    for (const [name, values, index] of cases) {
      expect([name, failIndex(Uint8Array.from(values))]).toEqual([name, index]);
      expect([name, oracleFailIndex(Uint8Array.from(values))]).toEqual([name, index]);
    }
  });

  it('accepts the valid prefix as one piece and rejects the piece holding the bad byte', () => {
    const padding = encoder.encode('x'.repeat(100));
    for (const [name, values, index] of cases) {
      const data = new Uint8Array(padding.length + values.length);
      data.set(padding);
      data.set(values, padding.length);
      const cut = padding.length + index;
      const v = new Utf8Validator();
      expect([name, v.push(data.subarray(0, cut))]).toEqual([name, true]);
      expect([name, v.push(data.subarray(cut, cut + 1))]).toEqual([name, false]);
    }
  });

  it('matches the streaming WHATWG decoder on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (data) => {
        expect(failIndex(data)).toBe(oracleFailIndex(data));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('Utf8Validator', () => {
  it('accepts a character split at each of its bytes', () => {
    // U+1F600 (F0 9F 98 80) between ASCII, split everywhere.
    const data = bytes(0x61, 0xf0, 0x9f, 0x98, 0x80, 0x62);
    for (let a = 0; a <= data.length; a++) {
      for (let b = a; b <= data.length; b++) {
        const pieces = [data.subarray(0, a), data.subarray(a, b), data.subarray(b)];
        expect([a, b, validatePieces(pieces)]).toEqual([a, b, true]);
      }
    }
  });

  it('is sticky after a failure until reset', () => {
    const v = new Utf8Validator();
    expect(v.push(bytes(0xff))).toBe(false);
    expect(v.push(bytes(0x41))).toBe(false);
    expect(v.end()).toBe(false);
    v.reset();
    expect(v.push(bytes(0x41))).toBe(true);
    expect(v.end()).toBe(true);
  });

  it('reports an unfinished character only at the end', () => {
    const v = new Utf8Validator();
    expect(v.push(bytes(0xe2, 0x82))).toBe(true);
    expect(v.end()).toBe(false);
    expect(v.push(bytes(0xac))).toBe(true);
    expect(v.end()).toBe(true);
  });

  it('reset forgets an unfinished character', () => {
    const v = new Utf8Validator();
    expect(v.push(bytes(0xe2))).toBe(true);
    v.reset();
    expect(v.push(bytes(0x82))).toBe(false);
  });

  it('accepts empty pieces and empty input', () => {
    const v = new Utf8Validator();
    expect(v.push(new Uint8Array(0))).toBe(true);
    expect(v.end()).toBe(true);
    expect(isValidUtf8(new Uint8Array(0))).toBe(true);
  });
});

describe('isValidUtf8 against the WHATWG decoder', () => {
  it('agrees on every 1- and 2-byte input', () => {
    const data = new Uint8Array(2);
    let disagreements = 0;
    for (let a = 0; a < 256; a++) {
      if (isValidUtf8(data.subarray(0, 1).fill(a)) !== oracleValid(bytes(a))) disagreements++;
      data[0] = a;
      for (let b = 0; b < 256; b++) {
        data[1] = b;
        if (isValidUtf8(data) !== oracleValid(data)) disagreements++;
      }
    }
    expect(disagreements).toBe(0);
  });

  it('agrees on every 3- and 4-byte sequence with interesting trailing bytes', () => {
    const trail = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff];
    const data3 = new Uint8Array(3);
    const data4 = new Uint8Array(4);
    let disagreements = 0;
    for (let lead = 0xc0; lead < 256; lead++) {
      for (const second of [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0]) {
        for (const third of trail) {
          data3[0] = lead;
          data3[1] = second;
          data3[2] = third;
          if (isValidUtf8(data3) !== oracleValid(data3)) disagreements++;
          if (lead < 0xf0) continue;
          for (const fourth of trail) {
            data4[0] = lead;
            data4[1] = second;
            data4[2] = third;
            data4[3] = fourth;
            if (isValidUtf8(data4) !== oracleValid(data4)) disagreements++;
          }
        }
      }
    }
    expect(disagreements).toBe(0);
  });

  // Bytes around every boundary of Table 3-7, so random arrays often hold near-valid sequences.
  const interestingByte = fc.constantFrom(
    0x00,
    0x41,
    0x7f,
    0x80,
    0x8f,
    0x90,
    0x9f,
    0xa0,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xdf,
    0xe0,
    0xe1,
    0xec,
    0xed,
    0xee,
    0xef,
    0xf0,
    0xf1,
    0xf3,
    0xf4,
    0xf5,
    0xff,
  );
  const nearlyUtf8 = fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }).map((s) => Array.from(encoder.encode(s))),
        fc.array(interestingByte, { maxLength: 4 }),
        fc.constant(new Array<number>(70).fill(0x61)),
      ),
      { maxLength: 12 },
    )
    .map((parts) => Uint8Array.from(parts.flat()));
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), nearlyUtf8);

  it('agrees on arbitrary and nearly valid byte arrays, whole and split at random points', () => {
    fc.assert(
      fc.property(
        anyBytes,
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (data, alignment, cuts) => {
          const expected = oracleValid(data);
          const aligned = atAlignment(data, alignment);
          expect(isValidUtf8(aligned)).toBe(expected);
          expect(validatePieces(splitAt(aligned, cuts))).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts any encoded string, split at random points', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (text, cuts) => {
          const data = encoder.encode(text);
          expect(isValidUtf8(data)).toBe(true);
          expect(validatePieces(splitAt(data, cuts))).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('gives the same verdict for every two-way split as for the whole', () => {
    fc.assert(
      fc.property(nearlyUtf8, (data) => {
        const expected = oracleValid(data);
        for (let cut = 0; cut <= data.length; cut++) {
          expect(validatePieces([data.subarray(0, cut), data.subarray(cut)])).toBe(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
