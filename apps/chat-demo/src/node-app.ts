/** The chat on Node, for the tests and the load benchmark: {@link startChat} with Node's server. */
import { WebSocketServer } from '@fullduplex/node';
import { type ChatApp, type ChatAppOptions, startChat } from './app.ts';

export type NodeChat = ChatApp;

/** Starts the chat on Node; port 0 (a free one) unless given. */
export function startNodeChat(options: ChatAppOptions = {}): Promise<NodeChat> {
  return startChat((serverOptions) => new WebSocketServer(serverOptions), { port: 0, ...options });
}
