/**
 * Parsers and formatters for the header field values the opening handshake reads
 * (RFC 7230 §3.2.6 tokens and §7 lists, RFC 6455 §9.1 extensions).
 *
 * Every parser is a single hand-written left-to-right pass: no regular expressions
 * run over untrusted input, so a value's cost is linear in its length whatever it
 * contains (the `ws` ReDoS CVE-2021-32640 came from a regex over long runs of
 * spaces in `Sec-WebSocket-Protocol`). Parsers return `undefined` for malformed
 * input instead of throwing; the caller decides which error and status apply.
 */

/** One element of `Sec-WebSocket-Extensions`: an extension name and its parameters. */
export interface ExtensionOffer {
  /** Extension token, e.g. `permessage-deflate`, as received (case preserved). */
  readonly name: string;
  /**
   * Parameters in their original order, duplicates kept (so an extension can reject
   * them). A parameter without `=value` has the value `true`; a quoted value is
   * given unquoted.
   */
  readonly params: readonly (readonly [name: string, value: string | true])[];
}

const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SLASH = 0x2f;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/** `tchar` (RFC 7230 §3.2.6) by character code; codes ≥ 128 are never tchars. */
const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(128);
  const marks = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < marks.length; i++) table[marks.charCodeAt(i)] = 1;
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1; // 0-9
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1; // A-Z
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1; // a-z
  return table;
})();

/** Whether the character code is a `tchar` (RFC 7230 §3.2.6). */
export function isTokenChar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Whether `s` is a non-empty `token` (RFC 7230 §3.2.6). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTokenChar(s.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * A forward-only cursor over a header value. Each method advances past what it
 * consumed, so a whole parse touches every character a bounded number of times.
 */
class Cursor {
  index = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  /** The character code at the cursor, or -1 at the end. */
  peek(): number {
    return this.index < this.text.length ? this.text.charCodeAt(this.index) : -1;
  }

  skipWhitespace(): void {
    while (this.index < this.text.length) {
      const c = this.text.charCodeAt(this.index);
      if (c !== SPACE && c !== TAB) return;
      this.index++;
    }
  }

  /** Consumes a token; returns `undefined` (consuming nothing) if none is here. */
  token(): string | undefined {
    const start = this.index;
    while (this.index < this.text.length && isTokenChar(this.text.charCodeAt(this.index))) this.index++;
    return this.index > start ? this.text.slice(start, this.index) : undefined;
  }

  /** Consumes a quoted-string (the cursor is on its opening quote); returns its unescaped content. */
  quotedString(): string | undefined {
    this.index++; // opening quote
    let content = '';
    let runStart = this.index;
    while (this.index < this.text.length) {
      const c = this.text.charCodeAt(this.index);
      if (c === QUOTE) {
        content += this.text.slice(runStart, this.index);
        this.index++;
        return content;
      }
      if (c === BACKSLASH) {
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        const next = this.index + 1 < this.text.length ? this.text.charCodeAt(this.index + 1) : -1;
        if (!isFieldTextChar(next)) return undefined;
        content += this.text.slice(runStart, this.index);
        runStart = this.index + 1;
        this.index += 2;
        continue;
      }
      if (!isFieldTextChar(c)) return undefined;
      this.index++;
    }
    return undefined; // unterminated
  }

  /**
   * After an element: skips whitespace and the list separator. Returns false if
   * something other than `,` or the end follows.
   */
  endOfElement(): boolean {
    this.skipWhitespace();
    if (this.done) return true;
    if (this.peek() !== COMMA) return false;
    this.index++;
    return true;
  }

  /** Before an element: skips whitespace and empty list elements (`a, , b`). */
  skipEmptyElements(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.peek() !== COMMA) return;
      this.index++;
    }
  }
}

/** HTAB, SP, VCHAR or obs-text: what may appear in a field value (RFC 7230 §3.2). */
function isFieldTextChar(code: number): boolean {
  return code === TAB || (code >= 0x20 && code !== 0x7f && code >= 0 && code <= 0xff);
}

/**
 * Parses a comma-separated list of tokens (`#token`, RFC 7230 §7), as in
 * `Connection` and `Sec-WebSocket-Protocol`. Whitespace around elements and empty
 * elements are allowed; an empty value gives `[]`. Returns `undefined` if an
 * element is not a token. Case and duplicates are preserved.
 */
export function parseTokenList(value: string): string[] | undefined {
  const cursor = new Cursor(value);
  const items: string[] = [];
  for (;;) {
    cursor.skipEmptyElements();
    if (cursor.done) return items;
    const token = cursor.token();
    if (token === undefined) return undefined;
    items.push(token);
    if (!cursor.endOfElement()) return undefined;
  }
}

/**
 * Parses the `Upgrade` header (RFC 7230 §6.7): a list of `protocol-name ["/" protocol-version]`,
 * e.g. `websocket` or `HTTP/2.0, websocket`. Elements are returned as written;
 * `undefined` if malformed.
 */
export function parseUpgradeList(value: string): string[] | undefined {
  const cursor = new Cursor(value);
  const items: string[] = [];
  for (;;) {
    cursor.skipEmptyElements();
    if (cursor.done) return items;
    const name = cursor.token();
    if (name === undefined) return undefined;
    if (cursor.peek() === SLASH) {
      cursor.index++;
      const version = cursor.token();
      if (version === undefined) return undefined;
      items.push(`${name}/${version}`);
    } else {
      items.push(name);
    }
    if (!cursor.endOfElement()) return undefined;
  }
}

/** ASCII-only lowercase, so that e.g. U+212A KELVIN SIGN never compares equal to `k`. */
export function asciiLowerCase(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x20));
}

/** Whether a parsed list contains `wanted` compared ASCII case-insensitively (`wanted` in lowercase). */
export function containsTokenIgnoringCase(list: readonly string[], wanted: string): boolean {
  for (const item of list) {
    if (asciiLowerCase(item) === wanted) return true;
  }
  return false;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 * `1#( extension-token *( ";" name [ "=" ( token / quoted-string ) ] ) )`.
 *
 * Whitespace is allowed around `,`, `;` and `=`. A quoted value's unescaped content
 * must itself be a token (RFC 6455 §9.1). Empty list elements are skipped, so an
 * empty value gives `[]`. Returns `undefined` when malformed. Several header lines
 * can be parsed together once joined with `,` (as `HttpHeaders.get` does).
 */
export function parseExtensionOffers(value: string): ExtensionOffer[] | undefined {
  const cursor = new Cursor(value);
  const offers: ExtensionOffer[] = [];
  for (;;) {
    cursor.skipEmptyElements();
    if (cursor.done) return offers;
    const name = cursor.token();
    if (name === undefined) return undefined;
    const params: [string, string | true][] = [];
    for (;;) {
      cursor.skipWhitespace();
      if (cursor.peek() !== SEMICOLON) break;
      cursor.index++;
      cursor.skipWhitespace();
      const paramName = cursor.token();
      if (paramName === undefined) return undefined;
      cursor.skipWhitespace();
      if (cursor.peek() !== EQUALS) {
        params.push([paramName, true]);
        continue;
      }
      cursor.index++;
      cursor.skipWhitespace();
      const paramValue = cursor.peek() === QUOTE ? cursor.quotedString() : cursor.token();
      if (paramValue === undefined || !isToken(paramValue)) return undefined;
      params.push([paramName, paramValue]);
    }
    offers.push({ name, params });
    if (!cursor.endOfElement()) return undefined;
  }
}

/**
 * Formats extensions for `Sec-WebSocket-Extensions`, e.g.
 * `permessage-deflate; client_max_window_bits; server_max_window_bits=10`.
 * Values are written unquoted, so they must be tokens.
 *
 * @throws TypeError if a name or value is not a token.
 */
export function formatExtensionOffers(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) throw new TypeError(`Invalid extension name: ${JSON.stringify(offer.name)}`);
    let part = offer.name;
    for (const [name, value] of offer.params) {
      if (!isToken(name)) throw new TypeError(`Invalid extension parameter name: ${JSON.stringify(name)}`);
      if (value === true) {
        part += `; ${name}`;
      } else {
        if (!isToken(value)) {
          throw new TypeError(`Invalid value for extension parameter ${name}: ${JSON.stringify(value)}`);
        }
        part += `; ${name}=${value}`;
      }
    }
    parts.push(part);
  }
  return parts.join(', ');
}
