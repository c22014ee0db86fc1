import { describe, expect, it } from 'vitest';
import { Close, LIMITS, parseClientMessage } from '../src/server/protocol.ts';

const parse = (value: unknown) =>
  parseClientMessage(typeof value === 'string' ? value : JSON.stringify(value));

describe('parseClientMessage', () => {
  it('accepts every well-formed message', () => {
    expect(parse({ type: 'hello', nick: 'Ada L.' })).toEqual({
      ok: true,
      message: { type: 'hello', nick: 'Ada L.' },
    });
    expect(parse({ type: 'join', room: 'lobby', since: 7 })).toMatchObject({
      ok: true,
      message: { since: 7 },
    });
    expect(parse({ type: 'join', room: 'dev_2' }).ok).toBe(true);
    expect(parse({ type: 'leave', room: 'lobby' }).ok).toBe(true);
    expect(parse({ type: 'typing', room: 'lobby', typing: true }).ok).toBe(true);
    expect(parse({ type: 'msg', room: 'lobby', text: 'hi', nonce: 'n1' }).ok).toBe(true);
    expect(parse({ type: 'file', room: 'lobby', name: 'a.png', mime: 'Image/PNG', size: 10 })).toMatchObject({
      ok: true,
      message: { mime: 'image/png' },
    });
  });

  it.each([
    ['not JSON', '{nope', 'bad_json'],
    ['an array', [], 'bad_message'],
    ['null', 'null', 'bad_message'],
    ['no type', { room: 'x' }, 'unknown_type'],
    ['unknown type', { type: 'shout', room: 'x' }, 'unknown_type'],
    ['__proto__ type', { type: '__proto__' }, 'unknown_type'],
    ['extra field', { type: 'leave', room: 'x', admin: true }, 'bad_message'],
    ['empty nick', { type: 'hello', nick: '' }, 'bad_nick'],
    ['long nick', { type: 'hello', nick: 'x'.repeat(25) }, 'bad_nick'],
    ['nick with spaces around', { type: 'hello', nick: ' ada ' }, 'bad_nick'],
    ['nick with markup', { type: 'hello', nick: '<b>' }, 'bad_nick'],
    ['numeric nick', { type: 'hello', nick: 5 }, 'bad_nick'],
    ['upper-case room', { type: 'join', room: 'Lobby' }, 'bad_room'],
    ['long room', { type: 'join', room: 'a'.repeat(33) }, 'bad_room'],
    ['room path', { type: 'join', room: '../x' }, 'bad_room'],
    ['negative since', { type: 'join', room: 'a', since: -1 }, 'bad_message'],
    ['fractional since', { type: 'join', room: 'a', since: 1.5 }, 'bad_message'],
    ['string since', { type: 'join', room: 'a', since: '3' }, 'bad_message'],
    ['typing not boolean', { type: 'typing', room: 'a', typing: 'yes' }, 'bad_message'],
    ['blank text', { type: 'msg', room: 'a', text: '   ' }, 'bad_text'],
    ['text not string', { type: 'msg', room: 'a', text: 42 }, 'bad_text'],
    ['long text', { type: 'msg', room: 'a', text: 'x'.repeat(LIMITS.maxTextChars + 1) }, 'too_large'],
    ['long nonce', { type: 'msg', room: 'a', text: 'x', nonce: 'n'.repeat(65) }, 'bad_message'],
    ['file without name', { type: 'file', room: 'a', name: '', mime: 'image/png', size: 1 }, 'bad_message'],
    ['file bad mime', { type: 'file', room: 'a', name: 'x', mime: 'png', size: 1 }, 'bad_message'],
    ['file zero size', { type: 'file', room: 'a', name: 'x', mime: 'image/png', size: 0 }, 'bad_message'],
    ['file size string', { type: 'file', room: 'a', name: 'x', mime: 'image/png', size: '9' }, 'bad_message'],
    [
      'file too large',
      { type: 'file', room: 'a', name: 'x', mime: 'image/png', size: LIMITS.maxFileBytes + 1 },
      'too_large',
    ],
  ])('answers %s with an error (%s), no close', (_name, input, code) => {
    const result = parse(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.close).toBeUndefined();
    }
  });

  it('asks for a 1009 close for an oversized control message', () => {
    const result = parse(
      JSON.stringify({ type: 'msg', room: 'a', text: 'x'.repeat(LIMITS.maxControlChars) }),
    );
    expect(result).toMatchObject({ ok: false, code: 'too_large', close: Close.MESSAGE_TOO_BIG });
  });
});
