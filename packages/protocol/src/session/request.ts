/** Requests as the application sees them: an upgrade before accepting it, or a plain HTTP request. */
import type { ExtensionOffer } from '../header-values.ts';
import type { HttpHeaders, HttpRequestHead } from '../http11.ts';

/** Where a request came from. */
export interface RequestOrigin {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly secure: boolean;
}

/** An HTTP request head received on a WebSocket server's socket. */
export class HttpRequest {
  /** The method, e.g. `GET`. */
  readonly method: string;
  /** The request target as sent (path and query, or an absolute URL). */
  readonly url: string;
  /** The request's header fields. */
  readonly headers: HttpHeaders;
  /** The peer's IP address, when known. */
  readonly remoteAddress: string | undefined;
  /** The peer's port, when known. */
  readonly remotePort: number | undefined;
  /** Whether the request came over TLS. */
  readonly secure: boolean;
  private parsedUrl: URL | undefined;
  private parsedCookies: Map<string, string> | undefined;

  constructor(head: HttpRequestHead, init: RequestOrigin) {
    this.method = head.method;
    this.url = head.target;
    this.headers = head.headers;
    this.remoteAddress = init.remoteAddress;
    this.remotePort = init.remotePort;
    this.secure = init.secure;
  }

  private get parsed(): URL {
    this.parsedUrl ??= new URL(this.url, `${this.secure ? 'https' : 'http'}://${this.host || 'localhost'}`);
    return this.parsedUrl;
  }

  /** The `Host` header. */
  get host(): string {
    return this.headers.get('host') ?? '';
  }

  /** The path without the query string. */
  get path(): string {
    return this.parsed.pathname;
  }

  /** The query string's parameters. */
  get query(): URLSearchParams {
    return this.parsed.searchParams;
  }

  /** The `Origin` header, if sent (browsers always send it). */
  get origin(): string | undefined {
    return this.headers.get('origin');
  }

  /** Cookies from the `Cookie` header(s); a Map, so names like `__proto__` are plain keys. */
  get cookies(): ReadonlyMap<string, string> {
    if (!this.parsedCookies) {
      const cookies = new Map<string, string>();
      for (const line of this.headers.getAll('cookie')) {
        for (const pair of line.split(';')) {
          const eq = pair.indexOf('=');
          if (eq <= 0) continue;
          const name = pair.slice(0, eq).trim();
          let value = pair.slice(eq + 1).trim();
          if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
          if (name && !cookies.has(name)) cookies.set(name, value);
        }
      }
      this.parsedCookies = cookies;
    }
    return this.parsedCookies;
  }
}

/** A validated WebSocket upgrade request. */
export class UpgradeRequest extends HttpRequest {
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
  /** Extensions the client offered. */
  readonly extensions: readonly ExtensionOffer[];

  constructor(
    head: HttpRequestHead,
    init: RequestOrigin & { protocols: readonly string[]; extensions: readonly ExtensionOffer[] },
  ) {
    super(head, init);
    this.protocols = init.protocols;
    this.extensions = init.extensions;
  }
}
