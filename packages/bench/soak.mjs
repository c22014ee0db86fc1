// Soak: memory of an echo server under many connections with churn, over minutes, side by side:
// fullduplex on Node, Bun and Deno (examples/echo/*) and ws on Node, Bun.serve, Deno.serve.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:soak [flags]
//   node packages/bench/soak.mjs [flags]
//
//   --runtime LIST          comma-separated servers, run one after the other, of node, bun, deno,
//                           ws, bun-native, deno-native (default: all six)
//   --connections N         connections open at once (default 10000)
//   --duration S            seconds from all open until closing them all (default 300)
//   --replace-every S       seconds between replacements (default 10)
//   --replace-fraction F    share of the open connections closed and replaced each time (default 0.25)
//   --interval MS           each connection sends one message every MS milliseconds (default 1000)
//   --size N                text message size in bytes (default 16)
//   --ping                  send pings (answered by pongs) instead of text messages (echoed)
//   --close-timeout S       seconds a closing connection waits for the server's close (default 10)
//   --warmup S              seconds after all open before the steady part starts (default 60)
//   --settle S              seconds to keep sampling after all closed (default 10)
//   --json FILE             write every run (config, RSS series, summary, generator totals) as JSON
//   --svg FILE              write an SVG line chart of the RSS series
//   --no-pin                do not pin server and load generator to separate CPUs with taskset
//
// Per server: start it (PORT=0, no permessage-deflate; lib/gc-on-signal.mjs preloaded); read its
// settled RSS (baseline); run soak-load.mjs on the other CPU: raw node:net sockets, N opened at
// most 256 handshakes at a time, each sending one message per interval (one timer for the whole
// process), every --replace-every seconds a random share closed with a close handshake and as
// many opened, each closing one checking that every message it sent was answered before the
// server's close frame; after --duration all close. The server's VmRSS is sampled every second
// from /proc throughout and --settle seconds after. Summary: RSS over the steady part (from
// --warmup until closing: min, max, least-squares slope in MiB per minute), peak (VmHWM), RSS after
// all closed and after full GCs then (SIGUSR2), each against the baseline, and the JS heap used
// after full GCs at the baseline and once all closed; server and generator
// CPU over the steady part; messages sent and unanswered, connections opened, close timeouts.
// Prints a markdown table, the load average and the command line; progress goes to stderr.
// About duration + 40 s per server.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  canPin,
  childProcesses,
  commandLine,
  fmt,
  loadAverage,
  pct,
  positive,
  printHelp,
  usage,
} from './lib/measure.mjs';
import { runtimeVersion, SERVERS, serverKeys } from './lib/servers.mjs';
import { runSoak, soakSvg } from './lib/soak.mjs';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'node,bun,deno,ws,bun-native,deno-native' },
    connections: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '300' },
    'replace-every': { type: 'string', default: '10' },
    'replace-fraction': { type: 'string', default: '0.25' },
    interval: { type: 'string', default: '1000' },
    size: { type: 'string', default: '16' },
    ping: { type: 'boolean', default: false },
    'close-timeout': { type: 'string', default: '10' },
    warmup: { type: 'string', default: '60' },
    settle: { type: 'string', default: '10' },
    json: { type: 'string' },
    svg: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printHelp(import.meta.url);

const keys = serverKeys(values.runtime, 'echo');
const fraction = Number(values['replace-fraction']);
if (!(fraction >= 0 && fraction <= 1)) usage('--replace-fraction must be between 0 and 1');
const config = {
  connections: positive(values, 'connections', true),
  duration: positive(values, 'duration', false),
  replaceEvery: positive(values, 'replace-every', false),
  replaceFraction: fraction,
  interval: positive(values, 'interval', false),
  size: positive(values, 'size', true),
  ping: values.ping,
  closeTimeout: positive(values, 'close-timeout', false),
  warmup: Number(values.warmup),
  settle: positive(values, 'settle', false),
};
if (!(config.warmup >= 0 && config.warmup < config.duration)) usage('--warmup must be in [0, duration)');

const pin = canPin(values['no-pin']);
const { track, killAll } = childProcesses();
const placement = pin ? { serverCpu: String(cpus().length - 1), loadCpu: '0' } : {};

const loadAtStart = loadAverage();
const started = performance.now();
const runs = [];
for (const key of keys) {
  console.error(`${SERVERS[key].label}: ${fmt(config.connections)} connections for ${config.duration} s`);
  try {
    const run = await runSoak(key, {
      ...config,
      ...placement,
      track,
      onLine: (line) => {
        if (line.startsWith('replaced ') || line.startsWith('open ') || line.startsWith('closed ')) {
          console.error(`  ${line}  [load ${loadAverage()}]`);
        }
      },
    });
    runs.push(run);
    const s = run.summary;
    console.error(
      `  baseline ${s.baseline.toFixed(1)} MiB, steady ${s.steady?.min.toFixed(1)} – ${s.steady?.max.toFixed(1)} MiB` +
        ` (${s.steady?.slopePerMinute.toFixed(2)} MiB/min), after all closed ${s.afterClose.toFixed(1)} MiB`,
    );
  } catch (error) {
    console.error(`${SERVERS[key].label}: ${error.message}`);
    killAll();
    process.exit(1);
  }
}
const loadAtEnd = loadAverage();

const mib = (x) => (x === undefined ? 'n/a' : x.toFixed(1));
const delta = (x, base) => `${x >= base ? '+' : '−'}${Math.abs(x - base).toFixed(1)}`;
const runtimes = [...new Set(keys.map((key) => SERVERS[key].runtime))].map(runtimeVersion);
const command = commandLine(import.meta.url, { filter: '@fullduplex/bench', scripts: { 'bench:soak': [] } });
const c = config;

const out = [];
out.push(
  `### Soak: ${fmt(c.connections)} connections, ${Math.round(c.replaceFraction * 100)} % replaced every ${c.replaceEvery} s, ` +
    `each sending ${c.ping ? 'a ping' : `${c.size} B`} every ${c.interval / 1000} s, for ${c.duration} s`,
);
out.push('');
out.push(
  '| server | baseline MiB | steady RSS min – max MiB | slope MiB/min | peak MiB | after all closed MiB (vs baseline) | after GC MiB (vs baseline) | JS heap after GC MiB, baseline → all closed | server CPU | generator CPU | messages sent / unanswered | connections opened | close timeouts | server fds before → after | SIGTERM |',
);
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const run of runs) {
  const s = run.summary;
  const t = run.totals;
  out.push(
    `| ${SERVERS[run.key].ours ? `**${run.label}**` : run.label} | ${mib(s.baseline)} | ${mib(s.steady?.min)} – ${mib(s.steady?.max)} | ${s.steady ? s.steady.slopePerMinute.toFixed(2) : 'n/a'} | ${mib(s.peak)} | ${mib(s.afterClose)} (${delta(s.afterClose, s.baseline)}) | ${mib(s.afterGc)} (${delta(s.afterGc, s.baseline)}) | ${mib(s.heapBaseline)} → ${mib(s.heapAfterClose)} | ${pct(s.serverCpu)} | ${pct(s.loadCpu)} | ${fmt(t.sent)} / ${fmt(t.unanswered)} | ${fmt(t.opened)} | ${fmt(t.closeTimeouts)} | ${s.fdsBaseline} → ${s.fdsAfterClose} | ${s.exit.clean ? 'clean' : `exit ${s.exit.signal ?? s.exit.code}`} |`,
  );
}
out.push('');
out.push(
  `Steady part: from ${c.warmup} s after all connections were open until the closing began; slope by least squares over its 1-s RSS samples. ` +
    'RSS is VmRSS from /proc; baseline is the settled RSS before any connection; "after all closed" is read ' +
    `${c.settle} s after the last close, "after GC" after full GCs in the server (lib/gc-on-signal.mjs, SIGUSR2) and settling. ` +
    'Generator: soak-load.mjs, raw node:net sockets; a message is unanswered if its echo (or pong) had not arrived when the server’s close frame did. ' +
    `${runtimes.join(', ')}; ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
    (pin
      ? `server pinned to CPU ${placement.serverCpu}, generator to CPU ${placement.loadCpu}`
      : 'no CPU pinning') +
    `; all on 127.0.0.1; load average ${loadAtStart} at start, ${loadAtEnd} at the end; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
const failures = runs.filter(
  (r) => r.totals.unanswered || r.totals.closedEarly || r.totals.handshakeFailures,
);
if (failures.length) {
  out.push(
    `Problems: ${failures.map((r) => `${r.label}: ${r.totals.unanswered} unanswered, ${r.totals.closedEarly} closed early, ${r.totals.handshakeFailures} failed handshakes (${r.totals.errors.join('; ')})`).join('; ')}.`,
  );
}
out.push('');
out.push(`Command: \`${command}\``);
console.log(out.join('\n'));

if (values.json) {
  const data = {
    benchmark: 'soak',
    command,
    date: new Date().toISOString(),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    cpus: cpus().length,
    pinned: pin,
    config,
    runtimes,
    runs,
  };
  writeFileSync(values.json, `${JSON.stringify(data, null, 2)}\n`);
  console.error(`wrote ${values.json}`);
}
if (values.svg) {
  writeFileSync(values.svg, soakSvg(runs));
  console.error(`wrote ${values.svg}`);
}
process.exit(0);
