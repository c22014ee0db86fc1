/**
 * The fuzzing half in CI: a bounded coverage-guided run per target through the CLI
 * (fixed time, run budget and seed), failing on any finding; and checks that the
 * fuzzer itself works: guidance beats unguided mutation, findings fail the run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { latin1Bytes as latin1 } from '../src/bytes.ts';
import { TARGET_NAMES } from '../src/targets/index.ts';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** FUZZ_SECONDS and FUZZ_SEED let a developer run the same test longer or elsewhere. */
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 10);
const SEED = process.env.FUZZ_SEED ?? '1';

interface CliResult {
  readonly code: number | null;
  readonly output: string;
}

function runCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function lastProgress(output: string): { execs: number; features: number } {
  const lines = output.split('\n').filter((line) => line.includes(' execs ('));
  const match = /(\d+) execs .* features (\d+)/.exec(lines.at(-1) ?? '');
  if (match === null) throw new Error(`no progress line in:\n${output}`);
  return { execs: Number(match[1]), features: Number(match[2]) };
}

describe('bounded fuzzing', () => {
  it('has a built CLI', () => {
    expect(existsSync(CLI), `${CLI} is missing: run the build first (turbo does)`).toBe(true);
  });

  for (const target of TARGET_NAMES) {
    it(`${target}: ${SECONDS} s of coverage-guided fuzzing find nothing`, async () => {
      const crashDir = await mkdtemp(join(tmpdir(), 'fuzz-crashes-'));
      const args = ['--target', target, '--seconds', String(SECONDS), '--runs', '500000', '--seed', SEED];
      const result = await runCli([...args, '--crash-dir', crashDir, '--stats-every', '5']);
      // On a finding the output names the file with the input and how to replay it.
      expect(result.code, result.output).toBe(0);
      expect(lastProgress(result.output).execs).toBeGreaterThan(0);
    });
  }
});

describe('the fuzzer itself', () => {
  it('climbs deeper with coverage guidance than with the same mutations without it', async () => {
    const runs = ['--target', 'planted', '--runs', '1500', '--seed', '1', '--stats-every', '100'];
    const guided = await runCli(runs);
    const baseline = await runCli([...runs, '--baseline']);
    // Each condition of the ladder passed adds features; unguided mutation of the
    // starting input stays at the first rungs.
    expect(lastProgress(guided.output).features).toBeGreaterThan(lastProgress(baseline.output).features);
  });

  it('stops a worker stuck in an endless loop and writes the input it was running', async () => {
    const inputs = await mkdtemp(join(tmpdir(), 'fuzz-inputs-'));
    const crashDir = await mkdtemp(join(tmpdir(), 'fuzz-crashes-'));
    await writeFile(join(inputs, 'hang'), latin1('HANG'));
    const result = await runCli([
      '--target',
      'planted',
      '--runs',
      '10',
      '--timeout-ms',
      '200',
      '--inputs',
      inputs,
      '--crash-dir',
      crashDir,
    ]);
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain('endless loop');
    const [file] = await readdir(crashDir);
    expect(new Uint8Array(await readFile(join(crashDir, file!)))).toEqual(latin1('HANG'));
  });

  it('fails with exit code 1 on a failing input and writes it to the file it names', async () => {
    const inputs = await mkdtemp(join(tmpdir(), 'fuzz-inputs-'));
    const crashDir = await mkdtemp(join(tmpdir(), 'fuzz-crashes-'));
    // Low nibbles 3, 4, …, 10: the planted target's bug.
    const failing = Uint8Array.of(0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa);
    await writeFile(join(inputs, 'known-bug'), failing);
    const result = await runCli([
      '--target',
      'planted',
      '--runs',
      '10',
      '--inputs',
      inputs,
      '--crash-dir',
      crashDir,
    ]);
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain('planted bug reached');
    const [file] = await readdir(crashDir);
    expect(file).toBeDefined();
    expect(result.output).toContain(join(crashDir, file!));
    expect(new Uint8Array(await readFile(join(crashDir, file!)))).toEqual(failing);
  });
});
