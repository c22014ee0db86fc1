/**
 * A target with a planted bug behind eight nested conditions, one per byte (the low
 * nibble of byte i must be i + 3), and an endless loop behind one 32-bit comparison. Random inputs reach it once in 2^32; coverage
 * guidance climbs one condition at a time, each a block of its own. The fuzzer's
 * tests use it to show that guidance works. Built as a script of its own, so that
 * coverage can be restricted to it.
 */
import type { FuzzTarget } from '../target.ts';

/** "HANG" as a big-endian 32-bit word: one comparison, so guidance has no steps to climb. */
const HANG = 0x48414e47;

function run(input: Uint8Array): void {
  // A planted endless loop, for the watchdog's test; unreachable by fuzzing in practice.
  if (input.length >= 4 && ((input[0]! << 24) | (input[1]! << 16) | (input[2]! << 8) | input[3]!) === HANG) {
    for (;;) {}
  }
  if (((input[0] ?? 0) & 15) === 3) {
    if (((input[1] ?? 0) & 15) === 4) {
      if (((input[2] ?? 0) & 15) === 5) {
        if (((input[3] ?? 0) & 15) === 6) {
          if (((input[4] ?? 0) & 15) === 7) {
            if (((input[5] ?? 0) & 15) === 8) {
              if (((input[6] ?? 0) & 15) === 9) {
                if (((input[7] ?? 0) & 15) === 10) throw new Error('planted bug reached');
              }
            }
          }
        }
      }
    }
  }
}

export const plantedTarget: FuzzTarget = {
  name: 'planted',
  description: 'a bug behind eight nested one-byte conditions (tests the fuzzer itself)',
  coverageModules: [import.meta.url],
  maxLength: 16,
  dictionary: [],
  run,
};
