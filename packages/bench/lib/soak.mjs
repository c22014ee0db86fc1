// One soak run (soak.mjs, test/soak.test.ts): an echo server from lib/servers.mjs on one CPU,
// soak-load.mjs on the other, the server's RSS sampled every second from /proc, and the
// summary of that series: baseline before any connection, steady part (after the warm-up, until
// the closing) with min, max and least-squares slope, and RSS once every connection is closed,
// before and after full GCs in the server (lib/gc-on-signal.mjs), with the JS heap used after GCs
// then and at the baseline.
import { cpuSeconds, loadAverage, memoryOf, sleep } from './measure.mjs';
import { fdCount, launch, NODE, payloadOf, SERVERS, settledRss, startServer } from './servers.mjs';

const MiB = 1024 * 1024;

/** The defaults of soak.mjs; the test passes smaller ones. */
export const SOAK_DEFAULTS = {
  connections: 10_000,
  duration: 300,
  replaceEvery: 10,
  replaceFraction: 0.25,
  interval: 1000,
  size: 16,
  ping: false,
  closeTimeout: 10,
  warmup: 60,
  settle: 10,
};

/** Least-squares slope of `ys` over `xs`. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Runs server `key` (a key of SERVERS with an echo script) under soak-load.mjs with `options`
 * (SOAK_DEFAULTS overridden; `serverCpu` and `loadCpu` pin when given; `track` from
 * childProcesses; `onLine` sees the generator's lines). Resolves with the whole run: config,
 * `series` [{ t, rss, phase }] (t in seconds from the generator's `open`, RSS in bytes),
 * `summary` and the generator's totals. Rejects if a process fails.
 */
export async function runSoak(key, options) {
  const o = { ...SOAK_DEFAULTS, ...options };
  const { track } = o;
  const loadAtStart = loadAverage();
  const server = await startServer(track, key, 'echo', { cpu: o.serverCpu, gc: true });
  const series = [];
  let sampler;
  let generator;
  try {
    const baselineHeap = await server.collect();
    const baseline = await settledRss(server.pid, 20);
    const fdsBaseline = fdCount(server.pid);
    const args = [
      'packages/bench/soak-load.mjs',
      '--port',
      String(server.port),
      '--connections',
      String(o.connections),
      '--duration',
      String(o.duration),
      '--replace-every',
      String(o.replaceEvery),
      '--replace-fraction',
      String(o.replaceFraction),
      '--interval',
      String(o.interval),
      '--size',
      String(o.size),
      '--close-timeout',
      String(o.closeTimeout),
      ...(o.ping ? ['--ping'] : []),
    ];
    generator = launch(track, o.loadCpu, NODE, args);
    let phase = 'opening';
    let tOpen;
    const t0 = performance.now();
    const marks = {};
    generator.lines.onLine = (line) => {
      o.onLine?.(line);
      const now = (performance.now() - t0) / 1000;
      if (line.startsWith('open ')) {
        phase = 'steady';
        tOpen = now;
        marks.open = { ...payloadOf(line), at: now };
      } else if (line === 'closing') {
        phase = 'closing';
        marks.closing = now;
      } else if (line.startsWith('closed ')) {
        phase = 'closed';
        marks.closed = now;
      }
    };
    const cpuAt = () => ({ server: cpuSeconds(server.pid), load: cpuSeconds(generator.pid) });
    const sample = () => {
      const now = (performance.now() - t0) / 1000;
      series.push({ t: now, rss: memoryOf(server.pid)?.rss, phase, ...cpuAt() });
    };
    sample();
    sampler = setInterval(sample, 1000);

    const timeout = (o.duration + 180) * 1000;
    await generator.lines.next(/^closed /, timeout);
    const totals = JSON.parse(await generator.lines.next(/^\{/, 10_000));
    await new Promise((resolve) =>
      generator.exitCode !== null ? resolve() : generator.once('exit', resolve),
    );
    // Samples go on while the server settles after the last close.
    await sleep(o.settle * 1000);
    clearInterval(sampler);
    sampler = undefined;
    const afterClose = memoryOf(server.pid)?.rss;
    const fdsAfterClose = fdCount(server.pid);
    const heapAfterClose = await server.collect();
    const afterGc = await settledRss(server.pid, 10);
    const peak = memoryOf(server.pid)?.peak;
    const exit = await server.stop();

    // Times relative to `open`: the steady part starts after the warm-up and ends at `closing`.
    for (const s of series) s.t -= tOpen;
    const from = o.warmup;
    const to = marks.closing - tOpen;
    const steady = series.filter((s) => s.t >= from && s.t <= to && s.rss !== undefined);
    const cpuShare = (field) =>
      steady.length > 1
        ? (steady.at(-1)[field] - steady[0][field]) / (steady.at(-1).t - steady[0].t)
        : undefined;
    const rss = steady.map((s) => s.rss / MiB);
    const summary = {
      baseline: baseline.rss / MiB,
      steady: steady.length
        ? {
            from,
            to,
            samples: steady.length,
            min: Math.min(...rss),
            max: Math.max(...rss),
            first: rss[0],
            last: rss.at(-1),
            slopePerMinute: slope(
              steady.map((s) => s.t / 60),
              rss,
            ),
          }
        : undefined,
      peak: peak / MiB,
      afterClose: afterClose / MiB,
      afterGc: afterGc.rss / MiB,
      heapBaseline: baselineHeap.heapUsed / MiB,
      heapAfterClose: heapAfterClose.heapUsed / MiB,
      fdsBaseline,
      fdsAfterClose,
      serverCpu: cpuShare('server'),
      loadCpu: cpuShare('load'),
      openSeconds: marks.open.seconds,
      closeSeconds: marks.closed - marks.closing,
      exit,
    };
    return {
      key,
      label: SERVERS[key].label,
      config: Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v !== 'function')),
      loadAverage: { start: loadAtStart, end: loadAverage() },
      summary,
      totals,
      series: series.map(({ t, rss: r, phase: p }) => ({ t: Math.round(t * 10) / 10, rss: r, phase: p })),
    };
  } finally {
    if (sampler) clearInterval(sampler);
    generator?.kill('SIGKILL');
    server.child.kill('SIGKILL');
  }
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** A small SVG line chart of RSS (MiB) over time for each run, the steady part shaded. */
export function soakSvg(runs) {
  const W = 720;
  const H = 360;
  const pad = { l: 60, r: 180, t: 20, b: 40 };
  const points = runs.flatMap((r) => r.series.filter((s) => s.rss !== undefined));
  const tMin = Math.min(...points.map((s) => s.t));
  const tMax = Math.max(...points.map((s) => s.t));
  // A round step (1, 2 or 5 × 10^k MiB) giving about five grid lines.
  const top = Math.max(...points.map((s) => s.rss / MiB));
  const raw = top / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((m) => m >= raw);
  const yMax = Math.ceil(top / step) * step;
  const x = (t) => pad.l + ((t - tMin) / (tMax - tMin || 1)) * (W - pad.l - pad.r);
  const y = (mib) => H - pad.b - (mib / yMax) * (H - pad.t - pad.b);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const steady = runs[0]?.summary.steady;
  if (steady) {
    out.push(
      `<rect x="${x(steady.from)}" y="${pad.t}" width="${x(steady.to) - x(steady.from)}" height="${H - pad.t - pad.b}" fill="#f0f0f0"/>`,
    );
  }
  for (let v = 0; v <= yMax; v += step) {
    out.push(
      `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const t = tMin + ((tMax - tMin) * i) / 5;
    out.push(`<text x="${x(t)}" y="${H - pad.b + 16}" text-anchor="middle">${Math.round(t)}</text>`);
  }
  out.push(
    `<text x="${pad.l - 6}" y="${pad.t - 8}" text-anchor="end">MiB</text>`,
    `<text x="${(pad.l + W - pad.r) / 2}" y="${H - 6}" text-anchor="middle">seconds since all connections were open (RSS of the server; grey: steady part)</text>`,
  );
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length];
    const path = r.series
      .filter((s) => s.rss !== undefined)
      .map((s) => `${x(s.t).toFixed(1)},${y(s.rss / MiB).toFixed(1)}`)
      .join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${path}"/>`);
    out.push(
      `<rect x="${W - pad.r + 12}" y="${pad.t + i * 18}" width="12" height="3" fill="${color}"/>`,
      `<text x="${W - pad.r + 30}" y="${pad.t + i * 18 + 5}">${r.label}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
