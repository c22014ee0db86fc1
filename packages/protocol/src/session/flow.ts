/**
 * Flow control, owned in one place: the write path and the read pause of one
 * connection, the same on every runtime.
 *
 * Writing. Everything a connection sends (the handshake response, frames, pongs,
 * close replies, published frames) is queued here and goes to the transport once
 * per turn of the event loop, in a microtask after the code that queued it returns,
 * as one write. Small chunks (frame headers, small payloads) are copied as they
 * come into the connection's region of a shared pooled slab, so a thousand small
 * messages queue as one buffer, not a thousand objects, and memory follows the byte
 * count; large chunks stay views. One write is outstanding at a time; what is queued
 * meanwhile leaves with the next. {@link TransportFlow.bufferedAmount} counts every
 * byte the kernel has not taken yet, so it is the one budget that limits what a
 * peer can make us hold.
 *
 * Reading. The transport is paused while any {@link ReadPause} reason holds and
 * resumed when none does. One of them is the send buffer itself: when handling what
 * a peer sent made us write (pongs, close replies, answers given from a message
 * listener) and the buffer is above its high-water mark, nothing more is read from
 * that peer until it is back at or below it, so a peer that sends without reading is
 * throttled by its own TCP window instead of growing our memory. Bytes the
 * application sends on its own do not pause reading (its sends are bounded by
 * `maxBufferedAmount` instead): were both ends of a connection to stop reading
 * because of their own sends, each would wait for the other forever.
 */
import type { Transport, TransportHandler } from './transport.ts';

/** Why reading is paused; several may hold at once. */
export const ReadPause = {
  /** The server is deciding whether to accept (or the client hands over to its caller). */
  HANDSHAKE: 1,
  /** Messages nobody has consumed reached `maxQueuedMessages`. */
  INBOX: 2,
  /** Handling the peer's input filled the send buffer above its high-water mark (until it is at half). */
  SEND_BUFFER: 4,
  /** A compressed message is being inflated. */
  INFLATE: 8,
  /** The application asked (`pause()`). */
  APPLICATION: 16,
  /** The write side is ending: input is ignored until our FIN has left. */
  ENDING: 32,
} as const;
/** One of {@link ReadPause}. */
export type ReadPause = (typeof ReadPause)[keyof typeof ReadPause];

/** Who reads a flow: the handshake stage, then the connection. */
export interface FlowReceiver {
  onData(chunk: Uint8Array): void;
  onEnd(): void;
  onClose(error?: Error): void;
  /**
   * Buffered bytes left for the kernel. `progress` is true when the kernel took a
   * sizeable write it could not take at once (so the peer is reading): called for each
   * such write, and for every other one while {@link TransportFlow.watchWrites} is set.
   */
  onWritten(progress: boolean): void;
}

/** Default high-water mark until a connection sets its own. */
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** A write carries at most about this many bytes; the rest waits for the next. */
const BATCH_LIMIT = 1024 * 1024;
/** Chunks smaller than this are copied into the connection's slab region as they are queued. */
const COPY_LIMIT = 4096;
/** At flush, consecutive chunks are copied into one buffer up to this many bytes in all. */
const RUN_LIMIT = 256 * 1024;
/**
 * With a vectored transport, chunks this large go as views (writev takes them as
 * they are); without one, a run may copy up to {@link RUN_LIMIT}, since a copy costs
 * less than a second system call.
 */
const VECTORED_VIEW_MIN = 16 * 1024;
/**
 * A write that had to wait counts as the peer reading (see {@link FlowReceiver.onWritten})
 * only if it was at least this large: a small one (a heartbeat ping) may finish late on
 * a runtime whose writes are all asynchronous, without the peer reading anything.
 */
const PROGRESS_MIN_BYTES = 16 * 1024;

const OPEN = 0;
/** `end()` was called: FIN once the queue is written. */
const ENDING = 1;
/** FIN handed to the transport. */
const ENDED = 2;
/** Destroyed or closed: nothing more is written or delivered but `onClose`. */
const CLOSED = 3;

/** The write queue and read pause of one transport. It is the transport's handler. */
export class TransportFlow implements TransportHandler {
  /** Who gets the transport's events. */
  receiver: FlowReceiver | undefined;
  /** Above this many buffered bytes reading pauses ({@link ReadPause.SEND_BUFFER}). */
  highWaterMark = DEFAULT_HIGH_WATER_MARK;
  /** Report every write to the receiver, not only those the kernel could not take at once. */
  watchWrites = false;
  /** The receiver is handling what the peer sent: writes now count as the peer's doing. */
  peerWork = false;
  /** Something was written during `peerWork` since the last write to the transport. */
  private peerWrote = false;
  /** @internal Queued in the flush list for this turn. */
  scheduled = false;

  private state = OPEN;
  private pauses = 0;
  /** Chunks not yet handed to the transport, from `queueHead` on. */
  private queue: Uint8Array[] | undefined;
  /** The slab each queued chunk was copied into (undefined: a view of the caller's bytes). */
  private owners: (Slab | undefined)[] | undefined;
  private queueHead = 0;
  private queued = 0;
  /** Small chunks are appended here as they come: `region`'s bytes [regionStart, regionEnd). */
  private region: Slab | undefined;
  private regionStart = 0;
  private regionEnd = 0;
  /** Bytes of the outstanding write (0: none). */
  private inFlight = 0;
  /** Slabs the outstanding write reads from, one entry per reference it holds. */
  private lent: Slab[] | undefined;

  constructor(readonly transport: Transport) {}

  /** Bytes queued or being written, not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.queued + this.inFlight;
  }

  // ------------------------------------------------------------ writing

  /**
   * Queues chunks for this turn's write. Small ones are copied now; large ones are kept
   * as views, so the caller must not change them until they are written.
   */
  write(chunks: readonly Uint8Array[]): void {
    if (this.state !== OPEN) return;
    if (this.peerWork) this.peerWrote = true;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] as Uint8Array;
      const size = chunk.length;
      if (size === 0) continue;
      this.queued += size;
      if (size < COPY_LIMIT) {
        this.append(chunk);
      } else {
        this.sealRegion();
        this.enqueue(chunk, undefined);
      }
    }
    if (!this.scheduled) scheduleFlush(this);
  }

  /** Copies a small chunk to the end of the open region, opening a new one where it does not fit. */
  private append(chunk: Uint8Array): void {
    let slab = this.region;
    const size = chunk.length;
    // The region grows in place while nobody allocated after it and the slab has room.
    if (slab === undefined || this.regionEnd !== slab.used || slab.used + size > slab.buffer.length) {
      this.sealRegion();
      slab = takeSlab(size);
      this.region = slab;
      this.regionStart = this.regionEnd = slab.used;
    }
    slab.buffer.set(chunk, this.regionEnd);
    this.regionEnd += size;
    slab.used = this.regionEnd;
  }

  /** Queues the open region as one chunk; its slab reference goes with it. */
  private sealRegion(): void {
    const slab = this.region;
    if (slab === undefined) return;
    this.region = undefined;
    this.enqueue(slab.buffer.subarray(this.regionStart, this.regionEnd), slab);
  }

  private enqueue(chunk: Uint8Array, owner: Slab | undefined): void {
    this.queue ??= [];
    this.owners ??= [];
    this.queue.push(chunk);
    this.owners.push(owner);
  }

  /** Drops what is queued and not yet handed to the transport (a failing connection's backlog). */
  discardQueued(): void {
    this.sealRegion();
    const owners = this.owners;
    if (owners !== undefined) {
      for (let i = this.queueHead; i < owners.length; i++) {
        const owner = owners[i];
        if (owner !== undefined) releaseSlab(owner);
      }
    }
    this.queue = undefined;
    this.owners = undefined;
    this.queueHead = 0;
    this.queued = 0;
  }

  /** Sends FIN once everything queued has been written. Input is ignored until then. */
  end(): void {
    if (this.state !== OPEN) return;
    this.state = ENDING;
    if (this.queued === 0 && this.inFlight === 0) this.finishEnd();
    else this.pauseReading(ReadPause.ENDING);
  }

  /**
   * Closes the transport now. What is queued gets one chance to leave first (a close
   * frame, a handshake response) if no write is outstanding; the rest is dropped.
   */
  destroy(): void {
    if (this.state === CLOSED) return;
    if (this.inFlight === 0 && this.queued !== 0 && this.state !== ENDED) this.writeBatches(true);
    this.close();
    this.transport.destroy();
  }

  /** @internal Writes what is queued, as far as the transport takes it now. Runs from the flush list. */
  flush(): void {
    if (this.state === CLOSED) return;
    if (this.inFlight === 0 && this.queued !== 0 && this.state !== ENDED) this.writeBatches(false);
    this.afterWrite(false);
  }

  /** Hands batches to the transport until it keeps one or the queue is empty. */
  private writeBatches(once: boolean): void {
    this.sealRegion();
    const queue = this.queue as Uint8Array[];
    const owners = this.owners as (Slab | undefined)[];
    const vectored = this.transport.vectored;
    const viewMin = vectored ? VECTORED_VIEW_MIN : RUN_LIMIT;
    do {
      let i = this.queueHead;
      const n = queue.length;
      let bytes = 0;
      while (i < n && bytes < BATCH_LIMIT) {
        const chunk = queue[i] as Uint8Array;
        let end = i + 1;
        let size = chunk.length;
        if (size < viewMin) {
          while (end < n) {
            const next = (queue[end] as Uint8Array).length;
            if (next >= viewMin && vectored) break;
            if (size + next > RUN_LIMIT) break;
            size += next;
            end++;
          }
        }
        if (end === i + 1) {
          batch.push(chunk);
          const owner = owners[i];
          if (owner !== undefined) batchSlabs.push(owner);
        } else {
          // One buffer for the run; the chunks' own slabs are free once copied.
          const slab = takeSlab(size);
          const start = slab.used;
          let at = start;
          for (let k = i; k < end; k++) {
            const part = queue[k] as Uint8Array;
            slab.buffer.set(part, at);
            at += part.length;
            const owner = owners[k];
            if (owner !== undefined) releaseSlab(owner);
          }
          slab.used = at;
          batch.push(slab.buffer.subarray(start, at));
          batchSlabs.push(slab);
        }
        for (let k = i; k < end; k++) {
          queue[k] = EMPTY;
          owners[k] = undefined;
        }
        bytes += size;
        i = end;
      }
      if (i === n) {
        // Emptied: the arrays go too (an idle connection keeps none).
        this.queue = undefined;
        this.owners = undefined;
        this.queueHead = 0;
      } else {
        this.queueHead = i;
        if (i > 1024 && i * 2 > n) {
          queue.copyWithin(0, i);
          queue.length = n - i;
          owners.copyWithin(0, i);
          owners.length = n - i;
          this.queueHead = 0;
        }
      }
      this.queued -= bytes;
      this.inFlight = bytes;
      let done: boolean;
      try {
        done = this.transport.write(batch);
      } finally {
        batch.length = 0;
      }
      if (done) {
        this.inFlight = 0;
        for (let k = 0; k < batchSlabs.length; k++) releaseSlab(batchSlabs[k] as Slab);
      } else if (batchSlabs.length !== 0) {
        this.lent = batchSlabs.slice();
      }
      batchSlabs.length = 0;
      if (!done || this.state === CLOSED) return;
    } while (!once && this.queued !== 0);
  }

  /** After writing: the send-buffer pause, the receiver's notice, a FIN that was waiting. */
  private afterWrite(progress: boolean): void {
    if (this.state === CLOSED) return;
    const buffered = this.queued + this.inFlight;
    if (buffered > this.highWaterMark) {
      if (this.peerWrote) this.pauseReading(ReadPause.SEND_BUFFER);
    } else if ((this.pauses & ReadPause.SEND_BUFFER) !== 0 && buffered <= this.highWaterMark / 2) {
      this.resumeReading(ReadPause.SEND_BUFFER);
    }
    this.peerWrote = false;
    if (this.state === ENDING && this.queued === 0 && this.inFlight === 0) this.finishEnd();
    if (progress || this.watchWrites) this.receiver?.onWritten(progress);
  }

  private finishEnd(): void {
    this.state = ENDED;
    this.discardQueued();
    this.transport.end();
    // Our FIN is out: read on, to see the peer's FIN (the receiver bounds what it discards).
    this.resumeReading(ReadPause.ENDING);
  }

  private close(): void {
    this.state = CLOSED;
    this.discardQueued();
    this.queue = undefined;
    this.owners = undefined;
    this.inFlight = 0;
    // The transport may still read a pending write's buffers: they never go back to the pool.
    if (this.lent !== undefined) abandonSlabs(this.lent);
    this.lent = undefined;
  }

  // ------------------------------------------------------------ reading

  /** Adds a reason to pause reading; the transport pauses with the first. */
  pauseReading(reason: ReadPause): void {
    const before = this.pauses;
    this.pauses |= reason;
    if (before === 0 && this.state !== CLOSED) this.transport.pause();
  }

  /** Removes a reason; the transport resumes when none is left. */
  resumeReading(reason: ReadPause): void {
    if ((this.pauses & reason) === 0) return;
    this.pauses &= ~reason;
    if (this.pauses === 0 && this.state !== CLOSED) this.transport.resume();
  }

  /** Whether `reason` currently pauses reading. */
  isPaused(reason: ReadPause): boolean {
    return (this.pauses & reason) !== 0;
  }

  // ------------------------------------------------------------ transport events

  /** @internal */
  onData(chunk: Uint8Array): void {
    if (this.state !== CLOSED) this.receiver?.onData(chunk);
  }

  /** @internal The outstanding write is done. */
  onDrain(): void {
    if (this.state === CLOSED || this.inFlight === 0) return;
    const size = this.inFlight;
    this.inFlight = 0;
    const lent = this.lent;
    if (lent !== undefined) {
      this.lent = undefined;
      for (let k = 0; k < lent.length; k++) releaseSlab(lent[k] as Slab);
    }
    if (this.queued !== 0 && this.state !== ENDED) this.writeBatches(false);
    this.afterWrite(size >= PROGRESS_MIN_BYTES);
  }

  /** @internal */
  onEnd(): void {
    if (this.state !== CLOSED) this.receiver?.onEnd();
  }

  /** @internal */
  onClose(error?: Error): void {
    if (this.state !== CLOSED) this.close();
    this.receiver?.onClose(error);
  }
}

const EMPTY = new Uint8Array(0);

// ------------------------------------------------------------ once per turn

/** Flows with writes queued this turn, flushed together in one microtask. */
const flushList: TransportFlow[] = [];
let flushQueued = false;

function scheduleFlush(flow: TransportFlow): void {
  flow.scheduled = true;
  flushList.push(flow);
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushAll);
  }
}

function flushAll(): void {
  flushQueued = false;
  // Flows scheduled while this runs (a receiver wrote from a callback) join the loop.
  for (let i = 0; i < flushList.length; i++) {
    const flow = flushList[i] as TransportFlow;
    flow.scheduled = false;
    try {
      flow.flush();
    } catch {
      // A transport that throws breaks its contract: that connection goes, the others flush.
      try {
        flow.destroy();
      } catch {
        // Its onClose, if it ever comes, ends the connection.
      }
    }
  }
  flushList.length = 0;
}

// ------------------------------------------------------------ pooled buffers

/**
 * Small chunks are copied into regions of shared slabs: each connection appends to its
 * own region, which grows in place while nobody allocated after it. Every region (and
 * every run copied at flush) holds a reference on its slab; a slab goes back to the
 * pool when all are released, i.e. when every write that used it has finished. Slabs
 * whose write was still pending when its transport closed are left to the garbage
 * collector. When all pooled slabs are in use, a region gets a small buffer of its own.
 */
interface Slab {
  readonly buffer: Uint8Array;
  used: number;
  /** Regions and runs still to be written. */
  refs: number;
  /** Part of the pool (else a connection's own overflow buffer). */
  readonly pooled: boolean;
  abandoned: boolean;
}

const SLAB_SIZE = RUN_LIMIT;
/** Slabs in existence at most. */
const MAX_SLABS = 16;
/** The smallest buffer of its own a region gets when every slab is taken. */
const OWN_BUFFER_SIZE = 2048;
const freeSlabs: Slab[] = [];
let slabCount = 0;
let currentSlab: Slab | undefined;
/** Slab references of the batch being built, one per region or run in it. */
const batchSlabs: Slab[] = [];
/** The batch being built (the transport copies the list if it keeps it). */
const batch: Uint8Array[] = [];

/** A slab with room for `size` more bytes at `used`, with one more reference taken. */
function takeSlab(size: number): Slab {
  let slab = currentSlab;
  if (slab === undefined || slab.used + size > SLAB_SIZE) {
    slab = freeSlabs.pop();
    if (slab === undefined && slabCount < MAX_SLABS && size <= SLAB_SIZE) {
      slabCount++;
      slab = { buffer: new Uint8Array(SLAB_SIZE), used: 0, refs: 0, pooled: true, abandoned: false };
    }
    if (slab === undefined) {
      const buffer = new Uint8Array(Math.max(size, OWN_BUFFER_SIZE));
      return { buffer, used: 0, refs: 1, pooled: false, abandoned: false };
    }
    currentSlab = slab;
  }
  slab.refs++;
  return slab;
}

function releaseSlab(slab: Slab): void {
  if (--slab.refs !== 0 || !slab.pooled || slab.abandoned) return;
  slab.used = 0;
  if (slab !== currentSlab) freeSlabs.push(slab);
}

function abandonSlabs(slabs: readonly Slab[]): void {
  for (let i = 0; i < slabs.length; i++) {
    const slab = slabs[i] as Slab;
    slab.refs--;
    if (!slab.pooled || slab.abandoned) continue;
    slab.abandoned = true;
    slabCount--;
    if (slab === currentSlab) currentSlab = undefined;
  }
}
