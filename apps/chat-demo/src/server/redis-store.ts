/**
 * A {@link Store} on Redis, so several server processes — on any mix of Node, Bun and
 * Deno — share rooms, presence and history. Uses node-redis (`redis` on npm), which
 * only needs the `node:net`/`node:buffer` compatibility all three runtimes provide.
 *
 * Layout (P is the key prefix, default `fdchat:`):
 *
 * | key / channel            | type   | holds                                                    |
 * | ------------------------ | ------ | -------------------------------------------------------- |
 * | `P h:<room>`             | string | the room's newest message id (INCR)                      |
 * | `P l:<room>`             | list   | retained messages, oldest first (records, see below)     |
 * | `P b:<room>`             | string | file bytes retained in `l:<room>`                        |
 * | `P z:<room>`             | zset   | member id → join sequence (presence, in join order)      |
 * | `P m:<room>`             | hash   | member id → member JSON                                  |
 * | `P seq`                  | string | join sequence counter                                    |
 * | `P rooms`                | set    | rooms with history or presence                           |
 * | `P instances`            | zset   | instance id → expiry (ms, Redis clock)                   |
 * | `P o:<instance>`         | set    | rooms where the instance has members                     |
 * | `P om:<instance>:<room>` | set    | the instance's member ids in that room                   |
 * | channel `P room:<room>`  | pubsub | `m`+record, `p`+members JSON, `t`+typing JSON            |
 *
 * A record is `<id>\n<header JSON>\n<file bytes>`: JSON.stringify never emits a raw
 * newline, so the bytes travel raw, not base64. Appending is one Lua script (INCR the
 * head, RPUSH, evict past the bounds, PUBLISH), so ids, history and fan-out order agree.
 *
 * Every instance subscribes to `P room:*` on one connection and feeds each room's
 * events through a queue that remembers the last delivered id: a duplicate is dropped,
 * a skipped id is read from history first, and after the subscriber reconnects every
 * known room is caught up from history and its member list re-read (pub/sub keeps
 * nothing for the disconnected). `since()` resolves only once this instance's
 * handlers have seen every message up to the head it returns, which is what lets
 * ChatServer's join-time deduplication work across processes.
 *
 * Presence: each instance heartbeats its entry in `P instances`; any live instance
 * removes the members of an instance whose entry expired (a crash) and publishes the
 * new member lists. An instance that finds itself reaped (a long pause) joins its
 * members again.
 */
// node-redis takes binary arguments only as Buffers; node:buffer exists on all three runtimes.
import { Buffer } from 'node:buffer';
import { createClient, RESP_TYPES } from 'redis';
import { LIMITS, type Member, type StoredMessage } from './protocol.ts';
import type { HistorySlice, NewMessage, RoomEvent, Store } from './store.ts';

/** Where an error reported to {@link RedisStoreOptions.onError} came from. */
export type RedisStoreErrorSource = 'command' | 'subscriber' | 'heartbeat' | 'feed';

export interface RedisStoreOptions {
  /** Prefix of every key and channel; stores with different prefixes never meet. Default `fdchat:`. */
  readonly prefix?: string;
  /** Messages kept per room. Default `LIMITS.historyLimit` (500). */
  readonly historyLimit?: number;
  /** File bytes kept per room; older messages are evicted past it. Default 32 MiB. */
  readonly historyBytes?: number;
  /** `createRedisStore` rejects when Redis does not answer within this (ms). Default 5000. */
  readonly connectTimeout?: number;
  /** Longest wait between reconnection attempts (ms); the backoff doubles up to it. Default 2000. */
  readonly reconnectMaxDelay?: number;
  /** How often this instance says it is alive and reaps dead ones (ms). Default 2000. */
  readonly heartbeatInterval?: number;
  /** An instance silent this long is dead and its members are removed (ms). Default 8000. */
  readonly instanceTtl?: number;
  /** Wait before retrying a failed history read that fills a gap (ms). Default 500. */
  readonly retryDelay?: number;
  /**
   * Errors nobody awaits (lost connections, failed heartbeats). Default: logged to
   * the console, at most once per second and source.
   */
  readonly onError?: (error: Error, source: RedisStoreErrorSource) => void;
}

type RedisClient = ReturnType<typeof createClient>;
type RedisArg = string | Buffer;
type Handler = (room: string, event: RoomEvent) => void;

/** Replies with bulk strings as Buffers (binary-safe), for the commands that read records. */
const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

const NEWLINE = 0x0a;
const KIND_MESSAGE = 0x6d; // 'm'
const KIND_PRESENCE = 0x70; // 'p'
const KIND_TYPING = 0x74; // 't'

const utf8 = new TextDecoder();

// ------------------------------------------------------------------ Lua

/** Shared helpers, prepended to the scripts that need them. */
const LUA_LIB = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function presence(zkey, mkey)
  local parts = {}
  for _, id in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do
    local json = redis.call('HGET', mkey, id)
    if json then parts[#parts + 1] = json end
  end
  return '[' .. table.concat(parts, ',') .. ']'
end
local function forgetIfEmpty(p, room)
  if redis.call('ZCARD', p .. 'z:' .. room) == 0 and redis.call('EXISTS', p .. 'h:' .. room) == 0 then
    redis.call('SREM', p .. 'rooms', room)
  end
end
local function drop(p, inst)
  local okey = p .. 'o:' .. inst
  for _, room in ipairs(redis.call('SMEMBERS', okey)) do
    local omkey = p .. 'om:' .. inst .. ':' .. room
    local zkey = p .. 'z:' .. room
    local mkey = p .. 'm:' .. room
    local changed = false
    for _, id in ipairs(redis.call('SMEMBERS', omkey)) do
      if redis.call('ZREM', zkey, id) == 1 then changed = true end
      redis.call('HDEL', mkey, id)
    end
    redis.call('DEL', omkey)
    if changed then
      redis.call('PUBLISH', p .. 'room:' .. room, 'p' .. presence(zkey, mkey))
      forgetIfEmpty(p, room)
    end
  end
  redis.call('DEL', okey)
  redis.call('ZREM', p .. 'instances', inst)
end
`;

/**
 * KEYS: head, list, bytes, rooms. ARGV: header JSON, file bytes, history limit,
 * history bytes, channel, room. Returns the new id.
 */
const APPEND = `
local id = redis.call('INCR', KEYS[1])
local record = string.format('%d', id) .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2]
local len = redis.call('RPUSH', KEYS[2], record)
local bytes = redis.call('INCRBY', KEYS[3], #ARGV[2])
local limit = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
while len > 0 and (len > limit or bytes > maxBytes) do
  local old = redis.call('LPOP', KEYS[2])
  local first = string.find(old, '\\n', 1, true)
  local second = string.find(old, '\\n', first + 1, true)
  bytes = bytes - (#old - second)
  len = len - 1
end
redis.call('SET', KEYS[3], bytes)
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('PUBLISH', ARGV[5], 'm' .. record)
return id
`;

/**
 * KEYS: head, list. ARGV: after id, limit (-1: none). Returns {head, record...}, the
 * records after the id (the newest \`limit\` of them), oldest first.
 */
const SINCE = `
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local len = redis.call('LLEN', KEYS[2])
if len == 0 then return {head} end
local first = redis.call('LINDEX', KEYS[2], 0)
local firstId = tonumber(string.sub(first, 1, string.find(first, '\\n', 1, true) - 1))
local start = math.max(0, tonumber(ARGV[1]) + 1 - firstId)
local limit = tonumber(ARGV[2])
if limit >= 0 and len - start > limit then start = len - limit end
if start >= len then return {head} end
local records = redis.call('LRANGE', KEYS[2], start, -1)
table.insert(records, 1, head)
return records
`;

/**
 * KEYS: zset, hash, rooms, owned rooms, owned members, instances, seq. ARGV: room,
 * member id, member JSON, channel, instance, ttl. Returns {revived, members JSON}.
 */
const JOIN = `${LUA_LIB}
local revived = redis.call('ZADD', KEYS[6], nowMs() + tonumber(ARGV[6]), ARGV[5])
redis.call('ZADD', KEYS[1], 'NX', redis.call('INCR', KEYS[7]), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[2])
local list = presence(KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[4], 'p' .. list)
return {revived, list}
`;

/**
 * KEYS: zset, hash, owned rooms, owned members. ARGV: prefix, room, member id,
 * channel. Returns the members JSON.
 */
const LEAVE = `${LUA_LIB}
local removed = redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[3])
if redis.call('SCARD', KEYS[4]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
local list = presence(KEYS[1], KEYS[2])
if removed == 1 then
  redis.call('PUBLISH', ARGV[4], 'p' .. list)
  forgetIfEmpty(ARGV[1], ARGV[2])
end
return list
`;

/**
 * KEYS: instances. ARGV: prefix, instance, ttl. Renews this instance, removes the
 * members of expired ones. Returns {revived (1 if our entry was gone), reaped}.
 */
const TICK = `${LUA_LIB}
local now = nowMs()
local revived = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 16)
for _, inst in ipairs(dead) do drop(ARGV[1], inst) end
return {revived, #dead}
`;

/** KEYS: instances. ARGV: prefix, instance. Removes the instance and its members. */
const DROP = `${LUA_LIB}
drop(ARGV[1], ARGV[2])
return 1
`;

/** KEYS: zset, hash. Returns the members JSON. */
const PRESENCE = `${LUA_LIB}
return presence(KEYS[1], KEYS[2])
`;

/** KEYS: rooms. ARGV: prefix. Returns {room, head, online, ...}. */
const ROOMS = `
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = room
  out[#out + 1] = tonumber(redis.call('GET', ARGV[1] .. 'h:' .. room) or '0')
  out[#out + 1] = redis.call('ZCARD', ARGV[1] .. 'z:' .. room)
end
return out
`;

const SCRIPTS = { APPEND, SINCE, JOIN, LEAVE, TICK, DROP, PRESENCE, ROOMS } as const;
type ScriptName = keyof typeof SCRIPTS;

// ------------------------------------------------------------------ records

/** A plain Uint8Array over the same memory (replies are Buffers, a Node subclass). */
function view(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Error('redis-store: expected a binary reply');
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** node-redis only takes strings and Buffers: wrap the bytes without copying. */
function toArg(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type Header = StoredMessage extends infer M
  ? M extends StoredMessage
    ? Omit<M, 'id' | 'bytes'>
    : never
  : never;

function decodeRecord(record: Uint8Array): StoredMessage {
  const first = record.indexOf(NEWLINE);
  const second = record.indexOf(NEWLINE, first + 1);
  if (first < 1 || second < 0) throw new Error('redis-store: malformed record');
  const id = Number(utf8.decode(record.subarray(0, first)));
  const header = JSON.parse(utf8.decode(record.subarray(first + 1, second))) as Header;
  if (header.type === 'file') return { ...header, id, bytes: record.subarray(second + 1) };
  return { ...header, id };
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

function unref(timer: unknown): void {
  // Node and Bun timers can be unref'd; Deno's are plain numbers.
  (timer as { unref?: () => void } | undefined)?.unref?.();
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

// ------------------------------------------------------------------ per-room feed

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

type FeedItem =
  | { readonly kind: 'event'; readonly event: RoomEvent }
  /** Catch up to the head: from `slice` when it covers the gap, else from history. */
  | { readonly kind: 'sync'; readonly slice: HistorySlice | undefined; readonly waiter: Waiter | undefined };

/** One room's delivery state on this instance. */
interface Feed {
  /** Newest id delivered to the handlers; undefined until the room is first seen. */
  last: number | undefined;
  readonly queue: FeedItem[];
  /** A history read is in flight (or waiting to be retried): the queue waits. */
  busy: boolean;
  /** JSON of the member list last delivered, to tell whether a re-read changed it. */
  members: string | undefined;
}

// ------------------------------------------------------------------ the store

/** Rooms, presence and history in Redis, shared by every instance with the same prefix. */
export class RedisStore implements Store {
  /** This instance's id (its heartbeat entry and the client names carry it). */
  readonly instanceId: string;
  /** The key prefix in use. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly historyLimit: number;
  private readonly historyBytes: number;
  private readonly heartbeatInterval: number;
  private readonly instanceTtl: number;
  private readonly retryDelay: number;
  private readonly onError: (error: Error, source: RedisStoreErrorSource) => void;
  private readonly channelPrefix: string;
  private readonly shas = new Map<ScriptName, string>();
  private readonly handlers = new Set<Handler>();
  private readonly feeds = new Map<string, Feed>();
  /** Members joined through this instance, to join them again if we were reaped. */
  private readonly local = new Map<string, Map<string, Member>>();
  private heartbeat: ReturnType<typeof setTimeout> | undefined;
  private subscribed = false;
  private closed = false;
  private lastError: Error | undefined;

  private constructor(url: string, options: RedisStoreOptions) {
    const random = crypto.getRandomValues(new Uint8Array(8));
    this.instanceId = [...random].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.prefix = options.prefix ?? 'fdchat:';
    this.historyLimit = options.historyLimit ?? LIMITS.historyLimit;
    this.historyBytes = options.historyBytes ?? 32 * 1024 * 1024;
    this.heartbeatInterval = options.heartbeatInterval ?? 2000;
    this.instanceTtl = options.instanceTtl ?? 8000;
    this.retryDelay = options.retryDelay ?? 500;
    this.onError = options.onError ?? consoleReporter();
    this.channelPrefix = `${this.prefix}room:`;
    const maxDelay = options.reconnectMaxDelay ?? 2000;
    const connectTimeout = options.connectTimeout ?? 5000;
    const base = {
      url,
      // Fail fast while disconnected: a command must not hang until Redis returns.
      disableOfflineQueue: true,
      socket: {
        connectTimeout,
        // Bounded exponential backoff with jitter, retried forever (a store outlives outages).
        reconnectStrategy: (retries: number) =>
          Math.round(Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) * (0.5 + Math.random() / 2)),
      },
    };
    this.client = createClient({ ...base, name: `${this.prefix}cmd:${this.instanceId}` });
    this.subscriber = createClient({ ...base, name: `${this.prefix}sub:${this.instanceId}` });
    // Without listeners an 'error' event would throw; they fire on every lost connection.
    this.client.on('error', (error: unknown) => this.report(error, 'command'));
    this.subscriber.on('error', (error: unknown) => this.report(error, 'subscriber'));
    this.subscriber.on('ready', () => this.onSubscriberReady());
  }

  /** Connects, subscribes and registers the instance; see {@link createRedisStore}. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const store = new RedisStore(url, options);
    const timeout = options.connectTimeout ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = store.lastError ? `: ${store.lastError.message}` : '';
        reject(new Error(`Redis unreachable at ${redact(url)} (no connection within ${timeout} ms)${cause}`));
      }, timeout);
    });
    const starting = store.start();
    starting.catch(() => {}); // It may lose the race below and fail later, once destroyed.
    try {
      await Promise.race([starting, deadline]);
    } catch (error) {
      store.abandon();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  private async start(): Promise<void> {
    await Promise.all([this.client.connect(), this.subscriber.connect()]);
    await Promise.all(
      (Object.keys(SCRIPTS) as ScriptName[]).map(async (name) => {
        const sha = await this.client.sendCommand<string>(['SCRIPT', 'LOAD', SCRIPTS[name]]);
        this.shas.set(name, sha);
      }),
    );
    await this.subscriber.pSubscribe(
      `${escapeGlob(this.channelPrefix)}*`,
      (message: Buffer, channel: Buffer) => this.onPublished(message, channel),
      true,
    );
    this.subscribed = true;
    await this.run('TICK', [this.key('instances')], [this.prefix, this.instanceId, String(this.instanceTtl)]);
    this.scheduleHeartbeat();
  }

  // ---------------------------------------------------------------- Store

  async append(room: string, message: NewMessage): Promise<number> {
    this.assertOpen();
    let header: Header;
    let bytes: RedisArg = '';
    if (message.type === 'file') {
      const { bytes: fileBytes, ...rest } = message;
      header = rest;
      bytes = toArg(fileBytes);
    } else {
      header = message;
    }
    const reply = await this.run(
      'APPEND',
      [this.key('h:', room), this.key('l:', room), this.key('b:', room), this.key('rooms')],
      [
        JSON.stringify(header),
        bytes,
        String(this.historyLimit),
        String(this.historyBytes),
        this.channelPrefix + room,
        room,
      ],
    );
    return Number(reply);
  }

  async since(room: string, afterId: number, limit = Number.POSITIVE_INFINITY): Promise<HistorySlice> {
    this.assertOpen();
    const slice = await this.read(room, afterId, limit);
    // Let this instance's handlers catch up to `head` first, so a joining connection
    // can trust "everything up to head was in history or in my buffer".
    await new Promise<void>((resolve, reject) =>
      this.enqueue(room, { kind: 'sync', slice, waiter: { resolve, reject } }),
    );
    return slice;
  }

  async join(room: string, member: Member): Promise<readonly Member[]> {
    this.assertOpen();
    // Recorded before the command so a leave() sent right after wins, in order.
    let members = this.local.get(room);
    if (!members) {
      members = new Map();
      this.local.set(room, members);
    }
    members.set(member.id, member);
    try {
      const [revived, list] = await this.joinScript(room, member);
      if (revived === 1) void this.rejoinAll();
      return list;
    } catch (error) {
      if (this.local.get(room)?.get(member.id) === member) this.forgetLocal(room, member.id);
      throw error;
    }
  }

  async leave(room: string, memberId: string): Promise<readonly Member[]> {
    this.assertOpen();
    this.forgetLocal(room, memberId);
    const reply = await this.run(
      'LEAVE',
      [this.key('z:', room), this.key('m:', room), this.key('o:', this.instanceId), this.ownedKey(room)],
      [this.prefix, room, memberId, this.channelPrefix + room],
    );
    return JSON.parse(String(reply)) as Member[];
  }

  async broadcast(room: string, event: RoomEvent): Promise<void> {
    this.assertOpen();
    let payload: string;
    if (event.kind === 'typing') payload = `t${JSON.stringify({ from: event.from, typing: event.typing })}`;
    else if (event.kind === 'presence') payload = `p${JSON.stringify(event.members)}`;
    else throw new Error('redis-store: messages are fanned out by append(), not broadcast()');
    await this.client.sendCommand(['PUBLISH', this.channelPrefix + room, payload]);
  }

  async rooms(): Promise<readonly { name: string; online: number }[]> {
    this.assertOpen();
    const reply = (await this.run('ROOMS', [this.key('rooms')], [this.prefix])) as unknown[];
    const rooms: { name: string; online: number }[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const head = Number(reply[i + 1]);
      const online = Number(reply[i + 2]);
      if (online > 0 || head > 0) rooms.push({ name: String(reply[i]), online });
    }
    return rooms.sort((a, b) => b.online - a.online || a.name.localeCompare(b.name));
  }

  subscribe(handler: (room: string, event: RoomEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Removes this instance's members (others see them leave) and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    try {
      await this.run('DROP', [this.key('instances')], [this.prefix, this.instanceId]);
    } catch (error) {
      // Redis is gone: the others reap our members once our heartbeat expires.
      this.report(error, 'command');
    }
    await Promise.all([quit(this.subscriber), quit(this.client)]);
  }

  /**
   * Drops the connections without any cleanup, as a crash would: the members stay in
   * Redis until another instance reaps them. For tests and failed starts.
   */
  abandon(): void {
    if (this.closed) return;
    this.stop();
    this.subscriber.destroy();
    this.client.destroy();
  }

  // ---------------------------------------------------------------- fan-out

  private onPublished(payload: Buffer, channelBytes: Buffer): void {
    if (this.closed) return;
    try {
      const channel = utf8.decode(channelBytes);
      if (!channel.startsWith(this.channelPrefix)) return;
      const room = channel.slice(this.channelPrefix.length);
      const data = view(payload);
      const body = data.subarray(1);
      let event: RoomEvent;
      switch (data[0]) {
        case KIND_MESSAGE:
          event = { kind: 'message', message: decodeRecord(body) };
          break;
        case KIND_PRESENCE:
          event = { kind: 'presence', members: JSON.parse(utf8.decode(body)) as Member[] };
          break;
        case KIND_TYPING: {
          const { from, typing } = JSON.parse(utf8.decode(body)) as { from: Member; typing: boolean };
          event = { kind: 'typing', from, typing };
          break;
        }
        default:
          return;
      }
      this.enqueue(room, { kind: 'event', event });
    } catch (error) {
      this.report(error, 'subscriber');
    }
  }

  /** After a reconnection (resubscribed by then): read what was missed meanwhile. */
  private onSubscriberReady(): void {
    if (!this.subscribed || this.closed) return;
    for (const room of this.feeds.keys())
      this.enqueue(room, { kind: 'sync', slice: undefined, waiter: undefined });
  }

  private enqueue(room: string, item: FeedItem): void {
    if (this.closed) {
      if (item.kind === 'sync') item.waiter?.reject(new Error('redis-store: closed'));
      return;
    }
    let feed = this.feeds.get(room);
    if (!feed) {
      feed = { last: undefined, queue: [], busy: false, members: undefined };
      this.feeds.set(room, feed);
    }
    feed.queue.push(item);
    this.pump(room, feed);
  }

  /** Delivers the room's queue in order until it is empty or needs history. */
  private pump(room: string, feed: Feed): void {
    while (!feed.busy && !this.closed) {
      const item = feed.queue[0];
      if (!item) return;
      if (item.kind === 'event') {
        const { event } = item;
        if (event.kind === 'message') {
          const { id } = event.message;
          if (feed.last !== undefined && id <= feed.last) {
            feed.queue.shift(); // already delivered (from history)
            continue;
          }
          if (feed.last !== undefined && id > feed.last + 1) {
            this.fill(room, feed); // ids were skipped: history first, then this one is a duplicate
            return;
          }
          feed.last = id;
        } else if (event.kind === 'presence') {
          feed.members = JSON.stringify(event.members);
        }
        feed.queue.shift();
        this.emit(room, event);
        continue;
      }
      const { slice, waiter } = item;
      if (slice === undefined) {
        this.fill(room, feed, item);
        return;
      }
      if (feed.last === undefined) {
        // First sight of the room: the caller has the history, live delivery starts here.
        // (A last id past the head means newer messages already arrived: nothing to do.)
        feed.last = slice.head;
      } else if (feed.last < slice.head) {
        const messages = slice.messages;
        const covers = (messages[0]?.id ?? Number.POSITIVE_INFINITY) <= feed.last + 1;
        if (!covers || messages.at(-1)?.id !== slice.head) {
          this.fill(room, feed);
          return;
        }
        for (const message of messages) this.deliver(room, feed, message);
      }
      feed.queue.shift();
      waiter?.resolve();
    }
  }

  /** Reads the room's history after the last delivered id and delivers it. */
  /**
   * Reads the room's history after the last delivered id and delivers it. For a
   * catch-up after a reconnection (`done`), also re-reads the member list: presence
   * published while we were away is not kept anywhere else.
   */
  private fill(room: string, feed: Feed, done?: FeedItem): void {
    feed.busy = true;
    const after = feed.last;
    void (async () => {
      try {
        let slice: HistorySlice | undefined;
        if (after !== undefined) {
          slice = await this.read(room, after, Number.POSITIVE_INFINITY);
          if (slice.head < after) {
            // Redis lost the room (restart, flush): ids started over, all of it is new.
            feed.last = 0;
            slice = await this.read(room, 0, Number.POSITIVE_INFINITY);
          }
        }
        const members =
          done !== undefined
            ? String(await this.run('PRESENCE', [this.key('z:', room), this.key('m:', room)], []))
            : undefined;
        if (this.closed) return;
        if (slice) {
          for (const message of slice.messages) this.deliver(room, feed, message);
          // Messages evicted before we could read them are gone: do not wait for them.
          feed.last = Math.max(feed.last ?? 0, slice.head);
        }
        if (members !== undefined && members !== feed.members) {
          feed.members = members;
          this.emit(room, { kind: 'presence', members: JSON.parse(members) as Member[] });
        }
        if (done && feed.queue[0] === done) {
          feed.queue.shift();
          if (done.kind === 'sync') done.waiter?.resolve();
        }
        feed.busy = false;
        this.pump(room, feed);
      } catch (caught) {
        const error = toError(caught);
        this.report(error, 'feed');
        // Callers waiting in since() get the error; the live feed retries.
        for (let i = feed.queue.length - 1; i >= 0; i--) {
          const item = feed.queue[i];
          if (item?.kind === 'sync' && item.waiter) {
            feed.queue.splice(i, 1);
            item.waiter.reject(error);
          }
        }
        const retry = setTimeout(() => {
          feed.busy = false;
          this.pump(room, feed);
        }, this.retryDelay);
        unref(retry);
      }
    })();
  }

  private deliver(room: string, feed: Feed, message: StoredMessage): void {
    if (feed.last !== undefined && message.id <= feed.last) return;
    feed.last = message.id;
    this.emit(room, { kind: 'message', message });
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

  // ---------------------------------------------------------------- presence upkeep

  private scheduleHeartbeat(): void {
    if (this.closed) return;
    this.heartbeat = setTimeout(() => {
      void this.tick().finally(() => this.scheduleHeartbeat());
    }, this.heartbeatInterval);
    unref(this.heartbeat);
  }

  private async tick(): Promise<void> {
    try {
      const reply = (await this.run(
        'TICK',
        [this.key('instances')],
        [this.prefix, this.instanceId, String(this.instanceTtl)],
      )) as [number, number];
      if (reply[0] === 1) await this.rejoinAll();
    } catch (error) {
      this.report(error, 'heartbeat');
    }
  }

  /** We were taken for dead (a pause longer than the ttl): put our members back. */
  private async rejoinAll(): Promise<void> {
    for (const [room, members] of this.local) {
      for (const member of members.values()) {
        if (this.closed) return;
        await this.joinScript(room, member).catch((error: unknown) => this.report(error, 'heartbeat'));
      }
    }
  }

  private async joinScript(room: string, member: Member): Promise<[number, Member[]]> {
    const reply = (await this.run(
      'JOIN',
      [
        this.key('z:', room),
        this.key('m:', room),
        this.key('rooms'),
        this.key('o:', this.instanceId),
        this.ownedKey(room),
        this.key('instances'),
        this.key('seq'),
      ],
      [
        room,
        member.id,
        JSON.stringify({ id: member.id, nick: member.nick }),
        this.channelPrefix + room,
        this.instanceId,
        String(this.instanceTtl),
      ],
    )) as [number, string];
    return [Number(reply[0]), JSON.parse(String(reply[1])) as Member[]];
  }

  private forgetLocal(room: string, memberId: string): void {
    const members = this.local.get(room);
    if (!members) return;
    members.delete(memberId);
    if (members.size === 0) this.local.delete(room);
  }

  // ---------------------------------------------------------------- plumbing

  private key(kind: string, name = ''): string {
    return `${this.prefix}${kind}${name}`;
  }

  private ownedKey(room: string): string {
    return `${this.prefix}om:${this.instanceId}:${room}`;
  }

  private async read(room: string, afterId: number, limit: number): Promise<HistorySlice> {
    const reply = (await this.run(
      'SINCE',
      [this.key('h:', room), this.key('l:', room)],
      [String(Math.max(0, Math.floor(afterId))), Number.isFinite(limit) ? String(Math.max(0, limit)) : '-1'],
      true,
    )) as unknown[];
    const [head, ...records] = reply;
    return { head: Number(head), messages: records.map((record) => decodeRecord(view(record))) };
  }

  /** EVALSHA, falling back to EVAL when Redis forgot the script (restart, SCRIPT FLUSH). */
  private async run(name: ScriptName, keys: string[], args: RedisArg[], binary = false): Promise<unknown> {
    const options = binary ? { typeMapping: BINARY } : undefined;
    const tail: RedisArg[] = [String(keys.length), ...keys, ...args];
    const sha = this.shas.get(name);
    if (sha) {
      try {
        return await this.client.sendCommand(['EVALSHA', sha, ...tail], options);
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      }
    }
    return this.client.sendCommand(['EVAL', SCRIPTS[name], ...tail], options);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('redis-store: closed');
  }

  private stop(): void {
    this.closed = true;
    clearTimeout(this.heartbeat);
    this.handlers.clear();
    for (const feed of this.feeds.values()) {
      for (const item of feed.queue) {
        if (item.kind === 'sync') item.waiter?.reject(new Error('redis-store: closed'));
      }
      feed.queue.length = 0;
    }
  }

  private report(error: unknown, source: RedisStoreErrorSource): void {
    const err = toError(error);
    this.lastError = err;
    if (this.closed && source !== 'command') return;
    try {
      this.onError(err, source);
    } catch {
      // A failing reporter must not break the store.
    }
  }
}

/** Graceful close (pending replies first), bounded: a dead connection is destroyed. */
async function quit(client: RedisClient): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.close(),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error('close timed out')), 1000);
      }),
    ]);
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}

/** Logs at most one error per second and source. */
function consoleReporter(): (error: Error, source: RedisStoreErrorSource) => void {
  const last = new Map<RedisStoreErrorSource, number>();
  return (error, source) => {
    const now = Date.now();
    if (now - (last.get(source) ?? 0) < 1000) return;
    last.set(source, now);
    console.error(`redis-store (${source}): ${error.message}`);
  };
}

/**
 * Connects a {@link RedisStore} to `url` (`redis://[user:password@]host:port[/db]`,
 * `rediss://` for TLS): a command connection and a subscriber connection. Rejects with
 * a clear error when Redis does not answer within `options.connectTimeout` (5 s).
 */
export function createRedisStore(url: string, options?: RedisStoreOptions): Promise<RedisStore> {
  return RedisStore.connect(url, options);
}
