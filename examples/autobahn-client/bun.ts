// Autobahn|Testsuite client driver on @fullduplex/bun.
//
//   bun examples/autobahn-client/bun.ts <base-url> [agent]
//
// Runs every case of a running `wstest -m fuzzingserver` (e.g. ws://127.0.0.1:9001):
//   1. <base-url>/getCaseCount                  reads one text message: the number of cases;
//   2. <base-url>/runCase?case=N&agent=<agent>   for N in 1..count, echoes every text/binary
//                                                message back with the same type until the
//                                                server closes;
//   3. <base-url>/updateReports?agent=<agent>    waits for the server to close (reports written).
// The agent defaults to `fullduplex-bun`. Prints one line per case; exits 0 once the reports
// were requested, 1 if the fuzzing server could not be reached.
import { type ClientOptions, connect } from '@fullduplex/bun';

const [baseArg, agentArg] = process.argv.slice(2);
if (!baseArg || baseArg === '-h' || baseArg === '--help') {
  console.error('usage: bun examples/autobahn-client/bun.ts <base-url> [agent]');
  process.exit(baseArg ? 0 : 2);
}
const base = baseArg.replace(/\/+$/, '');
const agent = agentArg ?? 'fullduplex-bun';

// Autobahn sends messages up to 16 MiB, some split into 64-byte frames (65 536 fragments).
const OPTIONS: ClientOptions = {
  maxMessageSize: 64 * 1024 * 1024,
  maxFrameSize: 64 * 1024 * 1024,
  maxFragments: 1024 * 1024,
  maxBufferedAmount: 256 * 1024 * 1024,
  handshakeTimeout: 30_000,
  closeTimeout: 10_000,
};

/** `<base><path>?k=v&…`, values percent-encoded (a space as %20, which every query parser decodes). */
const url = (path: string, params: Record<string, string> = {}): string => {
  const query = Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return query.length > 0 ? `${base}${path}?${query.join('&')}` : `${base}${path}`;
};

interface CaseResult {
  code: number;
  reason: string;
  wasClean: boolean;
  errors: string[];
}

/** Connects and echoes until the server closes. Resolves with the close and any errors reported. */
async function echoUntilClosed(target: string): Promise<CaseResult> {
  const ws = await connect(target, OPTIONS);
  const errors: string[] = [];
  ws.on('error', (error) => errors.push((error as Error & { code?: string }).code ?? error.message));
  // for-await + sendAsync: a slow echo (big messages) holds the next message back and, past
  // maxQueuedMessages, pauses reading, so the peer cannot make us buffer without bound.
  for await (const message of ws) {
    try {
      await ws.sendAsync(message, { binary: typeof message !== 'string' });
    } catch {
      // The connection is closing (e.g. the peer failed it); keep draining until it is closed.
    }
  }
  const close = await ws.closed();
  return { ...close, errors };
}

async function getCaseCount(): Promise<number> {
  const ws = await connect(url('/getCaseCount'), OPTIONS);
  let count: number | undefined;
  for await (const message of ws) {
    count = Number(typeof message === 'string' ? message : new TextDecoder().decode(message));
    break;
  }
  // The fuzzing server closes right after sending the count; do not hang if it does not.
  const timer = setTimeout(() => ws.close(1000), 5_000);
  await ws.closed();
  clearTimeout(timer);
  if (count === undefined || !Number.isInteger(count) || count < 0) {
    throw new Error(`getCaseCount: bad case count ${count}`);
  }
  return count;
}

let count: number;
try {
  count = await getCaseCount();
} catch (error) {
  console.error(`cannot get the case count from ${base}: ${(error as Error).message}`);
  process.exit(1);
}
console.log(`${count} cases, agent "${agent}", fuzzing server ${base}`);

const started = performance.now();
for (let n = 1; n <= count; n++) {
  const t0 = performance.now();
  let line: string;
  try {
    const { code, reason, wasClean, errors } = await echoUntilClosed(
      url('/runCase', { case: String(n), agent }),
    );
    line = `closed ${code}${reason ? ` "${reason}"` : ''}${wasClean ? '' : ' (unclean)'}`;
    if (errors.length > 0) line += ` errors: ${errors.join(', ')}`;
  } catch (error) {
    line = `failed: ${(error as Error).message}`;
  }
  console.log(`case ${n}/${count}: ${line} [${Math.round(performance.now() - t0)} ms]`);
}

try {
  await echoUntilClosed(url('/updateReports', { agent }));
  console.log(
    `reports updated for agent "${agent}" (${count} cases in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
} catch (error) {
  console.error(`updateReports failed: ${(error as Error).message}`);
}
process.exit(0);
