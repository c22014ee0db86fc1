/** Runs stored inputs through a target without coverage: the regression tests and `--replay`. */
import type { FuzzTarget } from './target.ts';

/**
 * Runs `input` once; rethrows whatever the target throws, and fails an input that
 * takes longer than `timeoutMs` (asynchronous targets are cut off there).
 * @returns the time taken, in milliseconds.
 */
export async function replay(target: FuzzTarget, input: Uint8Array, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const pending = target.run(input, () => {});
  if (pending !== undefined) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer after ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  }
  const ms = performance.now() - started;
  if (ms > timeoutMs) throw new Error(`took ${ms.toFixed(0)} ms (limit ${timeoutMs} ms)`);
  return ms;
}
