/**
 * Hostile peers against a real server process: for one runtime, every test starts
 * examples/echo/<runtime> (default options; DEFLATE=1 for the bombs) as a child process on a port
 * of its choosing, records its RSS (Linux /proc) after a little ordinary traffic and full GCs, then
 * runs one attack from attacker.mjs (a Node process, the same bytes for every runtime, 127.0.0.1
 * only) and checks that
 *
 * - the server is still alive, and its peak RSS grew less than the attack's bound;
 * - a fresh client was served during the attack (floods) and right after it;
 * - RSS returns near the baseline once the attacker has left (after full GCs: what the server still
 *   holds, not garbage its collector has not got round to);
 * - and what each attack is about: pre-handshake connections closed at handshakeTimeout with 408,
 *   every probe of a reset storm served within a second, bombs failed with 1009, the RSS per idle
 *   connection.
 *
 * ```ts
 * import { defineHostileSuite } from '@fullduplex/testkit/hostile';
 * defineHostileSuite({ runtime: 'bun' });
 * ```
 *
 * The servers are preloaded with gc-on-signal.mjs (SIGUSR2 → full GC) so that memory can be read
 * after a collection; their code and options are the examples' own. Each test prints one line of
 * figures. Everything is bounded: attacks by duration and count, the attacker by a deadline, and a
 * server whose RSS runs away past RSS_CAP has its attacker killed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AttackName,
  echoServerCommand,
  killAll,
  type Measured,
  measureAttack,
  type ProbeObservation,
  type Runtime,
} from './harness.mjs';

export type { Runtime };

export interface HostileSuiteOptions {
  readonly runtime: Runtime;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * What the library must meet with default options. Generous for a busy 2-core machine (a runtime's
 * own heap growth under a flood counts too), far below what unbounded buffering reaches.
 */
export const HOSTILE_BOUNDS = {
  /** One flooding or never-reading connection: its send buffer is capped and reading from it pauses. */
  floodPeakGrowth: 80 * MiB,
  /** Parallel decompression bombs: inflating has a process-wide byte budget (≤ 64 MiB). */
  bombsPeakGrowth: 192 * MiB,
  /** RSS per idle or half-open connection while they are held (after full GCs). */
  perConnection: 32 * KiB,
  /** How far above its baseline RSS may stay once the attacker left (after full GCs). */
  returnMargin: 80 * MiB,
  returnWaitMs: 4000,
  /** The servers' default handshakeTimeout; half-open handshakes end with 408 then. */
  handshakeTimeoutMs: 10_000,
  /** A fresh client right after an attack, and each probe of a reset storm. */
  probeLatencyMs: 1000,
  /** A fresh client while one peer floods. */
  probeDuringFloodMs: 1000,
} as const;

/**
 * Deno's allocator keeps what a burst of inflating freed: after the bombs its JS heap and
 * external memory are back at baseline but RSS stays near the peak (reused by the next
 * burst, not grown by it). So on Deno the bombs test bounds what stays, at about two
 * inflates at the examples' 64 MiB message cap, instead of asking for the baseline.
 */
const DENO_BOMBS_RETURN_MARGIN = 160 * MiB;

/** Past this growth the attacker is killed: a runaway server must not take the machine down. */
const RSS_CAP = 3 * 1024 * MiB;
/** Per test, for the runners that time tests out (Deno's does not: every step below is bounded). */
const TEST_TIMEOUT_MS = 90_000;

const FLOOD_MS = 2000;
const HALF_OPEN = { partialHead: 1500, silent: 1500, upgraded: 1500, durationMs: 12_500 };
const IDLE = { connections: 4000, durationMs: 3000 };
const RESET_STORM = { durationMs: 4000, ratePerSecond: 1000, probeIntervalMs: 200 };
const BOMBS = { connections: 16, inflatedBytes: 80 * MiB };

interface AttackPlan {
  readonly attack: AttackName;
  readonly params: Record<string, unknown>;
  readonly deflate?: boolean;
  /** Probe with a fresh client once the attack proper started. */
  readonly probeDuring?: boolean;
  /** How long the attack may take before its attacker is killed. */
  readonly timeoutMs: number;
  /** How far above baseline RSS may stay afterwards; default {@link HOSTILE_BOUNDS.returnMargin}. */
  readonly returnMargin?: number;
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const kib = (bytes: number): string => `${(bytes / KiB).toFixed(1)} KiB`;

/** One attack on a fresh examples/echo process of `runtime`, measured. */
function measure(runtime: Runtime, plan: AttackPlan): Promise<Measured> {
  return measureAttack({
    server: {
      ...echoServerCommand(runtime),
      env: plan.deflate ? { DEFLATE: '1' } : {},
      label: `examples/echo (${runtime})`,
    },
    attack: plan.attack,
    params: plan.params,
    probeDuring: plan.probeDuring,
    timeoutMs: plan.timeoutMs,
    rssCap: RSS_CAP,
    returnMargin: plan.returnMargin ?? HOSTILE_BOUNDS.returnMargin,
    returnWaitMs: HOSTILE_BOUNDS.returnWaitMs,
  });
}

/** The checks every attack gets: alive, a fresh client served after it, RSS back near baseline. */
function commonProblems(m: Measured, returnMargin: number = HOSTILE_BOUNDS.returnMargin): string[] {
  const problems: string[] = [];
  if (m.capped) problems.push(`RSS grew past ${mib(RSS_CAP)}: attacker killed`);
  else if (m.result.error !== undefined) problems.push(`attacker: ${m.result.error}`);
  if (!m.alive) problems.push(`server died: ${m.stderr.slice(-500)}`);
  const after = m.after;
  if (after !== undefined) {
    if (after.served !== 1) problems.push(`no fresh client served after the attack (${probeError(after)})`);
    else if ((after.maxLatencyMs ?? Number.POSITIVE_INFINITY) > HOSTILE_BOUNDS.probeLatencyMs) {
      problems.push(`fresh client after the attack took ${after.maxLatencyMs} ms`);
    }
  }
  if (m.settled !== undefined && !m.settled.reached) {
    problems.push(
      `RSS still ${mib(m.settled.growth)} above baseline ${m.settled.afterMs} ms after the attack (margin ${mib(returnMargin)})`,
    );
  }
  return problems;
}

function probeError(observation: ProbeObservation): string {
  return observation.probes.find((p) => !p.ok)?.error ?? observation.error ?? 'no result';
}

function peakProblem(m: Measured, bound: number): string[] {
  return m.peakGrowth > bound ? [`peak RSS growth ${mib(m.peakGrowth)} over ${mib(bound)}`] : [];
}

function duringProblems(m: Measured): string[] {
  const during = m.during;
  if (during === undefined) return ['no probe ran during the attack'];
  if (during.served !== 1) return [`no fresh client served during the attack (${probeError(during)})`];
  const latency = during.maxLatencyMs ?? Number.POSITIVE_INFINITY;
  return latency > HOSTILE_BOUNDS.probeDuringFloodMs
    ? [`fresh client during the attack took ${latency} ms (bound ${HOSTILE_BOUNDS.probeDuringFloodMs} ms)`]
    : [];
}

const signedMib = (bytes: number): string => `${bytes < 0 ? '-' : '+'}${mib(Math.abs(bytes))}`;

/** A probe's latency, or why it failed. */
function probeFigure(observation: ProbeObservation): string {
  return observation.maxLatencyMs !== null && observation.failed === 0
    ? `${observation.maxLatencyMs} ms`
    : `failed (${probeError(observation)})`;
}

/** One line of figures per test, for the log. */
function report(runtime: Runtime, name: string, m: Measured, extra = ''): void {
  const closed = m.result.observed?.closeCode ?? null;
  const parts = [
    `baseline ${mib(m.baseline)}`,
    `peak ${signedMib(m.peakGrowth)}`,
    m.heldGrowth !== undefined ? `held ${signedMib(m.heldGrowth)}` : '',
    m.settled !== undefined ? `after ${signedMib(m.settled.growth)}` : 'after: server gone',
    m.during !== undefined ? `probe during ${probeFigure(m.during)}` : '',
    m.after !== undefined ? `probe after ${probeFigure(m.after)}` : '',
    closed !== null ? `close ${closed}` : '',
    extra,
  ].filter(Boolean);
  console.log(`[hostile ${runtime}] ${name}: ${parts.join(', ')}`);
}

/** Registers the hostile-peer tests for `options.runtime`'s examples/echo server. */
export function defineHostileSuite(options: HostileSuiteOptions): void {
  const { runtime } = options;

  describe(`hostile peers against examples/echo on ${runtime} (a real server process, RSS from /proc)`, () => {
    afterAll(killAll);

    const floods: [AttackName, string][] = [
      ['ping-flood', 'a ping flood from a peer that never reads'],
      ['pong-flood', 'a flood of unsolicited pongs'],
      ['never-reading-small', 'a peer that never reads its echoes, 16 B messages'],
      ['never-reading-large', 'a peer that never reads its echoes, 1 MiB messages'],
    ];
    for (const [name, what] of floods) {
      it(
        `${what}: RSS growth under ${mib(HOSTILE_BOUNDS.floodPeakGrowth)}, fresh clients served, RSS back near baseline`,
        async () => {
          const m = await measure(runtime, {
            attack: name,
            params: { durationMs: FLOOD_MS, drainMs: 1000 },
            probeDuring: true,
            timeoutMs: 40_000,
          });
          report(runtime, name, m, `sent ${m.result.sent?.bytes ?? 0} B`);
          expect([
            ...commonProblems(m),
            ...peakProblem(m, HOSTILE_BOUNDS.floodPeakGrowth),
            ...duringProblems(m),
          ]).toEqual([]);
        },
        TEST_TIMEOUT_MS,
      );
    }

    it(
      `half-open connections: pre-handshake ones closed at handshakeTimeout with 408, RSS per connection under ${kib(HOSTILE_BOUNDS.perConnection)}`,
      async () => {
        const m = await measure(runtime, { attack: 'half-open', params: HALF_OPEN, timeoutMs: 60_000 });
        const groups = m.result.groups;
        const total = HALF_OPEN.partialHead + HALF_OPEN.silent + HALF_OPEN.upgraded;
        const problems = commonProblems(m);
        if (groups === undefined) problems.push('no per-group result');
        else {
          const timeout = HOSTILE_BOUNDS.handshakeTimeoutMs;
          for (const [name, group] of [
            ['partial head', groups.partialHead],
            ['silent', groups.silent],
          ] as const) {
            const count = name === 'silent' ? HALF_OPEN.silent : HALF_OPEN.partialHead;
            if (group.opened !== count) problems.push(`${name}: ${group.opened} of ${count} opened`);
            if (group.closedByServer !== group.opened) {
              problems.push(`${name}: ${group.closedByServer} of ${group.opened} closed by the server`);
            }
            if ((group.statuses['408'] ?? 0) !== group.opened) {
              problems.push(`${name}: statuses ${JSON.stringify(group.statuses)}, not 408 for all`);
            }
            const spread = group.closedAfterMs;
            if (spread !== null && (spread.min < timeout - 1000 || spread.max > timeout + 2500)) {
              problems.push(`${name}: closed after ${spread.min}..${spread.max} ms, not at ~${timeout} ms`);
            }
          }
          if (groups.upgraded.opened !== HALF_OPEN.upgraded) {
            problems.push(`upgraded: ${groups.upgraded.opened} of ${HALF_OPEN.upgraded} opened`);
          }
          if (groups.upgraded.closedByServer !== 0) {
            problems.push(`upgraded: ${groups.upgraded.closedByServer} quiet open connections dropped early`);
          }
        }
        if (m.heldGrowth === undefined) problems.push('no RSS while the connections were held');
        else if (m.heldGrowth / total > HOSTILE_BOUNDS.perConnection) {
          problems.push(`${kib(m.heldGrowth / total)} per half-open connection`);
        }
        report(
          runtime,
          'half-open',
          m,
          m.heldGrowth !== undefined ? `${kib(m.heldGrowth / total)}/conn` : '',
        );
        expect(problems).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `a reset storm during accept: every fresh client served within ${HOSTILE_BOUNDS.probeLatencyMs} ms`,
      async () => {
        const m = await measure(runtime, { attack: 'reset-storm', params: RESET_STORM, timeoutMs: 40_000 });
        const problems = commonProblems(m);
        const probes = m.result.probe?.observed;
        const expected = Math.floor(RESET_STORM.durationMs / RESET_STORM.probeIntervalMs);
        if (probes === undefined) problems.push(`no probe result: ${m.result.probe?.error ?? ''}`);
        else {
          if (probes.served !== expected) {
            problems.push(`${probes.served} of ${expected} probes served (${probeError(probes)})`);
          }
          const slow = probes.probes.filter(
            (p) => p.ok && (p.latencyMs ?? 0) > HOSTILE_BOUNDS.probeLatencyMs,
          );
          if (slow.length > 0)
            problems.push(`${slow.length} probes over ${HOSTILE_BOUNDS.probeLatencyMs} ms`);
        }
        // How many resets there were is what the listener allowed (a stalled one takes few): reported only.
        const resets = m.result.sent?.reset ?? 0;
        report(
          runtime,
          'reset-storm',
          m,
          `${resets} resets, probes served ${probes?.served ?? 0}/${expected}, max ${probes?.maxLatencyMs ?? '-'} ms`,
        );
        expect(problems).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `${IDLE.connections} idle connections: RSS per connection under ${kib(HOSTILE_BOUNDS.perConnection)}, back near baseline once they leave`,
      async () => {
        const m = await measure(runtime, { attack: 'idle', params: IDLE, timeoutMs: 60_000 });
        const problems = commonProblems(m);
        const open = m.result.observed?.open ?? 0;
        if (open !== IDLE.connections) problems.push(`${open} of ${IDLE.connections} connections opened`);
        if ((m.result.observed?.closedByServer ?? 0) !== 0) {
          problems.push(`${m.result.observed?.closedByServer} idle connections dropped early`);
        }
        if (m.heldGrowth === undefined) problems.push('no RSS while the connections were held');
        else if (m.heldGrowth / IDLE.connections > HOSTILE_BOUNDS.perConnection) {
          problems.push(`${kib(m.heldGrowth / IDLE.connections)} per idle connection`);
        }
        report(
          runtime,
          'idle',
          m,
          m.heldGrowth !== undefined ? `${kib(m.heldGrowth / IDLE.connections)}/conn` : '',
        );
        expect(problems).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `${BOMBS.connections} parallel decompression bombs: each failed with 1009, peak RSS growth under ${mib(HOSTILE_BOUNDS.bombsPeakGrowth)}`,
      async () => {
        const returnMargin = runtime === 'deno' ? DENO_BOMBS_RETURN_MARGIN : HOSTILE_BOUNDS.returnMargin;
        const m = await measure(runtime, {
          attack: 'bombs',
          params: { ...BOMBS, timeoutMs: 20_000 },
          deflate: true,
          timeoutMs: 60_000,
          returnMargin,
        });
        const problems = [
          ...commonProblems(m, returnMargin),
          ...peakProblem(m, HOSTILE_BOUNDS.bombsPeakGrowth),
        ];
        const codes = m.result.observed?.closeCodes ?? {};
        if ((codes['1009'] ?? 0) !== BOMBS.connections) {
          problems.push(`close codes ${JSON.stringify(codes)}, not 1009 for all ${BOMBS.connections}`);
        }
        report(runtime, 'bombs', m, `close codes ${JSON.stringify(codes)}`);
        expect(problems).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );
  });
}
