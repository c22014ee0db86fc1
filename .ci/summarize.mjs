// Adds up the test counts the runners printed (vitest, bun test, deno test) in a
// CI log and prints one closing line: "N passed, N failed".
import { readFileSync } from 'node:fs';

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const log = readFileSync(process.argv[2], 'utf8').replace(ansi, '');
let passed = 0;
let failed = 0;
for (const line of log.split('\n')) {
  // vitest: "Tests  2 failed | 40 passed (42)"
  let m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (m) {
    passed += Number(/(\d+) passed/.exec(m[1])?.[1] ?? 0);
    failed += Number(/(\d+) failed/.exec(m[1])?.[1] ?? 0);
    continue;
  }
  // deno test: "ok | 307 passed | 0 failed (8s)" / "FAILED | 3 passed | 1 failed"
  m = /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(line);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    continue;
  }
  // bun test: " 45 pass" / " 0 fail" on lines of their own
  m = /^(?:\S+:\s)?\s*(\d+) (pass|fail)\s*$/.exec(line);
  if (m) {
    if (m[2] === 'pass') passed += Number(m[1]);
    else failed += Number(m[1]);
  }
}
console.log(`${passed} passed, ${failed} failed`);
