/**
 * Payload masking (RFC 6455 §5.3): `byte[i] ^= key[i % 4]`.
 *
 * The long middle of a buffer is XORed 32 bits at a time through a `Uint32Array`
 * view; the unaligned head and the tail go byte by byte. The 32-bit key is built by
 * writing the (rotated) key bytes into memory and reading them back through the same
 * kind of view, so it matches the platform's byte order without ever asking for it.
 */

/**
 * Shorter ranges are XORed byte by byte: creating the word view costs more than it
 * saves below this (measured on V8 and JavaScriptCore).
 */
const WORD_THRESHOLD = 128;

// Scratch for turning 4 key bytes into a native-endian 32-bit word.
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * XORs `data[start..end)` with `key`, in place. `phase` is the position of
 * `data[start]` within the frame payload, so masking can resume mid-payload.
 */
function maskRange(data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  let i = start;
  // Key byte that applies to data[i] is key[(phase + i - start) & 3].
  const shift = (phase - start) & 3;
  if (end - start >= WORD_THRESHOLD) {
    // Byte loop until the absolute address is 4-byte aligned, as Uint32Array requires.
    const misalignment = (data.byteOffset + i) & 3;
    if (misalignment !== 0) {
      const headEnd = i + 4 - misalignment;
      for (; i < headEnd; i++) data[i] = data[i]! ^ key[(shift + i) & 3]!;
    }
    const words = (end - i) >>> 2;
    const first = (shift + i) & 3;
    keyBytes[0] = key[first]!;
    keyBytes[1] = key[(first + 1) & 3]!;
    keyBytes[2] = key[(first + 2) & 3]!;
    keyBytes[3] = key[(first + 3) & 3]!;
    const mask = keyWord[0]!;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    let w = 0;
    // Unrolled: V8 runs this about twice as fast as the plain loop.
    for (const stop = words - 3; w < stop; w += 4) {
      view[w] = view[w]! ^ mask;
      view[w + 1] = view[w + 1]! ^ mask;
      view[w + 2] = view[w + 2]! ^ mask;
      view[w + 3] = view[w + 3]! ^ mask;
    }
    for (; w < words; w++) view[w] = view[w]! ^ mask;
    i += words << 2;
    // Tail: fewer than 4 bytes left.
  } else if (end - start >= 4) {
    // Short range: unrolled byte loop with the key bytes in locals.
    const k0 = key[(shift + i) & 3]!;
    const k1 = key[(shift + i + 1) & 3]!;
    const k2 = key[(shift + i + 2) & 3]!;
    const k3 = key[(shift + i + 3) & 3]!;
    const stop = end - 3;
    for (; i < stop; i += 4) {
      data[i] = data[i]! ^ k0;
      data[i + 1] = data[i + 1]! ^ k1;
      data[i + 2] = data[i + 2]! ^ k2;
      data[i + 3] = data[i + 3]! ^ k3;
    }
  }
  for (; i < end; i++) data[i] = data[i]! ^ key[(shift + i) & 3]!;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 4) throw new RangeError('a masking key is exactly 4 bytes');
}

/**
 * Masks or unmasks `data` in place with the 4-byte `key`.
 *
 * @param offset - position of `data[0]` within the frame payload, so a payload that
 *   arrives in several chunks continues the key rotation where the previous chunk stopped.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  checkKey(key);
  maskRange(data, 0, data.length, key, offset);
}

/**
 * Writes `src` masked with `key` into `dst` at `dstOffset`, leaving `src` untouched.
 * `offset` is the position of `src[0]` within the frame payload (as for {@link applyMask}).
 *
 * @throws RangeError if `dst` is too short or the key is not 4 bytes.
 */
export function maskCopy(src: Uint8Array, key: Uint8Array, dst: Uint8Array, dstOffset = 0, offset = 0): void {
  checkKey(key);
  const end = dstOffset + src.length;
  if (dstOffset < 0 || end > dst.length) throw new RangeError('destination too short');
  // A native copy then an in-place XOR beats a combined byte loop.
  dst.set(src, dstOffset);
  maskRange(dst, dstOffset, end, key, offset);
}

/** Keys drawn per `getRandomValues` call. */
const KEYS_PER_REFILL = 1024;
/** Random bytes not yet handed out. Private: it holds the keys of frames not yet sent. */
const randomPool = new Uint8Array(KEYS_PER_REFILL * 4);
let randomPosition = randomPool.length;
/**
 * Returned keys are views into this, one 4-byte region each, never reused. A fresh
 * ArrayBuffer per key costs 10–20 times a view on Deno. It only ever holds keys already
 * handed out, so `key.buffer` reveals nothing about future keys.
 */
let keySlab = new ArrayBuffer(0);
let keySlabPosition = 0;

/** WebCrypto's CSPRNG, typed locally because the core compiles without DOM types. */
interface RandomSource {
  getRandomValues(array: Uint8Array): Uint8Array;
}

/**
 * Returns a fresh, unpredictable 4-byte masking key (RFC 6455 §5.3, §10.3).
 *
 * The randomness comes from `crypto.getRandomValues`, drawn for 1024 keys at a time
 * rather than one system call per frame. Each key is its own 4 bytes that nothing
 * overwrites later (it may share an `ArrayBuffer` with earlier keys).
 */
export function createMaskKey(): Uint8Array {
  if (randomPosition === randomPool.length) {
    (globalThis as unknown as { crypto: RandomSource }).crypto.getRandomValues(randomPool);
    randomPosition = 0;
  }
  if (keySlabPosition === keySlab.byteLength) {
    keySlab = new ArrayBuffer(KEYS_PER_REFILL * 4);
    keySlabPosition = 0;
  }
  const key = new Uint8Array(keySlab, keySlabPosition, 4);
  keySlabPosition += 4;
  const p = randomPosition;
  randomPosition = p + 4;
  key[0] = randomPool[p]!;
  key[1] = randomPool[p + 1]!;
  key[2] = randomPool[p + 2]!;
  key[3] = randomPool[p + 3]!;
  return key;
}
