// Hostile peers against real server processes: fullduplex on Node, Bun and Deno, and for comparison
// ws, Bun.serve and Deno.serve, with the same attacks as the hostile-peer tests, longer.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:hostile [flags]
//   node packages/bench/hostile-report.mjs [flags]
//
//   --wait S          how long a flood lasts at most, waiting for the server to close or reset it
//                     (default 15; a server that stops reading may close such a peer only through
//                     its heartbeat: give that time, e.g. 75), and the least a half-open connection
//                     is held (at least 13, past the 10 s handshake timeout)
//   --servers LIST    comma-separated keys (default all): fd-node, fd-bun, fd-deno, ws, bun-serve,
//                     deno-serve
//   --attacks LIST    comma-separated (default all): ping-flood, pong-flood, never-reading-small,
//                     never-reading-large, half-open, reset-storm, idle, bombs
//   --rss-cap MIB     growth past which a server's attacker is killed (default 3072)
//
// Each run starts the server fresh (PORT=0; DEFLATE=1 for bombs, which skip servers without
// permessage-deflate) on its real runtime binary, preloaded with testkit's gc-on-signal.mjs (full
// GCs on SIGUSR2; the servers' code is untouched); warms it up with ordinary echo traffic; takes
// its baseline RSS after full GCs; runs the attacker (testkit/src/hostile/attacker.mjs on Node,
// 127.0.0.1 only) while reading its RSS from /proc every 50 ms; probes with a fresh client during
// floods and after every attack; then reads its RSS after full GCs until it is back within 80 MiB
// of the baseline or 10 s passed. Prints a markdown table and the command line; progress goes to
// stderr. About 15 minutes with the defaults on 2 CPUs.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { BUN, DENO, killAll, measureAttack, serverCommand } from '../testkit/src/hostile/harness.mjs';
import { commandLine, fmt, loadAverage, positive, printHelp, usage } from './lib/measure.mjs';

const MiB = 1024 * 1024;

const SERVERS = [
  { key: 'fd-node', label: 'fullduplex, Node', runtime: 'node', script: 'examples/echo/node.mjs' },
  { key: 'fd-bun', label: 'fullduplex, Bun', runtime: 'bun', script: 'examples/echo/bun.ts' },
  { key: 'fd-deno', label: 'fullduplex, Deno', runtime: 'deno', script: 'examples/echo/deno.ts' },
  { key: 'ws', label: 'ws, Node', runtime: 'node', script: 'packages/bench/ws-echo-server.mjs' },
  {
    key: 'bun-serve',
    label: 'Bun.serve',
    runtime: 'bun',
    script: 'packages/bench/bun-native-echo-server.mjs',
  },
  {
    key: 'deno-serve',
    label: 'Deno.serve',
    runtime: 'deno',
    script: 'packages/bench/deno-native-echo-server.ts',
    noDeflate: true,
  },
];

const { values } = parseArgs({
  options: {
    wait: { type: 'string', default: '15' },
    servers: { type: 'string', default: SERVERS.map((s) => s.key).join(',') },
    attacks: {
      type: 'string',
      default:
        'ping-flood,pong-flood,never-reading-small,never-reading-large,half-open,reset-storm,idle,bombs',
    },
    'rss-cap': { type: 'string', default: '3072' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printHelp(import.meta.url);
const waitMs = positive(values, 'wait', false) * 1000;
const rssCap = positive(values, 'rss-cap', false) * MiB;

const floodPlan = { params: { durationMs: waitMs, drainMs: 3000 }, probeDuring: true };
const PLANS = {
  'ping-flood': { what: 'ping flood, never reading', ...floodPlan },
  'pong-flood': { what: 'unsolicited pong flood', ...floodPlan },
  'never-reading-small': { what: 'never reading, 16 B echoes', ...floodPlan },
  'never-reading-large': { what: 'never reading, 1 MiB echoes', ...floodPlan },
  'half-open': {
    what: 'half-open: 2000 part heads, 2000 silent, 2000 upgraded',
    params: { partialHead: 2000, silent: 2000, upgraded: 2000, durationMs: Math.max(13_000, waitMs) },
  },
  'reset-storm': {
    what: 'reset storm, 2000 connections/s for 10 s',
    params: { durationMs: 10_000, ratePerSecond: 2000, probeIntervalMs: 200 },
  },
  idle: { what: '5000 idle connections', params: { connections: 5000, durationMs: 5000 } },
  bombs: {
    what: '16 parallel bombs, 80 MiB of zeros each',
    params: { connections: 16, inflatedBytes: 80 * MiB, timeoutMs: 30_000 },
    deflate: true,
  },
};

const pick = (list, known, what) => {
  const keys = list.split(',').filter(Boolean);
  for (const key of keys)
    if (!known.includes(key)) usage(`unknown ${what} ${key}; known: ${known.join(', ')}`);
  return keys;
};
const servers = pick(
  values.servers,
  SERVERS.map((s) => s.key),
  'server',
).map((key) => SERVERS.find((s) => s.key === key));
const attacks = pick(values.attacks, Object.keys(PLANS), 'attack');

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

// ------------------------------------------------------------------ cells

const mib = (bytes) => `${fmt(bytes / MiB)} MiB`;
const signed = (bytes) => `${bytes < 0 ? '−' : '+'}${mib(Math.abs(bytes))}`;
const seconds = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

function peakCell(m, attack) {
  let cell = signed(m.peakGrowth);
  if (m.capped) cell += ` (RSS cap, attacker killed at ${seconds(m.cappedAfterMs)})`;
  const connections = attack === 'idle' ? 5000 : attack === 'half-open' ? 6000 : undefined;
  if (connections !== undefined && m.heldGrowth !== undefined) {
    cell += `; held ${signed(m.heldGrowth)}, ${fmt(m.heldGrowth / connections / 1024)} KiB/conn`;
  }
  return cell;
}

/** The error a dead server printed, in a few words. */
function deathCell(m) {
  const line = m.stderr.split('\n').find((l) => /\b\w*Error\b|panic|error:/i.test(l));
  return line ? `server died: ${line.trim().slice(0, 80)}` : 'server died';
}

function afterCell(m) {
  if (!m.alive) return deathCell(m);
  if (m.settled === undefined || Number.isNaN(m.settled.growth)) return 'not measured';
  return `${signed(m.settled.growth)}${m.settled.reached ? '' : ` after ${seconds(m.settled.afterMs)}`}`;
}

function floodCloseCell(m) {
  const o = m.result.observed ?? {};
  const floodMs = m.result.floodMs ?? m.attackMs;
  const code = o.closeCode !== null && o.closeCode !== undefined ? `close ${o.closeCode}` : '';
  if (o.closedAfterMs !== null && o.closedAfterMs !== undefined && o.closedAfterMs <= floodMs + 100) {
    return [`${o.closedBy} after ${seconds(o.closedAfterMs)}`, code].filter(Boolean).join(', ');
  }
  const open = `not closed within ${seconds(floodMs)}${m.capped ? ' (cut short)' : ''}`;
  // A peer that never reads sees the close frame only when it drains, after the flood.
  return code ? `${open}; ${code} read afterwards` : open;
}

function halfOpenCloseCell(m) {
  const groups = m.result.groups;
  if (!groups) return m.result.error ?? 'no result';
  const held = seconds(m.result.heldMs ?? 0);
  const cell = (name, g) => {
    if (g.closedByServer === 0) return `${name}: none of ${fmt(g.opened)} closed in ${held}`;
    const statuses = Object.entries({ ...g.statuses, ...g.closeCodes })
      .map(([status, n]) => `${status} ×${fmt(n)}`)
      .join(', ');
    const at = g.closedAfterMs ? ` at ${seconds(g.closedAfterMs.median)}` : '';
    return `${name}: ${fmt(g.closedByServer)}/${fmt(g.opened)} closed${at}${statuses ? ` (${statuses})` : ''}`;
  };
  return [
    cell('part head', groups.partialHead),
    cell('silent', groups.silent),
    cell('upgraded', groups.upgraded),
  ].join('; ');
}

function closeCell(m, attack) {
  const o = m.result.observed ?? {};
  switch (attack) {
    case 'half-open':
      return halfOpenCloseCell(m);
    case 'reset-storm':
      return `${fmt(m.result.sent?.reset ?? 0)} resets`;
    case 'idle':
      return `${fmt(o.closedByServer ?? 0)}/${fmt(o.open ?? 0)} closed in ${seconds(m.result.params?.durationMs ?? 0)}`;
    case 'bombs': {
      const codes = Object.entries(o.closeCodes ?? {})
        .map(([code, n]) => `${code} ×${n}`)
        .join(', ');
      const at = o.closeFrameAfterMs
        ? ` at ${seconds(o.closeFrameAfterMs.min)}–${seconds(o.closeFrameAfterMs.max)}`
        : '';
      const open = o.notClosed ? `, ${o.notClosed} not closed in 30 s` : '';
      return `${codes || 'no close frame'}${at}${open}`;
    }
    default:
      return floodCloseCell(m);
  }
}

function probeText(observation) {
  if (!observation) return 'not probed';
  if (observation.failed === 0 && observation.maxLatencyMs !== null)
    return `${fmt(observation.maxLatencyMs)} ms`;
  const error = observation.probes.find((p) => !p.ok)?.error ?? observation.error ?? 'failed';
  return `no (${error})`;
}

function clientCell(m, attack) {
  const parts = [];
  if (attack === 'reset-storm') {
    const p = m.result.probe?.observed;
    parts.push(
      p
        ? `during: ${p.served}/${p.probes.length} served, max ${p.maxLatencyMs === null ? '–' : `${fmt(p.maxLatencyMs)} ms`}`
        : `during: ${m.result.probe?.error ?? 'no result'}`,
    );
  } else if (m.during) {
    parts.push(`during: ${probeText(m.during)}`);
  }
  parts.push(`after: ${m.alive ? probeText(m.after) : 'server died'}`);
  return parts.join('; ');
}

const cpuCell = (m) =>
  `${Number.isNaN(m.cpuSeconds) ? '?' : m.cpuSeconds.toFixed(1)} s in ${seconds(m.attackMs)}`;

// ------------------------------------------------------------------ runs

function versionLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

const loadBefore = loadAverage();
const started = Date.now();
const rows = [];
for (const attack of attacks) {
  const plan = PLANS[attack];
  for (const server of servers) {
    if (plan.deflate && server.noDeflate) continue;
    process.stderr.write(`${attack} against ${server.label} ... `);
    let m;
    try {
      m = await measureAttack({
        server: {
          ...serverCommand(server.runtime, server.script),
          env: plan.deflate ? { DEFLATE: '1' } : {},
          label: server.label,
        },
        attack,
        params: plan.params,
        probeDuring: plan.probeDuring,
        timeoutMs: Math.max(waitMs, plan.params.durationMs ?? 0) + 60_000,
        rssCap,
        returnMargin: 80 * MiB,
        returnWaitMs: 10_000,
      });
    } catch (error) {
      process.stderr.write(`failed: ${error.message}\n`);
      rows.push([plan.what, server.label, 'failed to run', '', error.message.split('\n')[0], '', '']);
      continue;
    }
    process.stderr.write(`peak ${signed(m.peakGrowth)}, load ${loadAverage()}\n`);
    rows.push([
      plan.what,
      server.label,
      peakCell(m, attack),
      afterCell(m),
      closeCell(m, attack),
      clientCell(m, attack),
      cpuCell(m),
    ]);
  }
}

const header = [
  'attack',
  'server',
  'peak RSS growth',
  'RSS after the attacker left',
  'closed by the server (as observed)',
  'fresh client',
  'server CPU',
];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => ' --- ').join('|')}|`);
for (const row of rows) console.log(`| ${row.map((cell) => cell.replaceAll('|', '/')).join(' | ')} |`);
console.log('');
console.log(
  'RSS growth is over the baseline (after warm-up traffic and full GCs): the peak is the highest VmRSS ' +
    'read every 50 ms (or VmHWM, when that rose during the attack); "after" is read after full GCs once ' +
    'the attacker left (with the time waited when it did not come back within 80 MiB). Idle and ' +
    'half-open: "held" is the growth after full GCs while the connections were open. Closes are what ' +
    "the attacker saw: a flood's connection reset or ended (FIN) by the server, and a close frame read " +
    'afterwards when it never read during the flood. Fresh client: handshake + one 16 B echo, its latency.',
);
console.log('');
console.log(
  `Node ${process.version}, ${versionLine(BUN, ['--version']).replace(/^/, 'Bun ')}, ${versionLine(DENO, ['--version'])}; ` +
    `load average ${loadBefore} before, ${loadAverage()} after; ${fmt((Date.now() - started) / 60_000)} min.`,
);
console.log('');
console.log(
  `Command: \`${commandLine(import.meta.url, { filter: '@fullduplex/bench', scripts: { 'bench:hostile': [] } })}\``,
);
process.exit(0);
