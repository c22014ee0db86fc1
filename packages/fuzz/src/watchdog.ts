/**
 * Memory shared between the fuzzing worker and the main thread, so that the main
 * thread can tell which input the worker is stuck on: a synchronous infinite loop
 * never returns to let the worker report it.
 */

/** Room for the input being run; longer inputs are recorded truncated (and flagged). */
const INPUT_CAPACITY = 1 << 18;
const HEADER_BYTES = 12;

export class SharedInput {
  readonly buffer: SharedArrayBuffer;
  /** [0]: executions started + finished (odd while one runs), [1]: input length, [2]: 1 if truncated. */
  readonly #state: Int32Array;
  readonly #bytes: Uint8Array;

  constructor(buffer = new SharedArrayBuffer(HEADER_BYTES + INPUT_CAPACITY)) {
    this.buffer = buffer;
    this.#state = new Int32Array(buffer, 0, 3);
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES);
  }

  /** Worker side, before running `input`. */
  start(input: Uint8Array): void {
    const length = Math.min(input.length, INPUT_CAPACITY);
    this.#bytes.set(input.subarray(0, length));
    Atomics.store(this.#state, 1, length);
    Atomics.store(this.#state, 2, length < input.length ? 1 : 0);
    Atomics.add(this.#state, 0, 1);
  }

  /** Worker side, after the run. */
  end(): void {
    Atomics.add(this.#state, 0, 1);
  }

  /** Main side: the execution counter; odd while an input runs. */
  get generation(): number {
    return Atomics.load(this.#state, 0);
  }

  /** Main side: a copy of the input being run. */
  current(): { input: Uint8Array; truncated: boolean } {
    const length = Atomics.load(this.#state, 1);
    return { input: this.#bytes.slice(0, length), truncated: Atomics.load(this.#state, 2) === 1 };
  }
}
