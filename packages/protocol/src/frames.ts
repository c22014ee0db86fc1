/**
 * WebSocket framing (RFC 6455 §5): opcodes, close payloads, the frame encoder and an
 * incremental, zero-copy frame parser.
 *
 * ```text
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 */
import { CloseCode, ProtocolError, type ProtocolErrorCode } from './errors.ts';
import { applyMask, maskCopy } from './mask.ts';
import { isValidUtf8 } from './utf8.ts';

/** Frame opcodes defined by RFC 6455 §5.2 (3–7 and 11–15 are reserved). */
export const Opcode = {
  CONTINUATION: 0,
  TEXT: 1,
  BINARY: 2,
  CLOSE: 8,
  PING: 9,
  PONG: 10,
} as const;
/** One of the defined {@link Opcode} values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Whether `opcode` is close, ping or pong. */
export function isControlOpcode(opcode: number): boolean {
  return opcode === Opcode.CLOSE || opcode === Opcode.PING || opcode === Opcode.PONG;
}

/** Whether `opcode` is continuation, text or binary. */
export function isDataOpcode(opcode: number): boolean {
  return opcode === Opcode.CONTINUATION || opcode === Opcode.TEXT || opcode === Opcode.BINARY;
}

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** Largest close reason in UTF-8 bytes: the control payload minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

const EMPTY: Uint8Array = new Uint8Array(0);

/** Buffers up to this size (headers, close payloads, small masked copies) come from a slab. */
const SLAB_MAX_ALLOCATION = 4096;
const SLAB_SIZE = 65536;
let slab = new ArrayBuffer(0);
let slabPosition = 0;

/**
 * A new zero-filled `Uint8Array` of `size` bytes. Small ones are views into a shared
 * slab: allocating an ArrayBuffer per frame header costs 10–20 times a view on Deno
 * and twice on Node. Each region is handed out once and slabs start zeroed, so no
 * two results overlap and none holds stale bytes.
 */
function allocate(size: number): Uint8Array {
  if (size > SLAB_MAX_ALLOCATION) return new Uint8Array(size);
  if (slabPosition + size > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabPosition = 0;
  }
  const bytes = new Uint8Array(slab, slabPosition, size);
  // 8-byte aligned starts, so masking a copied payload runs on whole words.
  slabPosition = (slabPosition + size + 7) & ~7;
  return bytes;
}

// ------------------------------------------------------------------ close payloads

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4, IANA registry):
 * 1000–1003, 1007–1014 and 3000–4999. 1004 is reserved; 1005, 1006 and 1015 are never
 * sent; 1016–2999 are unassigned; 0–999 and 5000+ are not used.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/** The contents of a close frame. */
export interface ClosePayload {
  /** The status code; 1005 ({@link CloseCode.NO_STATUS}) when the frame carried none. */
  readonly code: number;
  /** The reason, decoded; `''` when there was none. */
  readonly reason: string;
}

interface Utf8Decoder {
  decode(input: Uint8Array): string;
}
interface Utf8Encoder {
  encode(input: string): Uint8Array;
}
// The WHATWG encoding API, typed locally because the core compiles without DOM types.
const encodingApi = globalThis as unknown as {
  TextDecoder: new (label: string, options: { ignoreBOM: boolean }) => Utf8Decoder;
  TextEncoder: new () => Utf8Encoder;
};
let reasonDecoder: Utf8Decoder | undefined;
let reasonEncoder: Utf8Encoder | undefined;

/**
 * Decodes a received close frame's payload (RFC 6455 §5.5.1, §7.1.5).
 *
 * An empty payload means "no status": code 1005, reason `''`.
 *
 * @throws ProtocolError `WS_ERR_INVALID_CLOSE_PAYLOAD` (1002) for a 1-byte payload;
 *   `WS_ERR_CONTROL_FRAME_TOO_LONG` (1002) for more than 125 bytes;
 *   `WS_ERR_INVALID_CLOSE_CODE` (1002) for a code not allowed on the wire
 *   (see {@link isValidCloseCode}); `WS_ERR_INVALID_UTF8` (1007) if the reason is not UTF-8.
 */
export function parseClosePayload(data: Uint8Array): ClosePayload {
  const length = data.length;
  if (length === 0) return { code: CloseCode.NO_STATUS, reason: '' };
  if (length === 1) {
    throw new ProtocolError(
      'WS_ERR_INVALID_CLOSE_PAYLOAD',
      CloseCode.PROTOCOL_ERROR,
      'close payload of 1 byte',
    );
  }
  if (length > MAX_CONTROL_PAYLOAD) {
    throw new ProtocolError(
      'WS_ERR_CONTROL_FRAME_TOO_LONG',
      CloseCode.PROTOCOL_ERROR,
      'close payload too long',
    );
  }
  const code = (data[0]! << 8) | data[1]!;
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(
      'WS_ERR_INVALID_CLOSE_CODE',
      CloseCode.PROTOCOL_ERROR,
      `invalid close code ${code}`,
    );
  }
  if (length === 2) return { code, reason: '' };
  const reasonBytes = data.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError(
      'WS_ERR_INVALID_UTF8',
      CloseCode.INVALID_PAYLOAD,
      'close reason is not valid UTF-8',
    );
  }
  // ignoreBOM: the reason is returned exactly as sent, a leading U+FEFF included.
  reasonDecoder ??= new encodingApi.TextDecoder('utf-8', { ignoreBOM: true });
  return { code, reason: reasonDecoder.decode(reasonBytes) };
}

/**
 * Builds the payload of a close frame to send.
 *
 * With no code the payload is empty (the peer will see 1005). Lone surrogates in
 * `reason` are sent as U+FFFD, as `TextEncoder` does.
 *
 * @param code - 1000–1003, 1007–1014 or 3000–4999 (the codes an endpoint may send).
 * @param reason - at most {@link MAX_CLOSE_REASON_BYTES} bytes of UTF-8; needs a code.
 * @throws TypeError if `code` is not a number, `reason` not a string, or a reason is
 *   given without a code; RangeError if the code may not be sent or the reason is too long.
 */
export function encodeClosePayload(code?: number, reason = ''): Uint8Array {
  if (typeof reason !== 'string') throw new TypeError('close reason must be a string');
  if (code === undefined) {
    if (reason !== '') throw new TypeError('a close reason requires a close code');
    return new Uint8Array(0);
  }
  // A number is required: ws once sent uninitialised memory when handed something else.
  if (typeof code !== 'number') throw new TypeError('close code must be a number');
  if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
  // UTF-8 never takes fewer bytes than UTF-16 code units, so this rejects early.
  if (reason.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason is limited to ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
  }
  let reasonBytes = EMPTY;
  if (reason !== '') {
    reasonEncoder ??= new encodingApi.TextEncoder();
    reasonBytes = reasonEncoder.encode(reason);
    if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(`close reason is limited to ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
    }
  }
  const payload = allocate(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

// ------------------------------------------------------------------ encoder

/** How to frame a payload. */
export interface FrameOptions {
  /**
   * 0–15. Reserved opcodes are allowed (an extension may define them); 8–15 are
   * control frames and must have `fin` and at most 125 payload bytes.
   */
  readonly opcode: number;
  /** Last frame of its message. Default true. */
  readonly fin?: boolean;
  /** RSV1 (e.g. permessage-deflate's "compressed" bit). Default false. */
  readonly rsv1?: boolean;
  /** RSV2. Default false. */
  readonly rsv2?: boolean;
  /** RSV3. Default false. */
  readonly rsv3?: boolean;
  /** The 4-byte masking key (clients must mask, RFC 6455 §5.3), or undefined for none. */
  readonly mask?: Uint8Array | undefined;
}

function headerSize(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Validates `options` and writes the header at `target[0..]`; returns its size. */
function writeHeader(target: Uint8Array, options: FrameOptions, payloadLength: number): number {
  const opcode = options.opcode;
  // One test for "integer in 0..15": NaN, fractions, negatives and 16+ all change under & 15.
  if ((opcode & 15) !== opcode) throw new RangeError(`invalid opcode ${opcode}`);
  const fin = options.fin !== false;
  if ((opcode & 8) !== 0 && (!fin || payloadLength > MAX_CONTROL_PAYLOAD)) {
    throw new RangeError('control frames must not be fragmented and carry at most 125 bytes');
  }
  const mask = options.mask;
  if (mask !== undefined && !(mask instanceof Uint8Array && mask.length === 4)) {
    throw new TypeError('mask must be a 4-byte Uint8Array');
  }
  target[0] =
    (fin ? 0x80 : 0) |
    (options.rsv1 === true ? 0x40 : 0) |
    (options.rsv2 === true ? 0x20 : 0) |
    (options.rsv3 === true ? 0x10 : 0) |
    opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  let size: number;
  if (payloadLength < 126) {
    target[1] = maskBit | payloadLength;
    size = 2;
  } else if (payloadLength < 0x10000) {
    target[1] = maskBit | 126;
    target[2] = payloadLength >>> 8;
    target[3] = payloadLength & 0xff;
    size = 4;
  } else {
    // 64-bit big-endian. JavaScript bit operations are 32-bit, so split by division;
    // both halves are exact for lengths up to 2^53 - 1.
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[1] = maskBit | 127;
    target[2] = high >>> 24;
    target[3] = (high >>> 16) & 0xff;
    target[4] = (high >>> 8) & 0xff;
    target[5] = high & 0xff;
    target[6] = low >>> 24;
    target[7] = (low >>> 16) & 0xff;
    target[8] = (low >>> 8) & 0xff;
    target[9] = low & 0xff;
    size = 10;
  }
  if (mask !== undefined) {
    target[size] = mask[0]!;
    target[size + 1] = mask[1]!;
    target[size + 2] = mask[2]!;
    target[size + 3] = mask[3]!;
    size += 4;
  }
  return size;
}

function checkPayload(payload: Uint8Array): void {
  // ws once turned a number passed as payload into a buffer of uninitialised memory.
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
}

/**
 * Encodes a frame header for a payload of `payloadLength` bytes, using the shortest
 * length encoding (RFC 6455 §5.2). 2, 4 or 10 bytes, plus 4 with a mask.
 *
 * @throws RangeError for an invalid opcode, a length that is not a safe non-negative
 *   integer, or a fragmented / oversized control frame; TypeError for a bad mask.
 */
export function encodeFrameHeader(options: FrameOptions, payloadLength: number): Uint8Array {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new RangeError(`invalid payload length ${payloadLength}`);
  }
  const header = allocate(headerSize(payloadLength, options.mask !== undefined));
  writeHeader(header, options, payloadLength);
  return header;
}

/**
 * Frames `payload`, keeping header and payload apart for a vectored write.
 *
 * `header` is 2–14 bytes. Unmasked, the returned `payload` is the very array passed in
 * (no copy: do not modify it until it is written). Masked, it is a masked copy; the
 * caller's array is never modified.
 *
 * Buffers this module creates may be views sharing an `ArrayBuffer` with other
 * encoded frames: write them, don't transfer or detach their `.buffer`.
 *
 * @throws as {@link encodeFrameHeader}; TypeError if `payload` is not a Uint8Array.
 */
export function encodeFrame(
  payload: Uint8Array,
  options: FrameOptions,
): { readonly header: Uint8Array; readonly payload: Uint8Array } {
  checkPayload(payload);
  const length = payload.length;
  const mask = options.mask;
  const header = allocate(headerSize(length, mask !== undefined));
  writeHeader(header, options, length);
  if (mask === undefined || length === 0) return { header, payload };
  const masked = allocate(length);
  maskCopy(payload, mask, masked);
  return { header, payload: masked };
}

/**
 * Frames `payload` into one new array (header followed by the possibly masked
 * payload). Handy for small control frames; the caller's array is never modified.
 *
 * @throws as {@link encodeFrame}.
 */
export function encodeFrameBytes(payload: Uint8Array, options: FrameOptions): Uint8Array {
  checkPayload(payload);
  const length = payload.length;
  const mask = options.mask;
  const size = headerSize(length, mask !== undefined);
  const frame = allocate(size + length);
  writeHeader(frame, options, length);
  if (mask === undefined) frame.set(payload, size);
  else maskCopy(payload, mask, frame, size);
  return frame;
}

// ------------------------------------------------------------------ parser

/** Options for {@link FrameParser}. */
export interface FrameParserOptions {
  /**
   * Which end *we* are. `'server'`: incoming frames must be masked; `'client'`: they
   * must not be (RFC 6455 §5.1).
   */
  readonly side: 'server' | 'client';
  /**
   * Largest data frame payload accepted, in bytes; larger → 1009. Checked from the
   * header, before any payload is buffered. Control frames are limited to 125 bytes
   * regardless. `Infinity` means no limit beyond 2^53 - 1.
   */
  readonly maxFrameSize: number;
  /**
   * RSV bits an extension negotiated, as a bit mask: 4 = RSV1, 2 = RSV2, 1 = RSV3.
   * Other RSV bits set → 1002. Default 0.
   */
  readonly allowedRsv?: number;
}

/**
 * A frame, or part of one, as parsed. Data frames may come in several pieces, one per
 * received chunk they span; control frames always come whole.
 */
export interface FramePiece {
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  /** Total payload length of the frame (not of this piece). */
  readonly length: number;
  /** This piece of the payload, already unmasked. */
  readonly data: Uint8Array;
  /** First piece of its frame. */
  readonly first: boolean;
  /** The frame is complete after this piece. */
  readonly last: boolean;
}

/** Concrete {@link FramePiece}: one class so every piece has the same shape. */
class Piece implements FramePiece {
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly length: number;
  readonly data: Uint8Array;
  readonly first: boolean;
  readonly last: boolean;

  constructor(firstByte: number, length: number, data: Uint8Array, first: boolean, last: boolean) {
    this.opcode = firstByte & 15;
    this.fin = (firstByte & 0x80) !== 0;
    this.rsv1 = (firstByte & 0x40) !== 0;
    this.rsv2 = (firstByte & 0x20) !== 0;
    this.rsv3 = (firstByte & 0x10) !== 0;
    this.length = length;
    this.data = data;
    this.first = first;
    this.last = last;
  }
}

// Parser stages.
const READING_HEADER = 0;
const READING_DATA = 1;
const READING_CONTROL = 2;

/** Bit n set = opcode n is defined. */
const DEFINED_OPCODES = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 8) | (1 << 9) | (1 << 10);
const TWO_TO_THE_32 = 0x100000000;

/** Size of the header whose second byte is `secondByte`. */
function headerSizeFromSecondByte(secondByte: number): number {
  const length7 = secondByte & 127;
  return (length7 < 126 ? 2 : length7 === 126 ? 4 : 10) + ((secondByte & 0x80) !== 0 ? 4 : 0);
}

/**
 * Incremental frame parser: push received chunks, pull frame pieces.
 *
 * ```ts
 * parser.push(chunk);
 * for (let piece = parser.next(); piece; piece = parser.next()) handle(piece);
 * ```
 *
 * **Zero copy.** `push()` takes ownership of the chunk: masked payloads are unmasked
 * *in place*, and a data frame's piece is a view into the chunk (a plain `Uint8Array`
 * over the chunk's `ArrayBuffer`, even if a Node `Buffer` was pushed). Do not reuse a
 * pushed chunk's memory while its pieces are in use.
 *
 * **Pieces.** A data frame (opcode 0–2) whose payload lies in one chunk comes out as
 * one piece; one spanning chunks comes out as one piece per chunk as bytes arrive, so
 * a big frame is never buffered. A zero-length frame is one empty piece. A control
 * frame (8–10) always comes out as one piece with its whole payload, copied into a
 * fresh array only if it spanned chunks. Headers may be split anywhere.
 *
 * **Validation.** Everything the header can tell is checked as soon as the bytes that
 * decide it have arrived, before any payload of the frame is returned; violations throw
 * {@link ProtocolError}. Message-level rules (continuation sequencing, UTF-8, close
 * payloads, RSV semantics of extensions) are the caller's.
 *
 * **After an error** the parser is dead: `next()` throws the same error again and
 * `push()` discards its chunk.
 */
export class FrameParser {
  private readonly expectMasked: boolean;
  private readonly maxFrameSize: number;
  private readonly allowedRsv: number;

  /**
   * Pushed chunks not yet fully read, from `chunkIndex` on (`chunks[chunkIndex]` always
   * has unread bytes); a shared empty array while there are none.
   */
  private chunks: Uint8Array[] = NO_CHUNKS;
  private chunkIndex = 0;
  private position = 0;
  private unread = 0;

  private stage = READING_HEADER;
  private failure: ProtocolError | undefined = undefined;

  /** A header split across chunks is gathered here; allocated the first time one is (idle connections never need it). */
  private headerBytes: Uint8Array | undefined;
  private headerFilled = 0;

  // The frame being read.
  private firstByte = 0;
  private masked = false;
  /** The frame's masking key, big-endian in one number (no buffer per connection). */
  private maskKey = 0;
  private frameLength = 0;
  private remaining = 0;
  private firstPiece = true;
  /** A control payload split across chunks is gathered here (EMPTY when not in use). */
  private controlBuffer = EMPTY;

  constructor(options: FrameParserOptions) {
    const side = options.side;
    if (side !== 'server' && side !== 'client') throw new TypeError(`side must be 'server' or 'client'`);
    const maxFrameSize = options.maxFrameSize;
    if (typeof maxFrameSize !== 'number' || !(maxFrameSize >= 0)) {
      throw new RangeError('maxFrameSize must be a non-negative number');
    }
    const allowedRsv = options.allowedRsv ?? 0;
    if ((allowedRsv & 7) !== allowedRsv) throw new RangeError('allowedRsv must be an integer from 0 to 7');
    this.expectMasked = side === 'server';
    this.maxFrameSize = Math.min(maxFrameSize, Number.MAX_SAFE_INTEGER);
    this.allowedRsv = allowedRsv;
  }

  /**
   * Bytes pushed that `next()` has not read yet. Split headers and control payloads
   * are read as they arrive, so this is 0 whenever `next()` has returned `undefined`.
   */
  get bufferedBytes(): number {
    return this.unread;
  }

  /** Appends a received chunk, without copying it. Takes ownership: see the class notes. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    if (this.chunks === NO_CHUNKS) this.chunks = [chunk];
    else this.chunks.push(chunk);
    this.unread += chunk.length;
  }

  /**
   * Returns the next frame piece, or `undefined` until more bytes are pushed.
   * @throws ProtocolError when the peer broke RFC 6455 (see the class notes).
   */
  next(): FramePiece | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.stage === READING_HEADER && !this.readHeader()) return undefined;
    return this.stage === READING_DATA ? this.readData() : this.readControl();
  }

  // ---------------------------------------------------------------- input queue

  /** Marks `count` bytes of the current chunk (of length `chunkLength`) as read. */
  private advance(count: number, chunkLength: number): void {
    this.unread -= count;
    const position = this.position + count;
    if (position !== chunkLength) {
      this.position = position;
      return;
    }
    this.position = 0;
    const next = this.chunkIndex + 1;
    if (next === this.chunks.length) {
      // All read: an idle parser holds no array.
      this.chunks = NO_CHUNKS;
      this.chunkIndex = 0;
    } else {
      this.chunks[this.chunkIndex] = EMPTY; // let the consumed chunk be collected
      this.chunkIndex = next;
    }
  }

  // ---------------------------------------------------------------- header

  private fail(code: ProtocolErrorCode, closeCode: number, message: string): never {
    const error = new ProtocolError(code, closeCode, message);
    this.failure = error;
    this.stage = READING_HEADER;
    this.chunks = NO_CHUNKS;
    this.unread = 0;
    throw error;
  }

  /** Reads a whole header if available; returns whether one was read. */
  private readHeader(): boolean {
    const chunk = this.chunks[this.chunkIndex];
    if (chunk === undefined) return false;
    if (this.headerFilled === 0) {
      // Fast path: the whole header is in the current chunk.
      const position = this.position;
      const available = chunk.length - position;
      if (available >= 2) {
        const size = headerSizeFromSecondByte(chunk[position + 1]!);
        if (available >= size) {
          this.parseHeader(chunk, position);
          this.advance(size, chunk.length);
          return true;
        }
      }
    }
    return this.gatherHeader();
  }

  /**
   * Slow path for a header split across chunks: copies it byte by byte, checking
   * each field as soon as the bytes that decide it are in.
   */
  private gatherHeader(): boolean {
    this.headerBytes ??= new Uint8Array(14);
    const bytes = this.headerBytes;
    let filled = this.headerFilled;
    let size = filled < 2 ? 2 : headerSizeFromSecondByte(bytes[1]!);
    while (filled < size) {
      const chunk = this.chunks[this.chunkIndex];
      if (chunk === undefined) {
        this.headerFilled = filled;
        return false;
      }
      bytes[filled++] = chunk[this.position]!;
      this.advance(1, chunk.length);
      if (filled === 1) {
        this.checkFirstByte(bytes[0]!);
      } else if (filled === 2) {
        this.checkSecondByte(bytes[0]!, bytes[1]!);
        size = headerSizeFromSecondByte(bytes[1]!);
      } else {
        const length7 = bytes[1]! & 127;
        if (length7 === 127 && filled === 3 && bytes[2]! >= 0x80) {
          this.fail('WS_ERR_INVALID_LENGTH', CloseCode.PROTOCOL_ERROR, 'payload length has its top bit set');
        }
        // Extended length complete (16-bit after byte 4, 64-bit after byte 10).
        if ((length7 === 126 && filled === 4) || (length7 === 127 && filled === 10)) {
          this.readLength(bytes, 0, bytes[1]!);
        }
      }
    }
    this.headerFilled = 0;
    this.parseHeader(bytes, 0);
    return true;
  }

  /** Validates and records the complete header at `source[at..]`. */
  private parseHeader(source: Uint8Array, at: number): void {
    const firstByte = source[at]!;
    const secondByte = source[at + 1]!;
    this.checkFirstByte(firstByte);
    this.checkSecondByte(firstByte, secondByte);
    const length = this.readLength(source, at, secondByte);
    const length7 = secondByte & 127;
    if ((secondByte & 0x80) !== 0) {
      const keyAt = at + (length7 < 126 ? 2 : length7 === 126 ? 4 : 10);
      this.maskKey =
        ((source[keyAt]! << 24) |
          (source[keyAt + 1]! << 16) |
          (source[keyAt + 2]! << 8) |
          source[keyAt + 3]!) >>>
        0;
      this.masked = true;
    } else {
      this.masked = false;
    }
    this.firstByte = firstByte;
    this.frameLength = length;
    this.remaining = length;
    this.firstPiece = true;
    this.stage = (firstByte & 8) !== 0 ? READING_CONTROL : READING_DATA;
  }

  private checkFirstByte(firstByte: number): void {
    const opcode = firstByte & 15;
    if (((DEFINED_OPCODES >>> opcode) & 1) === 0) {
      this.fail('WS_ERR_INVALID_OPCODE', CloseCode.PROTOCOL_ERROR, `reserved opcode ${opcode}`);
    }
    if (((firstByte >>> 4) & 7 & ~this.allowedRsv) !== 0) {
      this.fail('WS_ERR_UNEXPECTED_RSV', CloseCode.PROTOCOL_ERROR, 'RSV bit set without an extension for it');
    }
    if (opcode >= 8 && (firstByte & 0x80) === 0) {
      this.fail('WS_ERR_FRAGMENTED_CONTROL_FRAME', CloseCode.PROTOCOL_ERROR, 'fragmented control frame');
    }
  }

  private checkSecondByte(firstByte: number, secondByte: number): void {
    const masked = (secondByte & 0x80) !== 0;
    if (masked !== this.expectMasked) {
      if (masked) {
        this.fail('WS_ERR_UNEXPECTED_MASK', CloseCode.PROTOCOL_ERROR, 'frame from the server is masked');
      }
      this.fail('WS_ERR_EXPECTED_MASK', CloseCode.PROTOCOL_ERROR, 'frame from the client is not masked');
    }
    const length7 = secondByte & 127;
    if ((firstByte & 8) !== 0) {
      if (length7 > MAX_CONTROL_PAYLOAD) {
        this.fail(
          'WS_ERR_CONTROL_FRAME_TOO_LONG',
          CloseCode.PROTOCOL_ERROR,
          'control frame payload over 125 bytes',
        );
      }
    } else if (length7 < 126 && length7 > this.maxFrameSize) {
      this.fail('WS_ERR_FRAME_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, 'frame too big');
    }
  }

  /** Decodes and validates the payload length of the header at `source[at..]`. */
  private readLength(source: Uint8Array, at: number, secondByte: number): number {
    const length7 = secondByte & 127;
    if (length7 < 126) return length7;
    let length: number;
    if (length7 === 126) {
      length = (source[at + 2]! << 8) | source[at + 3]!;
      if (length < 126) {
        this.fail('WS_ERR_INVALID_LENGTH', CloseCode.PROTOCOL_ERROR, 'payload length not minimally encoded');
      }
    } else {
      const high =
        ((source[at + 2]! << 24) | (source[at + 3]! << 16) | (source[at + 4]! << 8) | source[at + 5]!) >>> 0;
      const low =
        ((source[at + 6]! << 24) | (source[at + 7]! << 16) | (source[at + 8]! << 8) | source[at + 9]!) >>> 0;
      if (high >= 0x80000000) {
        this.fail('WS_ERR_INVALID_LENGTH', CloseCode.PROTOCOL_ERROR, 'payload length has its top bit set');
      }
      if (high === 0 && low < 0x10000) {
        this.fail('WS_ERR_INVALID_LENGTH', CloseCode.PROTOCOL_ERROR, 'payload length not minimally encoded');
      }
      // Exact up to 2^53 - 1. Beyond, it may round, but never below 2^53, and
      // maxFrameSize is at most 2^53 - 1, so such a length is rejected below.
      length = high * TWO_TO_THE_32 + low;
    }
    if (length > this.maxFrameSize) {
      this.fail('WS_ERR_FRAME_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, 'frame too big');
    }
    return length;
  }

  // ---------------------------------------------------------------- payload

  private readData(): FramePiece | undefined {
    const length = this.frameLength;
    if (length === 0) {
      this.stage = READING_HEADER;
      return new Piece(this.firstByte, 0, EMPTY, true, true);
    }
    const chunk = this.chunks[this.chunkIndex];
    if (chunk === undefined) return undefined;
    const start = this.position;
    const remaining = this.remaining;
    const take = Math.min(remaining, chunk.length - start);
    // A plain Uint8Array view whatever subclass was pushed, so consumers see one shape.
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset + start, take);
    if (this.masked) applyMask(data, keyBytes(this.maskKey), length - remaining);
    const first = this.firstPiece;
    const last = take === remaining;
    this.remaining = remaining - take;
    this.firstPiece = false;
    if (last) this.stage = READING_HEADER;
    this.advance(take, chunk.length);
    return new Piece(this.firstByte, length, data, first, last);
  }

  private readControl(): FramePiece | undefined {
    const length = this.frameLength;
    let data: Uint8Array;
    if (length === 0) {
      data = EMPTY;
    } else {
      const chunk = this.chunks[this.chunkIndex];
      if (chunk === undefined) return undefined;
      const start = this.position;
      if (this.remaining === length && chunk.length - start >= length) {
        // Whole payload in this chunk: unmask in place, return a view.
        data = new Uint8Array(chunk.buffer, chunk.byteOffset + start, length);
        if (this.masked) applyMask(data, keyBytes(this.maskKey), 0);
        this.advance(length, chunk.length);
      } else {
        const gathered = this.gatherControl();
        if (gathered === undefined) return undefined;
        data = gathered;
      }
    }
    this.stage = READING_HEADER;
    return new Piece(this.firstByte, length, data, true, true);
  }

  /** Copies a control payload that spans chunks; returns it once complete. */
  private gatherControl(): Uint8Array | undefined {
    const length = this.frameLength;
    if (this.remaining === length) this.controlBuffer = new Uint8Array(length);
    const buffer = this.controlBuffer;
    let remaining = this.remaining;
    for (
      let chunk = this.chunks[this.chunkIndex];
      chunk !== undefined;
      chunk = this.chunks[this.chunkIndex]
    ) {
      const start = this.position;
      const take = Math.min(remaining, chunk.length - start);
      buffer.set(chunk.subarray(start, start + take), length - remaining);
      remaining -= take;
      this.advance(take, chunk.length);
      if (remaining === 0) break;
    }
    this.remaining = remaining;
    if (remaining !== 0) return undefined;
    this.controlBuffer = EMPTY;
    if (this.masked) applyMask(buffer, keyBytes(this.maskKey), 0);
    return buffer;
  }
}

/** Never written: the parser's `chunks` while it holds none. */
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/** Shared by every parser: a key is copied in right before each (synchronous) use. */
const KEY_BYTES = new Uint8Array(4);

function keyBytes(key: number): Uint8Array {
  KEY_BYTES[0] = key >>> 24;
  KEY_BYTES[1] = (key >>> 16) & 0xff;
  KEY_BYTES[2] = (key >>> 8) & 0xff;
  KEY_BYTES[3] = key & 0xff;
  return KEY_BYTES;
}
