// Echo throughput on Deno: fullduplex (@fullduplex/deno) against Deno's own WebSocket server
// (Deno.serve + Deno.upgradeWebSocket), side by side.
//
//   npx -y pnpm@10.34.8 --filter @fullduplex/bench bench:echo:deno [flags]
//   node packages/bench/echo-throughput-deno.mjs [flags]
//
//   --size N          message size in bytes (default 64)
//   --connections N   concurrent connections (default 50)
//   --inflight N      messages in flight per connection (default 1: ping-pong)
//   --duration S      measured seconds per run (default 5)
//   --warmup S        seconds of load before measuring (default 1)
//   --rounds N        rounds; each runs both servers, alternating which goes first (default 5)
//   --no-pin          do not pin servers and load generator to separate CPUs with taskset
//   --load c|node     load generator (default c): `c` is echo-load.c, compiled with the machine's cc;
//                     `node` is load.mjs, the npm `ws` client, which saturates its CPU first
//
// Each echo server runs in its own Deno process (ours: `deno run -A examples/echo/deno.ts`;
// native: `deno run -A packages/bench/deno-native-echo-server.ts`, same contract), and so does the
// load generator (the same for both servers: echo-load.c, or load.mjs on Node with the `ws`
// client). Everything is plain TCP on 127.0.0.1. Prints a markdown table: median round
// trips per second per server, the ratio ours/native, and the command line. Progress goes to
// stderr. Deno is the binary @fullduplex/deno installs (its `deno` dev dependency), or $DENO.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ECHO_OPTIONS, echoConfig, echoLoadGenerator, echoPinning, runEchoComparison } from './lib/echo.mjs';
import { commandLine, printHelp, ROOT, usage, versionOf } from './lib/measure.mjs';

const { values } = parseArgs({ options: { ...ECHO_OPTIONS, load: { type: 'string', default: 'c' } } });
if (values.help) printHelp(import.meta.url);
if (values.load !== 'c' && values.load !== 'node') usage(`--load must be c or node, got ${values.load}`);
const LOAD = echoLoadGenerator(values.load);

const config = echoConfig(values);

// Two CPUs or more: servers on the last one, the load generator on the first.
const pinning = echoPinning(values['no-pin']);

const DENO_PACKAGE = fileURLToPath(new URL('../deno/package.json', import.meta.url));
/** The Deno binary itself (the npm package's `bin` is a Node wrapper that would not forward signals). */
const DENO =
  process.env.DENO ?? join(dirname(createRequire(DENO_PACKAGE).resolve('deno/package.json')), 'deno');
if (!existsSync(DENO)) {
  console.error(`no Deno binary at ${DENO}: run \`npm run setup\` (or set DENO)`);
  process.exit(1);
}
const denoVersion = execFileSync(DENO, ['--version'], { encoding: 'utf8' }).split(/\s+/)[1];

await runEchoComparison({
  config,
  pinning,
  servers: [
    { key: 'ours', label: `fullduplex ${versionOf(DENO_PACKAGE)}`, script: 'examples/echo/deno.ts' },
    { key: 'native', label: 'Deno.serve', script: 'packages/bench/deno-native-echo-server.ts' },
  ],
  serverProcess: {
    command: DENO,
    args: (script) => ['run', '-A', script],
    // From the repository root, as other tools run the example; DEFLATE off for both.
    cwd: ROOT,
    env: { DEFLATE: '0', NO_COLOR: '1' },
    timeoutSeconds: 30,
  },
  load: LOAD.load,
  title: `Echo throughput on Deno ${denoVersion}`,
  other: 'Deno.serve',
  setup:
    'servers: `deno run -A` of examples/echo/deno.ts and packages/bench/deno-native-echo-server.ts (plain TCP); ' +
    `load generator: ${LOAD.label} in its own process for both servers; all on 127.0.0.1. `,
  runtime: `Deno ${denoVersion}, Node ${process.version} (load generator), `,
  command: commandLine(import.meta.url, { filter: '@fullduplex/bench', scripts: { 'bench:echo:deno': [] } }),
});
