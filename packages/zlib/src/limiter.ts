/**
 * A FIFO gate for asynchronous zlib jobs: at most `limit` run at once (they share
 * libuv's thread pool) and together they reserve at most `budget` bytes (what
 * inflating may hold in output). A job that would overrun the budget waits until
 * enough is released; one larger than the whole budget runs when nothing else holds
 * any, so it is delayed, never refused.
 *
 * A job may end leaving garbage behind: an inflate refused at its cap has allocated
 * up to the cap, and that memory is only free once the collector has run. Such a job
 * hands the garbage to {@link Lease.keep}; its reservation is then released when the
 * garbage is collected (or after {@link KEEP_MAX_MS} at most), so a burst of refused
 * bombs cannot pile up uncollected output faster than the budget allows.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private reserved = 0;
  private readonly waiting: { cost: number; start: () => void }[] = [];
  private readonly collected = new FinalizationRegistry<Held>((held) => this.releaseHeld(held));

  constructor(
    readonly limit: number,
    readonly budget = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('concurrency must be a positive integer');
    if (!(budget > 0)) throw new RangeError('the byte budget must be positive');
  }

  /** Whether a job reserving `cost` bytes could start now. */
  fits(cost: number): boolean {
    return (
      this.waiting.length === 0 &&
      this.running < this.limit &&
      (this.reserved === 0 || this.reserved + cost <= this.budget)
    );
  }

  /** Runs `job` once a slot and `cost` bytes of the budget are free, in arrival order. */
  run<T>(job: (lease: Lease) => Promise<T>, cost = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        this.reserved += cost;
        let kept: object | undefined;
        const lease: Lease = {
          keep: (garbage) => {
            kept = garbage;
          },
        };
        job(lease)
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            if (kept === undefined || cost === 0) this.release(cost);
            else this.hold(kept, cost);
            kept = undefined;
            this.startWaiting();
          });
      };
      if (this.fits(cost)) start();
      else this.waiting.push({ cost, start });
    });
  }

  private hold(garbage: object, cost: number): void {
    const held: Held = { cost, released: false, timer: undefined };
    this.collected.register(garbage, held);
    held.timer = setTimeout(() => this.releaseHeld(held), KEEP_MAX_MS);
    // The timer must not keep a process alive that has nothing else to do.
    (held.timer as { unref?: () => void }).unref?.();
  }

  private releaseHeld(held: Held): void {
    if (held.released) return;
    held.released = true;
    clearTimeout(held.timer);
    this.release(held.cost);
    this.startWaiting();
  }

  private release(cost: number): void {
    this.reserved -= cost;
  }

  private startWaiting(): void {
    for (;;) {
      const head = this.waiting[0];
      if (head === undefined || this.running >= this.limit) return;
      if (this.reserved !== 0 && this.reserved + head.cost > this.budget) return;
      this.waiting.shift();
      head.start();
    }
  }

  /** Jobs running and waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  /** Bytes reserved by running jobs and by garbage not yet collected. */
  get reservedBytes(): number {
    return this.reserved;
  }
}

/** What a running job can do with its reservation. */
export interface Lease {
  /** Keep the reservation until `garbage` (no longer referenced by the job) is collected. */
  keep(garbage: object): void;
}

/** A reservation held for garbage is released after this long even if no collection came. */
export const KEEP_MAX_MS = 500;

interface Held {
  readonly cost: number;
  released: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}
