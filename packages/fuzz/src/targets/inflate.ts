/**
 * The permessage-deflate inflater of @fullduplex/zlib: `decompress(data, maxSize)`
 * on a sequence of messages, on its synchronous path (no context takeover, small
 * messages) and its asynchronous ones (context takeover, or messages over the sync
 * limit), against a reference inflater built on `inflateRawSync`.
 *
 * Input: config byte, then messages, each a 2-byte big-endian length and its bytes
 * (the last takes what is left when its length overruns).
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { type DeflateEngine, type DeflateParams, InflateLimitError } from '@fullduplex/protocol';
import { createZlibEngine } from '@fullduplex/zlib';
import { concatBytes, equalBytes, fingerprint, utf8Bytes } from '../bytes.ts';
import type { Random } from '../random.ts';
import type { FuzzTarget, LabelSink } from '../target.ts';
import { check, InvariantViolation } from '../violation.ts';

const MAX_SIZES = [0, 1, 5, 64, 125, 1024, 16384, 65536];
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
/** Beyond a few messages a sequence only repeats what shorter ones do, slower. */
const MAX_MESSAGES = 16;
/** Far beyond any maxSize here, and a bound on what a bomb in the input can make. */
const CORRUPT_CHECK_MAX = 64 * 1024 * 1024;

// Separate factories: the small sync limit pushes no-context-takeover messages of
// more than 8 bytes onto the asynchronous one-shot path.
const defaultEngines = createZlibEngine();
const smallSyncLimitEngines = createZlibEngine({ syncLimit: 8 });

interface Config {
  readonly noContextTakeover: boolean;
  readonly smallSyncLimit: boolean;
  readonly maxSize: number;
  readonly side: 'server' | 'client';
}

function configOf(byte: number): Config {
  return {
    noContextTakeover: (byte & 1) !== 0,
    smallSyncLimit: (byte & 2) !== 0,
    maxSize: MAX_SIZES[(byte >>> 2) & 7]!,
    side: (byte & 32) === 0 ? 'server' : 'client',
  };
}

export function splitMessages(body: Uint8Array): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let at = 0;
  while (at < body.length && messages.length < MAX_MESSAGES) {
    const length = ((body[at] ?? 0) << 8) | (body[at + 1] ?? 0);
    const start = Math.min(at + 2, body.length);
    messages.push(body.slice(start, Math.min(start + length, body.length)));
    at = start + length;
  }
  return messages;
}

export function joinMessages(configByte: number, messages: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(configByte)];
  for (const message of messages)
    parts.push(Uint8Array.of(message.length >>> 8, message.length & 0xff), message);
  return concatBytes(parts);
}

type Outcome =
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'limit'; readonly corrupt?: boolean }
  | { readonly type: 'error'; readonly code: string };

function zlibErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_') ? code : undefined;
}

/**
 * What a correct inflater produces, computed the slow and obvious way: the whole
 * DEFLATE stream so far inflated in one go, minus what earlier messages already
 * produced. Like ws, a final block (BFINAL) ends the stream and the next message
 * starts a new one: zlib ignores any bytes after a final block.
 */
class ReferenceInflater {
  #stream: Uint8Array[] = [];
  #produced = 0;

  constructor(private readonly noContextTakeover: boolean) {}

  /**
   * Whether the stream so far stopped at a block boundary, as RFC 7692 §7.2.1 has every
   * message do: then a block appended now inflates to exactly its own text.
   * After a message that did not, one long stream and the engine (which inflates each
   * message on its own, with the window as dictionary) may read the next one differently.
   */
  atBlockBoundary(): boolean {
    const probe = concatBytes([...this.#stream, PROBE_BLOCK]);
    try {
      const out = inflateRawSync(probe, { finishFlush: constants.Z_SYNC_FLUSH });
      const tail = out.subarray(out.length - PROBE.length);
      return out.length >= this.#produced + PROBE.length && equalBytes(tail, PROBE);
    } catch {
      return false;
    }
  }

  /**
   * Whether `input` is corrupt further on than the cap let the inflate go: a message
   * both too big and corrupt may be refused for either, depending on where an
   * inflater checks its output size.
   */
  #corrupt(input: Uint8Array): boolean {
    try {
      inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: CORRUPT_CHECK_MAX });
      return false;
    } catch (error) {
      return zlibErrorCode(error) !== undefined;
    }
  }

  inflate(message: Uint8Array, maxSize: number): Outcome {
    if (this.noContextTakeover) {
      this.#stream = [];
      this.#produced = 0;
    }
    this.#stream.push(message, TAIL);
    const input = concatBytes(this.#stream);
    let result: { buffer: Uint8Array; engine: { bytesWritten: number } };
    try {
      result = inflateRawSync(input, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.#produced + maxSize + 1,
        info: true,
      }) as unknown as { buffer: Uint8Array; engine: { bytesWritten: number } };
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        return { type: 'limit', corrupt: this.#corrupt(input) };
      const code = zlibErrorCode(error);
      if (code === undefined) throw error;
      return { type: 'error', code };
    }
    const data = result.buffer.subarray(this.#produced);
    if (data.length > maxSize) return { type: 'limit', corrupt: this.#corrupt(input) };
    if (result.engine.bytesWritten < input.length) {
      // The stream ended inside this message: the next one starts afresh.
      this.#stream = [];
      this.#produced = 0;
    } else {
      this.#produced = result.buffer.length;
    }
    return { type: 'data', data };
  }
}

const PROBE = new Uint8Array([0x4d, 0x41, 0x52, 0x4b]);
/**
 * PROBE deflated as a final fixed-Huffman block: compressed, so that a stream left inside
 * a stored block (which copies bytes through) cannot produce PROBE from it.
 */
const PROBE_BLOCK = new Uint8Array([0xf3, 0x75, 0x0c, 0xf2, 0x06, 0x00]);

async function inflateWithEngine(
  engine: DeflateEngine,
  message: Uint8Array,
  maxSize: number,
  label: LabelSink,
): Promise<Outcome> {
  try {
    const pending = engine.decompress(message, maxSize);
    label(pending instanceof Promise ? 'path:async' : 'path:sync');
    const data = await pending;
    check(data instanceof Uint8Array, 'decompress resolved with something other than a Uint8Array');
    return { type: 'data', data };
  } catch (error) {
    if (error instanceof InvariantViolation) throw error;
    if (error instanceof InflateLimitError) {
      check(error.limit === maxSize, `InflateLimitError for ${error.limit}, asked for ${maxSize}`);
      return { type: 'limit' };
    }
    const code = zlibErrorCode(error);
    // Anything but the documented errors escaping decompress is a finding.
    if (code === undefined) throw error;
    label(`zlib:${code}:${(error as Error).message}`);
    return { type: 'error', code };
  }
}

function describe(outcome: Outcome): string {
  return outcome.type === 'data'
    ? `data ${fingerprint(outcome.data)}`
    : outcome.type === 'limit'
      ? 'limit'
      : `error ${outcome.code}`;
}

async function run(input: Uint8Array, label: LabelSink): Promise<void> {
  const config = configOf(input[0] ?? 0);
  const messages = splitMessages(input.subarray(1));
  const params: DeflateParams = {
    serverNoContextTakeover: config.noContextTakeover,
    clientNoContextTakeover: config.noContextTakeover,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const factory = config.smallSyncLimit ? smallSyncLimitEngines : defaultEngines;
  const engine = factory({ side: config.side, params });
  const reference = new ReferenceInflater(config.noContextTakeover);
  try {
    for (const [index, message] of messages.entries()) {
      // decompress hands the engine its own copy; the reference must see the same bytes.
      const actual = await inflateWithEngine(engine, Uint8Array.from(message), config.maxSize, label);
      const expected = reference.inflate(message, config.maxSize);
      label(`outcome:${actual.type}`);
      if (actual.type === 'data') {
        check(
          actual.data.length <= config.maxSize,
          `${actual.data.length} bytes for maxSize ${config.maxSize}`,
        );
        label(`size:${Math.ceil(Math.log2(actual.data.length + 1))}`);
      }
      const same =
        describe(actual) === describe(expected) &&
        (actual.type !== 'data' || expected.type !== 'data' || equalBytes(actual.data, expected.data));
      if (!config.noContextTakeover && expected.type !== 'error' && !reference.atBlockBoundary()) {
        // A message that breaks RFC 7692 §7.2.1 (its data does not end at a block
        // boundary): the engine may refuse it (as corrupt, or as too big when what it
        // appends to check the boundary inflates to more), or inflate it as one stream
        // would, never to other data; what follows it is no longer comparable.
        check(
          same || actual.type !== 'data',
          () =>
            `message ${index} (not at a block boundary): decompress gave ${describe(actual)}, expected ${describe(expected)} or a refusal`,
        );
        label('unaligned');
        break;
      }
      check(
        same || (expected.type === 'limit' && expected.corrupt === true && actual.type === 'error'),
        () => `message ${index}: decompress gave ${describe(actual)}, expected ${describe(expected)}`,
      );
      // The connection fails at the first error: nothing is inflated after it.
      if (actual.type !== 'data') break;
    }
  } finally {
    engine.close();
    engine.close(); // closing twice is allowed
  }
}

// --------------------------------------------------------------- structure-aware mutation

const WORDS = ['Hello', ' ', 'WebSocket', 'permessage-deflate', '\u00e9', '{"id":1}', 'aaaaaaaa', '\n'];

/**
 * Replaces the messages with what a real peer sends: a few texts deflated in turn,
 * each with the previous plaintext as dictionary (exactly what context takeover
 * lets the next message refer to), flushed with a sync flush or, rarely, ended with
 * a final block.
 */
function deflatedSequence(random: Random, configByte: number): Uint8Array {
  const count = 1 + random.below(4);
  const messages: Uint8Array[] = [];
  let history: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count; i++) {
    let text = '';
    const words = 1 + random.below(random.chance(0.2) ? 2000 : 20);
    for (let w = 0; w < words; w++) text += random.pick(WORDS);
    const plain = utf8Bytes(text);
    const final = random.chance(0.1);
    const deflated = deflateRawSync(plain, {
      level: random.below(10),
      windowBits: 9 + random.below(7),
      strategy: random.pick([0, 1, 2, 3, 4]),
      finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...((configByte & 1) === 0 && history.length > 0 ? { dictionary: history.subarray(-32768) } : {}),
    });
    messages.push(final ? deflated : deflated.subarray(0, Math.max(0, deflated.length - 4)));
    history = final ? new Uint8Array(0) : concatBytes([history, plain]);
  }
  return joinMessages(configByte, messages);
}

export const inflateTarget: FuzzTarget = {
  name: 'inflate',
  description: 'createZlibEngine().decompress on its sync and async paths, against a reference inflater',
  coverageModules: ['@fullduplex/zlib', 'node:zlib'],
  maxLength: 4096,
  dictionary: [
    [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    [0xf2, 0x00, 0x11, 0x00, 0x00],
    [0x00, 0x05, 0x00, 0xfa, 0xff],
    [0x00, 0x00, 0xff, 0xff],
    [0x01, 0x00, 0x00, 0xff, 0xff],
    [0x03, 0x00],
    [0x00, 0x07],
    [0x00, 0x00],
  ].map((bytes) => Uint8Array.from(bytes)),
  run,
  mutate(input, random) {
    if (random.chance(0.3)) return deflatedSequence(random, input[0] ?? random.below(256));
    // Or add one deflated message to the existing ones.
    const messages = splitMessages(input.subarray(1));
    const extra = splitMessages(deflatedSequence(random, input[0] ?? 0).subarray(1));
    messages.splice(random.below(messages.length + 1), 0, ...extra.slice(0, 1));
    return joinMessages(input[0] ?? 0, messages);
  },
  stretch(input, size) {
    // One big message: all of this input's messages inflated on one stream, say.
    const configByte = input[0] ?? 0;
    const body = concatBytes(splitMessages(input.subarray(1)));
    if (body.length === 0) return input;
    const copies = Math.ceil(Math.min(size, 65535) / body.length);
    const big = new Uint8Array(Math.min(body.length * copies, 65535));
    for (let at = 0; at < big.length; at += body.length) big.set(body.subarray(0, big.length - at), at);
    return joinMessages(configByte | (7 << 2), [big]);
  },
};
