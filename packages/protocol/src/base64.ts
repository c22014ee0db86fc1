/**
 * Standard base64 (RFC 4648 §4) with canonical padding.
 *
 * Only what the opening handshake needs: encoding `Sec-WebSocket-Key` /
 * `Sec-WebSocket-Accept` and strictly decoding a peer's key. Written by hand so the
 * core needs neither `Buffer` nor `btoa`/`atob` (whose latin1-string API is awkward
 * and whose decoding is lenient about whitespace).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Character code → 6-bit value, or -1 for characters outside the alphabet. */
const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

const PAD = 0x3d; // '='

/** Encodes bytes as standard base64 with `=` padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  const whole = bytes.length - (bytes.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const left = bytes.length - whole;
  if (left === 1) {
    const n = bytes[whole]! << 16;
    out += `${ALPHABET[n >>> 18]!}${ALPHABET[(n >>> 12) & 63]!}==`;
  } else if (left === 2) {
    const n = (bytes[whole]! << 16) | (bytes[whole + 1]! << 8);
    out += `${ALPHABET[n >>> 18]!}${ALPHABET[(n >>> 12) & 63]!}${ALPHABET[(n >>> 6) & 63]!}=`;
  }
  return out;
}

/**
 * Decodes standard base64, strictly: length a multiple of 4, only the standard
 * alphabet, `=` only as final padding, and unused trailing bits zero (so every byte
 * string has exactly one accepted encoding). Returns `undefined` when invalid.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const length = text.length;
  if (length % 4 !== 0) return undefined;
  let padding = 0;
  if (length > 0 && text.charCodeAt(length - 1) === PAD) padding = 1;
  if (length > 1 && padding === 1 && text.charCodeAt(length - 2) === PAD) padding = 2;

  const out = new Uint8Array((length / 4) * 3 - padding);
  let written = 0;
  for (let i = 0; i < length; i += 4) {
    // In the last quantum, padded positions count as zero bits.
    const last = i + 4 === length;
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = last && padding === 2 ? 0 : sextet(text, i + 2);
    const d = last && padding >= 1 ? 0 : sextet(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[written++] = n >>> 16;
    if (last && padding === 2) {
      if ((n & 0xffff) !== 0) return undefined; // non-canonical: leftover bits set
      break;
    }
    out[written++] = (n >>> 8) & 0xff;
    if (last && padding === 1) {
      if ((n & 0xff) !== 0) return undefined;
      break;
    }
    out[written++] = n & 0xff;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? DECODE_TABLE[code]! : -1;
}
