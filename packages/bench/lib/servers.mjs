// The servers idle-memory.mjs, broadcast.mjs and soak.mjs compare, and their processes: ours on
// each runtime (examples/echo and examples/broadcast) and the peers (ws on Node, Bun.serve,
// Deno.serve), run by the real Bun and Deno executables so that signals reach them and /proc
// reads their own memory and CPU time; child processes under taskset with the descriptor limit
// raised to the hard limit; stdout read line by line.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cpuSeconds, memoryOf, ROOT, sleep, spawnOn, usage } from './measure.mjs';

/** Whether `file` is an ELF executable (not a wrapper script). */
function isElf(file) {
  try {
    return readFileSync(file).subarray(0, 4).toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

/** The first ELF executable among `candidates`; `explicit` ones must be one. */
function findExecutable(name, candidates, explicit) {
  for (const candidate of candidates.filter(Boolean)) {
    if (!existsSync(candidate)) continue;
    if (isElf(candidate)) return candidate;
    if (explicit.includes(candidate)) usage(`${candidate} is not the ${name} executable (a wrapper?)`);
  }
  return undefined;
}

const pathEntries = (file) => (process.env.PATH ?? '').split(':').map((dir) => `${dir}/${file}`);

let bun;
/** The Bun executable: $BUN, packages/bun's `bun` package, or `bun` on PATH. */
export function findBun() {
  bun ??= findExecutable(
    'Bun',
    [process.env.BUN, `${ROOT}packages/bun/node_modules/bun/bin/bun.exe`, ...pathEntries('bun')],
    [process.env.BUN],
  );
  if (bun === undefined) usage('Bun not found: run `npm run setup` or set BUN to the executable');
  return bun;
}

let deno;
/** The Deno executable: $DENO, packages/deno's `deno` package, the platform package, or PATH. */
export function findDeno() {
  const pnpm = `${ROOT}node_modules/.pnpm`;
  const platform = existsSync(pnpm)
    ? readdirSync(pnpm)
        .filter((d) => d.startsWith('@deno+linux-x64-glibc@'))
        .map((d) => `${pnpm}/${d}/node_modules/@deno/linux-x64-glibc/deno`)
    : [];
  deno ??= findExecutable(
    'Deno',
    [process.env.DENO, `${ROOT}packages/deno/node_modules/deno/deno`, ...platform, ...pathEntries('deno')],
    [process.env.DENO],
  );
  if (deno === undefined) usage('Deno not found: run `npm run setup` or set DENO to the executable');
  return deno;
}

/** Node for the servers and generators, also when a driver runs under Bun. */
export const NODE = process.versions.bun
  ? (pathEntries('node').find((f) => existsSync(f)) ?? 'node')
  : process.execPath;

const versions = {};
/** `Node v20.…`, `Bun 1.…` or `Deno 2.…`. */
export function runtimeVersion(runtime) {
  versions[runtime] ??=
    runtime === 'node'
      ? `Node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}`
      : runtime === 'bun'
        ? `Bun ${execFileSync(findBun(), ['--version'], { encoding: 'utf8' }).trim()}`
        : `Deno ${execFileSync(findDeno(), ['--version'], { encoding: 'utf8' }).split(/\s+/)[1]}`;
  return versions[runtime];
}

/**
 * The servers by key: `runtime`, `label`, the script for each `kind` (echo, broadcast; from the
 * repository root) and extra environment. `ours` marks ours; `peer` is the key to compare with.
 */
export const SERVERS = {
  node: {
    runtime: 'node',
    label: 'fullduplex on Node',
    ours: true,
    peer: 'ws',
    echo: 'examples/echo/node.mjs',
    broadcast: 'examples/broadcast/node.mjs',
  },
  bun: {
    runtime: 'bun',
    label: 'fullduplex on Bun',
    ours: true,
    peer: 'bun-native',
    echo: 'examples/echo/bun.ts',
    broadcast: 'examples/broadcast/bun.ts',
  },
  deno: {
    runtime: 'deno',
    label: 'fullduplex on Deno',
    ours: true,
    peer: 'deno-native',
    echo: 'examples/echo/deno.ts',
    broadcast: 'examples/broadcast/deno.ts',
  },
  ws: {
    runtime: 'node',
    label: 'ws on Node',
    echo: 'packages/bench/ws-echo-server.mjs',
    broadcast: 'packages/bench/ws-broadcast-server.mjs',
  },
  'ws-deflate': {
    runtime: 'node',
    label: 'ws on Node, perMessageDeflate on',
    echo: 'packages/bench/ws-echo-server.mjs',
    env: { DEFLATE: '1' },
  },
  'bun-native': {
    runtime: 'bun',
    label: 'Bun.serve',
    echo: 'packages/bench/bun-native-echo-server.mjs',
    broadcast: 'packages/bench/bun-native-broadcast-server.mjs',
  },
  'deno-native': {
    runtime: 'deno',
    label: 'Deno.serve',
    echo: 'packages/bench/deno-native-echo-server.ts',
    broadcast: 'packages/bench/deno-native-broadcast-server.ts',
  },
  // Not a WebSocket server: the handshake and one 512-byte pending read (idle memory only).
  'deno-floor': {
    runtime: 'deno',
    label: 'Deno TCP floor (handshake, one pending read)',
    echo: 'packages/bench/deno-floor-server.ts',
  },
};

/** The keys in `list` (comma-separated) that have a `kind` script; exits 2 on an unknown one. */
export function serverKeys(list, kind) {
  const keys = list
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const key of keys) {
    if (!SERVERS[key]?.[kind]) {
      const known = Object.keys(SERVERS).filter((k) => SERVERS[k][kind]);
      usage(`unknown ${kind} server ${key}; one of ${known.join(', ')}`);
    }
  }
  if (keys.length === 0) usage('no servers given');
  return keys;
}

const GC_PRELOAD = 'packages/bench/lib/gc-on-signal.mjs';

/**
 * The command and arguments that run `script` (from the repository root) on `runtime`; with
 * `gc`, preloading lib/gc-on-signal.mjs (SIGUSR2 → full GC).
 */
export function runtimeCommand(runtime, script, { gc = false } = {}) {
  if (runtime === 'node')
    return [NODE, gc ? ['--expose-gc', '--import', `./${GC_PRELOAD}`, script] : [script]];
  if (runtime === 'bun') return [findBun(), gc ? ['--preload', `./${GC_PRELOAD}`, script] : [script]];
  const flags = gc ? ['--v8-flags=--expose-gc', '--preload', GC_PRELOAD] : [];
  return [findDeno(), ['run', '-A', ...flags, script]];
}

// The soft descriptor limit up to the hard one, then exec: the pid stays the program's.
const RAISE_FDS = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';

/**
 * Spawns `command args` (on `cpu` when given) with the descriptor limit raised, from the
 * repository root; `track` (childProcesses) kills it if the driver exits. Returns the child with
 * `lines`, a LineWatcher on its stdout.
 */
export function launch(track, cpu, command, args, env = {}) {
  const child = track(
    spawnOn(cpu, 'bash', ['-c', RAISE_FDS, command, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  child.lines = new LineWatcher(child, `${command.split('/').at(-1)} ${args.at(-1) ?? ''}`);
  return child;
}

/** Reads a child's stdout lines; `next(pattern)` resolves with the next one matching. */
export class LineWatcher {
  constructor(child, name) {
    this.name = name;
    this.buffered = [];
    this.waiters = [];
    this.exited = undefined;
    this.onLine = undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.onLine?.(line);
      const index = this.waiters.findIndex((w) => w.pattern.test(line));
      if (index === -1) this.buffered.push(line);
      else this.waiters.splice(index, 1)[0].resolve(line);
    });
    child.once('exit', (code, signal) => {
      this.exited = signal ?? code;
      for (const w of this.waiters.splice(0)) {
        w.reject(new Error(`${name} exited (${this.exited}) while waiting for ${w.pattern}`));
      }
    });
  }

  /** The next line matching `pattern` (buffered ones first); rejects after `timeoutMs`. */
  next(pattern, timeoutMs = 60_000) {
    const index = this.buffered.findIndex((line) => pattern.test(line));
    if (index !== -1) return Promise.resolve(this.buffered.splice(index, 1)[0]);
    if (this.exited !== undefined) {
      return Promise.reject(new Error(`${this.name} exited (${this.exited}) before ${pattern}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const done = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push({
        pattern,
        resolve: done,
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}

/** The JSON after `prefix ` in a line such as `open {"n":1}`. */
export const payloadOf = (line) => JSON.parse(line.slice(line.indexOf(' ') + 1));

/**
 * Starts server `key`'s `kind` script on `cpu` with PORT=0; resolves once it prints
 * `listening on <port>` with `{ key, label, child, pid, port, stop(), collect() }` (with `gc`,
 * `collect()` runs full GCs in it and resolves with its JS heap figures). `stop()` sends SIGTERM and resolves with how it ended (`clean` when it exited 0
 * within 5 s; SIGKILL after that).
 */
export async function startServer(track, key, kind, { cpu, env = {}, gc = false } = {}) {
  const server = SERVERS[key];
  const [command, args] = runtimeCommand(server.runtime, server[kind], { gc });
  const child = launch(track, cpu, command, args, { PORT: '0', DEFLATE: '', ...server.env, ...env });
  const line = await child.lines.next(/listening on \d+/, 30_000);
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve({ clean: child.exitCode === 0, code: child.exitCode, signal: child.signalCode });
        return;
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ clean: code === 0, code, signal });
      });
      child.kill('SIGTERM');
    });
  /** Full GCs in the server (needs `gc`); resolves with its `{ heapUsed, heapTotal, external }`. */
  const collect = async () => {
    const reply = child.lines.next(/^gc \{/, 10_000);
    child.kill('SIGUSR2');
    return payloadOf(await reply);
  };
  return {
    key,
    label: server.label,
    child,
    pid: child.pid,
    port: Number(/listening on (\d+)/.exec(line)[1]),
    stop,
    collect,
  };
}

/** Open descriptors of a process (Linux /proc); undefined elsewhere. */
export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/**
 * Waits until process `pid`'s RSS has moved by less than 1 % (and 512 KiB) over 2 s and it used
 * under 10 % of a CPU meanwhile, or `maxSeconds`; resolves with `{ rss, seconds, settled }`.
 */
export async function settledRss(pid, maxSeconds) {
  const t0 = performance.now();
  const samples = [];
  for (;;) {
    const now = { rss: memoryOf(pid)?.rss, cpu: cpuSeconds(pid), t: performance.now() };
    samples.push(now);
    const first = samples.findLastIndex((s) => s.t <= now.t - 2000);
    if (first !== -1) {
      const window = samples.slice(first);
      const moved = Math.max(...window.map((s) => s.rss)) - Math.min(...window.map((s) => s.rss));
      const busy = (now.cpu - window[0].cpu) / ((now.t - window[0].t) / 1000);
      if (moved < Math.min(0.01 * now.rss, 512 * 1024) && busy < 0.1) {
        return { rss: now.rss, seconds: (now.t - t0) / 1000, settled: true };
      }
    }
    if (now.t - t0 > maxSeconds * 1000) return { rss: now.rss, seconds: (now.t - t0) / 1000, settled: false };
    await sleep(250);
  }
}
