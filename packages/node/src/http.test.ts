// Node-only integration: taking over the `upgrade` event of http/https servers and
// completing upgrades handed over by framework code.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from '@fullduplex/testkit/adapter/certs';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type WebSocketConnection, WebSocketServer } from './index.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

function echo(wss: WebSocketServer): WebSocketServer {
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  cleanups.push(() => wss.close({ timeout: 200 }));
  return wss;
}

async function roundTrip(url: string, text: string, options = {}): Promise<string> {
  const ws: WebSocketConnection = await connect(url, options);
  cleanups.push(() => ws.terminate());
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(data as string)));
  ws.send(text);
  return reply;
}

describe('node: attached to an http.Server', () => {
  it('serves HTTP as before and WebSocket upgrades on its path', async () => {
    const http = createHttpServer((_req, res) => res.end('plain http'));
    echo(new WebSocketServer({ server: http, path: '/ws' }));
    const port = await listen(http);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(await response.text()).toBe('plain http');
    expect(await roundTrip(`ws://127.0.0.1:${port}/ws`, 'over http.Server')).toBe('over http.Server');
  });

  it('routes two servers on one http.Server by path', async () => {
    const http = createHttpServer();
    const a = new WebSocketServer({ server: http, path: '/a' });
    const b = new WebSocketServer({ server: http, path: '/b' });
    a.on('connection', (ws) => ws.on('message', () => ws.send('from a')));
    b.on('connection', (ws) => ws.on('message', () => ws.send('from b')));
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const port = await listen(http);
    expect(await roundTrip(`ws://127.0.0.1:${port}/a`, 'x')).toBe('from a');
    expect(await roundTrip(`ws://127.0.0.1:${port}/b?q=1`, 'x')).toBe('from b');
    expect(a.clients.size).toBe(1);
    expect(b.clients.size).toBe(1);
  });

  it('answers 404 for another path when it is the only upgrade listener', async () => {
    const http = createHttpServer();
    echo(new WebSocketServer({ server: http, path: '/ws' }));
    const port = await listen(http);
    await expect(connect(`ws://127.0.0.1:${port}/elsewhere`)).rejects.toMatchObject({ status: 404 });
  });

  it('stops handling upgrades after close()', async () => {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http });
    const port = await listen(http);
    await wss.close();
    expect(http.listenerCount('upgrade')).toBe(0);
    await expect(connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 1000 })).rejects.toBeDefined();
  });

  it('works on an https.Server (wss:)', async () => {
    const cert = selfSignedCertificate();
    const https = createHttpsServer(cert, (_req, res) => res.end('plain https'));
    echo(new WebSocketServer({ server: https }));
    const port = await listen(https as unknown as Server);
    expect(await roundTrip(`wss://127.0.0.1:${port}/`, 'over https', { tls: { ca: cert.cert } })).toBe(
      'over https',
    );
  });
});

describe('node: handleNodeUpgrade for frameworks', () => {
  it('completes upgrades a custom upgrade listener hands over, with the upgrade hook', async () => {
    const http = createHttpServer();
    const wss = echo(
      new WebSocketServer<{ user: string }>({
        upgrade: (request) =>
          request.headers.get('authorization') === 'Bearer ok'
            ? { data: { user: 'ada' } }
            : { status: 401, body: 'no' },
      }) as unknown as WebSocketServer,
    );
    http.on('upgrade', (req, socket, head) => {
      if (req.url?.startsWith('/custom')) void wss.handleNodeUpgrade(req, socket, head);
      else socket.destroy();
    });
    const port = await listen(http);
    expect(
      await roundTrip(`ws://127.0.0.1:${port}/custom`, 'framework', {
        headers: { Authorization: 'Bearer ok' },
      }),
    ).toBe('framework');
    await expect(connect(`ws://127.0.0.1:${port}/custom`)).rejects.toMatchObject({ status: 401 });
    await expect(connect(`ws://127.0.0.1:${port}/other`, { handshakeTimeout: 1000 })).rejects.toBeDefined();
  });
});
