/**
 * A FIFO gate for asynchronous zlib jobs: at most `limit` run at once (they share
 * libuv's thread pool) and together they reserve at most `budget` bytes (what
 * inflating may hold in output). A job that would overrun the budget waits until
 * enough is released; one larger than the whole budget runs when nothing else holds
 * any, so it is delayed, never refused.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private reserved = 0;
  private readonly waiting: { cost: number; start: () => void }[] = [];

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
  run<T>(job: () => Promise<T>, cost = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        this.reserved += cost;
        job()
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.reserved -= cost;
            this.startWaiting();
          });
      };
      if (this.fits(cost)) start();
      else this.waiting.push({ cost, start });
    });
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

  /** Bytes reserved by the running jobs. */
  get reservedBytes(): number {
    return this.reserved;
  }
}
