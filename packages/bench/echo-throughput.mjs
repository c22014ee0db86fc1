// Echo throughput, fullduplex against ws, side by side.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:echo [flags]
//   node packages/bench/echo-throughput.mjs [flags]
//
//   --size N          message size in bytes (default 64)
//   --connections N   concurrent connections (default 50)
//   --inflight N      messages in flight per connection (default 1: ping-pong)
//   --duration S      measured seconds per run (default 5)
//   --warmup S        seconds of load before measuring (default 1)
//   --rounds N        rounds; each runs both servers, alternating which goes first (default 5)
//   --no-pin          do not pin servers and load generator to separate CPUs with taskset
//   --deflate         permessage-deflate on both servers (DEFLATE=1: ours `perMessageDeflate: true`,
//                     ws `perMessageDeflate: true`) and in the load generator (ws client,
//                     `perMessageDeflate: true`), with compressible (JSON-like) messages
//
// Each echo server runs in its own process (ours: examples/echo/node.mjs; ws: ws-echo-server.mjs
// here, same contract), and so does the load generator (load.mjs, the `ws` client for both
// servers). Everything is on 127.0.0.1. Prints a markdown table: median round trips per second
// per server, the ratio ours/ws, and the command line. Progress goes to stderr.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    connections: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    'no-pin': { type: 'boolean', default: false },
    deflate: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(
    source
      .split('\n')
      .filter((l) => l.startsWith('//'))
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
  process.exit(0);
}

function positive(name, integer) {
  const value = Number(values[name]);
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${values[name]}`);
    process.exit(2);
  }
  return value;
}
const config = {
  size: positive('size', true),
  connections: positive('connections', true),
  inflight: positive('inflight', true),
  duration: positive('duration', false),
  warmup: positive('warmup', false),
  rounds: positive('rounds', true),
  deflate: values.deflate,
};

// Two CPUs or more: servers on the last one, the load generator on the first.
const cpuCount = cpus().length;
const pin = !values['no-pin'] && cpuCount >= 2 && existsSync('/usr/bin/taskset');
const SERVER_CPU = String(cpuCount - 1);
const LOAD_CPU = '0';
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const versionOf = (file) => JSON.parse(readFileSync(file, 'utf8')).version;
const SERVERS = [
  {
    key: 'ours',
    label: `fullduplex ${versionOf(require.resolve('@fullduplex/node/package.json'))}`,
    script: fileURLToPath(new URL('../../examples/echo/node.mjs', import.meta.url)),
  },
  {
    key: 'ws',
    label: `ws ${versionOf(require.resolve('ws/package.json'))}`,
    script: fileURLToPath(new URL('./ws-echo-server.mjs', import.meta.url)),
  },
];

const children = new Set();
function launch(args, options, cpu) {
  const child =
    pin && cpu !== undefined
      ? spawn('/usr/bin/taskset', ['-c', cpu, process.execPath, ...args], options)
      : spawn(process.execPath, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

function startServer(server) {
  return new Promise((resolve, reject) => {
    const child = launch(
      [server.script],
      {
        env: { ...process.env, PORT: '0', DEFLATE: config.deflate ? '1' : '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
      SERVER_CPU,
    );
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${server.label}: not listening after 10 s`)), 10_000);
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

/** utime + stime of a process, in seconds (Linux /proc); undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** One load run against one server; resolves with its rate and the server's CPU use meanwhile. */
function measure(server) {
  return new Promise((resolve, reject) => {
    const args = [
      fileURLToPath(new URL('./load.mjs', import.meta.url)),
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
      ...(config.deflate ? ['--deflate'] : []),
    ];
    const child = launch(args, { stdio: ['ignore', 'pipe', 'pipe'] }, LOAD_CPU);
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const pct = (x) => (x === undefined ? 'n/a' : `${Math.round(x * 100)} %`);
const sizeLabel = (n) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

const cliArgs = process.argv.slice(2);
const lifecycle = process.env.npm_lifecycle_event;
const viaPnpm = lifecycle === 'bench:echo' || lifecycle === 'bench:echo:deflate';
const pnpmArgs = lifecycle === 'bench:echo:deflate' ? cliArgs.filter((a) => a !== '--deflate') : cliArgs;
const command = viaPnpm
  ? `npx -y pnpm@10.34.8 --filter @fullduplex/bench ${lifecycle}${pnpmArgs.length ? ` ${pnpmArgs.join(' ')}` : ''}`
  : `node ${relative(ROOT, fileURLToPath(import.meta.url)) || 'echo-throughput.mjs'}${cliArgs.length ? ` ${cliArgs.join(' ')}` : ''}`;

const loadAtStart = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const running = [];
try {
  for (const server of SERVERS) running.push(await startServer(server));
} catch (error) {
  console.error(error.message);
  killAll();
  process.exit(1);
}

const results = { ours: [], ws: [] };
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

const summary = {};
for (const server of running) {
  const rs = results[server.key];
  const rates = rs.map((r) => r.rate);
  const samples = (key) => rs.map((r) => r[key]).filter((c) => c !== undefined);
  const rate = median(rates);
  const cpu = samples('cpu').length ? median(samples('cpu')) : undefined;
  summary[server.key] = {
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
}
const ours = summary.ours;
const ws = summary.ws;

const out = [];
out.push(
  `### Echo throughput${config.deflate ? ' with permessage-deflate' : ''}: ${sizeLabel(config.size)} ${config.deflate ? 'compressible ' : ''}binary messages, ${config.connections} connections × ${config.inflight} in flight`,
);
out.push('');
out.push(
  '| server | median round trips/s | min – max | server CPU | round trips per server CPU-second | load generator CPU |',
);
out.push('|---|--:|--:|--:|--:|--:|');
for (const s of [ours, ws]) {
  out.push(
    `| ${s.label} | ${fmt(s.rate)} | ${fmt(s.min)} – ${fmt(s.max)} | ${pct(s.cpu)} | ${s.perCpu ? fmt(s.perCpu) : 'n/a'} | ${pct(s.loadCpu)} |`,
  );
}
out.push(
  `| **ours / ws** | **${(ours.rate / ws.rate).toFixed(2)}×** | | | ${ours.perCpu && ws.perCpu ? `${(ours.perCpu / ws.perCpu).toFixed(2)}×` : 'n/a'} | |`,
);
out.push('');
out.push(
  `Per round (round trips/s), ours: ${ours.rates.map(fmt).join(', ')}; ws: ${ws.rates.map(fmt).join(', ')}.`,
);
out.push(
  `${config.rounds} rounds alternating server order; each run ${config.warmup} s warm-up + ${config.duration} s measured; ` +
    `load generator: ws client in its own process for both servers; all on 127.0.0.1. ` +
    'CPU columns are medians of (process CPU time during the measured window) / (window). ' +
    `Node ${process.version}, ${cpuCount} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
    (pin ? `servers pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOAD_CPU}` : 'no CPU pinning') +
    `; load average at start ${loadAtStart}; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
if (config.deflate) {
  out.push(
    'permessage-deflate on both servers (defaults: context takeover, threshold 1024) and in the load generator (ws client, perMessageDeflate: true). ' +
      'ws applies its threshold only without context takeover, so ws (server and load generator) compresses every message, 64 B ones included; ' +
      'ours sends messages below 1024 bytes uncompressed. Both servers therefore inflate every message they receive.',
  );
}
const noisy = [ours, ws].filter((s) => s.spread > 0.1);
if (noisy.length > 0) {
  out.push(
    `Noisy: spread (max − min) / median is ${noisy.map((s) => `${Math.round(s.spread * 100)} % for ${s.label}`).join(', ')}; rerun on a quiet machine.`,
  );
}
out.push('');
out.push(`Command: \`${command}\``);
console.log(out.join('\n'));
process.exit(0);
