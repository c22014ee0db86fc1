import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from './base64.ts';

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

// RFC 4648 §10 test vectors.
const VECTORS: [string, string][] = [
  ['', ''],
  ['f', 'Zg=='],
  ['fo', 'Zm8='],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg=='],
  ['fooba', 'Zm9vYmE='],
  ['foobar', 'Zm9vYmFy'],
];

describe('encodeBase64', () => {
  it('encodes the RFC 4648 vectors', () => {
    for (const [plain, encoded] of VECTORS) expect(encodeBase64(ascii(plain))).toBe(encoded);
  });

  it('uses + and / for the last two sextets', () => {
    expect(encodeBase64(Uint8Array.of(0xfb, 0xff, 0xbf))).toBe('+/+/');
  });

  it('encodes a subarray, not its whole buffer', () => {
    const bytes = ascii('xxfooxx').subarray(2, 5);
    expect(encodeBase64(bytes)).toBe('Zm9v');
  });
});

describe('decodeBase64', () => {
  it('decodes the RFC 4648 vectors', () => {
    for (const [plain, encoded] of VECTORS) expect(decodeBase64(encoded)).toEqual(ascii(plain));
  });

  it('decodes the RFC 6455 sample key to 16 bytes', () => {
    expect(decodeBase64('dGhlIHNhbXBsZSBub25jZQ==')).toEqual(ascii('the sample nonce'));
  });

  it('rejects lengths that are not a multiple of 4', () => {
    for (const text of ['Z', 'Zg', 'Zg=', 'Zm9vY', 'Zm9v=']) expect(decodeBase64(text)).toBeUndefined();
  });

  it('rejects characters outside the standard alphabet', () => {
    for (const text of ['Zm9-', 'Zm9_', 'Zm 9', 'Zm9\n', 'Zm9\u00e9', 'Zm9\u0100', 'Zm9.']) {
      expect(decodeBase64(text)).toBeUndefined();
    }
  });

  it('rejects misplaced or excessive padding', () => {
    for (const text of ['=Zm8', 'Z=m8', 'Zm=8', 'Zg==Zg==', '====', 'A===', 'Zm9v====']) {
      expect(decodeBase64(text)).toBeUndefined();
    }
  });

  it('rejects non-canonical trailing bits', () => {
    expect(decodeBase64('Zg==')).toEqual(ascii('f'));
    expect(decodeBase64('Zh==')).toBeUndefined();
    expect(decodeBase64('Zm8=')).toEqual(ascii('fo'));
    expect(decodeBase64('Zm9=')).toBeUndefined();
  });

  it('round-trips arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      }),
    );
  });

  it('accepts exactly one encoding per byte string', () => {
    const alphabet = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ '.split(''),
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 16 }), (chars) => {
        const text = chars.join('');
        const decoded = decodeBase64(text);
        if (decoded !== undefined) expect(encodeBase64(decoded)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });
});
