/**
 * The WebSocket opening handshake (RFC 6455 §4), both sides, without I/O.
 *
 * Client: {@link createClientHandshake} builds the request bytes, then
 * {@link validateServerResponse} checks the parsed response head.
 * Server: {@link validateClientRequest} checks a parsed request head, then
 * {@link buildAcceptResponse} answers it once the application has decided;
 * {@link acceptHandshake} does both at once. Peer mistakes never throw: they give a
 * complete error response to write before closing.
 *
 * Heads are parsed with `HttpHeadParser` from `http11.ts`.
 */

import { decodeBase64, encodeBase64 } from './base64.ts';
import { HandshakeError, type HandshakeErrorCode } from './errors.ts';
import {
  asciiLowerCase,
  containsTokenIgnoringCase,
  type ExtensionOffer,
  isToken,
  parseExtensionOffers,
  parseTokenList,
  parseUpgradeList,
} from './header-values.ts';
import {
  type HttpHeadersInit,
  type HttpRequestHead,
  type HttpResponseHead,
  headerPairs,
  serializeHttpResponse,
  serializeRequestHead,
  serializeResponseHead,
} from './http11.ts';
import { sha1 } from './sha1.ts';

/** The GUID RFC 6455 §1.3 appends to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version this library speaks (RFC 6455 §4.1). */
export const WEBSOCKET_VERSION = '13';

/**
 * `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
 * @throws TypeError if `key` contains a character above U+00FF (keys are ASCII).
 */
export function computeAcceptKey(key: string): string {
  const text = key + WEBSOCKET_GUID;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new TypeError('Sec-WebSocket-Key must be ASCII');
    bytes[i] = c;
  }
  return encodeBase64(sha1(bytes));
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (RFC 6455 §4.1). */
export function generateKey(): string {
  const crypto = (globalThis as unknown as { crypto: { getRandomValues(array: Uint8Array): Uint8Array } })
    .crypto;
  return encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The offered extension names, lowercased: names compare ASCII-case-insensitively,
 * as `negotiateDeflate` matches them, so that its answer to `PerMessage-Deflate`
 * counts as naming an offered extension.
 */
function extensionNames(offers: readonly ExtensionOffer[]): Set<string> {
  return new Set(offers.map((offer) => asciiLowerCase(offer.name)));
}

function isValidKey(key: string): boolean {
  return decodeBase64(key)?.length === 16;
}

// ---------------------------------------------------------------------------
// Client

/** Options for {@link createClientHandshake}. */
export interface ClientHandshakeOptions {
  /**
   * `ws:` or `wss:` URL (`http:` and `https:` are mapped to them), as a string or a
   * WHATWG `URL`. Must not have a fragment or credentials.
   */
  readonly url: string | { readonly href: string };
  /** Subprotocols to offer, in order of preference: unique tokens. */
  readonly protocols?: readonly string[];
  /** A formatted `Sec-WebSocket-Extensions` offer (see `formatExtensionOffers`). */
  readonly extensions?: string;
  /**
   * Extra request headers. They may not set Host, Upgrade, Connection,
   * Sec-WebSocket-Key, Sec-WebSocket-Version, Sec-WebSocket-Protocol or
   * Sec-WebSocket-Extensions (nor Origin when `origin` is given).
   */
  readonly headers?: HttpHeadersInit;
  /** Value for the `Origin` header. */
  readonly origin?: string;
  /** A fixed `Sec-WebSocket-Key` (for tests); by default a random one. */
  readonly key?: string;
}

/** Everything the client needs to send the request and check the response. */
export interface ClientHandshake {
  /** The complete request head to write. */
  readonly request: Uint8Array;
  readonly key: string;
  /** The `Sec-WebSocket-Accept` the server must answer with. */
  readonly expectedAccept: string;
  /** The normalized target URL, always `ws:` or `wss:`. */
  readonly url: string;
  /** Whether to connect over TLS (`wss:`). */
  readonly secure: boolean;
  /** Host name or address to connect to; an IPv6 address without brackets. */
  readonly hostname: string;
  /** TCP port to connect to, defaults applied (80 / 443). */
  readonly port: number;
  /** The `Host` header value sent: the default port omitted, IPv6 in brackets. */
  readonly host: string;
  /** Path and query sent as the request target. */
  readonly path: string;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The `Sec-WebSocket-Extensions` value offered, if any. */
  readonly extensions: string | undefined;
  /** The offered extensions, parsed. */
  readonly extensionOffers: readonly ExtensionOffer[];
}

/** What the server agreed to, from {@link validateServerResponse}. */
export interface NegotiatedHandshake {
  /** The selected subprotocol, or `''` if none. */
  readonly protocol: string;
  /** The extensions the server accepted, in its order, with its parameters. */
  readonly extensions: ExtensionOffer[];
}

/** Headers the handshake itself sets on the request: lowercased. */
const CLIENT_OWNED_HEADERS = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

interface WhatwgUrl {
  readonly href: string;
  readonly protocol: string;
  readonly username: string;
  readonly password: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
}

/** The standard `URL` class, typed locally because the core compiles without DOM types. */
function parseUrl(input: string): WhatwgUrl {
  const UrlClass = (globalThis as unknown as { URL: new (input: string) => WhatwgUrl }).URL;
  try {
    return new UrlClass(input);
  } catch {
    throw new TypeError(`Invalid WebSocket URL: ${JSON.stringify(input)}`);
  }
}

/**
 * Builds the client's opening handshake request (RFC 6455 §4.1).
 * @throws TypeError for an invalid URL, subprotocol list, extension offer, key or header.
 */
export function createClientHandshake(options: ClientHandshakeOptions): ClientHandshake {
  const input = typeof options.url === 'string' ? options.url : options.url.href;
  const url = parseUrl(input);
  let secure: boolean;
  switch (url.protocol) {
    case 'ws:':
    case 'http:':
      secure = false;
      break;
    case 'wss:':
    case 'https:':
      secure = true;
      break;
    default:
      throw new TypeError(`Unsupported URL scheme: ${JSON.stringify(url.protocol)}`);
  }
  // RFC 6455 §3: fragments are meaningless in WebSocket URIs. The serializer keeps
  // a `#` even for an empty fragment, so test the href rather than `hash`.
  if (url.href.includes('#')) throw new TypeError('WebSocket URLs must not have a fragment');
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('WebSocket URLs must not contain credentials; send an Authorization header instead');
  }
  // The URL parser already dropped a port equal to the scheme's default.
  const host = url.port === '' ? url.hostname : `${url.hostname}:${url.port}`;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const path = (url.pathname === '' ? '/' : url.pathname) + url.search;

  const protocols = [...(options.protocols ?? [])];
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new TypeError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (seen.has(protocol)) throw new TypeError(`Duplicate subprotocol: ${JSON.stringify(protocol)}`);
    seen.add(protocol);
  }

  let extensions: string | undefined;
  let extensionOffers: ExtensionOffer[] = [];
  if (options.extensions !== undefined && options.extensions !== '') {
    const offers = parseExtensionOffers(options.extensions);
    if (offers === undefined || offers.length === 0) {
      throw new TypeError(`Invalid Sec-WebSocket-Extensions offer: ${JSON.stringify(options.extensions)}`);
    }
    extensions = options.extensions;
    extensionOffers = offers;
  }

  const key = options.key ?? generateKey();
  if (!isValidKey(key)) throw new TypeError('key must be the base64 encoding of 16 bytes');

  const headers: [string, string][] = [
    ['Host', host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', WEBSOCKET_VERSION],
  ];
  if (options.origin !== undefined) headers.push(['Origin', options.origin]);
  if (protocols.length > 0) headers.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  if (extensions !== undefined) headers.push(['Sec-WebSocket-Extensions', extensions]);
  if (options.headers !== undefined) {
    for (const [name, value] of headerPairs(options.headers)) {
      const lower = asciiLowerCase(name);
      if (CLIENT_OWNED_HEADERS.has(lower) || (lower === 'origin' && options.origin !== undefined)) {
        throw new TypeError(`Header ${name} is set by the handshake and cannot be overridden`);
      }
      headers.push([name, value]);
    }
  }

  return {
    request: serializeRequestHead({ method: 'GET', target: path, headers }),
    key,
    expectedAccept: computeAcceptKey(key),
    url: `${secure ? 'wss' : 'ws'}://${host}${path}`,
    secure,
    hostname,
    port,
    host,
    path,
    protocols,
    extensions,
    extensionOffers,
  };
}

/**
 * Checks the server's response to {@link createClientHandshake}'s request
 * (RFC 6455 §4.1, steps 1–6 of the client's validation). Extension parameters
 * are not checked here: each extension validates its own.
 *
 * @throws HandshakeError whose `status` is the status received.
 */
export function validateServerResponse(
  head: HttpResponseHead,
  handshake: ClientHandshake,
): NegotiatedHandshake {
  const fail = (code: HandshakeErrorCode, message: string) => new HandshakeError(code, head.status, message);
  const { headers } = head;

  if (head.status !== 101) {
    throw fail('WS_INVALID_STATUS', `Expected HTTP status 101, received ${head.status}`);
  }
  if (head.versionMinor < 1) throw fail('HTTP_UNSUPPORTED_VERSION', 'The response must be HTTP/1.1');

  const upgrade = parseUpgradeList(headers.get('upgrade') ?? '');
  if (upgrade === undefined || !containsTokenIgnoringCase(upgrade, 'websocket')) {
    throw fail('WS_INVALID_UPGRADE', 'The response lacks Upgrade: websocket');
  }
  const connection = parseTokenList(headers.get('connection') ?? '');
  if (connection === undefined || !containsTokenIgnoringCase(connection, 'upgrade')) {
    throw fail('WS_INVALID_CONNECTION', 'The response lacks Connection: Upgrade');
  }

  const accept = headers.getAll('sec-websocket-accept');
  if (accept.length !== 1 || accept[0] !== handshake.expectedAccept) {
    throw fail('WS_INVALID_ACCEPT', 'Sec-WebSocket-Accept does not match the key sent');
  }

  let protocol = '';
  const protocolLines = headers.getAll('sec-websocket-protocol');
  if (protocolLines.length > 0) {
    const selected = protocolLines.length === 1 ? protocolLines[0]! : '';
    if (!isToken(selected) || !handshake.protocols.includes(selected)) {
      throw fail('WS_INVALID_SUBPROTOCOL', 'The server selected a subprotocol that was not offered');
    }
    protocol = selected;
  }

  let extensions: ExtensionOffer[] = [];
  const extensionValue = headers.get('sec-websocket-extensions');
  if (extensionValue !== undefined) {
    const accepted = parseExtensionOffers(extensionValue);
    if (accepted === undefined) throw fail('WS_INVALID_EXTENSION', 'Malformed Sec-WebSocket-Extensions');
    const offeredNames = extensionNames(handshake.extensionOffers);
    for (const extension of accepted) {
      if (!offeredNames.has(asciiLowerCase(extension.name))) {
        throw fail('WS_INVALID_EXTENSION', 'The server accepted an extension that was not offered');
      }
    }
    extensions = accepted;
  }

  return { protocol, extensions };
}

// ---------------------------------------------------------------------------
// Server

/** A client request that passed every check of RFC 6455 §4.2.1, from {@link validateClientRequest}. */
export interface ValidatedClientRequest {
  readonly ok: true;
  readonly request: HttpRequestHead;
  /** The client's `Sec-WebSocket-Key`. */
  readonly key: string;
  /** The `Sec-WebSocket-Accept` value for `key`. */
  readonly accept: string;
  /** The request target (path and query, or an absolute URL). */
  readonly path: string;
  /** The `Host` header value. */
  readonly host: string;
  /** The `Origin` header value, if any. */
  readonly origin: string | undefined;
  /** Subprotocols offered, in the client's order (all header lines; unique, case-sensitive). */
  readonly protocols: readonly string[];
  /** Extensions offered, in the client's order (all header lines). */
  readonly extensionOffers: readonly ExtensionOffer[];
}

/** The handshake failed: write `response`, then close the connection. */
export interface RejectedHandshake {
  readonly ok: false;
  /** The HTTP status of `response` (400, 405, 426, 505, …). */
  readonly status: number;
  readonly error: HandshakeError;
  /** A complete HTTP error response ending with `Connection: close`. */
  readonly response: Uint8Array;
}

/** What the server answers with, for {@link buildAcceptResponse}. */
export interface AcceptResponseOptions {
  /** The selected subprotocol: one of the offered ones, or `undefined` / `''` for none. */
  readonly protocol?: string | undefined;
  /**
   * The `Sec-WebSocket-Extensions` response value naming only offered extensions,
   * or `undefined` / `''` for none.
   */
  readonly extensions?: string | undefined;
  /**
   * Extra response headers. They may not set Upgrade, Connection,
   * Sec-WebSocket-Accept, Sec-WebSocket-Protocol or Sec-WebSocket-Extensions.
   */
  readonly headers?: HttpHeadersInit | undefined;
}

/** Options for {@link acceptHandshake}. */
export interface AcceptHandshakeOptions {
  /**
   * Picks a subprotocol from those the client offered (called only if it offered
   * some). Must return one of `offered` or `undefined` for none.
   */
  readonly selectProtocol?: (offered: readonly string[], request: HttpRequestHead) => string | undefined;
  /**
   * Negotiates extensions (called only if the client offered some). Returns the
   * `Sec-WebSocket-Extensions` response value, naming only offered extensions, or
   * `undefined` to accept none.
   */
  readonly extensions?: (offers: ExtensionOffer[]) => string | undefined;
  /** Extra response headers; see {@link AcceptResponseOptions.headers}. */
  readonly headers?: HttpHeadersInit;
}

/** The handshake succeeded: write `response`, then speak WebSocket. */
export interface AcceptedHandshake extends Omit<ValidatedClientRequest, 'ok'> {
  readonly ok: true;
  /** The complete `101 Switching Protocols` response head. */
  readonly response: Uint8Array;
  /** The selected subprotocol, or `''` if none. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` value sent, if any. */
  readonly extensions: string | undefined;
  /** The accepted extensions, parsed from `extensions`. */
  readonly acceptedExtensions: readonly ExtensionOffer[];
}

/** Result of {@link acceptHandshake}. */
export type ServerHandshakeResult = AcceptedHandshake | RejectedHandshake;

/** Headers the handshake itself sets on the 101 response: lowercased. */
const SERVER_OWNED_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * Checks a client's opening handshake (RFC 6455 §4.2.1) without answering it yet,
 * so the application can decide (possibly asynchronously) and then call
 * {@link buildAcceptResponse}. Never throws for a peer's mistakes.
 *
 * Failures, in the order checked:
 * - method not `GET` → 405 with `Allow: GET` (`WS_INVALID_METHOD`);
 * - HTTP/1.0 → 505 (`HTTP_UNSUPPORTED_VERSION`);
 * - no, several or an empty `Host` → 400 (`WS_MISSING_HOST`);
 * - `Upgrade` without `websocket` → 400 (`WS_INVALID_UPGRADE`);
 * - `Connection` without `upgrade` → 400 (`WS_INVALID_CONNECTION`);
 * - several `Sec-WebSocket-Version` lines → 400 (`WS_INVALID_HEADER`);
 * - `Sec-WebSocket-Version` missing or not `13` → 426 with `Sec-WebSocket-Version: 13`
 *   (`WS_UNSUPPORTED_VERSION`); checked before the key because older drafts had no key;
 * - `Sec-WebSocket-Key` missing, repeated or not 16 base64 bytes → 400 (`WS_INVALID_KEY`);
 * - malformed or repeated subprotocols → 400 (`WS_INVALID_SUBPROTOCOL`);
 * - malformed `Sec-WebSocket-Extensions` → 400 (`WS_INVALID_EXTENSION`).
 */
export function validateClientRequest(head: HttpRequestHead): ValidatedClientRequest | RejectedHandshake {
  try {
    return validateOrThrow(head);
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    return reject(error);
  }
}

function reject(error: HandshakeError): RejectedHandshake {
  return { ok: false, status: error.status, error, response: buildErrorResponse(error) };
}

function validateOrThrow(head: HttpRequestHead): ValidatedClientRequest {
  const { headers } = head;
  const fail = (code: HandshakeErrorCode, message: string, status = 400) =>
    new HandshakeError(code, status, message);

  if (head.method !== 'GET') throw fail('WS_INVALID_METHOD', 'The method must be GET', 405);
  if (head.versionMinor < 1) throw fail('HTTP_UNSUPPORTED_VERSION', 'WebSocket requires HTTP/1.1', 505);

  const hosts = headers.getAll('host');
  const host = hosts[0];
  if (hosts.length !== 1 || host === undefined || host === '') {
    throw fail('WS_MISSING_HOST', 'Exactly one Host header is required');
  }

  const upgrade = parseUpgradeList(headers.get('upgrade') ?? '');
  if (upgrade === undefined || !containsTokenIgnoringCase(upgrade, 'websocket')) {
    throw fail('WS_INVALID_UPGRADE', 'Missing Upgrade: websocket');
  }
  const connection = parseTokenList(headers.get('connection') ?? '');
  if (connection === undefined || !containsTokenIgnoringCase(connection, 'upgrade')) {
    throw fail('WS_INVALID_CONNECTION', 'Missing Connection: Upgrade');
  }

  const version = headers.getAll('sec-websocket-version');
  if (version.length > 1) throw fail('WS_INVALID_HEADER', 'Repeated Sec-WebSocket-Version header');
  if (version[0] !== WEBSOCKET_VERSION) {
    throw fail('WS_UNSUPPORTED_VERSION', 'Sec-WebSocket-Version must be 13', 426);
  }

  const keys = headers.getAll('sec-websocket-key');
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || !isValidKey(key)) {
    throw fail('WS_INVALID_KEY', 'Sec-WebSocket-Key must be one base64-encoded 16-byte value');
  }

  // Both lists may span several header lines (RFC 6455 §11.3.4, §11.3.2).
  const protocols = parseTokenList(headers.get('sec-websocket-protocol') ?? '');
  if (protocols === undefined || new Set(protocols).size !== protocols.length) {
    throw fail('WS_INVALID_SUBPROTOCOL', 'Malformed Sec-WebSocket-Protocol');
  }
  const extensionOffers = parseExtensionOffers(headers.get('sec-websocket-extensions') ?? '');
  if (extensionOffers === undefined) throw fail('WS_INVALID_EXTENSION', 'Malformed Sec-WebSocket-Extensions');

  return {
    ok: true,
    request: head,
    key,
    accept: computeAcceptKey(key),
    path: head.target,
    host,
    origin: headers.get('origin'),
    protocols,
    extensionOffers,
  };
}

/**
 * The `101 Switching Protocols` response for a validated request.
 * @throws TypeError when `protocol` was not offered, `extensions` is malformed or
 *   names an extension not offered, or `headers` overrides a handshake header or
 *   is invalid.
 */
export function buildAcceptResponse(
  request: ValidatedClientRequest,
  options: AcceptResponseOptions = {},
): Uint8Array {
  return acceptResponse(request, options).response;
}

/** Builds the 101 response and returns what it agreed to. */
function acceptResponse(
  request: ValidatedClientRequest,
  options: AcceptResponseOptions,
): { response: Uint8Array; protocol: string; extensions: string | undefined; accepted: ExtensionOffer[] } {
  const protocol = options.protocol ?? '';
  if (protocol !== '' && !request.protocols.includes(protocol)) {
    throw new TypeError(`Subprotocol ${JSON.stringify(protocol)} was not offered by the client`);
  }

  let extensions: string | undefined;
  let accepted: ExtensionOffer[] = [];
  if (options.extensions !== undefined && options.extensions !== '') {
    const parsed = parseExtensionOffers(options.extensions);
    if (parsed === undefined || parsed.length === 0) {
      throw new TypeError(
        `Malformed Sec-WebSocket-Extensions response: ${JSON.stringify(options.extensions)}`,
      );
    }
    const offeredNames = extensionNames(request.extensionOffers);
    for (const extension of parsed) {
      if (!offeredNames.has(asciiLowerCase(extension.name))) {
        throw new TypeError(`Extension ${JSON.stringify(extension.name)} was not offered by the client`);
      }
    }
    extensions = options.extensions;
    accepted = parsed;
  }

  const headers: [string, string][] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', request.accept],
  ];
  if (protocol !== '') headers.push(['Sec-WebSocket-Protocol', protocol]);
  if (extensions !== undefined) headers.push(['Sec-WebSocket-Extensions', extensions]);
  if (options.headers !== undefined) {
    for (const [name, value] of headerPairs(options.headers)) {
      if (SERVER_OWNED_HEADERS.has(asciiLowerCase(name))) {
        throw new TypeError(`Header ${name} is set by the handshake and cannot be overridden`);
      }
      headers.push([name, value]);
    }
  }
  return { response: serializeResponseHead({ status: 101, headers }), protocol, extensions, accepted };
}

/**
 * Validates a client's opening handshake and answers it in one step:
 * {@link validateClientRequest}, then the callbacks, then {@link buildAcceptResponse}.
 * Peer mistakes give `{ ok: false }` with the error response to write; they never
 * throw. The callbacks may throw a `HandshakeError` to refuse with its status.
 *
 * @throws TypeError when the options misbehave: `selectProtocol` returning a
 *   protocol not offered, `extensions` returning a malformed value or one naming
 *   an extension not offered, or `headers` overriding a handshake header.
 */
export function acceptHandshake(
  head: HttpRequestHead,
  options: AcceptHandshakeOptions = {},
): ServerHandshakeResult {
  const validated = validateClientRequest(head);
  if (!validated.ok) return validated;
  let protocol: string | undefined;
  let extensions: string | undefined;
  try {
    if (validated.protocols.length > 0 && options.selectProtocol !== undefined) {
      protocol = options.selectProtocol(validated.protocols, head);
    }
    if (validated.extensionOffers.length > 0 && options.extensions !== undefined) {
      extensions = options.extensions([...validated.extensionOffers]);
    }
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    return reject(error);
  }
  const answer = acceptResponse(validated, { protocol, extensions, headers: options.headers });
  return {
    ...validated,
    response: answer.response,
    protocol: answer.protocol,
    extensions: answer.extensions,
    acceptedExtensions: answer.accepted,
  };
}

/** Options for {@link buildRejectResponse}. */
export interface RejectResponseOptions {
  readonly reason?: string;
  /** Extra headers; not Content-Length, Transfer-Encoding or Connection (they are added). */
  readonly headers?: HttpHeadersInit;
  /** Response body; a string is sent as UTF-8 text/plain. */
  readonly body?: string | Uint8Array;
}

/**
 * A complete HTTP response refusing a WebSocket request with any status, ending
 * with `Connection: close`. Write it, then close the connection.
 * @throws RangeError / TypeError for an invalid status, reason or header.
 */
export function buildRejectResponse(status: number, options: RejectResponseOptions = {}): Uint8Array {
  return serializeHttpResponse({ status, ...options });
}

/**
 * The response a server should send for a `HandshakeError` it got while parsing
 * or validating a request: the error's status, its message as a text body, plus
 * `Allow: GET` for 405 and `Upgrade` / `Sec-WebSocket-Version: 13` for 426.
 * @throws RangeError if the error has no HTTP status (a client-side error, status 0).
 */
export function buildErrorResponse(error: HandshakeError): Uint8Array {
  const headers: [string, string][] = [];
  if (error.status === 405) headers.push(['Allow', 'GET']);
  if (error.status === 426) {
    headers.push(['Upgrade', 'websocket'], ['Sec-WebSocket-Version', WEBSOCKET_VERSION]);
  }
  return serializeHttpResponse({ status: error.status, headers, body: `${error.message}\n` });
}
