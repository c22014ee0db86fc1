/**
 * A small stand-in for the parts of `vitest` our suites use, so the very same
 * test files run under `deno test`. Deno's `deno.json` import maps point
 * `vitest` here. `expect` is Jest's own implementation from npm.
 *
 * Supported: describe, it/test, beforeAll, afterAll, beforeEach, afterEach,
 * expect. Nested describes flatten into test names joined with " > ".
 */
import { expect } from 'expect';

export { expect };

type Hook = () => unknown | Promise<unknown>;
type TestFn = () => unknown | Promise<unknown>;

interface Scope {
  name: string;
  parent: Scope | undefined;
  beforeAll: Hook[];
  afterAll: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  tests: number;
  started: number;
  finished: number;
  closed: boolean;
}

interface DenoTestApi {
  test(options: {
    name: string;
    fn: () => Promise<void>;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
}

const denoGlobal = (globalThis as unknown as { Deno?: DenoTestApi }).Deno;
if (!denoGlobal) {
  throw new Error('deno-vitest shim loaded outside Deno');
}
const Deno: DenoTestApi = denoGlobal;

const root: Scope = newScope('', undefined);
let current: Scope = root;

function newScope(name: string, parent: Scope | undefined): Scope {
  return {
    name,
    parent,
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
    tests: 0,
    started: 0,
    finished: 0,
    closed: parent === undefined,
  };
}

function chain(scope: Scope): Scope[] {
  const out: Scope[] = [];
  for (let s: Scope | undefined = scope; s; s = s.parent) out.unshift(s);
  return out;
}

export function describe(name: string, body: () => void): void {
  const scope = newScope(name, current);
  const saved = current;
  current = scope;
  try {
    body();
  } finally {
    current = saved;
    scope.closed = true;
  }
}

async function runHooks(hooks: Hook[]): Promise<void> {
  for (const hook of hooks) await hook();
}

export function it(name: string, fn: TestFn, _timeout?: number): void {
  const scope = current;
  const scopes = chain(scope);
  for (const s of scopes) s.tests++;
  const fullName = [...scopes.map((s) => s.name).filter(Boolean), name].join(' > ');
  Deno.test({
    name: fullName,
    // Network tests keep sockets and timers across hooks; the suites assert their own cleanup.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      for (const s of scopes) {
        if (s.started++ === 0) await runHooks(s.beforeAll);
      }
      try {
        for (const s of scopes) await runHooks(s.beforeEach);
        try {
          await fn();
        } finally {
          for (const s of [...scopes].reverse()) await runHooks(s.afterEach);
        }
      } finally {
        for (const s of [...scopes].reverse()) {
          if (++s.finished === s.tests && s.closed) await runHooks(s.afterAll);
        }
      }
    },
  });
}

export const test = it;

export function beforeAll(hook: Hook): void {
  current.beforeAll.push(hook);
}
export function afterAll(hook: Hook): void {
  current.afterAll.push(hook);
}
export function beforeEach(hook: Hook): void {
  current.beforeEach.push(hook);
}
export function afterEach(hook: Hook): void {
  current.afterEach.push(hook);
}
