/**
 * Runs examples/autobahn-client/node.mjs (a child process on the built @fullduplex/node) against a
 * small fake Autobahn|Testsuite fuzzingserver written with `ws` (testkit's
 * peers/fake-fuzzingserver.mjs, in this process), and checks the whole protocol: the paths and agent it requests, the echoes of each case (text, binary, empty, fragmented with a
 * ping in between, a code point split across fragments, a 1 MiB + burst), who closes, exit code 0.
 * The real fuzzingserver cannot be installed here (no PyPI, no Docker).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type FakeFuzzingServer,
  showMessages,
  startFakeFuzzingServer,
} from '@fullduplex/testkit/peers/fake-fuzzingserver';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = 'examples/autobahn-client/node.mjs';
const BUILT = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function runExample(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`example did not exit within 15 s\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`),
      );
    }, 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('examples/autobahn-client against a fake fuzzingserver', () => {
  let server: FakeFuzzingServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('has the built package to run on', () => {
    // The example imports '@fullduplex/node', i.e. packages/node/dist: build it first (tsup).
    expect(existsSync(BUILT), `${BUILT} is missing: run tsup in packages/node first`).toBe(true);
  });

  it('follows the protocol: count, every case echoed until the server closes, reports for the agent', async () => {
    server = await startFakeFuzzingServer();
    const run = await runExample([server.url, 'agentX']);
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
      expect(report.error, report.url).toBeUndefined();
      expect(showMessages(report.echoes), report.url).toEqual(showMessages(report.expected));
      expect(report.clientClosedFirst, report.url).toBe(false);
      expect(report.clientClose, report.url).toEqual({ code: 1000, reason: '' });
    }
    expect(server.cases[1]!.pongs).toEqual(['mid']);

    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`3 cases, agent "agentX", fuzzing server ${server.url}`);
    expect(lines.slice(1, 4).map((l) => l.replace(/ \[\d+ ms\]$/, ''))).toEqual([
      'case 1/3: closed 1000',
      'case 2/3: closed 1000',
      'case 3/3: closed 1000',
    ]);
    expect(lines[4]).toMatch(/^reports updated for agent "agentX" \(3 cases in \d+\.\d s\)$/);
    expect(lines).toHaveLength(5);
  });

  it('defaults the agent to fullduplex-node and accepts a trailing slash on the base URL', async () => {
    server = await startFakeFuzzingServer();
    const run = await runExample([`${server.url}/`]);
    expect(run.code).toBe(0);
    expect(server.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=fullduplex-node',
      '/runCase?case=2&agent=fullduplex-node',
      '/runCase?case=3&agent=fullduplex-node',
      '/updateReports?agent=fullduplex-node',
    ]);
    expect(server.reportsAgent).toEqual(['fullduplex-node']);
    expect(server.cases.map((c) => c.error)).toEqual([undefined, undefined, undefined]);
  });

  it('exits 1 with a message when no fuzzing server answers', async () => {
    const dead = await startFakeFuzzingServer();
    const url = dead.url;
    await dead.stop();
    const run = await runExample([url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cannot get the case count from ws:\/\/127\.0\.0\.1:\d+: /);
  });
});
