import { describe, expect, it } from 'vitest';
import { encodeFrameBytes, FrameParser, Opcode, parseClosePayload } from '../frames.ts';
import { type ConnectionOptions, type SendResult, WebSocketConnection } from './connection.ts';
import { TransportFlow } from './flow.ts';
import { FakeTransport } from './test-support.ts';
import { TimerWheel } from './timer-wheel.ts';

const MASK = new Uint8Array([1, 2, 3, 4]);

/** A client frame (masked), as a peer of a server connection sends it. */
function clientFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  return encodeFrameBytes(payload, { opcode, fin, mask: MASK });
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function serverConnection(
  options: ConnectionOptions = {},
  vectored = true,
): { ws: WebSocketConnection; flow: TransportFlow; transport: FakeTransport } {
  const transport = new FakeTransport(vectored);
  const flow = new TransportFlow(transport);
  const ws = new WebSocketConnection(
    flow,
    { side: 'server', protocol: '', extensions: '', url: '/' },
    { heartbeat: false, timerWheel: new TimerWheel(), ...options },
    undefined,
  );
  ws.on('error', () => {});
  return { ws, flow, transport };
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** The frames a server wrote, read back with the core's own parser: opcode and, for a close, its code. */
function serverFrames(bytes: readonly number[]): { opcode: number; code?: number }[] {
  const parser = new FrameParser({ side: 'client', maxFrameSize: Number.POSITIVE_INFINITY });
  parser.push(Uint8Array.from(bytes));
  const frames: { opcode: number; code?: number }[] = [];
  for (let piece = parser.next(); piece !== undefined; piece = parser.next()) {
    if (!piece.last) continue;
    frames.push(
      piece.opcode === Opcode.CLOSE
        ? { opcode: piece.opcode, code: parseClosePayload(piece.data).code }
        : { opcode: piece.opcode },
    );
  }
  return frames;
}

describe('WebSocketConnection: what a peer can make us send is bounded', () => {
  it('a ping flood from a peer that does not read: pongs fill the buffer, then reading pauses', async () => {
    const hwm = 64 * 1024;
    const { flow, transport } = serverConnection({ highWaterMark: hwm });
    transport.mode = 'hold'; // the peer reads nothing
    const pings = concat(Array.from({ length: 500 }, () => clientFrame(Opcode.PING, new Uint8Array(125))));
    let fed = 0;
    // The transport honours pause: feed reads only while reading is on.
    for (let i = 0; i < 200 && !transport.paused; i++) {
      flow.onData(pings.slice());
      fed += pings.length;
      await turn();
    }
    expect(transport.paused).toBe(true);
    // Pongs are 127 bytes for 131 received: what is buffered is about the high-water mark plus one read.
    expect(flow.bufferedAmount).toBeGreaterThan(hwm);
    expect(flow.bufferedAmount).toBeLessThanOrEqual(hwm + pings.length);
    expect(fed).toBeLessThan(200 * pings.length);
  });

  it("an echo sent from a message listener counts as the peer's doing too", async () => {
    const hwm = 10_000;
    const { ws, flow, transport } = serverConnection({ highWaterMark: hwm });
    ws.on('message', (data) => ws.send(data));
    transport.mode = 'hold';
    const message = clientFrame(Opcode.BINARY, new Uint8Array(4000));
    flow.onData(concat([message, message, message]));
    await turn();
    expect(flow.bufferedAmount).toBeGreaterThan(hwm);
    expect(transport.paused).toBe(true);
  });

  it('sends the application makes on its own do not pause reading; past maxBufferedAmount the policy applies', async () => {
    const { ws, transport } = serverConnection({ highWaterMark: 1000, maxBufferedAmount: 10_000 });
    transport.mode = 'hold';
    const results: SendResult[] = [];
    for (let i = 0; i < 2; i++) results.push(ws.send(new Uint8Array(4000)));
    await turn();
    expect(transport.pauses).toBe(0);
    results.push(ws.send(new Uint8Array(4000)));
    expect(results).toEqual(['buffered', 'buffered', 'dropped']);
    expect(ws.readyState).toBe(2);
  });

  it('the 1008 close of the backpressure policy goes next on the wire: the unwritten backlog is dropped', async () => {
    const { ws, flow, transport } = serverConnection({ maxBufferedAmount: 10_000 });
    transport.mode = 'hold';
    ws.send(new Uint8Array(4000));
    await turn(); // in flight
    ws.send(new Uint8Array(4000)); // queued
    ws.send(new Uint8Array(4000)); // over the cap
    transport.mode = 'take';
    transport.complete();
    flow.onDrain();
    const frames = serverFrames(transport.sent);
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.BINARY, Opcode.CLOSE]);
    expect(frames[1]?.code).toBe(1008);
  });

  it('counts text in UTF-8 bytes against the send buffer', async () => {
    const { ws, transport } = serverConnection({ maxBufferedAmount: 3000 });
    transport.mode = 'hold';
    expect(ws.send('é'.repeat(1000))).toBe('sent'); // 2000 bytes + a 4-byte header
    expect(ws.bufferedAmount).toBe(2004);
    // 1400 UTF-16 units would fit under 3000; 2800 bytes do not.
    ws.send('é'.repeat(1400));
    expect(ws.readyState).toBe(2);
  });

  it('after the connection failed, a peer that keeps sending is dropped once 64 KiB more arrived', async () => {
    const { flow, transport } = serverConnection();
    flow.onData(clientFrame(0x3, new Uint8Array(1))); // reserved opcode: 1002
    await turn();
    expect(serverFrames(transport.sent).at(-1)?.code).toBe(1002);
    expect(transport.ended).toBe(true);
    expect(transport.paused).toBe(false);
    for (let i = 0; i < 10 && !transport.destroyed; i++) flow.onData(new Uint8Array(16 * 1024));
    expect(transport.destroyed).toBe(true);
  });

  it('input is not read while a failing connection waits for its close frame to leave', async () => {
    const { flow, transport } = serverConnection();
    transport.mode = 'hold';
    flow.onData(clientFrame(Opcode.TEXT, new Uint8Array([0xff]))); // invalid UTF-8: 1007
    await turn();
    expect(transport.paused).toBe(true);
    transport.complete();
    flow.onDrain();
    expect(transport.ended).toBe(true);
    expect(transport.paused).toBe(false);
  });
});

describe('WebSocketConnection: drain', () => {
  for (const hwm of [0, 1, 100, 16 * 1024, 1024 * 1024]) {
    for (const mode of ['take', 'hold'] as const) {
      it(`highWaterMark ${hwm}, kernel ${mode === 'take' ? 'takes everything' : 'takes writes late'}: every 'buffered' is followed by 'drain'`, async () => {
        const { ws, flow, transport } = serverConnection({ highWaterMark: hwm });
        transport.mode = mode;
        let drains = 0;
        ws.on('drain', () => {
          drains++;
        });
        let buffered = 0;
        for (let round = 0; round < 5; round++) {
          for (let i = 0; i < 20; i++) {
            if (ws.send(new Uint8Array(hwm > 0 ? Math.ceil(hwm / 7) + 1 : 10)) === 'buffered') buffered++;
          }
          for (let i = 0; i < 50; i++) {
            await turn();
            if (transport.pending) {
              transport.complete();
              flow.onDrain();
            }
          }
        }
        expect(buffered).toBeGreaterThan(0);
        expect(drains).toBeGreaterThan(0);
        // Every send that returned 'buffered' was followed by a 'drain' before the buffer emptied.
        expect(ws.bufferedAmount).toBe(0);
        expect(drains).toBeGreaterThanOrEqual(5);
      });
    }
  }
});

describe('WebSocketConnection: defaults', () => {
  it('server connections look for dead peers by default; clients do not; heartbeat: false turns it off', () => {
    const wheels = [new TimerWheel(), new TimerWheel(), new TimerWheel()];
    const flows: TransportFlow[] = [];
    const make = (side: 'server' | 'client', wheel: TimerWheel, options: ConnectionOptions = {}): void => {
      const flow = new TransportFlow(new FakeTransport(true));
      flows.push(flow);
      new WebSocketConnection(
        flow,
        { side, protocol: '', extensions: '', url: '/' },
        { timerWheel: wheel, ...options },
        undefined,
      );
    };
    make('server', wheels[0] as TimerWheel);
    make('client', wheels[1] as TimerWheel);
    make('server', wheels[2] as TimerWheel, { heartbeat: false });
    expect(wheels.map((w) => w.size)).toEqual([1, 0, 0]);
    // The transports go: every deadline is disarmed.
    for (const flow of flows) flow.onClose();
    expect(wheels.map((w) => w.size)).toEqual([0, 0, 0]);
  });
});
