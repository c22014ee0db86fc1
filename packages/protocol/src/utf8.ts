/**
 * Incremental UTF-8 validation (RFC 3629, Unicode §3.9 Table 3-7) for text messages
 * that arrive in pieces (RFC 6455 §8.1: fail the connection on invalid UTF-8 as soon as
 * it is seen).
 *
 * A DFA over byte classes. Each state says which byte ranges may come next, so a
 * sequence fails at the first byte that makes it impossible: `E0 80` at the `80`
 * (overlong), `ED A0` at the `A0` (surrogate), `F4 90` at the `90` (> U+10FFFF),
 * `C0`, `C1` and `F5`–`FF` at once. These are the same points where the WHATWG
 * decoder reports an error.
 */

// Byte classes.
const ASCII = 0; // 00..7F
const CONT_80_8F = 1;
const CONT_90_9F = 2;
const CONT_A0_BF = 3;
const INVALID = 4; // C0, C1 (always overlong), F5..FF (beyond U+10FFFF)
const LEAD_2 = 5; // C2..DF
const LEAD_E0 = 6; // next byte A0..BF, else overlong
const LEAD_3 = 7; // E1..EC, EE..EF
const LEAD_ED = 8; // next byte 80..9F, else a surrogate
const LEAD_F0 = 9; // next byte 90..BF, else overlong
const LEAD_4 = 10; // F1..F3
const LEAD_F4 = 11; // next byte 80..8F, else beyond U+10FFFF
const CLASS_COUNT = 16; // states are premultiplied by this so a transition is one add

// States, premultiplied by CLASS_COUNT.
const ACCEPT = 0; // between characters
const NEED_1 = 1 * CLASS_COUNT; // one more continuation byte, any 80..BF
const NEED_2 = 2 * CLASS_COUNT;
const NEED_3 = 3 * CLASS_COUNT;
const AFTER_E0 = 4 * CLASS_COUNT;
const AFTER_ED = 5 * CLASS_COUNT;
const AFTER_F0 = 6 * CLASS_COUNT;
const AFTER_F4 = 7 * CLASS_COUNT;
const REJECT = 8 * CLASS_COUNT;

const BYTE_CLASS = /* @__PURE__ */ buildByteClasses();
const TRANSITION = /* @__PURE__ */ buildTransitions();

function buildByteClasses(): Uint8Array {
  const classes = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let c: number;
    if (b < 0x80) c = ASCII;
    else if (b < 0x90) c = CONT_80_8F;
    else if (b < 0xa0) c = CONT_90_9F;
    else if (b < 0xc0) c = CONT_A0_BF;
    else if (b < 0xc2) c = INVALID;
    else if (b < 0xe0) c = LEAD_2;
    else if (b === 0xe0) c = LEAD_E0;
    else if (b === 0xed) c = LEAD_ED;
    else if (b < 0xf0) c = LEAD_3;
    else if (b === 0xf0) c = LEAD_F0;
    else if (b < 0xf4) c = LEAD_4;
    else if (b === 0xf4) c = LEAD_F4;
    else c = INVALID;
    classes[b] = c;
  }
  return classes;
}

function buildTransitions(): Uint8Array {
  // Everything not listed rejects.
  const table = new Uint8Array(REJECT + CLASS_COUNT).fill(REJECT);
  const allow = (state: number, classes: readonly number[], next: number): void => {
    for (const c of classes) table[state + c] = next;
  };
  const anyContinuation = [CONT_80_8F, CONT_90_9F, CONT_A0_BF];
  allow(ACCEPT, [ASCII], ACCEPT);
  allow(ACCEPT, [LEAD_2], NEED_1);
  allow(ACCEPT, [LEAD_E0], AFTER_E0);
  allow(ACCEPT, [LEAD_3], NEED_2);
  allow(ACCEPT, [LEAD_ED], AFTER_ED);
  allow(ACCEPT, [LEAD_F0], AFTER_F0);
  allow(ACCEPT, [LEAD_4], NEED_3);
  allow(ACCEPT, [LEAD_F4], AFTER_F4);
  allow(NEED_1, anyContinuation, ACCEPT);
  allow(NEED_2, anyContinuation, NEED_1);
  allow(NEED_3, anyContinuation, NEED_2);
  allow(AFTER_E0, [CONT_A0_BF], NEED_1);
  allow(AFTER_ED, [CONT_80_8F, CONT_90_9F], NEED_1);
  allow(AFTER_F0, [CONT_90_9F, CONT_A0_BF], NEED_2);
  allow(AFTER_F4, [CONT_80_8F], NEED_2);
  return table;
}

/** ASCII runs at least this long are skipped 8 bytes at a time through a word view. */
const WORD_RUN = 64;

/**
 * Validates `bytes` starting in `state`; returns the state after the last byte, or
 * REJECT as soon as a byte makes the input invalid.
 *
 * Between characters, ASCII runs are skipped several bytes at a time and a character
 * that lies wholly inside `bytes` is checked with direct comparisons (the same ranges as
 * the DFA); the DFA proper only runs for characters split across pieces and at the
 * very end, where its byte-at-a-time precision is what makes split input work.
 */
function run(state: number, bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  // Native-endian words over the 4-byte-aligned part; made once, on the first long run.
  let words: Uint32Array | undefined;
  let wordBase = 0;
  while (i < n) {
    if (state === ACCEPT) {
      if (n - i >= WORD_RUN) {
        if (words === undefined) {
          wordBase = (4 - (bytes.byteOffset & 3)) & 3;
          words = new Uint32Array(bytes.buffer, bytes.byteOffset + wordBase, (n - wordBase) >>> 2);
        }
        while (((i - wordBase) & 3) !== 0 && bytes[i]! < 0x80) i++;
        if (((i - wordBase) & 3) === 0) {
          let w = (i - wordBase) >>> 2;
          const lastPair = words.length - 1;
          // The high bit of any byte set means non-ASCII, whatever the byte order.
          while (w < lastPair && ((words[w]! | words[w + 1]!) & 0x80808080) === 0) w += 2;
          i = wordBase + (w << 2);
        }
      } else {
        const stop = n - 3;
        while (i < stop && ((bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!) & 0x80) === 0) i += 4;
      }
      while (i < n && bytes[i]! < 0x80) i++;
      if (i === n) break;
      if (i + 3 < n) {
        // The whole character (at most 4 bytes) is here.
        const lead = bytes[i]!;
        const second = bytes[i + 1]!;
        if ((second & 0xc0) !== 0x80) return REJECT;
        if (lead < 0xe0) {
          if (lead < 0xc2) return REJECT; // continuation byte, or overlong C0/C1
          i += 2;
          continue;
        }
        if ((bytes[i + 2]! & 0xc0) !== 0x80) return REJECT;
        if (lead < 0xf0) {
          if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f)) return REJECT;
          i += 3;
          continue;
        }
        if (lead > 0xf4 || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f))
          return REJECT;
        if ((bytes[i + 3]! & 0xc0) !== 0x80) return REJECT;
        i += 4;
        continue;
      }
    }
    state = TRANSITION[state + BYTE_CLASS[bytes[i]!]!]!;
    if (state === REJECT) return REJECT;
    i++;
  }
  return state;
}

/**
 * Validates UTF-8 that arrives in pieces; a character may be split anywhere.
 *
 * ```ts
 * const v = new Utf8Validator();
 * v.push(part1) && v.push(part2) && v.end(); // true if part1 + part2 is valid UTF-8
 * ```
 */
export class Utf8Validator {
  private state = ACCEPT;

  /**
   * Validates the next piece. Returns `false` as soon as the input so far cannot be
   * the start of valid UTF-8; once `false`, every later call returns `false` until
   * {@link reset}. An incomplete character at the end of a piece is fine: it may be
   * finished by the next one.
   */
  push(bytes: Uint8Array): boolean {
    const state = this.state;
    if (state === REJECT) return false;
    this.state = run(state, bytes);
    return this.state !== REJECT;
  }

  /**
   * Whether everything pushed so far is valid, complete UTF-8 (`false` if it was
   * invalid or stops inside a character). Does not reset: call {@link reset} to reuse.
   */
  end(): boolean {
    return this.state === ACCEPT;
  }

  /** Forgets all input, ready for a new message. */
  reset(): void {
    this.state = ACCEPT;
  }
}

/** Whether `bytes` is valid, complete UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return run(ACCEPT, bytes) === ACCEPT;
}
