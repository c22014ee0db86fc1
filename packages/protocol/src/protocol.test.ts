import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProtocolEvent } from './events.ts';
import { encodeFrameBytes, type FrameOptions, Opcode } from './frames.ts';
import { Protocol, type ProtocolOptions } from './protocol.ts';

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const enc = new TextEncoder();

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A frame as a client would send it (masked). */
function clientFrame(
  payload: Uint8Array | string,
  opts: Partial<FrameOptions> & { opcode: number },
): Uint8Array {
  const data = typeof payload === 'string' ? enc.encode(payload) : payload;
  return encodeFrameBytes(data, { fin: true, mask: MASK, ...opts });
}

/** A frame as a server would send it (unmasked). */
function serverFrame(
  payload: Uint8Array | string,
  opts: Partial<FrameOptions> & { opcode: number },
): Uint8Array {
  const data = typeof payload === 'string' ? enc.encode(payload) : payload;
  return encodeFrameBytes(data, { fin: true, ...opts, mask: undefined });
}

function server(options: Partial<ProtocolOptions> = {}): Protocol {
  return new Protocol({ side: 'server', ...options });
}

function client(options: Partial<ProtocolOptions> = {}): Protocol {
  return new Protocol({ side: 'client', ...options });
}

/** Feeds bytes and returns the events. */
function feed(conn: Protocol, ...chunks: Uint8Array[]): ProtocolEvent[] {
  for (const chunk of chunks) conn.receiveData(chunk);
  return conn.events();
}

/** Parses what `from` wants to send, as seen by a peer of the other side. */
function sentFrames(from: Protocol): ProtocolEvent[] {
  const peer = new Protocol({ side: from.side === 'server' ? 'client' : 'server' });
  peer.receiveData(concat(from.dataToSend()));
  return peer.events();
}

function failureOf(events: ProtocolEvent[]): { code: number; error: string } | undefined {
  const failure = events.find((e) => e.type === 'failure');
  return failure && failure.type === 'failure' ? { code: failure.code, error: failure.error } : undefined;
}

/** The close code inside the close frame `conn` has queued. */
function sentCloseCode(conn: Protocol): number | undefined {
  const bytes = concat(conn.dataToSend());
  // Our own frames: find the close frame by parsing with a tolerant peer.
  const peer = new Protocol({ side: conn.side === 'server' ? 'client' : 'server' });
  peer.receiveData(bytes);
  const close = peer.events().find((e) => e.type === 'close');
  return close && close.type === 'close' ? close.code : undefined;
}

describe('RFC 6455 §5.7 examples', () => {
  it('a single-frame unmasked text message reaches a client', () => {
    expect(feed(client(), hex('81 05 48 65 6c 6c 6f'))).toEqual([{ type: 'text', data: 'Hello' }]);
  });

  it('a single-frame masked text message reaches a server', () => {
    expect(feed(server(), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'))).toEqual([
      { type: 'text', data: 'Hello' },
    ]);
  });

  it('a fragmented unmasked text message is reassembled', () => {
    expect(feed(client(), hex('01 03 48 65 6c'), hex('80 02 6c 6f'))).toEqual([
      { type: 'text', data: 'Hello' },
    ]);
  });

  it('an unmasked ping is answered by a masked pong with the same payload', () => {
    const c = client();
    expect(feed(c, hex('89 05 48 65 6c 6c 6f'))).toEqual([{ type: 'ping', data: enc.encode('Hello') }]);
    const out = concat(c.dataToSend());
    expect(out[0]).toBe(0x8a);
    expect(out[1]).toBe(0x85);
    expect(sentFramesFromBytes('server', out)).toEqual([{ type: 'pong', data: enc.encode('Hello') }]);
  });

  it('past maxAutoPongs in one batch of input, only the latest ping is answered, once', () => {
    const c = client({ maxAutoPongs: 3 });
    const pings = Array.from({ length: 50 }, (_, i) => hex(`89 01 ${i.toString(16).padStart(2, '0')}`));
    const events = feed(c, concat(pings));
    expect(events).toHaveLength(50);
    const pongs = sentFramesFromBytes('server', concat(c.dataToSend()));
    expect(pongs).toEqual([0, 1, 2, 49].map((i) => ({ type: 'pong', data: Uint8Array.of(i) })));
    // The count starts again with the next batch; a close sent meanwhile goes after the owed pong.
    feed(c, concat(pings.slice(0, 5)));
    c.sendClose(1000);
    const next = sentFramesFromBytes('server', concat(c.dataToSend()));
    expect(next.map((f) => f.type)).toEqual(['pong', 'pong', 'pong', 'pong', 'close']);
    expect(next[3]).toEqual({ type: 'pong', data: Uint8Array.of(4) });
  });

  it('every ping of an ordinary burst (up to the default cap of 16) gets its own pong', () => {
    const c = client();
    feed(c, concat(Array.from({ length: 16 }, (_, i) => hex(`89 01 ${i.toString(16).padStart(2, '0')}`))));
    const pongs = sentFramesFromBytes('server', concat(c.dataToSend()));
    expect(pongs).toEqual(Array.from({ length: 16 }, (_, i) => ({ type: 'pong', data: Uint8Array.of(i) })));
  });

  it('a masked pong reaches a server', () => {
    expect(feed(server(), hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'))).toEqual([
      { type: 'pong', data: enc.encode('Hello') },
    ]);
  });

  it('256 bytes of binary data in a single unmasked frame', () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const frame = concat([hex('82 7e 01 00'), payload]);
    expect(feed(client(), frame)).toEqual([{ type: 'binary', data: payload }]);
  });

  it('64 KiB of binary data in a single unmasked frame', () => {
    const payload = new Uint8Array(65536).map((_, i) => i * 7);
    const frame = concat([hex('82 7f 00 00 00 00 00 01 00 00'), payload]);
    expect(feed(client(), frame)).toEqual([{ type: 'binary', data: payload }]);
  });
});

function sentFramesFromBytes(side: 'client' | 'server', bytes: Uint8Array): ProtocolEvent[] {
  const peer = new Protocol({ side });
  peer.receiveData(bytes);
  return peer.events();
}

describe('receiving messages', () => {
  it('a message that arrived whole is a view into the received chunk (no copy)', () => {
    const chunk = clientFrame(new Uint8Array([1, 2, 3, 4]), { opcode: Opcode.BINARY });
    const [event] = feed(server(), chunk);
    expect(event?.type).toBe('binary');
    expect(event?.type === 'binary' && event.data.buffer).toBe(chunk.buffer);
  });

  it('gives the same messages when fed one byte at a time', () => {
    const wire = concat([
      clientFrame('héllo wörld ✓ 🎉', { opcode: Opcode.TEXT }),
      clientFrame(new Uint8Array(300).fill(9), { opcode: Opcode.BINARY }),
      clientFrame('frag', { opcode: Opcode.TEXT, fin: false }),
      clientFrame('', { opcode: Opcode.CONTINUATION, fin: false }),
      clientFrame('ment', { opcode: Opcode.CONTINUATION }),
    ]);
    const whole = feed(server(), wire.slice());
    const s = server();
    const events: ProtocolEvent[] = [];
    for (let i = 0; i < wire.length; i++) {
      s.receiveData(wire.slice(i, i + 1));
      events.push(...s.events());
    }
    expect(events).toEqual(whole);
    expect(whole).toEqual([
      { type: 'text', data: 'héllo wörld ✓ 🎉' },
      { type: 'binary', data: new Uint8Array(300).fill(9) },
      { type: 'text', data: 'fragment' },
    ]);
  });

  it('delivers control frames interleaved with a fragmented message', () => {
    const events = feed(
      server(),
      clientFrame('Hel', { opcode: Opcode.TEXT, fin: false }),
      clientFrame('p1', { opcode: Opcode.PING }),
      clientFrame('l', { opcode: Opcode.CONTINUATION, fin: false }),
      clientFrame('', { opcode: Opcode.PONG }),
      clientFrame('o', { opcode: Opcode.CONTINUATION }),
    );
    expect(events).toEqual([
      { type: 'ping', data: enc.encode('p1') },
      { type: 'pong', data: new Uint8Array(0) },
      { type: 'text', data: 'Hello' },
    ]);
  });

  it('keeps a leading byte order mark in text messages, whole or fragmented', () => {
    const bom = '\uFEFFhello';
    expect(feed(server(), clientFrame(bom, { opcode: Opcode.TEXT }))).toEqual([{ type: 'text', data: bom }]);
    const bytes = enc.encode(bom);
    expect(
      feed(
        server(),
        clientFrame(bytes.subarray(0, 2), { opcode: Opcode.TEXT, fin: false }),
        clientFrame(bytes.subarray(2), { opcode: Opcode.CONTINUATION }),
      ),
    ).toEqual([{ type: 'text', data: bom }]);
  });

  it('accepts an empty text and an empty binary message', () => {
    expect(
      feed(server(), clientFrame('', { opcode: Opcode.TEXT }), clientFrame('', { opcode: Opcode.BINARY })),
    ).toEqual([
      { type: 'text', data: '' },
      { type: 'binary', data: new Uint8Array(0) },
    ]);
  });

  it('reassembles a multi-byte character split across fragments', () => {
    const bytes = enc.encode('€');
    const events = feed(
      server(),
      clientFrame(bytes.subarray(0, 1), { opcode: Opcode.TEXT, fin: false }),
      clientFrame(bytes.subarray(1, 2), { opcode: Opcode.CONTINUATION, fin: false }),
      clientFrame(bytes.subarray(2), { opcode: Opcode.CONTINUATION }),
    );
    expect(events).toEqual([{ type: 'text', data: '€' }]);
  });

  it('does not answer pings when autoPong is off', () => {
    const s = server({ autoPong: false });
    expect(feed(s, clientFrame('x', { opcode: Opcode.PING }))).toEqual([
      { type: 'ping', data: enc.encode('x') },
    ]);
    expect(s.dataToSend()).toEqual([]);
  });
});

describe('protocol violations fail the connection with the right code', () => {
  function expectFailure(conn: Protocol, code: number, error: string, ...chunks: Uint8Array[]): void {
    const events = feed(conn, ...chunks);
    expect(failureOf(events)).toEqual({ code, error });
    expect(events.some((e) => e.type === 'text' || e.type === 'binary')).toBe(false);
    expect(conn.shouldCloseTransport()).toBe(true);
    expect(conn.state).toBe('closing');
    expect(sentCloseCode(conn)).toBe(code);
  }

  it('an unmasked frame from a client → 1002', () => {
    expectFailure(server(), 1002, 'WS_ERR_EXPECTED_MASK', serverFrame('hi', { opcode: Opcode.TEXT }));
  });

  it('a masked frame from a server → 1002', () => {
    expectFailure(client(), 1002, 'WS_ERR_UNEXPECTED_MASK', clientFrame('hi', { opcode: Opcode.TEXT }));
  });

  it('RSV bits no extension claimed → 1002', () => {
    for (const rsv of ['rsv1', 'rsv2', 'rsv3'] as const) {
      expectFailure(
        server(),
        1002,
        'WS_ERR_UNEXPECTED_RSV',
        clientFrame('hi', { opcode: Opcode.TEXT, [rsv]: true }),
      );
    }
  });

  it('reserved opcodes → 1002', () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      expectFailure(
        server(),
        1002,
        'WS_ERR_INVALID_OPCODE',
        hex(`${(0x80 | opcode).toString(16)} 80 00 00 00 00`),
      );
    }
  });

  it('a control frame over 125 bytes → 1002', () => {
    expectFailure(server(), 1002, 'WS_ERR_CONTROL_FRAME_TOO_LONG', hex('89 fe 00 7e 00 00 00 00'));
  });

  it('a fragmented control frame → 1002', () => {
    expectFailure(server(), 1002, 'WS_ERR_FRAGMENTED_CONTROL_FRAME', hex('09 80 00 00 00 00'));
  });

  it('a continuation frame with no message to continue → 1002', () => {
    expectFailure(
      server(),
      1002,
      'WS_ERR_UNEXPECTED_CONTINUATION',
      clientFrame('x', { opcode: Opcode.CONTINUATION }),
    );
  });

  it('a new data frame in the middle of a fragmented message → 1002', () => {
    expectFailure(
      server(),
      1002,
      'WS_ERR_EXPECTED_CONTINUATION',
      clientFrame('a', { opcode: Opcode.TEXT, fin: false }),
      clientFrame('b', { opcode: Opcode.BINARY }),
    );
  });

  it('a 64-bit length with the most significant bit set → 1002', () => {
    expectFailure(server(), 1002, 'WS_ERR_INVALID_LENGTH', hex('82 ff 80 00 00 00 00 00 00 00 00 00 00 00'));
  });

  it('invalid UTF-8 in a whole text message → 1007', () => {
    expectFailure(
      server(),
      1007,
      'WS_ERR_INVALID_UTF8',
      clientFrame(hex('ce ba e1 bd b9 ed a0 80'), { opcode: Opcode.TEXT }),
    );
  });

  it('invalid UTF-8 fails as soon as the byte arrives, mid-frame and mid-message', () => {
    const s = server();
    // A 100-byte fragment of a text message, of which only the first bytes arrive.
    const frame = clientFrame(concat([enc.encode('ok '), hex('f4 90'), new Uint8Array(95).fill(0x61)]), {
      opcode: Opcode.TEXT,
      fin: false,
    });
    const events = feed(s, frame.subarray(0, 2 + 4 + 5));
    expect(failureOf(events)).toEqual({ code: 1007, error: 'WS_ERR_INVALID_UTF8' });
  });

  it('a text message that ends inside a UTF-8 sequence → 1007', () => {
    expectFailure(
      server(),
      1007,
      'WS_ERR_INVALID_UTF8',
      clientFrame('ok', { opcode: Opcode.TEXT, fin: false }),
      clientFrame(hex('e2 82'), { opcode: Opcode.CONTINUATION }),
    );
  });

  it('a frame over maxFrameSize → 1009 before its payload arrives', () => {
    expectFailure(
      server({ maxFrameSize: 150 }),
      1009,
      'WS_ERR_FRAME_TOO_BIG',
      hex('82 fe 00 c8 00 00 00 00'),
    );
  });

  it('a message over maxMessageSize across fragments → 1009', () => {
    expectFailure(
      server({ maxMessageSize: 10 }),
      1009,
      'WS_ERR_MESSAGE_TOO_BIG',
      clientFrame('123456', { opcode: Opcode.TEXT, fin: false }),
      clientFrame('78901', { opcode: Opcode.CONTINUATION }),
    );
  });

  it('a flood of empty continuation frames hits maxFragments → 1009 (ws CVE-2026-48779)', () => {
    const s = server({ maxFragments: 1000 });
    const empty = clientFrame('', { opcode: Opcode.CONTINUATION, fin: false });
    s.receiveData(clientFrame('a', { opcode: Opcode.TEXT, fin: false }));
    for (let i = 0; i < 2000; i++) s.receiveData(empty.slice());
    const events = s.events();
    expect(failureOf(events)).toEqual({ code: 1009, error: 'WS_ERR_TOO_MANY_FRAGMENTS' });
  });

  it('ignores everything after a failure', () => {
    const s = server();
    feed(s, serverFrame('x', { opcode: Opcode.TEXT }));
    s.dataToSend();
    expect(feed(s, clientFrame('late', { opcode: Opcode.TEXT }))).toEqual([]);
    expect(s.dataToSend()).toEqual([]);
  });

  it('reports the failure as the close code', () => {
    const s = server();
    feed(s, serverFrame('x', { opcode: Opcode.TEXT }));
    expect(s.closeCode).toBe(1002);
    expect(s.error?.code).toBe('WS_ERR_EXPECTED_MASK');
    expect(s.closedCleanly).toBe(false);
  });
});

describe('close frames', () => {
  function closeFrame(payload: Uint8Array): Uint8Array {
    return clientFrame(payload, { opcode: Opcode.CLOSE });
  }
  function codeBytes(code: number, reason = ''): Uint8Array {
    return concat([new Uint8Array([code >> 8, code & 0xff]), enc.encode(reason)]);
  }

  it('accepts every code valid on the wire and echoes it', () => {
    const valid = [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    ];
    for (const code of valid) {
      const s = server();
      expect(feed(s, closeFrame(codeBytes(code, 'bye')))).toEqual([{ type: 'close', code, reason: 'bye' }]);
      expect(sentCloseCode(s)).toBe(code);
    }
  });

  it('fails with 1002 on codes that may not appear on the wire', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
      const s = server();
      const events = feed(s, closeFrame(codeBytes(code)));
      expect(failureOf(events)).toEqual({ code: 1002, error: 'WS_ERR_INVALID_CLOSE_CODE' });
    }
  });

  it('a 1-byte close payload → 1002', () => {
    const events = feed(server(), closeFrame(new Uint8Array([3])));
    expect(failureOf(events)).toEqual({ code: 1002, error: 'WS_ERR_INVALID_CLOSE_PAYLOAD' });
  });

  it('a close reason that is not UTF-8 → 1007', () => {
    const events = feed(server(), closeFrame(concat([codeBytes(1000), hex('ff fe')])));
    expect(failureOf(events)).toEqual({ code: 1007, error: 'WS_ERR_INVALID_UTF8' });
  });

  it('an empty close frame reports 1005 and is answered with an empty close frame', () => {
    const s = server();
    expect(feed(s, closeFrame(new Uint8Array(0)))).toEqual([{ type: 'close', code: 1005, reason: '' }]);
    expect(concat(s.dataToSend())).toEqual(hex('88 00'));
  });

  it('server: the peer closes first → reply, then the server ends TCP', () => {
    const s = server();
    feed(s, closeFrame(codeBytes(1000, 'done')));
    expect(s.state).toBe('closing');
    // The reply (and the end of TCP) wait for dataToSend, so answers to earlier messages go first.
    expect(s.shouldCloseTransport()).toBe(false);
    expect(s.closeSent).toBeUndefined();
    expect(s.sendText('last words')).toBe(true);
    expect(sentFramesFromBytes('client', concat(s.dataToSend()))).toEqual([
      { type: 'text', data: 'last words' },
      { type: 'close', code: 1000, reason: 'done' },
    ]);
    expect(s.shouldCloseTransport()).toBe(true);
    expect(s.sendText('too late')).toBe(false);
    expect(s.closeReceived).toEqual({ code: 1000, reason: 'done' });
    expect(s.closeSent?.code).toBe(1000);
    s.receiveEof();
    expect(s.state).toBe('closed');
    expect(s.closedCleanly).toBe(true);
    expect(s.closeCode).toBe(1000);
  });

  it('client: the peer closes first → reply, and the client waits for the server to end TCP', () => {
    const c = client();
    feed(c, serverFrame(codeBytes(1001), { opcode: Opcode.CLOSE }));
    expect(c.shouldCloseTransport()).toBe(false);
    expect(c.closeExpected()).toBe(true);
    expect(sentCloseCode(c)).toBe(1001);
  });

  it('we close first: nothing but the close frame goes out afterwards, messages still arrive', () => {
    const s = server();
    expect(s.sendClose(4000, 'shutting down')).toBe(true);
    expect(s.state).toBe('closing');
    expect(s.closeExpected()).toBe(true);
    expect(sentFrames(s)).toEqual([{ type: 'close', code: 4000, reason: 'shutting down' }]);
    expect(s.sendText('late')).toBe(false);
    expect(s.sendBinary(new Uint8Array(1))).toBe(false);
    expect(s.sendPing()).toBe(false);
    expect(s.sendClose(1000)).toBe(false);
    const events = feed(
      s,
      clientFrame('in flight', { opcode: Opcode.TEXT }),
      clientFrame('p', { opcode: Opcode.PING }),
    );
    expect(events).toEqual([
      { type: 'text', data: 'in flight' },
      { type: 'ping', data: enc.encode('p') },
    ]);
    expect(s.dataToSend()).toEqual([]);
    expect(s.shouldCloseTransport()).toBe(false);
    feed(s, closeFrame(codeBytes(4000)));
    expect(s.dataToSend()).toEqual([]);
    expect(s.shouldCloseTransport()).toBe(true);
    expect(s.closedCleanly).toBe(true);
  });

  it('ignores bytes after the close frame', () => {
    const s = server();
    const events = feed(
      s,
      concat([closeFrame(codeBytes(1000)), clientFrame('after', { opcode: Opcode.TEXT })]),
    );
    expect(events).toEqual([{ type: 'close', code: 1000, reason: '' }]);
  });

  it('EOF without a close frame reports 1006', () => {
    const s = server();
    feed(s, clientFrame('a', { opcode: Opcode.TEXT, fin: false }));
    s.receiveEof();
    expect(s.state).toBe('closed');
    expect(s.closeCode).toBe(1006);
    expect(s.closedCleanly).toBe(false);
    expect(s.sendText('x')).toBe(false);
  });

  it('rejects close codes and reasons an endpoint may not send', () => {
    const s = server();
    expect(() => s.sendClose(1005)).toThrow(RangeError);
    expect(() => s.sendClose(1006)).toThrow(RangeError);
    expect(() => s.sendClose(2000)).toThrow(RangeError);
    expect(() => s.sendClose(1000, 'x'.repeat(124))).toThrow(RangeError);
    // ws CVE-2026-45736: a typed array as reason must not become uninitialised bytes.
    expect(() => s.sendClose(1000, new Float32Array(20) as unknown as string)).toThrow(TypeError);
    expect(s.state).toBe('open');
    expect(s.sendClose(1000, 'é'.repeat(61))).toBe(true);
  });

  it('fail() sends the given code and asks for the transport to end', () => {
    const s = server();
    s.fail(1008, 'policy');
    expect(s.shouldCloseTransport()).toBe(true);
    expect(sentFrames(s)).toEqual([{ type: 'close', code: 1008, reason: 'policy' }]);
    expect(feed(s, clientFrame('x', { opcode: Opcode.TEXT }))).toEqual([]);
  });
});

describe('sending', () => {
  it('a server sends unmasked frames and a client masked ones', () => {
    const s = server();
    s.sendText('Hello');
    expect(concat(s.dataToSend())).toEqual(hex('81 05 48 65 6c 6c 6f'));
    const c = client();
    c.sendText('Hello');
    const out = concat(c.dataToSend());
    expect(out[0]).toBe(0x81);
    expect(out[1]).toBe(0x85);
    expect(sentFramesFromBytes('server', out)).toEqual([{ type: 'text', data: 'Hello' }]);
  });

  it('never mutates the caller’s buffer when masking', () => {
    const c = client();
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    c.sendBinary(data);
    c.dataToSend();
    expect(data).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
  });

  it('keeps the payload apart from the header and does not copy it on the server', () => {
    const s = server();
    const data = new Uint8Array(1000);
    s.sendBinary(data);
    const chunks = s.dataToSend();
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toBe(data);
    expect(s.bytesToSend).toBe(0);
  });

  it('sends a fragmented message', () => {
    const s = server();
    expect(s.sendText('Hel', false)).toBe(true);
    expect(() => s.sendBinary(new Uint8Array(1))).toThrow(TypeError);
    s.sendPing(enc.encode('mid'));
    s.sendContinuation('l', false);
    s.sendContinuation('o', true);
    expect(() => s.sendContinuation('x', true)).toThrow(TypeError);
    expect(sentFrames(s)).toEqual([
      { type: 'ping', data: enc.encode('mid') },
      { type: 'text', data: 'Hello' },
    ]);
  });

  it('rejects control payloads that are not bytes or are over 125 bytes (ws GHSA-2mhh-w6q8-5hxw)', () => {
    const s = server();
    expect(() => s.sendPing(50 as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => s.sendPong(new Uint8Array(126))).toThrow(RangeError);
    expect(s.sendPing(new Uint8Array(125))).toBe(true);
  });

  it('counts queued bytes', () => {
    const s = server();
    s.sendBinary(new Uint8Array(200));
    expect(s.bytesToSend).toBe(4 + 200);
  });
});

describe('limits are validated', () => {
  it('rejects nonsense limits', () => {
    expect(() => server({ maxMessageSize: -1 })).toThrow(RangeError);
    expect(() => server({ maxFragments: 1.5 })).toThrow(RangeError);
    expect(() => new Protocol({ side: 'peer' as 'server' })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------- properties

type Message =
  | { kind: 'text'; data: string; parts: number }
  | { kind: 'binary'; data: Uint8Array; parts: number };

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    kind: fc.constant('text' as const),
    data: fc.string({ unit: 'binary', maxLength: 300 }),
    parts: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({
    kind: fc.constant('binary' as const),
    data: fc.uint8Array({ maxLength: 70000 }),
    parts: fc.integer({ min: 1, max: 5 }),
  }),
);

/** Splits bytes at the given cut points (fractions of the length). */
function chop(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    if (p > start && p < bytes.length) {
      out.push(bytes.slice(start, p));
      start = p;
    }
  }
  out.push(bytes.slice(start));
  return out;
}

function sendMessage(conn: Protocol, message: Message): void {
  const bytes = message.kind === 'text' ? enc.encode(message.data) : message.data;
  if (message.parts === 1) {
    if (message.kind === 'text') conn.sendText(message.data);
    else conn.sendBinary(message.data);
    return;
  }
  const size = Math.ceil(bytes.length / message.parts);
  for (let i = 0; i < message.parts; i++) {
    // Fragments may split a UTF-8 sequence: that is allowed on the wire.
    const part = bytes.subarray(Math.min(i * size, bytes.length), Math.min((i + 1) * size, bytes.length));
    const fin = i === message.parts - 1;
    if (i === 0) {
      if (message.kind === 'text') conn.sendText(part, fin);
      else conn.sendBinary(part, fin);
    } else {
      conn.sendContinuation(part, fin);
    }
  }
}

function expected(messages: Message[]): ProtocolEvent[] {
  return messages.map((m) =>
    m.kind === 'text' ? { type: 'text', data: m.data } : { type: 'binary', data: m.data },
  );
}

describe('properties', () => {
  for (const side of ['client', 'server'] as const) {
    it(`${side} → peer: any messages, fragmented and chopped at random boundaries, round-trip`, () => {
      fc.assert(
        fc.property(
          fc.array(messageArb, { maxLength: 8 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
          (messages, cuts) => {
            const sender = new Protocol({ side });
            for (const m of messages) sendMessage(sender, m);
            const wire = concat(sender.dataToSend());
            const receiver = new Protocol({ side: side === 'client' ? 'server' : 'client' });
            const events: ProtocolEvent[] = [];
            for (const chunk of chop(wire, cuts)) {
              receiver.receiveData(chunk);
              events.push(...receiver.events());
            }
            expect(events).toEqual(expected(messages));
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('one byte at a time round-trips too', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 3 }), (messages) => {
        const sender = client();
        for (const m of messages)
          sendMessage(sender, {
            ...m,
            data: m.kind === 'binary' ? m.data.subarray(0, 300) : m.data,
          } as Message);
        const wire = concat(sender.dataToSend());
        const receiver = server();
        const events: ProtocolEvent[] = [];
        for (let i = 0; i < wire.length; i++) {
          receiver.receiveData(wire.slice(i, i + 1));
          events.push(...receiver.events());
        }
        expect(events).toEqual(
          expected(messages.map((m) => (m.kind === 'binary' ? { ...m, data: m.data.subarray(0, 300) } : m))),
        );
      }),
      { numRuns: 100 },
    );
  });

  for (const side of ['client', 'server'] as const) {
    it(`${side}: random garbage never throws and ends in valid events or a failure with a legal code`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 40 }),
          fc.boolean(),
          (chunks, validPrefix) => {
            const conn = new Protocol({ side, maxMessageSize: 4096 });
            if (validPrefix) {
              // Start from a valid frame so garbage also lands mid-stream.
              conn.receiveData(
                side === 'server'
                  ? clientFrame('ok', { opcode: Opcode.TEXT })
                  : serverFrame('ok', { opcode: Opcode.TEXT }),
              );
            }
            const events: ProtocolEvent[] = [];
            for (const chunk of chunks) {
              conn.receiveData(chunk);
              events.push(...conn.events());
            }
            const failures = events.filter((e) => e.type === 'failure');
            expect(failures.length).toBeLessThanOrEqual(1);
            const failure = failures[0];
            if (failure && failure.type === 'failure') {
              expect([1002, 1007, 1009]).toContain(failure.code);
              expect(events[events.length - 1]).toBe(failure);
              expect(conn.shouldCloseTransport()).toBe(true);
            }
            for (const e of events) {
              expect(['text', 'binary', 'ping', 'pong', 'close', 'failure']).toContain(e.type);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  }
});

describe('permessage-deflate framing (RFC 7692 §6)', () => {
  // "Hello" compressed with DEFLATE, from RFC 7692 §7.2.3.1.
  const helloDeflated = hex('f2 48 cd c9 c9 07 00');

  it('without the extension, RSV1 is a protocol error', () => {
    const events = feed(server(), clientFrame(helloDeflated, { opcode: Opcode.TEXT, rsv1: true }));
    expect(failureOf(events)).toEqual({ code: 1002, error: 'WS_ERR_UNEXPECTED_RSV' });
  });

  it('reports a compressed message, unvalidated, for the I/O layer to inflate (RFC 7692 §7.2.3.1)', () => {
    const c = client({ perMessageDeflate: true });
    expect(feed(c, hex('c1 07 f2 48 cd c9 c9 07 00'))).toEqual([
      { type: 'compressed', binary: false, data: helloDeflated },
    ]);
  });

  it('reassembles a compressed message sent in fragments (RSV1 on the first only, RFC 7692 §7.2.3.3)', () => {
    const c = client({ perMessageDeflate: true });
    expect(feed(c, hex('41 03 f2 48 cd'), hex('80 04 c9 c9 07 00'))).toEqual([
      { type: 'compressed', binary: false, data: helloDeflated },
    ]);
  });

  it('uncompressed messages still pass as usual when the extension is on', () => {
    const s = server({ perMessageDeflate: true });
    expect(feed(s, clientFrame('plain', { opcode: Opcode.TEXT }))).toEqual([{ type: 'text', data: 'plain' }]);
    expect(feed(s, clientFrame(new Uint8Array([1, 2]), { opcode: Opcode.BINARY, rsv1: true }))).toEqual([
      { type: 'compressed', binary: true, data: new Uint8Array([1, 2]) },
    ]);
  });

  it('RSV1 on a continuation frame or a control frame is a protocol error', () => {
    const s = server({ perMessageDeflate: true });
    const events = feed(
      s,
      clientFrame(helloDeflated.subarray(0, 3), { opcode: Opcode.TEXT, fin: false, rsv1: true }),
      clientFrame(helloDeflated.subarray(3), { opcode: Opcode.CONTINUATION, rsv1: true }),
    );
    expect(failureOf(events)).toEqual({ code: 1002, error: 'WS_ERR_UNEXPECTED_RSV' });
    const ping = feed(
      server({ perMessageDeflate: true }),
      clientFrame('p', { opcode: Opcode.PING, rsv1: true }),
    );
    expect(failureOf(ping)).toEqual({ code: 1002, error: 'WS_ERR_UNEXPECTED_RSV' });
  });

  it('RSV2 and RSV3 stay errors with the extension on', () => {
    const events = feed(
      server({ perMessageDeflate: true }),
      clientFrame('x', { opcode: Opcode.TEXT, rsv2: true }),
    );
    expect(failureOf(events)).toEqual({ code: 1002, error: 'WS_ERR_UNEXPECTED_RSV' });
  });

  it('sends a compressed payload with RSV1 on the first frame only', () => {
    const s = server({ perMessageDeflate: true });
    s.sendText(helloDeflated, true, true);
    expect(concat(s.dataToSend())).toEqual(hex('c1 07 f2 48 cd c9 c9 07 00'));
    s.sendBinary(helloDeflated.subarray(0, 3), false, true);
    s.sendContinuation(helloDeflated.subarray(3), true);
    expect(concat(s.dataToSend())).toEqual(hex('42 03 f2 48 cd 80 04 c9 c9 07 00'));
  });

  it('refuses to send compressed payloads when the extension was not negotiated', () => {
    expect(() => server().sendBinary(helloDeflated, true, true)).toThrow(TypeError);
  });

  it('limits apply to the compressed size on the wire', () => {
    const events = feed(
      server({ perMessageDeflate: true, maxMessageSize: 4, maxFrameSize: 100 }),
      clientFrame(helloDeflated, { opcode: Opcode.TEXT, rsv1: true }),
    );
    expect(failureOf(events)).toEqual({ code: 1009, error: 'WS_ERR_MESSAGE_TOO_BIG' });
  });
});
