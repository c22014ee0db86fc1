/**
 * The regression half of the fuzzing in CI: every stored input, corpus and
 * regressions alike, replayed through its target with all the invariants, each
 * bounded in time; and a sample of them checked for linear time.
 */
import { describe, expect, it } from 'vitest';
import { corpusDir, inputName, readInputs, regressionsDir } from '../src/corpus.ts';
import { replay } from '../src/replay.ts';
import { stretchPair, superLinear } from '../src/scaling.ts';
import { SEEDS } from '../src/seeds.ts';
import { TARGETS } from '../src/targets/index.ts';

/** Generous next to the fuzzer's 1 s: CI machines are small and run other tests meanwhile. */
const TIMEOUT_MS = 2000;
/** How many of the biggest corpus inputs per target get the linear-time check. */
const SCALING_SAMPLE = 6;

for (const [name, target] of Object.entries(TARGETS)) {
  const corpus = await readInputs(corpusDir(name));
  const regressions = await readInputs(regressionsDir(name));

  describe(`${name}: corpus`, () => {
    it('holds the hand-written seeds', () => {
      const stored = new Set(corpus.map((entry) => entry.name));
      const missing = (SEEDS[name] ?? []).filter((seed) => !stored.has(inputName(seed.input)));
      expect(
        missing.map((seed) => seed.name),
        'run `node dist/cli.js --write-seeds`',
      ).toEqual([]);
    });
    it.each(corpus)('$name', async ({ input }) => {
      await replay(target, input, TIMEOUT_MS);
    });
  });

  describe.runIf(regressions.length > 0)(`${name}: regressions`, () => {
    it.each(regressions)('$name', async ({ input }) => {
      await replay(target, input, TIMEOUT_MS);
    });
  });

  describe(`${name}: linear time`, () => {
    const sample = [...corpus].sort((a, b) => b.input.length - a.input.length).slice(0, SCALING_SAMPLE);
    it.each(sample)('$name stretched to 64 KiB', async ({ input }) => {
      const { small, big } = stretchPair(target, input, 1);
      let smallMs = Number.POSITIVE_INFINITY;
      let bigMs = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        smallMs = Math.min(smallMs, await replay(target, small, TIMEOUT_MS));
        bigMs = Math.min(bigMs, await replay(target, big, TIMEOUT_MS));
      }
      expect(superLinear(small, smallMs, big, bigMs)).toBeUndefined();
    });
  });
}
