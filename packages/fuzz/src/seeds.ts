/**
 * Hand-written seeds: valid and nearly valid inputs from the RFCs, so that fuzzing
 * starts from the interesting parts of each format instead of rediscovering them.
 * `--write-seeds` stores them in corpus/<target>/; corpus minimization always keeps them.
 */
import { latin1Bytes } from './bytes.ts';
import { joinInput } from './input.ts';

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

export const SEEDS: Readonly<Record<string, readonly Seed[]>> = {
  http: HTTP_SEEDS,
  'header-values': HEADER_VALUE_SEEDS,
};
