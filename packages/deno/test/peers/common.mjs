/**
 * What every peer of the Deno interop tests agrees on — the Deno tests themselves, the Node peer
 * (`ws`, Chromium), the Bun peer, and (through `Function.prototype.toString`) the browser page:
 * how scripted messages are generated, how received ones are summarised, and the close command.
 * Plain JavaScript with only `node:crypto`, which Node, Bun and Deno all provide.
 */
import { createHash } from 'node:crypto';

/**
 * @typedef {{ type: 'text', data: string }
 *   | { type: 'binary', base64: string }
 *   | { type: 'pattern', size: number, seed: number }
 *   | { type: 'compressible', size: number }} PeerMessage
 *   One message a scripted peer sends. `pattern`: `patternBytes(size, seed)`, incompressible-ish;
 *   `compressible`: `compressibleBytes(size)`, which permessage-deflate shrinks a hundredfold.
 * @typedef {{ type: 'text', data: string }
 *   | { type: 'text' | 'binary', size: number, sha256: string }} ReceivedMessage
 *   A received message as reported: binaries, and texts longer than {@link TEXT_SUMMARY_OVER}
 *   characters, by size (in bytes) and SHA-256 (of the UTF-8 for text).
 * @typedef {{ code: number, reason: string }} PeerClose
 * @typedef {{ send: PeerMessage[], expect: number, close?: PeerClose | null }} PeerScript
 *   Send everything right after the handshake, receive `expect` messages, then close with `close`
 *   — or, without `close`, wait for the server to close (reporting every message meanwhile).
 */

/** A text message `close:<code>:<reason>` makes the echo peers close with that code and reason. */
export const CLOSE_COMMAND = /^close:(\d+):(.*)$/s;

/** Byte i is `(i * 31 + seed) & 255`. Self-contained: it is also serialised into the browser page. */
export function patternBytes(size, seed) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

/** Lower-case letters in runs of 16, `a` to `z` over and over. Also serialised into the page. */
export function compressibleBytes(size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = 97 + ((i >> 4) % 26);
  return out;
}

/** Also serialised into the page. */
export function base64ToBytes(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * What a message puts on the wire: a string for text, bytes for binary. Also serialised into the
 * page (it calls the three functions above by name).
 * @param {PeerMessage} message
 * @returns {string | Uint8Array}
 */
export function outgoing(message) {
  switch (message.type) {
    case 'text':
      return message.data;
    case 'binary':
      return base64ToBytes(message.base64);
    case 'pattern':
      return patternBytes(message.size, message.seed);
    case 'compressible':
      return compressibleBytes(message.size);
    default:
      throw new TypeError(`unknown message type ${message.type}`);
  }
}

/** @param {Uint8Array} bytes */
export function sha256Hex(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * @param {Uint8Array} bytes
 * @returns {ReceivedMessage}
 */
export function binarySummary(bytes) {
  return { type: 'binary', size: bytes.byteLength, sha256: sha256Hex(bytes) };
}

/** Texts longer than this are reported by size and hash (a failed comparison stays readable). */
export const TEXT_SUMMARY_OVER = 256;

/**
 * @param {string | Uint8Array | ArrayBuffer} data
 * @returns {ReceivedMessage}
 */
export function summarise(data) {
  if (typeof data === 'string') {
    if (data.length <= TEXT_SUMMARY_OVER) return { type: 'text', data };
    const bytes = new TextEncoder().encode(data);
    return { type: 'text', size: bytes.byteLength, sha256: sha256Hex(bytes) };
  }
  return binarySummary(data instanceof Uint8Array ? data : new Uint8Array(data));
}

/**
 * What an echo peer reports receiving back for `message`.
 * @param {PeerMessage} message
 * @returns {ReceivedMessage}
 */
export function echoSummary(message) {
  return summarise(outgoing(message));
}
