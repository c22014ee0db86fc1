import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  asciiLowerCase,
  containsTokenIgnoringCase,
  type ExtensionOffer,
  formatExtensionOffers,
  isToken,
  isTokenChar,
  parseExtensionOffers,
  parseTokenList,
  parseUpgradeList,
} from './header-values.ts';

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const token = fc.string({ unit: fc.constantFrom(...TCHARS.split('')), minLength: 1, maxLength: 12 });

describe('isToken', () => {
  it('accepts every tchar', () => {
    expect(isToken(TCHARS)).toBe(true);
  });

  it('rejects the empty string, separators, controls and non-ASCII', () => {
    for (const s of [
      '',
      'a b',
      'a,b',
      'a;b',
      'a=b',
      '"a"',
      'a/b',
      'a:b',
      '(a)',
      'a\tb',
      'a\u0000',
      'a\u007f',
      'é',
    ]) {
      expect(isToken(s)).toBe(false);
    }
  });

  it('agrees with isTokenChar for every code below 256', () => {
    for (let code = 0; code < 256; code++) {
      expect(isToken(String.fromCharCode(code))).toBe(isTokenChar(code));
      expect(isTokenChar(code)).toBe(TCHARS.includes(String.fromCharCode(code)));
    }
  });
});

describe('parseTokenList', () => {
  it('splits on commas and trims optional whitespace', () => {
    expect(parseTokenList('chat, superchat')).toEqual(['chat', 'superchat']);
    expect(parseTokenList(' \tkeep-alive ,Upgrade\t')).toEqual(['keep-alive', 'Upgrade']);
  });

  it('skips empty elements (RFC 7230 §7)', () => {
    expect(parseTokenList(',a,, ,b,')).toEqual(['a', 'b']);
    expect(parseTokenList('')).toEqual([]);
    expect(parseTokenList(' , ')).toEqual([]);
  });

  it('keeps case and duplicates', () => {
    expect(parseTokenList('Chat, chat, Chat')).toEqual(['Chat', 'chat', 'Chat']);
  });

  it('rejects elements that are not tokens', () => {
    for (const value of ['a b', 'a, b c', 'a;b', '"a"', 'a/1', 'é', 'a,\u0000']) {
      expect(parseTokenList(value)).toBeUndefined();
    }
  });

  it('is linear on long runs of whitespace (ws CVE-2021-32640)', () => {
    const spaces = ' '.repeat(65536);
    expect(parseTokenList(`a,${spaces}b`)).toEqual(['a', 'b']);
    expect(parseTokenList(`a${spaces}b`)).toBeUndefined();
    expect(parseTokenList(`${spaces}a${spaces}`)).toEqual(['a']);
    expect(parseTokenList(`a${',\t'.repeat(65536)}`)).toEqual(['a']);
  });

  it('never throws and round-trips token lists', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (value) => {
        const list = parseTokenList(value);
        if (list !== undefined) for (const item of list) expect(isToken(item)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 6 }), (items) => {
        expect(parseTokenList(items.join(' , '))).toEqual(items);
      }),
    );
  });
});

describe('parseUpgradeList', () => {
  it('accepts protocol names with optional versions', () => {
    expect(parseUpgradeList('websocket')).toEqual(['websocket']);
    expect(parseUpgradeList('HTTP/2.0, WebSocket')).toEqual(['HTTP/2.0', 'WebSocket']);
  });

  it('rejects malformed elements', () => {
    for (const value of ['web socket', 'websocket/', '/13', 'a/b/c', 'a /b']) {
      expect(parseUpgradeList(value)).toBeUndefined();
    }
  });
});

describe('containsTokenIgnoringCase', () => {
  it('compares ASCII case-insensitively', () => {
    expect(containsTokenIgnoringCase(['keep-alive', 'UpGrAdE'], 'upgrade')).toBe(true);
    expect(containsTokenIgnoringCase(['keep-alive'], 'upgrade')).toBe(false);
  });

  it('does not apply Unicode case folding', () => {
    // U+212A KELVIN SIGN lowercases to "k" under Unicode rules.
    expect(asciiLowerCase('\u212A')).toBe('\u212A');
    expect(containsTokenIgnoringCase(['\u212Aeep'], 'keep')).toBe(false);
    expect(asciiLowerCase('Sec-WebSocket-KEY')).toBe('sec-websocket-key');
  });
});

describe('parseExtensionOffers', () => {
  it('parses the RFC 7692 examples', () => {
    expect(parseExtensionOffers('permessage-deflate; client_max_window_bits')).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    ]);
    expect(
      parseExtensionOffers(
        'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits',
      ),
    ).toEqual([
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    ]);
  });

  it('unquotes quoted values', () => {
    expect(parseExtensionOffers('x; a="10"; b="v\\al"')).toEqual([
      {
        name: 'x',
        params: [
          ['a', '10'],
          ['b', 'val'],
        ],
      },
    ]);
  });

  it('allows whitespace around separators and equals signs', () => {
    expect(parseExtensionOffers('  x ;a = 1 ;\tb\t,y  ')).toEqual([
      {
        name: 'x',
        params: [
          ['a', '1'],
          ['b', true],
        ],
      },
      { name: 'y', params: [] },
    ]);
  });

  it('keeps duplicate parameters in order', () => {
    expect(parseExtensionOffers('x; a=1; a=2; a')).toEqual([
      {
        name: 'x',
        params: [
          ['a', '1'],
          ['a', '2'],
          ['a', true],
        ],
      },
    ]);
  });

  it('skips empty elements, so an empty value is an empty list', () => {
    expect(parseExtensionOffers('')).toEqual([]);
    expect(parseExtensionOffers(', x ,,')).toEqual([{ name: 'x', params: [] }]);
  });

  it('rejects malformed values', () => {
    const malformed = [
      'x;', // parameter without name
      'x; =1',
      'x; a=', // missing value
      'x; a=1 2',
      'x; a="1 2"', // quoted content must be a token (RFC 6455 §9.1)
      'x; a=""',
      'x; a="1', // unterminated
      'x; a="\\',
      'x; a="1"2',
      'x y',
      ';a',
      'x; a=1;; b',
      'x; a/b',
      'x; a=é',
      'x; a="\u0001"',
    ];
    for (const value of malformed) expect(parseExtensionOffers(value)).toBeUndefined();
  });

  it('treats prototype property names as ordinary names (ws GHSA-5v72-xg48-5rpm)', () => {
    expect(parseExtensionOffers('hasOwnProperty, toString')).toEqual([
      { name: 'hasOwnProperty', params: [] },
      { name: 'toString', params: [] },
    ]);
    expect(parseExtensionOffers('foo; constructor')).toEqual([
      { name: 'foo', params: [['constructor', true]] },
    ]);
    expect(parseExtensionOffers('__proto__; __proto__=1; hasOwnProperty')).toEqual([
      {
        name: '__proto__',
        params: [
          ['__proto__', '1'],
          ['hasOwnProperty', true],
        ],
      },
    ]);
  });

  it('is linear on long runs of whitespace and separators', () => {
    const spaces = ' '.repeat(65536);
    expect(
      parseExtensionOffers(`x${spaces};${spaces}a${spaces}=${spaces}1${spaces},${spaces}y`),
    ).toHaveLength(2);
    expect(parseExtensionOffers(`x${'; a'.repeat(20000)}`)?.[0]?.params).toHaveLength(20000);
    expect(parseExtensionOffers(`x; a="${'\\a'.repeat(30000)}"`)?.[0]?.params[0]?.[1]).toHaveLength(30000);
    expect(parseExtensionOffers(`x${spaces}y`)).toBeUndefined();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ab ;=,"\\\t/é'.split('')), maxLength: 30 }),
        (value) => {
          const offers = parseExtensionOffers(value);
          if (offers !== undefined) for (const offer of offers) expect(isToken(offer.name)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('formatExtensionOffers', () => {
  it('formats names, flags and values', () => {
    const offers: ExtensionOffer[] = [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
      { name: 'x-other', params: [] },
    ];
    expect(formatExtensionOffers(offers)).toBe(
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other',
    );
  });

  it('rejects names and values that are not tokens', () => {
    expect(() => formatExtensionOffers([{ name: 'a b', params: [] }])).toThrow(TypeError);
    expect(() => formatExtensionOffers([{ name: 'x', params: [['a;b', true]] }])).toThrow(TypeError);
    expect(() => formatExtensionOffers([{ name: 'x', params: [['a', '1\r\nEvil: 1']] }])).toThrow(TypeError);
    expect(() => formatExtensionOffers([{ name: 'x', params: [['a', '']] }])).toThrow(TypeError);
  });

  it('round-trips through parseExtensionOffers', () => {
    const param = fc.tuple(token, fc.oneof(fc.constant<true>(true), token));
    const offer = fc.record({ name: token, params: fc.array(param, { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(offer, { minLength: 1, maxLength: 4 }), (offers) => {
        expect(parseExtensionOffers(formatExtensionOffers(offers))).toEqual(offers);
      }),
    );
  });
});
