// Chat load: how many chat clients, and how many messages per second, one Node instance of the
// chat demo holds, and the delivery latency meanwhile (the chat-room method).
//
//   node apps/chat-demo/bench/chat-load.mjs [flags]
//   npx -y pnpm@10.34.8 --filter @fullduplex/chat-demo bench:load [flags]
//
//   --clients LIST    clients in the room, one step each, ascending (default 100,250,500,1000)
//   --rate LIST       messages per second each client sends (default 1); a list runs every
//                     client count at each rate. The server allows 10/s per connection (burst 40)
//   --rooms K         spread the clients over K rooms (client i in room i mod K; default 1: one
//                     room, every message to all N clients)
//   --room-size K     instead of --rooms: rooms of K clients (N / K rooms, rounded up)
//   --seconds S       measured seconds per step (default 10), split into --rounds windows
//   --rounds N        measurement windows per step; the table shows the median (default 5)
//   --warmup S        seconds of traffic before measuring (default 2)
//   --size N          characters of chat text per message (default 64)
//   --max-p99 MS      stop stepping up once p99 is over this, or deliveries fall behind (default 1000)
//   --budget S        skip steps that would end after this many seconds in all (default 170)
//   --join-timeout S  give up on a step whose clients are not all in the room after S (default 60)
//   --keep-going      measure every window of a step even when it is saturated (p99, backlog)
//   --server FILE     the chat server's Node entry (default apps/chat-demo/dist/node.js)
//   --no-pin          do not pin the server and the load generator to separate CPUs with taskset
//
// Every step starts a fresh server (apps/chat-demo/dist/node.js, PORT=0, MemoryStore) in its own
// process, pinned to CPU 0; this script is the load generator, re-spawned pinned to CPU 1. It
// opens N clients with the npm `ws` client (resolved from packages/bench) on 127.0.0.1, each does
// hello → welcome → join → joined in room `load`; a marker message then proves the presence
// traffic of the joins has been delivered. Then every client sends `rate` messages per second,
// spread evenly over the round (a fresh random order of clients each round), whose text carries
// a per-room sequence number and the send time (performance.now() of this process, which is also
// the receiver, so one clock). Each message goes to all N members, the sender included:
// deliveries/s = receptions per second across all clients = sent/s × N when the server keeps up.
// Latency is from send to each reception. After the last window sending stops, the backlog
// drains, and every client is checked to have received every message exactly once. Stepping up
// stops at the first step with p99 over --max-p99, deliveries under 95 % of expected, a closed
// connection or a missing message; such a step is run once more if other processes used over
// 25 % of a CPU meanwhile (both runs are in the table).
// Prints a markdown table (stdout) and progress (stderr). Needs the chat demo built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  canPin,
  childProcesses,
  commandLine,
  cpuSeconds,
  fmt,
  loadAverage,
  machineSeconds,
  median,
  memoryOf,
  pct,
  positive as positiveOf,
  printHelp,
  ROOT,
  sleep,
  spawnOn,
  usage,
} from '../../../packages/bench/lib/measure.mjs';

const SELF = fileURLToPath(import.meta.url);
const SUBPROTOCOL = 'fullduplex-chat.v1';
const ROOM = 'load';
/** The chat server's default per-connection limit (ChatServerOptions.messagesPerSecond). */
const SERVER_RATE_LIMIT = 10;
/** Other processes' CPU share (of one core) over which a step counts as noisy. */
const NOISY = 0.25;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100,250,500,1000' },
    rate: { type: 'string', default: '1' },
    rooms: { type: 'string', default: '1' },
    'room-size': { type: 'string' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    size: { type: 'string', default: '64' },
    'max-p99': { type: 'string', default: '1000' },
    budget: { type: 'string', default: '170' },
    'join-timeout': { type: 'string', default: '60' },
    server: { type: 'string' },
    'keep-going': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printHelp(import.meta.url);

const positive = (name, integer) => positiveOf(values, name, integer);
function list(name, integer) {
  const items = values[name].split(',').map((s) => Number(s.trim()));
  if (items.some((v) => !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))) {
    usage(`--${name} must be a comma-separated list of positive ${integer ? 'integers' : 'numbers'}`);
  }
  return [...new Set(items)].sort((a, b) => a - b);
}
const config = {
  clients: list('clients', true),
  rates: list('rate', false),
  rooms: positive('rooms', true),
  roomSize: values['room-size'] === undefined ? undefined : positive('room-size', true),
  seconds: positive('seconds', false),
  rounds: positive('rounds', true),
  warmup: positive('warmup', false),
  size: positive('size', true),
  maxP99: positive('max-p99', false),
  budget: positive('budget', false),
  joinTimeout: positive('join-timeout', false),
};
if (config.rates.some((r) => r > SERVER_RATE_LIMIT)) {
  usage(`--rate: the chat server closes connections sending over ${SERVER_RATE_LIMIT} messages/s (1008)`);
}
const SERVER_SCRIPT = values.server
  ? resolve(values.server)
  : fileURLToPath(new URL('../dist/node.js', import.meta.url));
if (config.roomSize !== undefined && config.rooms !== 1) usage('--rooms and --room-size exclude each other');
/** Rooms for `n` clients. */
const roomsFor = (n) => (config.roomSize ? Math.ceil(n / config.roomSize) : Math.min(config.rooms, n));
const oneRoom = config.roomSize === undefined && config.rooms === 1;
const roomsLabel = oneRoom
  ? 'in one room'
  : config.roomSize
    ? `in rooms of ${config.roomSize}`
    : `in ${config.rooms} rooms`;
if (config.size > 3900) usage('--size: chat text is at most 4000 characters');

// Two CPUs or more: the server on CPU 0, the load generator (this script) on CPU 1.
const cpuCount = cpus().length;
const pin = canPin(values['no-pin']);
const SERVER_CPU = '0';
const LOAD_CPU = '1';

const cliArgs = process.argv.slice(2);

// ------------------------------------------------------------------------------------- helpers

const mib = (bytes) => (bytes === undefined || Number.isNaN(bytes) ? 'n/a' : (bytes / 2 ** 20).toFixed(0));
const ms = (x) => {
  if (x === undefined || Number.isNaN(x)) return 'n/a';
  if (x >= 100) return fmt(x);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
};

/** Latency histogram: buckets 1 % wide from 1 µs, exact maximum. */
const LOG_BASE = Math.log(1.01);
const BUCKETS = 2600;
class Histogram {
  counts = new Float64Array(BUCKETS);
  n = 0;
  max = 0;
  record(millis) {
    const us = millis * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_BASE));
    this.counts[i]++;
    this.n++;
    if (millis > this.max) this.max = millis;
  }
  add(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.n += other.n;
    this.max = Math.max(this.max, other.max);
  }
  /** Upper bound of the bucket holding quantile q, in ms (within 1 %), capped at the maximum. */
  quantile(q) {
    if (this.n === 0) return Number.NaN;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, 1.01 ** i / 1000);
    }
    return this.max;
  }
}

function shuffle(array) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

// ---------------------------------------------------------------------------------------- main

async function main() {
  if (!existsSync(SERVER_SCRIPT)) {
    console.error(
      `${SERVER_SCRIPT} is missing: build it first with\n` +
        '  npx -y pnpm@10.34.8 --filter @fullduplex/chat-demo... build',
    );
    process.exit(1);
  }
  // The load generator's client: the npm `ws` package, a devDependency of packages/bench.
  const benchRequire = createRequire(new URL('../../../packages/bench/package.json', import.meta.url));
  const { WebSocket } = benchRequire('ws');
  const wsVersion = benchRequire('ws/package.json').version;

  const { track } = childProcesses();

  function startServer() {
    return new Promise((resolve, reject) => {
      const args = [SERVER_SCRIPT];
      const options = { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] };
      const child = track(spawnOn(pin ? SERVER_CPU : undefined, process.execPath, args, options));
      const server = { child, pid: child.pid, exited: undefined, stderr: '' };
      child.stderr.setEncoding('utf8').on('data', (chunk) => {
        if (server.stderr.length < 4000) server.stderr += chunk;
      });
      let out = '';
      const timer = setTimeout(() => reject(new Error('chat server: not listening after 10 s')), 10_000);
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        out += chunk;
        const match = /chat demo on http:\/\/localhost:(\d+)/.exec(out);
        if (match && !server.url) {
          clearTimeout(timer);
          server.url = `ws://127.0.0.1:${match[1]}/ws`;
          resolve(server);
        }
      });
      child.once('exit', (code, signal) => {
        server.exited = signal ?? code;
        clearTimeout(timer);
        reject(new Error(`chat server exited (${signal ?? code}) before listening: ${server.stderr}`));
      });
    });
  }

  async function stopServer(server) {
    if (server.exited !== undefined) return;
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    // SIGTERM: the chat stops listening to its store first (no presence fan-out as everyone
    // leaves), then closes every connection with 1001.
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * One step: a fresh server, N clients in the room(s), warm-up, `rounds` measured windows,
   * drain, exactly-once check. Resolves with the step's figures.
   */
  async function runStep(n, rate, joinTimeoutMs) {
    const server = await startServer();
    const memStart = memoryOf(server.pid);
    const roomCount = roomsFor(n);
    const step = { n, rate, rooms: roomCount, server };
    const clients = [];
    const roomName = (r) => (roomCount === 1 ? ROOM : `${ROOM}-${r}`);
    // Client i is in room i mod roomCount; rooms differ in size by one at most.
    const roomSize = Array.from({ length: roomCount }, (_, r) => Math.ceil((n - r) / roomCount));
    let tearingDown = false;
    const closes = new Map();
    const errors = [];
    const serverErrors = [];
    let presenceCount = 0;
    let presenceBytes = 0;
    let bad = 0;
    let gaps = 0;
    let disorder = 0;
    let otherMessages = 0;

    // Per-message state, allocated once the clients are in their rooms. Messages are numbered
    // per room (q); senderOf[r][q] is the sending client.
    let capacity = 0;
    let senderOf = [];
    let received = 0;
    const windowStart = [];
    const hists = [];
    let nextSample = 0;

    function onClose(c, code, reason) {
      c.open = false;
      if (tearingDown) return;
      const key = `${code}${reason ? ` ${reason}` : ''}`;
      closes.set(key, (closes.get(key) ?? 0) + 1);
    }

    function onChatMessage(c, data, now) {
      const s = data.toString('latin1');
      let k = s.indexOf('"text":"');
      if (k < 0) {
        bad++;
        return;
      }
      k += 8;
      const text = s.slice(k, s.indexOf('"', k));
      if (text === 'sync') {
        c.synced = true;
        c.lastId = Number(s.slice(s.lastIndexOf('"id":') + 5, -1));
        if (c.lastId !== 1) disorder++;
        return;
      }
      const sp1 = text.indexOf(' ');
      let sp2 = text.indexOf(' ', sp1 + 1);
      if (sp2 < 0) sp2 = text.length;
      const q = Number(text.slice(0, sp1));
      const sentAt = Number(text.slice(sp1 + 1, sp2));
      if (!(q >= 0 && q < capacity) || Number.isNaN(sentAt)) {
        bad++;
        return;
      }
      const seen = c.seen[q];
      if (seen < 255) c.seen[q] = seen + 1;
      c.count++;
      // Server ids: 1, 2, 3 … per room, delivered in order (the marker was 1). `id` is the last field.
      const id = Number(s.slice(s.lastIndexOf('"id":') + 5, -1));
      if (id === c.lastId + 1) c.lastId = id;
      else if (id > c.lastId) {
        gaps += id - c.lastId - 1;
        c.lastId = id;
      } else disorder++;
      received++;
      // Attribute the latency to the window the message was sent in (not the warm-up).
      for (let w = windowStart.length - 1; w >= 0; w--) {
        if (sentAt >= windowStart[w]) {
          hists[w].record(now - sentAt);
          break;
        }
      }
      // Full check of a sample: the fast path above only reads `text` and `id`.
      if (++nextSample === 97) {
        nextSample = 0;
        const m = JSON.parse(s);
        if (
          m.type !== 'msg' ||
          m.room !== c.roomName ||
          m.text !== text ||
          m.from?.nick !== `c${senderOf[c.room][q]}` ||
          m.id !== id ||
          typeof m.ts !== 'number'
        ) {
          bad++;
        }
      }
    }

    function openClient(i, url) {
      return new Promise((resolve, reject) => {
        const room = i % roomCount;
        const c = { i, nick: `c${i}`, room, roomName: roomName(room), open: false, synced: false, lastId: 0 };
        Object.assign(c, { count: 0, seen: undefined, members: 0 });
        const ws = new WebSocket(url, SUBPROTOCOL, {
          perMessageDeflate: false,
          // A load generator: do not spend its CPU validating UTF-8 (all our traffic is ASCII).
          skipUTF8Validation: true,
        });
        c.ws = ws;
        ws.on('open', () => {
          c.open = true;
          ws.send(JSON.stringify({ type: 'hello', nick: c.nick }));
        });
        ws.on('message', (data, isBinary) => {
          const now = performance.now();
          if (isBinary) {
            otherMessages++;
            return;
          }
          // `{"type":"` is 9 bytes: the type's first letter tells msg from the rest.
          switch (data[9]) {
            case 0x6d: // msg
              onChatMessage(c, data, now);
              return;
            case 0x70: {
              // presence: changes to the list `joined` carried (members only come here)
              presenceCount++;
              presenceBytes += data.length;
              const change = JSON.parse(data.toString('utf8'));
              c.members += change.joined.length - change.left.length;
              return;
            }
          }
          const m = JSON.parse(data.toString('utf8'));
          if (m.type === 'welcome') {
            ws.send(JSON.stringify({ type: 'join', room: c.roomName }));
          } else if (m.type === 'joined') {
            c.members = m.members.length;
            resolve(c);
          } else if (m.type === 'error') {
            serverErrors.push(`${m.code}: ${m.message}`);
          } else {
            otherMessages++;
          }
        });
        ws.on('error', (error) => {
          if (errors.length < 5) errors.push(`client ${i}: ${error.message}`);
          reject(error);
        });
        ws.on('close', (code, reason) => {
          onClose(c, code, reason.toString());
          reject(new Error(`client ${i} closed (${code}) before joining`));
        });
        clients.push(c);
      });
    }

    const teardown = async () => {
      tearingDown = true;
      await stopServer(server);
      for (const c of clients) c.ws.terminate();
    };

    try {
      // ------------------------------------------------------------------ clients join the room
      const joinStarted = performance.now();
      const joinDeadline = joinStarted + joinTimeoutMs;
      const serverExit = new Promise((_, reject) =>
        server.child.once('exit', (code, signal) =>
          reject(new Error(`chat server exited (${signal ?? code}): ${server.stderr}`)),
        ),
      );
      serverExit.catch(() => {});
      const withDeadline = (promise, what) =>
        Promise.race([
          promise,
          serverExit,
          sleep(Math.max(0, joinDeadline - performance.now())).then(() => {
            throw new Error(
              `${what} not done after ${(joinTimeoutMs / 1000).toFixed(1)} s ` +
                `(presence so far: ${fmt(presenceCount)} messages, ${mib(presenceBytes)} MiB)`,
            );
          }),
        ]);
      let next = 0;
      const CONCURRENT_OPENS = 50;
      const opener = async () => {
        while (next < n && performance.now() < joinDeadline) await openClient(next++, server.url);
      };
      await withDeadline(
        Promise.all(Array.from({ length: Math.min(CONCURRENT_OPENS, n) }, opener)),
        `joining ${n} clients`,
      );
      // Events reach each connection in order: once everyone has the marker message of its
      // room, every presence update of the joins has been delivered too.
      for (let r = 0; r < roomCount; r++) {
        clients[n - 1 - r].ws.send(
          JSON.stringify({ type: 'msg', room: roomName((n - 1 - r) % roomCount), text: 'sync' }),
        );
      }
      await withDeadline(
        (async () => {
          while (clients.some((c) => !c.synced)) {
            if (closes.size > 0) throw new Error(`closed during the joins: ${[...closes.keys()]}`);
            await sleep(20);
          }
        })(),
        'presence fan-out',
      );
      const joinSeconds = (performance.now() - joinStarted) / 1000;
      const notAll = clients.filter((c) => c.members !== roomSize[c.room]).length;
      if (notAll > 0) throw new Error(`${notAll} clients do not see all members of their room`);
      const memJoined = memoryOf(server.pid);
      console.error(
        `  ${n} clients in ${roomCount === 1 ? 'the room' : `${roomCount} rooms`} after ${joinSeconds.toFixed(1)} s ` +
          `(${fmt(presenceCount)} presence messages, ${mib(presenceBytes)} MiB); ` +
          `server RSS ${mib(memJoined?.rss)} MiB`,
      );

      // --------------------------------------------------------------------- send and measure
      const totalRate = n * rate;
      capacity = Math.ceil(roomSize[0] * rate * (config.warmup + config.seconds + 2)) + 64;
      senderOf = roomSize.map(() => new Int32Array(capacity));
      for (const c of clients) c.seen = new Uint8Array(capacity);
      const roomSent = new Array(roomCount).fill(0);
      let lag = new Histogram();
      let sent = 0;
      let expected = 0;
      let slot = 0;
      let order = shuffle(clients.map((c) => c.i));
      let pos = 0;
      const pad = 'x'.repeat(config.size);
      const sendStarted = performance.now();
      let sending = true;
      const tick = () => {
        if (!sending) return;
        const now = performance.now();
        // Slot k is due at k / totalRate seconds.
        const due = Math.floor(((now - sendStarted) * totalRate) / 1000) + 1;
        while (slot < due) {
          // Round-robin over a fresh random order each round: every client sends `rate`/s.
          const c = clients[order[pos]];
          if (++pos === n) {
            pos = 0;
            order = shuffle(order);
          }
          const scheduled = sendStarted + (slot * 1000) / totalRate;
          slot++;
          const q = roomSent[c.room];
          if (!c.open || q >= capacity) continue;
          const sentAt = performance.now();
          lag.record(sentAt - scheduled);
          let text = `${q} ${sentAt.toFixed(3)} `;
          text += pad.slice(0, Math.max(0, config.size - text.length));
          senderOf[c.room][q] = c.i;
          roomSent[c.room] = q + 1;
          sent++;
          expected += roomSize[c.room];
          c.ws.send(`{"type":"msg","room":"${c.roomName}","text":"${text}"}`);
        }
      };
      const ticker = setInterval(tick, 1);
      const openCount = () => clients.filter((c) => c.open).length;
      const outstanding = () => {
        let behind = 0;
        for (const c of clients) if (c.open) behind += roomSent[c.room] - c.count;
        return behind;
      };

      await sleep(config.warmup * 1000);
      const windows = [];
      const windowMs = (config.seconds * 1000) / config.rounds;
      const cpu0 = cpuSeconds(server.pid);
      const self0 = process.cpuUsage();
      const machine0 = machineSeconds();
      lag = new Histogram();
      const t0 = performance.now();
      const first = { sent, expected };
      let stopReason;
      for (let w = 0; w < config.rounds; w++) {
        const start = { t: performance.now(), received, sent, expected };
        windowStart.push(start.t);
        hists.push(new Histogram());
        await sleep(Math.max(0, windowMs - (performance.now() - t0 - w * windowMs)));
        const end = { t: performance.now(), received, sent, expected };
        const seconds = (end.t - start.t) / 1000;
        const win = {
          seconds,
          sent: (end.sent - start.sent) / seconds,
          expected: (end.expected - start.expected) / seconds,
          delivered: (end.received - start.received) / seconds,
          hist: hists[w],
        };
        windows.push(win);
        const behind = outstanding();
        console.error(
          `  window ${w + 1}/${config.rounds}: sent ${fmt(win.sent)}/s, delivered ${fmt(win.delivered)}/s ` +
            `of ${fmt(win.expected)}/s, p50 ${ms(win.hist.quantile(0.5))} ms, ` +
            `p99 ${ms(win.hist.quantile(0.99))} ms (so far), outstanding ${fmt(behind)}`,
        );
        let reason;
        if (server.exited !== undefined) reason = `server exited (${server.exited})`;
        else if (closes.size > 0) reason = `connections closed: ${[...closes.keys()].join(', ')}`;
        else if (behind > win.expected * 2) reason = 'over 2 s of deliveries behind';
        else if (win.hist.quantile(0.99) > config.maxP99) reason = `p99 over ${config.maxP99} ms`;
        stopReason ??= reason;
        if (server.exited !== undefined || (stopReason && !values['keep-going'])) break;
      }
      const measuredSeconds = (performance.now() - t0) / 1000;
      const cpu1 = cpuSeconds(server.pid);
      const self1 = process.cpuUsage(self0);
      const machine1 = machineSeconds();
      const memEnd = memoryOf(server.pid);
      const sentMeasured = sent - first.sent;
      const expectedMeasured = expected - first.expected;
      sending = false;
      clearInterval(ticker);

      // ------------------------------------------------------------ drain and exactly-once check
      // Until everything arrived, or nothing more arrives for 2 s (lost), or 30 s.
      const drainStarted = performance.now();
      let progressAt = drainStarted;
      for (let left = outstanding(); left > 0 && closes.size === 0; ) {
        await sleep(20);
        const now = performance.now();
        const still = outstanding();
        if (still < left) progressAt = now;
        left = still;
        if (now - progressAt > 2000 || now - drainStarted > 30_000) break;
      }
      const undelivered = outstanding();
      const drainSeconds = (performance.now() - drainStarted) / 1000;
      let missing = 0;
      let duplicates = 0;
      for (const c of clients) {
        if (!c.open) continue;
        const seen = c.seen;
        for (let k = 0, end = roomSent[c.room]; k < end; k++) {
          if (seen[k] === 0) missing++;
          else if (seen[k] > 1) duplicates += seen[k] - 1;
        }
      }
      const all = new Histogram();
      for (const h of hists) all.add(h);
      Object.assign(step, {
        joinSeconds,
        presenceCount,
        presenceBytes,
        windows,
        measuredSeconds,
        sentPerSecond: sentMeasured / measuredSeconds,
        expectedPerSecond: expectedMeasured / measuredSeconds,
        delivered: median(windows.map((w) => w.delivered)),
        deliveredMin: Math.min(...windows.map((w) => w.delivered)),
        deliveredMax: Math.max(...windows.map((w) => w.delivered)),
        p50: all.quantile(0.5),
        p99: all.quantile(0.99),
        max: all.max,
        lagP99: lag.quantile(0.99),
        lagMax: lag.max,
        serverCpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / measuredSeconds : undefined,
        loadCpu: (self1.user + self1.system) / 1e6 / measuredSeconds,
        // Everything else on the machine meanwhile (other processes). /proc/stat is sampled at
        // each tick while process times are exact, so this is approximate (seen ±25 %); at least 0.
        otherCpu:
          machine0 && machine1 && cpu0 !== undefined && cpu1 !== undefined
            ? Math.max(
                0,
                (machine1.busy - machine0.busy - (cpu1 - cpu0) - (self1.user + self1.system) / 1e6) /
                  measuredSeconds,
              )
            : undefined,
        steal: machine0 && machine1 ? (machine1.steal - machine0.steal) / measuredSeconds : undefined,
        memStart,
        memJoined,
        memEnd,
        sentTotal: sent,
        missing,
        duplicates,
        drainSeconds,
        undelivered,
        gaps,
        disorder,
        openAtEnd: openCount(),
        closes: [...closes].map(([k, v]) => `${v}× ${k}`),
        bad,
        otherMessages,
        serverErrors: serverErrors.slice(0, 3),
        errors: errors.slice(0, 3),
        stopReason,
      });
      return step;
    } catch (error) {
      step.failed = error.message;
      step.joinSeconds = undefined;
      step.closes = [...closes].map(([k, v]) => `${v}× ${k}`);
      step.presenceBytes = presenceBytes;
      return step;
    } finally {
      await teardown();
    }
  }

  // --------------------------------------------------------------------------------- the steps
  const command = commandLine(import.meta.url, {
    filter: '@fullduplex/chat-demo',
    scripts: { 'bench:load': [] },
  });
  const loadAtStart = loadAverage();
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const results = [];
  const skipped = [];
  console.error(
    `chat load: ${config.clients.join(', ')} clients × ${config.rates.join(', ')} msgs/s each; ` +
      `load average ${loadAtStart}; ${pin ? `server on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU}` : 'not pinned'}`,
  );
  for (const rate of config.rates) {
    let saturated;
    for (const n of config.clients) {
      if (saturated) {
        skipped.push(`${n} clients at ${rate}/s (${saturated})`);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        const stepSeconds = config.warmup + config.seconds + 3;
        const left = config.budget - elapsed();
        if (left < stepSeconds + 2) {
          skipped.push(`${n} clients at ${rate}/s${attempt ? ' again' : ''} (budget of ${config.budget} s)`);
          break;
        }
        const rooms = roomsFor(n);
        console.error(
          `${n} clients${rooms > 1 ? ` in ${rooms} rooms` : ''} × ${rate} msgs/s ` +
            `(${fmt(n * rate)} sent/s, ${fmt((n * n * rate) / rooms)} deliveries/s expected)${attempt ? ', again' : ''}`,
        );
        const joinTimeout = Math.min(config.joinTimeout, left - stepSeconds) * 1000;
        const step = await runStep(n, rate, joinTimeout);
        results.push(step);
        if (step.failed) {
          console.error(`  failed: ${step.failed}`);
          saturated = 'the step before failed';
          break;
        }
        const behind = step.delivered < 0.95 * step.expectedPerSecond;
        const problems = [
          ...new Set([
            step.stopReason,
            step.p99 > config.maxP99 ? `p99 over ${config.maxP99} ms` : undefined,
            behind ? 'deliveries behind' : undefined,
            step.missing > 0 || step.duplicates > 0 || step.gaps > 0 || step.disorder > 0
              ? 'missing, duplicate or out-of-order messages'
              : undefined,
          ]),
        ].filter(Boolean);
        const noisy = step.otherCpu > NOISY;
        step.verdict = problems.length ? problems.join('; ') : 'ok';
        // Not reasons to stop, but to read the row with: who ran out of CPU.
        if (step.serverCpu >= 0.95) step.verdict += '; server CPU at capacity';
        if (step.loadCpu >= 0.9) step.verdict += '; load generator near capacity (figures are a lower bound)';
        if (noisy) step.verdict += `; noisy: other processes used ${pct(step.otherCpu)} CPU`;
        console.error(
          `  → delivered ${fmt(step.delivered)}/s of ${fmt(step.expectedPerSecond)}/s, ` +
            `p50 ${ms(step.p50)} ms, p99 ${ms(step.p99)} ms, max ${ms(step.max)} ms, ` +
            `server CPU ${pct(step.serverCpu)}, load generator CPU ${pct(step.loadCpu)}, other CPU ${pct(step.otherCpu)}, ` +
            `missing ${step.missing}, duplicates ${step.duplicates}, ${step.verdict}`,
        );
        // A step that failed while other processes competed for the CPUs is run once more.
        if (problems.length && noisy && attempt === 0) {
          step.verdict += ', run again';
          continue;
        }
        if (problems.length) saturated = `${n} clients: ${problems.join('; ')}`;
        break;
      }
    }
  }
  const loadAtEnd = loadAverage();

  // --------------------------------------------------------------------------------- the table
  const out = [];
  out.push(
    `### Chat load: one Node instance of the chat demo, N clients ${roomsLabel}, each sending to its room`,
  );
  out.push('');
  out.push(
    '| clients | msgs/s per client | sent msgs/s | deliveries/s, median (min – max) | of expected | ' +
      'latency p50 / p99 / max | send lag p99 | server CPU | deliveries per server CPU-s | load gen CPU | other CPU | server RSS: idle → joined → end (peak) | ' +
      'join | missing / dup | closed | |',
  );
  out.push('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  const clientsCell = (s) => `${fmt(s.n)}${s.rooms > 1 ? ` in ${s.rooms} rooms` : ''}`;
  for (const s of results) {
    if (s.failed) {
      out.push(
        `| ${clientsCell(s)} | ${s.rate} | | | | | | | | | | | ${s.presenceBytes ? `${mib(s.presenceBytes)} MiB presence` : ''} | | ${s.closes.join(', ')} | failed: ${s.failed} |`,
      );
      continue;
    }
    out.push(
      `| ${clientsCell(s)} | ${s.rate} | ${fmt(s.sentPerSecond)} | ${fmt(s.delivered)} (${fmt(s.deliveredMin)} – ${fmt(s.deliveredMax)}) | ` +
        `${pct(s.delivered / s.expectedPerSecond)} | ${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)} ms | ${ms(s.lagP99)} ms | ` +
        `${pct(s.serverCpu)} | ${s.serverCpu ? fmt(s.delivered / s.serverCpu) : 'n/a'} | ${pct(s.loadCpu)} | ≈ ${pct(s.otherCpu)}${s.steal > 0.01 ? ` (steal ${pct(s.steal)})` : ''} | ` +
        `${mib(s.memStart?.rss)} → ${mib(s.memJoined?.rss)} → ${mib(s.memEnd?.rss)} (${mib(s.memEnd?.peak)}) MiB | ` +
        `${s.joinSeconds.toFixed(1)} s, ${mib(s.presenceBytes)} MiB presence | ${fmt(s.missing)} / ${fmt(s.duplicates)} | ` +
        `${s.closes.length ? s.closes.join(', ') : '0'} | ${s.verdict} |`,
    );
  }
  out.push('');
  for (const s of results) {
    const extra = [];
    if (!s.failed && s.bad) extra.push(`${s.bad} malformed deliveries`);
    if (!s.failed && s.otherMessages) extra.push(`${s.otherMessages} unexpected messages`);
    if (s.serverErrors?.length) extra.push(`server errors: ${s.serverErrors.join('; ')}`);
    if (s.errors?.length) extra.push(`client errors: ${s.errors.join('; ')}`);
    if (s.server.stderr) extra.push(`server stderr: ${s.server.stderr.trim().slice(0, 300)}`);
    if (!s.failed && s.drainSeconds > 1)
      extra.push(`the backlog took ${s.drainSeconds.toFixed(1)} s to drain`);
    if (!s.failed && s.missing > 0)
      extra.push(`${fmt(s.undelivered)} deliveries had not arrived when the drain gave up`);
    if (!s.failed && (s.gaps || s.disorder)) {
      extra.push(`server ids: ${fmt(s.gaps)} skipped, ${fmt(s.disorder)} out of order or repeated`);
    }
    if (extra.length) out.push(`${fmt(s.n)} clients at ${s.rate}/s: ${extra.join('; ')}.`);
  }
  if (skipped.length) out.push(`Not run: ${skipped.join('; ')}.`);
  out.push(
    `Each step: a fresh server; N clients join ${oneRoom ? `room \`${ROOM}\`` : `rooms (client i in room i mod rooms)`}; ` +
      `${config.warmup} s warm-up; ${config.rounds} windows of ${(config.seconds / config.rounds).toFixed(1)} s. ` +
      `Every message goes to all ${oneRoom ? 'N' : 'N / rooms'} members of its room (sender included), so ` +
      `deliveries/s = sent/s × ${oneRoom ? 'N' : 'room size'} when the server keeps up; "of expected" is ` +
      'the median window over that. Deliveries per server CPU-s: median deliveries/s / server CPU. Latency: send → each reception, all receptions of messages sent in the windows (1 % buckets); ' +
      'send lag: how late the load generator sent against its schedule. ' +
      `CPU: process CPU time over the windows / their length (100 % = one core); other CPU: the machine's busy ` +
      `time meanwhile (/proc/stat) minus ours, i.e. other processes, out of ${cpuCount * 100} % (approximate: ` +
      '/proc/stat is sampled at each clock tick). Missing / dup: over all ' +
      'messages of the step (warm-up included), per client still open, once the backlog drained (or nothing ' +
      'arrived for 2 s, or 30 s); the server ids each client sees are also checked to be 1, 2, 3 … with no gap. ' +
      `Text ${config.size} characters; clients: ws ${wsVersion} (no permessage-deflate, UTF-8 validation off), ` +
      `all on 127.0.0.1; stepping stops after a step with p99 over ${config.maxP99} ms, deliveries under 95 % of ` +
      'expected, closes, or missing messages.',
  );
  out.push(
    `Server: ${SERVER_SCRIPT.startsWith(ROOT) ? relative(ROOT, SERVER_SCRIPT) : SERVER_SCRIPT} (MemoryStore, default limits). ` +
      `Node ${process.version}, ${cpuCount} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ` +
      (pin ? `server pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOAD_CPU}` : 'no CPU pinning') +
      `; load average ${loadAtStart} at start, ${loadAtEnd} at end; took ${elapsed().toFixed(0)} s.`,
  );
  out.push('');
  out.push(`Command: \`${command}\``);
  console.log(out.join('\n'));
  process.exit(0);
}

// ----------------------------------------------------------------------------------- entry

if (pin && process.env.CHAT_LOAD_PINNED !== LOAD_CPU) {
  // Re-run this script pinned; the parent only waits and forwards signals.
  const child = spawnOn(LOAD_CPU, process.execPath, [SELF, ...cliArgs], {
    stdio: 'inherit',
    env: { ...process.env, CHAT_LOAD_PINNED: LOAD_CPU },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
} else {
  await main();
}
