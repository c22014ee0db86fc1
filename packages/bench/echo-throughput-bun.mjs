// Echo throughput on Bun: fullduplex (@fullduplex/bun) against Bun's native WebSocket server
// (`Bun.serve` + `websocket`), side by side.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:echo:bun [flags]
//   node packages/bench/echo-throughput-bun.mjs [flags]
//
//   --size N          message size in bytes (default 64)
//   --connections N   concurrent connections (default 50)
//   --inflight N      messages in flight per connection (default 1: ping-pong)
//   --duration S      measured seconds per run (default 5)
//   --warmup S        seconds of load before measuring (default 1)
//   --rounds N        rounds; each runs both servers, alternating which goes first (default 5)
//   --no-pin          do not pin servers and load generator to separate CPUs with taskset
//   --load bun|c|node load generator (default bun): `bun` is load-bun.mjs, Bun's native WebSocket
//                     client; `c` is echo-load.c, compiled with the machine's cc; `node` is load.mjs,
//                     the npm `ws` client on Node, which saturates its CPU before either Bun server does
//   --bun PATH        the Bun executable (default: $BUN, else packages/bun's `bun` package, else
//                     `bun` on PATH); the real binary, not node_modules/.bin/bun (a shell script that
//                     neither passes signals on nor is the process whose CPU time is measured)
//
// Each echo server runs in its own Bun process (ours: examples/echo/bun.ts; Bun's:
// bun-native-echo-server.mjs here, same contract), and so does the load generator, the same one for
// both servers. Everything is on 127.0.0.1. Prints a markdown table: median round trips per second
// per server, the ratio ours/Bun.serve, and the command line. Progress goes to stderr.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cLoadGenerator, ECHO_OPTIONS, echoConfig, echoPinning, runEchoComparison } from './lib/echo.mjs';
import { commandLine, printHelp, ROOT, usage, versionOf } from './lib/measure.mjs';

const { values } = parseArgs({
  options: {
    ...ECHO_OPTIONS,
    load: { type: 'string', default: 'bun' },
    bun: { type: 'string' },
  },
});
if (values.help) printHelp(import.meta.url);

if (!['bun', 'c', 'node'].includes(values.load)) usage(`--load must be bun, c or node, got ${values.load}`);
const config = echoConfig(values);

// Two CPUs or more: servers on the last one, the load generator on the first.
const pinning = echoPinning(values['no-pin']);

/** The Bun binary: an ELF executable, so that signals and /proc CPU times are Bun's own. */
function findBun() {
  const candidates = [
    values.bun,
    process.env.BUN,
    `${ROOT}packages/bun/node_modules/bun/bin/bun.exe`,
    ...(process.env.PATH ?? '').split(':').map((dir) => `${dir}/bun`),
  ].filter(Boolean);
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const magic = readFileSync(candidate).subarray(0, 4).toString('latin1');
    if (magic === '\x7fELF') return candidate;
    if (candidate === values.bun || candidate === process.env.BUN) {
      usage(`${candidate} is not the Bun executable (a wrapper script?); pass the real binary`);
    }
  }
  usage('Bun not found: pass --bun PATH or set BUN');
}
const BUN = findBun();
const BUN_VERSION = execFileSync(BUN, ['--version'], { encoding: 'utf8' }).trim();
/** Node for the `ws` load generator (not Bun: Bun replaces the npm `ws` package with its own). */
const NODE = process.versions.bun
  ? ((process.env.PATH ?? '')
      .split(':')
      .map((dir) => `${dir}/node`)
      .find((f) => existsSync(f)) ?? 'node')
  : process.execPath;
const C_LOAD = values.load === 'c' ? cLoadGenerator() : undefined;
const LOAD = C_LOAD
  ? { exec: C_LOAD.load.command, script: undefined, label: C_LOAD.label }
  : values.load === 'bun'
    ? {
        exec: BUN,
        script: fileURLToPath(new URL('./load-bun.mjs', import.meta.url)),
        label: `Bun ${BUN_VERSION}'s native WebSocket client (load-bun.mjs)`,
      }
    : {
        exec: NODE,
        script: fileURLToPath(new URL('./load.mjs', import.meta.url)),
        label: `the npm ws client on Node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()} (load.mjs)`,
      };

await runEchoComparison({
  config,
  pinning,
  servers: [
    {
      key: 'ours',
      label: `fullduplex ${versionOf(`${ROOT}packages/bun/package.json`)}`,
      script: fileURLToPath(new URL('../../examples/echo/bun.ts', import.meta.url)),
    },
    {
      key: 'native',
      label: `Bun.serve (Bun ${BUN_VERSION})`,
      script: fileURLToPath(new URL('./bun-native-echo-server.mjs', import.meta.url)),
    },
  ],
  serverProcess: {
    command: BUN,
    args: (script) => [script],
    // cwd: the repository root, where Bun resolves '@fullduplex/bun' for the example.
    cwd: ROOT,
    env: { DEFLATE: '' },
    timeoutSeconds: 10,
  },
  load: { command: LOAD.exec, script: LOAD.script, args: [] },
  title: 'Echo throughput',
  other: 'Bun.serve',
  setup: `load generator: ${LOAD.label} in its own process for both servers; all on 127.0.0.1, no permessage-deflate. `,
  runtime: `Bun ${BUN_VERSION}, `,
  command: commandLine(import.meta.url, {
    filter: '@fullduplex/bench',
    scripts: { 'bench:echo:bun': [] },
    runner: process.versions.bun ? 'bun' : 'node',
  }),
});
