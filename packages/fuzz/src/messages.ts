/** What the CLI and the fuzzing worker tell each other. */
import type { Finding, Progress } from './fuzzer.ts';

export interface WorkerTask {
  readonly target: string;
  /** 'fuzz': a campaign; 'distill': only load and (with merge) minimize the corpus. */
  readonly mode: 'fuzz' | 'distill';
  readonly seconds: number;
  readonly runs: number;
  readonly seed: number;
  readonly guided: boolean;
  /** Start from the hand-written seeds only, ignoring the stored corpus (for comparisons). */
  readonly seedsOnly: boolean;
  /** Start from one two-byte input of zeros, nothing else: what guidance builds from nothing. */
  readonly startEmpty: boolean;
  /** More directories of initial inputs. */
  readonly extraInputs: readonly string[];
  /** Minimize stored corpus + new finds back into corpus/<target>. */
  readonly merge: boolean;
  /** Write every input that added a feature here, guided or not (to measure or compare runs). */
  readonly saveExplored: string | undefined;
  readonly timeoutMs: number;
  readonly shrinkMs: number;
  readonly shared: SharedArrayBuffer;
}

export type FromWorker =
  | { readonly type: 'progress'; readonly progress: Progress; readonly final: boolean }
  | { readonly type: 'log'; readonly text: string }
  | { readonly type: 'finding'; readonly finding: Finding; readonly shrunk: Finding }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'done' };
