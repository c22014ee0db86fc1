/**
 * HTTP/1.1 message heads (RFC 7230 §3): just enough HTTP for the WebSocket
 * opening handshake. An incremental, linear-time head parser plus serializers.
 *
 * Bytes are mapped to strings as latin1 (one byte = one UTF-16 code unit), so any
 * `obs-text` in a header value survives unchanged and serializing writes it back.
 *
 * Parsing is strict, because the head comes from an untrusted peer:
 * - lines must end in CRLF; a bare LF or bare CR is malformed (400);
 * - no empty lines before the start line, no obs-fold (a header line starting with
 *   SP or HTAB), no whitespace between a header name and its colon (400);
 * - the version must be `HTTP/1.<digit>`; another major version such as `HTTP/2.0`
 *   is 505 `HTTP_UNSUPPORTED_VERSION`, anything else not of the form
 *   `HTTP/<digit>.<digit>` is 400. `HTTP/1.0` parses; the handshake rejects it;
 * - the request target must be origin-form (`/…`) or absolute-form with an http,
 *   https, ws or wss scheme, made of visible ASCII only.
 *
 * Errors are {@link HandshakeError}s whose `status` is the status a server should
 * answer with. When parsing a response (client side) nothing can be answered and
 * no status was received, so `status` is 0.
 */

import { HandshakeError, type HandshakeErrorCode } from './errors.ts';
import { asciiLowerCase, isToken, isTokenChar } from './header-values.ts';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const SLASH = 0x2f;
const DEL = 0x7f;

// ---------------------------------------------------------------------------
// Headers

/** Header fields given as pairs (e.g. an {@link HttpHeaders}) or as a plain record. */
export type HttpHeadersInit = Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

/**
 * An ordered multimap of header fields with case-insensitive names.
 *
 * Every field line is kept with its original name casing and position. Lookups go
 * through a `Map` keyed by the ASCII-lowercased name, so names such as `__proto__`
 * or `constructor` are ordinary keys.
 */
export class HttpHeaders implements Iterable<[string, string]> {
  /** Field lines in order, as `[name as written, value]`. */
  #lines: [string, string][] = [];
  /** Lowercased name → values in order. */
  #values = new Map<string, string[]>();

  /**
   * @param init Initial fields, appended in order.
   * @throws TypeError if a name is not a token or a value could not be serialized.
   */
  constructor(init?: HttpHeadersInit) {
    if (init !== undefined) {
      for (const [name, value] of headerPairs(init)) this.append(name, value);
    }
  }

  /** The number of field lines. */
  get size(): number {
    return this.#lines.length;
  }

  /**
   * Adds a field line after the existing ones.
   * @throws TypeError if `name` is not a token or `value` contains CR, LF, NUL or a character above U+00FF.
   */
  append(name: string, value: string): void {
    assertHeader(name, value);
    this.#lines.push([name, value]);
    const key = asciiLowerCase(name);
    const values = this.#values.get(key);
    if (values === undefined) this.#values.set(key, [value]);
    else values.push(value);
  }

  /**
   * Replaces all lines named `name` with one line, at the position of the first
   * (or at the end if there was none).
   * @throws TypeError like {@link HttpHeaders.append}.
   */
  set(name: string, value: string): void {
    assertHeader(name, value);
    const key = asciiLowerCase(name);
    if (!this.#values.has(key)) {
      this.append(name, value);
      return;
    }
    let replaced = false;
    this.#lines = this.#lines.filter((line) => {
      if (asciiLowerCase(line[0]) !== key) return true;
      if (replaced) return false;
      replaced = true;
      line[0] = name;
      line[1] = value;
      return true;
    });
    this.#values.set(key, [value]);
  }

  /** Removes every line named `name`; returns whether there was one. */
  delete(name: string): boolean {
    const key = asciiLowerCase(name);
    if (!this.#values.delete(key)) return false;
    this.#lines = this.#lines.filter((line) => asciiLowerCase(line[0]) !== key);
    return true;
  }

  /** Whether at least one line is named `name`. */
  has(name: string): boolean {
    return this.#values.has(asciiLowerCase(name));
  }

  /** The values of all lines named `name` joined with `", "` (RFC 7230 §3.2.2), or `undefined`. */
  get(name: string): string | undefined {
    return this.#values.get(asciiLowerCase(name))?.join(', ');
  }

  /** The values of all lines named `name`, in order (a copy; empty if none). */
  getAll(name: string): string[] {
    return [...(this.#values.get(asciiLowerCase(name)) ?? [])];
  }

  /** Iterates `[name, value]` per field line, in order, names as written. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const [name, value] of this.#lines) yield [name, value];
  }

  /** Same as iterating the headers. */
  entries(): IterableIterator<[string, string]> {
    return this[Symbol.iterator]();
  }
}

/** Iterates the pairs of a {@link HttpHeadersInit}; a record's own enumerable string keys only. */
export function headerPairs(init: HttpHeadersInit): Iterable<readonly [string, string]> {
  if (isIterable(init)) return init;
  return Object.entries(init);
}

function isIterable(value: object): value is Iterable<readonly [string, string]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** Header-injection guard for anything we serialize: token names, no CR/LF/NUL, latin1 only. */
function assertHeader(name: string, value: string): void {
  if (typeof name !== 'string' || !isToken(name)) {
    throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
  }
  if (typeof value !== 'string') throw new TypeError(`Header ${name} has a non-string value`);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === CR || c === LF || c === 0 || c > 0xff) {
      throw new TypeError(`Invalid character in the value of header ${name}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Heads

/** A parsed HTTP/1.x request head. */
export interface HttpRequestHead {
  /** The method token, case-sensitive (`GET`). */
  readonly method: string;
  /** The request target as sent: `/path?query` or an absolute URL. */
  readonly target: string;
  /** The minor version of `HTTP/1.x`; the major version is always 1. */
  readonly versionMinor: number;
  readonly headers: HttpHeaders;
}

/** A parsed HTTP/1.x response head. */
export interface HttpResponseHead {
  /** The minor version of `HTTP/1.x`; the major version is always 1. */
  readonly versionMinor: number;
  /** The three-digit status code. */
  readonly status: number;
  /** The reason phrase, possibly empty. */
  readonly reason: string;
  readonly headers: HttpHeaders;
}

/** Which head a parser reads: a request (server side) or a response (client side). */
export type HttpHeadKind = 'request' | 'response';

/** The head type a parser of the given kind produces. */
export type HttpHeadOf<K extends HttpHeadKind> = K extends 'request' ? HttpRequestHead : HttpResponseHead;

/** Options for {@link HttpHeadParser}. */
export interface HttpHeadParserOptions<K extends HttpHeadKind = HttpHeadKind> {
  readonly kind: K;
  /** Maximum size of the whole head in bytes, including every CRLF and the final blank line. Default 16384. */
  readonly maxHeadSize?: number;
  /** Maximum number of header field lines. Default 100. */
  readonly maxHeaderCount?: number;
  /** Maximum length of one line in bytes, excluding its CRLF. Default 8192. */
  readonly maxLineLength?: number;
}

/** A complete head and the bytes that followed it in the same chunk. */
export interface HttpHeadParseResult<H> {
  readonly head: H;
  /**
   * The bytes after the head's blank line in the chunk that completed it (a view
   * into that chunk, not a copy). On a WebSocket connection these are already
   * frame bytes and must be fed to the frame parser.
   */
  readonly rest: Uint8Array;
}

/**
 * Incremental HTTP/1.1 head parser.
 *
 * Feed bytes as they arrive with {@link HttpHeadParser.push}. Every byte is looked
 * at once, whatever the chunking: only the current unfinished line is buffered
 * and each line is parsed once when its CRLF arrives, so one-byte-at-a-time input
 * costs the same as a single chunk (unlike the quadratic rescanning of
 * tungstenite CVE-2023-43669). Limits are enforced as bytes arrive, before a
 * whole oversized line is buffered.
 */
export class HttpHeadParser<K extends HttpHeadKind> {
  readonly kind: K;
  readonly #maxHeadSize: number;
  readonly #maxHeaderCount: number;
  readonly #maxLineLength: number;

  /** The unfinished line, without its CR; grown by doubling up to the line limit. */
  #line = new Uint8Array(256);
  #lineLength = 0;
  /** A CR was the last byte seen; only LF may follow. */
  #pendingCR = false;
  #headSize = 0;
  #startLine: { method: string; target: string; versionMinor: number } | undefined;
  #response: { versionMinor: number; status: number; reason: string } | undefined;
  #headers = new HttpHeaders();
  /** Still reading a request's method: every byte must be a token character or the space after it. */
  #inMethod: boolean;
  #state: 'parsing' | 'done' | 'failed' = 'parsing';
  #failure: HandshakeError | undefined;

  /** @throws RangeError if a limit is not a positive integer. */
  constructor(options: HttpHeadParserOptions<K>) {
    if (options.kind !== 'request' && options.kind !== 'response') {
      throw new TypeError(`kind must be 'request' or 'response'`);
    }
    this.kind = options.kind;
    this.#inMethod = options.kind === 'request';
    this.#maxHeadSize = positiveInteger(options.maxHeadSize ?? 16384, 'maxHeadSize');
    this.#maxHeaderCount = positiveInteger(options.maxHeaderCount ?? 100, 'maxHeaderCount');
    this.#maxLineLength = positiveInteger(options.maxLineLength ?? 8192, 'maxLineLength');
  }

  /** Whether a complete head has been returned. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Consumes the next bytes of the stream.
   *
   * @returns `undefined` while the head is incomplete, else the head and the bytes
   *   after it in `chunk`.
   * @throws HandshakeError if the head is malformed or exceeds a limit; every later
   *   call throws the same error.
   * @throws TypeError if called again after the head was complete.
   */
  push(chunk: Uint8Array): HttpHeadParseResult<HttpHeadOf<K>> | undefined {
    if (this.#state === 'done')
      throw new TypeError('HttpHeadParser.push() called after the head was complete');
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return this.#consume(chunk);
    } catch (error) {
      if (error instanceof HandshakeError) {
        this.#state = 'failed';
        this.#failure = error;
      }
      throw error;
    }
  }

  #consume(chunk: Uint8Array): HttpHeadParseResult<HttpHeadOf<K>> | undefined {
    for (let i = 0; i < chunk.length; i++) {
      if (++this.#headSize > this.#maxHeadSize) {
        throw this.#error('HTTP_HEAD_TOO_LARGE', 431, `HTTP head exceeds ${this.#maxHeadSize} bytes`);
      }
      const byte = chunk[i]!;
      if (this.#pendingCR) {
        if (byte !== LF) throw this.#error('HTTP_MALFORMED', 400, 'Bare CR in HTTP head');
        this.#pendingCR = false;
        if (this.#endLine()) {
          this.#state = 'done';
          return { head: this.#finish(), rest: chunk.subarray(i + 1) };
        }
      } else if (byte === CR) {
        this.#pendingCR = true;
      } else if (byte === LF) {
        throw this.#error('HTTP_MALFORMED', 400, 'HTTP lines must end with CRLF');
      } else {
        if (this.#inMethod) this.#checkMethodByte(byte);
        this.#appendToLine(byte);
      }
    }
    return undefined;
  }

  /**
   * Fails at the first byte that cannot be part of a method (a TLS ClientHello on a
   * plain port, binary junk) instead of waiting for a line end that may never come.
   */
  #checkMethodByte(byte: number): void {
    if (byte === SPACE && this.#lineLength > 0) this.#inMethod = false;
    else if (!isTokenChar(byte)) throw this.#malformed('Invalid request method');
  }

  #appendToLine(byte: number): void {
    if (this.#lineLength === this.#maxLineLength) {
      const isStartLine = this.#startLine === undefined && this.#response === undefined;
      // A too-long request line is almost always a too-long target: 414 URI Too Long.
      throw this.#error(
        'HTTP_LINE_TOO_LONG',
        isStartLine && this.kind === 'request' ? 414 : 431,
        `HTTP ${isStartLine ? 'start line' : 'header line'} exceeds ${this.#maxLineLength} bytes`,
      );
    }
    if (this.#lineLength === this.#line.length) {
      const grown = new Uint8Array(Math.min(this.#line.length * 2, this.#maxLineLength));
      grown.set(this.#line);
      this.#line = grown;
    }
    this.#line[this.#lineLength++] = byte;
  }

  /** Handles a complete line; returns true when it was the blank line ending the head. */
  #endLine(): boolean {
    const line = this.#line.subarray(0, this.#lineLength);
    this.#lineLength = 0;
    if (this.#startLine === undefined && this.#response === undefined) {
      if (this.kind === 'request') this.#startLine = this.#parseRequestLine(line);
      else this.#response = this.#parseStatusLine(line);
      return false;
    }
    if (line.length === 0) return true;
    if (this.#headers.size === this.#maxHeaderCount) {
      throw this.#error('HTTP_TOO_MANY_HEADERS', 431, `More than ${this.#maxHeaderCount} header fields`);
    }
    this.#parseHeaderLine(line);
    return false;
  }

  #parseRequestLine(line: Uint8Array): { method: string; target: string; versionMinor: number } {
    // request-line = method SP request-target SP HTTP-version
    const firstSpace = line.indexOf(SPACE);
    const secondSpace = firstSpace < 0 ? -1 : line.indexOf(SPACE, firstSpace + 1);
    if (secondSpace < 0) throw this.#malformed('Malformed request line');
    const method = latin1(line, 0, firstSpace);
    if (!isToken(method)) throw this.#malformed('Invalid request method');
    const targetBytes = line.subarray(firstSpace + 1, secondSpace);
    for (const byte of targetBytes) {
      // Visible ASCII only: rejects controls, spaces and raw non-ASCII.
      if (byte <= SPACE || byte >= DEL) throw this.#malformed('Invalid request target');
    }
    const target = latin1(targetBytes, 0, targetBytes.length);
    if (!isValidTarget(target)) throw this.#malformed('Invalid request target');
    const versionMinor = this.#parseVersion(line.subarray(secondSpace + 1));
    return { method, target, versionMinor };
  }

  #parseStatusLine(line: Uint8Array): { versionMinor: number; status: number; reason: string } {
    // status-line = HTTP-version SP status-code SP reason-phrase
    // Leniency: a missing reason may also lack its SP (`HTTP/1.1 101`).
    const firstSpace = line.indexOf(SPACE);
    if (firstSpace < 0) throw this.#malformed('Malformed status line');
    const versionMinor = this.#parseVersion(line.subarray(0, firstSpace));
    const statusEnd = firstSpace + 4;
    if (line.length < statusEnd || (line.length > statusEnd && line[statusEnd] !== SPACE)) {
      throw this.#malformed('Malformed status line');
    }
    let status = 0;
    for (let i = firstSpace + 1; i < statusEnd; i++) {
      const digit = line[i]! - 0x30;
      if (digit < 0 || digit > 9) throw this.#malformed('Invalid status code');
      status = status * 10 + digit;
    }
    if (status < 100) throw this.#malformed('Invalid status code');
    const reasonBytes = line.subarray(Math.min(statusEnd + 1, line.length));
    for (const byte of reasonBytes) {
      if (!isFieldValueByte(byte)) throw this.#malformed('Invalid character in reason phrase');
    }
    return { versionMinor, status, reason: latin1(reasonBytes, 0, reasonBytes.length) };
  }

  /** Parses `HTTP/<digit>.<digit>`; returns the minor version. */
  #parseVersion(bytes: Uint8Array): number {
    const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
    if (
      bytes.length !== 8 ||
      bytes[0] !== 0x48 || // H
      bytes[1] !== 0x54 || // T
      bytes[2] !== 0x54 || // T
      bytes[3] !== 0x50 || // P
      bytes[4] !== SLASH ||
      !isDigit(bytes[5]) ||
      bytes[6] !== 0x2e || // .
      !isDigit(bytes[7])
    ) {
      throw this.#malformed('Invalid HTTP version');
    }
    if (bytes[5] !== 0x31) {
      throw this.#error('HTTP_UNSUPPORTED_VERSION', 505, 'Only HTTP/1.x is supported');
    }
    return bytes[7]! - 0x30;
  }

  #parseHeaderLine(line: Uint8Array): void {
    // field-line = field-name ":" OWS field-value OWS
    const first = line[0]!;
    if (first === SPACE || first === TAB) throw this.#malformed('Obsolete line folding is not allowed');
    let colon = 0;
    while (colon < line.length && isTokenChar(line[colon]!)) colon++;
    if (colon === 0 || line[colon] !== COLON) throw this.#malformed('Invalid header name');
    let start = colon + 1;
    let end = line.length;
    for (let i = start; i < end; i++) {
      if (!isFieldValueByte(line[i]!)) throw this.#malformed('Invalid character in header value');
    }
    while (start < end && (line[start] === SPACE || line[start] === TAB)) start++;
    while (end > start && (line[end - 1] === SPACE || line[end - 1] === TAB)) end--;
    this.#headers.append(latin1(line, 0, colon), latin1(line, start, end));
  }

  #finish(): HttpHeadOf<K> {
    const headers = this.#headers;
    if (this.#startLine !== undefined) {
      const { method, target, versionMinor } = this.#startLine;
      const head: HttpRequestHead = { method, target, versionMinor, headers };
      return head as HttpHeadOf<K>;
    }
    const { versionMinor, status, reason } = this.#response!;
    const head: HttpResponseHead = { versionMinor, status, reason, headers };
    return head as HttpHeadOf<K>;
  }

  #malformed(message: string): HandshakeError {
    return this.#error('HTTP_MALFORMED', 400, message);
  }

  #error(code: HandshakeErrorCode, status: number, message: string): HandshakeError {
    // A client has nobody to answer and received no status: report 0 (see errors.ts).
    return new HandshakeError(code, this.kind === 'request' ? status : 0, message);
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** HTAB, SP, VCHAR, obs-text: any byte but controls and DEL. */
function isFieldValueByte(byte: number): boolean {
  return byte === TAB || (byte >= SPACE && byte !== DEL);
}

/** Origin-form, or absolute-form with an http(s)/ws(s) scheme; characters were already checked. */
function isValidTarget(target: string): boolean {
  if (target.charCodeAt(0) === SLASH) return true;
  const lower = asciiLowerCase(target.slice(0, 8));
  return (
    lower.startsWith('http://') ||
    lower.startsWith('https://') ||
    lower.startsWith('ws://') ||
    lower.startsWith('wss://')
  );
}

/** Decodes bytes `[start, end)` one byte per character. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  // Bounded slices keep `fromCharCode`'s argument count well below engine limits.
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, Math.min(i + 4096, end)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Serializers

/** What {@link serializeRequestHead} needs. Always written as HTTP/1.1. */
export interface RequestHeadInit {
  readonly method: string;
  readonly target: string;
  readonly headers: HttpHeadersInit;
}

/** What {@link serializeResponseHead} needs. Always written as HTTP/1.1. */
export interface ResponseHeadInit {
  readonly status: number;
  /** Defaults to the standard phrase for common statuses, else empty. */
  readonly reason?: string;
  readonly headers: HttpHeadersInit;
}

/** A complete response for refusing a request (see {@link serializeHttpResponse}). */
export interface HttpResponseInit {
  readonly status: number;
  /** Defaults to the standard phrase for common statuses, else empty. */
  readonly reason?: string;
  /** Must not include `Content-Length`, `Transfer-Encoding` or `Connection`, which are added. */
  readonly headers?: HttpHeadersInit;
  /** A string is sent as UTF-8 with `Content-Type: text/plain; charset=utf-8` unless a Content-Type is given. */
  readonly body?: string | Uint8Array;
}

const REASON_PHRASES: ReadonlyMap<number, string> = new Map([
  [101, 'Switching Protocols'],
  [200, 'OK'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [408, 'Request Timeout'],
  [414, 'URI Too Long'],
  [426, 'Upgrade Required'],
  [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'],
  [500, 'Internal Server Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [505, 'HTTP Version Not Supported'],
]);

/** The standard reason phrase for `status`, or `''` if it is not a common one. */
export function defaultReasonPhrase(status: number): string {
  return REASON_PHRASES.get(status) ?? '';
}

/**
 * Serializes `METHOD target HTTP/1.1`, the header lines and the blank line.
 * @throws TypeError on an invalid method, target or header (header injection guard).
 */
export function serializeRequestHead(head: RequestHeadInit): Uint8Array {
  if (!isToken(head.method)) throw new TypeError(`Invalid HTTP method: ${JSON.stringify(head.method)}`);
  const target = head.target;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= SPACE || c >= DEL) throw new TypeError(`Invalid request target: ${JSON.stringify(target)}`);
  }
  if (target.length === 0) throw new TypeError('Empty request target');
  return encodeHead(`${head.method} ${target} HTTP/1.1\r\n`, head.headers);
}

/**
 * Serializes `HTTP/1.1 status reason`, the header lines and the blank line.
 * @throws RangeError if `status` is not an integer in 100–999.
 * @throws TypeError on an invalid reason or header (header injection guard).
 */
export function serializeResponseHead(head: ResponseHeadInit): Uint8Array {
  return encodeHead(statusLine(head.status, head.reason), head.headers);
}

/**
 * Serializes a complete response meant to be the last thing written on the
 * connection (typically a handshake refusal): adds `Content-Length` and
 * `Connection: close`.
 * @throws like {@link serializeResponseHead}, and TypeError if `headers` sets a
 *   framing header.
 */
export function serializeHttpResponse(response: HttpResponseInit): Uint8Array {
  const headers = new HttpHeaders(response.headers);
  for (const name of ['Content-Length', 'Transfer-Encoding', 'Connection']) {
    if (headers.has(name)) throw new TypeError(`${name} is set by serializeHttpResponse`);
  }
  let body: Uint8Array;
  if (typeof response.body === 'string') {
    body = encodeUtf8(response.body);
    if (!headers.has('Content-Type')) headers.append('Content-Type', 'text/plain; charset=utf-8');
  } else {
    body = response.body ?? new Uint8Array(0);
  }
  headers.append('Content-Length', String(body.length));
  headers.append('Connection', 'close');
  const head = encodeHead(statusLine(response.status, response.reason), headers);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function statusLine(status: number, reason: string | undefined): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`Invalid HTTP status: ${status}`);
  }
  const phrase = reason ?? defaultReasonPhrase(status);
  for (let i = 0; i < phrase.length; i++) {
    const c = phrase.charCodeAt(i);
    if ((c < SPACE && c !== TAB) || c === DEL || c > 0xff) {
      throw new TypeError(`Invalid reason phrase: ${JSON.stringify(phrase)}`);
    }
  }
  return `HTTP/1.1 ${status} ${phrase}\r\n`;
}

function encodeHead(startLine: string, headers: HttpHeadersInit): Uint8Array {
  let text = startLine;
  for (const [name, value] of headerPairs(headers)) {
    assertHeader(name, value);
    text += `${name}: ${value}\r\n`;
  }
  text += '\r\n';
  const bytes = new Uint8Array(text.length);
  // Every character was checked to be ≤ U+00FF: latin1 is exact.
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

interface Utf8Encoder {
  encode(input: string): Uint8Array;
}

let utf8Encoder: Utf8Encoder | undefined;

/** UTF-8 through the standard `TextEncoder`, typed locally because the core compiles without DOM types. */
function encodeUtf8(text: string): Uint8Array {
  utf8Encoder ??= new (globalThis as unknown as { TextEncoder: new () => Utf8Encoder }).TextEncoder();
  return utf8Encoder.encode(text);
}
