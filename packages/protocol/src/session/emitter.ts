/**
 * A small typed event emitter that works the same in every runtime.
 *
 * Unlike Node's EventEmitter, emitting `error` with no listener does nothing: a
 * peer's misbehaviour must never take the process down. Listener storage is one
 * array allocated on first use, so idle connections without listeners cost nothing.
 */

// biome-ignore lint/suspicious/noExplicitAny: listener tuples are checked through EventMap at the call sites.
type AnyListener = (...args: any[]) => void;

/** Maps event names to listener argument tuples. */
export type EventMap = { [event: string]: unknown[] };

/** Typed `on`/`once`/`off` with synchronous dispatch in registration order. */
export class Emitter<Events extends EventMap> {
  /**
   * `[event, listener, event, listener, …]` in registration order, or undefined until
   * the first listener: one small array per emitter, however many events it has
   * listeners for (connections have a few at most).
   */
  private listeners: (keyof Events | AnyListener)[] | undefined;

  /** Adds a listener. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    this.listeners ??= [];
    this.listeners.push(event, listener);
    return this;
  }

  /** Adds a listener that is removed after its first call. */
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    const wrapper = (...args: Events[E]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    (wrapper as { listener?: unknown }).listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes a listener added with `on` or `once`. */
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    const list = this.listeners;
    if (!list) return this;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== event) continue;
      const candidate = list[i + 1] as AnyListener & { listener?: unknown };
      if (candidate !== listener && candidate.listener !== listener) continue;
      if (list.length === 2) this.listeners = undefined;
      else list.splice(i, 2);
      break;
    }
    return this;
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof Events): number {
    const list = this.listeners;
    if (!list) return 0;
    let count = 0;
    for (let i = 0; i < list.length; i += 2) if (list[i] === event) count++;
    return count;
  }

  /** Calls every listener of `event`; returns whether there was one. */
  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const list = this.listeners;
    if (!list) return false;
    let first = -1;
    let count = 0;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== event) continue;
      if (count++ === 0) first = i;
    }
    if (count === 0) return false;
    if (count === 1) {
      (list[first + 1] as AnyListener)(...args);
      return true;
    }
    // A listener may remove itself (once) or others while we call them: call a snapshot.
    const calls: AnyListener[] = [];
    for (let i = first; i < list.length; i += 2)
      if (list[i] === event) calls.push(list[i + 1] as AnyListener);
    for (const listener of calls) listener(...args);
    return true;
  }
}
