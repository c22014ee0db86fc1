/**
 * Hand-written seeds: valid and nearly valid inputs from the RFCs, so that fuzzing
 * starts from the interesting parts of each format instead of rediscovering them.
 * `--write-seeds` stores them in corpus/<target>/; corpus minimization always keeps them.
 */
import { concatBytes, latin1Bytes } from './bytes.ts';
import { joinInput } from './input.ts';
import { joinMessages } from './targets/inflate.ts';

export interface Seed {
  readonly name: string;
  readonly input: Uint8Array;
}

// ------------------------------------------------------------------ http

const REQUEST_KIND = 0;
const RESPONSE_KIND = 1;
const TINY_LIMITS = 1 << 1;
/** Chunking bytes: 0 one byte per read, 5 three bytes per read, 2 pseudo-random sizes. */
const BYTEWISE = 0;
const THREES = 5;
const RANDOM_SIZES = 2;

/** RFC 6455 §1.2 (and §4.1): the sample opening handshake. */
const RFC_REQUEST = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];
const RFC_RESPONSE = [
  'HTTP/1.1 101 Switching Protocols',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  'Sec-WebSocket-Protocol: chat',
];

function head(config: number, chunking: number, lines: readonly string[], after = ''): Uint8Array {
  return joinInput(config, chunking, latin1Bytes(`${lines.join('\r\n')}\r\n\r\n${after}`));
}

function replaceLine(lines: readonly string[], prefix: string, line: string | undefined): string[] {
  const out = lines.filter((l) => !l.startsWith(prefix));
  if (line !== undefined) out.splice(1, 0, line);
  return out;
}

const HTTP_SEEDS: Seed[] = [
  { name: 'rfc6455 request', input: head(REQUEST_KIND, BYTEWISE, RFC_REQUEST) },
  { name: 'rfc6455 request, 3-byte reads', input: head(REQUEST_KIND, THREES, RFC_REQUEST) },
  {
    name: 'browser request offering permessage-deflate, frame bytes after the head',
    input: head(
      REQUEST_KIND,
      RANDOM_SIZES,
      [...RFC_REQUEST, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'],
      '\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58',
    ),
  },
  {
    name: 'two extension lines, quoted parameter, lower-case header names',
    input: head(REQUEST_KIND, THREES, [
      ...RFC_REQUEST.map((line, i) => (i === 2 ? line.toLowerCase() : line)),
      'Sec-WebSocket-Extensions: x-webkit-deflate-frame',
      'sec-websocket-extensions: permessage-deflate; server_max_window_bits="10"; client_no_context_takeover',
    ]),
  },
  {
    name: 'absolute-form target, Connection list, Upgrade list',
    input: head(
      REQUEST_KIND,
      RANDOM_SIZES,
      replaceLine(
        replaceLine(
          ['GET ws://server.example.com/chat?x=1 HTTP/1.1', ...RFC_REQUEST.slice(1)],
          'Connection',
          'Connection: keep-alive, Upgrade',
        ),
        'Upgrade',
        'Upgrade: HTTP/2.0, websocket',
      ),
    ),
  },
  {
    name: 'HTTP/1.0 request (505)',
    input: head(REQUEST_KIND, BYTEWISE, ['GET /chat HTTP/1.0', ...RFC_REQUEST.slice(1)]),
  },
  { name: 'POST (405)', input: head(REQUEST_KIND, THREES, ['POST /chat HTTP/1.1', ...RFC_REQUEST.slice(1)]) },
  {
    name: 'version 8 (426)',
    input: head(
      REQUEST_KIND,
      BYTEWISE,
      replaceLine(RFC_REQUEST, 'Sec-WebSocket-Version', 'Sec-WebSocket-Version: 8'),
    ),
  },
  {
    name: 'no key (400)',
    input: head(REQUEST_KIND, RANDOM_SIZES, replaceLine(RFC_REQUEST, 'Sec-WebSocket-Key', undefined)),
  },
  {
    name: 'two Host lines, obs-text value',
    input: head(REQUEST_KIND, THREES, [
      ...RFC_REQUEST,
      'Host: other.example.com',
      'X-Name: caf\xe9\tau lait',
    ]),
  },
  {
    name: 'rfc6455 request, tiny limits (431)',
    input: head(REQUEST_KIND | TINY_LIMITS, BYTEWISE, RFC_REQUEST),
  },
  {
    name: 'TLS ClientHello on a plain port',
    input: joinInput(REQUEST_KIND, BYTEWISE, Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01)),
  },
  { name: 'rfc6455 response', input: head(RESPONSE_KIND, BYTEWISE, RFC_RESPONSE) },
  {
    name: 'response accepting permessage-deflate, a frame after the head',
    input: head(
      RESPONSE_KIND,
      RANDOM_SIZES,
      [
        ...RFC_RESPONSE,
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
      ],
      '\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00',
    ),
  },
  {
    name: 'response without reason phrase',
    input: head(RESPONSE_KIND, THREES, ['HTTP/1.1 101', ...RFC_RESPONSE.slice(1)]),
  },
  {
    name: '400 response with a body',
    input: head(
      RESPONSE_KIND,
      BYTEWISE,
      ['HTTP/1.1 400 Bad Request', 'Content-Length: 4', 'Connection: close'],
      'bad\n',
    ),
  },
  {
    name: '426 response',
    input: head(RESPONSE_KIND, RANDOM_SIZES, [
      'HTTP/1.1 426 Upgrade Required',
      'Sec-WebSocket-Version: 13',
      'Upgrade: websocket',
    ]),
  },
];

// ------------------------------------------------------------------ header values

const HEADER_VALUE_SEEDS: Seed[] = [
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; server_max_window_bits=10; client_max_window_bits="12", permessage-deflate',
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  'permessage-deflate; client_max_window_bits="1\\5"',
  'x-webkit-deflate-frame; no_context_takeover, permessage-deflate ; server_max_window_bits = 15',
  'chat, superchat',
  'websocket, HTTP/2.0',
  ' , ,keep-alive,\tUpgrade',
].map((value) => ({ name: value, input: latin1Bytes(value) }));

// ------------------------------------------------------------------ frames

const SERVER = 0;
const CLIENT = 1;
const DEFLATE = 2;
const TINY = 0 << 2;
const DEFAULTS = 3 << 2;
const NO_AUTO_PONG = 16;
const ECHO = 32;
const CLOSE_FIRST = 64;
const EOF = 128;

const MASK = [0x37, 0xfa, 0x21, 0x3d];

/** A frame as written by hand: header bytes, then payload, masked with RFC 6455's example key if asked. */
function frame(first: number, payload: readonly number[] | string, masked: boolean): Uint8Array {
  const bytes = typeof payload === 'string' ? Array.from(latin1Bytes(payload)) : [...payload];
  const length = bytes.length;
  const header = length < 126 ? [first, length] : [first, 126, length >>> 8, length & 0xff];
  if (!masked) return Uint8Array.from([...header, ...bytes]);
  header[1] = (header[1] ?? 0) | 0x80;
  return Uint8Array.from([...header, ...MASK, ...bytes.map((b, i) => b ^ MASK[i % 4]!)]);
}

function stream(config: number, chunking: number, ...frames: Uint8Array[]): Uint8Array {
  return joinInput(config, chunking, concatBytes(frames));
}

const C = (first: number, payload: readonly number[] | string) => frame(first, payload, false);
const S = (first: number, payload: readonly number[] | string) => frame(first, payload, true);
const CLOSE_1000 = [0x03, 0xe8];
const HELLO_DEFLATED = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

const FRAME_SEEDS: Seed[] = [
  // RFC 6455 §5.7, towards the client (unmasked) and towards the server (masked).
  { name: 'rfc6455 unmasked "Hello"', input: stream(CLIENT | DEFAULTS, BYTEWISE, C(0x81, 'Hello')) },
  {
    name: 'rfc6455 masked "Hello"',
    input: joinInput(
      SERVER | DEFAULTS,
      BYTEWISE,
      Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    ),
  },
  {
    name: 'rfc6455 fragmented "Hel" "lo"',
    input: stream(CLIENT | DEFAULTS, RANDOM_SIZES, C(0x01, 'Hel'), C(0x80, 'lo')),
  },
  { name: 'rfc6455 ping "Hello" (auto pong)', input: stream(CLIENT | DEFAULTS, THREES, C(0x89, 'Hello')) },
  { name: 'rfc6455 masked pong "Hello"', input: stream(SERVER | DEFAULTS, BYTEWISE, S(0x8a, 'Hello')) },
  {
    name: 'rfc6455 256-byte binary',
    input: stream(
      CLIENT | DEFAULTS,
      RANDOM_SIZES,
      C(
        0x82,
        Array.from({ length: 256 }, (_, i) => i),
      ),
    ),
  },
  {
    name: 'rfc6455 64 KiB binary header, payload truncated',
    input: joinInput(
      CLIENT | DEFAULTS,
      THREES,
      Uint8Array.of(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4),
    ),
  },
  {
    name: 'masked fragmented text with a ping between the fragments, then close',
    input: stream(
      SERVER | DEFAULTS,
      THREES,
      S(0x01, 'Hel'),
      S(0x89, 'ping'),
      S(0x80, 'lo'),
      S(0x88, [...CLOSE_1000, ...latin1Bytes('bye')]),
    ),
  },
  {
    name: 'UTF-8 "€" split across fragments, echoed',
    input: stream(SERVER | DEFAULTS | ECHO, BYTEWISE, S(0x01, [0xe2]), S(0x00, [0x82]), S(0x80, [0xac])),
  },
  {
    name: 'invalid UTF-8 (surrogate)',
    input: stream(SERVER | DEFAULTS, RANDOM_SIZES, S(0x81, [0xed, 0xa0, 0x80])),
  },
  { name: 'empty close', input: stream(CLIENT | DEFAULTS, BYTEWISE, C(0x88, [])) },
  { name: 'close with 1005 on the wire', input: stream(SERVER | DEFAULTS, BYTEWISE, S(0x88, [0x03, 0xed])) },
  { name: 'close of one byte', input: stream(CLIENT | DEFAULTS, BYTEWISE, C(0x88, [0x03])) },
  {
    name: 'we close first, the peer answers, then sends more',
    input: stream(CLIENT | DEFAULTS | CLOSE_FIRST, THREES, C(0x88, CLOSE_1000), C(0x81, 'late')),
  },
  { name: 'over the tiny limits', input: stream(SERVER | TINY, RANDOM_SIZES, S(0x81, 'x'.repeat(40))) },
  {
    name: 'too many fragments for the tiny limits',
    input: stream(
      SERVER | TINY,
      BYTEWISE,
      S(0x02, 'a'),
      S(0x00, 'b'),
      S(0x00, 'c'),
      S(0x00, 'd'),
      S(0x80, 'e'),
    ),
  },
  {
    name: 'ping without auto pong, then EOF',
    input: stream(CLIENT | DEFAULTS | NO_AUTO_PONG | EOF, BYTEWISE, C(0x89, 'x')),
  },
  { name: 'unmasked frame to a server', input: stream(SERVER | DEFAULTS, BYTEWISE, C(0x81, 'Hello')) },
  // RFC 7692 §7.2.3, towards the client.
  {
    name: 'rfc7692 compressed "Hello"',
    input: stream(CLIENT | DEFLATE | DEFAULTS, BYTEWISE, C(0xc1, HELLO_DEFLATED)),
  },
  {
    name: 'rfc7692 compressed "Hello" in two fragments',
    input: stream(
      CLIENT | DEFLATE | DEFAULTS,
      THREES,
      C(0x41, [0xf2, 0x48, 0xcd]),
      C(0x80, [0xc9, 0xc9, 0x07, 0x00]),
    ),
  },
  {
    name: 'rfc7692 "Hello" twice with context takeover',
    input: stream(
      CLIENT | DEFLATE | DEFAULTS,
      RANDOM_SIZES,
      C(0xc1, HELLO_DEFLATED),
      C(0xc1, [0xf2, 0x00, 0x11, 0x00, 0x00]),
    ),
  },
  {
    name: 'rfc7692 "Hello" in a stored block, then a ping',
    input: stream(
      CLIENT | DEFLATE | DEFAULTS,
      BYTEWISE,
      C(0xc1, [0x00, 0x05, 0x00, 0xfa, 0xff, ...latin1Bytes('Hello'), 0x00]),
      C(0x89, []),
    ),
  },
  {
    name: 'rfc7692 masked compressed "Hello" to a server, echoed',
    input: stream(SERVER | DEFLATE | DEFAULTS | ECHO, THREES, S(0xc1, HELLO_DEFLATED), S(0x81, 'plain')),
  },
  { name: 'RSV1 on a control frame', input: stream(SERVER | DEFLATE | DEFAULTS, BYTEWISE, S(0xc9, [])) },
  {
    name: 'RSV1 on a continuation',
    input: stream(CLIENT | DEFLATE | DEFAULTS, BYTEWISE, C(0x41, [0xf2]), C(0xc0, [0x48])),
  },
];

// ------------------------------------------------------------------ inflate

const NO_CONTEXT_TAKEOVER = 1;
const SMALL_SYNC_LIMIT = 2;
const maxSizeIndex = (index: number) => index << 2;
const CLIENT_SIDE = 32;

const INFLATE_SEEDS: Seed[] = [
  {
    name: 'rfc7692 "Hello" twice with context takeover',
    input: joinMessages(maxSizeIndex(5), [
      Uint8Array.from(HELLO_DEFLATED),
      Uint8Array.of(0xf2, 0x00, 0x11, 0x00, 0x00),
    ]),
  },
  {
    name: 'rfc7692 "Hello" without context takeover (sync path)',
    input: joinMessages(NO_CONTEXT_TAKEOVER | maxSizeIndex(5), [Uint8Array.from(HELLO_DEFLATED)]),
  },
  {
    name: 'rfc7692 stored block (async one-shot path)',
    input: joinMessages(NO_CONTEXT_TAKEOVER | SMALL_SYNC_LIMIT | maxSizeIndex(3), [
      Uint8Array.of(0x00, 0x05, 0x00, 0xfa, 0xff, ...latin1Bytes('Hello'), 0x00),
    ]),
  },
  {
    name: 'rfc7692 final block (BFINAL)',
    input: joinMessages(maxSizeIndex(4) | CLIENT_SIDE, [
      Uint8Array.of(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00),
    ]),
  },
  {
    name: 'rfc7692 two blocks in one message',
    input: joinMessages(NO_CONTEXT_TAKEOVER | maxSizeIndex(5), [
      Uint8Array.of(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00),
    ]),
  },
  {
    name: '"Hello" over a 1-byte limit',
    input: joinMessages(maxSizeIndex(1), [Uint8Array.from(HELLO_DEFLATED)]),
  },
  {
    name: '"Hello" at exactly a 5-byte limit, sync path',
    input: joinMessages(NO_CONTEXT_TAKEOVER | maxSizeIndex(2), [Uint8Array.from(HELLO_DEFLATED)]),
  },
  { name: 'corrupt deflate data', input: joinMessages(maxSizeIndex(5), [Uint8Array.of(0xff, 0xff, 0xff)]) },
  {
    name: 'an empty message, then "Hello"',
    input: joinMessages(CLIENT_SIDE | maxSizeIndex(6), [new Uint8Array(0), Uint8Array.from(HELLO_DEFLATED)]),
  },
];

export const SEEDS: Readonly<Record<string, readonly Seed[]>> = {
  http: HTTP_SEEDS,
  'header-values': HEADER_VALUE_SEEDS,
  frames: FRAME_SEEDS,
  inflate: INFLATE_SEEDS,
};
