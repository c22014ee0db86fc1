/**
 * What every {@link Store} must do, whatever keeps the data: run it with
 * `defineStoreContract('MemoryStore', (options) => new MemoryStore(options))`.
 * Fan-out may be asynchronous (a networked store), so events are awaited, never
 * assumed to be there right after the call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Member, StoredMessage } from '../src/server/protocol.ts';
import type { NewMessage, RoomEvent, Store } from '../src/server/store.ts';

/** History bounds a contract test may ask for. */
export interface ContractStoreOptions {
  readonly historyLimit?: number;
  readonly historyBytes?: number;
}

/** Builds a fresh, empty store (isolated from every other one the factory made). */
export type MakeStore = (options?: ContractStoreOptions) => Store | Promise<Store>;

/** Resolves once `check` returns true; fails after `timeout` ms with `what`. */
export async function eventually(check: () => boolean, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records what a store fans out. */
export class Recorder {
  readonly events: { room: string; event: RoomEvent }[] = [];
  readonly unsubscribe: () => void;

  constructor(store: Store) {
    this.unsubscribe = store.subscribe((room, event) => this.events.push({ room, event }));
  }

  messages(room: string): StoredMessage[] {
    return this.events.flatMap(({ room: r, event }) =>
      r === room && event.kind === 'message' ? [event.message] : [],
    );
  }

  ids(room: string): number[] {
    return this.messages(room).map((m) => m.id);
  }

  presence(room: string): (readonly Member[])[] {
    return this.events.flatMap(({ room: r, event }) =>
      r === room && event.kind === 'presence' ? [event.members] : [],
    );
  }

  typing(room: string): { from: Member; typing: boolean }[] {
    return this.events.flatMap(({ room: r, event }) =>
      r === room && event.kind === 'typing' ? [{ from: event.from, typing: event.typing }] : [],
    );
  }
}

export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const member = (id: string, nick = id): Member => ({ id, nick });

export function text(room: string, body: string, from: Member = member('m1', 'ada')): NewMessage {
  return { type: 'msg', room, ts: 1_700_000_000_000, from, text: body };
}

export function file(room: string, bytes: Uint8Array, from: Member = member('m1', 'ada')): NewMessage {
  return {
    type: 'file',
    room,
    ts: 1_700_000_000_001,
    from,
    name: 'data.bin',
    mime: 'application/octet-stream',
    size: bytes.byteLength,
    bytes,
    nonce: 'f-1',
  };
}

/** Random bytes (getRandomValues takes at most 64 KiB at a time). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  return bytes;
}

/** Byte-for-byte equality (toEqual on large arrays is slow). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Defines the contract's tests for one store implementation. */
export function defineStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    const open: Store[] = [];
    const make = async (options?: ContractStoreOptions): Promise<Store> => {
      const store = await makeStore(options);
      open.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close()));
    });

    it('numbers messages 1, 2, 3… per room and keeps them', async () => {
      const store = await make();
      expect(await store.append('a', text('a', 'one'))).toBe(1);
      expect(await store.append('a', text('a', 'two'))).toBe(2);
      expect(await store.append('b', text('b', 'other room'))).toBe(1);
      expect(await store.append('a', { ...text('a', 'three'), nonce: 'n-3' })).toBe(3);
      const slice = await store.since('a', 0);
      expect(slice.head).toBe(3);
      expect(slice.messages).toEqual([
        { ...text('a', 'one'), id: 1 },
        { ...text('a', 'two'), id: 2 },
        { ...text('a', 'three'), nonce: 'n-3', id: 3 },
      ]);
      expect(await store.since('b', 0)).toEqual({
        head: 1,
        messages: [{ ...text('b', 'other room'), id: 1 }],
      });
      expect(await store.since('nowhere', 0)).toEqual({ head: 0, messages: [] });
    });

    it('since() honours afterId and limit and reports the head', async () => {
      const store = await make();
      for (let i = 1; i <= 10; i++) await store.append('r', text('r', `m${i}`));
      const ids = async (after: number, limit?: number) =>
        (await store.since('r', after, limit)).messages.map((m) => m.id);
      expect(await ids(7)).toEqual([8, 9, 10]);
      expect(await ids(0, 3)).toEqual([8, 9, 10]);
      expect(await ids(2, 4)).toEqual([7, 8, 9, 10]);
      expect(await ids(8, 100)).toEqual([9, 10]);
      expect(await ids(10)).toEqual([]);
      const beyond = await store.since('r', 50);
      expect(beyond).toEqual({ head: 10, messages: [] });
      expect((await store.since('r', 0, 0)).messages).toEqual([]);
    });

    it('fans out every message to every subscriber in id order, as stored', async () => {
      const store = await make();
      const first = new Recorder(store);
      const second = new Recorder(store);
      const ids = await Promise.all(range(1, 30).map((i) => store.append('r', text('r', `m${i} ü€😀`))));
      expect([...ids].sort((a, b) => a - b)).toEqual(range(1, 30));
      await eventually(() => first.ids('r').length >= 30 && second.ids('r').length >= 30, '30 messages');
      expect(first.ids('r')).toEqual(range(1, 30));
      expect(second.ids('r')).toEqual(range(1, 30));
      expect(first.messages('r')).toEqual((await store.since('r', 0)).messages);

      second.unsubscribe();
      await store.append('r', text('r', 'after'));
      await eventually(() => first.ids('r').length === 31, 'message 31');
      expect(second.ids('r')).toHaveLength(30);
    });

    it('keeps file bytes exactly, as a plain Uint8Array', async () => {
      const store = await make();
      const recorder = new Recorder(store);
      // Every byte value, newlines and CRs included, then random data.
      const bytes = new Uint8Array(70_000);
      bytes.set(Uint8Array.from(range(0, 255)));
      bytes.set(randomBytes(bytes.length - 256), 256);
      const id = await store.append('files', file('files', bytes));
      const stored = (await store.since('files', 0)).messages[0];
      expect(stored).toMatchObject({ id, type: 'file', name: 'data.bin', size: bytes.length, nonce: 'f-1' });
      if (stored?.type !== 'file') throw new Error('not a file');
      expect(Object.getPrototypeOf(stored.bytes)).toBe(Uint8Array.prototype);
      expect(sameBytes(stored.bytes, bytes)).toBe(true);
      await eventually(() => recorder.messages('files').length === 1, 'the file event');
      const fanned = recorder.messages('files')[0];
      if (fanned?.type !== 'file') throw new Error('not a file');
      expect(Object.getPrototypeOf(fanned.bytes)).toBe(Uint8Array.prototype);
      expect(sameBytes(fanned.bytes, bytes)).toBe(true);
    });

    it('bounds history by message count; the head keeps counting', async () => {
      const store = await make({ historyLimit: 5 });
      for (let i = 1; i <= 12; i++) await store.append('r', text('r', `m${i}`));
      const all = await store.since('r', 0);
      expect(all.head).toBe(12);
      expect(all.messages.map((m) => m.id)).toEqual([8, 9, 10, 11, 12]);
      expect((await store.since('r', 3)).messages.map((m) => m.id)).toEqual([8, 9, 10, 11, 12]);
      expect((await store.since('r', 9)).messages.map((m) => m.id)).toEqual([10, 11, 12]);
    });

    it('bounds history by file bytes', async () => {
      const store = await make({ historyBytes: 1000 });
      await store.append('r', text('r', 'hello'));
      for (let i = 0; i < 3; i++) await store.append('r', file('r', randomBytes(400)));
      expect((await store.since('r', 0)).messages.map((m) => m.id)).toEqual([3, 4]);
      await store.append('r', text('r', 'text costs no file bytes'));
      expect((await store.since('r', 0)).messages.map((m) => m.id)).toEqual([3, 4, 5]);
      // A file alone over the bound is not kept at all.
      expect(await store.append('r', file('r', randomBytes(1001)))).toBe(6);
      expect(await store.since('r', 0)).toEqual({ head: 6, messages: [] });
      expect(await store.append('r', file('r', randomBytes(10)))).toBe(7);
      expect((await store.since('r', 0)).messages.map((m) => m.id)).toEqual([7]);
    });

    it('keeps presence in join order and fans out changes only', async () => {
      const store = await make();
      const recorder = new Recorder(store);
      expect(await store.join('r', member('c1', 'ada'))).toEqual([member('c1', 'ada')]);
      expect(await store.join('r', member('c2', 'bob'))).toEqual([member('c1', 'ada'), member('c2', 'bob')]);
      expect(await store.join('r', member('c3', 'cy'))).toEqual([
        member('c1', 'ada'),
        member('c2', 'bob'),
        member('c3', 'cy'),
      ]);
      // Joining again keeps the place.
      expect((await store.join('r', member('c1', 'ada'))).map((m) => m.id)).toEqual(['c1', 'c2', 'c3']);
      expect(await store.leave('r', 'c2')).toEqual([member('c1', 'ada'), member('c3', 'cy')]);
      await eventually(() => recorder.presence('r').length === 5, '5 presence events');
      expect(await store.leave('r', 'nobody')).toEqual([member('c1', 'ada'), member('c3', 'cy')]);
      expect(await store.leave('empty-room', 'c1')).toEqual([]);
      expect(await store.join('other', member('c1', 'ada'))).toEqual([member('c1', 'ada')]);
      await eventually(() => recorder.presence('other').length === 1, 'presence in other');
      // Nothing for the leaves that changed nothing.
      expect(recorder.presence('r').map((list) => list.map((m) => m.id))).toEqual([
        ['c1'],
        ['c1', 'c2'],
        ['c1', 'c2', 'c3'],
        ['c1', 'c2', 'c3'],
        ['c1', 'c3'],
      ]);
      expect(recorder.presence('empty-room')).toEqual([]);
    });

    it('fans out typing without keeping it', async () => {
      const store = await make();
      const recorder = new Recorder(store);
      await store.broadcast('r', { kind: 'typing', from: member('c1', 'ada'), typing: true });
      await store.broadcast('r', { kind: 'typing', from: member('c1', 'ada'), typing: false });
      await eventually(() => recorder.typing('r').length === 2, 'two typing events');
      expect(recorder.typing('r')).toEqual([
        { from: member('c1', 'ada'), typing: true },
        { from: member('c1', 'ada'), typing: false },
      ]);
      expect(await store.since('r', 0)).toEqual({ head: 0, messages: [] });
      expect(await store.rooms()).toEqual([]);
    });

    it('lists rooms with history or people online, busiest first', async () => {
      const store = await make();
      expect(await store.rooms()).toEqual([]);
      await store.append('quiet', text('quiet', 'anyone?'));
      await store.join('busy', member('c1'));
      await store.join('busy', member('c2'));
      await store.join('alpha', member('c3'));
      await store.join('passing', member('c4'));
      await store.leave('passing', 'c4');
      expect(await store.rooms()).toEqual([
        { name: 'busy', online: 2 },
        { name: 'alpha', online: 1 },
        { name: 'quiet', online: 0 },
      ]);
      await store.leave('busy', 'c1');
      await store.leave('busy', 'c2');
      // Nobody online and no history: gone. History keeps a room listed.
      await store.append('alpha', text('alpha', 'hi'));
      await store.leave('alpha', 'c3');
      expect(await store.rooms()).toEqual([
        { name: 'alpha', online: 0 },
        { name: 'quiet', online: 0 },
      ]);
    });

    it('keeps delivering to the other subscribers when one throws', async () => {
      const store = await make();
      store.subscribe(() => {
        throw new Error('subscriber bug');
      });
      const recorder = new Recorder(store);
      await store.append('r', text('r', 'one'));
      await store.append('r', text('r', 'two'));
      await eventually(() => recorder.ids('r').length === 2, 'both messages');
      expect(recorder.ids('r')).toEqual([1, 2]);
    });
  });
}
