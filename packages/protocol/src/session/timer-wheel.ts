/**
 * One coarse timer for many deadlines (handshake, close and heartbeat timeouts).
 *
 * Thousands of connections each arming their own `setTimeout` cost a timer object
 * apiece and churn on every re-arm. A hashed wheel keeps deadlines in slots of
 * `tickMs` and runs a single interval while any deadline is armed; arming and
 * disarming are O(1) set operations, and deadlines fire up to one tick late.
 */

/**
 * What the wheel arms: a {@link Deadline}, or an owner that carries these fields itself
 * (a connection's heartbeat, so that an idle connection holds no timer object).
 */
export interface TimerEntry {
  /** Slot index while armed, -1 when not. Set by the wheel only. */
  slot: number;
  /** Full wheel turns left before firing. Set by the wheel only. */
  rounds: number;
  /** Called by the wheel when due. */
  fire(): void;
}

/**
 * Something the wheel can fire. Owners keep one and re-arm it; nothing is allocated per
 * arm. Give it a callback, or extend it and override {@link fire} (no closure per owner).
 */
export class Deadline implements TimerEntry {
  /** @internal slot index while armed, -1 when not. */
  slot = -1;
  /** @internal full wheel turns left before firing. */
  rounds = 0;
  constructor(private readonly callback?: () => void) {}

  /** Called by the wheel when the deadline is due. */
  fire(): void {
    this.callback?.();
  }

  /** Whether the deadline is armed. */
  get armed(): boolean {
    return this.slot !== -1;
  }
}

interface IntervalHandle {
  unref?: () => void;
}

/** A hashed timer wheel. Use {@link sharedTimerWheel} unless you need a private one (tests). */
export class TimerWheel {
  private readonly slots: Set<TimerEntry>[];
  private cursor = 0;
  private armedCount = 0;
  private interval: ReturnType<typeof setInterval> | undefined;
  /** Milliseconds since the epoch as of the last tick; cheap to read on hot paths. */
  now = Date.now();

  constructor(
    readonly tickMs = 100,
    slotCount = 512,
  ) {
    if (!(tickMs > 0) || !Number.isInteger(slotCount) || slotCount < 1) {
      throw new RangeError('tickMs must be > 0 and slotCount a positive integer');
    }
    this.slots = Array.from({ length: slotCount }, () => new Set<TimerEntry>());
  }

  /** Number of armed deadlines. */
  get size(): number {
    return this.armedCount;
  }

  /** Arms (or re-arms) `deadline` to fire after about `delayMs`. */
  arm(deadline: TimerEntry, delayMs: number): void {
    this.disarm(deadline);
    const ticks = Math.max(1, Math.ceil(delayMs / this.tickMs));
    const slotCount = this.slots.length;
    const slot = (this.cursor + ticks) % slotCount;
    deadline.rounds = Math.floor((ticks - 1) / slotCount);
    deadline.slot = slot;
    this.slots[slot]?.add(deadline);
    if (this.armedCount++ === 0) this.start();
  }

  /** Disarms `deadline` if it is armed. */
  disarm(deadline: TimerEntry): void {
    if (deadline.slot === -1) return;
    this.slots[deadline.slot]?.delete(deadline);
    deadline.slot = -1;
    if (--this.armedCount === 0) this.stop();
  }

  /** Advances one tick and fires what is due. Public for tests that drive time by hand. */
  tick(): void {
    this.now = Date.now();
    this.cursor = (this.cursor + 1) % this.slots.length;
    const slot = this.slots[this.cursor];
    if (!slot || slot.size === 0) return;
    for (const deadline of Array.from(slot)) {
      if (deadline.rounds > 0) {
        deadline.rounds--;
        continue;
      }
      this.disarm(deadline);
      deadline.fire();
    }
  }

  private start(): void {
    this.now = Date.now();
    this.interval = setInterval(() => this.tick(), this.tickMs);
    // Timeouts alone must not keep a process alive; the sockets they guard do. Where
    // timers cannot be unref'd (Deno returns a number) the wheel still stops when empty.
    (this.interval as IntervalHandle).unref?.();
  }

  private stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
  }
}

let shared: TimerWheel | undefined;

/** The process-wide wheel every connection and server uses by default. */
export function sharedTimerWheel(): TimerWheel {
  shared ??= new TimerWheel();
  return shared;
}
