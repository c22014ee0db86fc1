/**
 * A short soak of ours on Node, Bun and Deno (examples/echo/*, each in its own process, with
 * soak-load.mjs in another): 2,000 connections for 20 s, a quarter closed and replaced every 5 s,
 * each sending a 16 B message a second. The same run as `bench:soak` at a smaller scale
 * (lib/soak.mjs). It fails on a lost echo, a connection the server drops or does not close,
 * descriptors left open, and memory that does not come back:
 *  - the JS heap used after full GCs once all are closed, against the same before any: the sharp
 *    test (a server that keeps every closed connection object grows it by several MiB here);
 *  - RSS after all closed (after full GCs) against the baseline, and the RSS slope over the
 *    steady part: generous bounds, for leaks outside the JS heap. A run this short is still
 *    warming up (heaps growing to their working size), and V8 and allocators keep pages they no
 *    longer need, so these only catch gross growth. The bounds leave room above what the
 *    runtime's own server (ws, Bun.serve, Deno.serve) shows in the same run.
 */
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { canPin, childProcesses } from '../lib/measure.mjs';
import { runSoak } from '../lib/soak.mjs';

const SHORT = {
  connections: 2000,
  duration: 20,
  replaceEvery: 5,
  replaceFraction: 0.25,
  warmup: 8,
  settle: 5,
};
/** MiB above the baseline allowed for RSS after all closed and full GCs. */
const RSS_MARGIN = { node: 64, bun: 48, deno: 128 };
/** MiB per minute over the steady part. */
const MAX_SLOPE = 150;
/** MiB of JS heap (after full GCs) above the baseline once all are closed. */
const HEAP_MARGIN = 4;

const { track } = childProcesses();
const placement = canPin(false) ? { serverCpu: String(cpus().length - 1), loadCpu: '0' } : {};

describe('short soak', () => {
  for (const key of ['node', 'bun', 'deno'] as const) {
    it(`${key}: every echo arrives and memory comes back`, async () => {
      const run = await runSoak(key, { ...SHORT, ...placement, track });
      const { summary: s, totals: t } = run;
      const report = JSON.stringify({ summary: s, totals: t });

      expect(t.errors, report).toEqual([]);
      expect(t.handshakeFailures + t.closedEarly + t.closeTimeouts, report).toBe(0);
      expect(t.unanswered, report).toBe(0);
      expect(t.answered, report).toBe(t.sent);
      expect(t.sent, report).toBeGreaterThan(0.5 * SHORT.connections * SHORT.duration);
      expect(t.cycles, report).toBeGreaterThanOrEqual(3);
      expect(t.opened, report).toBe(SHORT.connections * (1 + t.cycles * SHORT.replaceFraction));
      expect(s.exit.clean, report).toBe(true);
      expect(s.fdsAfterClose, report).toBeLessThanOrEqual((s.fdsBaseline ?? 0) + 8);

      expect(s.heapAfterClose - s.heapBaseline, report).toBeLessThan(HEAP_MARGIN);
      expect(s.afterGc - s.baseline, report).toBeLessThan(RSS_MARGIN[key]);
      expect(s.steady?.slopePerMinute ?? Number.POSITIVE_INFINITY, report).toBeLessThan(MAX_SLOPE);
    });
  }
});
