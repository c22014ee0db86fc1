/**
 * What a {@link Protocol} reports after it has been fed bytes.
 *
 * Events are small immutable values, drained with `connection.events()`.
 */

/** A complete text message, validated as UTF-8 and decoded. */
export interface TextMessage {
  readonly type: 'text';
  readonly data: string;
}

/** A complete binary message. `data` may be a view into the received chunk. */
export interface BinaryMessage {
  readonly type: 'binary';
  readonly data: Uint8Array;
}

/**
 * A complete message compressed with permessage-deflate (RFC 7692): `data` is the
 * deflated payload as received, without the trailing `00 00 ff ff`. The I/O layer
 * inflates it (bounded by its size limit) and, for text, validates UTF-8.
 */
export interface CompressedMessage {
  readonly type: 'compressed';
  /** Binary (true) or text (false) once inflated. */
  readonly binary: boolean;
  readonly data: Uint8Array;
}

/** A ping from the peer. The connection has already queued the pong unless `autoPong` is off. */
export interface PingReceived {
  readonly type: 'ping';
  readonly data: Uint8Array;
}

/** A pong from the peer, solicited or not. */
export interface PongReceived {
  readonly type: 'pong';
  readonly data: Uint8Array;
}

/**
 * The peer's close frame. `code` is 1005 when the frame carried no status code.
 * The connection has already queued its reply if it had not sent a close frame itself.
 */
export interface CloseReceived {
  readonly type: 'close';
  readonly code: number;
  readonly reason: string;
}

/**
 * The peer broke the protocol. The connection has queued a close frame with
 * `code` (unless it had already sent one) and asks for the transport to be ended.
 */
export interface ProtocolFailure {
  readonly type: 'failure';
  /** The close code the connection was failed with (1002, 1007, 1008, 1009 …). */
  readonly code: number;
  /** Human-readable description, also used as the close reason (truncated to fit). */
  readonly reason: string;
  /** Stable error identifier, e.g. `WS_ERR_INVALID_UTF8`. */
  readonly error: string;
}

/** Everything {@link Protocol.events} can return. */
export type ProtocolEvent =
  | TextMessage
  | BinaryMessage
  | CompressedMessage
  | PingReceived
  | PongReceived
  | CloseReceived
  | ProtocolFailure;
