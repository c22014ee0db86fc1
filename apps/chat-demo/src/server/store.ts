/**
 * Where rooms live: history, presence and the fan-out between server instances.
 * Everything is async so a networked store (Redis, next) fits the same interface.
 * Each server instance subscribes once; the store delivers every room event — a new
 * message, a presence change, a typing notice — to every subscribed instance, and
 * messages of one room in id order.
 */
import { LIMITS, type Member, type StoredMessage } from './protocol.ts';

/** A message before the store numbered it. */
export type NewMessage = StoredMessage extends infer M
  ? M extends StoredMessage
    ? Omit<M, 'id'>
    : never
  : never;

/** What the store fans out to every instance. */
export type RoomEvent =
  | { readonly kind: 'message'; readonly message: StoredMessage }
  | { readonly kind: 'presence'; readonly members: readonly Member[] }
  | { readonly kind: 'typing'; readonly from: Member; readonly typing: boolean };

export interface HistorySlice {
  /** Messages with id greater than the one asked for, oldest first. */
  readonly messages: readonly StoredMessage[];
  /** Newest id in the room (0 if none). */
  readonly head: number;
}

export interface Store {
  /** Numbers the message (next id of the room), keeps it, fans it out; resolves with its id. */
  append(room: string, message: NewMessage): Promise<number>;
  /** Retained messages after `afterId`, oldest first; at most `limit` (the newest ones). */
  since(room: string, afterId: number, limit?: number): Promise<HistorySlice>;
  /** Adds a member to the room's presence and fans out the new list; resolves with it. */
  join(room: string, member: Member): Promise<readonly Member[]>;
  /** Removes a member and fans out the new list (if it changed). */
  leave(room: string, memberId: string): Promise<readonly Member[]>;
  /** Fans out an event nobody keeps (typing). */
  broadcast(room: string, event: RoomEvent): Promise<void>;
  /** Rooms with someone online or with history, and how many are online. */
  rooms(): Promise<readonly { name: string; online: number }[]>;
  /** Receives every room event of every instance. Returns the unsubscribe function. */
  subscribe(handler: (room: string, event: RoomEvent) => void): () => void;
  close(): Promise<void>;
}

export interface MemoryStoreOptions {
  /** Messages kept per room. Default 500. */
  readonly historyLimit?: number;
  /** File bytes kept per room; older messages are evicted past it. Default 32 MiB. */
  readonly historyBytes?: number;
}

interface Room {
  head: number;
  messages: StoredMessage[];
  bytes: number;
  members: Map<string, Member>;
}

/** One process's store: history and presence in maps, fan-out to local subscribers. */
export class MemoryStore implements Store {
  private readonly roomsByName = new Map<string, Room>();
  private readonly handlers = new Set<(room: string, event: RoomEvent) => void>();
  private readonly historyLimit: number;
  private readonly historyBytes: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? LIMITS.historyLimit;
    this.historyBytes = options.historyBytes ?? 32 * 1024 * 1024;
  }

  private room(name: string): Room {
    let room = this.roomsByName.get(name);
    if (!room) {
      room = { head: 0, messages: [], bytes: 0, members: new Map() };
      this.roomsByName.set(name, room);
    }
    return room;
  }

  private emit(room: string, event: RoomEvent): void {
    for (const handler of this.handlers) {
      try {
        handler(room, event);
      } catch {
        // A subscriber's failure is its own; the others still get the event.
      }
    }
  }

  async append(roomName: string, message: NewMessage): Promise<number> {
    const room = this.room(roomName);
    const id = ++room.head;
    const stored = { ...message, id } as StoredMessage;
    room.messages.push(stored);
    if (stored.type === 'file') room.bytes += stored.bytes.byteLength;
    while (room.messages.length > this.historyLimit || room.bytes > this.historyBytes) {
      const evicted = room.messages.shift();
      if (evicted?.type === 'file') room.bytes -= evicted.bytes.byteLength;
    }
    this.emit(roomName, { kind: 'message', message: stored });
    return id;
  }

  async since(roomName: string, afterId: number, limit = Number.POSITIVE_INFINITY): Promise<HistorySlice> {
    const room = this.roomsByName.get(roomName);
    if (!room) return { messages: [], head: 0 };
    // Ids are consecutive in the array: find the first one after `afterId` directly.
    const first = room.messages[0]?.id ?? room.head + 1;
    const start = Math.max(0, afterId + 1 - first);
    let messages = room.messages.slice(start);
    if (messages.length > limit) messages = messages.slice(messages.length - limit);
    return { messages, head: room.head };
  }

  async join(roomName: string, member: Member): Promise<readonly Member[]> {
    const room = this.room(roomName);
    room.members.set(member.id, member);
    const members = [...room.members.values()];
    this.emit(roomName, { kind: 'presence', members });
    return members;
  }

  async leave(roomName: string, memberId: string): Promise<readonly Member[]> {
    const room = this.roomsByName.get(roomName);
    if (!room) return [];
    if (!room.members.delete(memberId)) return [...room.members.values()];
    const members = [...room.members.values()];
    this.emit(roomName, { kind: 'presence', members });
    return members;
  }

  async broadcast(room: string, event: RoomEvent): Promise<void> {
    this.emit(room, event);
  }

  async rooms(): Promise<readonly { name: string; online: number }[]> {
    return [...this.roomsByName]
      .filter(([, room]) => room.members.size > 0 || room.head > 0)
      .map(([name, room]) => ({ name, online: room.members.size }))
      .sort((a, b) => b.online - a.online || a.name.localeCompare(b.name));
  }

  subscribe(handler: (room: string, event: RoomEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
