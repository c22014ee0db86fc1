import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HandshakeError } from './errors.ts';
import {
  defaultReasonPhrase,
  HttpHeaders,
  type HttpHeadParseResult,
  HttpHeadParser,
  type HttpHeadParserOptions,
  type HttpRequestHead,
  type HttpResponseHead,
  serializeHttpResponse,
  serializeRequestHead,
  serializeResponseHead,
} from './http11.ts';

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function latin1(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => String.fromCharCode(b)).join('');
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function parseRequest(
  text: string | Uint8Array,
  options: Omit<HttpHeadParserOptions, 'kind'> = {},
): HttpHeadParseResult<HttpRequestHead> | undefined {
  return new HttpHeadParser({ kind: 'request', ...options }).push(
    typeof text === 'string' ? ascii(text) : text,
  );
}

function parseResponse(text: string): HttpHeadParseResult<HttpResponseHead> | undefined {
  return new HttpHeadParser({ kind: 'response' }).push(ascii(text));
}

/** The HandshakeError a request head fails with. */
function requestError(
  text: string | Uint8Array,
  options: Omit<HttpHeadParserOptions, 'kind'> = {},
): HandshakeError {
  const error = thrown(() => parseRequest(text, options));
  expect(error).toBeInstanceOf(HandshakeError);
  return error as HandshakeError;
}

function plain(head: HttpRequestHead | HttpResponseHead): Record<string, unknown> {
  return { ...head, headers: [...head.headers] };
}

// RFC 6455 §1.2.
const RFC_REQUEST =
  'GET /chat HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Origin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat, superchat\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  '\r\n';

const RFC_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  'Sec-WebSocket-Protocol: chat\r\n' +
  '\r\n';

describe('HttpHeaders', () => {
  it('looks names up case-insensitively and keeps every value', () => {
    const headers = new HttpHeaders([
      ['Accept', 'a'],
      ['X-Thing', '1'],
      ['accept', 'b'],
    ]);
    expect(headers.get('ACCEPT')).toBe('a, b');
    expect(headers.getAll('accept')).toEqual(['a', 'b']);
    expect(headers.has('x-thing')).toBe(true);
    expect(headers.get('missing')).toBeUndefined();
    expect(headers.getAll('missing')).toEqual([]);
    expect(headers.size).toBe(3);
  });

  it('iterates lines in order with their original casing', () => {
    const headers = new HttpHeaders({ 'X-B': '2', 'x-a': '1' });
    headers.append('X-B', '3');
    expect([...headers]).toEqual([
      ['X-B', '2'],
      ['x-a', '1'],
      ['X-B', '3'],
    ]);
    expect([...headers.entries()]).toEqual([...headers]);
  });

  it('set replaces every line at the position of the first', () => {
    const headers = new HttpHeaders([
      ['A', '1'],
      ['B', '2'],
      ['a', '3'],
    ]);
    headers.set('a', 'x');
    expect([...headers]).toEqual([
      ['a', 'x'],
      ['B', '2'],
    ]);
    headers.set('C', 'y');
    expect(headers.get('c')).toBe('y');
    expect(headers.size).toBe(3);
  });

  it('delete removes every line with that name', () => {
    const headers = new HttpHeaders([
      ['A', '1'],
      ['B', '2'],
      ['a', '3'],
    ]);
    expect(headers.delete('A')).toBe(true);
    expect(headers.delete('A')).toBe(false);
    expect([...headers]).toEqual([['B', '2']]);
    expect(headers.has('a')).toBe(false);
  });

  it('returns copies, so callers cannot corrupt it', () => {
    const headers = new HttpHeaders([['A', '1']]);
    headers.getAll('a').push('evil');
    for (const line of headers) line[1] = 'evil';
    expect(headers.get('a')).toBe('1');
  });

  it('treats prototype property names as ordinary names', () => {
    const headers = new HttpHeaders();
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf']) {
      expect(headers.has(name)).toBe(false);
      expect(headers.get(name)).toBeUndefined();
      expect(headers.getAll(name)).toEqual([]);
    }
    headers.append('__proto__', 'x');
    headers.append('constructor', 'y');
    expect(headers.get('__PROTO__')).toBe('x');
    expect(headers.get('Constructor')).toBe('y');
    expect(headers.size).toBe(2);
  });

  it('rejects names that are not tokens and values that could inject lines', () => {
    const headers = new HttpHeaders();
    for (const name of ['', 'A B', 'A:', 'A\r\nB', 'é'])
      expect(() => headers.append(name, 'v')).toThrow(TypeError);
    for (const value of ['a\r\nEvil: 1', 'a\nb', 'a\rb', 'a\u0000b', 'a\u0100b']) {
      expect(() => headers.append('X', value)).toThrow(TypeError);
      expect(() => headers.set('X', value)).toThrow(TypeError);
    }
    expect(() => new HttpHeaders({ 'Bad Name': 'v' })).toThrow(TypeError);
    expect(headers.size).toBe(0);
  });
});

describe('HttpHeadParser: requests', () => {
  it('parses the RFC 6455 §1.2 client handshake', () => {
    const result = parseRequest(RFC_REQUEST);
    expect(result).toBeDefined();
    const { head, rest } = result!;
    expect(head.method).toBe('GET');
    expect(head.target).toBe('/chat');
    expect(head.versionMinor).toBe(1);
    expect(head.headers.get('host')).toBe('server.example.com');
    expect(head.headers.get('sec-websocket-protocol')).toBe('chat, superchat');
    expect(head.headers.size).toBe(7);
    expect(rest).toHaveLength(0);
  });

  it('gives the same result fed one byte at a time', () => {
    const whole = parseRequest(RFC_REQUEST)!;
    const parser = new HttpHeadParser({ kind: 'request' });
    const bytes = ascii(RFC_REQUEST);
    let result: HttpHeadParseResult<HttpRequestHead> | undefined;
    for (let i = 0; i < bytes.length; i++) {
      result = parser.push(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) expect(result).toBeUndefined();
    }
    expect(result).toBeDefined();
    expect(plain(result!.head)).toEqual(plain(whole.head));
    expect(parser.done).toBe(true);
  });

  it('gives the same result for any chunking', () => {
    const bytes = ascii(RFC_REQUEST);
    const expected = plain(parseRequest(RFC_REQUEST)!.head);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 10 }),
        (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const parser = new HttpHeadParser({ kind: 'request' });
          let result: HttpHeadParseResult<HttpRequestHead> | undefined;
          for (let i = 0; i + 1 < points.length; i++) {
            expect(result).toBeUndefined();
            result = parser.push(bytes.subarray(points[i], points[i + 1]));
          }
          expect(plain(result!.head)).toEqual(expected);
        },
      ),
    );
  });

  it('returns the bytes after the head as a view of the same chunk', () => {
    const frame = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    const chunk = concat(ascii(RFC_REQUEST), frame);
    const { rest } = parseRequest(chunk)!;
    expect(rest).toEqual(frame);
    expect(rest.buffer).toBe(chunk.buffer);
    expect(rest.byteOffset).toBe(RFC_REQUEST.length);
  });

  it('returns the bytes after the head when it completes mid-chunk after earlier chunks', () => {
    const parser = new HttpHeadParser({ kind: 'request' });
    const bytes = ascii(`${RFC_REQUEST}NEXT`);
    expect(parser.push(bytes.subarray(0, 10))).toBeUndefined();
    expect(parser.push(bytes.subarray(10, RFC_REQUEST.length - 1))).toBeUndefined();
    const result = parser.push(bytes.subarray(RFC_REQUEST.length - 1));
    expect(latin1(result!.rest)).toBe('NEXT');
  });

  it('refuses more input once the head is complete', () => {
    const parser = new HttpHeadParser({ kind: 'request' });
    expect(parser.push(ascii(RFC_REQUEST))).toBeDefined();
    expect(() => parser.push(Uint8Array.of(0x81))).toThrow(TypeError);
    expect(() => parser.push(new Uint8Array(0))).toThrow(TypeError);
  });

  it('keeps failing with the same error after a failure', () => {
    const parser = new HttpHeadParser({ kind: 'request' });
    const first = thrown(() => parser.push(ascii('GET / HTTP/1.1\n')));
    expect(first).toBeInstanceOf(HandshakeError);
    expect(thrown(() => parser.push(ascii('\r\n')))).toBe(first);
  });

  it('trims optional whitespace around values and keeps inner whitespace', () => {
    const { head } = parseRequest('GET / HTTP/1.1\r\nA: \t x  y \t\r\nB:\r\nC:z\r\n\r\n')!;
    expect(head.headers.get('a')).toBe('x  y');
    expect(head.headers.get('b')).toBe('');
    expect(head.headers.get('c')).toBe('z');
  });

  it('keeps obs-text bytes as latin1 characters', () => {
    const bytes = concat(ascii('GET / HTTP/1.1\r\nX: caf'), Uint8Array.of(0xe9), ascii('\r\n\r\n'));
    expect(parseRequest(bytes)!.head.headers.get('x')).toBe('caf\u00e9');
  });

  it('accepts prototype property names as header names', () => {
    const { head } = parseRequest('GET / HTTP/1.1\r\n__proto__: a\r\nconstructor: b\r\ntoString: c\r\n\r\n')!;
    expect(head.headers.get('__proto__')).toBe('a');
    expect(head.headers.get('constructor')).toBe('b');
    expect(head.headers.get('tostring')).toBe('c');
    expect(head.headers.has('hasOwnProperty')).toBe(false);
  });

  it('accepts absolute-form targets with http(s) and ws(s) schemes', () => {
    for (const target of ['http://a/b', 'HTTPS://a', 'ws://a:1/x?y', 'wss://a/']) {
      expect(parseRequest(`GET ${target} HTTP/1.1\r\n\r\n`)!.head.target).toBe(target);
    }
  });

  it('parses HTTP/1.0 and later 1.x minor versions (the handshake decides)', () => {
    expect(parseRequest('GET / HTTP/1.0\r\n\r\n')!.head.versionMinor).toBe(0);
    expect(parseRequest('GET / HTTP/1.2\r\n\r\n')!.head.versionMinor).toBe(2);
  });

  it('rejects other major versions with 505', () => {
    for (const version of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0']) {
      expect(requestError(`GET / ${version}\r\n\r\n`)).toMatchObject({
        code: 'HTTP_UNSUPPORTED_VERSION',
        status: 505,
      });
    }
  });

  it('rejects malformed request lines with 400', () => {
    const lines = [
      '', // empty line before the request line
      'GET /',
      'GET / HTTP/1.1 ',
      'GET  / HTTP/1.1',
      ' GET / HTTP/1.1',
      'G(T / HTTP/1.1',
      'GET / http/1.1',
      'GET / HTTP/1.1x',
      'GET / HTTP/11',
      'GET / HTTP/2',
      'GET / HTTP/a.1',
      'GET * HTTP/1.1',
      'GET chat HTTP/1.1',
      'GET ftp://a/ HTTP/1.1',
      'GET /a\u0001b HTTP/1.1',
      'GET /a\u007fb HTTP/1.1',
      'GET /caf\u00e9 HTTP/1.1',
      'GET /a\tb HTTP/1.1',
    ];
    for (const line of lines) {
      expect(requestError(`${line}\r\nHost: a\r\n\r\n`)).toMatchObject({
        code: 'HTTP_MALFORMED',
        status: 400,
      });
    }
  });

  it('fails at the first byte that cannot start a method, without waiting for a line end', () => {
    // A TLS ClientHello on a plain port, binary junk, a stray space: no CRLF will come.
    const starts = [
      Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00),
      Uint8Array.of(0x00),
      ascii(' '),
      ascii('GE\u0000'),
      ascii('G{'),
    ];
    for (const bytes of starts) {
      const parser = new HttpHeadParser({ kind: 'request' });
      expect(() => parser.push(bytes)).toThrow(HandshakeError);
      expect(() => parser.push(ascii('T / HTTP/1.1\r\n'))).toThrow(/Invalid request method/);
    }
    // Token characters and the space after the method keep it waiting.
    const waiting = new HttpHeadParser({ kind: 'request' });
    expect(waiting.push(ascii("M-SEARCH!#$%&'*+.^_`|~ /\u0001"))).toBeUndefined();
  });

  it('rejects malformed header lines with 400', () => {
    const lines = [
      ' folded: value', // obs-fold
      '\tfolded',
      'Name : value', // whitespace before the colon
      ': value',
      'No colon',
      'Bad(name): value',
      'Na\u00e9me: value',
      'X: a\u0000b',
      'X: a\u0001b',
      'X: a\u007fb',
      'X: a\u001bb',
    ];
    for (const line of lines) {
      expect(requestError(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`)).toMatchObject({
        code: 'HTTP_MALFORMED',
        status: 400,
      });
    }
  });

  it('rejects a continuation line right after the request line', () => {
    expect(requestError('GET / HTTP/1.1\r\n folded\r\n\r\n')).toMatchObject({ status: 400 });
  });

  it('requires CRLF line endings: bare LF and bare CR are 400', () => {
    for (const text of [
      'GET / HTTP/1.1\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n\n',
      'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n',
      'GET / HTTP/1.1\r\r\nHost: a\r\n\r\n',
    ]) {
      expect(requestError(text)).toMatchObject({ code: 'HTTP_MALFORMED', status: 400 });
    }
  });

  it('rejects a too-long request line with 414 and a too-long header line with 431', () => {
    const longTarget = `/${'a'.repeat(100)}`;
    expect(requestError(`GET ${longTarget} HTTP/1.1\r\n\r\n`, { maxLineLength: 50 })).toMatchObject({
      code: 'HTTP_LINE_TOO_LONG',
      status: 414,
    });
    expect(
      requestError(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}\r\n\r\n`, { maxLineLength: 50 }),
    ).toMatchObject({
      code: 'HTTP_LINE_TOO_LONG',
      status: 431,
    });
  });

  it('accepts a line of exactly maxLineLength bytes', () => {
    const line = `X: ${'a'.repeat(47)}`; // 50 bytes
    expect(parseRequest(`GET / HTTP/1.1\r\n${line}\r\n\r\n`, { maxLineLength: 50 })).toBeDefined();
    expect(requestError(`GET / HTTP/1.1\r\n${line}a\r\n\r\n`, { maxLineLength: 50 })).toMatchObject({
      status: 431,
    });
  });

  it('counts the whole head, CRLFs included, against maxHeadSize', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    expect(parseRequest(text, { maxHeadSize: text.length })).toBeDefined();
    expect(requestError(text, { maxHeadSize: text.length - 1 })).toMatchObject({
      code: 'HTTP_HEAD_TOO_LARGE',
      status: 431,
    });
  });

  it('does not count the bytes after the head against maxHeadSize', () => {
    const text = 'GET / HTTP/1.1\r\n\r\n';
    const result = parseRequest(`${text}${'x'.repeat(1000)}`, { maxHeadSize: text.length });
    expect(result!.rest).toHaveLength(1000);
  });

  it('ends a 64 KiB header fed one byte at a time in 431', () => {
    const bytes = ascii(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(65536)}\r\n\r\n`);
    const parser = new HttpHeadParser({ kind: 'request' });
    let error: unknown;
    for (let i = 0; i < bytes.length && error === undefined; i++) {
      try {
        expect(parser.push(bytes.subarray(i, i + 1))).toBeUndefined();
      } catch (caught) {
        error = caught;
      }
    }
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(431);
  });

  it('ends a 64 KiB head of many small lines in 431 HTTP_HEAD_TOO_LARGE', () => {
    const lines = Array.from({ length: 6000 }, (_, i) => `X${i}: v\r\n`).join('');
    const bytes = ascii(`GET / HTTP/1.1\r\n${lines}\r\n`);
    const parser = new HttpHeadParser({ kind: 'request', maxHeaderCount: 100_000 });
    const error = thrown(() => {
      for (let i = 0; i < bytes.length; i++) parser.push(bytes.subarray(i, i + 1));
    });
    expect(error).toMatchObject({ code: 'HTTP_HEAD_TOO_LARGE', status: 431 });
  });

  it('accepts a large head fed one byte at a time when the limits allow it', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `X-Header-${i}: ${'v'.repeat(100)}\r\n`).join('');
    const bytes = ascii(`GET / HTTP/1.1\r\n${lines}\r\n`);
    const parser = new HttpHeadParser({ kind: 'request', maxHeadSize: 1 << 20, maxHeaderCount: 5000 });
    let result: HttpHeadParseResult<HttpRequestHead> | undefined;
    for (let i = 0; i < bytes.length; i++) result = parser.push(bytes.subarray(i, i + 1));
    expect(result!.head.headers.size).toBe(2000);
  });

  it('rejects more than maxHeaderCount headers with 431 (2000 headers)', () => {
    const lines = Array.from({ length: 2000 }, () => 'A: b\r\n').join('');
    expect(requestError(`GET / HTTP/1.1\r\n${lines}\r\n`)).toMatchObject({
      code: 'HTTP_TOO_MANY_HEADERS',
      status: 431,
    });
  });

  it('allows exactly maxHeaderCount headers', () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `H${i}: v\r\n`).join('');
    expect(parseRequest(`GET / HTTP/1.1\r\n${lines(100)}\r\n`)!.head.headers.size).toBe(100);
    expect(requestError(`GET / HTTP/1.1\r\n${lines(101)}\r\n`)).toMatchObject({ status: 431 });
    expect(requestError(`GET / HTTP/1.1\r\n${lines(4)}\r\n`, { maxHeaderCount: 3 })).toMatchObject({
      status: 431,
    });
  });

  it('validates its limits', () => {
    for (const options of [{ maxHeadSize: 0 }, { maxHeaderCount: -1 }, { maxLineLength: 1.5 }]) {
      expect(() => new HttpHeadParser({ kind: 'request', ...options })).toThrow(RangeError);
    }
  });

  it('never throws anything but HandshakeError on arbitrary bytes', () => {
    const interesting = fc.constantFrom(
      ...['GET', ' ', '/', 'HTTP/1.1', '\r\n', '\r', '\n', ':', 'Host', '\t', 'a', '\u0000', '\u00ff'].map(
        ascii,
      ),
    );
    const chunk = fc.oneof(fc.uint8Array({ maxLength: 40 }), interesting);
    fc.assert(
      fc.property(
        fc.constantFrom<'request' | 'response'>('request', 'response'),
        fc.array(chunk),
        (kind, chunks) => {
          const parser = new HttpHeadParser({ kind, maxHeadSize: 200, maxLineLength: 60, maxHeaderCount: 5 });
          try {
            for (const c of chunks) if (parser.push(c) !== undefined) return;
          } catch (error) {
            expect(error).toBeInstanceOf(HandshakeError);
            const { status } = error as HandshakeError;
            expect([0, 400, 414, 431, 505]).toContain(status);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('HttpHeadParser: responses', () => {
  it('parses the RFC 6455 §1.2 server handshake', () => {
    const { head, rest } = parseResponse(RFC_RESPONSE)!;
    expect(head).toMatchObject({ versionMinor: 1, status: 101, reason: 'Switching Protocols' });
    expect(head.headers.get('sec-websocket-accept')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(rest).toHaveLength(0);
  });

  it('accepts an empty reason phrase, with or without its space', () => {
    expect(parseResponse('HTTP/1.1 101 \r\n\r\n')!.head).toMatchObject({ status: 101, reason: '' });
    expect(parseResponse('HTTP/1.1 404\r\n\r\n')!.head).toMatchObject({ status: 404, reason: '' });
    expect(parseResponse('HTTP/1.1 400 Bad  Request\t!\r\n\r\n')!.head.reason).toBe('Bad  Request\t!');
  });

  it('rejects malformed status lines, reporting status 0', () => {
    for (const line of [
      'HTTP/1.1',
      'HTTP/1.1 10',
      'HTTP/1.1 1011',
      'HTTP/1.1 1O1 x',
      'HTTP/1.1 099 x',
      'HTTP/1.1  101 x',
      'HTTP/1.1 101 a\u0000',
      'HTTP/1.1x 101 x',
      'ICY 200 OK',
    ]) {
      const error = thrown(() => parseResponse(`${line}\r\n\r\n`));
      expect(error).toBeInstanceOf(HandshakeError);
      expect(error).toMatchObject({ code: 'HTTP_MALFORMED', status: 0 });
    }
    expect(thrown(() => parseResponse('HTTP/2.0 101 x\r\n\r\n'))).toMatchObject({
      code: 'HTTP_UNSUPPORTED_VERSION',
      status: 0,
    });
  });

  it('reports limits with status 0 too', () => {
    const parser = new HttpHeadParser({ kind: 'response', maxLineLength: 10 });
    expect(thrown(() => parser.push(ascii('HTTP/1.1 101 Switching Protocols\r\n')))).toMatchObject({
      code: 'HTTP_LINE_TOO_LONG',
      status: 0,
    });
  });
});

describe('serializers', () => {
  it('serializes a request head', () => {
    const bytes = serializeRequestHead({
      method: 'GET',
      target: '/chat?x=1',
      headers: [
        ['Host', 'example.com'],
        ['X', ''],
      ],
    });
    expect(latin1(bytes)).toBe('GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nX: \r\n\r\n');
  });

  it('serializes a response head with the default reason phrase', () => {
    const bytes = serializeResponseHead({ status: 101, headers: { Upgrade: 'websocket' } });
    expect(latin1(bytes)).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    expect(latin1(serializeResponseHead({ status: 299, headers: [] }))).toBe('HTTP/1.1 299 \r\n\r\n');
    expect(latin1(serializeResponseHead({ status: 200, reason: 'Fine', headers: [] }))).toBe(
      'HTTP/1.1 200 Fine\r\n\r\n',
    );
  });

  it('knows the common reason phrases', () => {
    const expected: [number, string][] = [
      [101, 'Switching Protocols'],
      [400, 'Bad Request'],
      [401, 'Unauthorized'],
      [403, 'Forbidden'],
      [404, 'Not Found'],
      [405, 'Method Not Allowed'],
      [414, 'URI Too Long'],
      [426, 'Upgrade Required'],
      [429, 'Too Many Requests'],
      [431, 'Request Header Fields Too Large'],
      [500, 'Internal Server Error'],
      [503, 'Service Unavailable'],
      [505, 'HTTP Version Not Supported'],
    ];
    for (const [status, phrase] of expected) expect(defaultReasonPhrase(status)).toBe(phrase);
    expect(defaultReasonPhrase(799)).toBe('');
  });

  it('rejects header injection', () => {
    const bad: [string, string][] = [
      ['X', 'a\r\nSet-Cookie: evil'],
      ['X', 'a\nb'],
      ['X', 'a\rb'],
      ['X', 'a\u0000b'],
      ['X', '\u2028'],
      ['X\r\nEvil', 'a'],
      ['X Y', 'a'],
      ['X:', 'a'],
      ['', 'a'],
    ];
    for (const header of bad) {
      expect(() => serializeRequestHead({ method: 'GET', target: '/', headers: [header] })).toThrow(
        TypeError,
      );
      expect(() => serializeResponseHead({ status: 400, headers: [header] })).toThrow(TypeError);
      expect(() => serializeHttpResponse({ status: 400, headers: [header] })).toThrow(TypeError);
    }
  });

  it('rejects invalid start-line parts', () => {
    for (const method of ['', 'G T', 'GET\r\n']) {
      expect(() => serializeRequestHead({ method, target: '/', headers: [] })).toThrow(TypeError);
    }
    for (const target of ['', '/a b', '/a\r\nX: y', '/\u00e9']) {
      expect(() => serializeRequestHead({ method: 'GET', target, headers: [] })).toThrow(TypeError);
    }
    for (const status of [99, 1000, 200.5, Number.NaN]) {
      expect(() => serializeResponseHead({ status, headers: [] })).toThrow(RangeError);
    }
    expect(() => serializeResponseHead({ status: 200, reason: 'OK\r\nX: y', headers: [] })).toThrow(
      TypeError,
    );
  });

  it('builds a complete error response with Content-Length and Connection: close', () => {
    const bytes = serializeHttpResponse({ status: 400, body: 'caf\u00e9\n' });
    const { head, rest } = new HttpHeadParser({ kind: 'response' }).push(bytes)!;
    expect(head).toMatchObject({ status: 400, reason: 'Bad Request' });
    expect(head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(head.headers.get('content-length')).toBe('6');
    expect(head.headers.get('connection')).toBe('close');
    expect(rest).toEqual(Uint8Array.of(0x63, 0x61, 0x66, 0xc3, 0xa9, 0x0a));
  });

  it('sends byte bodies as given and no body as Content-Length: 0', () => {
    const withBytes = serializeHttpResponse({
      status: 403,
      reason: 'Nope',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Uint8Array.of(1, 2, 3),
    });
    const parsed = new HttpHeadParser({ kind: 'response' }).push(withBytes)!;
    expect(parsed.head.reason).toBe('Nope');
    expect(parsed.head.headers.get('content-type')).toBe('application/octet-stream');
    expect(parsed.rest).toEqual(Uint8Array.of(1, 2, 3));

    const empty = new HttpHeadParser({ kind: 'response' }).push(serializeHttpResponse({ status: 503 }))!;
    expect(empty.head.headers.get('content-length')).toBe('0');
    expect(empty.head.headers.has('content-type')).toBe(false);
    expect(empty.rest).toHaveLength(0);
  });

  it('refuses framing headers in serializeHttpResponse', () => {
    for (const name of ['Content-Length', 'transfer-encoding', 'CONNECTION']) {
      expect(() => serializeHttpResponse({ status: 400, headers: [[name, '1']] })).toThrow(TypeError);
    }
  });

  const tokenArb = fc.string({
    unit: fc.constantFrom(
      ..."!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split(''),
    ),
    minLength: 1,
    maxLength: 10,
  });
  // Values without leading/trailing whitespace, since the parser trims it.
  const valueArb = fc
    .string({
      unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x7e : c)),
    })
    .map((s) => s.replace(/^ +| +$/g, ''));
  const headersArb = fc.array(fc.tuple(tokenArb, valueArb), { maxLength: 10 });

  it('round-trips random request heads', () => {
    const targetArb = fc
      .string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 20,
      })
      .map((s) => `/${s}`);
    fc.assert(
      fc.property(
        tokenArb,
        targetArb,
        headersArb,
        fc.uint8Array({ maxLength: 8 }),
        (method, target, headers, tail) => {
          const bytes = concat(serializeRequestHead({ method, target, headers }), tail);
          const { head, rest } = new HttpHeadParser({ kind: 'request' }).push(bytes)!;
          expect(head.method).toBe(method);
          expect(head.target).toBe(target);
          expect(head.versionMinor).toBe(1);
          expect([...head.headers]).toEqual(headers);
          expect(rest).toEqual(tail);
        },
      ),
    );
  });

  it('round-trips random response heads', () => {
    const reasonArb = valueArb.map((s) => s.replace(/^\t+/, ''));
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 999 }), reasonArb, headersArb, (status, reason, headers) => {
        const bytes = serializeResponseHead({ status, reason, headers });
        const { head } = new HttpHeadParser({ kind: 'response' }).push(bytes)!;
        expect(head.status).toBe(status);
        expect(head.reason).toBe(reason);
        expect([...head.headers]).toEqual(headers);
      }),
    );
  });
});
