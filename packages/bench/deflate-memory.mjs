// Memory per idle permessage-deflate connection: fullduplex against ws, on Node.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:deflate:memory [flags]
//   node packages/bench/deflate-memory.mjs [flags]
//
//   --connections N   connections per run (default 10000)
//   --runs N          runs per server variant; medians are reported (default 3)
//   --size N          bytes of the one compressible text message each connection exchanges (default 4096)
//
// Four server variants, each in its own child process (`node --expose-gc`, with mem-probe.mjs
// preloaded so the servers stay unmodified):
//   ours, context takeover      examples/echo/node.mjs, DEFLATE=1
//   ours, no context takeover   fd-echo-server.mjs, DEFLATE=1 DEFLATE_NO_CONTEXT_TAKEOVER=1
//                               (server_ and client_no_context_takeover imposed on every client)
//   ws, context takeover        ws-echo-server.mjs, DEFLATE=1 (`perMessageDeflate: true`)
//   ws, no context takeover     ws-echo-server.mjs, DEFLATE=1 DEFLATE_NO_CONTEXT_TAKEOVER=1
// One run: start the server; warm it up (50 connections, one message each, closed); measure;
// open N connections from a client process (deflate-memory-client.mjs, a minimal client on
// node:net that offers `permessage-deflate; client_max_window_bits` like ws and browsers and
// holds no zlib state itself; all on 127.0.0.1; each must negotiate deflate);
// measure; have each connection exchange one compressible message (so zlib contexts exist where
// the server keeps them) and sit idle; measure; kill client and server. "Measure" = three full
// GCs in the server, then its VmRSS (/proc/self/status). Servers and clients run under
// `ulimit -n 65536`. Variants alternate within each run. Prints a markdown table of medians per
// connection, and the command line. About 2 minutes with the defaults on 2 CPUs.
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childProcesses, commandLine, loadAverage, median, sleep } from './lib/measure.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: '4096' },
  },
});
const N = Number(values.connections);
const RUNS = Number(values.runs);
const SIZE = Number(values.size);
for (const [name, value] of [
  ['connections', N],
  ['runs', RUNS],
  ['size', SIZE],
]) {
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

const VARIANTS = [
  {
    key: 'ours-takeover',
    label: 'fullduplex, context takeover',
    script: here('../../examples/echo/node.mjs'),
    env: { DEFLATE: '1' },
  },
  {
    key: 'ours-no-takeover',
    label: 'fullduplex, no context takeover',
    script: here('./fd-echo-server.mjs'),
    env: { DEFLATE: '1', DEFLATE_NO_CONTEXT_TAKEOVER: '1' },
  },
  {
    key: 'ws-takeover',
    label: 'ws, context takeover',
    script: here('./ws-echo-server.mjs'),
    env: { DEFLATE: '1' },
  },
  {
    key: 'ws-no-takeover',
    label: 'ws, no context takeover',
    script: here('./ws-echo-server.mjs'),
    env: { DEFLATE: '1', DEFLATE_NO_CONTEXT_TAKEOVER: '1' },
  },
];

// ------------------------------------------------------------------ processes

const { track, killAll } = childProcesses();

/** Spawns `node <args>` under a raised descriptor limit; stdout is read line by line. */
function launch(args, env = {}) {
  const child = track(
    spawn(
      'bash',
      [
        '-c',
        'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"',
        process.execPath,
        ...args,
      ],
      { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const index = waiters.findIndex((w) => w.pattern.test(line));
    if (index === -1) {
      lines.push(line);
      return;
    }
    const [waiter] = waiters.splice(index, 1);
    waiter.resolve(line);
  });
  let exited = false;
  child.once('exit', (code, signal) => {
    exited = true;
    for (const waiter of waiters.splice(0)) {
      waiter.reject(
        new Error(`${args.at(-1)} exited (${signal ?? code}) while waiting for ${waiter.pattern}`),
      );
    }
  });
  /** Resolves with the next stdout line matching `pattern`. */
  const waitFor = (pattern, timeoutMs = 60_000) => {
    const index = lines.findIndex((line) => pattern.test(line));
    if (index !== -1) return Promise.resolve(lines.splice(index, 1)[0]);
    if (exited) return Promise.reject(new Error(`${args.at(-1)} has exited`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
      waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  };
  const send = (command) => child.stdin.write(`${command}\n`);
  const exit = () => new Promise((resolve) => (exited ? resolve() : child.once('exit', () => resolve())));
  return { child, waitFor, send, exit };
}

async function startServer(variant) {
  const server = launch(['--expose-gc', '--import', here('./mem-probe.mjs'), variant.script], {
    ...variant.env,
    PORT: '0',
  });
  const line = await server.waitFor(/listening on \d+/, 10_000);
  const port = Number(/listening on (\d+)/.exec(line)[1]);
  return { ...server, url: `ws://127.0.0.1:${port}` };
}

async function measure(server) {
  server.send('measure');
  const line = await server.waitFor(/^mem /, 30_000);
  const report = JSON.parse(line.slice(4));
  if (!report.gc) throw new Error('the server has no gc(): --expose-gc missing');
  return report;
}

async function startClient(url, connections) {
  const client = launch([
    here('./deflate-memory-client.mjs'),
    '--url',
    url,
    '--connections',
    String(connections),
    '--size',
    String(SIZE),
  ]);
  await client.waitFor(/^connected /, 120_000);
  return client;
}

async function exchange(client) {
  client.send('exchange');
  await client.waitFor(/^exchanged /, 120_000);
}

async function closeClient(client) {
  client.send('close');
  await client.waitFor(/^closed$/, 30_000).catch(() => {});
  await client.exit();
}

async function run(variant) {
  const server = await startServer(variant);
  let client;
  try {
    const warm = await startClient(server.url, 50);
    await exchange(warm);
    await closeClient(warm);
    await sleep(200);
    const base = await measure(server);
    client = await startClient(server.url, N);
    await sleep(300);
    const connected = await measure(server);
    await exchange(client);
    await sleep(500); // idle: let anything asynchronous settle
    const idle = await measure(server);
    return {
      connected: (connected.vmRss - base.vmRss) / N,
      idle: (idle.vmRss - base.vmRss) / N,
      base: base.vmRss,
    };
  } finally {
    // Nothing is measured after this: no need for 10,000 closing handshakes.
    client?.child.kill('SIGKILL');
    server.child.kill('SIGKILL');
    await Promise.all([client?.exit(), server.exit()]);
  }
}

// ------------------------------------------------------------------ main

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

const command = commandLine(import.meta.url, {
  filter: '@fullduplex/bench',
  scripts: { 'bench:deflate:memory': [] },
});
const loadAtStart = loadAverage();
const started = performance.now();
const results = Object.fromEntries(VARIANTS.map((v) => [v.key, []]));
try {
  for (let r = 0; r < RUNS; r++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
    for (const variant of order) {
      const result = await run(variant);
      results[variant.key].push(result);
      console.error(
        `run ${r + 1}/${RUNS} ${variant.label.padEnd(32)} RSS per connection: connected ${kib(result.connected)}, idle after one message ${kib(result.idle)} (baseline ${mib(result.base)})`,
      );
    }
  }
} catch (error) {
  console.error(error.stack ?? error.message);
  killAll();
  process.exit(1);
}

const out = [];
out.push(
  `### Memory per idle permessage-deflate connection (${N.toLocaleString('en-US')} connections, server RSS)`,
);
out.push('');
out.push(
  '| server | RSS / connection, idle after one compressed message each way | RSS / connection, connected, no message yet |',
);
out.push('|---|--:|--:|');
for (const variant of VARIANTS) {
  const rs = results[variant.key];
  out.push(
    `| ${variant.label} | **${kib(median(rs.map((r) => r.idle)))}** | ${kib(median(rs.map((r) => r.connected)))} |`,
  );
}
out.push('');
for (const variant of VARIANTS) {
  out.push(
    `${variant.label}, per run (RSS / connection after the message): ${results[variant.key].map((r) => kib(r.idle)).join(', ')}.`,
  );
}
out.push('');
out.push(
  `Medians of ${RUNS} runs per variant (variants alternating). Each connection sent one ${SIZE}-byte compressible text message and got its echo, then sat idle; ` +
    'the server ran three full GCs (node --expose-gc) before each reading of VmRSS; deltas are against a reading after a 50-connection warm-up. ' +
    'Client: deflate-memory-client.mjs (node:net, offers `permessage-deflate; client_max_window_bits`) in its own process, all on 127.0.0.1. ' +
    `Node ${process.version}, ${cpus().length} CPUs; load average at start ${loadAtStart}; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
out.push('');
out.push(`Command: \`${command}\``);
console.log(out.join('\n'));
process.exit(0);
