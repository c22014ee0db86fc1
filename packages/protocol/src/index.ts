/**
 * @fullduplex/protocol — the WebSocket protocol (RFC 6455) without I/O, plus the
 * runtime-agnostic session layer the Node, Bun and Deno adapters share.
 *
 * Sans-I/O: {@link Protocol} (framing, messages, closing), the handshake builders
 * and validators, the HTTP/1.1 head parser. Session: {@link WebSocketConnection},
 * {@link WebSocketServer}, {@link connect}, over the {@link Transport} contract.
 */

// Sans-I/O core
export * from './base64.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './extensions/deflate-engine.ts';
export * from './extensions/permessage-deflate.ts';
export * from './frames.ts';
export * from './handshake.ts';
export * from './header-values.ts';
export * from './http11.ts';
export * from './mask.ts';
export * from './protocol.ts';
// Session layer
export {
  type ClientOptions,
  type ClientRuntime,
  connect,
  WebSocketHandshakeError,
} from './session/client.ts';
export {
  type ConnectionClosed,
  type ConnectionEventMap,
  type ConnectionInfo,
  type ConnectionOptions,
  DEFAULT_SERVER_HEARTBEAT,
  type HeartbeatOptions,
  ReadyState,
  type SendResult,
  type SharedFrame,
  WebSocketConnection,
  WebSocketError,
  WebSocketProtocolError,
} from './session/connection.ts';
export { type SendData, toBytes } from './session/data.ts';
export { Emitter, type EventMap } from './session/emitter.ts';
export { type FlowReceiver, ReadPause, TransportFlow } from './session/flow.ts';
export { type OriginAllowlistOptions, originAllowlist } from './session/origin.ts';
export * from './session/reconnecting.ts';
export { HttpRequest, type RequestOrigin, UpgradeRequest } from './session/request.ts';
export {
  type HttpResponse,
  type ServerCloseOptions,
  type ServerEventMap,
  type ServerOptions,
  type UpgradeAccept,
  type UpgradeDecision,
  type UpgradeReject,
  WebSocketServer,
} from './session/server.ts';
export { Deadline, sharedTimerWheel, type TimerEntry, TimerWheel } from './session/timer-wheel.ts';
export { type PublishOptions, TopicRegistry } from './session/topics.ts';
export type {
  Dialer,
  DialOptions,
  PendingTransport,
  TlsClientOptions,
  Transport,
  TransportHandler,
} from './session/transport.ts';
export * from './session/whatwg.ts';
export * from './sha1.ts';
export * from './utf8.ts';
