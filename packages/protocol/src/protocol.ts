/**
 * The WebSocket connection after the opening handshake, as a sans-I/O state machine.
 *
 * Feed it bytes with {@link Protocol.receiveData} / {@link Protocol.receiveEof},
 * read what happened with {@link Protocol.events}, ask it for bytes to write with
 * {@link Protocol.dataToSend}. It never reads a clock, touches a socket or sets a
 * timer: {@link Protocol.closeExpected} tells the I/O layer when to arm a close
 * timeout, {@link Protocol.shouldCloseTransport} when to end the TCP connection.
 */
import { CloseCode, ProtocolError } from './errors.ts';
import type { ProtocolEvent } from './events.ts';
import {
  encodeClosePayload,
  encodeFrame,
  FrameParser,
  type FramePiece,
  Opcode,
  parseClosePayload,
} from './frames.ts';
import { createMaskKey } from './mask.ts';
import { Utf8Validator } from './utf8.ts';

/** Which end of the connection this object plays. */
export type Side = 'client' | 'server';

/** Lifecycle of a connection once the handshake is done (RFC 6455 §4–§7). */
export const ProtocolState = {
  /** Messages flow both ways. */
  OPEN: 'open',
  /** A close frame was sent or received (or the connection failed); waiting for the transport to end. */
  CLOSING: 'closing',
  /** The transport has ended. */
  CLOSED: 'closed',
} as const;
/** One of {@link ProtocolState}. */
export type ProtocolState = (typeof ProtocolState)[keyof typeof ProtocolState];

/** Size limits enforced on what the peer sends. Violations fail the connection. */
export interface ProtocolLimits {
  /** Largest message, in payload bytes after reassembly. Default 16 MiB; over it → 1009. */
  readonly maxMessageSize: number;
  /** Largest single frame payload. Default: `maxMessageSize`; over it → 1009. */
  readonly maxFrameSize: number;
  /** Most frames one message may be split into, empty ones included. Default 16384; over it → 1009. */
  readonly maxFragments: number;
  /**
   * Most automatic pongs queued between two {@link Protocol.dataToSend} calls. Past it only
   * the latest ping is answered, once (RFC 6455 §5.5.3 allows answering just the most
   * recent): a ping flood makes us send a bounded amount per batch of input. Default 16.
   */
  readonly maxAutoPongs: number;
}

/** Options for {@link Protocol}. */
export interface ProtocolOptions extends Partial<ProtocolLimits> {
  /** `'server'` expects masked frames from the peer and sends unmasked ones; `'client'` the opposite. */
  readonly side: Side;
  /** Answer pings with pongs automatically. Default true. */
  readonly autoPong?: boolean;
  /**
   * permessage-deflate was negotiated (RFC 7692): RSV1 marks compressed messages.
   * They arrive as `compressed` events for the I/O layer to inflate, and
   * `sendText`/`sendBinary` take an already compressed payload with `compressed = true`.
   */
  readonly perMessageDeflate?: boolean;
}

/** Defaults for {@link ProtocolLimits}. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Default cap on the number of frames in one message. */
export const DEFAULT_MAX_FRAGMENTS = 16384;
/** Default {@link ProtocolLimits.maxAutoPongs}. */
export const DEFAULT_MAX_AUTO_PONGS = 16;

/** A frame encoded ahead of time, header and payload apart (see `encodeFrame`). */
export interface EncodedFrame {
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

/** A close frame's contents, as sent or received. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

const EMPTY = new Uint8Array(0);
/** Shared and never written: what `events()`/`dataToSend()` return when there is nothing. */
const NO_EVENTS: ProtocolEvent[] = Object.freeze([]) as unknown as ProtocolEvent[];
const NO_OUTPUT: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
const RSV1 = 4;
const MAX_CONTROL_PAYLOAD = 125;
const MAX_CLOSE_REASON_BYTES = 123;
const textEncoder = new TextEncoder();
// Only used on bytes our own validator accepted, so it never substitutes anything.
// ignoreBOM keeps a leading U+FEFF: it is part of the message, not a marker to strip.
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
// Validates and decodes in one native pass for messages that arrived whole.
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One WebSocket connection, either side, post-handshake.
 *
 * Methods that send return `false` instead of throwing when the connection can no
 * longer send (after a close frame went out); they throw `TypeError`/`RangeError`
 * only when called with arguments no state would accept.
 */
export class Protocol {
  /** Which side this object plays. */
  readonly side: Side;
  /** The limits in force. */
  readonly limits: ProtocolLimits;

  private readonly autoPong: boolean;
  private readonly compression: boolean;
  private readonly parser: FrameParser;
  private currentState: ProtocolState = ProtocolState.OPEN;
  /** Events and output since they were last taken; a shared empty array until there are some. */
  private pendingEvents: ProtocolEvent[] = NO_EVENTS;
  private pendingOutput: Uint8Array[] = NO_OUTPUT;
  private outputBytes = 0;
  /** Automatic pongs queued since the output was last taken. */
  private autoPongs = 0;
  /** The latest ping past the cap on automatic pongs, answered when the output is taken. */
  private latestPing: Uint8Array | undefined = undefined;
  private sentClose: CloseInfo | undefined;
  /** The peer's close frame arrived; our reply waits for the next dataToSend(). */
  private closeReply: { code: number; reason: string; payload: Uint8Array } | undefined;
  private receivedClose: CloseInfo | undefined;
  private failure: ProtocolError | undefined;
  /** Parsing waits for {@link continueAfterCompressed} (see there). */
  private awaitingInflate = false;
  /** Input is ignored once the peer's close frame arrived or the connection failed. */
  private discarding = false;
  private endRequested = false;

  // Incoming message reassembly.
  private messageOpcode = 0;
  /** The message's first frame had RSV1: its payload is deflated (RFC 7692 §6). */
  private messageCompressed = false;
  private messageFrames = 0;
  /** Sum of the announced lengths of this message's frames so far. */
  private messageAnnounced = 0;
  private messageBuffer: Uint8Array = EMPTY;
  private messageUsed = 0;
  /** Validates text that arrives in pieces; created for the first such message. */
  private utf8: Utf8Validator | undefined;

  // Outgoing fragmentation: the opcode of the message being sent in pieces, or 0.
  private sendingOpcode = 0;

  constructor(options: ProtocolOptions) {
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const limits = sharedLimits(
      maxMessageSize,
      options.maxFrameSize ?? maxMessageSize,
      options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
      options.maxAutoPongs ?? DEFAULT_MAX_AUTO_PONGS,
    );
    if (options.side !== 'client' && options.side !== 'server') {
      throw new TypeError(`side must be 'client' or 'server', got ${String(options.side)}`);
    }
    this.side = options.side;
    this.limits = limits;
    this.autoPong = options.autoPong ?? true;
    this.compression = options.perMessageDeflate === true;
    this.parser = new FrameParser({
      side: options.side,
      maxFrameSize: limits.maxFrameSize,
      allowedRsv: this.compression ? RSV1 : 0,
    });
  }

  /** Where the connection is in its lifecycle. */
  get state(): ProtocolState {
    return this.currentState;
  }

  /** The close frame we sent, if any. */
  get closeSent(): CloseInfo | undefined {
    return this.sentClose;
  }

  /** The close frame the peer sent, if any. */
  get closeReceived(): CloseInfo | undefined {
    return this.receivedClose;
  }

  /**
   * The close code to report to the application: the peer's (1005 if its frame had
   * none), else ours when we failed the connection, else 1006 (no close frame seen).
   */
  get closeCode(): number {
    if (this.receivedClose) return this.receivedClose.code;
    if (this.failure) return this.failure.closeCode;
    return CloseCode.ABNORMAL;
  }

  /** The reason that goes with {@link closeCode}. */
  get closeReason(): string {
    if (this.receivedClose) return this.receivedClose.reason;
    if (this.failure) return this.failure.message;
    return '';
  }

  /** Whether both close frames were exchanged (a clean close in RFC 6455 terms). */
  get closedCleanly(): boolean {
    return this.sentClose !== undefined && this.receivedClose !== undefined && this.failure === undefined;
  }

  /** The protocol error that failed the connection, if one did. */
  get error(): ProtocolError | undefined {
    return this.failure;
  }

  /**
   * Whether input is still parsed: false once the peer's close frame arrived or the
   * connection failed, after which {@link receiveData} ignores what it is given.
   */
  get receiving(): boolean {
    return !this.discarding;
  }

  /** Bytes queued by send calls and not yet taken by {@link dataToSend}. */
  get bytesToSend(): number {
    return this.outputBytes;
  }

  // ---------------------------------------------------------------- input

  /**
   * Feeds bytes received from the transport. Takes ownership of `chunk`: payloads are
   * unmasked in place and messages that arrived whole are views into it.
   * Never throws because of what the peer sent.
   */
  receiveData(chunk: Uint8Array): void {
    if (this.discarding || chunk.length === 0) return;
    this.parser.push(chunk);
    if (!this.awaitingInflate) this.parseAvailable();
  }

  /**
   * With permessage-deflate, parsing stops after each `compressed` event, so the I/O
   * layer can inflate that message before anything received after it is acted on
   * (a close frame's reply must not overtake it). Call this once the message has
   * been inflated and delivered; bytes received meanwhile are parsed now.
   */
  continueAfterCompressed(): void {
    if (!this.awaitingInflate) return;
    this.awaitingInflate = false;
    if (!this.discarding) this.parseAvailable();
  }

  private parseAvailable(): void {
    const parser = this.parser;
    try {
      for (let piece = parser.next(); piece !== undefined; piece = parser.next()) {
        if (piece.opcode >= Opcode.CLOSE) this.handleControlFrame(piece);
        else this.handleDataPiece(piece);
        if (this.discarding || this.awaitingInflate) return;
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.failConnection(error);
      } else {
        // A bug of ours, not the peer's doing: RFC 6455 §7.4.1 has 1011 for that.
        this.failConnection(new ProtocolError('WS_ERR_INTERNAL', CloseCode.INTERNAL_ERROR, 'internal error'));
      }
    }
  }

  /** Tells the connection the transport ended (the peer closed TCP or the socket is gone). */
  receiveEof(): void {
    this.discarding = true;
    this.currentState = ProtocolState.CLOSED;
    this.pendingOutput = NO_OUTPUT;
    this.outputBytes = 0;
  }

  /** Returns and forgets everything that happened since the last call. */
  events(): ProtocolEvent[] {
    const events = this.pendingEvents;
    this.pendingEvents = NO_EVENTS;
    return events;
  }

  // ---------------------------------------------------------------- output

  /**
   * Returns and forgets the byte chunks to write, in order. Frame headers and payloads
   * are separate chunks so the transport can write them with one vectored write.
   *
   * The reply to the peer's close frame is queued here, after whatever was sent while
   * handling the events before it (an echo of the last message, say). An I/O layer
   * that still has sends of its own in flight passes `replyToClose = false` and calls
   * {@link replyToClose} once they are queued.
   */
  dataToSend(replyToClose = true): Uint8Array[] {
    this.answerLatestPing();
    this.autoPongs = 0;
    if (replyToClose) this.replyToClose();
    const out = this.pendingOutput;
    if (out.length !== 0) {
      this.pendingOutput = NO_OUTPUT;
      this.outputBytes = 0;
    }
    return out;
  }

  /** Queues the reply to the peer's close frame, if one is due (see {@link dataToSend}). */
  replyToClose(): void {
    const reply = this.closeReply;
    if (reply === undefined) return;
    this.closeReply = undefined;
    this.queueClose(reply.code, reply.reason, reply.payload);
    // The server closes TCP first (RFC 6455 §7.1.1); the client waits for it.
    if (this.side === 'server') this.endRequested = true;
  }

  /**
   * Whether the I/O layer should end the transport once it has written
   * {@link dataToSend}: the server after the close handshake, either side after a failure.
   */
  shouldCloseTransport(): boolean {
    return this.endRequested;
  }

  /**
   * Whether the I/O layer should expect the transport to end soon and arm a close
   * timeout: true from the moment a close frame was sent or received.
   */
  closeExpected(): boolean {
    return this.currentState === ProtocolState.CLOSING;
  }

  /**
   * Sends a text message, or the first fragment of one when `fin` is false.
   * A `Uint8Array` must already hold valid UTF-8: it is sent as is.
   */
  sendText(data: string | Uint8Array, fin = true, compressed = false): boolean {
    const payload = typeof data === 'string' ? textEncoder.encode(data) : data;
    return this.sendDataFrame(Opcode.TEXT, payload, fin, compressed);
  }

  /**
   * Sends a binary message, or the first fragment of one when `fin` is false.
   * `compressed`: the payload is already deflated (permessage-deflate), so RSV1 is set.
   */
  sendBinary(data: Uint8Array, fin = true, compressed = false): boolean {
    return this.sendDataFrame(Opcode.BINARY, data, fin, compressed);
  }

  /** Sends the next fragment of the message started with `fin = false`. */
  sendContinuation(data: string | Uint8Array, fin: boolean): boolean {
    if (this.sendingOpcode === 0) {
      throw new TypeError('sendContinuation() without a message in progress');
    }
    const payload = typeof data === 'string' ? textEncoder.encode(data) : data;
    return this.sendDataFrame(Opcode.CONTINUATION, payload, fin, false);
  }

  /** Sends a ping carrying up to 125 bytes. */
  sendPing(data: Uint8Array = EMPTY): boolean {
    return this.sendControlFrame(Opcode.PING, data);
  }

  /** Sends a pong carrying up to 125 bytes (an unsolicited pong is a heartbeat). */
  sendPong(data: Uint8Array = EMPTY): boolean {
    return this.sendControlFrame(Opcode.PONG, data);
  }

  /**
   * Starts the closing handshake (or answers the peer's close frame). Without a code
   * the close frame is empty and the peer sees 1005. Returns false if a close frame
   * was already sent. Throws for codes an endpoint may not send and reasons over 123 bytes.
   */
  sendClose(code?: number, reason = ''): boolean {
    const payload = encodeClosePayload(code, reason);
    if (this.sentClose || this.currentState === ProtocolState.CLOSED) return false;
    // Answering the peer's close with a code of our own replaces the echo.
    const answering = this.closeReply !== undefined;
    this.closeReply = undefined;
    this.queueClose(code ?? CloseCode.NO_STATUS, reason, payload);
    if (answering && this.side === 'server') this.endRequested = true;
    return true;
  }

  /**
   * Queues a complete unmasked data frame encoded elsewhere — how a server sends one
   * broadcast frame to many connections without encoding it for each. Server side
   * only (client frames need a fresh mask each). Returns false if the connection can
   * no longer send.
   */
  sendEncoded(frame: EncodedFrame): boolean {
    if (this.side !== 'server')
      throw new TypeError('sendEncoded() is for server connections: client frames are masked');
    if (this.sendingOpcode !== 0) {
      throw new TypeError('a fragmented message is in progress: finish it with sendContinuation()');
    }
    if (this.sentClose || this.currentState !== ProtocolState.OPEN) return false;
    this.addOutput(frame.header);
    if (frame.payload.length !== 0) this.addOutput(frame.payload);
    this.outputBytes += frame.header.length + frame.payload.length;
    return true;
  }

  /** Throws exactly as {@link sendClose} would for these arguments, without sending anything. */
  validateClose(code?: number, reason = ''): void {
    encodeClosePayload(code, reason);
  }

  /**
   * Fails the connection from the application side (RFC 6455 §7.1.7): sends a close
   * frame with `code` if none went out yet, ignores further input and asks for the
   * transport to end. Use it for 1008 policy violations, 1011 internal errors, …
   */
  fail(code: number, reason = ''): void {
    const payload = encodeClosePayload(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    if (this.currentState === ProtocolState.CLOSED) return;
    this.closeReply = undefined;
    if (!this.sentClose) this.queueClose(code, reason, payload);
    this.discarding = true;
    this.endRequested = true;
    this.resetMessage();
  }

  // ---------------------------------------------------------------- internals

  private handleDataPiece(piece: FramePiece): void {
    const opcode = piece.opcode;
    if (piece.first) {
      if (opcode === Opcode.CONTINUATION) {
        if (piece.rsv1) {
          throw new ProtocolError(
            'WS_ERR_UNEXPECTED_RSV',
            CloseCode.PROTOCOL_ERROR,
            'RSV1 set on a continuation frame',
          );
        }
        if (this.messageOpcode === 0) {
          throw new ProtocolError(
            'WS_ERR_UNEXPECTED_CONTINUATION',
            CloseCode.PROTOCOL_ERROR,
            'continuation frame without a message to continue',
          );
        }
      } else if (this.messageOpcode !== 0) {
        throw new ProtocolError(
          'WS_ERR_EXPECTED_CONTINUATION',
          CloseCode.PROTOCOL_ERROR,
          'new message started before the previous one finished',
        );
      } else {
        this.messageOpcode = opcode;
        this.messageCompressed = piece.rsv1;
      }
      if (++this.messageFrames > this.limits.maxFragments) {
        throw new ProtocolError(
          'WS_ERR_TOO_MANY_FRAGMENTS',
          CloseCode.MESSAGE_TOO_BIG,
          'too many fragments in one message',
        );
      }
      this.messageAnnounced += piece.length;
      if (this.messageAnnounced > this.limits.maxMessageSize) {
        throw new ProtocolError('WS_ERR_MESSAGE_TOO_BIG', CloseCode.MESSAGE_TOO_BIG, 'message too big');
      }
      // The common case: an unfragmented message whose frame arrived in one chunk.
      if (piece.last && piece.fin && this.messageFrames === 1) {
        const compressed = this.messageCompressed;
        this.resetMessage();
        if (compressed) this.deliverCompressed(opcode, piece.data);
        else this.deliverWhole(opcode, piece.data);
        return;
      }
    }

    const data = piece.data;
    // Compressed text is validated after inflating, by whoever inflates it.
    if (this.messageOpcode === Opcode.TEXT && !this.messageCompressed && !this.validateText(data)) {
      throw new ProtocolError(
        'WS_ERR_INVALID_UTF8',
        CloseCode.INVALID_PAYLOAD,
        'invalid UTF-8 in text message',
      );
    }
    this.append(data);
    if (piece.last && piece.fin) this.deliverAssembled();
  }

  private deliverCompressed(opcode: number, data: Uint8Array): void {
    this.addEvent({ type: 'compressed', binary: opcode === Opcode.BINARY, data });
    this.awaitingInflate = true;
  }

  private deliverWhole(opcode: number, data: Uint8Array): void {
    if (opcode === Opcode.TEXT) {
      let text: string;
      try {
        text = fatalDecoder.decode(data);
      } catch {
        throw new ProtocolError(
          'WS_ERR_INVALID_UTF8',
          CloseCode.INVALID_PAYLOAD,
          'invalid UTF-8 in text message',
        );
      }
      this.addEvent({ type: 'text', data: text });
    } else {
      this.addEvent({ type: 'binary', data });
    }
  }

  private deliverAssembled(): void {
    const opcode = this.messageOpcode;
    const data = this.messageBuffer.subarray(0, this.messageUsed);
    if (this.messageCompressed) {
      this.resetMessage();
      this.deliverCompressed(opcode, data);
    } else if (opcode === Opcode.TEXT) {
      if (this.utf8 !== undefined && !this.utf8.end()) {
        throw new ProtocolError(
          'WS_ERR_INVALID_UTF8',
          CloseCode.INVALID_PAYLOAD,
          'text message ends inside a UTF-8 sequence',
        );
      }
      this.resetMessage();
      this.addEvent({ type: 'text', data: textDecoder.decode(data) });
    } else {
      this.resetMessage();
      this.addEvent({ type: 'binary', data });
    }
  }

  /**
   * Copies a piece into the message buffer. Capacity doubles with the data actually
   * received but never exceeds what the frames seen so far announced, so a peer that
   * announces a huge frame and sends a trickle does not make us allocate ahead of it,
   * and the finished buffer is exactly the message's size.
   */
  private append(data: Uint8Array): void {
    const needed = this.messageUsed + data.length;
    if (needed > this.messageBuffer.length) {
      const grown = Math.min(Math.max(needed, this.messageBuffer.length * 2, 1024), this.messageAnnounced);
      const buffer = new Uint8Array(grown);
      buffer.set(this.messageBuffer.subarray(0, this.messageUsed));
      this.messageBuffer = buffer;
    }
    this.messageBuffer.set(data, this.messageUsed);
    this.messageUsed = needed;
  }

  private resetMessage(): void {
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.messageFrames = 0;
    this.messageAnnounced = 0;
    this.messageBuffer = EMPTY;
    this.messageUsed = 0;
    this.utf8?.reset();
  }

  private handleControlFrame(piece: FramePiece): void {
    if (piece.rsv1) {
      // Only an extension that claims RSV1 gets this far; none applies it to control frames.
      throw new ProtocolError(
        'WS_ERR_UNEXPECTED_RSV',
        CloseCode.PROTOCOL_ERROR,
        'RSV1 set on a control frame',
      );
    }
    const data = piece.data;
    switch (piece.opcode) {
      case Opcode.PING:
        if (this.autoPong && !this.sentClose) {
          if (this.autoPongs < this.limits.maxAutoPongs) {
            this.autoPongs++;
            this.queueFrame(Opcode.PONG, data, true);
          } else {
            // Over the cap: the latest ping is answered when the output is taken.
            this.latestPing = data;
          }
        }
        this.addEvent({ type: 'ping', data });
        return;
      case Opcode.PONG:
        this.addEvent({ type: 'pong', data });
        return;
      default: {
        const { code, reason } = parseClosePayload(data);
        this.receivedClose = { code, reason };
        this.discarding = true;
        this.resetMessage();
        this.addEvent({ type: 'close', code, reason });
        if (!this.sentClose) {
          // Echo the peer's code and reason (RFC 6455 §5.5.1), so both ends report the
          // same close; an empty close gets an empty reply. It goes out with the next
          // dataToSend(), after anything sent in answer to the messages before it.
          const replyCode = code === CloseCode.NO_STATUS ? undefined : code;
          const payload = encodeClosePayload(replyCode, replyCode === undefined ? '' : reason);
          this.closeReply = { code, reason, payload };
          this.currentState = ProtocolState.CLOSING;
        } else if (this.side === 'server') {
          // The closing handshake is complete; the server closes TCP first (RFC 6455 §7.1.1).
          this.endRequested = true;
        }
      }
    }
  }

  private failConnection(error: ProtocolError): void {
    this.failure = error;
    const reason = truncateUtf8(error.message, MAX_CLOSE_REASON_BYTES);
    this.addEvent({ type: 'failure', code: error.closeCode, reason, error: error.code });
    if (!this.sentClose)
      this.queueClose(error.closeCode, reason, encodeClosePayload(error.closeCode, reason));
    this.discarding = true;
    this.endRequested = true;
    this.resetMessage();
  }

  /** The pong owed to the latest ping past {@link ProtocolLimits.maxAutoPongs}, if any. */
  private answerLatestPing(): void {
    const ping = this.latestPing;
    if (ping === undefined) return;
    this.latestPing = undefined;
    if (!this.sentClose) this.queueFrame(Opcode.PONG, ping, true);
  }

  private queueClose(code: number, reason: string, payload: Uint8Array): void {
    // Nothing goes after our close frame: an owed pong goes before it.
    this.answerLatestPing();
    this.queueFrame(Opcode.CLOSE, payload, true);
    this.sentClose = { code, reason };
    this.currentState = ProtocolState.CLOSING;
  }

  private sendDataFrame(opcode: number, payload: Uint8Array, fin: boolean, compressed: boolean): boolean {
    if (opcode !== Opcode.CONTINUATION && this.sendingOpcode !== 0) {
      throw new TypeError('a fragmented message is in progress: finish it with sendContinuation()');
    }
    if (compressed && !this.compression) {
      throw new TypeError('compressed payloads need permessage-deflate to have been negotiated');
    }
    // After the peer's close and before our reply, data may still go out (RFC 6455 §5.5.1).
    if (this.sentClose || this.currentState === ProtocolState.CLOSED) return false;
    if (opcode !== Opcode.CONTINUATION) this.sendingOpcode = opcode;
    if (fin) this.sendingOpcode = 0;
    this.queueFrame(opcode, payload, fin, compressed);
    return true;
  }

  private sendControlFrame(opcode: number, data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) {
      // ws GHSA-2mhh-w6q8-5hxw: a number here once sent uninitialised memory.
      throw new TypeError('control frame payload must be a Uint8Array');
    }
    if (data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`control frame payload is limited to ${MAX_CONTROL_PAYLOAD} bytes`);
    }
    if (this.sentClose || this.currentState === ProtocolState.CLOSED) return false;
    this.queueFrame(opcode, data, true);
    return true;
  }

  private validateText(data: Uint8Array): boolean {
    this.utf8 ??= new Utf8Validator();
    return this.utf8.push(data);
  }

  private addEvent(event: ProtocolEvent): void {
    if (this.pendingEvents === NO_EVENTS) this.pendingEvents = [event];
    else this.pendingEvents.push(event);
  }

  private addOutput(chunk: Uint8Array): void {
    if (this.pendingOutput === NO_OUTPUT) this.pendingOutput = [chunk];
    else this.pendingOutput.push(chunk);
  }

  private queueFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    const frame = encodeFrame(payload, {
      opcode,
      fin,
      rsv1,
      mask: this.side === 'client' ? createMaskKey() : undefined,
    });
    this.addOutput(frame.header);
    if (frame.payload.length !== 0) this.addOutput(frame.payload);
    this.outputBytes += frame.header.length + frame.payload.length;
  }
}

/** Limits objects by value: connections with the same options share one (a few at most exist). */
const limitsByValue = new Map<string, ProtocolLimits>();

/** The frozen limits object for these values, checked; shared by every connection that uses them. */
function sharedLimits(
  maxMessageSize: number,
  maxFrameSize: number,
  maxFragments: number,
  maxAutoPongs: number,
): ProtocolLimits {
  const key = `${maxMessageSize}/${maxFrameSize}/${maxFragments}/${maxAutoPongs}`;
  const known = limitsByValue.get(key);
  if (known !== undefined) return known;
  const limits: ProtocolLimits = Object.freeze({ maxMessageSize, maxFrameSize, maxFragments, maxAutoPongs });
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
    }
  }
  // Bounded even if every connection had limits of its own.
  if (limitsByValue.size < 64) limitsByValue.set(key, limits);
  return limits;
}

/** Cuts `text` so its UTF-8 encoding fits in `maxBytes`, without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = textEncoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return textDecoder.decode(bytes.subarray(0, end));
}
