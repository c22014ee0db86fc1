/** Types of harness.mjs (plain JavaScript so that packages/bench/hostile-report.mjs runs it on Node). */

export type Runtime = 'node' | 'bun' | 'deno';

export type AttackName =
  | 'ping-flood'
  | 'pong-flood'
  | 'never-reading-small'
  | 'never-reading-large'
  | 'half-open'
  | 'reset-storm'
  | 'idle'
  | 'bombs'
  | 'probe'
  | 'warmup';

/** min, median, max of some durations in ms. */
export interface Spread {
  count: number;
  min: number;
  median: number;
  max: number;
}

export interface ProbeAttempt {
  atMs: number;
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

/** What the `probe` attack observed. */
export interface ProbeObservation {
  served: number;
  failed: number;
  maxLatencyMs: number | null;
  medianLatencyMs?: number | null;
  probes: ProbeAttempt[];
  error?: string;
}

/** What a flood (ping, pong, never-reading) observed of its one connection. */
export interface FloodObservation {
  bytesReceived: number;
  /** Frames received, by opcode name. */
  frames: Record<string, number>;
  closeCode: number | null;
  closeReason: string | null;
  /** When the close frame was read (a peer that never reads sees it only when it drains). */
  closeFrameAfterMs: number | null;
  /** When the server ended (FIN) or reset the connection, from the start of the flood. */
  closedAfterMs: number | null;
  closedBy: 'reset' | 'fin' | 'close' | 'error' | null;
  errors: string[];
}

/** How the server ended one group of half-open connections. */
export interface HalfOpenGroup {
  opened: number;
  closedByServer: number;
  /** HTTP statuses the server answered with, counted. */
  statuses: Record<string, number>;
  closeCodes: Record<string, number>;
  /** Time from each connection's opening until the server closed it. */
  closedAfterMs: Spread | null;
}

/** The result line of an attacker run; which fields are there depends on the attack. */
export interface AttackResult {
  event: 'result';
  attack: AttackName;
  params?: Record<string, unknown>;
  sent?: Record<string, number>;
  /** Flood attacks: FloodObservation; probe: ProbeObservation; the others their own counts. */
  observed?: Partial<FloodObservation> &
    Partial<ProbeObservation> & {
      open?: number;
      openErrors?: Record<string, number>;
      closedByServer?: number;
      closeCodes?: Record<string, number>;
      closedAfterMs?: number | Spread | null;
      notClosed?: number;
      stillPending?: number;
    };
  floodMs?: number;
  heldMs?: number;
  /** half-open */
  groups?: { partialHead: HalfOpenGroup; silent: HalfOpenGroup; upgraded: HalfOpenGroup };
  /** reset-storm: the probe run alongside it. */
  probe?: { observed?: ProbeObservation; error?: string };
  elapsedMs?: number;
  /** Set when the attacker failed, overran its deadline or was killed. */
  error?: string;
}

/** A progress line of the attacker: `flooding` when the attack proper starts, `holding` once its connections are open. */
export interface AttackEvent {
  event: 'flooding' | 'holding';
  open?: number;
}

export const ROOT: string;
export const ATTACKER: string;
export const RSS_METER: string;
export const BUN: string;
export const DENO: string;
export const NODE: string;
export const GC_ON_SIGNAL: string;

export function gcPreloadFlags(runtime: Runtime): string[];
export function serverCommand(runtime: Runtime, script: string): { command: string; args: string[] };
export function echoServerCommand(runtime: Runtime): { command: string; args: string[] };

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

export function killAll(): void;

/** VmRSS and VmHWM (the peak since the process started) in bytes, and CPU time. */
export interface MemoryReading {
  rss: number;
  hwm: number;
  /** User + system CPU seconds so far. */
  cpu: number;
}

export interface ServerProcess {
  label: string;
  pid: number;
  port: number;
  alive(): boolean;
  stderr(): string;
  exited: Promise<ExitStatus>;
  /** The latest reading of rss-meter.mjs (at most ~50 ms old), in bytes; undefined once gone. */
  memory(): MemoryReading | undefined;
  /** Calls `listener` with every reading; returns the unsubscribe. */
  onMemory(listener: (reading: MemoryReading) => void): () => void;
  collectGarbage(timeoutMs?: number): Promise<void>;
  stop(graceMs?: number): Promise<ExitStatus>;
}

export function startServer(options: {
  command: string;
  args: string[];
  env?: Record<string, string>;
  label?: string;
  readyTimeoutMs?: number;
}): Promise<ServerProcess>;

export interface AttackRun {
  done: Promise<AttackResult>;
  kill(): void;
}

export function runAttack(
  attack: AttackName,
  params: { port: number } & Record<string, unknown>,
  options?: { onEvent?: (event: AttackEvent) => void; timeoutMs?: number },
): AttackRun;

export function probe(
  port: number,
  options?: { count?: number; intervalMs?: number; timeoutMs?: number },
): Promise<ProbeObservation>;

export function sleep(ms: number): Promise<void>;
export function steadyRss(
  server: ServerProcess,
  options?: { samples?: number; intervalMs?: number },
): Promise<number>;

export interface RssSampler {
  /** The highest RSS sampled so far. */
  current(): number;
  stop(): { peakRss: number; samples: number };
}

export function sampleRss(server: ServerProcess, options?: { onSample?: (rss: number) => void }): RssSampler;

/** Full GCs in `server`, then its RSS, repeated until at most `limit` bytes or `timeoutMs` passed. */
export function settledRss(
  server: ServerProcess,
  limit: number,
  timeoutMs: number,
): Promise<{ rss: number; reached: boolean; afterMs: number }>;

/** What one attack on one server measured (see measureAttack). */
export interface Measured {
  result: AttackResult;
  baseline: number;
  peakGrowth: number;
  /** The RSS ran past `rssCap` and the attacker was killed, `cappedAfterMs` into the attack. */
  capped: boolean;
  cappedAfterMs: number | undefined;
  /** RSS growth (after full GCs) while the attacker held its connections open (`holding` attacks). */
  heldGrowth: number | undefined;
  /** A fresh client while the attack ran (with `probeDuring`). */
  during: ProbeObservation | undefined;
  alive: boolean;
  /** A fresh client after the attack. */
  after: ProbeObservation | undefined;
  /** RSS growth (after full GCs) once the attacker left, and whether it came within `returnMargin`. */
  settled: { growth: number; reached: boolean; afterMs: number } | undefined;
  /** The server's CPU seconds during the attack. */
  cpuSeconds: number;
  attackMs: number;
  stderr: string;
}

export function measureAttack(options: {
  server: { command: string; args: string[]; env?: Record<string, string>; label?: string };
  attack: AttackName;
  params: Record<string, unknown>;
  probeDuring?: boolean;
  timeoutMs?: number;
  rssCap?: number;
  returnMargin: number;
  returnWaitMs: number;
}): Promise<Measured>;
