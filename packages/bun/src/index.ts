/**
 * @fullduplex/bun — WebSocket server and client on Bun's own sockets
 * (`Bun.listen` / `Bun.connect`).
 *
 * The connection, topic, heartbeat and limit semantics are shared with
 * @fullduplex/node and @fullduplex/deno through @fullduplex/protocol.
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
  type TlsClientOptions,
  type UpgradeAccept,
  type UpgradeDecision,
  type UpgradeReject,
  UpgradeRequest,
  WebSocketConnection,
  WebSocketError,
  WebSocketHandshakeError,
  WebSocketProtocolError,
} from '@fullduplex/protocol';
export { bunDialer, bunRuntime, connect } from './client.ts';
export * from './reconnecting.ts';
export { type BunAddressInfo, type BunServerOptions, WebSocketServer } from './server.ts';
export { type BunSocket, BunSocketTransport, socketHandlers } from './transport.ts';
export { CloseEvent, type CloseEventInit, WebSocket } from './websocket.ts';
