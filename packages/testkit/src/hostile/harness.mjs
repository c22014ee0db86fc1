// @ts-self-types="./harness.d.mts"
// The processes of the hostile-peer tests and report: a server under attack (a child process whose
// memory rss-meter.mjs reads from Linux /proc every 50 ms), the attacker (attacker.mjs, always on
// Node), and what is made of the server's RSS: steady readings, the peak, the return after GCs.
// Plain JavaScript on node: APIs (and Deno.Command under Deno, which passes the environment on
// where node:child_process under `--ignore-env` would not) so that the suite runs under vitest,
// `bun test` and `deno test`, and packages/bench/hostile-report.mjs on Node.
import { spawn } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing separator. */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const ATTACKER = fileURLToPath(new URL('./attacker.mjs', import.meta.url));
export const RSS_METER = fileURLToPath(new URL('./rss-meter.mjs', import.meta.url));
/** The real binaries, not the node_modules/.bin wrappers (shell scripts: another pid, no signals passed on). */
export const BUN = `${ROOT}packages/bun/node_modules/bun/bin/bun.exe`;
export const DENO = `${ROOT}packages/deno/node_modules/deno/deno`;

const denoRuntime = globalThis.Deno;
const isNode = !denoRuntime && !process.versions.bun;
/** Node for the attacker: this process's binary on Node, else the one on PATH. */
export const NODE = isNode ? process.execPath : 'node';

export const GC_ON_SIGNAL = fileURLToPath(new URL('./gc-on-signal.mjs', import.meta.url));

/**
 * The runtime flags that preload gc-on-signal.mjs into a server (SIGUSR2 → full GC → `gc done`),
 * so that `collectGarbage()` on it works; the server's own code and options are untouched.
 */
export function gcPreloadFlags(runtime) {
  switch (runtime) {
    case 'node':
      return ['--expose-gc', '--import', GC_ON_SIGNAL];
    case 'bun':
      return ['--preload', GC_ON_SIGNAL];
    case 'deno':
      return ['--v8-flags=--expose-gc', '--preload', GC_ON_SIGNAL];
    default:
      throw new Error(`unknown runtime ${runtime}`);
  }
}

/** The command that runs `script` (from the repository root) on `runtime`, with the GC preload. */
export function serverCommand(runtime, script) {
  const flags = gcPreloadFlags(runtime);
  switch (runtime) {
    case 'node':
      return { command: NODE, args: [...flags, script] };
    case 'bun':
      return { command: BUN, args: [...flags, script] };
    case 'deno':
      return { command: DENO, args: ['run', '-A', ...flags, script] };
    default:
      throw new Error(`unknown runtime ${runtime}`);
  }
}

/** The command that runs examples/echo for `runtime` (with the GC preload). */
export function echoServerCommand(runtime) {
  return serverCommand(runtime, `examples/echo/${runtime === 'node' ? 'node.mjs' : `${runtime}.ts`}`);
}

// ------------------------------------------------------------------ processes

const running = new Set();

/** SIGKILLs every process started here that is still running. */
export function killAll() {
  for (const child of running) child.kill('SIGKILL');
}
process.once('exit', killAll);

/** Lines of a child's output, as they come. */
class Lines {
  constructor({ queue = true } = {}) {
    this.queueing = queue;
    this.queue = [];
    this.waiters = [];
    this.ended = false;
    this.buffered = '';
    this.listeners = [];
    this.all = '';
  }

  write(text) {
    // The tail only, for error messages: a meter prints lines for as long as it runs.
    this.all = (this.all + text).slice(-4096);
    this.buffered += text;
    for (let nl = this.buffered.indexOf('\n'); nl !== -1; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      for (const listener of this.listeners) listener(line);
      if (this.queueing) this.queue.push(line);
    }
    this.wake();
  }

  end() {
    this.ended = true;
    this.wake();
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  async next(timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.queue.shift();
      if (line !== undefined) return line;
      if (this.ended) throw new Error(`${what}: output ended; got ${JSON.stringify(this.all)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${what}: no line within ${timeoutMs} ms; got ${JSON.stringify(this.all)}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * Starts `command args` with `env` added to this process's environment, stdin closed. Returns
 * { pid, lines, stderr(), exited, alive(), kill(signal) }; `exited` resolves with { code, signal }.
 */
export function startProcess(
  command,
  args,
  { env = {}, cwd = ROOT, label = command, queueLines = true } = {},
) {
  const lines = new Lines({ queue: queueLines });
  let stderr = '';
  let exit;
  let kill;
  let pid;
  if (denoRuntime) {
    const child = new denoRuntime.Command(command, {
      args,
      cwd,
      env,
      stdin: 'null',
      stdout: 'piped',
      stderr: 'piped',
    }).spawn();
    pid = child.pid;
    const pump = async (stream, onText) => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
      } catch {
        // the child went away
      }
    };
    const pumped = Promise.all([
      pump(child.stdout, (text) => lines.write(text)).then(() => lines.end()),
      pump(child.stderr, (text) => {
        stderr += text;
      }),
    ]);
    exit = child.status.then(async (status) => {
      await pumped;
      return { code: status.code, signal: status.signal };
    });
    kill = (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    };
  } else {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pid = child.pid;
    child.stdout.setEncoding('utf8').on('data', (text) => lines.write(text));
    child.stdout.once('end', () => lines.end());
    child.stderr.setEncoding('utf8').on('data', (text) => {
      stderr += text;
    });
    exit = new Promise((resolve) => {
      child.once('error', (error) => {
        stderr += String(error);
        lines.end();
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    kill = (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
  }
  let exited = false;
  const handle = {
    label,
    pid,
    lines,
    stderr: () => stderr,
    exited: exit.then((status) => {
      exited = true;
      running.delete(handle);
      return status;
    }),
    alive: () => !exited,
    kill: (signal = 'SIGTERM') => {
      if (!exited) kill(signal);
    },
  };
  running.add(handle);
  return handle;
}

/**
 * Starts a server with the examples' contract (PORT, "listening on <port>", SIGTERM) on a port of
 * its choosing, and waits until it listens.
 */
export async function startServer({
  command,
  args,
  env = {},
  label = `${command} ${args.join(' ')}`,
  readyTimeoutMs = 30_000,
}) {
  const child = startProcess(command, args, { env: { PORT: '0', NO_COLOR: '1', ...env }, label });
  let port;
  let meter;
  try {
    const deadline = Date.now() + readyTimeoutMs;
    while (port === undefined) {
      const line = await child.lines.next(Math.max(1, deadline - Date.now()), label);
      const match = /listening on (\d+)/.exec(line);
      if (match) port = Number(match[1]);
    }
    meter = await startMeter(child.pid);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}; stderr: ${child.stderr()}`);
  }
  void child.exited.then(() => meter.stop());
  return {
    label,
    pid: child.pid,
    port,
    alive: child.alive,
    stderr: child.stderr,
    exited: child.exited,
    memory: meter.latest,
    onMemory: meter.subscribe,
    /**
     * Full garbage collections in the server (it must run with gcPreloadFlags): sends SIGUSR2 and
     * waits for its `gc done`. Rejects after `timeoutMs`.
     */
    async collectGarbage(timeoutMs = 10_000) {
      child.kill('SIGUSR2');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = await child.lines.next(Math.max(1, deadline - Date.now()), `${label}: gc`);
        if (line === 'gc done') return;
      }
    },
    /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
    async stop(graceMs = 5000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const status = await child.exited;
      clearTimeout(timer);
      meter.stop();
      return status;
    },
  };
}

/**
 * rss-meter.mjs on `pid`: resolves once the first reading is in with { latest(), subscribe(fn),
 * stop() }; `subscribe(fn)` calls fn({ rss, hwm }) for every reading and returns the unsubscribe.
 */
async function startMeter(pid, intervalMs = 50) {
  const child = startProcess(NODE, [RSS_METER, String(pid), String(intervalMs)], {
    label: `rss meter of ${pid}`,
    queueLines: false,
  });
  let latest;
  const listeners = new Set();
  let first;
  const ready = new Promise((resolve) => {
    first = resolve;
  });
  child.lines.listeners.push((line) => {
    const [rss, hwm, cpu] = line.split(' ').map(Number);
    latest = { rss, hwm, cpu };
    first();
    for (const listener of listeners) listener(latest);
  });
  void child.exited.then(() => first());
  const timer = setTimeout(() => first(), 10_000);
  await ready;
  clearTimeout(timer);
  if (latest === undefined) throw new Error(`no memory readings of ${pid}: ${child.stderr()}`);
  return {
    latest: () => (child.alive() ? latest : undefined),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => child.kill('SIGKILL'),
  };
}

/**
 * Runs one attack (see attacker.mjs) against 127.0.0.1:`port`. `onEvent` sees its progress events.
 * Returns { done, kill }: `done` resolves with its result line, or with { error } if the attacker
 * died, was killed or overran `timeoutMs`.
 */
export function runAttack(attack, params, { onEvent = () => {}, timeoutMs = 120_000 } = {}) {
  const child = startProcess(NODE, [ATTACKER, JSON.stringify({ attack, ...params })], {
    label: `attacker ${attack}`,
  });
  let result;
  child.lines.listeners.push((line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    if (event.event === 'result') result = event;
    else onEvent(event);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = child.exited.then((status) => {
    clearTimeout(timer);
    if (result !== undefined) return result;
    const how = status.signal ?? `code ${status.code}`;
    return { event: 'result', attack, error: `attacker ended (${how}) without a result: ${child.stderr()}` };
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** One probe client (handshake + echo) against `port`; resolves with its latency or its error. */
export async function probe(port, { count = 1, intervalMs = 200, timeoutMs = 5000 } = {}) {
  const result = await runAttack('probe', { port, count, intervalMs, timeoutMs }).done;
  return result.observed ?? { served: 0, failed: count, maxLatencyMs: null, probes: [], error: result.error };
}

// ------------------------------------------------------------------ memory

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The median RSS of `server` over `samples` readings `intervalMs` apart (at least the meter's 50 ms). */
export async function steadyRss(server, { samples = 5, intervalMs = 100 } = {}) {
  const readings = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(intervalMs);
    const memory = server.memory();
    if (memory) readings.push(memory.rss);
  }
  if (readings.length === 0) throw new Error(`${server.label}: no memory readings (gone?)`);
  readings.sort((a, b) => a - b);
  return readings[readings.length >> 1];
}

/**
 * Follows the RSS of `server` until stopped; `onSample(rss)` sees each reading. `stop()` returns
 * { peakRss, samples }: the highest VmRSS read, or VmHWM when that rose meanwhile (it catches peaks
 * between readings; an earlier, higher peak would hide it).
 */
export function sampleRss(server, { onSample = () => {} } = {}) {
  const first = server.memory();
  const hwmAtStart = first?.hwm ?? 0;
  let peakRss = first?.rss ?? 0;
  let lastHwm = hwmAtStart;
  let samples = 0;
  const unsubscribe = server.onMemory((memory) => {
    samples++;
    peakRss = Math.max(peakRss, memory.rss);
    lastHwm = memory.hwm;
    onSample(memory.rss);
  });
  return {
    current: () => peakRss,
    stop() {
      unsubscribe();
      return { peakRss: lastHwm > hwmAtStart ? Math.max(peakRss, lastHwm) : peakRss, samples };
    },
  };
}

/**
 * After an attack: full GCs in `server`, then its RSS, again every half second until that is at
 * most `limit` bytes or `timeoutMs` passed. Resolves with { rss, reached, afterMs } (the last
 * reading; rss is NaN if the server could not be measured).
 */
export async function settledRss(server, limit, timeoutMs) {
  const started = Date.now();
  for (;;) {
    let rss = Number.NaN;
    try {
      await server.collectGarbage(Math.max(1000, timeoutMs - (Date.now() - started)));
      rss = await steadyRss(server, { samples: 3 });
    } catch {
      // gone, or too busy to collect within the time left
    }
    const afterMs = Date.now() - started;
    if (rss <= limit) return { rss, reached: true, afterMs };
    if (afterMs >= timeoutMs || !server.alive()) return { rss, reached: false, afterMs };
    await sleep(500);
  }
}

// ------------------------------------------------------------------ one attack, measured

/**
 * Starts `server` ({ command, args, env, label }), brings it to its working size (warm-up traffic,
 * probes, full GCs), records its baseline RSS, runs `attack` with `params` against it while
 * following its RSS, and measures what followed; stops the server. Options: `probeDuring` (a fresh
 * client once the attack proper started), `timeoutMs` (for the attacker), `rssCap` (growth past
 * which the attacker is killed), `returnMargin` and `returnWaitMs` (how far above the baseline RSS
 * counts as back, and how long to wait for it). Resolves with { result, baseline, peakGrowth,
 * capped, cappedAfterMs, heldGrowth, during, alive, after, settled, cpuSeconds, attackMs, stderr }.
 */
export async function measureAttack({
  server: spec,
  attack,
  params,
  probeDuring = false,
  timeoutMs = 120_000,
  rssCap = 3 * 1024 ** 3,
  returnMargin,
  returnWaitMs,
}) {
  const server = await startServer(spec);
  try {
    // Ordinary traffic first: the runtime's heap and buffers reach their working size.
    await runAttack('warmup', { port: server.port, durationMs: 500 }, { timeoutMs: 20_000 }).done;
    await probe(server.port, { count: 2 });
    await server.collectGarbage();
    const baseline = await steadyRss(server);

    let during;
    let held;
    const onEvent = (event) => {
      if (event.event === 'flooding' && probeDuring) {
        during = sleep(300).then(() => probe(server.port, { timeoutMs: 5000 }));
      }
      if (event.event === 'holding') held = heldGrowth(server, baseline);
    };
    const started = Date.now();
    const cpuBefore = server.memory()?.cpu ?? Number.NaN;
    const run = runAttack(attack, { port: server.port, ...params }, { onEvent, timeoutMs });
    let cappedAfterMs;
    const sampler = sampleRss(server, {
      onSample: (rss) => {
        if (rss - baseline <= rssCap || cappedAfterMs !== undefined) return;
        cappedAfterMs = Date.now() - started;
        run.kill();
      },
    });
    const result = await run.done;
    const attackMs = Date.now() - started;
    const cpuSeconds = (server.memory()?.cpu ?? Number.NaN) - cpuBefore;
    const { peakRss } = sampler.stop();
    const duringProbe = await during;
    const heldBytes = await held;
    const alive = server.alive();
    const after = alive ? await probe(server.port, { timeoutMs: 5000 }) : undefined;
    const settled = alive ? await settledRss(server, baseline + returnMargin, returnWaitMs) : undefined;
    return {
      result,
      baseline,
      peakGrowth: peakRss - baseline,
      capped: cappedAfterMs !== undefined,
      cappedAfterMs,
      heldGrowth: heldBytes,
      during: duringProbe,
      alive,
      after,
      settled: settled && {
        growth: settled.rss - baseline,
        reached: settled.reached,
        afterMs: settled.afterMs,
      },
      cpuSeconds,
      attackMs,
      stderr: server.stderr(),
    };
  } finally {
    await server.stop();
  }
}

/** RSS growth after full GCs, a moment after the attacker reported all its connections open. */
async function heldGrowth(server, baseline) {
  await sleep(1000);
  try {
    await server.collectGarbage();
    return (await steadyRss(server, { samples: 3 })) - baseline;
  } catch {
    return undefined;
  }
}
