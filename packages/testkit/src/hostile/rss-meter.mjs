// Reads the memory of a process from Linux /proc, for the hostile-peer tests and report:
//
//   node packages/testkit/src/hostile/rss-meter.mjs <pid> [intervalMs]
//
// prints `<VmRSS> <VmHWM> <CPU>` (bytes, bytes, user + system seconds) every intervalMs (default
// 50) until that process is gone. A
// process of its own because Deno lets only --allow-all programs read /proc: the suite reads it
// the same way on every runtime.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** VmRSS and VmHWM (the peak since the process started) of `pid` in bytes; undefined if gone. */
export function memoryOf(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (key) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  const rss = kib('VmRSS');
  // A zombie has no memory lines left.
  return Number.isNaN(rss) ? undefined : { rss, hwm: kib('VmHWM') };
}

/** utime + stime of `pid` in seconds; NaN if gone. */
export function cpuSecondsOf(pid, ticksPerSecond) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pid = Number(process.argv[2]);
  const intervalMs = Number(process.argv[3] ?? 50);
  if (!(Number.isInteger(pid) && pid > 0 && intervalMs > 0)) {
    process.stderr.write('usage: rss-meter.mjs <pid> [intervalMs]\n');
    process.exit(2);
  }
  const ticks = clockTicks();
  const tick = () => {
    const memory = memoryOf(pid);
    if (!memory) process.exit(0);
    process.stdout.write(`${memory.rss} ${memory.hwm} ${cpuSecondsOf(pid, ticks)}\n`);
  };
  tick();
  setInterval(tick, intervalMs);
}
