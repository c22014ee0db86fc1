/**
 * The part of Deno's `Deno` namespace this package uses, copied from `deno types`
 * (Deno 2.9), for tsup's declaration build only: tsc knows no `Deno`. Type
 * checking proper is `deno check` against Deno's real types, and deno.json
 * excludes this file, so it can never shadow them. The emitted dist/index.d.ts
 * refers to `Deno.*` names, which resolve to the real namespace in Deno projects.
 */
declare namespace Deno {
  interface NetAddr {
    transport: 'tcp' | 'udp';
    hostname: string;
    port: number;
  }
  interface UnixAddr {
    transport: 'unix' | 'unixpacket';
    path: string;
  }
  interface VsockAddr {
    transport: 'vsock';
    cid: number;
    port: number;
  }
  type Addr = NetAddr | UnixAddr | VsockAddr;

  interface Conn<A extends Addr = Addr> {
    read(p: Uint8Array): Promise<number | null>;
    write(p: Uint8Array): Promise<number>;
    close(): void;
    readonly localAddr: A;
    readonly remoteAddr: A;
    closeWrite(): Promise<void>;
  }
  interface TcpConn extends Conn<NetAddr> {
    setNoDelay(noDelay?: boolean): void;
  }
  interface TlsHandshakeInfo {
    alpnProtocol: string | null;
  }
  interface TlsConn extends Conn<NetAddr> {
    handshake(): Promise<TlsHandshakeInfo>;
  }

  interface Listener<T extends Conn = Conn, A extends Addr = Addr> extends AsyncIterable<T> {
    accept(): Promise<T>;
    close(): void;
    readonly addr: A;
  }
  type TcpListener = Listener<TcpConn, NetAddr>;
  type TlsListener = Listener<TlsConn, NetAddr>;

  interface TcpListenOptions {
    port?: number;
    hostname?: string;
    tcpBacklog?: number;
  }
  interface ListenTlsOptions extends TcpListenOptions {
    transport?: 'tcp';
    alpnProtocols?: string[];
  }
  interface TlsCertifiedKeyPem {
    keyFormat?: 'pem';
    key: string;
    cert: string;
  }
  function listen(options: TcpListenOptions & { transport?: 'tcp' }): TcpListener;
  function listenTls(options: ListenTlsOptions & TlsCertifiedKeyPem): TlsListener;

  interface ConnectOptions {
    port: number;
    hostname?: string;
    transport?: 'tcp';
    signal?: AbortSignal;
  }
  interface ConnectTlsOptions {
    port: number;
    hostname?: string;
    caCerts?: string[];
    alpnProtocols?: string[];
    unsafelyDisableHostnameVerification?: boolean;
  }
  interface StartTlsOptions {
    hostname?: string;
    caCerts?: string[];
    alpnProtocols?: string[];
    unsafelyDisableHostnameVerification?: boolean;
  }
  function connect(options: ConnectOptions): Promise<TcpConn>;
  function connectTls(
    options: ConnectTlsOptions | (ConnectTlsOptions & TlsCertifiedKeyPem),
  ): Promise<TlsConn>;
  function startTls(conn: TcpConn, options?: StartTlsOptions): Promise<TlsConn>;

  namespace errors {
    class BadResource extends Error {}
    class ConnectionAborted extends Error {}
    class ConnectionReset extends Error {}
    class ConnectionRefused extends Error {}
    class NotConnected extends Error {}
    class BrokenPipe extends Error {}
    class UnexpectedEof extends Error {}
    class InvalidData extends Error {}
    class Interrupted extends Error {}
    class TimedOut extends Error {}
  }
}
