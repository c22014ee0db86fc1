// Broadcast throughput, side by side: fullduplex on Node, Bun and Deno (examples/broadcast/*)
// against ws on Node (ws-broadcast-server.mjs), Bun.serve with its pub/sub
// (bun-native-broadcast-server.mjs) and Deno.serve (deno-native-broadcast-server.ts).
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:broadcast [flags]
//   node packages/bench/broadcast.mjs [flags]
//
//   --receivers N     receiving connections (default 1000)
//   --senders N       sending connections; each also receives the others' messages (default 1)
//   --size N          text message size in bytes (default 16)
//   --window N        messages in flight, over all senders (default 64)
//   --batch N         messages a sender writes at once (default 16)
//   --duration S      measured seconds per run (default 5)
//   --warmup S        seconds of load before measuring (default 2)
//   --rounds N        rounds; each runs every server, alternating the order (default 3)
//   --servers LIST    comma-separated subset of node,ws,bun,bun-native,deno,deno-native (default: all)
//   --load node|c     load generator: broadcast-load.mjs on Node (default), or broadcast-load.c
//                     compiled with the machine's cc into a temporary directory (for servers the
//                     Node one cannot keep up with; same protocol and output)
//   --json FILE       also write every run as JSON
//   --no-pin          do not pin servers and load generator to separate CPUs with taskset
//
// Each server runs in its own process on one CPU (PORT=0, no permessage-deflate), started once;
// each run is a fresh load-generator process on the other CPU, the same one for every server:
// raw TCP sockets that scan frame headers and count messages (never decode them), with a sender
// that keeps a bounded window of messages in flight (it writes the next batch once enough of the
// earlier ones have reached every connection), so the server stays saturated and its queues stay
// small. A delivery is one message arriving on one connection; deliveries/s counts all of them
// over the measured window. CPU columns are process CPU time (/proc) over the window; "others on
// the server's / generator's CPU" is what the rest of the machine used of those CPUs meanwhile
// (user, system and irq time; other work on a shared machine slows both). Prints a markdown table (medians; ratios to ws on Node and,
// for ours on Bun and Deno, to that runtime's own server), the load average and the command line;
// progress goes to stderr. A run fails if messages are lost.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { compileLoadGenerator } from './lib/compile-c.mjs';
import {
  canPin,
  childProcesses,
  commandLine,
  cpuBusySeconds,
  cpuSeconds,
  fmt,
  loadAverage,
  median,
  pct,
  positive,
  printHelp,
  usage,
} from './lib/measure.mjs';
import { launch, NODE, runtimeVersion, SERVERS, serverKeys, startServer } from './lib/servers.mjs';

const { values } = parseArgs({
  options: {
    receivers: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '1' },
    size: { type: 'string', default: '16' },
    window: { type: 'string', default: '64' },
    batch: { type: 'string', default: '16' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    servers: { type: 'string', default: 'node,ws,bun,bun-native,deno,deno-native' },
    load: { type: 'string', default: 'node' },
    json: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printHelp(import.meta.url);

const config = {
  receivers: positive(values, 'receivers', true),
  senders: positive(values, 'senders', true),
  size: positive(values, 'size', true),
  window: positive(values, 'window', true),
  batch: positive(values, 'batch', true),
  duration: positive(values, 'duration', false),
  warmup: positive(values, 'warmup', false),
  rounds: positive(values, 'rounds', true),
};
if (config.batch > config.window) usage('--batch must not exceed --window');
if (config.size > 125) usage('--size must be at most 125 (one short frame)');
if (values.load !== 'node' && values.load !== 'c') usage(`--load must be node or c, got ${values.load}`);
const keys = serverKeys(values.servers, 'broadcast');

const pin = canPin(values['no-pin']);
const serverCpu = pin ? String(cpus().length - 1) : undefined;
const loadCpu = pin ? '0' : undefined;
const { track, killAll } = childProcesses();

/** The load generator: [command, leading args, label]. */
function loadGenerator() {
  if (values.load === 'node') {
    return [NODE, ['packages/bench/broadcast-load.mjs'], `broadcast-load.mjs on ${runtimeVersion('node')}`];
  }
  const { binary, label } = compileLoadGenerator(new URL('./broadcast-load.c', import.meta.url));
  return [binary, [], label];
}
const [loadCommand, loadArgs, loadLabel] = loadGenerator();

/** One load run against `server`: its result line plus CPU shares over the measured window. */
async function run(server) {
  const args = [
    ...loadArgs,
    '--port',
    String(server.port),
    ...Object.entries(config)
      .filter(([k]) => k !== 'rounds')
      .flatMap(([k, v]) => [`--${k}`, String(v)]),
  ];
  const generator = launch(track, loadCpu, loadCommand, args);
  const sample = () => ({
    server: cpuSeconds(server.pid),
    load: cpuSeconds(generator.pid),
    serverBusy: serverCpu !== undefined ? cpuBusySeconds(serverCpu) : undefined,
    loadBusy: loadCpu !== undefined ? cpuBusySeconds(loadCpu) : undefined,
  });
  const timeout = (config.warmup + 60) * 1000;
  await generator.lines.next(/^start$/, timeout);
  const a = sample();
  await generator.lines.next(/^stop$/, (config.duration + 10) * 1000);
  const b = sample();
  const result = JSON.parse(await generator.lines.next(/^\{/, 30_000));
  const share = (key) =>
    a[key] !== undefined && b[key] !== undefined ? (b[key] - a[key]) / result.seconds : undefined;
  const serverShare = share('server');
  const loadShare = share('load');
  const others = (busy, own) =>
    busy !== undefined && own !== undefined ? Math.max(0, busy - own) : undefined;
  if (result.lost > 0 || result.errors.length > 0) {
    throw new Error(`${server.label}: ${result.lost} deliveries lost ${JSON.stringify(result.errors)}`);
  }
  return {
    ...result,
    serverCpu: serverShare,
    loadCpu: loadShare,
    others: others(share('serverBusy'), serverShare),
    othersOnLoad: others(share('loadBusy'), loadShare),
  };
}

const loadAtStart = loadAverage();
const started = performance.now();
const running = [];
const results = Object.fromEntries(keys.map((key) => [key, []]));
try {
  for (const key of keys) running.push(await startServer(track, key, 'broadcast', { cpu: serverCpu }));
  for (let round = 0; round < config.rounds; round++) {
    for (const server of round % 2 === 0 ? running : [...running].reverse()) {
      const r = await run(server);
      results[server.key].push(r);
      console.error(
        `round ${round + 1}/${config.rounds} ${server.label.padEnd(20)} ${fmt(r.rate).padStart(10)} deliveries/s` +
          `  server CPU ${pct(r.serverCpu)}, generator CPU ${pct(r.loadCpu)}, others on their CPUs ${pct(r.others)} / ${pct(r.othersOnLoad)}` +
          `  [load ${loadAverage()}]`,
      );
    }
  }
} catch (error) {
  console.error(error.message);
  killAll();
  process.exit(1);
}
const exits = await Promise.all(running.map((server) => server.stop()));
const loadAtEnd = loadAverage();

const defined = (xs) => xs.filter((x) => x !== undefined);
const medianOf = (xs) => (defined(xs).length ? median(defined(xs)) : undefined);
const summary = Object.fromEntries(
  keys.map((key, i) => {
    const rs = results[key];
    const rates = rs.map((r) => r.rate);
    return [
      key,
      {
        label: SERVERS[key].label,
        rate: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        serverCpu: medianOf(rs.map((r) => r.serverCpu)),
        loadCpu: medianOf(rs.map((r) => r.loadCpu)),
        maxLoadCpu: Math.max(...defined(rs.map((r) => r.loadCpu))),
        others: medianOf(rs.map((r) => r.others)),
        othersOnLoad: medianOf(rs.map((r) => r.othersOnLoad)),
        perCpu: medianOf(rs.map((r) => (r.serverCpu ? r.rate / r.serverCpu : undefined))),
        exit: exits[i],
      },
    ];
  }),
);

const ratio = (a, b, field = 'rate') =>
  summary[a]?.[field] && summary[b]?.[field] ? `${(summary[a][field] / summary[b][field]).toFixed(2)}×` : '';
const nativeOf = { bun: 'bun-native', deno: 'deno-native' };
const command = commandLine(import.meta.url, {
  filter: '@fullduplex/bench',
  scripts: { 'bench:broadcast': [] },
});
const runtimes = [...new Set(keys.map((key) => SERVERS[key].runtime))].map(runtimeVersion);
const { receivers, senders, size } = config;

const out = [];
out.push(
  `### Broadcast: ${size} B text messages from ${senders} sender${senders > 1 ? 's' : ''} to ${fmt(receivers)} receivers (fan-out ${fmt(receivers + senders - 1)})`,
);
out.push('');
out.push(
  '| server | deliveries/s | min – max | server CPU | deliveries per server CPU-second | generator CPU | others on the server’s / generator’s CPU | vs ws on Node | vs own runtime’s server |',
);
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const key of keys) {
  const s = summary[key];
  const native = nativeOf[key];
  out.push(
    `| ${SERVERS[key].ours ? `**${s.label}**` : s.label} | ${fmt(s.rate)} | ${fmt(s.min)} – ${fmt(s.max)} | ${pct(s.serverCpu)} | ${s.perCpu ? fmt(s.perCpu) : 'n/a'} | ${pct(s.loadCpu)} | ${pct(s.others)} / ${pct(s.othersOnLoad)} | ${ratio(key, 'ws')} | ${native ? ratio(key, native) : ''} |`,
  );
}
out.push('');
const perCpuRatios = ['node', 'bun', 'deno']
  .filter((k) => summary[k])
  .map((k) => {
    const peer = SERVERS[k].peer;
    return summary[peer]
      ? `${SERVERS[k].label} ${ratio(k, peer, 'perCpu')} ${summary[peer].label}`
      : undefined;
  })
  .filter(Boolean);
if (perCpuRatios.length) out.push(`Per server CPU-second: ${perCpuRatios.join('; ')}.`);
out.push(
  `Medians of ${config.rounds} rounds alternating server order; each run ${config.warmup} s warm-up + ${config.duration} s measured, ` +
    `window ${config.window} messages in flight, written ${config.batch} at a time. ` +
    `Load generator: ${loadLabel}, a fresh process per run, the same for every server; ` +
    `${runtimes.join(', ')}; ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
    (pin ? `servers pinned to CPU ${serverCpu}, load generator to CPU ${loadCpu}` : 'no CPU pinning') +
    `; all on 127.0.0.1, no permessage-deflate; load average ${loadAtStart} at start, ${loadAtEnd} at the end; ` +
    `took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
const saturated = keys.filter((k) => summary[k].maxLoadCpu > 0.9);
if (saturated.length) {
  out.push(
    `The load generator used over 90 % of its CPU against ${saturated.map((k) => summary[k].label).join(', ')}: ` +
      'those figures may be the generator’s limit, not the server’s (try --load c).',
  );
}
const contended = keys.filter((k) => summary[k].others > 0.1 || summary[k].othersOnLoad > 0.1);
if (contended.length) {
  out.push(
    `Other work used over 10 % of the server’s or the generator’s CPU during ${contended.map((k) => summary[k].label).join(', ')}: rerun on a quiet machine.`,
  );
}
const unclean = keys.filter((k) => !summary[k].exit.clean);
if (unclean.length)
  out.push(`Did not exit cleanly on SIGTERM: ${unclean.map((k) => summary[k].label).join(', ')}.`);
out.push('');
out.push(`Command: \`${command}\``);
console.log(out.join('\n'));

if (values.json) {
  const data = {
    benchmark: 'broadcast',
    command,
    date: new Date().toISOString(),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    cpus: cpus().length,
    pinned: pin,
    config,
    loadGenerator: loadLabel,
    runtimes,
    servers: Object.fromEntries(keys.map((key) => [key, { ...summary[key], runs: results[key] }])),
  };
  writeFileSync(values.json, `${JSON.stringify(data, null, 2)}\n`);
  console.error(`wrote ${values.json}`);
}
process.exit(0);
