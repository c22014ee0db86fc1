// The part of the load generators common to both clients (load.mjs on the npm `ws` client,
// load-bun.mjs on Bun's): the flags, the deadline, opening the connections, the measured window
// with its `start` and `stop` lines, and the JSON line at the end. Their contract is in load.mjs.
import { parseArgs } from 'node:util';
import { sleep } from './measure.mjs';

/** Prints `load: message` on stderr and exits 2. */
function fail(message) {
  console.error(`load: ${message}`);
  process.exit(2);
}

/** The flags (with `extraOptions`), checked; arms the deadline: 20 s more than the run should take. */
export function loadConfig(extraOptions = {}) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      connections: { type: 'string', default: '50' },
      inflight: { type: 'string', default: '1' },
      size: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '1' },
      duration: { type: 'string', default: '5' },
      ...extraOptions,
    },
  });
  const config = {
    values,
    url: values.url,
    connections: Number(values.connections),
    inflight: Number(values.inflight),
    size: Number(values.size),
    warmup: Number(values.warmup),
    duration: Number(values.duration),
  };
  if (!config.url) fail('--url is required');
  config.deadline = setTimeout(() => fail('timed out'), (config.warmup + config.duration + 20) * 1000);
  return config;
}

/** `config.connections` sockets from `open()` (a promise each); exits 2 if one fails. */
export async function openAll(config, open) {
  try {
    return await Promise.all(Array.from({ length: config.connections }, open));
  } catch (error) {
    fail(`connecting to ${config.url}: ${error.message}`);
  }
}

/**
 * What the clients' handlers read and update: keep sending while `running`, count echoes while
 * `counting`; `bad` (wrong echoes) and `errors` go into the JSON line.
 */
export const state = { running: true, counting: false, count: 0, bad: 0, errors: [] };

/**
 * Warms up, then counts echoes over the measured window, between `start` and `stop` lines on
 * stdout; stops sending, `close(ws, done)`s every socket and prints the JSON line,
 * {"messages", "seconds", "rate", "bad", "errors"} (the first five errors). Exits 0.
 */
export async function measureAndReport(config, sockets, close) {
  await sleep(config.warmup * 1000);
  state.count = 0;
  state.counting = true;
  const t0 = performance.now();
  console.log('start');
  await sleep(config.duration * 1000);
  const messages = state.count;
  const seconds = (performance.now() - t0) / 1000;
  state.counting = false;
  state.running = false;
  console.log('stop');

  await Promise.all(sockets.map((ws) => new Promise((resolve) => close(ws, resolve))));
  clearTimeout(config.deadline);
  const { bad, errors } = state;
  console.log(
    JSON.stringify({ messages, seconds, rate: messages / seconds, bad, errors: errors.slice(0, 5) }),
  );
  process.exit(0);
}
