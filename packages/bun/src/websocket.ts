/**
 * The WHATWG `WebSocket` (https://websockets.spec.whatwg.org/) on Bun's sockets,
 * so browser code runs unchanged:
 *
 * ```ts
 * const ws = new WebSocket('ws://localhost:9001', ['chat'], { headers: { Authorization: 'Bearer …' } });
 * ws.onmessage = (event) => console.log(event.data);
 * ```
 *
 * The third constructor argument (the `ClientOptions` of `connect()`) is non-standard.
 */
import { createWebSocketClass } from '@fullduplex/protocol';
import { bunRuntime } from './client.ts';

export {
  CloseEvent,
  type CloseEventInit,
  type WhatwgBinaryType,
  type WhatwgSendData,
  type WhatwgWebSocketEventMap,
} from '@fullduplex/protocol';

/** The WHATWG `WebSocket` class, dialling with `Bun.connect`. */
export const WebSocket = createWebSocketClass(bunRuntime);
/** An instance of {@link WebSocket}. */
export type WebSocket = InstanceType<typeof WebSocket>;
