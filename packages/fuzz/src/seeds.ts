/**
 * Hand-written seeds: valid and nearly valid inputs from the RFCs, so that fuzzing
 * starts from the interesting parts of each format instead of rediscovering them.
 * `--write-seeds` stores them in corpus/<target>/; corpus minimization always keeps them.
 */

export interface Seed {
  readonly name: string;
  readonly input: Uint8Array;
}

export const SEEDS: Readonly<Record<string, readonly Seed[]>> = {};
