/**
 * The frame parser and message state machine, through `Protocol` (protocol.ts,
 * frames.ts, utf8.ts, mask.ts) as a server or a client, with or without
 * permessage-deflate, under small limits. Input: config byte, chunking byte, the
 * bytes the peer sends.
 */
import { Buffer } from 'node:buffer';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import {
  CloseCode,
  encodeFrameBytes,
  FrameParser,
  isValidCloseCode,
  Protocol,
  type ProtocolEvent,
  type ProtocolOptions,
  parseClosePayload,
} from '@fullduplex/protocol';
import { concatBytes, equalBytes, fingerprint, utf8Bytes } from '../bytes.ts';
import { chunkSizes, joinInput, splitInput } from '../input.ts';
import { insert } from '../mutate.ts';
import type { Random } from '../random.ts';
import type { FuzzTarget, LabelSink } from '../target.ts';
import { check } from '../violation.ts';

type Limits = Pick<ProtocolOptions, 'maxMessageSize' | 'maxFrameSize' | 'maxFragments'>;

/** Config bits 2–3: small limits so that inputs of a few KiB hit them. */
const LIMIT_PROFILES: readonly Limits[] = [
  { maxMessageSize: 64, maxFrameSize: 32, maxFragments: 4 },
  { maxMessageSize: 1000, maxFragments: 16 },
  { maxMessageSize: 200, maxFrameSize: 1000, maxFragments: 2 },
  {},
];
const DEFAULT_LIMITS = 3;

interface Config {
  readonly options: ProtocolOptions;
  /** Answer each message with the same message, as an echo server does. */
  readonly echo: boolean;
  /** Start the closing handshake before any input. */
  readonly closeFirst: boolean;
  /** Report the end of the transport after the input. */
  readonly eofAtEnd: boolean;
}

function configOf(byte: number): Config {
  return {
    options: {
      side: (byte & 1) === 0 ? 'server' : 'client',
      perMessageDeflate: (byte & 2) !== 0,
      ...LIMIT_PROFILES[(byte >>> 2) & 3],
      autoPong: (byte & 16) === 0,
    },
    echo: (byte & 32) !== 0,
    closeFirst: (byte & 64) !== 0,
    eofAtEnd: (byte & 128) !== 0,
  };
}

/** The close code each protocol error must fail the connection with (RFC 6455 §7.4.1). */
const FAILURE_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_INVALID_OPCODE: CloseCode.PROTOCOL_ERROR,
  WS_ERR_UNEXPECTED_RSV: CloseCode.PROTOCOL_ERROR,
  WS_ERR_EXPECTED_MASK: CloseCode.PROTOCOL_ERROR,
  WS_ERR_UNEXPECTED_MASK: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_LENGTH: CloseCode.PROTOCOL_ERROR,
  WS_ERR_CONTROL_FRAME_TOO_LONG: CloseCode.PROTOCOL_ERROR,
  WS_ERR_FRAGMENTED_CONTROL_FRAME: CloseCode.PROTOCOL_ERROR,
  WS_ERR_UNEXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  WS_ERR_EXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_CLOSE_CODE: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_CLOSE_PAYLOAD: CloseCode.PROTOCOL_ERROR,
  WS_ERR_FRAME_TOO_BIG: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_MESSAGE_TOO_BIG: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_TOO_MANY_FRAGMENTS: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  // Deliberately absent: WS_ERR_INTERNAL (1011). Protocol reports an exception of its
  // own that way instead of throwing, so for the fuzzer it is a crash.
};

/** What one run did, in a form that does not depend on chunking or mask keys. */
interface Transcript {
  readonly lines: string[];
  readonly inputBytes: number;
  outputBytes: number;
}

function summarize(event: ProtocolEvent): string {
  switch (event.type) {
    case 'text':
      return `text ${fingerprint(utf8Bytes(event.data))}`;
    case 'binary':
    case 'ping':
    case 'pong':
      return `${event.type} ${fingerprint(event.data)}`;
    case 'compressed':
      return `compressed ${event.binary ? 'binary' : 'text'} ${fingerprint(event.data)}`;
    case 'close':
      return `close ${event.code} ${JSON.stringify(event.reason)}`;
    case 'failure':
      return `failure ${event.code} ${event.error}`;
  }
}

/** Plays the peer's bytes into a fresh Protocol in the given chunks, checking every event. */
function play(config: Config, body: Uint8Array, sizes: readonly number[], label: LabelSink): Transcript {
  const { options } = config;
  const protocol = new Protocol(options);
  const limits = protocol.limits;
  const transcript: Transcript = { lines: [], inputBytes: body.length, outputBytes: 0 };
  const output: Uint8Array[] = [];
  const pings: Uint8Array[] = [];
  let finished = ''; // the close or failure event, after which nothing may be reported

  const takeOutput = (): void => {
    for (const chunk of protocol.dataToSend()) {
      output.push(Uint8Array.from(chunk));
      transcript.outputBytes += chunk.length;
    }
    check(protocol.bytesToSend === 0, 'bytesToSend is not 0 after dataToSend()');
  };

  const drain = (): void => {
    for (let events = protocol.events(); events.length > 0; events = protocol.events()) {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        check(finished === '', () => `${event.type} event after "${finished}"`);
        label(event.type === 'failure' ? `failure:${event.error}` : `event:${event.type}`);
        checkEvent(event, limits, config, label);
        transcript.lines.push(summarize(event));
        if (event.type === 'close' || event.type === 'failure') finished = summarize(event);
        if (event.type === 'ping') pings.push(Uint8Array.from(event.data));
        if (event.type === 'compressed') {
          // The core stops after a compressed message until the I/O layer has inflated it.
          check(i === events.length - 1, 'a compressed event was not the last of its batch');
          protocol.continueAfterCompressed();
        }
        if (config.echo && (event.type === 'text' || event.type === 'binary')) {
          const sent =
            event.type === 'text' ? protocol.sendText(event.data) : protocol.sendBinary(event.data);
          label(`echo:${sent}`);
        }
      }
    }
    takeOutput();
  };

  if (config.closeFirst) {
    protocol.sendClose(CloseCode.NORMAL, 'bye');
    takeOutput();
  }
  // receiveData takes ownership and unmasks in place: each run gets its own copy.
  const stream = Uint8Array.from(body);
  let at = 0;
  for (const size of sizes) {
    protocol.receiveData(stream.subarray(at, at + size));
    at += size;
    drain();
  }
  if (config.eofAtEnd) {
    protocol.receiveEof();
    drain();
    check(protocol.state === 'closed', 'not closed after receiveEof()');
  }

  if (finished.startsWith('failure')) {
    check(protocol.shouldCloseTransport(), 'a failed connection does not ask to close the transport');
  }
  transcript.lines.push(
    `state ${protocol.state} code ${protocol.closeCode} clean ${protocol.closedCleanly} end ${protocol.shouldCloseTransport()}`,
  );
  checkOutput(config, concatBytes(output), pings, protocol, transcript);
  // Pongs echo pings (≤ 125 bytes each, +4 for a client's mask), echoes repeat messages:
  // three times the input plus room for one close frame bounds any honest output.
  check(
    transcript.outputBytes <= 3 * transcript.inputBytes + 256,
    () => `${transcript.outputBytes} bytes to send for ${transcript.inputBytes} received`,
  );
  return transcript;
}

function checkEvent(
  event: ProtocolEvent,
  limits: Protocol['limits'],
  config: Config,
  label: LabelSink,
): void {
  switch (event.type) {
    case 'text':
      check(Buffer.byteLength(event.data) <= limits.maxMessageSize, 'a text message over maxMessageSize');
      return;
    case 'binary':
      check(event.data.length <= limits.maxMessageSize, 'a binary message over maxMessageSize');
      return;
    case 'compressed':
      check(config.options.perMessageDeflate === true, 'a compressed event without permessage-deflate');
      check(event.data.length <= limits.maxMessageSize, 'a compressed message over maxMessageSize');
      return;
    case 'ping':
    case 'pong':
      check(event.data.length <= 125, `a ${event.type} of ${event.data.length} bytes`);
      return;
    case 'close':
      check(event.code === CloseCode.NO_STATUS || isValidCloseCode(event.code), `close code ${event.code}`);
      check(Buffer.byteLength(event.reason) <= 123, 'a close reason over 123 bytes');
      return;
    case 'failure': {
      const expected = FAILURE_CLOSE_CODES[event.error];
      label(`failure-code:${event.code}`);
      check(expected !== undefined, `failed with ${event.error} (${event.code}): ${event.reason}`);
      check(event.code === expected, `${event.error} failed with ${event.code}, not ${expected}`);
      check(Buffer.byteLength(event.reason) <= 123, 'a failure reason over 123 bytes');
    }
  }
}

/**
 * What we send must itself be valid: frames the peer's parser accepts, masked exactly
 * when we are the client, pongs carrying the pings' payloads, one close frame at most
 * and nothing after it, with the code the connection was closed or failed with.
 */
function checkOutput(
  config: Config,
  bytes: Uint8Array,
  pings: readonly Uint8Array[],
  protocol: Protocol,
  transcript: Transcript,
): void {
  const peer = new FrameParser({
    side: config.options.side === 'server' ? 'client' : 'server',
    maxFrameSize: Number.POSITIVE_INFINITY,
  });
  peer.push(bytes);
  // Past maxAutoPongs in a batch only the latest ping is answered: pongs answer pings in
  // order, some skipped.
  let nextPing = 0;
  let lastPong: Uint8Array | undefined;
  let closes = 0;
  for (let piece = peer.next(); piece !== undefined; piece = peer.next()) {
    check(piece.first && piece.last, 'an output frame is incomplete');
    check(closes === 0, 'a frame sent after our close frame');
    if (piece.opcode === 10) {
      let k = nextPing;
      while (k < pings.length && !equalBytes(pings[k] as Uint8Array, piece.data)) k++;
      check(k < pings.length, 'a pong that answers no ping, or not in order');
      nextPing = k + 1;
      lastPong = piece.data;
    }
    if (piece.opcode === 8) {
      closes++;
      // What the peer would make of it: throws for a bad code, length or reason.
      const { code } = parseClosePayload(piece.data);
      const sent = protocol.closeSent;
      check(sent !== undefined && sent.code === code, 'the close frame sent differs from closeSent');
    }
    // Echoes depend on when the application saw the message, which chunking changes
    // (one chunk shows it after the failure that follows it, too late to answer), and
    // so do pongs past maxAutoPongs (counted per batch of input): only the close frame,
    // by its code, belongs in the transcript (the reason of a failure may word the same
    // error differently: "invalid UTF-8" from the one-pass decoder, "ends inside a UTF-8
    // sequence" from the incremental one).
    if (piece.opcode === 8) transcript.lines.push(`sent close ${fingerprint(piece.data.subarray(0, 2))}`);
  }
  check(peer.bufferedBytes === 0, 'the output ends inside a frame');
  // However the input was cut, the latest ping is answered while we have not closed.
  const lastPing = pings.at(-1);
  if (config.options.autoPong !== false && protocol.closeSent === undefined && lastPing !== undefined) {
    check(lastPong !== undefined && equalBytes(lastPong, lastPing), 'the latest ping went unanswered');
  }
  if (protocol.error !== undefined && !config.closeFirst) {
    check(protocol.closeSent?.code === protocol.error.closeCode, 'failed without sending its close code');
  }
  if (protocol.closeReceived !== undefined && !config.closeFirst && protocol.error === undefined) {
    check(protocol.closeSent?.code === protocol.closeReceived.code, 'the close reply does not echo the code');
  }
}

function run(input: Uint8Array, label: LabelSink): void {
  const { config: configByte, chunking, body } = splitInput(input);
  const config = configOf(configByte);
  label(`config:${configByte & 15}`);
  const whole = play(config, body, [body.length], label);
  const chunked = play(config, body, chunkSizes(chunking, body.length), () => {});
  // How bytes are cut into reads must never change what happens.
  const a = whole.lines.join('\n');
  const b = chunked.lines.join('\n');
  check(a === b, () => `chunking changed what happened\none chunk:\n${a}\nchunked:\n${b}`);
}

// --------------------------------------------------------------- structure-aware mutation

const OPCODES = [0, 1, 2, 8, 9, 10, 0, 1, 2, 3, 11];
const PAYLOAD_SIZES = [0, 1, 2, 3, 5, 32, 33, 64, 65, 123, 125, 126, 127, 200, 1000];

/** A well-formed frame for this input's side: masked towards a server, compressed sometimes. */
function randomFrame(configByte: number, random: Random): Uint8Array {
  const config = configOf(configByte);
  const opcode = random.pick(OPCODES);
  let payload: Uint8Array;
  let rsv1 = false;
  const kind = random.below(4);
  if (kind === 0) payload = random.bytes(random.pick(PAYLOAD_SIZES));
  else if (kind === 1)
    payload = utf8Bytes('Hello, wörld ✓ '.repeat(1 + random.below(8)).slice(0, random.pick(PAYLOAD_SIZES)));
  else if (kind === 2 && opcode === 8) payload = Uint8Array.of(random.below(256), random.below(256));
  else {
    const text = utf8Bytes('Hello '.repeat(1 + random.below(40)));
    const deflated = deflateRawSync(text, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    payload = deflated.subarray(0, Math.max(0, deflated.length - 4));
    rsv1 = config.options.perMessageDeflate === true;
  }
  if (opcode >= 8) payload = payload.subarray(0, 125);
  const masked = config.options.side === 'server' ? random.chance(0.97) : random.chance(0.03);
  return encodeFrameBytes(payload, {
    opcode,
    fin: opcode >= 8 || random.chance(0.7),
    rsv1: rsv1 || random.chance(0.02),
    mask: masked ? random.bytes(4) : undefined,
  });
}

export const framesTarget: FuzzTarget = {
  name: 'frames',
  description:
    'Protocol (FrameParser, reassembly, UTF-8, close handling) as server and client, ± permessage-deflate',
  coverageModules: ['@fullduplex/protocol'],
  maxLength: 4096,
  dictionary: [
    [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
    [0x81, 0x05],
    [0x01, 0x83],
    [0x80, 0x82],
    [0x00, 0x80],
    [0x89, 0x80],
    [0x8a, 0x00],
    [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8],
    [0x88, 0x02, 0x03, 0xe8],
    [0xc1, 0x87],
    [0x41, 0x03],
    [0x82, 0x7e, 0x00, 0x7e],
    [0x82, 0xfe, 0xff, 0xff],
    [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
    [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xef, 0xbb, 0xbf],
  ].map((bytes) => Uint8Array.from(bytes)),
  run,
  mutate(input, random) {
    const base = input.length >= 2 ? input : joinInput(input[0] ?? 0, 0, new Uint8Array(0));
    // Mostly at the end, where the previous frames left the parser between frames.
    const at = random.chance(0.7) ? base.length : 2 + random.below(base.length - 1);
    return insert(base, at, randomFrame(base[0]!, random));
  },
  stretch(input, size) {
    const { config, chunking, body } = splitInput(input);
    if (body.length === 0) return input;
    // Default limits and the same frames again and again: a long run of whatever
    // this input exercises, instead of an early 1009.
    const configByte = (config & ~12) | (DEFAULT_LIMITS << 2);
    const copies = Math.ceil(size / body.length);
    const out = new Uint8Array(body.length * copies);
    for (let i = 0; i < copies; i++) out.set(body, i * body.length);
    return joinInput(configByte, chunking, out);
  },
};
