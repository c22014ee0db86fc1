/** The corpus and regression inputs on disk: one file per input, named by its SHA-1. */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/fuzz, from src/ (vitest) or dist/ (the built CLI) alike. */
export const PACKAGE_ROOT: string = fileURLToPath(new URL('..', import.meta.url));

export function corpusDir(target: string): string {
  return join(PACKAGE_ROOT, 'corpus', target);
}

export function regressionsDir(target: string): string {
  return join(PACKAGE_ROOT, 'regressions', target);
}

export function inputName(input: Uint8Array): string {
  return createHash('sha1').update(input).digest('hex');
}

export interface StoredInput {
  readonly name: string;
  readonly input: Uint8Array;
}

/** The files of `dir` sorted by name (so runs repeat), or none if it does not exist. */
export async function readInputs(dir: string): Promise<StoredInput[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names.map(async (name) => ({ name, input: new Uint8Array(await readFile(join(dir, name))) })),
  );
}

/** Makes `dir` hold exactly `inputs`, each named by its hash; returns how many files were added and removed. */
export async function replaceInputs(
  dir: string,
  inputs: readonly Uint8Array[],
): Promise<{ added: number; removed: number }> {
  await mkdir(dir, { recursive: true });
  const wanted = new Map(inputs.map((input) => [inputName(input), input]));
  const present = new Set((await readInputs(dir)).map((stored) => stored.name));
  let added = 0;
  let removed = 0;
  for (const name of present) {
    if (wanted.has(name)) continue;
    await rm(join(dir, name));
    removed++;
  }
  for (const [name, input] of wanted) {
    if (present.has(name)) continue;
    await writeFile(join(dir, name), input);
    added++;
  }
  return { added, removed };
}

/** Writes `input` into `dir` under its hash; returns the path. */
export async function writeInput(dir: string, input: Uint8Array, prefix = ''): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${prefix}${inputName(input)}`);
  await writeFile(path, input);
  return path;
}
