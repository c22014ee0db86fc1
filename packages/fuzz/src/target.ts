import type { Random } from './random.ts';

/**
 * Records an outcome worth treating like coverage ("inflate failed with 'invalid
 * distance too far back'"). Native code such as zlib is invisible to V8's block
 * coverage; its outcomes are the next best guide.
 */
export type LabelSink = (label: string) => void;

/** One thing to fuzz: a function of a byte string and the invariants it must keep. */
export interface FuzzTarget {
  readonly name: string;
  readonly description: string;
  /**
   * Modules whose code counts as coverage: bare package names or `node:` built-ins.
   * The harness and its invariant checks live elsewhere and never count.
   */
  readonly coverageModules: readonly string[];
  /** Mutation never grows an input past this many bytes (the linear-time check goes further). */
  readonly maxLength: number;
  /** Byte strings worth splicing in: keywords, header names, frame headers. */
  readonly dictionary: readonly Uint8Array[];
  /**
   * Runs one input. Throws `InvariantViolation` when an invariant breaks; any other
   * exception escaping is a finding too.
   */
  run(input: Uint8Array, label: LabelSink): void | Promise<void>;
  /** A structure-aware mutation (append a well-formed frame, a header line, a deflate stream). */
  mutate?(input: Uint8Array, random: Random): Uint8Array;
  /**
   * The same input grown to about `size` bytes while keeping its structure, for the
   * linear-time check. Defaults to repeating a slice of the input.
   */
  stretch?(input: Uint8Array, size: number, random: Random): Uint8Array;
}
