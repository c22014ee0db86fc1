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
//   --load c|node     load generator (default c): `c` is echo-load.c, compiled with the machine's cc;
//                     `node` is load.mjs, the npm `ws` client, which saturates its CPU first on small
//                     messages (not with --deflate: echo-load.c does not compress)
//   --deflate         permessage-deflate on both servers (DEFLATE=1: ours `perMessageDeflate: true`,
//                     ws `perMessageDeflate: true`) and in the load generator (ws client,
//                     `perMessageDeflate: true`), with compressible (JSON-like) messages
//
// Each echo server runs in its own process (ours: examples/echo/node.mjs; ws: ws-echo-server.mjs
// here, same contract), and so does the load generator (the same for both servers: echo-load.c,
// or load.mjs on the `ws` client). Everything is on 127.0.0.1. Prints a markdown table: median
// round trips per second per server, the ratio ours/ws, and the command line. Progress goes to
// stderr.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ECHO_OPTIONS, echoConfig, echoLoadGenerator, echoPinning, runEchoComparison } from './lib/echo.mjs';
import { commandLine, printHelp, usage, versionOf } from './lib/measure.mjs';

const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: {
    ...ECHO_OPTIONS,
    deflate: { type: 'boolean', default: false },
    load: { type: 'string' },
  },
});
if (values.help) printHelp(import.meta.url);
// The C generator speaks no permessage-deflate.
const loadKind = values.load ?? (values.deflate ? 'node' : 'c');
if (loadKind !== 'c' && loadKind !== 'node') usage(`--load must be c or node, got ${loadKind}`);
if (loadKind === 'c' && values.deflate) usage('--deflate needs --load node (echo-load.c does not compress)');
const LOAD = echoLoadGenerator(loadKind, values.deflate ? ['--deflate'] : []);

const config = { ...echoConfig(values), deflate: values.deflate };

// Two CPUs or more: servers on the last one, the load generator on the first.
const pinning = echoPinning(values['no-pin']);

await runEchoComparison({
  config,
  pinning,
  servers: [
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
  ],
  serverProcess: {
    command: process.execPath,
    args: (script) => [script],
    env: { DEFLATE: config.deflate ? '1' : '0' },
    timeoutSeconds: 10,
  },
  load: LOAD.load,
  title: `Echo throughput${config.deflate ? ' with permessage-deflate' : ''}`,
  messages: `${config.deflate ? 'compressible ' : ''}binary messages`,
  other: 'ws',
  setup: `load generator: ${LOAD.label} in its own process for both servers; all on 127.0.0.1. `,
  runtime: `Node ${process.version}, `,
  notes: config.deflate
    ? [
        'permessage-deflate on both servers (defaults: context takeover, threshold 1024) and in the load generator (ws client, perMessageDeflate: true). ' +
          'ws applies its threshold only without context takeover, so ws (server and load generator) compresses every message, 64 B ones included; ' +
          'ours sends messages below 1024 bytes uncompressed. Both servers therefore inflate every message they receive.',
      ]
    : [],
  command: commandLine(import.meta.url, {
    filter: '@fullduplex/bench',
    scripts: { 'bench:echo': [], 'bench:echo:deflate': ['--deflate'] },
  }),
});
