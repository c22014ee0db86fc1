// The least any WebSocket server on Deno's TCP API can hold per idle connection, for
// idle-memory.mjs (`--servers deno-floor`): it answers the opening handshake, then keeps one
// 512-byte `conn.read()` pending per connection (Deno has no readiness notification: a pending
// read is the only way to learn that data or a FIN arrived) and discards what it reads. No
// framing, no echo, no state: not a WebSocket server, only its runtime's floor.
//   deno run -A packages/bench/deno-floor-server.ts
//   PORT  port to listen on (default 9001; 0 picks a free one)
// Prints "listening on <port>" when ready; exits on SIGTERM/SIGINT.
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function acceptValue(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  try {
    let head = '';
    const chunk = new Uint8Array(4096);
    while (!head.includes('\r\n\r\n')) {
      const n = await conn.read(chunk);
      if (n === null || head.length > 16384) return;
      head += decoder.decode(chunk.subarray(0, n));
    }
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
    const response =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${await acceptValue(key)}\r\n\r\n`;
    await conn.write(encoder.encode(response));
    for (;;) {
      if ((await conn.read(new Uint8Array(512))) === null) return;
    }
  } catch {
    // A reset peer: nothing to do but close.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

const listener = Deno.listen({ port: Number(Deno.env.get('PORT') ?? 9001) });
console.log(`listening on ${(listener.addr as Deno.NetAddr).port}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
for await (const conn of listener) void serve(conn);
