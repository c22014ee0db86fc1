/**
 * The HTTP/1.1 head parser (http11.ts) on both sides, then what each side does with
 * a parsed head: the server validates and answers a request (handshake.ts), the
 * client validates a response. Input: config byte, chunking byte, head bytes.
 */
import {
  acceptDeflateResponse,
  acceptHandshake,
  type ClientHandshake,
  computeAcceptKey,
  createClientHandshake,
  formatExtensionOffers,
  HandshakeError,
  type HttpHeadKind,
  HttpHeadParser,
  type HttpHeadParserOptions,
  type HttpRequestHead,
  type HttpResponseHead,
  isToken,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  serializeRequestHead,
  serializeResponseHead,
  validateClientRequest,
  validateServerResponse,
} from '@fullduplex/protocol';
import { concatBytes, fingerprint, latin1Bytes } from '../bytes.ts';
import { chunkSizes, joinInput, splitInput } from '../input.ts';
import { flipWordCase, insert, repeatSlice } from '../mutate.ts';
import type { Random } from '../random.ts';
import type { FuzzTarget, LabelSink } from '../target.ts';
import { check, InvariantViolation } from '../violation.ts';
import { checkHeaderValue } from './header-values.ts';

type Limits = Omit<HttpHeadParserOptions, 'kind'>;

/** Config bits 1–2. The large profile lets stretched inputs reach the inner loops instead of a 431. */
const LIMIT_PROFILES: readonly Limits[] = [
  {},
  { maxHeadSize: 200, maxHeaderCount: 3, maxLineLength: 40 },
  { maxHeadSize: 1 << 20, maxHeaderCount: 10_000, maxLineLength: 1 << 20 },
  { maxHeadSize: 64 },
];
const LARGE_LIMITS = 2;
const DEFAULT_LIMITS = { maxHeadSize: 16384, maxHeaderCount: 100, maxLineLength: 8192 };

/** The statuses a server may be told to answer a malformed head with, per error code. */
const PARSE_ERROR_STATUS: Readonly<Record<string, readonly number[]>> = {
  HTTP_HEAD_TOO_LARGE: [431],
  HTTP_LINE_TOO_LONG: [414, 431],
  HTTP_TOO_MANY_HEADERS: [431],
  HTTP_MALFORMED: [400],
  HTTP_UNSUPPORTED_VERSION: [505],
};
const REJECT_STATUSES = [400, 405, 426, 505];

/** The client the response side answers: RFC 6455 §1.2's example handshake, offering permessage-deflate. */
const CLIENT: ClientHandshake = createClientHandshake({
  url: 'ws://server.example.com/chat',
  protocols: ['chat', 'superchat'],
  extensions: 'permessage-deflate; client_max_window_bits',
  key: 'dGhlIHNhbXBsZSBub25jZQ==',
});

type Head = HttpRequestHead | HttpResponseHead;

type ParseOutcome =
  | { readonly type: 'head'; readonly head: Head; readonly consumed: number; readonly after: Uint8Array }
  | { readonly type: 'error'; readonly error: HandshakeError }
  | { readonly type: 'incomplete' };

/** Feeds `body` in chunks of `sizes` until the head completes or fails. */
function parse(kind: HttpHeadKind, limits: Limits, body: Uint8Array, sizes: readonly number[]): ParseOutcome {
  const parser = new HttpHeadParser({ kind, ...limits });
  let at = 0;
  for (const size of sizes) {
    const chunk = body.subarray(at, at + size);
    let result: ReturnType<typeof parser.push>;
    try {
      result = parser.push(chunk);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      checkStickyFailure(parser, error);
      return { type: 'error', error };
    }
    at += size;
    if (result !== undefined) {
      check(parser.done, 'push() returned a head but done is false');
      check(
        result.rest.buffer === chunk.buffer &&
          result.rest.byteOffset + result.rest.length === chunk.byteOffset + chunk.length,
        'rest is not the tail of the chunk that completed the head',
      );
      checkPushAfterDone(parser);
      const after = concatBytes([result.rest, body.subarray(at)]);
      return { type: 'head', head: result.head, consumed: at - result.rest.length, after };
    }
  }
  return { type: 'incomplete' };
}

/** After a failure every push throws the same error, whatever it is given. */
function checkStickyFailure(parser: HttpHeadParser<HttpHeadKind>, error: HandshakeError): void {
  for (const more of [new Uint8Array(0), latin1Bytes('GET / HTTP/1.1\r\n\r\n')]) {
    let again: unknown;
    try {
      parser.push(more);
    } catch (thrown) {
      again = thrown;
    }
    check(again === error, 'a failed parser did not throw the same error again');
  }
}

function checkPushAfterDone(parser: HttpHeadParser<HttpHeadKind>): void {
  try {
    parser.push(new Uint8Array(1));
  } catch (error) {
    if (error instanceof TypeError) return;
    throw error;
  }
  throw new InvariantViolation('push() after the head was complete did not throw');
}

function headLines(head: Head): string {
  return JSON.stringify({
    ...('method' in head ? { method: head.method, target: head.target } : {}),
    ...('status' in head ? { status: head.status, reason: head.reason } : {}),
    headers: [...head.headers],
  });
}

function describe(outcome: ParseOutcome): string {
  switch (outcome.type) {
    case 'head':
      return `head ${outcome.head.versionMinor} ${headLines(outcome.head)} consumed ${outcome.consumed} after ${fingerprint(outcome.after)}`;
    case 'error':
      return `error ${outcome.error.code} ${outcome.error.status} ${outcome.error.message}`;
    default:
      return 'incomplete';
  }
}

function checkParseError(kind: HttpHeadKind, error: HandshakeError, label: LabelSink): void {
  label(`error:${error.code}:${error.status}`);
  const allowed = PARSE_ERROR_STATUS[error.code];
  check(allowed !== undefined, `the parser failed with ${error.code}`);
  if (kind === 'response') check(error.status === 0, `a response parse error has status ${error.status}`);
  else check(allowed.includes(error.status), `${error.code} with status ${error.status}`);
}

function checkHead(kind: HttpHeadKind, head: Head, limits: Limits, consumed: number, label: LabelSink): void {
  const { maxHeadSize, maxHeaderCount } = { ...DEFAULT_LIMITS, ...limits };
  check(consumed <= maxHeadSize, `a head of ${consumed} bytes passed maxHeadSize ${maxHeadSize}`);
  check(head.headers.size <= maxHeaderCount, `${head.headers.size} headers passed maxHeaderCount`);
  check(head.versionMinor >= 0 && head.versionMinor <= 9, `HTTP/1.${head.versionMinor}`);
  for (const [name, value] of head.headers) {
    check(isToken(name), `header name ${JSON.stringify(name)} is not a token`);
    check(!/[\r\n\0]/.test(value) && !/^[ \t]|[ \t]$/.test(value), `header value ${JSON.stringify(value)}`);
    checkHeaderValue(value, label);
  }
  if (kind === 'request') {
    const request = head as HttpRequestHead;
    check(isToken(request.method), `method ${JSON.stringify(request.method)}`);
    check(/^(\/|(https?|wss?):\/\/)/i.test(request.target), `target ${JSON.stringify(request.target)}`);
  } else {
    const response = head as HttpResponseHead;
    check(Number.isInteger(response.status) && response.status >= 100 && response.status <= 999, 'status');
  }
  checkRoundTrip(kind, head);
}

/** Writing a parsed head back and parsing it again gives the same head (as HTTP/1.1). */
function checkRoundTrip(kind: HttpHeadKind, head: Head): void {
  const headers = [...head.headers];
  const bytes =
    kind === 'request'
      ? serializeRequestHead({ ...(head as HttpRequestHead), headers })
      : serializeResponseHead({ ...(head as HttpResponseHead), headers });
  const again = parse(kind, LIMIT_PROFILES[LARGE_LIMITS]!, bytes, [bytes.length]);
  check(
    again.type === 'head' && again.after.length === 0,
    () => `the serialized head does not parse: ${describe(again)}`,
  );
  check(headLines(again.head) === headLines(head), () => `round trip changed the head: ${describe(again)}`);
}

/** The server side: validate, and when valid accept with deflate; the client must accept that answer. */
function checkServerHandshake(head: HttpRequestHead, label: LabelSink): void {
  const validated = validateClientRequest(head);
  if (!validated.ok) {
    label(`reject:${validated.error.code}`);
    check(REJECT_STATUSES.includes(validated.status), `rejected with status ${validated.status}`);
    check(validated.error instanceof HandshakeError && validated.error.status === validated.status, 'error');
    const answer = parse('response', {}, validated.response, [validated.response.length]);
    check(answer.type === 'head', () => `the rejection does not parse: ${describe(answer)}`);
    const response = answer.head as HttpResponseHead;
    check(response.status === validated.status, 'the rejection has another status');
    check(response.headers.get('content-length') === String(answer.after.length), 'Content-Length is wrong');
    return;
  }
  label('accept');
  check(validated.accept === computeAcceptKey(validated.key), 'accept key');
  const accepted = acceptHandshake(head, {
    selectProtocol: (offered) => offered[0],
    extensions: (offers) => {
      const agreement = negotiateDeflate(offers);
      return agreement && formatExtensionOffers([agreement.response]);
    },
  });
  check(accepted.ok, 'acceptHandshake refused a request validateClientRequest accepted');
  const answer = parse('response', {}, accepted.response, [accepted.response.length]);
  check(
    answer.type === 'head' && answer.after.length === 0,
    () => `the 101 does not parse: ${describe(answer)}`,
  );
  // A client that offered exactly what this request offers.
  const client: ClientHandshake = {
    ...CLIENT,
    key: validated.key,
    expectedAccept: validated.accept,
    protocols: validated.protocols,
    extensionOffers: validated.extensionOffers,
  };
  const negotiated = validateServerResponse(answer.head as HttpResponseHead, client);
  check(negotiated.protocol === accepted.protocol, 'the client sees another subprotocol');
  const deflate = negotiated.extensions.find((extension) => extension.name === PERMESSAGE_DEFLATE);
  if (deflate !== undefined) acceptDeflateResponse(deflate);
}

/** The client side: a response either passes or fails with a HandshakeError carrying its status. */
function checkClientHandshake(head: HttpResponseHead, label: LabelSink): void {
  try {
    const negotiated = validateServerResponse(head, CLIENT);
    check(['', ...CLIENT.protocols].includes(negotiated.protocol), 'a subprotocol that was not offered');
    for (const extension of negotiated.extensions) {
      if (extension.name === PERMESSAGE_DEFLATE) acceptDeflateResponse(extension, {}, head.status);
    }
    label('response:accepted');
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    check(error.status === head.status, `response error with status ${error.status} for a ${head.status}`);
    label(`response:${error.code}`);
  }
}

function run(input: Uint8Array, label: LabelSink): void {
  const { config, chunking, body } = splitInput(input);
  const kind: HttpHeadKind = (config & 1) === 0 ? 'request' : 'response';
  const limits = LIMIT_PROFILES[(config >>> 1) & 3]!;
  const whole = parse(kind, limits, body, [body.length]);
  const chunked = parse(kind, limits, body, chunkSizes(chunking, body.length));
  // Chunking must never change the result: the parser's promise of one pass over every byte.
  check(
    describe(whole) === describe(chunked),
    () => `chunking changed the result\none chunk: ${describe(whole)}\nchunked: ${describe(chunked)}`,
  );
  label(`${kind}:${whole.type}`);
  if (whole.type === 'error') checkParseError(kind, whole.error, label);
  if (whole.type !== 'head') return;
  checkHead(kind, whole.head, limits, whole.consumed, label);
  if (kind === 'request') checkServerHandshake(whole.head as HttpRequestHead, label);
  else checkClientHandshake(whole.head as HttpResponseHead, label);
}

const HEADER_LINES = [
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
  'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits="10", x-webkit-deflate-frame',
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  'Origin: http://example.com',
  'Content-Length: 0',
  'X-Obs-Text: \xe9t\xe9',
].map((line) => latin1Bytes(`${line}\r\n`));

/** Inserts a known header line right after some CRLF, where a line can start. */
function insertHeaderLine(input: Uint8Array, random: Random): Uint8Array {
  const starts: number[] = [];
  for (let i = 3; i < input.length; i++) if (input[i - 1] === 0x0a && input[i - 2] === 0x0d) starts.push(i);
  const at = starts.length > 0 ? random.pick(starts) : input.length;
  return insert(input, at, random.pick(HEADER_LINES));
}

export const httpTarget: FuzzTarget = {
  name: 'http',
  description:
    'HttpHeadParser (request and response), validateClientRequest, acceptHandshake, validateServerResponse',
  coverageModules: ['@fullduplex/protocol'],
  maxLength: 4096,
  dictionary: [
    'GET ',
    ' HTTP/1.1',
    'HTTP/1.1 ',
    '101 Switching Protocols',
    'HTTP/1.0',
    'HTTP/2.0',
    '\r\n',
    '\r\n\r\n',
    ': ',
    ':',
    ' ',
    '\t',
    ',',
    ';',
    '=',
    '"',
    'http://',
    'wss://',
    '/',
    '?',
    '\x7f',
    '\xff',
    'websocket',
    'upgrade',
    'permessage-deflate',
    'client_max_window_bits',
    'server_no_context_takeover',
  ]
    .map(latin1Bytes)
    .concat(HEADER_LINES),
  run,
  mutate: (input, random) =>
    random.chance(0.5) ? insertHeaderLine(input, random) : flipWordCase(input, random),
  stretch(input, size, random) {
    const { config, chunking, body } = splitInput(input);
    // Large limits, or the stretched head would just stop at the default 16 KiB with a 431.
    const large = (config & 1) | (LARGE_LIMITS << 1);
    return repeatSlice(joinInput(large, chunking, body), size, random, 2);
  },
};
