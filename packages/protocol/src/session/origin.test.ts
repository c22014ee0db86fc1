import { describe, expect, it } from 'vitest';
import { originAllowlist } from './origin.ts';

describe('originAllowlist', () => {
  it('matches exact origins case-insensitively, with default ports optional', () => {
    const allowed = originAllowlist(['https://Example.com', 'http://localhost:3000']);
    expect(allowed('https://example.com')).toBe(true);
    expect(allowed('https://EXAMPLE.COM:443')).toBe(true);
    expect(allowed('http://localhost:3000')).toBe(true);
    expect(allowed('http://example.com')).toBe(false); // another scheme
    expect(allowed('https://example.com:8443')).toBe(false); // another port
    expect(allowed('http://localhost:3001')).toBe(false);
    expect(allowed('https://example.com.evil.test')).toBe(false);
    expect(allowed('https://evilexample.com')).toBe(false);
  });

  it('a *. host matches any subdomain, not the bare domain nor look-alikes', () => {
    const allowed = originAllowlist(['https://*.example.com']);
    expect(allowed('https://a.example.com')).toBe(true);
    expect(allowed('https://a.b.example.com')).toBe(true);
    expect(allowed('https://example.com')).toBe(false);
    expect(allowed('https://aexample.com')).toBe(false);
    expect(allowed('https://a.example.com.evil.test')).toBe(false);
    expect(allowed('http://a.example.com')).toBe(false);
  });

  it('refuses what is not an origin, and the opaque origin unless listed', () => {
    const allowed = originAllowlist(['https://example.com']);
    for (const origin of [
      'null',
      '',
      'example.com',
      'https://example.com/',
      'https://example.com/path',
      'https://u@example.com',
      'https://*.com',
    ]) {
      expect(allowed(origin)).toBe(false);
    }
    expect(originAllowlist(['null'])('null')).toBe(true);
  });

  it('a missing Origin (not a browser) is allowed unless allowMissing is false', () => {
    expect(originAllowlist(['https://example.com'])(undefined)).toBe(true);
    expect(originAllowlist(['https://example.com'], { allowMissing: false })(undefined)).toBe(false);
  });

  it('rejects entries that are not origins', () => {
    expect(() => originAllowlist(['example.com'])).toThrow(TypeError);
    expect(() => originAllowlist(['https://example.com/'])).toThrow(TypeError);
  });
});
