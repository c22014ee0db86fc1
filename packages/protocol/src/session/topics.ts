/**
 * Publish/subscribe among a server's connections.
 *
 * A published message is framed once and the same header and payload bytes are
 * written to every subscriber (server frames are unmasked, so they can be shared).
 */
import { encodeFrame, Opcode } from '../frames.ts';
import type { SendResult, SharedFrame } from './connection.ts';
import { type SendData, toBytes } from './data.ts';

/** What the registry needs of a connection (any `WebSocketConnection`, whatever its data type). */
export interface TopicMember {
  /** The member's topics, kept on the member so closing can unsubscribe in O(its topics). */
  topics: Set<string> | undefined;
  sendShared(shared: SharedFrame): SendResult;
}

/** Options for a publish. */
export interface PublishOptions {
  /** Send a string as a binary message. */
  readonly binary?: boolean;
  /** A connection not to deliver to (the sender, typically). */
  readonly exclude?: TopicMember;
}

const encoder = new TextEncoder();

/** Topic name → subscribed connections. Connections keep their own topic set for cleanup. */
export class TopicRegistry {
  private readonly topics = new Map<string, Set<TopicMember>>();

  /** Subscribes; returns false if it already was. Subscribing twice is harmless (uWS#962). */
  subscribe(connection: TopicMember, topic: string): boolean {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    let members = this.topics.get(topic);
    if (!members) {
      members = new Set();
      this.topics.set(topic, members);
    }
    if (members.has(connection)) return false;
    members.add(connection);
    connection.topics ??= new Set();
    connection.topics.add(topic);
    return true;
  }

  /** Unsubscribes; returns false if it was not subscribed. */
  unsubscribe(connection: TopicMember, topic: string): boolean {
    const members = this.topics.get(topic);
    if (!members?.delete(connection)) return false;
    if (members.size === 0) this.topics.delete(topic);
    connection.topics?.delete(topic);
    return true;
  }

  /** Removes a connection from every topic (on close). */
  unsubscribeAll(connection: TopicMember): void {
    const topics = connection.topics;
    if (!topics) return;
    for (const topic of topics) {
      const members = this.topics.get(topic);
      if (members?.delete(connection) && members.size === 0) this.topics.delete(topic);
    }
    connection.topics = undefined;
  }

  /** Number of connections subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** Names of topics with at least one subscriber. */
  topicNames(): string[] {
    return Array.from(this.topics.keys());
  }

  /**
   * Sends `data` to every subscriber of `topic` but `options.exclude`, framing it once.
   * Returns how many connections it was handed to (dropped sends are not counted).
   */
  publish(topic: string, data: SendData, options?: PublishOptions): number {
    const members = this.topics.get(topic);
    if (!members || members.size === 0) return 0;
    const isText = typeof data === 'string' && !options?.binary;
    const payload = typeof data === 'string' ? encoder.encode(data) : toBytes(data);
    const shared: SharedFrame = {
      frame: encodeFrame(payload, { opcode: isText ? Opcode.TEXT : Opcode.BINARY }),
    };
    const exclude = options?.exclude;
    let delivered = 0;
    for (const connection of members) {
      if (connection === exclude) continue;
      if (connection.sendShared(shared) !== 'dropped') delivered++;
    }
    return delivered;
  }
}
