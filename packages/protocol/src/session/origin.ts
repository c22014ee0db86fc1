/**
 * Origin checks against cross-site WebSocket hijacking.
 *
 * Browsers send `Origin` with every WebSocket handshake and let any page open a
 * WebSocket to any host, with the user's cookies. A server that authenticates by
 * cookie must therefore check that the page is one of its own. Non-browser clients
 * may send any Origin or none: the check protects browser users, it does not
 * authenticate anyone.
 */

/** Options of {@link originAllowlist}. */
export interface OriginAllowlistOptions {
  /**
   * Accept requests without an `Origin` header (non-browser clients). Default true:
   * browsers always send one, so a missing header is never a hijacking page.
   */
  readonly allowMissing?: boolean;
}

/**
 * A predicate for the server's `allowedOrigins` option (or your own `upgrade` hook):
 * true when `origin` is one of `origins`. Each entry is an origin as browsers send it
 * — `scheme://host[:port]`, compared case-insensitively with default ports
 * ignored — or a pattern whose host starts with `*.`, matching any subdomain (not the
 * bare domain): `https://*.example.com`. The opaque origin `null` (sandboxed frames,
 * `file:` pages) matches only an explicit `'null'` entry.
 *
 * ```ts
 * const server = new WebSocketServer({
 *   allowedOrigins: originAllowlist(['https://example.com', 'https://*.example.com']),
 * });
 * ```
 */
export function originAllowlist(
  origins: readonly string[],
  options: OriginAllowlistOptions = {},
): (origin: string | undefined) => boolean {
  const exact = new Set<string>();
  const suffixes: { scheme: string; suffix: string; port: string }[] = [];
  for (const entry of origins) {
    if (entry === 'null') {
      exact.add('null');
      continue;
    }
    const parsed = splitOrigin(entry);
    if (parsed === undefined) throw new TypeError(`not an origin: ${JSON.stringify(entry)}`);
    if (parsed.host.startsWith('*.')) {
      suffixes.push({ scheme: parsed.scheme, suffix: parsed.host.slice(1), port: parsed.port });
    } else {
      exact.add(`${parsed.scheme}://${parsed.host}${parsed.port}`);
    }
  }
  const allowMissing = options.allowMissing ?? true;
  return (origin) => {
    if (origin === undefined) return allowMissing;
    if (origin === 'null') return exact.has('null');
    const parsed = splitOrigin(origin);
    if (parsed === undefined || parsed.host.includes('*')) return false;
    if (exact.has(`${parsed.scheme}://${parsed.host}${parsed.port}`)) return true;
    for (const { scheme, suffix, port } of suffixes) {
      if (parsed.scheme === scheme && parsed.port === port && parsed.host.endsWith(suffix)) {
        // At least one label before the suffix.
        if (parsed.host.length > suffix.length) return true;
      }
    }
    return false;
  };
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/** `scheme://host[:port]` lower-cased, the default port dropped; undefined if it is not one. */
function splitOrigin(origin: string): { scheme: string; host: string; port: string } | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[^:/?#[\]@\s]+)(?::(\d{1,5}))?$/i.exec(origin);
  if (match === null) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const host = (match[2] as string).toLowerCase();
  const port = match[3] === undefined || match[3] === DEFAULT_PORTS[scheme] ? '' : `:${Number(match[3])}`;
  return { scheme, host, port };
}
