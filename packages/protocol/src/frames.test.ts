import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloseCode, ProtocolError, type ProtocolErrorCode } from './errors.ts';
import {
  encodeClosePayload,
  encodeFrame,
  encodeFrameBytes,
  encodeFrameHeader,
  FrameParser,
  type FrameParserOptions,
  type FramePiece,
  isControlOpcode,
  isDataOpcode,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  parseClosePayload,
} from './frames.ts';
import { applyMask } from './mask.ts';

// ------------------------------------------------------------------ helpers

/** "81 05 48" → bytes. */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode, closeCode: number): ProtocolError {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(ProtocolError);
  const protocolError = error as ProtocolError;
  expect({ code: protocolError.code, closeCode: protocolError.closeCode }).toEqual({ code, closeCode });
  return protocolError;
}

function parser(side: 'server' | 'client', extra: Partial<FrameParserOptions> = {}): FrameParser {
  return new FrameParser({ side, maxFrameSize: 16 * 1024 * 1024, ...extra });
}

/** Drains every available piece. */
function drain(p: FrameParser): FramePiece[] {
  const pieces: FramePiece[] = [];
  for (let piece = p.next(); piece !== undefined; piece = p.next()) pieces.push(piece);
  return pieces;
}

/** Pushes each chunk (as its own copy) and drains after each. */
function parseChunks(p: FrameParser, chunks: readonly Uint8Array[]): FramePiece[] {
  const pieces: FramePiece[] = [];
  for (const chunk of chunks) {
    p.push(chunk.slice());
    for (const piece of drain(p)) pieces.push(piece);
  }
  return pieces;
}

interface ParsedFrame {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  length: number;
  payload: Uint8Array;
}

/** Reassembles pieces into frames, checking that the pieces of a frame agree. */
function assemble(pieces: readonly FramePiece[]): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let parts: Uint8Array[] = [];
  let open: FramePiece | undefined;
  for (const piece of pieces) {
    if (piece.first) {
      expect(open).toBeUndefined();
      open = piece;
      parts = [];
    }
    expect(open).toBeDefined();
    const head = open as FramePiece;
    expect([piece.opcode, piece.fin, piece.rsv1, piece.rsv2, piece.rsv3, piece.length]).toEqual([
      head.opcode,
      head.fin,
      head.rsv1,
      head.rsv2,
      head.rsv3,
      head.length,
    ]);
    // No empty pieces except for an empty frame.
    if (piece.length !== 0) expect(piece.data.length).toBeGreaterThan(0);
    parts.push(piece.data);
    if (piece.last) {
      const { opcode, fin, rsv1, rsv2, rsv3, length } = head;
      frames.push({ opcode, fin, rsv1, rsv2, rsv3, length, payload: concat(parts) });
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
  return frames;
}

function splitAt(data: Uint8Array, rawCuts: readonly number[]): Uint8Array[] {
  const cuts = rawCuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    if (cut > start) chunks.push(data.subarray(start, cut));
    start = Math.max(start, cut);
  }
  chunks.push(data.subarray(start));
  return chunks;
}

function bytewise(data: Uint8Array): Uint8Array[] {
  return Array.from(data, (_, i) => data.subarray(i, i + 1));
}

const RFC_KEY = hex('37 fa 21 3d');
const HELLO = ascii('Hello');

// ------------------------------------------------------------------ opcodes

describe('opcodes', () => {
  it('has the RFC 6455 values', () => {
    expect(Opcode).toEqual({ CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 });
  });

  it('classifies every opcode', () => {
    const control: number[] = [];
    const data: number[] = [];
    for (let opcode = 0; opcode < 16; opcode++) {
      if (isControlOpcode(opcode)) control.push(opcode);
      if (isDataOpcode(opcode)) data.push(opcode);
    }
    expect(control).toEqual([8, 9, 10]);
    expect(data).toEqual([0, 1, 2]);
    expect(isDataOpcode(1.5)).toBe(false);
    expect(isControlOpcode(8.5)).toBe(false);
  });
});

// ------------------------------------------------------------------ close payloads

describe('isValidCloseCode', () => {
  it('accepts exactly 1000–1003, 1007–1014 and 3000–4999', () => {
    const accepted: number[] = [];
    for (let code = 0; code < 6000; code++) if (isValidCloseCode(code)) accepted.push(code);
    const expected: number[] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
    for (let code = 3000; code <= 4999; code++) expected.push(code);
    expect(accepted).toEqual(expected);
  });

  it('rejects non-integers and specials', () => {
    for (const code of [1000.5, Number.NaN, Number.POSITIVE_INFINITY, -1000, 65536 + 1000]) {
      expect([code, isValidCloseCode(code)]).toEqual([code, false]);
    }
  });
});

describe('parseClosePayload', () => {
  it('reads an empty payload as 1005 with no reason', () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
  });

  it('reads a code alone', () => {
    expect(parseClosePayload(hex('03 e8'))).toEqual({ code: 1000, reason: '' });
    expect(parseClosePayload(hex('13 87'))).toEqual({ code: 4999, reason: '' });
  });

  it('reads a code and a UTF-8 reason, keeping a leading BOM', () => {
    expect(parseClosePayload(hex('03 e9 62 79 65'))).toEqual({ code: 1001, reason: 'bye' });
    expect(parseClosePayload(hex('0b b8 c3 a9 f0 9f 98 80'))).toEqual({ code: 3000, reason: 'é😀' });
    expect(parseClosePayload(hex('03 e8 ef bb bf 41'))).toEqual({ code: 1000, reason: '\ufeffA' });
  });

  it('rejects a 1-byte payload', () => {
    expectProtocolError(() => parseClosePayload(hex('03')), 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002);
  });

  it('rejects a payload over 125 bytes', () => {
    const payload = new Uint8Array(126).fill(0x41);
    payload[0] = 0x03;
    payload[1] = 0xe8;
    expectProtocolError(() => parseClosePayload(payload), 'WS_ERR_CONTROL_FRAME_TOO_LONG', 1002);
  });

  it('rejects every code not allowed on the wire', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      const payload = Uint8Array.of(code >> 8, code & 0xff);
      const error = expectProtocolError(() => parseClosePayload(payload), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
      expect(error.message).toContain(String(code));
    }
  });

  it('rejects a reason that is not UTF-8 with 1007', () => {
    expectProtocolError(() => parseClosePayload(hex('03 e8 ff')), 'WS_ERR_INVALID_UTF8', 1007);
    expectProtocolError(() => parseClosePayload(hex('03 e8 ed a0 80')), 'WS_ERR_INVALID_UTF8', 1007);
    expectProtocolError(() => parseClosePayload(hex('03 e8 41 e2 82')), 'WS_ERR_INVALID_UTF8', 1007);
  });

  it('checks the code before the reason', () => {
    expectProtocolError(() => parseClosePayload(hex('03 ec ff')), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
  });
});

describe('encodeClosePayload', () => {
  it('encodes no code as an empty payload', () => {
    expect(encodeClosePayload()).toHaveLength(0);
    expect(encodeClosePayload(undefined, '')).toHaveLength(0);
  });

  it('encodes the code big-endian followed by the UTF-8 reason', () => {
    expect(Array.from(encodeClosePayload(1000))).toEqual([0x03, 0xe8]);
    expect(Array.from(encodeClosePayload(4999, 'é'))).toEqual([0x13, 0x87, 0xc3, 0xa9]);
    expect(Array.from(encodeClosePayload(1001, 'bye'))).toEqual([0x03, 0xe9, 0x62, 0x79, 0x65]);
  });

  it('sends a lone surrogate as U+FFFD', () => {
    expect(Array.from(encodeClosePayload(1000, '\ud800'))).toEqual([0x03, 0xe8, 0xef, 0xbf, 0xbd]);
  });

  it('accepts every sendable code', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      expect(parseClosePayload(encodeClosePayload(code, 'x'))).toEqual({ code, reason: 'x' });
    }
  });

  it('rejects codes an endpoint may not send', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 1000.5, Number.NaN]) {
      expect(() => encodeClosePayload(code)).toThrow(RangeError);
    }
  });

  it('rejects a code that is not a number and a reason that is not a string', () => {
    expect(() => encodeClosePayload('1000' as unknown as number)).toThrow(TypeError);
    expect(() => encodeClosePayload(1000, 42 as unknown as string)).toThrow(TypeError);
    expect(() => encodeClosePayload(1000, new Float32Array(20) as unknown as string)).toThrow(TypeError);
  });

  it('rejects a reason without a code', () => {
    expect(() => encodeClosePayload(undefined, 'why')).toThrow(TypeError);
  });

  it('limits the reason to 123 bytes of UTF-8, not 123 characters', () => {
    expect(encodeClosePayload(1000, 'x'.repeat(123))).toHaveLength(125);
    expect(() => encodeClosePayload(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(encodeClosePayload(1000, 'é'.repeat(61))).toHaveLength(124);
    expect(() => encodeClosePayload(1000, 'é'.repeat(62))).toThrow(RangeError);
    expect(() => encodeClosePayload(1000, '😀'.repeat(31))).toThrow(RangeError);
    expect(MAX_CLOSE_REASON_BYTES).toBe(123);
  });

  it('returns arrays that do not overlap', () => {
    const a = encodeClosePayload(1000, 'abc');
    const b = encodeClosePayload(1000, 'abc');
    a.fill(0);
    expect(Array.from(b)).toEqual([0x03, 0xe8, 0x61, 0x62, 0x63]);
  });

  it('round-trips any sendable code and reason', () => {
    const code = fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1011, 1014),
      fc.integer({ min: 3000, max: 4999 }),
    );
    fc.assert(
      fc.property(code, fc.string({ unit: 'grapheme', maxLength: 30 }), (c, reason) => {
        const payload = encodeClosePayload(c, reason);
        expect(payload.length).toBeLessThanOrEqual(MAX_CONTROL_PAYLOAD);
        expect(parseClosePayload(payload)).toEqual({ code: c, reason });
      }),
    );
  });
});

// ------------------------------------------------------------------ encoder

describe('encoder', () => {
  it('encodes the RFC 6455 §5.7 single-frame unmasked text', () => {
    expect(encodeFrameBytes(HELLO, { opcode: Opcode.TEXT })).toEqual(hex('81 05 48 65 6c 6c 6f'));
  });

  it('encodes the RFC 6455 §5.7 single-frame masked text', () => {
    expect(encodeFrameBytes(HELLO, { opcode: Opcode.TEXT, mask: RFC_KEY })).toEqual(
      hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
    );
  });

  it('encodes the RFC 6455 §5.7 fragmented unmasked text', () => {
    expect(encodeFrameBytes(ascii('Hel'), { opcode: Opcode.TEXT, fin: false })).toEqual(
      hex('01 03 48 65 6c'),
    );
    expect(encodeFrameBytes(ascii('lo'), { opcode: Opcode.CONTINUATION })).toEqual(hex('80 02 6c 6f'));
  });

  it('encodes the RFC 6455 §5.7 ping and masked pong', () => {
    expect(encodeFrameBytes(HELLO, { opcode: Opcode.PING })).toEqual(hex('89 05 48 65 6c 6c 6f'));
    expect(encodeFrameBytes(HELLO, { opcode: Opcode.PONG, mask: RFC_KEY })).toEqual(
      hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'),
    );
  });

  it('encodes the RFC 6455 §5.7 256-byte and 64 KiB binary headers', () => {
    const small = encodeFrame(new Uint8Array(256), { opcode: Opcode.BINARY });
    expect(small.header).toEqual(hex('82 7e 01 00'));
    const big = encodeFrame(new Uint8Array(65536), { opcode: Opcode.BINARY });
    expect(big.header).toEqual(hex('82 7f 00 00 00 00 00 01 00 00'));
  });

  it('uses the shortest length encoding at every boundary', () => {
    const header = (length: number) => Array.from(encodeFrameHeader({ opcode: 2 }, length));
    expect(header(0)).toEqual([0x82, 0]);
    expect(header(125)).toEqual([0x82, 125]);
    expect(header(126)).toEqual([0x82, 126, 0, 126]);
    expect(header(65535)).toEqual([0x82, 126, 0xff, 0xff]);
    expect(header(65536)).toEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(header(2 ** 32)).toEqual([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(header(2 ** 32 + 0x01020304)).toEqual([0x82, 127, 0, 0, 0, 1, 1, 2, 3, 4]);
    expect(header(Number.MAX_SAFE_INTEGER)).toEqual([0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  it('appends the masking key after the length', () => {
    const key = hex('01 02 03 04');
    expect(Array.from(encodeFrameHeader({ opcode: 1, mask: key }, 5))).toEqual([0x81, 0x85, 1, 2, 3, 4]);
    expect(Array.from(encodeFrameHeader({ opcode: 1, mask: key }, 300))).toEqual([
      0x81, 0xfe, 1, 44, 1, 2, 3, 4,
    ]);
    expect(encodeFrameHeader({ opcode: 1, mask: key }, 70000)).toHaveLength(14);
  });

  it('sets FIN and the RSV bits', () => {
    const first = (options: Parameters<typeof encodeFrameHeader>[0]) => encodeFrameHeader(options, 0)[0];
    expect(first({ opcode: 1, fin: false })).toBe(0x01);
    expect(first({ opcode: 1, rsv1: true })).toBe(0xc1);
    expect(first({ opcode: 1, rsv2: true })).toBe(0xa1);
    expect(first({ opcode: 1, rsv3: true })).toBe(0x91);
    expect(first({ opcode: 0, fin: false, rsv1: true, rsv2: true, rsv3: true })).toBe(0x70);
  });

  it('returns the caller’s payload itself when unmasked', () => {
    const payload = new Uint8Array(1000).fill(7);
    const frame = encodeFrame(payload, { opcode: Opcode.BINARY });
    expect(frame.payload).toBe(payload);
  });

  it('masks into a copy and never touches the caller’s payload', () => {
    const payload = new Uint8Array(300).map((_, i) => i);
    const original = payload.slice();
    const key = hex('a1 b2 c3 d4');
    const frame = encodeFrame(payload, { opcode: Opcode.BINARY, mask: key });
    expect(frame.payload === payload).toBe(false);
    expect(sameBytes(payload, original)).toBe(true);
    expect(Array.from(frame.header)).toEqual([0x82, 0xfe, 0x01, 0x2c, 0xa1, 0xb2, 0xc3, 0xd4]);
    const unmasked = frame.payload.slice();
    applyMask(unmasked, key);
    expect(sameBytes(unmasked, original)).toBe(true);
    const bytes = encodeFrameBytes(payload, { opcode: Opcode.BINARY, mask: key });
    expect(sameBytes(payload, original)).toBe(true);
    expect(sameBytes(bytes, concat([frame.header, frame.payload]))).toBe(true);
  });

  it('rejects invalid options', () => {
    const payload = new Uint8Array(4);
    for (const opcode of [16, -1, 1.5, Number.NaN]) {
      expect(() => encodeFrame(payload, { opcode })).toThrow(RangeError);
    }
    expect(() => encodeFrame(payload, { opcode: Opcode.PING, fin: false })).toThrow(RangeError);
    expect(() => encodeFrame(new Uint8Array(126), { opcode: Opcode.CLOSE })).toThrow(RangeError);
    expect(() => encodeFrameBytes(new Uint8Array(126), { opcode: 15 })).toThrow(RangeError);
    expect(encodeFrame(new Uint8Array(125), { opcode: Opcode.PONG }).header).toHaveLength(2);
    expect(() => encodeFrame(payload, { opcode: 1, mask: new Uint8Array(3) })).toThrow(TypeError);
    expect(() => encodeFrame(payload, { opcode: 1, mask: [1, 2, 3, 4] as unknown as Uint8Array })).toThrow(
      TypeError,
    );
    expect(() => encodeFrame(5 as unknown as Uint8Array, { opcode: 2 })).toThrow(TypeError);
    expect(() => encodeFrameBytes('abc' as unknown as Uint8Array, { opcode: 1 })).toThrow(TypeError);
    for (const length of [-1, 1.5, 2 ** 53, Number.NaN]) {
      expect(() => encodeFrameHeader({ opcode: 2 }, length)).toThrow(RangeError);
    }
  });

  it('never hands out overlapping or reused memory, across many frames of all sizes', () => {
    const key = hex('0f 0f 0f 0f');
    const kept: Array<{ bytes: Uint8Array; copy: Uint8Array }> = [];
    for (let i = 0; i < 3000; i++) {
      const size = (i * 37) % 5000;
      const payload = new Uint8Array(size).fill(i & 0xff);
      const frame = encodeFrame(payload, { opcode: 2, mask: i % 3 === 0 ? undefined : key });
      const bytes = encodeFrameBytes(payload.subarray(0, 100), { opcode: 1, mask: key });
      const header = encodeFrameHeader({ opcode: 9 }, i % 126);
      const close = encodeClosePayload(1000, String(i));
      for (const part of [frame.header, frame.payload, bytes, header, close]) {
        kept.push({ bytes: part, copy: part.slice() });
      }
    }
    let changed = 0;
    for (const { bytes, copy } of kept) if (!sameBytes(bytes, copy)) changed++;
    expect(changed).toBe(0);
  });

  it('allows reserved opcodes for extensions', () => {
    expect(Array.from(encodeFrameBytes(new Uint8Array(0), { opcode: 3 }))).toEqual([0x83, 0]);
  });
});

// ------------------------------------------------------------------ parser: RFC examples

describe('FrameParser: RFC 6455 §5.7 examples', () => {
  it('parses a single-frame unmasked text message', () => {
    const p = parser('client');
    p.push(hex('81 05 48 65 6c 6c 6f'));
    const piece = p.next();
    expect(piece).toMatchObject({
      opcode: 1,
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      length: 5,
      first: true,
      last: true,
    });
    expect(Array.from(piece?.data ?? [])).toEqual(Array.from(HELLO));
    expect(p.next()).toBeUndefined();
  });

  it('parses a single-frame masked text message', () => {
    const p = parser('server');
    p.push(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    const [piece, ...rest] = drain(p);
    expect(rest).toHaveLength(0);
    expect(piece).toMatchObject({ opcode: 1, fin: true, length: 5, first: true, last: true });
    expect(Array.from(piece?.data ?? [])).toEqual(Array.from(HELLO));
  });

  it('parses a fragmented unmasked text message', () => {
    const p = parser('client');
    p.push(hex('01 03 48 65 6c'));
    p.push(hex('80 02 6c 6f'));
    const frames = assemble(drain(p));
    expect(frames.map((f) => [f.opcode, f.fin, f.length, String.fromCharCode(...f.payload)])).toEqual([
      [1, false, 3, 'Hel'],
      [0, true, 2, 'lo'],
    ]);
  });

  it('parses an unmasked ping and a masked pong', () => {
    const client = parser('client');
    client.push(hex('89 05 48 65 6c 6c 6f'));
    const ping = client.next();
    expect(ping).toMatchObject({ opcode: 9, fin: true, length: 5, first: true, last: true });
    expect(Array.from(ping?.data ?? [])).toEqual(Array.from(HELLO));

    const server = parser('server');
    server.push(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
    const pong = server.next();
    expect(pong).toMatchObject({ opcode: 10, fin: true, length: 5, first: true, last: true });
    expect(Array.from(pong?.data ?? [])).toEqual(Array.from(HELLO));
  });

  it('parses 256 bytes of binary data in a single unmasked message', () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const p = parser('client');
    p.push(concat([hex('82 7e 01 00'), payload]));
    const [piece] = drain(p);
    expect(piece).toMatchObject({ opcode: 2, length: 256, first: true, last: true });
    expect(sameBytes(piece?.data ?? new Uint8Array(0), payload)).toBe(true);
  });

  it('parses 64 KiB of binary data in a single unmasked message', () => {
    const payload = new Uint8Array(65536).map((_, i) => i * 7);
    const p = parser('client');
    p.push(concat([hex('82 7f 00 00 00 00 00 01 00 00'), payload]));
    const [piece] = drain(p);
    expect(piece).toMatchObject({ opcode: 2, length: 65536, first: true, last: true });
    expect(sameBytes(piece?.data ?? new Uint8Array(0), payload)).toBe(true);
  });
});

// ------------------------------------------------------------------ parser: rejections

interface Rejection {
  name: string;
  side: 'server' | 'client';
  bytes: string;
  /** Index of the byte that decides it. */
  at: number;
  code: ProtocolErrorCode;
  closeCode: number;
  options?: Partial<FrameParserOptions>;
}

const rejections: Rejection[] = [
  ...[3, 4, 5, 6, 7, 11, 12, 13, 14, 15].map(
    (opcode): Rejection => ({
      name: `reserved opcode ${opcode}`,
      side: 'server',
      bytes: `${(0x80 | opcode).toString(16)} 80`,
      at: 0,
      code: 'WS_ERR_INVALID_OPCODE',
      closeCode: 1002,
    }),
  ),
  {
    name: 'RSV1 without extension',
    side: 'client',
    bytes: 'c1 00',
    at: 0,
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV2 without extension',
    side: 'client',
    bytes: 'a1 00',
    at: 0,
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV3 without extension',
    side: 'client',
    bytes: '91 00',
    at: 0,
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV2 when only RSV1 is negotiated',
    side: 'client',
    bytes: 'e1 00',
    at: 0,
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
    options: { allowedRsv: 4 },
  },
  {
    name: 'unmasked frame to a server',
    side: 'server',
    bytes: '81 05 48 65 6c 6c 6f',
    at: 1,
    code: 'WS_ERR_EXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'masked frame to a client',
    side: 'client',
    bytes: '81 85 37 fa 21 3d 7f 9f 4d 51 58',
    at: 1,
    code: 'WS_ERR_UNEXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'fragmented close',
    side: 'client',
    bytes: '08 00',
    at: 0,
    code: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
    closeCode: 1002,
  },
  {
    name: 'fragmented ping',
    side: 'client',
    bytes: '09 00',
    at: 0,
    code: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
    closeCode: 1002,
  },
  {
    name: 'fragmented pong',
    side: 'client',
    bytes: '0a 00',
    at: 0,
    code: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
    closeCode: 1002,
  },
  {
    name: 'ping with 16-bit length',
    side: 'server',
    bytes: '89 fe 00 7e',
    at: 1,
    code: 'WS_ERR_CONTROL_FRAME_TOO_LONG',
    closeCode: 1002,
  },
  {
    name: 'close with 64-bit length',
    side: 'client',
    bytes: '88 7f 00 00 00 00 00 01 00 00',
    at: 1,
    code: 'WS_ERR_CONTROL_FRAME_TOO_LONG',
    closeCode: 1002,
  },
  {
    name: '64-bit length with the top bit set',
    side: 'client',
    bytes: '82 7f 80 00 00 00 00 00 00 00',
    at: 2,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '64-bit length of all ones',
    side: 'server',
    bytes: '82 ff ff ff ff ff ff ff ff ff',
    at: 2,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '16-bit length for 125 bytes',
    side: 'client',
    bytes: '82 7e 00 7d',
    at: 3,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '16-bit length for 0 bytes',
    side: 'client',
    bytes: '82 7e 00 00',
    at: 3,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '64-bit length for 65535 bytes',
    side: 'client',
    bytes: '82 7f 00 00 00 00 00 00 ff ff',
    at: 9,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '64-bit length for 5 bytes',
    side: 'server',
    bytes: '82 ff 00 00 00 00 00 00 00 05',
    at: 9,
    code: 'WS_ERR_INVALID_LENGTH',
    closeCode: 1002,
  },
  {
    name: '7-bit length over maxFrameSize',
    side: 'client',
    bytes: '82 65',
    at: 1,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: 100 },
  },
  {
    name: '16-bit length over maxFrameSize',
    side: 'server',
    bytes: '82 fe 03 e9',
    at: 3,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: 1000 },
  },
  {
    name: '64-bit length over maxFrameSize',
    side: 'client',
    bytes: '82 7f 00 00 00 00 00 10 00 01',
    at: 9,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: 0x100000 },
  },
  {
    name: 'continuation over maxFrameSize',
    side: 'client',
    bytes: '00 7e 01 00',
    at: 3,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: 255 },
  },
  {
    name: 'length of 2^53 with no limit',
    side: 'client',
    bytes: '82 7f 00 20 00 00 00 00 00 00',
    at: 9,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: Number.POSITIVE_INFINITY },
  },
  {
    name: 'length of 2^63 - 1 with no limit',
    side: 'client',
    bytes: '82 7f 7f ff ff ff ff ff ff ff',
    at: 9,
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
    options: { maxFrameSize: Number.POSITIVE_INFINITY },
  },
];

describe('FrameParser: rejections', () => {
  it('rejects each violation when the frame arrives whole, before surfacing any payload', () => {
    for (const r of rejections) {
      const p = parser(r.side, r.options);
      p.push(concat([hex(r.bytes), new Uint8Array(300)]));
      const error = catchError(() => p.next());
      expect([r.name, error instanceof ProtocolError]).toEqual([r.name, true]);
      const e = error as ProtocolError;
      expect([r.name, e.code, e.closeCode]).toEqual([r.name, r.code, r.closeCode]);
    }
  });

  it('rejects each violation at exactly the byte that decides it', () => {
    for (const r of rejections) {
      const p = parser(r.side, r.options);
      const bytes = hex(r.bytes);
      for (let i = 0; i < r.at; i++) {
        p.push(bytes.subarray(i, i + 1));
        expect([r.name, i, p.next()]).toEqual([r.name, i, undefined]);
      }
      p.push(bytes.subarray(r.at, r.at + 1));
      const error = catchError(() => p.next());
      expect([r.name, error instanceof ProtocolError]).toEqual([r.name, true]);
      expect([r.name, (error as ProtocolError).code]).toEqual([r.name, r.code]);
    }
  });

  it('rejects a bad frame after good ones, having returned the good ones', () => {
    const p = parser('client');
    p.push(concat([hex('81 02 68 69'), hex('89 00'), hex('83 00')]));
    expect(p.next()).toMatchObject({ opcode: 1, length: 2 });
    expect(p.next()).toMatchObject({ opcode: 9, length: 0 });
    expectProtocolError(() => p.next(), 'WS_ERR_INVALID_OPCODE', 1002);
  });

  it('stays dead after an error: next() rethrows the same error, push() is ignored', () => {
    const p = parser('server');
    p.push(hex('81 05 48 65 6c 6c 6f'));
    const error = catchError(() => p.next());
    expect(error).toBeInstanceOf(ProtocolError);
    expect(catchError(() => p.next())).toBe(error);
    p.push(hex('81 80 00 00 00 00'));
    expect(p.bufferedBytes).toBe(0);
    expect(catchError(() => p.next())).toBe(error);
  });

  it('accepts RSV bits that an extension negotiated', () => {
    const p = parser('client', { allowedRsv: 7 });
    p.push(hex('f1 01 41 c2 00'));
    expect(p.next()).toMatchObject({ opcode: 1, rsv1: true, rsv2: true, rsv3: true, length: 1 });
    expect(p.next()).toMatchObject({ opcode: 2, rsv1: true, rsv2: false, rsv3: false, length: 0 });
  });

  it('accepts a frame of exactly maxFrameSize and applies the limit to data frames only', () => {
    const p = parser('client', { maxFrameSize: 100 });
    p.push(concat([hex('82 64'), new Uint8Array(100)]));
    expect(p.next()).toMatchObject({ opcode: 2, length: 100 });
    const zero = parser('client', { maxFrameSize: 0 });
    zero.push(hex('82 00 89 05 48 65 6c 6c 6f 88 02 03 e8'));
    expect(drain(zero).map((piece) => [piece.opcode, piece.length])).toEqual([
      [2, 0],
      [9, 5],
      [8, 2],
    ]);
  });

  it('reads a length of 2^53 - 1 exactly', () => {
    const p = parser('client', { maxFrameSize: Number.POSITIVE_INFINITY });
    p.push(hex('82 7f 00 1f ff ff ff ff ff ff'));
    expect(p.next()).toBeUndefined();
    p.push(hex('01 02 03'));
    const piece = p.next();
    expect(piece).toMatchObject({ length: Number.MAX_SAFE_INTEGER, first: true, last: false });
    expect(piece?.data).toHaveLength(3);
  });

  it('validates its options', () => {
    expect(() => new FrameParser({ side: 'peer' as 'server', maxFrameSize: 10 })).toThrow(TypeError);
    expect(() => new FrameParser({ side: 'server', maxFrameSize: -1 })).toThrow(RangeError);
    expect(() => new FrameParser({ side: 'server', maxFrameSize: Number.NaN })).toThrow(RangeError);
    expect(() => new FrameParser({ side: 'server' } as FrameParserOptions)).toThrow(RangeError);
    expect(() => new FrameParser({ side: 'server', maxFrameSize: 10, allowedRsv: 8 })).toThrow(RangeError);
    expect(() => new FrameParser({ side: 'server', maxFrameSize: 10, allowedRsv: 1.5 })).toThrow(RangeError);
  });
});

// ------------------------------------------------------------------ parser: pieces and buffering

describe('FrameParser: pieces', () => {
  it('returns a whole frame as a zero-copy view into the pushed chunk', () => {
    const chunk = concat([hex('82 7e 01 00'), new Uint8Array(256).fill(9), hex('81 01 41')]);
    const p = parser('client');
    p.push(chunk);
    const [binary, text] = drain(p);
    expect(binary?.data.buffer).toBe(chunk.buffer);
    expect(binary?.data.byteOffset).toBe(4);
    expect(binary?.data).toHaveLength(256);
    expect(text?.data.buffer).toBe(chunk.buffer);
    expect(text?.data.byteOffset).toBe(262);
  });

  it('unmasks in place: the view shares the chunk, which now holds the clear payload', () => {
    const chunk = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    const p = parser('server');
    p.push(chunk);
    const piece = p.next();
    expect(piece?.data.buffer).toBe(chunk.buffer);
    expect(piece?.data.byteOffset).toBe(6);
    expect(Array.from(chunk.subarray(6))).toEqual(Array.from(HELLO));
  });

  it('returns a whole control frame as a view, and a split one as a fresh copy', () => {
    const whole = hex('89 85 37 fa 21 3d 7f 9f 4d 51 58');
    const p = parser('server');
    p.push(whole);
    expect(p.next()?.data.buffer).toBe(whole.buffer);

    const first = hex('89 85 37 fa 21 3d 7f 9f');
    const second = hex('4d 51 58');
    p.push(first);
    expect(p.next()).toBeUndefined();
    expect(p.bufferedBytes).toBe(0);
    p.push(second);
    const piece = p.next();
    expect(piece).toMatchObject({ opcode: 9, length: 5, first: true, last: true });
    expect(Array.from(piece?.data ?? [])).toEqual(Array.from(HELLO));
    expect(piece?.data.buffer === first.buffer || piece?.data.buffer === second.buffer).toBe(false);
  });

  it('returns plain Uint8Array views even for a Uint8Array subclass', () => {
    class Chunk extends Uint8Array {}
    const chunk = new Chunk(hex('82 02 01 02'));
    const p = parser('client');
    p.push(chunk);
    const piece = p.next();
    expect(piece?.data.constructor).toBe(Uint8Array);
    expect(piece?.data.buffer).toBe(chunk.buffer);
  });

  it('streams a data frame that spans chunks, one piece per chunk, as bytes arrive', () => {
    const key = hex('11 22 33 44');
    const payload = new Uint8Array(10).map((_, i) => i + 1);
    const frame = encodeFrameBytes(payload, { opcode: Opcode.BINARY, mask: key });
    const p = parser('server');
    const chunks = [frame.slice(0, 9), frame.slice(9, 12), frame.slice(12)];
    p.push(chunks[0]!);
    const a = drain(p);
    p.push(chunks[1]!);
    const b = drain(p);
    p.push(chunks[2]!);
    const c = drain(p);
    expect([a, b, c].map((pieces) => pieces.map((x) => [x.first, x.last, Array.from(x.data)]))).toEqual([
      [[true, false, [1, 2, 3]]],
      [[false, false, [4, 5, 6]]],
      [[false, true, [7, 8, 9, 10]]],
    ]);
    expect(a[0]?.data.buffer).toBe(chunks[0]!.buffer);
    expect(c[0]?.data.buffer).toBe(chunks[2]!.buffer);
    expect([a[0]?.length, b[0]?.length, c[0]?.length]).toEqual([10, 10, 10]);
  });

  it('does not return an empty piece when a header ends a chunk', () => {
    const p = parser('client');
    p.push(hex('82 03'));
    expect(p.next()).toBeUndefined();
    p.push(hex('01 02 03'));
    expect(p.next()).toMatchObject({ first: true, last: true, length: 3 });
  });

  it('returns a zero-length frame as one empty piece', () => {
    const p = parser('server');
    p.push(hex('81 80 01 02 03 04 8a 80 01 02 03 04'));
    const pieces = drain(p);
    expect(pieces.map((x) => [x.opcode, x.length, x.data.length, x.first, x.last])).toEqual([
      [1, 0, 0, true, true],
      [10, 0, 0, true, true],
    ]);
  });

  it('counts buffered bytes', () => {
    const p = parser('client');
    expect(p.bufferedBytes).toBe(0);
    p.push(hex('81 01 41 81'));
    p.push(hex('02 42'));
    expect(p.bufferedBytes).toBe(6);
    p.next();
    expect(p.bufferedBytes).toBe(3);
    expect(p.next()).toMatchObject({ length: 2, first: true, last: false });
    expect(p.bufferedBytes).toBe(0);
    expect(p.next()).toBeUndefined();
    p.push(hex('43'));
    expect(p.next()).toMatchObject({ last: true });
    expect(p.bufferedBytes).toBe(0);
    p.push(new Uint8Array(0));
    expect(p.bufferedBytes).toBe(0);
  });

  it('parses frames whatever the header split, down to one byte per push', () => {
    const key = hex('de ad be ef');
    const frames = [
      encodeFrameBytes(ascii('hi'), { opcode: Opcode.TEXT }),
      encodeFrameBytes(new Uint8Array(300).fill(3), { opcode: Opcode.BINARY, fin: false }),
      encodeFrameBytes(new Uint8Array(70000).fill(4), { opcode: Opcode.CONTINUATION }),
      encodeFrameBytes(encodeClosePayload(1000, 'bye'), { opcode: Opcode.CLOSE }),
    ];
    const masked = frames.map((f) => {
      const p = parser('client');
      p.push(f.slice());
      const [piece] = drain(p);
      const opts = { opcode: piece!.opcode, fin: piece!.fin, mask: key };
      return encodeFrameBytes(piece!.data, opts);
    });
    for (const [side, list] of [
      ['client', frames],
      ['server', masked],
    ] as const) {
      for (const frame of list) {
        const expected = assemble(parseChunks(parser(side), [frame]));
        expect(expected).toHaveLength(1);
        const headerLength = frame.length - expected[0]!.length;
        for (let cut = 0; cut <= headerLength; cut++) {
          const got = assemble(parseChunks(parser(side), [frame.subarray(0, cut), frame.subarray(cut)]));
          expect(got).toHaveLength(1);
          expect(sameBytes(got[0]!.payload, expected[0]!.payload)).toBe(true);
          expect(got[0]!.opcode).toBe(expected[0]!.opcode);
        }
        const headerBytewise = [...bytewise(frame.subarray(0, headerLength)), frame.subarray(headerLength)];
        const got = assemble(parseChunks(parser(side), headerBytewise));
        expect(got.map((f) => [f.opcode, f.fin, f.length])).toEqual(
          expected.map((f) => [f.opcode, f.fin, f.length]),
        );
        expect(sameBytes(got[0]!.payload, expected[0]!.payload)).toBe(true);
      }
    }
  });

  it('parses a masked control frame and text fed one byte at a time', () => {
    const key = hex('01 02 03 04');
    const stream = concat([
      encodeFrameBytes(HELLO, { opcode: Opcode.PING, mask: key }),
      encodeFrameBytes(ascii('abc'), { opcode: Opcode.TEXT, mask: key }),
    ]);
    const pieces = parseChunks(parser('server'), bytewise(stream));
    // The ping is one piece; the text comes one byte per piece.
    expect(pieces.map((x) => [x.opcode, x.data.length, x.first, x.last])).toEqual([
      [9, 5, true, true],
      [1, 1, true, false],
      [1, 1, false, false],
      [1, 1, false, true],
    ]);
    const frames = assemble(pieces);
    expect(frames.map((f) => String.fromCharCode(...f.payload))).toEqual(['Hello', 'abc']);
  });
});

// ------------------------------------------------------------------ parser: properties

interface FrameSpec {
  opcode: number;
  fin: boolean;
  rsv: number;
  size: number;
  key: Uint8Array;
  seed: number;
}

const frameSpecArb: fc.Arbitrary<FrameSpec> = fc
  .record({
    opcode: fc.constantFrom(0, 1, 2, 8, 9, 10),
    fin: fc.boolean(),
    rsv: fc.integer({ min: 0, max: 7 }),
    size: fc.oneof(
      fc.constantFrom(0, 1, 125, 126, 127, 65535, 65536, 65537),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 5000 }),
    ),
    key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map((spec) =>
    // Control frames are final and at most 125 bytes.
    spec.opcode >= 8 ? { ...spec, fin: true, size: spec.size % (MAX_CONTROL_PAYLOAD + 1) } : spec,
  );

function payloadFor(spec: FrameSpec): Uint8Array {
  const payload = new Uint8Array(spec.size);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + spec.seed * 17 + (i >>> 8)) & 0xff;
  return payload;
}

describe('FrameParser: properties', () => {
  it('parses any sequence of valid frames split at any points back into the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(frameSpecArb, { minLength: 1, maxLength: 8 }),
        fc.constantFrom<'server' | 'client'>('server', 'client'),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (specs, side, cuts, oneBytePushes) => {
          const masked = side === 'server';
          const payloads = specs.map(payloadFor);
          const encoded = specs.map((spec, i) => {
            const options = {
              opcode: spec.opcode,
              fin: spec.fin,
              rsv1: (spec.rsv & 4) !== 0,
              rsv2: (spec.rsv & 2) !== 0,
              rsv3: (spec.rsv & 1) !== 0,
              mask: masked ? spec.key : undefined,
            };
            // Both encoders, alternately.
            if (i % 2 === 0) return encodeFrameBytes(payloads[i]!, options);
            const frame = encodeFrame(payloads[i]!, options);
            return concat([frame.header, frame.payload]);
          });
          const stream = concat(encoded);
          const chunks = oneBytePushes && stream.length < 3000 ? bytewise(stream) : splitAt(stream, cuts);
          const p = parser(side, { allowedRsv: 7, maxFrameSize: 65537 });
          const frames = assemble(parseChunks(p, chunks));
          expect(p.bufferedBytes).toBe(0);
          expect(frames).toHaveLength(specs.length);
          for (let i = 0; i < specs.length; i++) {
            const spec = specs[i]!;
            const frame = frames[i]!;
            expect([frame.opcode, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3, frame.length]).toEqual([
              spec.opcode,
              spec.fin,
              (spec.rsv & 4) !== 0,
              (spec.rsv & 2) !== 0,
              (spec.rsv & 1) !== 0,
              spec.size,
            ]);
            expect(sameBytes(frame.payload, payloads[i]!)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  /** Feeds `chunks`; returns how it ended. Fails the test on any non-ProtocolError or runaway loop. */
  function survive(p: FrameParser, chunks: readonly Uint8Array[]): 'ok' | ProtocolError {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    let pieces = 0;
    for (const chunk of chunks) {
      p.push(chunk);
      for (;;) {
        let piece: FramePiece | undefined;
        try {
          piece = p.next();
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          const closeCode = (error as ProtocolError).closeCode;
          expect(closeCode === CloseCode.PROTOCOL_ERROR || closeCode === CloseCode.MESSAGE_TOO_BIG).toBe(
            true,
          );
          // Dead from now on.
          expect(catchError(() => p.next())).toBe(error);
          return error as ProtocolError;
        }
        if (piece === undefined) break;
        // Every piece consumes at least one byte, but for empty frames (2+ header bytes).
        pieces++;
        expect(pieces).toBeLessThanOrEqual(total);
        if (piece.opcode >= 8) expect(piece.data.length).toBeLessThanOrEqual(MAX_CONTROL_PAYLOAD);
        expect(piece.data.length).toBeLessThanOrEqual(piece.length);
      }
    }
    return 'ok';
  }

  it('either returns pieces or throws a 1002/1009 ProtocolError on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom<'server' | 'client'>('server', 'client'),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 70000 }),
        (data, cuts, side, allowedRsv, maxFrameSize) => {
          survive(new FrameParser({ side, allowedRsv, maxFrameSize }), splitAt(data, cuts));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('either returns pieces or throws a 1002/1009 ProtocolError on corrupted valid frames', () => {
    fc.assert(
      fc.property(
        fc.array(frameSpecArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom<'server' | 'client'>('server', 'client'),
        (specs, corruptions, cuts, side) => {
          const mask = side === 'server';
          const stream = concat(
            specs.map((spec) =>
              encodeFrameBytes(payloadFor(spec), {
                opcode: spec.opcode,
                fin: spec.fin,
                rsv1: (spec.rsv & 4) !== 0,
                mask: mask ? spec.key : undefined,
              }),
            ),
          );
          for (const { at, value } of corruptions) stream[at % stream.length] = value;
          survive(new FrameParser({ side, maxFrameSize: 70000, allowedRsv: 4 }), splitAt(stream, cuts));
        },
      ),
      { numRuns: 500 },
    );
  });
});
