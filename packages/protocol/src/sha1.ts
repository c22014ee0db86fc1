/**
 * SHA-1 (FIPS 180-4 §6.1), synchronous.
 *
 * The opening handshake needs SHA-1 only to derive `Sec-WebSocket-Accept`
 * (RFC 6455 §4.2.2); it is not used for anything security-sensitive. WebCrypto's
 * `subtle.digest` would make the handshake asynchronous, so the core carries its own.
 */

/** Computes the 20-byte SHA-1 digest of `data`. */
export function sha1(data: Uint8Array): Uint8Array {
  const state = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const words = new Int32Array(80);

  // Whole blocks straight from the input, so the message is never copied.
  const wholeBlocks = data.length - (data.length % 64);
  for (let offset = 0; offset < wholeBlocks; offset += 64) compress(state, words, data, offset);

  // The tail, the 0x80 marker and the 64-bit big-endian bit length fill one or two blocks.
  const tailLength = data.length - wholeBlocks;
  const tail = new Uint8Array(tailLength < 56 ? 64 : 128);
  tail.set(data.subarray(wholeBlocks));
  tail[tailLength] = 0x80;
  // Bit length = 8 × byte length, split so it stays exact beyond 2^32 bits.
  const highBits = Math.floor(data.length / 0x20000000);
  const lowBits = (data.length << 3) >>> 0;
  const end = tail.length;
  tail[end - 8] = highBits >>> 24;
  tail[end - 7] = highBits >>> 16;
  tail[end - 6] = highBits >>> 8;
  tail[end - 5] = highBits;
  tail[end - 4] = lowBits >>> 24;
  tail[end - 3] = lowBits >>> 16;
  tail[end - 2] = lowBits >>> 8;
  tail[end - 1] = lowBits;
  for (let offset = 0; offset < end; offset += 64) compress(state, words, tail, offset);

  const digest = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const h = state[i]!;
    digest[i * 4] = h >>> 24;
    digest[i * 4 + 1] = h >>> 16;
    digest[i * 4 + 2] = h >>> 8;
    digest[i * 4 + 3] = h;
  }
  return digest;
}

/** Processes one 64-byte block of `bytes` at `offset` into `state`. */
function compress(state: Int32Array, w: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    w[t] = (bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }

  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
}
