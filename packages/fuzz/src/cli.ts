/**
 * The fuzzer's command line. Runs one campaign per target in a worker thread and
 * watches it; writes what it finds to the crash directory and exits 1.
 *
 *   node dist/cli.js --target http --seconds 600 --merge     a campaign; keep new coverage in corpus/
 *   node dist/cli.js --target all --seconds 10 --runs 100000 --seed 1   the bounded CI run
 *   node dist/cli.js --target frames --replay FILE...         run stored inputs once
 *   node dist/cli.js --target inflate --distill --merge       re-minimize corpus/inflate
 *   node dist/cli.js --write-seeds                            store the hand-written seeds
 *   node dist/cli.js --target http --seeds-only --baseline --measure
 *       unguided mutation of the seeds, and how much code the inputs it explored run
 *   node dist/cli.js --target frames --inputs DIR             start from more inputs than corpus/ and regressions/
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { corpusDir, PACKAGE_ROOT, writeInput } from './corpus.ts';
import type { Finding, Progress } from './fuzzer.ts';
import { measureCoverage } from './measure.ts';
import type { FromWorker, WorkerTask } from './messages.ts';
import { replay } from './replay.ts';
import { SEEDS } from './seeds.ts';
import { loadTarget, TARGET_NAMES } from './targets/index.ts';
import { SharedInput } from './watchdog.ts';

const USAGE = `usage: node dist/cli.js [--target NAME|all] [--seconds N] [--runs N] [--seed N] [--merge]
         [--baseline] [--seeds-only | --start-empty] [--inputs DIR]... [--measure] [--save-explored DIR]
         [--timeout-ms N] [--crash-dir DIR] [--stats-every N]
       node dist/cli.js --target NAME --distill [--merge]
       node dist/cli.js --target NAME --replay FILE...
       node dist/cli.js --write-seeds
targets: ${TARGET_NAMES.join(', ')}, planted`;

const { values: args, positionals } = parseArgs({
  // `pnpm run fuzz -- --target x` passes the `--` on.
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  allowPositionals: true,
  options: {
    target: { type: 'string', default: 'all' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: String(Number.MAX_SAFE_INTEGER) },
    seed: { type: 'string' },
    merge: { type: 'boolean', default: false },
    measure: { type: 'boolean', default: false },
    'save-explored': { type: 'string' },
    baseline: { type: 'boolean', default: false },
    'seeds-only': { type: 'boolean', default: false },
    'start-empty': { type: 'boolean', default: false },
    inputs: { type: 'string', multiple: true, default: [] },
    distill: { type: 'boolean', default: false },
    replay: { type: 'boolean', default: false },
    'write-seeds': { type: 'boolean', default: false },
    'timeout-ms': { type: 'string', default: '1000' },
    'crash-dir': { type: 'string', default: join(PACKAGE_ROOT, 'crashes') },
    'stats-every': { type: 'string', default: '5' },
    help: { type: 'boolean', default: false },
  },
});

function numberArg(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

const timeoutMs = numberArg('timeout-ms', args['timeout-ms']);
/** A synchronous loop is only caught from outside; slow-but-finishing inputs get time to be measured first. */
const watchdogMs = 2 * timeoutMs + 1000;

function formatProgress(target: string, p: Progress): string {
  const rate = p.seconds > 0 ? Math.round(p.execs / p.seconds) : 0;
  return `[${target}] ${p.seconds.toFixed(1)}s  ${p.execs} execs (${rate}/s)  corpus ${p.corpus}  features ${p.features}  ranges ${p.ranges}`;
}

interface Outcome {
  readonly finding?: Finding;
  readonly shrunk?: Finding;
  readonly failure?: string;
}

/** Runs one task in a worker; a watchdog stops it when one input runs for too long. */
function runWorker(task: Omit<WorkerTask, 'shared'>, statsEverySeconds: number): Promise<Outcome> {
  const shared = new SharedInput();
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { ...task, shared: shared.buffer } satisfies WorkerTask,
    // An input that makes the target allocate without bound is a finding, not an OOM of the machine.
    resourceLimits: { maxOldGenerationSizeMb: 2048 },
  });
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let lastPrinted = 0;
    let watched = { generation: -1, since: performance.now() };
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(outcome);
    };
    const stuckInput = (why: string): Outcome => {
      const { input, truncated } = shared.current();
      const message = `${why}${truncated ? ' (input truncated to the shared buffer)' : ''}`;
      const finding: Finding = { kind: 'timeout', message, input };
      return { finding, shrunk: finding };
    };
    const watchdog = setInterval(() => {
      const generation = shared.generation;
      if (generation !== watched.generation) {
        watched = { generation, since: performance.now() };
        return;
      }
      if (generation % 2 === 1 && performance.now() - watched.since > watchdogMs) {
        settle(stuckInput(`no progress for ${watchdogMs} ms on one input: an endless loop?`));
      }
    }, 200);
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'progress':
          if (message.final || message.progress.seconds - lastPrinted >= statsEverySeconds) {
            lastPrinted = message.progress.seconds;
            console.log(formatProgress(task.target, message.progress));
          }
          return;
        case 'log':
          console.log(`[${task.target}] ${message.text}`);
          return;
        case 'finding':
          settle({ finding: message.finding, shrunk: message.shrunk });
          return;
        case 'error':
          settle({ failure: message.message });
          return;
        case 'done':
          settle({});
      }
    });
    // An uncaught exception or an out-of-memory in the worker: blame the input it was running.
    worker.on('error', (error) => settle(stuckInput(`the worker died: ${error.stack ?? error.message}`)));
    worker.on('exit', (code) => settle(code === 0 ? {} : stuckInput(`the worker exited with code ${code}`)));
  });
}

async function reportFinding(target: string, finding: Finding, shrunk: Finding): Promise<void> {
  const crashDir = args['crash-dir'];
  const path = await writeInput(crashDir, shrunk.input, `${target}-${shrunk.kind}-`);
  console.error(`\n[${target}] FOUND a ${finding.kind}:\n${shrunk.message}\n`);
  console.error(`[${target}] input (${shrunk.input.length} bytes) written to ${path}`);
  if (shrunk.input.length !== finding.input.length) {
    const original = await writeInput(crashDir, finding.input, `${target}-${finding.kind}-original-`);
    console.error(`[${target}] before shrinking (${finding.input.length} bytes): ${original}`);
  }
  const cli = relative(process.cwd(), join(PACKAGE_ROOT, 'dist', 'cli.js'));
  console.error(`[${target}] reproduce: node ${cli} --target ${target} --replay ${path}`);
  console.error(
    `[${target}] keep it as a regression test: cp ${path} ${join(PACKAGE_ROOT, 'regressions', target)}/<what-it-is>`,
  );
}

/** How much of each module the target covers ran for the inputs the run explored. */
async function reportCoverage(targetName: string, exploredDir: string): Promise<void> {
  if (!args.measure) return;
  const target = await loadTarget(targetName);
  const urls = target.coverageModules.map((specifier) =>
    specifier.startsWith('file:') || specifier.startsWith('node:')
      ? specifier
      : import.meta.resolve(specifier),
  );
  const inputs = (await readdir(exploredDir)).length;
  for (const [url, bytes] of await measureCoverage(targetName, exploredDir, urls)) {
    console.log(`[${targetName}] ${inputs} inputs explored run ${bytes} bytes of ${url}`);
  }
}

async function replayFiles(targetName: string, files: readonly string[]): Promise<boolean> {
  const target = await loadTarget(targetName);
  let ok = true;
  for (const file of files) {
    try {
      const ms = await replay(target, new Uint8Array(await readFile(file)), timeoutMs);
      console.log(`ok    ${file} (${ms.toFixed(1)} ms)`);
    } catch (error) {
      ok = false;
      console.log(
        `FAIL  ${file}\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }
  return ok;
}

async function main(): Promise<number> {
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args['write-seeds']) {
    for (const [target, seeds] of Object.entries(SEEDS)) {
      for (const seed of seeds) await writeInput(corpusDir(target), seed.input);
      console.log(`corpus/${target}: ${seeds.length} seeds written`);
    }
    return 0;
  }
  const targets = args.target === 'all' ? TARGET_NAMES : [args.target];
  for (const name of targets) await loadTarget(name); // fail early on a typo
  if (args.replay) {
    if (targets.length !== 1 || positionals.length === 0) {
      console.error(`--replay needs one --target and files\n${USAGE}`);
      return 2;
    }
    return (await replayFiles(targets[0]!, positionals)) ? 0 : 1;
  }
  if (args.merge && (args['seeds-only'] || args['start-empty'])) {
    console.error('--merge with --seeds-only or --start-empty would drop the stored corpus');
    return 2;
  }
  const seed = args.seed === undefined ? (Date.now() % 0x100000000) >>> 0 : numberArg('seed', args.seed);
  console.log(`seed ${seed}${args.baseline ? ' (baseline: no coverage guidance)' : ''}`);
  for (const target of targets) {
    const explored = args.measure
      ? (args['save-explored'] ?? (await mkdtemp(join(tmpdir(), `fuzz-explored-${target}-`))))
      : args['save-explored'];
    const outcome = await runWorker(
      {
        target,
        mode: args.distill ? 'distill' : 'fuzz',
        seconds: numberArg('seconds', args.seconds),
        runs: numberArg('runs', args.runs),
        seed,
        guided: !args.baseline,
        seedsOnly: args['seeds-only'],
        startEmpty: args['start-empty'],
        extraInputs: args.inputs,
        merge: args.merge,
        saveExplored: explored,
        timeoutMs,
        shrinkMs: 20_000,
      },
      numberArg('stats-every', args['stats-every']),
    );
    if (outcome.failure !== undefined) {
      console.error(`[${target}] the fuzzer itself failed:\n${outcome.failure}`);
      return 3;
    }
    if (outcome.finding && outcome.shrunk) {
      await reportFinding(target, outcome.finding, outcome.shrunk);
      return 1;
    }
    if (explored !== undefined) await reportCoverage(target, explored);
  }
  return 0;
}

process.exitCode = await main();
