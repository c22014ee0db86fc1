/**
 * A small typed event emitter that works the same in every runtime.
 *
 * Unlike Node's EventEmitter, emitting `error` with no listener does nothing: a
 * peer's misbehaviour must never take the process down. Listener storage is
 * allocated on first use, so idle connections without listeners cost nothing.
 */

// biome-ignore lint/suspicious/noExplicitAny: listener tuples are checked through EventMap at the call sites.
type AnyListener = (...args: any[]) => void;

/** Maps event names to listener argument tuples. */
export type EventMap = { [event: string]: unknown[] };

/** Typed `on`/`once`/`off` with synchronous dispatch in registration order. */
export class Emitter<Events extends EventMap> {
  private listeners: Map<keyof Events, AnyListener[]> | undefined;

  /** Adds a listener. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    this.listeners ??= new Map();
    const list = this.listeners.get(event);
    if (list) list.push(listener);
    else this.listeners.set(event, [listener]);
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
    const list = this.listeners?.get(event);
    if (!list) return this;
    const index = list.findIndex(
      (l) => l === listener || (l as { listener?: unknown }).listener === listener,
    );
    if (index !== -1) {
      if (list.length === 1) this.listeners?.delete(event);
      else list.splice(index, 1);
    }
    return this;
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof Events): number {
    return this.listeners?.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event`; returns whether there was one. */
  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const list = this.listeners?.get(event);
    if (!list) return false;
    if (list.length === 1) {
      list[0]?.(...args);
    } else {
      // A listener may remove itself (once) while we iterate.
      for (const listener of list.slice()) listener(...args);
    }
    return true;
  }
}
