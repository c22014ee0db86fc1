/** The hand-written seeds are what their names say: checked against node:zlib and the RFC texts. */
import { constants, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SEEDS } from '../src/seeds.ts';
import { splitMessages } from '../src/targets/inflate.ts';

const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

function seed(target: string, name: string): Uint8Array {
  const found = SEEDS[target]?.find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`no seed ${JSON.stringify(name)} for ${target}`);
  return found.input;
}

function inflateMessage(data: Uint8Array): string {
  const input = new Uint8Array(data.length + 4);
  input.set(data);
  input.set(TAIL, data.length);
  return inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH }).toString('latin1');
}

describe('seeds', () => {
  it('RFC 6455 §5.7: the masked frame carries "Hello"', () => {
    const frame = seed('frames', 'rfc6455 masked "Hello"').subarray(2);
    const key = frame.subarray(2, 6);
    const payload = frame.subarray(6).map((byte, i) => byte ^ key[i % 4]!);
    expect(new TextDecoder().decode(payload)).toBe('Hello');
  });

  it.each([
    'rfc7692 "Hello" without context takeover (sync path)',
    'rfc7692 stored block (async one-shot path)',
    'rfc7692 final block (BFINAL)',
    'rfc7692 two blocks in one message',
  ])('RFC 7692 §7.2.3: %s inflates to "Hello"', (name) => {
    const [message] = splitMessages(seed('inflate', name).subarray(1));
    expect(inflateMessage(message!)).toBe('Hello');
  });

  it('every target has seeds, all distinct', () => {
    for (const [target, seeds] of Object.entries(SEEDS)) {
      expect(seeds.length, target).toBeGreaterThan(0);
      expect(new Set(seeds.map((s) => Buffer.from(s.input).toString('hex'))).size, target).toBe(seeds.length);
    }
  });
});
