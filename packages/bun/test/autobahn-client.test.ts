/**
 * Runs examples/autobahn-client/bun.ts (a child process on the built @fullduplex/bun) against a
 * small fake Autobahn|Testsuite fuzzingserver (`ws` on Node: packages/testkit/src/peers/fake-fuzzingserver.mjs) and
 * checks the whole convention: the paths and agent it requests, the echoes of each case (text,
 * binary, empty, fragmented with a ping in between, a code point split across fragments, a 1 MiB +
 * burst), who closes, the output, exit code 0 (1 when no fuzzing server answers).
 */
import { afterAll, describe, expect, it } from 'bun:test';
import { type ChildServer, killChildren, NODE, ROOT, spawnServer, stopServer } from './support.ts';

/** Per test and hook: child processes and browsers are slow on a busy machine. */
const TIMEOUT = 20_000;

afterAll(killChildren);

const EXAMPLE = 'examples/autobahn-client/bun.ts';

interface Shown {
  binary: boolean;
  size: number;
  data: string;
}

interface FuzzingReport {
  requests: string[];
  reportsAgent: string[];
  cases: Array<{
    url: string;
    echoes: Shown[];
    expected: Shown[];
    pongs: string[];
    clientClose?: { code: number; reason: string };
    clientClosedFirst: boolean;
    error?: string;
  }>;
}

function startFuzzingServer(): Promise<ChildServer> {
  return spawnServer([NODE, `${ROOT}packages/testkit/src/peers/fake-fuzzingserver.mjs`], /^LISTENING (\d+)$/);
}

/** Stops the fake server and returns what it saw. */
async function reportOf(server: ChildServer): Promise<FuzzingReport> {
  await stopServer(server);
  return JSON.parse(await server.nextLine(1000)) as FuzzingReport;
}

async function runExample(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, EXAMPLE, ...args], {
    cwd: ROOT,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { code: child.exitCode, stdout, stderr };
}

describe('examples/autobahn-client/bun.ts against a fake fuzzingserver', () => {
  it(
    'follows the protocol: count, every case echoed until the server closes, reports for the agent',
    async () => {
      const server = await startFuzzingServer();
      const run = await runExample([server.url, 'agentX']);
      const report = await reportOf(server);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);

      expect(report.requests).toEqual([
        '/getCaseCount',
        '/runCase?case=1&agent=agentX',
        '/runCase?case=2&agent=agentX',
        '/runCase?case=3&agent=agentX',
        '/updateReports?agent=agentX',
      ]);
      expect(report.reportsAgent).toEqual(['agentX']);
      expect(report.cases).toHaveLength(3);
      for (const c of report.cases) {
        expect({ url: c.url, error: c.error }).toEqual({ url: c.url, error: undefined });
        expect(c.echoes).toEqual(c.expected);
        expect({ url: c.url, clientClosedFirst: c.clientClosedFirst }).toEqual({
          url: c.url,
          clientClosedFirst: false,
        });
        expect(c.clientClose).toEqual({ code: 1000, reason: '' });
      }
      expect(report.cases[1]!.pongs).toEqual(['mid']);

      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe(`3 cases, agent "agentX", fuzzing server ${server.url}`);
      expect(lines.slice(1, 4).map((l) => l.replace(/ \[\d+ ms\]$/, ''))).toEqual([
        'case 1/3: closed 1000',
        'case 2/3: closed 1000',
        'case 3/3: closed 1000',
      ]);
      expect(lines[4]).toMatch(/^reports updated for agent "agentX" \(3 cases in \d+\.\d s\)$/);
      expect(lines).toHaveLength(5);
    },
    TIMEOUT,
  );

  it(
    'defaults the agent to fullduplex-bun and accepts a trailing slash on the base URL',
    async () => {
      const server = await startFuzzingServer();
      const run = await runExample([`${server.url}/`]);
      const report = await reportOf(server);
      expect(run.code).toBe(0);
      expect(report.requests).toEqual([
        '/getCaseCount',
        '/runCase?case=1&agent=fullduplex-bun',
        '/runCase?case=2&agent=fullduplex-bun',
        '/runCase?case=3&agent=fullduplex-bun',
        '/updateReports?agent=fullduplex-bun',
      ]);
      expect(report.reportsAgent).toEqual(['fullduplex-bun']);
      expect(report.cases.map((c) => c.error)).toEqual([undefined, undefined, undefined]);
    },
    TIMEOUT,
  );

  it(
    'exits 1 with a message when no fuzzing server answers; 2 with usage without arguments',
    async () => {
      const dead = await startFuzzingServer();
      const url = dead.url;
      await stopServer(dead);
      const run = await runExample([url]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^cannot get the case count from ws:\/\/127\.0\.0\.1:\d+: /);
      const usage = await runExample([]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toBe('usage: bun examples/autobahn-client/bun.ts <base-url> [agent]\n');
    },
    TIMEOUT,
  );
});
