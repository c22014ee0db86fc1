import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../errors.ts';
import { type ExtensionOffer, formatExtensionOffers, parseExtensionOffers } from '../header-values.ts';
import { acceptDeflateResponse, buildDeflateOffer, negotiateDeflate } from './permessage-deflate.ts';

function offers(header: string): ExtensionOffer[] {
  const parsed = parseExtensionOffers(header);
  if (!parsed) throw new Error(`bad header in test: ${header}`);
  return parsed;
}

function answer(header: string): ExtensionOffer {
  const [first] = offers(header);
  if (!first) throw new Error('empty');
  return first;
}

const DEFAULTS = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe('client offer', () => {
  it('announces client_max_window_bits by default', () => {
    expect(formatExtensionOffers([buildDeflateOffer()])).toBe('permessage-deflate; client_max_window_bits');
  });

  it('asks for every parameter', () => {
    const offer = buildDeflateOffer({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    });
    expect(formatExtensionOffers([offer])).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('rejects window bits outside 8–15', () => {
    expect(() => buildDeflateOffer({ serverMaxWindowBits: 7 })).toThrow(RangeError);
    expect(() => buildDeflateOffer({ clientMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => buildDeflateOffer({ clientMaxWindowBits: 9.5 })).toThrow(RangeError);
  });
});

describe('server negotiation', () => {
  it('accepts a plain offer with defaults and an empty answer', () => {
    const agreed = negotiateDeflate(offers('permessage-deflate'));
    expect(agreed?.params).toEqual(DEFAULTS);
    expect(formatExtensionOffers([agreed!.response])).toBe('permessage-deflate');
  });

  it('answers client_max_window_bits with a value only when asked to cap it', () => {
    expect(
      formatExtensionOffers([
        negotiateDeflate(offers('permessage-deflate; client_max_window_bits'))!.response,
      ]),
    ).toBe('permessage-deflate');
    const capped = negotiateDeflate(offers('permessage-deflate; client_max_window_bits'), {
      clientMaxWindowBits: 10,
    });
    expect(formatExtensionOffers([capped!.response])).toBe('permessage-deflate; client_max_window_bits=10');
    expect(capped?.params.clientMaxWindowBits).toBe(10);
  });

  it('never names client_max_window_bits when the client did not announce it', () => {
    const agreed = negotiateDeflate(offers('permessage-deflate'), { clientMaxWindowBits: 9 });
    expect(formatExtensionOffers([agreed!.response])).toBe('permessage-deflate');
    expect(agreed?.params.clientMaxWindowBits).toBe(15);
  });

  it('honours the client’s server_max_window_bits and our own smaller cap', () => {
    const asked = negotiateDeflate(offers('permessage-deflate; server_max_window_bits=12'));
    expect(formatExtensionOffers([asked!.response])).toBe('permessage-deflate; server_max_window_bits=12');
    const smaller = negotiateDeflate(offers('permessage-deflate; server_max_window_bits=12'), {
      serverMaxWindowBits: 9,
    });
    expect(smaller?.params.serverMaxWindowBits).toBe(9);
    const ours = negotiateDeflate(offers('permessage-deflate'), { serverMaxWindowBits: 11 });
    expect(formatExtensionOffers([ours!.response])).toBe('permessage-deflate; server_max_window_bits=11');
  });

  it('confirms no_context_takeover requests and can impose them', () => {
    const asked = negotiateDeflate(
      offers('permessage-deflate; server_no_context_takeover; client_no_context_takeover'),
    );
    expect(asked?.params).toEqual({
      ...DEFAULTS,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    });
    expect(formatExtensionOffers([asked!.response])).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
    const imposed = negotiateDeflate(offers('permessage-deflate'), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    });
    expect(imposed?.params.serverNoContextTakeover).toBe(true);
    expect(imposed?.params.clientNoContextTakeover).toBe(true);
  });

  it('declines malformed offers and takes the next one, in the client’s order', () => {
    const header = [
      'permessage-deflate; unknown_param',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; client_max_window_bits=7',
      'permessage-deflate; client_max_window_bits=010',
      'permessage-deflate; server_no_context_takeover=yes',
      'x-other-extension',
      'permessage-deflate; client_max_window_bits=9',
      'permessage-deflate',
    ].join(', ');
    const agreed = negotiateDeflate(offers(header));
    expect(agreed?.params.clientMaxWindowBits).toBe(9);
  });

  it('declines everything when no offer is acceptable', () => {
    expect(
      negotiateDeflate(offers('permessage-deflate; constructor, permessage-deflate; __proto__=1')),
    ).toBeUndefined();
    expect(negotiateDeflate(offers('x-webkit-deflate-frame'))).toBeUndefined();
    expect(negotiateDeflate([])).toBeUndefined();
  });

  it('matches the extension name and parameter names case-insensitively', () => {
    expect(
      negotiateDeflate(offers('PerMessage-Deflate; Server_No_Context_Takeover'))?.params
        .serverNoContextTakeover,
    ).toBe(true);
  });

  it('accepts quoted values (RFC 6455 §9.1)', () => {
    expect(
      negotiateDeflate(offers('permessage-deflate; server_max_window_bits="10"'))?.params.serverMaxWindowBits,
    ).toBe(10);
  });
});

describe('client validation of the answer', () => {
  it('accepts an empty answer with defaults', () => {
    expect(acceptDeflateResponse(answer('permessage-deflate'))).toEqual(DEFAULTS);
  });

  it('takes every parameter the server may set', () => {
    expect(
      acceptDeflateResponse(
        answer(
          'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
        ),
      ),
    ).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
  });

  it('fails on unknown, duplicate or invalid parameters', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; client_no_context_takeover=1',
      'permessage-deflate; hasOwnProperty',
    ]) {
      expect(() => acceptDeflateResponse(answer(bad))).toThrow(HandshakeError);
    }
  });

  it('fails when a request was not honoured', () => {
    expect(() =>
      acceptDeflateResponse(answer('permessage-deflate'), { serverNoContextTakeover: true }),
    ).toThrow(/server_no_context_takeover/);
    expect(() => acceptDeflateResponse(answer('permessage-deflate'), { serverMaxWindowBits: 10 })).toThrow(
      /server_max_window_bits/,
    );
    expect(() =>
      acceptDeflateResponse(answer('permessage-deflate; server_max_window_bits=12'), {
        serverMaxWindowBits: 10,
      }),
    ).toThrow(/server_max_window_bits/);
    expect(() =>
      acceptDeflateResponse(answer('permessage-deflate; client_max_window_bits=12'), {
        clientMaxWindowBits: 10,
      }),
    ).toThrow(/client_max_window_bits/);
  });

  it('reports the failure as WS_INVALID_EXTENSION with the status received', () => {
    try {
      acceptDeflateResponse(answer('permessage-deflate; nope'));
      throw new Error('did not throw');
    } catch (error) {
      expect(error).toBeInstanceOf(HandshakeError);
      expect((error as HandshakeError).code).toBe('WS_INVALID_EXTENSION');
      expect((error as HandshakeError).status).toBe(101);
    }
  });

  it('round-trips: what a server answers to our offer, we accept with the same parameters', () => {
    const cases = [
      {},
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true, clientMaxWindowBits: 11 },
      { serverMaxWindowBits: 9, serverNoContextTakeover: true },
    ];
    for (const clientWants of cases) {
      for (const serverWants of [
        {},
        { clientMaxWindowBits: 10 },
        { serverMaxWindowBits: 12 },
        { clientNoContextTakeover: true },
      ]) {
        const offerHeader = formatExtensionOffers([buildDeflateOffer(clientWants)]);
        const agreed = negotiateDeflate(offers(offerHeader), serverWants);
        expect(agreed).toBeDefined();
        const answerHeader = formatExtensionOffers([agreed!.response]);
        expect(acceptDeflateResponse(answer(answerHeader), clientWants)).toEqual(agreed!.params);
      }
    }
  });
});
