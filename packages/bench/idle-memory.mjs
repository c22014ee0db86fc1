// Memory per idle WebSocket connection, side by side: fullduplex on Node, Bun and Deno
// (examples/echo/*) against ws on Node (ws-echo-server.mjs, perMessageDeflate off as ws's server
// default, and on), Bun.serve (bun-native-echo-server.mjs) and Deno.serve
// (deno-native-echo-server.ts).
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:idle [flags]
//   node packages/bench/idle-memory.mjs [flags]
//
//   --connections N   idle connections per server and round (default 10000)
//   --rounds N        rounds; each starts every server afresh, alternating the order (default 3)
//   --servers LIST    comma-separated subset of node,bun,deno,ws,ws-deflate,bun-native,deno-native,
//                     deno-floor (default: all but deno-floor: deno-floor-server.ts, the handshake
//                     and one pending read per connection, what any server on Deno's TCP API holds)
//   --settle S        at most this many seconds for a server to settle before a reading (default 20)
//   --json FILE       also write every reading as JSON
//   --no-pin          do not pin servers and load generator to separate CPUs with taskset
//
// One round per server: start it (PORT=0, DEFLATE off except for ws-deflate); warm it up with 50
// connections opened and closed; wait until it settles; read its VmRSS from /proc (before); open N
// connections from idle-client.mjs (raw node:net sockets that do the handshake, offering
// permessage-deflate as browsers do, and then nothing); wait until the server settles again; read
// its VmRSS (after); check that all N are still open; close them; stop the server with SIGTERM.
// "Settled": over the last 2 s its RSS moved by less than 1 % (and 512 KiB) and it used under 5 %
// of a CPU; after --settle seconds the reading is taken anyway and flagged. No forced GC: RSS as
// the system sees it. Per connection = (after − before) / N; medians over the rounds. Servers run
// on one CPU, the client on the other; all on 127.0.0.1; both sides raise their descriptor limit
// to the hard limit, which must exceed N. Bun and Deno are their real executables ($BUN, $DENO
// override). Prints a markdown table (KiB per connection; ratios to ws on Node and, for ours on
// Bun and Deno, to that runtime's own server), the load average and the command line; progress
// goes to stderr. About 15 s per server and round with the defaults.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  canPin,
  childProcesses,
  commandLine,
  cpuSeconds,
  fmt,
  loadAverage,
  median,
  memoryOf,
  positive,
  printHelp,
  usage,
} from './lib/measure.mjs';
import {
  fdCount,
  launch,
  NODE,
  payloadOf,
  runtimeVersion,
  SERVERS,
  serverKeys,
  settledRss,
  startServer,
} from './lib/servers.mjs';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    servers: { type: 'string', default: 'node,bun,deno,ws,ws-deflate,bun-native,deno-native' },
    settle: { type: 'string', default: '20' },
    json: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printHelp(import.meta.url);

const N = positive(values, 'connections', true);
const ROUNDS = positive(values, 'rounds', true);
const SETTLE = positive(values, 'settle', false);
const keys = serverKeys(values.servers, 'echo');
const hardLimit = Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
if (hardLimit < N + 256) usage(`--connections ${N} needs a descriptor hard limit above ${N + 256}`);

const pin = canPin(values['no-pin']);
const serverCpu = pin ? String(cpus().length - 1) : undefined;
const loadCpu = pin ? '0' : undefined;
const { track, killAll } = childProcesses();
const CLIENT = 'packages/bench/idle-client.mjs';
const MiB = 1024 * 1024;

/** Runs idle-client.mjs against `port` with `connections`; resolves once all are open. */
async function openClients(port, connections, deflate) {
  const args = [CLIENT, '--port', String(port), '--connections', String(connections)];
  const client = launch(track, loadCpu, NODE, deflate ? [...args, '--deflate'] : args);
  const open = payloadOf(await client.lines.next(/^open /, 180_000));
  return { client, open };
}

/** Closes the client's connections and waits for it to exit. */
async function closeClients(client) {
  client.stdin.write('close\n');
  const closed = payloadOf(await client.lines.next(/^closed /, 30_000));
  await new Promise((resolve) => (client.exitCode !== null ? resolve() : client.once('exit', resolve)));
  return closed;
}

/**
 * Two readings of the server's RSS: once settled, then after full GCs and settled again, with its
 * JS heap then.
 */
async function readings(server) {
  const plain = await settledRss(server.pid, SETTLE);
  const heap = await server.collect();
  const gc = await settledRss(server.pid, SETTLE);
  return {
    plain: plain.rss,
    gc: gc.rss,
    heap: heap.heapUsed,
    settled: plain.settled && gc.settled,
    seconds: plain.seconds + gc.seconds,
  };
}

async function oneRound(key) {
  const deflate = SERVERS[key].env?.DEFLATE === '1';
  const server = await startServer(track, key, 'echo', { cpu: serverCpu, gc: true });
  try {
    const warm = await openClients(server.port, 50, deflate);
    await closeClients(warm.client);
    const before = await readings(server);
    const fdsBefore = fdCount(server.pid);

    const { client, open } = await openClients(server.port, N, deflate);
    if (open.connections !== N) throw new Error(`${server.label}: ${open.connections} of ${N} open`);
    const after = await readings(server);
    const fdsAfter = fdCount(server.pid);
    client.stdin.write('status\n');
    const status = payloadOf(await client.lines.next(/^status /, 10_000));
    if (status.open !== N || status.closedEarly > 0) {
      throw new Error(`${server.label} closed ${status.closedEarly} of the idle connections`);
    }
    const loadCpuSeconds = cpuSeconds(client.pid);
    const peak = memoryOf(server.pid)?.peak;
    const closed = await closeClients(client);
    const exit = await server.stop();
    return {
      before,
      after,
      peak,
      perConnection: (after.gc - before.gc) / N,
      perConnectionNoGc: (after.plain - before.plain) / N,
      heapPerConnection: (after.heap - before.heap) / N,
      settled: before.settled && after.settled,
      settleSeconds: after.seconds,
      fdsBefore,
      fdsAfter,
      clientFds: open.fds,
      deflate: open.deflate,
      openSeconds: open.seconds,
      loadCpuSeconds,
      serverPings: status.pings,
      closed,
      exit,
    };
  } finally {
    server.child.kill('SIGKILL');
  }
}

const loadAtStart = loadAverage();
const started = performance.now();
const rounds = Object.fromEntries(keys.map((key) => [key, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) {
      const r = await oneRound(key);
      rounds[key].push(r);
      console.error(
        `round ${round + 1}/${ROUNDS} ${SERVERS[key].label.padEnd(34)} ${(r.perConnection / 1024).toFixed(2).padStart(7)} KiB/conn after GC` +
          ` (${(r.perConnectionNoGc / 1024).toFixed(2)} before)  RSS ${(r.before.gc / MiB).toFixed(1)} → ${(r.after.gc / MiB).toFixed(1)} MiB` +
          `, fds +${r.fdsAfter - r.fdsBefore}, opened in ${r.openSeconds.toFixed(1)} s (client CPU ${r.loadCpuSeconds?.toFixed(1)} s)` +
          `${r.settled ? '' : ', NOT SETTLED'}${r.exit.clean ? '' : `, exit ${r.exit.signal ?? r.exit.code}`}` +
          `  [load ${loadAverage()}]`,
      );
    }
  }
} catch (error) {
  console.error(error.message);
  killAll();
  process.exit(1);
}
const loadAtEnd = loadAverage();

const summary = Object.fromEntries(
  keys.map((key) => {
    const rs = rounds[key];
    const per = rs.map((r) => r.perConnection);
    return [
      key,
      {
        label: SERVERS[key].label,
        runtime: SERVERS[key].runtime,
        kib: median(per) / 1024,
        minKib: Math.min(...per) / 1024,
        maxKib: Math.max(...per) / 1024,
        kibNoGc: median(rs.map((r) => r.perConnectionNoGc)) / 1024,
        heapKib: median(rs.map((r) => r.heapPerConnection)) / 1024,
        before: median(rs.map((r) => r.before.gc)),
        after: median(rs.map((r) => r.after.gc)),
        fds: median(rs.map((r) => r.fdsAfter - r.fdsBefore)),
        clientFds: median(rs.map((r) => r.clientFds)),
        openSeconds: median(rs.map((r) => r.openSeconds)),
        loadCpuSeconds: median(rs.map((r) => r.loadCpuSeconds ?? 0)),
        deflate: median(rs.map((r) => r.deflate)),
        unsettled: rs.filter((r) => !r.settled).length,
        unclean: rs.filter((r) => !r.exit.clean).length,
      },
    ];
  }),
);

const ratio = (a, b, field = 'kib') =>
  summary[a] && summary[b] ? `${(summary[a][field] / summary[b][field]).toFixed(2)}×` : '';
const nativeOf = { node: 'ws', bun: 'bun-native', deno: 'deno-native' };
const command = commandLine(import.meta.url, {
  filter: '@fullduplex/bench',
  scripts: { 'bench:idle': [] },
});
const runtimes = [...new Set(keys.map((key) => SERVERS[key].runtime))].map(runtimeVersion);

const out = [];
out.push(`### Idle memory per WebSocket connection: ${fmt(N)} connections`);
out.push('');
out.push(
  '| server | KiB per connection | min – max | vs ws on Node | vs own runtime’s server | of which JS heap | KiB per connection, no forced GC | vs ws on Node | vs own runtime’s server | RSS before → with N (MiB) | descriptors: server added / client | all open in (client CPU) |',
);
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const key of keys) {
  const s = summary[key];
  const native = SERVERS[key].ours && key !== 'node' ? nativeOf[key] : undefined;
  const label = `${SERVERS[key].ours ? `**${s.label}**` : s.label}${s.deflate ? ` (deflate negotiated on ${fmt(s.deflate)})` : ''}`;
  out.push(
    `| ${label} | ${s.kib.toFixed(2)} | ${s.minKib.toFixed(2)} – ${s.maxKib.toFixed(2)} | ${ratio(key, 'ws')} | ${native ? ratio(key, native) : ''} | ${s.heapKib.toFixed(2)} | ${s.kibNoGc.toFixed(2)} | ${ratio(key, 'ws', 'kibNoGc')} | ${native ? ratio(key, native, 'kibNoGc') : ''} | ${(s.before / MiB).toFixed(1)} → ${(s.after / MiB).toFixed(1)} | ${fmt(s.fds)} / ${fmt(s.clientFds)} | ${s.openSeconds.toFixed(1)} s (${s.loadCpuSeconds.toFixed(1)} s) |`,
  );
}
out.push('');
const flagged = keys.filter((k) => summary[k].unsettled || summary[k].unclean);
out.push(
  `Medians of ${ROUNDS} rounds, a fresh server process each round, server order alternating. ` +
    'Per connection = (server VmRSS with N idle connections − VmRSS before them, after a 50-connection warm-up) / N. ' +
    `Each reading is taken once the server has settled (RSS steady within 1 % over 2 s, under 10 % CPU; at most ${SETTLE} s) ` +
    'and, for the main columns, again after full GCs in the server (lib/gc-on-signal.mjs preloaded, SIGUSR2) and settling; ' +
    '"of which JS heap" is the growth of the heap used after those GCs (process.memoryUsage or Deno.memoryUsage), per connection; ' +
    'RSS as the system sees it either way (a runtime may hand memory back later, or never). ' +
    'Client: idle-client.mjs, raw node:net sockets doing the handshake (offering permessage-deflate) and then nothing; ' +
    `${runtimes.join(', ')}; ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
    (pin ? `servers pinned to CPU ${serverCpu}, client to CPU ${loadCpu}` : 'no CPU pinning') +
    `; all on 127.0.0.1; load average ${loadAtStart} at start, ${loadAtEnd} at the end; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
if (flagged.length > 0) {
  out.push(
    `Flagged: ${flagged.map((k) => `${summary[k].label} (${summary[k].unsettled} readings not settled, ${summary[k].unclean} unclean exits)`).join('; ')}.`,
  );
}
out.push('');
out.push(`Command: \`${command}\``);
console.log(out.join('\n'));

if (values.json) {
  const data = {
    benchmark: 'idle-memory',
    command,
    date: new Date().toISOString(),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    cpus: cpus().length,
    pinned: pin,
    connections: N,
    runtimes,
    servers: Object.fromEntries(keys.map((key) => [key, { ...summary[key], rounds: rounds[key] }])),
  };
  writeFileSync(values.json, `${JSON.stringify(data, null, 2)}\n`);
  console.error(`wrote ${values.json}`);
}
process.exit(0);
