/**
 * The chat wire protocol, version 1 (see PROTOCOL.md): JSON text frames for control,
 * one binary frame for the bytes of each file. Pure functions and types only — no I/O,
 * no runtime globals beyond the language — so Node, Bun, Deno and tests share it.
 */

/** The subprotocol the server requires; the version lives in its name. */
export const SUBPROTOCOL = 'fullduplex-chat.v1';

export const LIMITS = {
  /** Largest file (bytes of the binary frame). */
  maxFileBytes: 2 * 1024 * 1024,
  /** Largest control message (JSON text frame) in UTF-16 code units. */
  maxControlChars: 16 * 1024,
  /** Largest chat text. */
  maxTextChars: 4000,
  /** Messages kept per room. */
  historyLimit: 500,
  /** Messages sent to a client joining a room for the first time (no `since`). */
  recentOnJoin: 100,
  /** Rooms one connection may be in. */
  maxRoomsPerConnection: 20,
  /** Error replies tolerated before the connection is closed with 1008. */
  maxErrors: 20,
  maxFileNameChars: 200,
  maxMimeChars: 100,
  maxNonceChars: 64,
} as const;

/** WebSocket close codes the chat uses. */
export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
} as const;

/** Nicknames: 1–24 letters, digits, spaces, `_`, `-`, `.`; no leading/trailing space. */
export const NICK_PATTERN = /^[\p{L}\p{N}_.-](?:[\p{L}\p{N} _.-]{0,22}[\p{L}\p{N}_.-])?$/u;
/** Room names: 1–32 of lowercase a–z, digits, `-`, `_`, starting with a letter or digit. */
export const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** MIME types: `type/subtype` tokens. */
const MIME_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,40}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,60}$/i;

// ---------------------------------------------------------------- client → server

export interface HelloMessage {
  readonly type: 'hello';
  readonly nick: string;
}
export interface JoinMessage {
  readonly type: 'join';
  readonly room: string;
  /** Last message id the client saw in this room; the server sends exactly the ones after it. */
  readonly since?: number;
}
export interface LeaveMessage {
  readonly type: 'leave';
  readonly room: string;
}
export interface SendTextMessage {
  readonly type: 'msg';
  readonly room: string;
  readonly text: string;
  readonly nonce?: string;
}
export interface SendFileMessage {
  readonly type: 'file';
  readonly room: string;
  readonly name: string;
  readonly mime: string;
  readonly size: number;
  readonly nonce?: string;
}
export interface TypingMessage {
  readonly type: 'typing';
  readonly room: string;
  readonly typing: boolean;
}

export type ClientMessage =
  | HelloMessage
  | JoinMessage
  | LeaveMessage
  | SendTextMessage
  | SendFileMessage
  | TypingMessage;

// ---------------------------------------------------------------- server → client

export interface Member {
  /** Connection id (a nickname may be online twice). */
  readonly id: string;
  readonly nick: string;
}

/** A chat message as kept in history and sent to clients. */
export type ChatMessage = TextChatMessage | FileChatMessage;
interface ChatMessageBase {
  readonly room: string;
  /** Per-room, starts at 1, strictly increasing. */
  readonly id: number;
  /** Server time, ms since the epoch. */
  readonly ts: number;
  readonly from: Member;
  readonly nonce?: string;
}
export interface TextChatMessage extends ChatMessageBase {
  readonly type: 'msg';
  readonly text: string;
}
export interface FileChatMessage extends ChatMessageBase {
  readonly type: 'file';
  readonly name: string;
  readonly mime: string;
  readonly size: number;
}

/** A message with its file bytes, as the store keeps it. */
export type StoredMessage = TextChatMessage | (FileChatMessage & { readonly bytes: Uint8Array });

export type ServerMessage =
  | {
      readonly type: 'welcome';
      readonly protocol: string;
      readonly id: string;
      readonly nick: string;
      readonly limits: { maxFileBytes: number; maxTextChars: number; historyLimit: number };
      readonly rooms: readonly { name: string; online: number }[];
    }
  | {
      readonly type: 'joined';
      readonly room: string;
      readonly members: readonly Member[];
      /** Newest message id in the room (0 if none). */
      readonly head: number;
      /** True when messages after `since` were already evicted from history. */
      readonly truncated: boolean;
      /** How many history messages follow. */
      readonly count: number;
    }
  | { readonly type: 'left'; readonly room: string }
  | {
      readonly type: 'presence';
      readonly room: string;
      /** Members who came since the last `joined`/`presence` of this room (a nick change replaces). */
      readonly joined: readonly Member[];
      /** Ids of members who went. */
      readonly left: readonly string[];
    }
  | { readonly type: 'typing'; readonly room: string; readonly from: Member; readonly typing: boolean }
  | { readonly type: 'error'; readonly code: ErrorCode; readonly message: string; readonly ref?: string }
  | ChatMessage;

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_type'
  | 'not_ready'
  | 'already_ready'
  | 'bad_nick'
  | 'bad_room'
  | 'not_joined'
  | 'too_many_rooms'
  | 'too_large'
  | 'bad_text';

/** The outcome of parsing one client text frame. */
export type ParseResult =
  | { readonly ok: true; readonly message: ClientMessage }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      /** Set when the connection must be closed with this code instead of answered. */
      readonly close?: number;
    };

function fail(code: ErrorCode, message: string, close?: number): ParseResult {
  return close === undefined ? { ok: false, code, message } : { ok: false, code, message, close };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function isValidNick(nick: unknown): nick is string {
  return typeof nick === 'string' && NICK_PATTERN.test(nick);
}

export function isValidRoom(room: unknown): room is string {
  return typeof room === 'string' && ROOM_PATTERN.test(room);
}

function optionalNonce(v: unknown): { ok: true; nonce?: string } | { ok: false } {
  if (v === undefined) return { ok: true };
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.maxNonceChars) return { ok: false };
  return { ok: true, nonce: v };
}

/** Allowed keys per type: anything else is a malformed message. */
const KEYS: Record<ClientMessage['type'], readonly string[]> = {
  hello: ['type', 'nick'],
  join: ['type', 'room', 'since'],
  leave: ['type', 'room'],
  msg: ['type', 'room', 'text', 'nonce'],
  file: ['type', 'room', 'name', 'mime', 'size', 'nonce'],
  typing: ['type', 'room', 'typing'],
};

/**
 * Validates one text frame from a client. Never throws. Oversized frames ask for a
 * 1009 close; everything else malformed is answered with an error message.
 */
export function parseClientMessage(text: string): ParseResult {
  if (text.length > LIMITS.maxControlChars) {
    return fail(
      'too_large',
      `control message over ${LIMITS.maxControlChars} characters`,
      Close.MESSAGE_TOO_BIG,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('bad_json', 'not valid JSON');
  }
  if (!isObject(value)) return fail('bad_message', 'a message is a JSON object');
  const type = value['type'];
  if (typeof type !== 'string' || !Object.hasOwn(KEYS, type)) {
    return fail('unknown_type', `unknown message type ${JSON.stringify(String(type)).slice(0, 40)}`);
  }
  const allowed = KEYS[type as ClientMessage['type']];
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      return fail('bad_message', `unexpected field ${JSON.stringify(key.slice(0, 40))}`);
  }
  if (type === 'hello') {
    if (!isValidNick(value['nick'])) {
      return fail('bad_nick', 'nickname: 1–24 letters, digits, spaces, "_", "-" or "."');
    }
    return { ok: true, message: { type, nick: value['nick'] } };
  }
  const room = value['room'];
  if (!isValidRoom(room)) return fail('bad_room', 'room: 1–32 of a–z, 0–9, "-", "_"');
  switch (type) {
    case 'join': {
      const since = value['since'];
      if (since === undefined) return { ok: true, message: { type, room } };
      if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
        return fail('bad_message', 'since: a non-negative integer');
      }
      return { ok: true, message: { type, room, since } };
    }
    case 'leave':
      return { ok: true, message: { type, room } };
    case 'typing': {
      if (typeof value['typing'] !== 'boolean') return fail('bad_message', 'typing: a boolean');
      return { ok: true, message: { type, room, typing: value['typing'] } };
    }
    case 'msg': {
      const t = value['text'];
      if (typeof t !== 'string' || t.trim().length === 0) return fail('bad_text', 'text: a non-empty string');
      if (t.length > LIMITS.maxTextChars)
        return fail('too_large', `text over ${LIMITS.maxTextChars} characters`);
      const nonce = optionalNonce(value['nonce']);
      if (!nonce.ok) return fail('bad_message', 'nonce: a string of 1–64 characters');
      return { ok: true, message: { type, room, text: t, ...(nonce.nonce ? { nonce: nonce.nonce } : {}) } };
    }
    case 'file': {
      const { name, mime, size } = value;
      if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.maxFileNameChars) {
        return fail('bad_message', `name: a string of 1–${LIMITS.maxFileNameChars} characters`);
      }
      if (typeof mime !== 'string' || mime.length > LIMITS.maxMimeChars || !MIME_PATTERN.test(mime)) {
        return fail('bad_message', 'mime: a MIME type such as image/png');
      }
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
        return fail('bad_message', 'size: a positive integer');
      }
      if (size > LIMITS.maxFileBytes)
        return fail('too_large', `files are limited to ${LIMITS.maxFileBytes} bytes`);
      const nonce = optionalNonce(value['nonce']);
      if (!nonce.ok) return fail('bad_message', 'nonce: a string of 1–64 characters');
      return {
        ok: true,
        message: {
          type,
          room,
          name,
          mime: mime.toLowerCase(),
          size,
          ...(nonce.nonce ? { nonce: nonce.nonce } : {}),
        },
      };
    }
  }
  return fail('unknown_type', 'unknown message type');
}

/** The JSON a client receives for a stored message (file bytes go in the following binary frame). */
export function toWire(message: StoredMessage): ChatMessage {
  if (message.type === 'msg') return message;
  const { bytes: _bytes, ...meta } = message;
  return meta;
}
