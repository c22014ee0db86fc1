// Helpers shared by the benchmark drivers (packages/bench/*.mjs, apps/chat-demo/bench/chat-load.mjs):
// command-line checks and --help, child processes (taskset pinning, cleanup on exit), CPU time
// and memory of processes from Linux /proc, medians and number formats, and the `Command:` line
// the tables end with. Node APIs only, so that it also runs under Bun.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing separator. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// ------------------------------------------------------------------ command line

/** Prints the `//` comment lines of the script at `scriptUrl` (its usage) and exits 0. */
export function printHelp(scriptUrl) {
  const source = readFileSync(fileURLToPath(scriptUrl), 'utf8');
  console.log(
    source
      .split('\n')
      .filter((l) => l.startsWith('//'))
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
  process.exit(0);
}

/** Prints `message` on stderr and exits 2 (a usage error). */
export function usage(message) {
  console.error(message);
  process.exit(2);
}

/** The option `--name` of parseArgs' `values` as a positive number (an integer if `integer`). */
export function positive(values, name, integer) {
  const value = Number(values[name]);
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    usage(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${values[name]}`);
  }
  return value;
}

/**
 * The command line that ran the script at `scriptUrl`, for the end of a table: the pnpm form when
 * run as one of `scripts` of package `filter` (script name → arguments the script adds itself,
 * left out), else `<runner> <path from the repository root> <arguments>`.
 */
export function commandLine(scriptUrl, { filter, scripts, runner = 'node' }) {
  const cliArgs = process.argv.slice(2);
  const tail = (args) => (args.length ? ` ${args.join(' ')}` : '');
  const lifecycle = process.env.npm_lifecycle_event;
  if (lifecycle !== undefined && Object.hasOwn(scripts, lifecycle)) {
    const implied = scripts[lifecycle];
    const args = cliArgs.filter((a) => !implied.includes(a));
    return `npx -y pnpm@10.34.8 --filter ${filter} ${lifecycle}${tail(args)}`;
  }
  const file = fileURLToPath(scriptUrl);
  return `${runner} ${relative(ROOT, file) || basename(file)}${tail(cliArgs)}`;
}

/** The `version` of a package.json. */
export const versionOf = (packageJson) => JSON.parse(readFileSync(packageJson, 'utf8')).version;

// ------------------------------------------------------------------ processes

const TASKSET = '/usr/bin/taskset';

/** Whether to pin processes to CPUs: not asked not to, two CPUs or more, and taskset installed. */
export function canPin(noPin) {
  return !noPin && cpus().length >= 2 && existsSync(TASKSET);
}

/** Spawns `command args`, under `taskset -c cpu` when `cpu` is given. */
export function spawnOn(cpu, command, args, options) {
  return cpu !== undefined
    ? spawn(TASKSET, ['-c', cpu, command, ...args], options)
    : spawn(command, args, options);
}

/**
 * Child processes that are SIGKILLed when this process exits, or on SIGINT and SIGTERM (then it
 * exits 130). `track(child)` adds one until it exits.
 */
export function childProcesses() {
  const children = new Set();
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  const track = (child) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
  return { track, killAll };
}

// ------------------------------------------------------------------ /proc

let clkTck;
/** Clock ticks per second, the unit of /proc CPU times. */
function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process, in seconds (Linux /proc); undefined elsewhere. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/**
 * Busy CPU seconds of the whole machine (Linux /proc/stat: user, nice, system, irq, softirq; the
 * softirq time of loopback TCP is charged to our processes' stime but counted apart here) and steal.
 */
export function machineSeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
    const tck = clockTicks();
    return { busy: (user + nice + system + irq + softirq) / tck, steal: steal / tck };
  } catch {
    return undefined;
  }
}

/**
 * Busy seconds of one CPU from its `cpuN` line of /proc/stat: user, nice, system and irq time of
 * every process on it, for telling a server's share from other work's. Softirq is left out: on
 * loopback it is mostly the packet delivery of the processes measured.
 */
export function cpuBusySeconds(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    const [user, nice, system, , , irq] = line.split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq) / clockTicks();
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM (peak) of a process in bytes; undefined elsewhere. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** The load averages, `1.23 0.98 0.75`. */
export const loadAverage = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// ------------------------------------------------------------------ figures

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** A whole number with thousands separators: `12,345`. */
export const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** A share as a percentage, `42 %`; `n/a` when unknown. */
export const pct = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : `${Math.round(x * 100)} %`);
