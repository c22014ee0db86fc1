/** The reconnecting WebSocket client on Node's sockets. */
import {
  type ClientOptions,
  createClientHandshake,
  type ReconnectOptions,
  ReconnectingWebSocket as SessionReconnectingWebSocket,
} from '@fullduplex/protocol';
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
  type ReconnectOptions,
  type StopCause,
} from '@fullduplex/protocol';

/**
 * Options of {@link ReconnectingWebSocket}: everything {@link connect} takes (used for
 * every attempt; `handshakeTimeout` bounds each one) plus the reconnect settings.
 * `signal` stops the client for good rather than aborting one attempt.
 */
export type ReconnectingWebSocketOptions = ClientOptions & ReconnectOptions;

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
export class ReconnectingWebSocket<Data = unknown> extends SessionReconnectingWebSocket<Data> {
  /** The URL every attempt dials. */
  readonly url: string;

  /**
   * Starts connecting at once. Throws (TypeError) for a URL or subprotocol list no
   * attempt could succeed with, rather than retrying forever.
   */
  constructor(url: string | URL, options: ReconnectingWebSocketOptions = {}, data?: Data) {
    const href = typeof url === 'string' ? url : url.href;
    createClientHandshake({
      url: href,
      protocols: typeof options.protocols === 'string' ? [options.protocols] : options.protocols,
    });
    const connectOptions: ClientOptions = { ...options, signal: undefined };
    super((signal) => connect<Data>(href, { ...connectOptions, signal }, data), options);
    this.url = href;
  }
}
