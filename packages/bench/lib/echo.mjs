// The part of the echo throughput drivers (echo-throughput*.mjs) common to every runtime: the
// flags, the servers' and load generator's processes, the rounds, and the markdown table.
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { compileLoadGenerator } from './compile-c.mjs';
import {
  canPin,
  childProcesses,
  cpuSeconds,
  fmt,
  loadAverage,
  median,
  pct,
  positive,
  spawnOn,
} from './measure.mjs';

/** The parseArgs options every echo driver takes. */
export const ECHO_OPTIONS = {
  size: { type: 'string', default: '64' },
  connections: { type: 'string', default: '50' },
  inflight: { type: 'string', default: '1' },
  duration: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  rounds: { type: 'string', default: '5' },
  'no-pin': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

/** The checked numbers of ECHO_OPTIONS; exits 2 on a bad one. */
export function echoConfig(values) {
  return {
    size: positive(values, 'size', true),
    connections: positive(values, 'connections', true),
    inflight: positive(values, 'inflight', true),
    duration: positive(values, 'duration', false),
    warmup: positive(values, 'warmup', false),
    rounds: positive(values, 'rounds', true),
  };
}

/**
 * The C load generator (echo-load.c, compiled now) as a `load` for runEchoComparison, with its
 * label for the table; it speaks load.mjs's flags and output, and never saturates first.
 */
export function cLoadGenerator() {
  const { binary, label } = compileLoadGenerator(new URL('../echo-load.c', import.meta.url));
  return { load: { command: binary, script: undefined, args: [] }, label };
}

/**
 * The load generator `kind` names as a `load` for runEchoComparison, with its label: `c`
 * (cLoadGenerator) or `node` (load.mjs, the npm `ws` client on this Node, given `args`).
 */
export function echoLoadGenerator(kind, args = []) {
  if (kind === 'c') return cLoadGenerator();
  return {
    load: { command: process.execPath, script: fileURLToPath(new URL('../load.mjs', import.meta.url)), args },
    label: `ws client on Node ${process.version} (load.mjs)`,
  };
}

/** CPUs, when pinning: servers on the last one, the load generator on the first. */
export function echoPinning(noPin) {
  return { pin: canPin(noPin), serverCpu: String(cpus().length - 1), loadCpu: '0' };
}

const sizeLabel = (n) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

/**
 * Runs the comparison and prints the table; exits (0, or 1 on a failure).
 *
 * - `servers`: two of `{ key, label, script }`, ours (key `ours`) first; `serverProcess`:
 *   `{ command, args(script), cwd, env, timeoutSeconds }` to run one (with PORT=0 and `env`).
 * - `load`: the load generator, `{ command, script, args }` (`script`, when there is one, before
 *   the common flags; `args` after them).
 * - The table: `title` (the heading up to its colon), `messages` (what is sent, default
 *   `binary messages`), `other` (the other server's short name), `setup` (the sentence on servers
 *   and load generator), `runtime` (the runtime versions, ending in `, `), `notes` (paragraphs
 *   after the main one) and `command` (the command line).
 */
export async function runEchoComparison(options) {
  const { config, pinning, servers, serverProcess, load } = options;
  const { pin, serverCpu, loadCpu } = pinning;
  const { track, killAll } = childProcesses();
  const launch = (command, args, spawnOptions, cpu) =>
    track(spawnOn(pin ? cpu : undefined, command, args, spawnOptions));

  function startServer(server) {
    return new Promise((resolve, reject) => {
      const child = launch(
        serverProcess.command,
        serverProcess.args(server.script),
        {
          cwd: serverProcess.cwd,
          env: { ...process.env, PORT: '0', ...serverProcess.env },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
        serverCpu,
      );
      let out = '';
      const seconds = serverProcess.timeoutSeconds;
      const timer = setTimeout(
        () => reject(new Error(`${server.label}: not listening after ${seconds} s`)),
        seconds * 1000,
      );
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        out += chunk;
        const match = /listening on (\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          child.stdout.removeAllListeners('data');
          child.stdout.resume();
          resolve({ ...server, child, url: `ws://127.0.0.1:${match[1]}` });
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${server.label}: exited (${signal ?? code}) before listening`));
      });
    });
  }

  /** One load run against one server; resolves with its rate and the server's CPU use meanwhile. */
  function measure(server) {
    return new Promise((resolve, reject) => {
      const args = [
        ...(load.script === undefined ? [] : [load.script]),
        '--url',
        server.url,
        '--connections',
        String(config.connections),
        '--inflight',
        String(config.inflight),
        '--size',
        String(config.size),
        '--warmup',
        String(config.warmup),
        '--duration',
        String(config.duration),
        ...load.args,
      ];
      const child = launch(load.command, args, { stdio: ['ignore', 'pipe', 'pipe'] }, loadCpu);
      let stdout = '';
      let stderr = '';
      let cpuStart;
      let cpuStop;
      let loadStart;
      let loadStop;
      const timer = setTimeout(
        () => {
          child.kill('SIGKILL');
          reject(new Error(`load generator against ${server.label} did not finish`));
        },
        (config.warmup + config.duration + 30) * 1000,
      );
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        stdout += chunk;
        if (cpuStart === undefined && /^start$/m.test(stdout)) {
          cpuStart = cpuSeconds(server.child.pid);
          loadStart = cpuSeconds(child.pid);
        }
        if (cpuStop === undefined && /^stop$/m.test(stdout)) {
          cpuStop = cpuSeconds(server.child.pid);
          loadStop = cpuSeconds(child.pid);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk) => {
        stderr += chunk;
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        const line = stdout.trim().split('\n').at(-1) ?? '';
        let result;
        try {
          result = JSON.parse(line);
        } catch {
          reject(new Error(`load generator against ${server.label} exited ${code}: ${stderr || stdout}`));
          return;
        }
        if (code !== 0 || result.bad > 0 || result.errors.length > 0) {
          reject(
            new Error(`load generator against ${server.label} failed: ${JSON.stringify(result)} ${stderr}`),
          );
          return;
        }
        const share = (a, b) => (a !== undefined && b !== undefined ? (b - a) / result.seconds : undefined);
        resolve({ rate: result.rate, cpu: share(cpuStart, cpuStop), loadCpu: share(loadStart, loadStop) });
      });
    });
  }

  const loadAtStart = loadAverage();
  const running = [];
  try {
    for (const server of servers) running.push(await startServer(server));
  } catch (error) {
    console.error(error.message);
    killAll();
    process.exit(1);
  }

  const results = Object.fromEntries(servers.map((server) => [server.key, []]));
  const started = performance.now();
  try {
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      for (const server of order) {
        const r = await measure(server);
        results[server.key].push(r);
        console.error(
          `round ${round + 1}/${config.rounds} ${server.label.padEnd(18)} ${fmt(r.rate).padStart(9)} msgs/s  server CPU ${pct(r.cpu)}, load generator CPU ${pct(r.loadCpu)}`,
        );
      }
    }
  } catch (error) {
    console.error(error.message);
    killAll();
    process.exit(1);
  }
  for (const server of running) server.child.kill('SIGTERM');

  const [ours, theirs] = running.map((server) => {
    const rs = results[server.key];
    const rates = rs.map((r) => r.rate);
    const samples = (key) => rs.map((r) => r[key]).filter((c) => c !== undefined);
    const rate = median(rates);
    const cpu = samples('cpu').length ? median(samples('cpu')) : undefined;
    return {
      label: server.label,
      rate,
      min: Math.min(...rates),
      max: Math.max(...rates),
      spread: (Math.max(...rates) - Math.min(...rates)) / rate,
      cpu,
      perCpu: cpu ? median(rs.filter((r) => r.cpu).map((r) => r.rate / r.cpu)) : undefined,
      loadCpu: samples('loadCpu').length ? median(samples('loadCpu')) : undefined,
      rates,
    };
  });

  const { other } = options;
  const cpuCount = cpus().length;
  const out = [];
  out.push(
    `### ${options.title}: ${sizeLabel(config.size)} ${options.messages ?? 'binary messages'}, ${config.connections} connections × ${config.inflight} in flight`,
  );
  out.push('');
  out.push(
    '| server | median round trips/s | min – max | server CPU | round trips per server CPU-second | load generator CPU |',
  );
  out.push('|---|--:|--:|--:|--:|--:|');
  for (const s of [ours, theirs]) {
    out.push(
      `| ${s.label} | ${fmt(s.rate)} | ${fmt(s.min)} – ${fmt(s.max)} | ${pct(s.cpu)} | ${s.perCpu ? fmt(s.perCpu) : 'n/a'} | ${pct(s.loadCpu)} |`,
    );
  }
  out.push(
    `| **ours / ${other}** | **${(ours.rate / theirs.rate).toFixed(2)}×** | | | ${ours.perCpu && theirs.perCpu ? `${(ours.perCpu / theirs.perCpu).toFixed(2)}×` : 'n/a'} | |`,
  );
  out.push('');
  out.push(
    `Per round (round trips/s), ours: ${ours.rates.map(fmt).join(', ')}; ${other}: ${theirs.rates.map(fmt).join(', ')}.`,
  );
  out.push(
    `${config.rounds} rounds alternating server order; each run ${config.warmup} s warm-up + ${config.duration} s measured; ` +
      options.setup +
      'CPU columns are medians of (process CPU time during the measured window) / (window). ' +
      `${options.runtime}${cpuCount} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
      (pin ? `servers pinned to CPU ${serverCpu}, load generator to CPU ${loadCpu}` : 'no CPU pinning') +
      `; load average at start ${loadAtStart}; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
  out.push(...(options.notes ?? []));
  const noisy = [ours, theirs].filter((s) => s.spread > 0.1);
  if (noisy.length > 0) {
    out.push(
      `Noisy: spread (max − min) / median is ${noisy.map((s) => `${Math.round(s.spread * 100)} % for ${s.label}`).join(', ')}; rerun on a quiet machine.`,
    );
  }
  out.push('');
  out.push(`Command: \`${options.command}\``);
  console.log(out.join('\n'));
  process.exit(0);
}
