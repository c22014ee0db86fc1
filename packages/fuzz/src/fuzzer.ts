/**
 * The coverage-guided loop: mutate a corpus entry, run it, keep it if it made the
 * target do something it had not done before (a new block, a block a different
 * number of times, a branch skipped, a new outcome label).
 */
import { type BlockCoverage, labelFeature, rangeOf } from './coverage.ts';
import { Mutator, remove } from './mutate.ts';
import { Random } from './random.ts';
import { stretchPair, superLinear } from './scaling.ts';
import type { FuzzTarget } from './target.ts';

export type FindingKind = 'crash' | 'timeout' | 'slow';

/** An input that broke an invariant, threw, hung or took super-linear time. */
export interface Finding {
  readonly kind: FindingKind;
  readonly message: string;
  readonly input: Uint8Array;
}

export interface FuzzerOptions {
  readonly target: FuzzTarget;
  readonly coverage: BlockCoverage;
  readonly random: Random;
  /** False for the baseline: mutate the initial inputs only, never keep what mutation finds. */
  readonly guided: boolean;
  /** An input running longer than this is a hang. */
  readonly timeoutMs: number;
  /** Called before and after each execution; the watchdog thread watches these. */
  readonly onStart?: (input: Uint8Array) => void;
  readonly onEnd?: () => void;
}

export interface Progress {
  readonly execs: number;
  readonly seconds: number;
  readonly corpus: number;
  readonly features: number;
  /** Distinct source ranges among the features (see `rangeOf`). */
  readonly ranges: number;
}

interface Execution {
  readonly features: number[];
  readonly ms: number;
  readonly finding?: Finding;
}

class Timeout extends Error {}

/** Runs between two linear-time checks: each costs six runs of up to 64 KiB. */
const SCALING_CHECK_EVERY = 2000;

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return `non-Error thrown: ${String(error)}`;
}

/** What makes two findings "the same bug" while shrinking: kind and first line, numbers blurred. */
function signature(finding: Finding): string {
  const firstLine = finding.message.split('\n', 1)[0] ?? '';
  return `${finding.kind} ${firstLine.replace(/\d+/g, '#')}`;
}

export class Fuzzer {
  /** What mutation starts from: the initial inputs, plus (guided) every input that added a feature. */
  readonly corpus: Uint8Array[] = [];
  /** Every input that added a feature, kept or not: what a run explored, to measure it afterwards. */
  readonly explored: Uint8Array[] = [];
  readonly #features = new Set<number>();
  readonly #ranges = new Set<number>();
  /** For each feature, the corpus index of the smallest input showing it (AFL's "top rated"). */
  readonly #smallest = new Map<number, number>();
  /** Corpus indexes that are the smallest for some feature; undefined when it must be recomputed. */
  #favored: number[] | undefined;
  /** How many corpus entries were there before mutation started: the initial inputs. */
  #initialCount = 0;
  readonly #mutator: Mutator;
  #execs = 0;

  constructor(private readonly options: FuzzerOptions) {
    this.#mutator = new Mutator(options.target, options.random);
  }

  get progress(): Omit<Progress, 'seconds'> {
    return {
      execs: this.#execs,
      corpus: this.corpus.length,
      features: this.#features.size,
      ranges: this.#ranges.size,
    };
  }

  /** Runs one input, bounded in time, and returns what it covered. */
  async execute(input: Uint8Array): Promise<Execution> {
    const { target, coverage, timeoutMs } = this.options;
    const features: number[] = [];
    const label = (text: string): void => {
      features.push(labelFeature(text));
    };
    this.#execs++;
    this.options.onStart?.(input);
    const started = performance.now();
    let finding: Finding | undefined;
    try {
      const pending = target.run(input, label);
      if (pending !== undefined) await withTimeout(pending, timeoutMs);
    } catch (error) {
      const kind = error instanceof Timeout ? 'timeout' : 'crash';
      finding = { kind, message: describeError(error), input };
    }
    const ms = performance.now() - started;
    this.options.onEnd?.();
    coverage.collect(features);
    if (finding === undefined && ms > timeoutMs) {
      finding = { kind: 'timeout', message: `took ${ms.toFixed(0)} ms (limit ${timeoutMs} ms)`, input };
    }
    return finding === undefined ? { features, ms } : { features, ms, finding };
  }

  /**
   * Runs `input` and keeps it in the corpus if it shows features never seen. New
   * features must show up on a second run too: a few depend on history rather than
   * on the input (a lazily created decoder, a slab running out), and keeping inputs
   * for those would grow the corpus with noise. The baseline counts features the
   * same way, so that coverage numbers compare. `force` keeps the input regardless.
   */
  async consider(input: Uint8Array, force = false): Promise<Finding | undefined> {
    const first = await this.execute(input);
    if (first.finding) return first.finding;
    let features = [...new Set(first.features)];
    let fresh = features.filter((feature) => !this.#features.has(feature));
    if (fresh.length > 0) {
      const second = await this.execute(input);
      if (second.finding) return second.finding;
      const repeated = new Set(second.features);
      features = features.filter((feature) => repeated.has(feature));
      fresh = fresh.filter((feature) => repeated.has(feature));
    }
    for (const feature of fresh) {
      this.#features.add(feature);
      if (feature >= 0) this.#ranges.add(rangeOf(feature));
    }
    if (fresh.length > 0 || force) this.explored.push(input);
    if (force || (fresh.length > 0 && this.options.guided)) this.#keep(input, features);
    return undefined;
  }

  #keep(input: Uint8Array, features: readonly number[]): void {
    const index = this.corpus.push(input) - 1;
    for (const feature of features) {
      const holder = this.#smallest.get(feature);
      if (holder === undefined || this.corpus[holder]!.length > input.length) {
        this.#smallest.set(feature, index);
        this.#favored = undefined;
      }
    }
  }

  /** Mutates and runs until the deadline or the run budget; returns the first finding. */
  async fuzz(
    budget: { readonly deadline: number; readonly runs: number },
    onProgress: () => void,
  ): Promise<Finding | undefined> {
    const { random } = this.options;
    this.#initialCount = this.corpus.length;
    // Its own generator, so that the linear-time checks leave the mutation sequence alone.
    const scalingRandom = new Random(random.next());
    if (this.corpus.length === 0) this.corpus.push(new Uint8Array(0));
    let nextProgress = performance.now() + 1000;
    for (let runs = 0; runs < budget.runs; runs++) {
      const now = performance.now();
      if (now >= budget.deadline) break;
      if (now >= nextProgress) {
        onProgress();
        nextProgress = now + 1000;
      }
      // Counted in runs, not seconds: a given seed and run budget then repeat exactly.
      if (runs % SCALING_CHECK_EVERY === SCALING_CHECK_EVERY - 1) {
        const input = scalingRandom.pick(this.corpus);
        const finding = await this.checkLinearTime(input, scalingRandom.next());
        if (finding) return finding;
      }
      const child = this.#mutator.mutate(this.#pickParent(), random.pick(this.corpus));
      const finding = await this.consider(child);
      if (finding) return finding;
    }
    return undefined;
  }

  /**
   * Where mutation starts. Often one of the newest entries: a find is the step to the
   * next one, and climbing a ladder of nested conditions needs its top rung picked
   * again and again. Often a favored entry, the smallest input for some feature: that
   * spreads the mutations over everything covered so far rather than over the many
   * near-copies that loops' hit counts produce. Sometimes one of the initial inputs,
   * which hold the valid structures; and sometimes any entry.
   */
  #pickParent(): Uint8Array {
    const { random } = this.options;
    const corpus = this.corpus;
    this.#favored ??= [...new Set(this.#smallest.values())];
    const roll = random.below(10);
    if (roll < 4) return corpus[corpus.length - 1 - random.below(Math.ceil(corpus.length / 8))]!;
    if (roll < 7 && this.#favored.length > 0) return corpus[random.pick(this.#favored)]!;
    if (roll < 8 && this.#initialCount > 0) return corpus[random.below(this.#initialCount)]!;
    return random.pick(corpus);
  }

  /** The linear-time check (see scaling.ts), on the best of three runs of each size. */
  async checkLinearTime(input: Uint8Array, seed: number): Promise<Finding | undefined> {
    const { small, big } = stretchPair(this.options.target, input, seed);
    if (big.length <= small.length) return undefined;
    let smallMs = Number.POSITIVE_INFINITY;
    let bigMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const a = await this.execute(small);
      if (a.finding) return a.finding;
      const b = await this.execute(big);
      if (b.finding) return b.finding;
      smallMs = Math.min(smallMs, a.ms);
      bigMs = Math.min(bigMs, b.ms);
    }
    const slow = superLinear(small, smallMs, big, bigMs);
    return slow === undefined ? undefined : { kind: 'slow', message: slow, input: big };
  }

  /**
   * Shrinks a finding's input by deleting ever smaller ranges while the same bug
   * still shows (delta debugging), so the regression test is small enough to read.
   */
  async shrink(finding: Finding, budgetMs: number): Promise<Finding> {
    if (finding.kind === 'slow') return finding;
    const deadline = performance.now() + budgetMs;
    const wanted = signature(finding);
    let best = finding;
    for (let size = best.input.length >> 1; size >= 1; size >>= 1) {
      for (let at = 0; at < best.input.length && performance.now() < deadline; ) {
        const candidate = remove(best.input, at, Math.min(size, best.input.length - at));
        const result = await this.execute(candidate);
        if (result.finding && signature(result.finding) === wanted) best = result.finding;
        else at += size;
      }
    }
    return best;
  }

  /**
   * Corpus minimization: runs `inputs` in order (the ones `keep` says must stay first,
   * then the rest smallest first) and keeps each that adds a feature, like libFuzzer's
   * merge, starting from an empty feature set. Hit counts are ignored here (a range ran
   * or was skipped, and the labels): keeping an input per loop count would make the
   * stored corpus several times bigger, and a campaign finds the counts again in seconds.
   */
  async distill(inputs: readonly Uint8Array[], keep: (input: Uint8Array) => boolean): Promise<Uint8Array[]> {
    const seen = new Set<number>();
    const ordered = [
      ...inputs.filter(keep),
      ...inputs.filter((input) => !keep(input)).sort((a, b) => a.length - b.length),
    ];
    const kept: Uint8Array[] = [];
    for (const input of ordered) {
      const result = await this.execute(input);
      if (result.finding) continue; // a finding is a regression test, not corpus
      const fresh = result.features.map(withoutHitCount).filter((feature) => !seen.has(feature));
      if (fresh.length === 0 && !keep(input)) continue;
      for (const feature of fresh) seen.add(feature);
      kept.push(input);
    }
    return kept;
  }
}

/** A range feature with its hit-count bucket reduced to ran (1) or skipped (0); labels as they are. */
function withoutHitCount(feature: number): number {
  if (feature < 0) return feature;
  const hits = feature % 16;
  return feature - hits + Math.min(hits, 1);
}

function withTimeout(pending: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Timeout(`no answer after ${ms} ms (a promise that never settles?)`)),
      ms,
    );
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}
