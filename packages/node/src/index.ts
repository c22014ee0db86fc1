/**
 * @fullduplex/node — WebSocket server and client on Node's own sockets.
 *
 * The connection, topic, heartbeat and limit semantics are shared with
 * @fullduplex/bun and @fullduplex/deno through @fullduplex/protocol.
 */
export {
  type ClientOptions,
  CloseCode,
  type ConnectionEventMap,
  type ConnectionOptions,
  type HeartbeatOptions,
  HttpRequest,
  type HttpResponse,
  type OriginAllowlistOptions,
  originAllowlist,
  type PublishOptions,
  ReadyState,
  type SendData,
  type SendResult,
  type ServerCloseOptions,
  type ServerOptions,
  type UpgradeAccept,
  type UpgradeDecision,
  type UpgradeReject,
  UpgradeRequest,
  WebSocketConnection,
  WebSocketError,
  WebSocketHandshakeError,
  WebSocketProtocolError,
} from '@fullduplex/protocol';
export { connect, nodeDialer, nodeRuntime } from './client.ts';
export * from './reconnecting.ts';
export { type NodeServerOptions, WebSocketServer } from './server.ts';
export { NodeSocketTransport } from './transport.ts';
export { CloseEvent, type CloseEventInit, WebSocket } from './websocket.ts';
