/**
 * permessage-deflate (RFC 7692) negotiation: building and answering offers and
 * checking answers. Pure functions over parsed `Sec-WebSocket-Extensions`
 * elements; the compression itself is an engine the runtime supplies.
 */
import { HandshakeError } from '../errors.ts';
import type { ExtensionOffer } from '../header-values.ts';

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * What to ask for (client) or allow (server). All optional:
 * - `serverNoContextTakeover`: the server resets its compressor after each message
 *   (less memory on the server, worse ratio). A client asks for it; a server imposes it.
 * - `clientNoContextTakeover`: the same for the client's compressor. A client
 *   announces it; a server asks the client for it (and can then drop its inflater
 *   between messages).
 * - `serverMaxWindowBits` (8–15): cap on the server compressor's LZ77 window.
 * - `clientMaxWindowBits` (8–15): cap on the client compressor's window; a client
 *   always announces support for the parameter, a server applies it when it can.
 */
export interface PerMessageDeflateNegotiation {
  readonly serverNoContextTakeover?: boolean;
  readonly clientNoContextTakeover?: boolean;
  readonly serverMaxWindowBits?: number;
  readonly clientMaxWindowBits?: number;
}

/** What was agreed: both ends compress and decompress by these. */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  /** The server compressor's window, 8–15 (15 when not negotiated). */
  readonly serverMaxWindowBits: number;
  /** The client compressor's window, 8–15 (15 when not negotiated). */
  readonly clientMaxWindowBits: number;
}

const NAMES = new Set([
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
]);

/** Parameters of one offer or answer, checked for RFC 7692 §7 syntax. */
interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

/** Parses `8`–`15` written in plain decimal (no sign, no leading zero). */
function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:8|9|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Checks one element's parameters: known names only, each at most once, values
 * where they belong and in range. Returns a description of the problem instead of
 * throwing, because a server declines a bad offer while a client fails on a bad answer.
 */
function parseParams(element: ExtensionOffer, isOffer: boolean): ParsedParams | string {
  const parsed: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of element.params) {
    const name = rawName.toLowerCase();
    if (!NAMES.has(name)) return `unknown parameter ${rawName}`;
    if (seen.has(name)) return `duplicate parameter ${rawName}`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `${rawName} takes no value`;
        if (name === 'server_no_context_takeover') parsed.serverNoContextTakeover = true;
        else parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === undefined) return `${rawName} must be 8 to 15`;
        parsed.serverMaxWindowBits = bits;
        break;
      }
      default: {
        // client_max_window_bits: an offer may leave the value out, an answer may not.
        if (value === true && isOffer) {
          parsed.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return `${rawName} must be 8 to 15`;
        parsed.clientMaxWindowBits = bits;
      }
    }
  }
  return parsed;
}

function checkBits(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 8 && value <= 15)) {
    throw new RangeError(`${name} must be an integer from 8 to 15`);
  }
}

// ------------------------------------------------------------------ client

/**
 * The client's offer. It always announces `client_max_window_bits` (so the server
 * may cap our window) and asks for what `options` says.
 */
export function buildDeflateOffer(options: PerMessageDeflateNegotiation = {}): ExtensionOffer {
  checkBits('serverMaxWindowBits', options.serverMaxWindowBits);
  checkBits('clientMaxWindowBits', options.clientMaxWindowBits);
  const params: [string, string | true][] = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (options.serverMaxWindowBits !== undefined) {
    params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  }
  params.push([
    'client_max_window_bits',
    options.clientMaxWindowBits === undefined ? true : String(options.clientMaxWindowBits),
  ]);
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Checks the server's answer to {@link buildDeflateOffer} (RFC 7692 §7.1) and returns
 * what was agreed. Anything not allowed fails the handshake.
 * @throws HandshakeError `WS_INVALID_EXTENSION`.
 */
export function acceptDeflateResponse(
  answer: ExtensionOffer,
  offered: PerMessageDeflateNegotiation = {},
  status = 101,
): DeflateParams {
  const fail = (why: string): HandshakeError =>
    new HandshakeError('WS_INVALID_EXTENSION', status, `invalid permessage-deflate response: ${why}`);
  const parsed = parseParams(answer, false);
  if (typeof parsed === 'string') throw fail(parsed);
  if (offered.serverNoContextTakeover && !parsed.serverNoContextTakeover) {
    throw fail('server_no_context_takeover was requested but not confirmed');
  }
  if (offered.serverMaxWindowBits !== undefined) {
    if (
      parsed.serverMaxWindowBits === undefined ||
      parsed.serverMaxWindowBits > offered.serverMaxWindowBits
    ) {
      throw fail('server_max_window_bits was requested but not confirmed with a value no larger');
    }
  }
  const clientBits = parsed.clientMaxWindowBits as number | undefined;
  if (
    clientBits !== undefined &&
    offered.clientMaxWindowBits !== undefined &&
    clientBits > offered.clientMaxWindowBits
  ) {
    throw fail('client_max_window_bits is larger than offered');
  }
  return {
    serverNoContextTakeover: parsed.serverNoContextTakeover,
    clientNoContextTakeover: parsed.clientNoContextTakeover || offered.clientNoContextTakeover === true,
    serverMaxWindowBits: parsed.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits ?? offered.clientMaxWindowBits ?? 15,
  };
}

// ------------------------------------------------------------------ server

/** The server's choice: the answer to send and the parameters agreed. */
export interface DeflateAgreement {
  readonly response: ExtensionOffer;
  readonly params: DeflateParams;
}

/**
 * Picks the first acceptable permessage-deflate offer (the client lists them in
 * order of preference) and builds the answer (RFC 7692 §7.1). Offers with unknown,
 * repeated or out-of-range parameters are declined, as the RFC requires; returns
 * undefined when none is acceptable (the connection then goes on uncompressed).
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateNegotiation = {},
): DeflateAgreement | undefined {
  checkBits('serverMaxWindowBits', options.serverMaxWindowBits);
  checkBits('clientMaxWindowBits', options.clientMaxWindowBits);
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const parsed = parseParams(offer, true);
    if (typeof parsed === 'string') continue;

    const params: [string, string | true][] = [];
    const serverNoContextTakeover =
      parsed.serverNoContextTakeover || options.serverNoContextTakeover === true;
    if (serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
    const clientNoContextTakeover =
      parsed.clientNoContextTakeover || options.clientNoContextTakeover === true;
    if (clientNoContextTakeover) params.push(['client_no_context_takeover', true]);

    // Our window: the smaller of what the client allows and what we want.
    let serverBits = 15;
    if (parsed.serverMaxWindowBits !== undefined) serverBits = parsed.serverMaxWindowBits;
    if (options.serverMaxWindowBits !== undefined)
      serverBits = Math.min(serverBits, options.serverMaxWindowBits);
    if (parsed.serverMaxWindowBits !== undefined || serverBits < 15) {
      params.push(['server_max_window_bits', String(serverBits)]);
    }

    // The client's window: we may only name it if the client announced the parameter.
    let clientBits = 15;
    if (typeof parsed.clientMaxWindowBits === 'number') clientBits = parsed.clientMaxWindowBits;
    if (parsed.clientMaxWindowBits !== undefined && options.clientMaxWindowBits !== undefined) {
      clientBits = Math.min(clientBits, options.clientMaxWindowBits);
    }
    if (
      parsed.clientMaxWindowBits !== undefined &&
      (clientBits < 15 || typeof parsed.clientMaxWindowBits === 'number')
    ) {
      params.push(['client_max_window_bits', String(clientBits)]);
    }

    return {
      response: { name: PERMESSAGE_DEFLATE, params },
      params: {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
    };
  }
  return undefined;
}
