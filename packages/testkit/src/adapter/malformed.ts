/**
 * Malformed input every server must refuse, as tables: the conformance suite (suite.ts) throws them
 * at each adapter, and the example tests at the example programs. Bad upgrade requests with the
 * response they must get, and bad frames (each sent after a valid handshake) with the close code
 * they must get.
 */
import { encodeFrameBytes, Opcode } from '@fullduplex/protocol';
import { upgradeRequest } from './raw-client.ts';

const MASK = new Uint8Array([1, 2, 3, 4]);
const enc = new TextEncoder();

/**
 * Malformed handshakes: what is sent, and the response it must get. The header limits are exceeded
 * both with the suite's (maxHeaderCount 50, maxHeadSize 8192) and with the defaults.
 */
export const BAD_HANDSHAKES: readonly [what: string, request: string, response: RegExp][] = [
  ['not HTTP', 'garbage\r\n\r\n', /^HTTP\/1\.1 400 /],
  [
    'POST',
    'POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    /^HTTP\/1\.1 405 /,
  ],
  ['Upgrade: h2c', upgradeRequest('/', { Upgrade: 'h2c' }), /^HTTP\/1\.1 400 /],
  ['no Connection: Upgrade', upgradeRequest('/', { Connection: 'keep-alive' }), /^HTTP\/1\.1 400 /],
  ['a short key', upgradeRequest('/', { 'Sec-WebSocket-Key': 'short' }), /^HTTP\/1\.1 400 /],
  [
    'version 8',
    upgradeRequest('/', { 'Sec-WebSocket-Version': '8' }),
    /^HTTP\/1\.1 426 [\s\S]*Sec-WebSocket-Version: 13/i,
  ],
  [
    '2000 headers',
    upgradeRequest('/', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`X-H${i}`, 'v']))),
    /^HTTP\/1\.1 431 /,
  ],
  ['a 20 kB header', upgradeRequest('/', { 'X-Big': 'a'.repeat(20000) }), /^HTTP\/1\.1 431 /],
  ['bare LF line ends', 'GET / HTTP/1.1\nHost: x\n\n', /^HTTP\/1\.1 400 /],
];

/** Malformed frames, each sent after a valid handshake, and the close code it must get. */
export const BAD_FRAMES: readonly [what: string, bytes: Uint8Array, closeCode: number][] = [
  ['an unmasked frame', encodeFrameBytes(enc.encode('x'), { opcode: Opcode.TEXT }), 1002],
  ['a reserved opcode', new Uint8Array([0x83, 0x80, 1, 2, 3, 4]), 1002],
  ['an RSV bit', encodeFrameBytes(enc.encode('x'), { opcode: Opcode.TEXT, rsv1: true, mask: MASK }), 1002],
  [
    'invalid UTF-8',
    encodeFrameBytes(new Uint8Array([0xce, 0xba, 0xed, 0xa0, 0x80]), { opcode: Opcode.TEXT, mask: MASK }),
    1007,
  ],
  // 256 MiB announced: over the suite's 1 MiB and the examples' 64 MiB maxMessageSize.
  ['an oversized frame', new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4]), 1009],
  [
    'a 64-bit length with the top bit set',
    new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    1002,
  ],
  [
    'a 1-byte close payload',
    encodeFrameBytes(new Uint8Array([3]), { opcode: Opcode.CLOSE, mask: MASK }),
    1002,
  ],
  [
    'close code 1005 on the wire',
    encodeFrameBytes(new Uint8Array([0x03, 0xed]), { opcode: Opcode.CLOSE, mask: MASK }),
    1002,
  ],
  [
    'an unexpected continuation',
    encodeFrameBytes(enc.encode('x'), { opcode: Opcode.CONTINUATION, mask: MASK }),
    1002,
  ],
];
