/**
 * The WHATWG `WebSocket` (https://websockets.spec.whatwg.org/) on fullduplex's
 * Deno sockets: the same class as @fullduplex/node's, with the `ClientOptions` of
 * `connect()` (headers, TLS, limits, timeouts…) as a non-standard third argument.
 * Deno's own global `WebSocket` is untouched.
 */
import { createWebSocketClass, type WhatwgWebSocket } from '@fullduplex/protocol';
import { denoRuntime } from './client.ts';

export {
  CloseEvent,
  type CloseEventInit,
  type WhatwgBinaryType,
  type WhatwgSendData,
  type WhatwgWebSocketEventMap,
} from '@fullduplex/protocol';

/** The WHATWG `WebSocket` class, dialling with `Deno.connect` / `Deno.startTls`. */
export const WebSocket: typeof WhatwgWebSocket = createWebSocketClass(denoRuntime);
/** An instance of {@link WebSocket}. */
export type WebSocket = InstanceType<typeof WebSocket>;
