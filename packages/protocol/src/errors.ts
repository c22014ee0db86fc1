/**
 * Close codes (RFC 6455 §7.4.1) and the library's error types.
 *
 * Every violation of the protocol maps to a stable string code (so callers can
 * branch on it) and to the close code the RFC asks for.
 */

/** Close status codes defined by RFC 6455 and the IANA registry. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never sent; reported when a close frame carried no code. */
  NO_STATUS: 1005,
  /** Reserved: never sent; reported when the transport closed without a close frame. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: never sent; TLS handshake failure. */
  TLS_HANDSHAKE: 1015,
} as const;

/** Stable identifiers for every way a peer can break the protocol. */
export type ProtocolErrorCode =
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_UNEXPECTED_RSV'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_INVALID_LENGTH'
  | 'WS_ERR_CONTROL_FRAME_TOO_LONG'
  | 'WS_ERR_FRAGMENTED_CONTROL_FRAME'
  | 'WS_ERR_UNEXPECTED_CONTINUATION'
  | 'WS_ERR_EXPECTED_CONTINUATION'
  | 'WS_ERR_FRAME_TOO_BIG'
  | 'WS_ERR_MESSAGE_TOO_BIG'
  | 'WS_ERR_TOO_MANY_FRAGMENTS'
  | 'WS_ERR_INVALID_UTF8'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CLOSE_PAYLOAD'
  | 'WS_ERR_DATA_AFTER_CLOSE'
  | 'WS_ERR_EXTENSION'
  | 'WS_ERR_INTERNAL';

/**
 * The peer broke RFC 6455. `closeCode` is what the connection must be failed with.
 * Thrown only inside the core; the connection object turns it into a failure event.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Stable identifiers for opening-handshake failures. */
export type HandshakeErrorCode =
  | 'HTTP_HEAD_TOO_LARGE'
  | 'HTTP_LINE_TOO_LONG'
  | 'HTTP_TOO_MANY_HEADERS'
  | 'HTTP_MALFORMED'
  | 'HTTP_UNSUPPORTED_VERSION'
  | 'WS_INVALID_METHOD'
  | 'WS_MISSING_HOST'
  | 'WS_INVALID_UPGRADE'
  | 'WS_INVALID_CONNECTION'
  | 'WS_INVALID_KEY'
  | 'WS_UNSUPPORTED_VERSION'
  | 'WS_INVALID_STATUS'
  | 'WS_INVALID_ACCEPT'
  | 'WS_INVALID_SUBPROTOCOL'
  | 'WS_INVALID_EXTENSION'
  | 'WS_INVALID_HEADER';

/**
 * The opening handshake failed. On the server side `status` is the HTTP status to
 * answer with (400, 426, 431, …); on the client side it is the status received (or 0).
 */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    readonly code: HandshakeErrorCode,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
