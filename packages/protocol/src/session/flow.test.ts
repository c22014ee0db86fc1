import { describe, expect, it } from 'vitest';
import { ReadPause, TransportFlow } from './flow.ts';
import { FakeTransport } from './test-support.ts';

function flowOver(vectored = true): { flow: TransportFlow; transport: FakeTransport; written: boolean[] } {
  const transport = new FakeTransport(vectored);
  const flow = new TransportFlow(transport);
  const written: boolean[] = [];
  flow.receiver = {
    onData() {},
    onEnd() {},
    onClose() {},
    onWritten(progress) {
      written.push(progress);
    },
  };
  return { flow, transport, written };
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function bytes(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

function completeAndDrain(flow: TransportFlow, transport: FakeTransport): void {
  transport.complete();
  flow.onDrain();
}

describe('TransportFlow: one write per turn', () => {
  it('writes of one turn leave together after the code that wrote returns, small chunks as one copy', async () => {
    const { flow, transport } = flowOver();
    for (let i = 0; i < 10; i++) flow.write([bytes(2, i), bytes(16, i)]);
    expect(transport.writes).toHaveLength(0);
    expect(flow.bufferedAmount).toBe(180);
    await turn();
    expect(transport.writes).toHaveLength(1);
    expect(transport.writes[0]).toHaveLength(1);
    const expected: number[] = [];
    for (let i = 0; i < 10; i++) expected.push(...bytes(2, i), ...bytes(16, i));
    expect(transport.sent).toEqual(expected);
    expect(flow.bufferedAmount).toBe(0);
  });

  it('vectored: large chunks go as views beside the copied small ones', async () => {
    const { flow, transport } = flowOver(true);
    const large = bytes(64 * 1024, 7);
    flow.write([bytes(4, 1), large, bytes(3, 2), bytes(3, 3)]);
    await turn();
    const [header, payload, tail] = transport.writes[0] as Uint8Array[];
    expect(header).toEqual(bytes(4, 1));
    expect(payload).toBe(large);
    expect(tail).toEqual(new Uint8Array([2, 2, 2, 3, 3, 3]));
  });

  it('not vectored: a header is copied together with its payload up to 256 KiB; larger payloads go as views', async () => {
    const { flow, transport } = flowOver(false);
    const payload = bytes(64 * 1024, 9);
    flow.write([bytes(4, 1), payload]);
    await turn();
    expect(transport.writes[0]).toHaveLength(1);
    expect(transport.writes[0]?.[0]?.length).toBe(4 + 64 * 1024);
    const huge = bytes(1024 * 1024, 5);
    flow.write([bytes(10, 1), huge]);
    await turn();
    expect(transport.writes[1]?.[0]?.length).toBe(10);
    expect(transport.writes[1]?.[1]).toBe(huge);
  });

  it('one write outstanding: what is written meanwhile leaves in one write after onDrain', async () => {
    const { flow, transport } = flowOver();
    transport.mode = 'hold';
    flow.write([bytes(10, 1)]);
    await turn();
    expect(transport.pending).toBe(true);
    for (let i = 2; i < 6; i++) flow.write([bytes(10, i)]);
    await turn();
    expect(transport.writes).toHaveLength(1);
    expect(flow.bufferedAmount).toBe(50);
    transport.mode = 'take';
    completeAndDrain(flow, transport);
    expect(transport.writes).toHaveLength(2);
    expect(transport.writes[1]).toHaveLength(1);
    expect(flow.bufferedAmount).toBe(0);
    expect(transport.sent).toEqual([1, 2, 3, 4, 5].flatMap((i) => [...bytes(10, i)]));
  });

  it('pooled buffers are not reused while a write that reads them is pending', async () => {
    const flows = Array.from({ length: 64 }, () => flowOver(false));
    for (const { transport } of flows) transport.mode = 'hold';
    // Each flow's run is copied into a pooled buffer; all writes stay pending.
    for (let i = 0; i < flows.length; i++) flows[i]?.flow.write([bytes(3, i), bytes(5000, i)]);
    await turn();
    // Later runs must not land in buffers still lent out.
    const others = Array.from({ length: 64 }, () => flowOver(false));
    for (let i = 0; i < others.length; i++) others[i]?.flow.write([bytes(3, 200), bytes(5000, 200)]);
    await turn();
    for (let i = 0; i < flows.length; i++) {
      const { flow, transport } = flows[i] as ReturnType<typeof flowOver>;
      completeAndDrain(flow, transport);
      expect(transport.sent).toEqual([...bytes(5003, i)]);
    }
  });

  it('a transport closed with a write pending never gets its buffers reused', async () => {
    const first = flowOver(false);
    first.transport.mode = 'hold';
    first.flow.write([bytes(3, 1), bytes(100, 1)]);
    await turn();
    const view = first.transport.writes[0]?.[0] as Uint8Array;
    first.flow.onClose();
    const second = flowOver(false);
    for (let i = 0; i < 50; i++) second.flow.write([bytes(3, 2), bytes(100, 2)]);
    await turn();
    expect([...view]).toEqual([...bytes(103, 1)]);
  });

  it('counts queued and in-flight bytes; a write after end() is dropped', async () => {
    const { flow, transport } = flowOver();
    transport.mode = 'hold';
    flow.write([bytes(1000, 1)]);
    await turn();
    flow.write([bytes(24, 2)]);
    expect(flow.bufferedAmount).toBe(1024);
    flow.end();
    flow.write([bytes(5, 3)]);
    expect(flow.bufferedAmount).toBe(1024);
    expect(transport.ended).toBe(false);
    completeAndDrain(flow, transport);
    expect(transport.ended).toBe(false);
    completeAndDrain(flow, transport);
    expect(transport.ended).toBe(true);
    expect(transport.sent).toEqual([...bytes(1000, 1), ...bytes(24, 2)]);
  });

  it('end(): input is ignored until our FIN left, then reading resumes (to see the peer FIN)', async () => {
    const { flow, transport } = flowOver();
    transport.mode = 'hold';
    flow.write([bytes(10, 1)]);
    await turn();
    flow.end();
    expect(flow.isPaused(ReadPause.ENDING)).toBe(true);
    expect(transport.paused).toBe(true);
    completeAndDrain(flow, transport);
    expect(transport.ended).toBe(true);
    expect(transport.paused).toBe(false);
  });

  it('destroy(): what is queued gets one write, then the transport is destroyed', async () => {
    const { flow, transport } = flowOver();
    flow.write([bytes(10, 1)]);
    flow.destroy();
    expect(transport.sent).toEqual([...bytes(10, 1)]);
    expect(transport.destroyed).toBe(true);
    flow.write([bytes(10, 2)]);
    await turn();
    expect(transport.writes).toHaveLength(1);
  });
});

describe('TransportFlow: reading and the send buffer', () => {
  it('pauses reading when handling the peer filled the buffer above the high-water mark; resumes at half', async () => {
    const { flow, transport } = flowOver();
    flow.highWaterMark = 1000;
    transport.mode = 'hold';
    flow.peerWork = true;
    flow.write([bytes(1500, 1)]);
    flow.peerWork = false;
    await turn();
    expect(flow.isPaused(ReadPause.SEND_BUFFER)).toBe(true);
    expect(transport.paused).toBe(true);
    transport.mode = 'take';
    completeAndDrain(flow, transport);
    expect(transport.paused).toBe(false);
  });

  it('what the application sends on its own never pauses reading (both ends would wait forever)', async () => {
    const { flow, transport } = flowOver();
    flow.highWaterMark = 1000;
    transport.mode = 'hold';
    flow.write([bytes(50_000, 1)]);
    await turn();
    expect(flow.bufferedAmount).toBe(50_000);
    expect(transport.pauses).toBe(0);
  });

  it('pause reasons add up: reading resumes only when none is left', () => {
    const { flow, transport } = flowOver();
    flow.pauseReading(ReadPause.INBOX);
    flow.pauseReading(ReadPause.APPLICATION);
    expect(transport.pauses).toBe(1);
    flow.resumeReading(ReadPause.INBOX);
    expect(transport.paused).toBe(true);
    flow.resumeReading(ReadPause.APPLICATION);
    expect(transport.paused).toBe(false);
    // Removing a reason that was not there changes nothing.
    flow.resumeReading(ReadPause.INFLATE);
    expect(transport.paused).toBe(false);
  });

  it('reports a sizeable write that had to wait as progress, a small one not; others only when watched', async () => {
    const { flow, transport, written } = flowOver();
    transport.mode = 'hold';
    flow.write([bytes(20_000, 1)]);
    await turn();
    completeAndDrain(flow, transport);
    flow.write([bytes(2, 1)]);
    await turn();
    completeAndDrain(flow, transport);
    expect(written).toEqual([true]);
    transport.mode = 'take';
    flow.write([bytes(2, 1)]);
    await turn();
    expect(written).toEqual([true]);
    flow.watchWrites = true;
    flow.write([bytes(2, 1)]);
    await turn();
    expect(written).toEqual([true, false]);
  });
});
