/**
 * @fullduplex/deno — WebSocket server and client on Deno's own sockets
 * (`Deno.listen`, `Deno.listenTls`, `Deno.connect`, `Deno.startTls`).
 *
 * The connection, topic, heartbeat and limit semantics are shared with
 * @fullduplex/node and @fullduplex/bun through @fullduplex/protocol.
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
export { connect, denoDialer, denoRuntime } from './client.ts';
export * from './reconnecting.ts';
export {
  type DenoAddressInfo,
  type DenoServerOptions,
  type DenoServerTlsOptions,
  WebSocketServer,
} from './server.ts';
export { type DenoConnLike, DenoConnTransport } from './transport.ts';
export { CloseEvent, type CloseEventInit, WebSocket } from './websocket.ts';
