/**
 * An independent coverage measurement for comparing runs (guided against baseline):
 * the inputs a run explored, replayed in a fresh process under NODE_V8_COVERAGE, and
 * the bytes of source that ran counted from the files V8 writes. A fresh process
 * reports every function, run or not, which in-process coverage (reset after each
 * input) cannot.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Range {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}
interface CoverageFile {
  readonly result: readonly {
    readonly url: string;
    readonly functions: readonly { readonly ranges: Range[] }[];
  }[];
}

/** Replays every file of `inputsDir` through `target` and returns, per script URL in `urls`, the bytes that ran. */
export async function measureCoverage(
  target: string,
  inputsDir: string,
  urls: readonly string[],
): Promise<Map<string, number>> {
  const coverageDir = await mkdtemp(join(tmpdir(), 'fuzz-coverage-'));
  try {
    const files = (await readdir(inputsDir)).map((name) => join(inputsDir, name));
    const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
    spawnSync(process.execPath, [cli, '--target', target, '--replay', ...files], {
      env: { ...process.env, NODE_V8_COVERAGE: coverageDir },
      stdio: 'ignore',
    });
    const ran = new Map<string, Uint8Array>();
    for (const name of await readdir(coverageDir)) {
      const file = JSON.parse(await readFile(join(coverageDir, name), 'utf8')) as CoverageFile;
      for (const script of file.result) {
        if (!urls.includes(script.url)) continue;
        // Outermost ranges first, so each byte ends up painted with its innermost range.
        const ranges = script.functions.flatMap((fn) => fn.ranges);
        ranges.sort((a, b) => b.endOffset - b.startOffset - (a.endOffset - a.startOffset));
        const size = ranges.reduce((end, range) => Math.max(end, range.endOffset), 0);
        const bytes = ran.get(script.url) ?? new Uint8Array(size);
        const painted = new Uint8Array(size);
        for (const range of ranges) painted.fill(range.count > 0 ? 1 : 0, range.startOffset, range.endOffset);
        for (let i = 0; i < size; i++) bytes[i]! |= painted[i]!;
        ran.set(script.url, bytes);
      }
    }
    return new Map([...ran].map(([url, bytes]) => [url, bytes.reduce((sum, byte) => sum + byte, 0)]));
  } finally {
    await rm(coverageDir, { recursive: true, force: true });
  }
}
