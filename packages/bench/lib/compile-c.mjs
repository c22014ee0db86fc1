// Compiles one of the C load generators here (broadcast-load.c, echo-load.c) with the machine's
// cc into a temporary directory removed at exit. The C generators exist for servers faster than
// a JavaScript client can drive from one CPU; they speak the same flags and output.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usage } from './measure.mjs';

/** `cc` or `gcc`, whichever runs; undefined when neither does. */
function findCompiler() {
  return ['cc', 'gcc'].find((c) => {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Compiles `source` (a URL or path of a .c file) with -O2; returns `{ binary, label }`, the
 * label naming the file and the compiler. Exits 2 (usage) without a compiler or the source.
 */
export function compileLoadGenerator(source) {
  const file = source instanceof URL ? fileURLToPath(source) : source;
  const cc = findCompiler();
  if (cc === undefined || !existsSync(file)) usage(`--load c needs cc (or gcc) and ${basename(file)}`);
  const dir = mkdtempSync(join(tmpdir(), `${basename(file, '.c')}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const binary = join(dir, basename(file, '.c'));
  execFileSync(cc, ['-O2', '-o', binary, file], { stdio: 'inherit' });
  const version = execFileSync(cc, ['--version'], { encoding: 'utf8' }).split('\n', 1)[0];
  return { binary, label: `${basename(file)} (${version}, -O2)` };
}
