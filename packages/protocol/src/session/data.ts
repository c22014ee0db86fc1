/** Conversions between what users pass to `send` and the bytes the core frames. */

/** What `send` accepts: text, or binary data in any of the standard containers. */
export type SendData = string | ArrayBufferLike | ArrayBufferView;

/**
 * A view of `data`'s bytes without copying. Throws TypeError for anything else: a
 * number must never turn into an allocation (ws GHSA-2mhh-w6q8-5hxw).
 */
export function toBytes(data: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Buffers from other realms fail instanceof; the tag check still recognises them.
  const tag = Object.prototype.toString.call(data);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]')
    return new Uint8Array(data as ArrayBufferLike);
  throw new TypeError(`expected a string, ArrayBuffer or ArrayBufferView, got ${describe(data)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

const encoder = new TextEncoder();

/** The UTF-8 bytes of a string. */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}
