/**
 * Runs examples/autobahn-client/deno.ts (`deno run -A`, from the repository root) against a small
 * fake Autobahn|Testsuite fuzzingserver on `ws` in a Node process (packages/testkit/src/peers/fake-fuzzingserver.mjs),
 * and checks the whole protocol: the paths and agent it requests, the echoes of each case (text,
 * binary, empty, fragmented with a ping in between, a code point split across fragments, 1 MiB + a
 * burst), who closes, the output, exit codes.
 */
import { describe, expect, it } from 'vitest';
import { Child, DENO, here, NODE, REPO_ROOT } from './support.ts';

const EXAMPLE = 'examples/autobahn-client/deno.ts';

interface Shown {
  binary: boolean;
  size: number;
  data: string;
}

interface Summary {
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

async function startFake(): Promise<{ url: string; finish(): Promise<Summary> }> {
  const child = new Child('fake fuzzingserver', NODE, [
    here('../../testkit/src/peers/fake-fuzzingserver.mjs'),
  ]);
  const [, port] = await child.waitFor(/^LISTENING (\d+)$/);
  return {
    url: `ws://127.0.0.1:${port}`,
    finish: async () => {
      await child.closeStdin();
      const summary = JSON.parse(await child.nextLine()) as Summary;
      await child.stop();
      return summary;
    },
  };
}

async function runExample(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Child('autobahn client', DENO, ['run', '-A', EXAMPLE, ...args], {
    cwd: REPO_ROOT,
    env: { NO_COLOR: '1' },
    stdin: false,
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const status = await child.exited;
  clearTimeout(timer);
  return { code: status.code, stdout: child.stdout, stderr: child.stderr };
}

describe('examples/autobahn-client/deno.ts against a fake fuzzingserver', () => {
  it('follows the protocol: count, every case echoed until the server closes, reports for the agent', async () => {
    const fake = await startFake();
    const run = await runExample([fake.url, 'agentX']);
    const server = await fake.finish();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=agentX',
      '/runCase?case=2&agent=agentX',
      '/runCase?case=3&agent=agentX',
      '/updateReports?agent=agentX',
    ]);
    expect(server.reportsAgent).toEqual(['agentX']);
    expect(server.cases).toHaveLength(3);
    for (const report of server.cases) {
      expect({ url: report.url, error: report.error, echoes: report.echoes }).toEqual({
        url: report.url,
        error: undefined,
        echoes: report.expected,
      });
      expect(report.clientClosedFirst).toBe(false);
      expect(report.clientClose).toEqual({ code: 1000, reason: '' });
    }
    expect(server.cases[1]!.pongs).toEqual(['mid']);

    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`3 cases, agent "agentX", fuzzing server ${fake.url}`);
    expect(lines.slice(1, 4).map((l) => l.replace(/ \[\d+ ms\]$/, ''))).toEqual([
      'case 1/3: closed 1000',
      'case 2/3: closed 1000',
      'case 3/3: closed 1000',
    ]);
    expect(lines[4]).toMatch(/^reports updated for agent "agentX" \(3 cases in \d+\.\d s\)$/);
    expect(lines).toHaveLength(5);
  });

  it('defaults the agent to fullduplex-deno and accepts a trailing slash on the base URL', async () => {
    const fake = await startFake();
    const run = await runExample([`${fake.url}/`]);
    const server = await fake.finish();
    expect(run.code).toBe(0);
    expect(server.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=fullduplex-deno',
      '/runCase?case=2&agent=fullduplex-deno',
      '/runCase?case=3&agent=fullduplex-deno',
      '/updateReports?agent=fullduplex-deno',
    ]);
    expect(server.reportsAgent).toEqual(['fullduplex-deno']);
    expect(server.cases.map((c) => c.error ?? null)).toEqual([null, null, null]);
  });

  it('exits 1 with a message when no fuzzing server answers, 2 with usage when given no URL', async () => {
    const fake = await startFake();
    const url = fake.url;
    await fake.finish();
    const run = await runExample([url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cannot get the case count from ws:\/\/127\.0\.0\.1:\d+: /);
    const usage = await runExample([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(`usage: deno run -A ${EXAMPLE} <base-url> [agent]\n`);
  });
});
