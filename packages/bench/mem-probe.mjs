// Preloaded into an echo server (`node --expose-gc --import ./mem-probe.mjs server.mjs`) by
// deflate-memory.mjs, so the server itself need not know about it. Reads commands on stdin:
//   measure   run a full GC (three times, when --expose-gc is on), then print one line
//             `mem {"rss", "vmRss", "heapUsed", "external", "arrayBuffers", "gc"}` on stdout
// and exits when stdin ends, so a server never outlives the benchmark that started it.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() !== 'measure') return;
  const gc = globalThis.gc;
  if (typeof gc === 'function') {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const usage = process.memoryUsage();
  let vmRss = usage.rss;
  try {
    vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
  } catch {}
  const report = {
    rss: usage.rss,
    vmRss,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    gc: typeof gc === 'function',
  };
  process.stdout.write(`mem ${JSON.stringify(report)}\n`);
});
lines.on('close', () => process.exit(0));
