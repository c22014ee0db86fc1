/**
 * The fuzzing worker: one target, one campaign (or a corpus minimization), with V8
 * coverage on this thread only. It runs in a worker so that the main thread can
 * stop it when an input hangs and still know which input that was.
 */
import { isBuiltin } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { corpusDir, inputName, readInputs, regressionsDir, replaceInputs } from './corpus.ts';
import { BlockCoverage } from './coverage.ts';
import { type Finding, Fuzzer } from './fuzzer.ts';
import type { FromWorker, WorkerTask } from './messages.ts';
import { Random } from './random.ts';
import { SEEDS } from './seeds.ts';
import { loadTarget } from './targets/index.ts';
import { SharedInput } from './watchdog.ts';

const task = workerData as WorkerTask;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread');
const send = (message: FromWorker): void => port.postMessage(message);

function moduleUrl(specifier: string): string {
  if (specifier.startsWith('file:') || isBuiltin(specifier)) return specifier;
  return import.meta.resolve(specifier);
}

function unique(inputs: readonly Uint8Array[]): Uint8Array[] {
  return [...new Map(inputs.map((input) => [inputName(input), input])).values()];
}

async function main(): Promise<void> {
  const target = await loadTarget(task.target);
  const shared = new SharedInput(task.shared);
  const coverage = new BlockCoverage(target.coverageModules.map(moduleUrl));
  coverage.start();
  const fuzzer = new Fuzzer({
    target,
    coverage,
    random: new Random(task.seed),
    guided: task.guided,
    timeoutMs: task.timeoutMs,
    onStart: (input) => shared.start(input),
    onEnd: () => shared.end(),
  });
  const started = performance.now();
  const report = (final = false): void => {
    const seconds = (performance.now() - started) / 1000;
    send({ type: 'progress', progress: { ...fuzzer.progress, seconds }, final });
  };
  const reportFinding = async (finding: Finding): Promise<void> => {
    const { execs } = fuzzer.progress;
    send({
      type: 'log',
      text: `${finding.kind} after ${execs} execs: shrinking the input (${finding.input.length} bytes)`,
    });
    const shrunk = await fuzzer.shrink(finding, task.shrinkMs);
    send({ type: 'finding', finding, shrunk });
  };

  // Initial corpus: the seeds, the stored corpus and the regression inputs. Any of them
  // failing is a regression, reported before fuzzing starts.
  const seeds = (SEEDS[task.target] ?? []).map((seed) => seed.input);
  const stored = task.seedsOnly ? [] : (await readInputs(corpusDir(task.target))).map((entry) => entry.input);
  const regressions = task.seedsOnly
    ? []
    : (await readInputs(regressionsDir(task.target))).map((entry) => entry.input);
  const extra: Uint8Array[] = [];
  for (const dir of task.extraInputs) extra.push(...(await readInputs(dir)).map((entry) => entry.input));
  const initial = task.startEmpty ? [] : unique([...seeds, ...stored, ...regressions, ...extra]);
  if (initial.length === 0) initial.push(new Uint8Array(task.startEmpty ? 2 : 8));
  for (const input of initial) {
    const finding = await fuzzer.consider(input, true);
    if (finding) return reportFinding(finding);
  }
  send({ type: 'log', text: `${initial.length} initial inputs, ${fuzzer.progress.features} features` });

  if (task.mode === 'fuzz') {
    const deadline = performance.now() + task.seconds * 1000;
    const finding = await fuzzer.fuzz({ deadline, runs: task.runs }, report);
    report(true);
    if (finding) return reportFinding(finding);
  }
  if (task.saveExplored !== undefined) await replaceInputs(task.saveExplored, fuzzer.explored);

  if (task.merge) {
    // Regression inputs stay in regressions/; everything else competes for a place in the corpus.
    const seedNames = new Set(seeds.map(inputName));
    const regressionNames = new Set(regressions.map(inputName));
    const candidates = unique(fuzzer.corpus).filter((input) => !regressionNames.has(inputName(input)));
    const kept = await fuzzer.distill(candidates, (input) => seedNames.has(inputName(input)));
    const { added, removed } = await replaceInputs(corpusDir(task.target), kept);
    const bytes = kept.reduce((sum, input) => sum + input.length, 0);
    send({
      type: 'log',
      text: `corpus/${task.target}: ${kept.length} inputs (${bytes} bytes), ${added} added, ${removed} removed`,
    });
  }
  coverage.stop();
  send({ type: 'done' });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
});
