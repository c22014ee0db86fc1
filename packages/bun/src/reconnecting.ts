/** The reconnecting WebSocket client on Bun's sockets. */
import { bindReconnectingWebSocket } from '@fullduplex/protocol';
import { connect } from './client.ts';

export {
  type DropCause,
  defaultShouldReconnect,
  type OutboxOptions,
  type OutboxOverflow,
  type ReconnectContext,
  type ReconnectingEventMap,
  type ReconnectingSendResult,
  type ReconnectingState,
  ReconnectingWebSocketError,
  type ReconnectingWebSocketOptions,
  type ReconnectOptions,
  type StopCause,
} from '@fullduplex/protocol';

/**
 * A WebSocket client that reconnects with backoff, queues sends while disconnected
 * and delivers messages across reconnects.
 *
 * ```ts
 * const rws = new ReconnectingWebSocket('wss://example.com/feed', { maxDelay: 10_000 });
 * rws.on('reconnected', () => rws.send(JSON.stringify({ subscribe: 'prices' })));
 * rws.send('hello'); // queued until the first connection opens
 * for await (const message of rws) console.log(message); // ends after rws.stop()
 * ```
 */
export const ReconnectingWebSocket = bindReconnectingWebSocket(connect);
/** An instance of {@link ReconnectingWebSocket}. */
export type ReconnectingWebSocket<Data = unknown> = InstanceType<typeof ReconnectingWebSocket<Data>>;
