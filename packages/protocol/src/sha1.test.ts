import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha1 } from './sha1.ts';

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** WebCrypto's SHA-1 as the reference; typed locally since the package has no DOM types. */
async function referenceSha1(data: Uint8Array): Promise<string> {
  const subtle = (
    globalThis as unknown as {
      crypto: { subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } };
    }
  ).crypto.subtle;
  return hex(new Uint8Array(await subtle.digest('SHA-1', data)));
}

describe('sha1', () => {
  // FIPS 180-2 Appendix A and the NIST example vectors.
  it('hashes "abc"', () => {
    expect(hex(sha1(ascii('abc')))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });

  it('hashes the empty string', () => {
    expect(hex(sha1(new Uint8Array(0)))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  });

  it('hashes the 448-bit message (padding spills into a second block)', () => {
    const message = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq';
    expect(hex(sha1(ascii(message)))).toBe('84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  });

  it('hashes the 896-bit message', () => {
    const message =
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu';
    expect(hex(sha1(ascii(message)))).toBe('a49b2446a02c645bf419f995b67091253a04a259');
  });

  it('hashes one million "a"', () => {
    expect(hex(sha1(new Uint8Array(1_000_000).fill(0x61)))).toBe('34aa973cd4c4daa4f61eeb2bdbad27316534016f');
  });

  it('returns 20 bytes and leaves its input alone', () => {
    const input = ascii('hello');
    const digest = sha1(input);
    expect(digest).toHaveLength(20);
    expect(input).toEqual(ascii('hello'));
  });

  it('hashes only the subarray it is given', () => {
    const view = ascii('xxabcxx').subarray(2, 5);
    expect(hex(sha1(view))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });

  it('matches WebCrypto at every length around the block boundaries', async () => {
    for (let length = 0; length <= 200; length++) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
      expect(hex(sha1(data))).toBe(await referenceSha1(data));
    }
  });

  it('matches WebCrypto on random input', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1000 }), async (data) => {
        expect(hex(sha1(data))).toBe(await referenceSha1(data));
      }),
      { numRuns: 200 },
    );
  });
});
