/**
 * The handshake's header value parsers (header-values.ts) and the permessage-deflate
 * negotiation built on them, on a raw value: the input read as Latin-1, as the head
 * parser maps bytes.
 */
import {
  acceptDeflateResponse,
  type ExtensionOffer,
  formatExtensionOffers,
  HandshakeError,
  isToken,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  parseExtensionOffers,
  parseTokenList,
  parseUpgradeList,
} from '@fullduplex/protocol';
import { latin1Bytes } from '../bytes.ts';
import { flipWordCase } from '../mutate.ts';
import type { FuzzTarget, LabelSink } from '../target.ts';
import { check } from '../violation.ts';

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

function sameOffers(a: readonly ExtensionOffer[], b: readonly ExtensionOffer[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Every header-value invariant, for one value: the parsers never throw, what they
 * return is well-formed, and formatting it and parsing again gives it back.
 * The head target runs this on each header it parses.
 */
export function checkHeaderValue(value: string, label: LabelSink): void {
  const tokens = parseTokenList(value);
  label(tokens === undefined ? 'tokens:malformed' : `tokens:${Math.min(tokens.length, 4)}`);
  if (tokens !== undefined) {
    check(tokens.every(isToken), 'parseTokenList returned a non-token');
    const again = parseTokenList(tokens.join(', '));
    check(JSON.stringify(again) === JSON.stringify(tokens), 'token list does not survive join + parse');
  }

  const upgrades = parseUpgradeList(value);
  if (upgrades !== undefined) {
    for (const item of upgrades) {
      const [name, version, extra] = item.split('/');
      check(
        isToken(name ?? '') && (version === undefined || isToken(version)) && extra === undefined,
        `parseUpgradeList returned ${JSON.stringify(item)}`,
      );
    }
    const again = parseUpgradeList(upgrades.join(', '));
    check(JSON.stringify(again) === JSON.stringify(upgrades), 'upgrade list does not survive join + parse');
  }

  const offers = parseExtensionOffers(value);
  label(offers === undefined ? 'offers:malformed' : `offers:${Math.min(offers.length, 4)}`);
  if (offers === undefined) return;
  // formatExtensionOffers throws for non-tokens: parsed offers must never contain any.
  const formatted = formatExtensionOffers(offers);
  check(sameOffers(parseExtensionOffers(formatted) ?? [], offers), () => {
    return `extension offers do not survive format + parse: ${JSON.stringify(formatted)}`;
  });
  checkDeflateNegotiation(offers, label);
}

/**
 * The server's choice among the offers must be an answer the client side accepts
 * with the same parameters; judging any single element as an answer may fail, but
 * only with a HandshakeError.
 */
function checkDeflateNegotiation(offers: readonly ExtensionOffer[], label: LabelSink): void {
  const agreement = negotiateDeflate(offers);
  label(agreement === undefined ? 'deflate:declined' : 'deflate:agreed');
  if (agreement !== undefined) {
    const answer = parseExtensionOffers(formatExtensionOffers([agreement.response]))?.[0];
    check(answer !== undefined && answer.name === PERMESSAGE_DEFLATE, 'deflate answer does not parse');
    const accepted = acceptDeflateResponse(answer);
    check(
      JSON.stringify(accepted) === JSON.stringify(agreement.params),
      () =>
        `client reads ${JSON.stringify(accepted)} from an answer meaning ${JSON.stringify(agreement.params)}`,
    );
  }
  for (const offer of offers.slice(0, 8)) {
    try {
      acceptDeflateResponse(offer);
      label('deflate-answer:ok');
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      check(error.code === 'WS_INVALID_EXTENSION' && error.status === 101, `unexpected ${error.code}`);
      label('deflate-answer:rejected');
    }
  }
}

export const headerValuesTarget: FuzzTarget = {
  name: 'header-values',
  description: 'parseTokenList, parseUpgradeList, parseExtensionOffers and permessage-deflate negotiation',
  coverageModules: ['@fullduplex/protocol'],
  maxLength: 1024,
  dictionary: [
    'permessage-deflate',
    'server_no_context_takeover',
    'client_no_context_takeover',
    'server_max_window_bits',
    'client_max_window_bits',
    '=15',
    '=8',
    '="10"',
    '; ',
    ', ',
    '"',
    '\\',
    '/',
    'websocket',
    'HTTP/2.0',
    '\t',
  ].map(latin1Bytes),
  run(input, label) {
    checkHeaderValue(latin1(input), label);
  },
  mutate: flipWordCase,
};
