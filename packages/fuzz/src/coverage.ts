/**
 * Coverage feedback from V8's precise block coverage, read through the in-process
 * inspector. `Profiler.takePreciseCoverage` returns, per function, nested source
 * ranges with execution counts, and resets the counts: each call describes exactly
 * what ran since the previous one, i.e. one input.
 */
import { Session } from 'node:inspector';
import { hashString } from './bytes.ts';

interface CoverageRange {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}
interface FunctionCoverage {
  readonly ranges: readonly CoverageRange[];
}
interface ScriptCoverage {
  readonly url: string;
  readonly functions: readonly FunctionCoverage[];
}

const OFFSET_LIMIT = 2 ** 21;

/**
 * AFL's hit-count buckets: a block running 3 rather than 2 times is new behaviour
 * (a loop went round once more), 100 rather than 90 is not.
 */
function bucket(count: number): number {
  if (count <= 3) return count;
  if (count < 8) return 4;
  if (count < 16) return 5;
  if (count < 32) return 6;
  if (count < 128) return 7;
  return 8;
}

/**
 * A feature is one source range in one hit-count bucket, packed into a number:
 * script (7 bits), start offset (21), length (21), bucket (4) — 53 bits, exact in a double.
 * Bucket 0 marks a range skipped while the code around it ran: the untaken side of
 * a branch, which V8 reports as a zero-count range inside a counted one.
 */
function featureOf(script: number, start: number, end: number, hitBucket: number): number {
  return ((script * OFFSET_LIMIT + start) * OFFSET_LIMIT + (end - start)) * 16 + hitBucket;
}

/**
 * The range part of a feature (bucket stripped). V8 leaves out a block that ran
 * exactly as often as the code around it, so ranges seen (run or skipped) are a
 * count of places where control flow went different ways, not of blocks run.
 */
export function rangeOf(feature: number): number {
  return Math.floor(feature / 16);
}

/** Labels live below zero, so they never collide with range features. */
export function labelFeature(label: string): number {
  return -1 - hashString(label);
}

export class BlockCoverage {
  readonly #session = new Session();
  readonly #scripts = new Map<string, number>();
  readonly #urls: ReadonlySet<string>;

  /** @param urls Script URLs whose code counts (file URLs of the built packages, `node:` ids). */
  constructor(urls: Iterable<string>) {
    this.#urls = new Set(urls);
  }

  start(): void {
    this.#session.connect();
    this.#post('Profiler.enable');
    // callCount: counts rather than booleans; detailed: blocks, not only functions.
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  stop(): void {
    this.#post('Profiler.stopPreciseCoverage');
    this.#session.disconnect();
  }

  /** Discards what ran since the last call (the harness's own setup, say). */
  reset(): void {
    this.#post('Profiler.takePreciseCoverage');
  }

  /** Appends the features of everything that ran since the last call to `into`. */
  collect(into: number[]): void {
    const { result } = this.#post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    for (const script of result) {
      if (!this.#urls.has(script.url)) continue;
      let index = this.#scripts.get(script.url);
      if (index === undefined) {
        index = this.#scripts.size;
        this.#scripts.set(script.url, index);
      }
      for (const fn of script.functions) collectFunction(index, fn.ranges, into);
    }
  }

  /**
   * The in-process session answers synchronously, which keeps the fuzz loop free of
   * an `await` per input; fail loudly if a Node version ever stops doing so.
   */
  #post(method: string, params?: object): unknown {
    let answered = false;
    let answer: unknown;
    let failure: Error | null = null;
    this.#session.post(method, params, (error, result) => {
      answered = true;
      failure = error;
      answer = result;
    });
    if (!answered) throw new Error(`inspector did not answer ${method} synchronously`);
    if (failure !== null) throw failure;
    return answer;
  }
}

function collectFunction(script: number, ranges: readonly CoverageRange[], into: number[]): void {
  // Ranges come in pre-order (outer before inner); a stack of the enclosing ones tells
  // whether a zero-count range was skipped by code that ran, or just never reached.
  const enclosing: CoverageRange[] = [];
  for (const range of ranges) {
    while (enclosing.length > 0 && enclosing[enclosing.length - 1]!.endOffset < range.endOffset) {
      enclosing.pop();
    }
    const parentCount = enclosing.length > 0 ? enclosing[enclosing.length - 1]!.count : 0;
    enclosing.push(range);
    if (range.count === 0 && parentCount === 0) continue;
    if (range.endOffset >= OFFSET_LIMIT) continue; // beyond what a feature can encode: ignore
    into.push(featureOf(script, range.startOffset, range.endOffset, bucket(range.count)));
  }
}
