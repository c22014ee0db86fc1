/**
 * The chat server core, written once against the shared fullduplex session API
 * (`WebSocketServer` / `WebSocketConnection` of @fullduplex/protocol, which the Node,
 * Bun and Deno adapters all extend). A runtime entry creates its server with
 * `chat.serverOptions`, then calls `chat.attach(server)`.
 */
import type {
  ServerOptions,
  UpgradeDecision,
  UpgradeRequest,
  WebSocketConnection,
  WebSocketServer,
} from '@fullduplex/protocol';
import {
  type ClientMessage,
  Close,
  type ErrorCode,
  LIMITS,
  type Member,
  type ParseResult,
  parseClientMessage,
  type SendFileMessage,
  type ServerMessage,
  type StoredMessage,
  SUBPROTOCOL,
  toWire,
} from './protocol.ts';
import type { RoomEvent, Store } from './store.ts';

/** Where one connection stands in one room. */
interface RoomState {
  /** `syncing` while history is being read: live events wait in `buffer`. */
  phase: 'syncing' | 'live';
  buffer: RoomEvent[];
}

/** Per-connection state, kept in `ws.data`. */
export interface ChatPeer {
  readonly id: string;
  nick: string | undefined;
  readonly rooms: Map<string, RoomState>;
  /** A file announced and waiting for its binary frame. */
  pendingFile: SendFileMessage | undefined;
  errors: number;
  /** Token bucket against floods. */
  tokens: number;
  refilledAt: number;
  closed: boolean;
}

export type ChatConnection = WebSocketConnection<ChatPeer>;

export interface ChatServerOptions {
  readonly store: Store;
  /** Sustained client messages per second (burst: 4×). Default 10. */
  readonly messagesPerSecond?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const topicOf = (room: string): string => `room:${room}`;

let counter = 0;
function newPeerId(): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${Date.now().toString(36)}${counter.toString(36)}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, '0')}`;
}

export class ChatServer {
  private readonly store: Store;
  private readonly now: () => number;
  private readonly rate: number;
  private server: Pick<WebSocketServer<ChatPeer>, 'publish' | 'on' | 'subscriberCount'> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Connections reading history per room: they get live events through their buffer. */
  private readonly syncing = new Map<string, Set<ChatConnection>>();
  private readonly connections = new Set<ChatConnection>();
  /**
   * This instance's picture of each room's members, kept while a local connection is in
   * the room. The store fans out full lists; connections get only the differences
   * (a room of N costs O(N) per join instead of O(N²)), relative to the list their
   * `joined` carried, which is this picture at the moment they went live.
   */
  private readonly presence = new Map<string, { members: Map<string, Member>; filled: boolean }>();

  constructor(options: ChatServerOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.rate = options.messagesPerSecond ?? 10;
  }

  /** Options for the runtime's `WebSocketServer` (spread them, add `server`/`path`/`port`). */
  get serverOptions(): ServerOptions<ChatPeer> {
    return {
      protocols: [SUBPROTOCOL],
      upgrade: (request) => this.upgrade(request),
      // One file in one binary frame; anything larger fails the connection with 1009.
      maxMessageSize: LIMITS.maxFileBytes,
      heartbeat: { interval: 30_000 },
      maxQueuedMessages: 16,
    };
  }

  /** The `upgrade` hook: the subprotocol is required (it versions the wire format). */
  upgrade(request: UpgradeRequest): UpgradeDecision<ChatPeer> {
    if (!request.protocols.includes(SUBPROTOCOL)) {
      return {
        status: 400,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `this endpoint speaks the ${SUBPROTOCOL} subprotocol only\n`,
      };
    }
    const now = this.now();
    return {
      protocol: SUBPROTOCOL,
      data: {
        id: newPeerId(),
        nick: undefined,
        rooms: new Map(),
        pendingFile: undefined,
        errors: 0,
        tokens: this.rate * 4,
        refilledAt: now,
        closed: false,
      },
    };
  }

  /** Starts serving the connections of `server` (built with {@link serverOptions}). */
  attach(server: Pick<WebSocketServer<ChatPeer>, 'publish' | 'on' | 'subscriberCount'>): void {
    if (this.server) throw new Error('already attached');
    this.server = server;
    this.unsubscribe = this.store.subscribe((room, event) => this.onRoomEvent(room, event));
    server.on('connection', (ws) => this.handleConnection(ws));
  }

  /** Stops listening to the store (the runtime closes its server itself). */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Serves one accepted connection. */
  handleConnection(ws: ChatConnection): void {
    if (!ws.data) {
      ws.close(Close.PROTOCOL_ERROR, `subprotocol ${SUBPROTOCOL} required`);
      return;
    }
    this.connections.add(ws);
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) this.onBinary(ws, data as Uint8Array);
        else this.onText(ws, data as string);
      } catch (error) {
        // A bug of ours must not take the process down; this connection ends.
        ws.close(1011, 'internal error');
        console.error('chat: handler failed', error);
      }
    });
    ws.on('close', () => this.onClose(ws));
  }

  // ------------------------------------------------------------ inbound

  private onText(ws: ChatConnection, text: string): void {
    const peer = ws.data;
    if (peer.pendingFile) {
      ws.close(Close.POLICY_VIOLATION, 'expected the announced binary frame');
      return;
    }
    if (!this.takeToken(ws)) return;
    const parsed: ParseResult = parseClientMessage(text);
    if (!parsed.ok) {
      if (parsed.close !== undefined) ws.close(parsed.close, parsed.message);
      else this.error(ws, parsed.code, parsed.message);
      return;
    }
    const message = parsed.message;
    if (message.type === 'hello') {
      if (peer.nick !== undefined) {
        this.error(ws, 'already_ready', 'hello was already sent');
        return;
      }
      peer.nick = message.nick;
      void this.welcome(ws);
      return;
    }
    if (peer.nick === undefined) {
      this.error(ws, 'not_ready', 'send hello first');
      return;
    }
    this.dispatch(ws, message);
  }

  private dispatch(ws: ChatConnection, message: Exclude<ClientMessage, { type: 'hello' }>): void {
    const peer = ws.data;
    const joined = peer.rooms.has(message.room);
    switch (message.type) {
      case 'join':
        if (joined) {
          this.error(ws, 'bad_room', `already in ${message.room}`);
          return;
        }
        if (peer.rooms.size >= LIMITS.maxRoomsPerConnection) {
          this.error(ws, 'too_many_rooms', `at most ${LIMITS.maxRoomsPerConnection} rooms`);
          return;
        }
        void this.join(ws, message.room, message.since).catch((error) => this.storeFailed(ws, error));
        return;
      case 'leave':
        if (!joined) {
          this.error(ws, 'not_joined', `not in ${message.room}`);
          return;
        }
        this.leave(ws, message.room);
        this.send(ws, { type: 'left', room: message.room });
        return;
      case 'typing':
        if (!joined) {
          this.error(ws, 'not_joined', `not in ${message.room}`);
          return;
        }
        void this.store
          .broadcast(message.room, { kind: 'typing', from: this.member(ws), typing: message.typing })
          .catch((error) => this.storeFailed(ws, error));
        return;
      case 'msg':
        if (!joined) {
          this.error(ws, 'not_joined', `not in ${message.room}`);
          return;
        }
        void this.store
          .append(message.room, {
            type: 'msg',
            room: message.room,
            ts: this.now(),
            from: this.member(ws),
            text: message.text,
            ...(message.nonce ? { nonce: message.nonce } : {}),
          })
          .catch((error) => this.storeFailed(ws, error));
        return;
      case 'file':
        if (!joined) {
          // The client will still send the bytes: take them and drop them.
          peer.pendingFile = message;
          this.error(ws, 'not_joined', `not in ${message.room}`);
          return;
        }
        peer.pendingFile = message;
        return;
    }
  }

  private onBinary(ws: ChatConnection, data: Uint8Array): void {
    const peer = ws.data;
    const file = peer.pendingFile;
    if (!file) {
      ws.close(Close.UNSUPPORTED_DATA, 'binary frames only after a file announcement');
      return;
    }
    peer.pendingFile = undefined;
    if (data.byteLength !== file.size) {
      ws.close(Close.POLICY_VIOLATION, `file is ${data.byteLength} bytes, ${file.size} were announced`);
      return;
    }
    if (!peer.rooms.has(file.room)) return;
    void this.store
      .append(file.room, {
        type: 'file',
        room: file.room,
        ts: this.now(),
        from: this.member(ws),
        name: file.name,
        mime: file.mime,
        size: file.size,
        ...(file.nonce ? { nonce: file.nonce } : {}),
        // The payload may be a view of a receive buffer: keep our own copy.
        bytes: data.slice(),
      })
      .catch((error) => this.storeFailed(ws, error));
  }

  private async welcome(ws: ChatConnection): Promise<void> {
    const rooms = await this.store.rooms().catch(() => []);
    this.send(ws, {
      type: 'welcome',
      protocol: SUBPROTOCOL,
      id: ws.data.id,
      nick: ws.data.nick as string,
      limits: {
        maxFileBytes: LIMITS.maxFileBytes,
        maxTextChars: LIMITS.maxTextChars,
        historyLimit: LIMITS.historyLimit,
      },
      rooms,
    });
  }

  /**
   * Joins a room and sends exactly the messages after `since` (or the recent ones),
   * then goes live. Events arriving meanwhile wait in the room's buffer; messages are
   * deduplicated by id so none is sent twice and none is skipped.
   */
  private async join(ws: ChatConnection, room: string, since: number | undefined): Promise<void> {
    const peer = ws.data;
    const state: RoomState = { phase: 'syncing', buffer: [] };
    peer.rooms.set(room, state);
    let syncing = this.syncing.get(room);
    if (!syncing) {
      syncing = new Set();
      this.syncing.set(room, syncing);
    }
    syncing.add(ws);
    if (!this.presence.has(room)) this.presence.set(room, { members: new Map(), filled: false });
    try {
      const listed = await this.store.join(room, this.member(ws));
      let slice = await this.store.since(
        room,
        since ?? 0,
        since === undefined ? LIMITS.recentOnJoin : undefined,
      );
      let after = since ?? 0;
      if (since !== undefined && since > slice.head) {
        // The client's ids come from an earlier history (the store was reset): start over.
        after = 0;
        slice = await this.store.since(room, 0, LIMITS.recentOnJoin);
      }
      if (peer.closed || peer.rooms.get(room) !== state) return;
      let view = this.presence.get(room);
      if (!view) {
        view = { members: new Map(), filled: false };
        this.presence.set(room, view);
      }
      // No fan-out reached us yet: the list our own join returned is the freshest we have.
      if (!view.filled) {
        view.members = new Map(listed.map((m) => [m.id, m]));
        view.filled = true;
      }
      const members = [...view.members.values()];
      const first = slice.messages[0]?.id;
      const truncated = since !== undefined && (first !== undefined ? first > after + 1 : slice.head > after);
      this.send(ws, {
        type: 'joined',
        room,
        members,
        head: slice.head,
        truncated,
        count: slice.messages.length,
      });
      let lastSent = after;
      for (const message of slice.messages) {
        this.sendMessage(ws, message);
        lastSent = message.id;
      }
      // Everything fanned out while we read history, minus what history already held.
      // Presence changes are already in `members` (the picture they updated).
      for (const event of state.buffer) {
        if (event.kind === 'message') {
          if (event.message.id <= lastSent) continue;
          lastSent = event.message.id;
          this.sendMessage(ws, event.message);
        } else if (event.kind === 'typing') {
          this.send(ws, { type: 'typing', room, from: event.from, typing: event.typing });
        }
      }
      state.buffer = [];
      state.phase = 'live';
      ws.subscribe(topicOf(room));
    } finally {
      syncing.delete(ws);
      if (syncing.size === 0 && this.syncing.get(room) === syncing) this.syncing.delete(room);
    }
  }

  private leave(ws: ChatConnection, room: string): void {
    ws.data.rooms.delete(room);
    ws.unsubscribe(topicOf(room));
    this.syncing.get(room)?.delete(ws);
    if ((this.syncing.get(room)?.size ?? 0) === 0 && this.server?.subscriberCount(topicOf(room)) === 0) {
      this.presence.delete(room);
    }
    void this.store.leave(room, ws.data.id).catch(() => {});
  }

  private onClose(ws: ChatConnection): void {
    const peer = ws.data;
    peer.closed = true;
    this.connections.delete(ws);
    for (const room of [...peer.rooms.keys()]) this.leave(ws, room);
  }

  // ------------------------------------------------------------ fan-out

  private onRoomEvent(room: string, event: RoomEvent): void {
    const server = this.server;
    if (!server) return;
    const topic = topicOf(room);
    if (event.kind === 'message') {
      server.publish(topic, JSON.stringify(toWire(event.message)));
      if (event.message.type === 'file') server.publish(topic, event.message.bytes, { binary: true });
    } else if (event.kind === 'typing') {
      server.publish(topic, JSON.stringify({ type: 'typing', room, from: event.from, typing: event.typing }));
    } else {
      const change = this.updatePresence(room, event.members);
      if (change) server.publish(topic, JSON.stringify(change));
    }
    const syncing = this.syncing.get(room);
    if (syncing) for (const ws of syncing) ws.data.rooms.get(room)?.buffer.push(event);
  }

  /** Brings this instance's picture of `room` to `members`; returns the difference, if any. */
  private updatePresence(room: string, members: readonly Member[]): ServerMessage | undefined {
    const entry = this.presence.get(room);
    if (!entry) return undefined; // nobody here is in the room
    entry.filled = true;
    const view = entry.members;
    const joined: Member[] = [];
    const left: string[] = [];
    const now = new Set<string>();
    for (const member of members) {
      now.add(member.id);
      const known = view.get(member.id);
      if (known?.nick !== member.nick) {
        view.set(member.id, member);
        joined.push(member);
      }
    }
    for (const id of view.keys()) {
      if (!now.has(id)) {
        view.delete(id);
        left.push(id);
      }
    }
    return joined.length > 0 || left.length > 0 ? { type: 'presence', room, joined, left } : undefined;
  }

  // ------------------------------------------------------------ helpers

  private member(ws: ChatConnection): Member {
    return { id: ws.data.id, nick: ws.data.nick as string };
  }

  private send(ws: ChatConnection, message: ServerMessage): void {
    ws.send(JSON.stringify(message));
  }

  private sendMessage(ws: ChatConnection, message: StoredMessage): void {
    ws.send(JSON.stringify(toWire(message)));
    if (message.type === 'file') ws.send(message.bytes, { binary: true });
  }

  private error(ws: ChatConnection, code: ErrorCode, message: string): void {
    const peer = ws.data;
    peer.errors += 1;
    if (peer.errors > LIMITS.maxErrors) {
      ws.close(Close.POLICY_VIOLATION, 'too many invalid messages');
      return;
    }
    this.send(ws, { type: 'error', code, message });
  }

  private storeFailed(ws: ChatConnection, error: unknown): void {
    console.error('chat: store failed', error);
    ws.close(1011, 'storage unavailable');
  }

  /** Token bucket: `rate` per second, bursts of 4×; a flood ends the connection with 1008. */
  private takeToken(ws: ChatConnection): boolean {
    const peer = ws.data;
    const now = this.now();
    peer.tokens = Math.min(this.rate * 4, peer.tokens + ((now - peer.refilledAt) / 1000) * this.rate);
    peer.refilledAt = now;
    if (peer.tokens < 1) {
      ws.close(Close.POLICY_VIOLATION, 'too many messages');
      return false;
    }
    peer.tokens -= 1;
    return true;
  }

  /** Open connections (for tests and shutdown). */
  get size(): number {
    return this.connections.size;
  }
}
