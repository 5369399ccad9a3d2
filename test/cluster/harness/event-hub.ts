/**
 * A small ordered fan-out of group events: handlers by type (run synchronously, in order) and
 * any number of async iterators, each with its own queue. `end(error?)` finishes everything:
 * iterators drain what they have, then end (or throw `error`).
 * @module
 */
import type { GroupEvent, GroupEventOf, GroupEventType } from '@cpgkit/core';

interface Waiter {
  resolve(result: IteratorResult<GroupEvent>): void;
  reject(error: unknown): void;
}

interface Subscriber {
  readonly queue: GroupEvent[];
  waiter: Waiter | undefined;
  done: boolean;
}

/** Ordered fan-out of `GroupEvent`s to handlers and iterators. */
export class EventHub {
  readonly #handlers = new Map<GroupEventType, Set<(event: GroupEvent) => void>>();
  readonly #subscribers = new Set<Subscriber>();
  #ended = false;
  #error: Error | undefined;

  /** Whether `end` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Deliver one event to every handler of its type, then to every iterator. */
  emit(event: GroupEvent): void {
    if (this.#ended) return;
    for (const handler of [...(this.#handlers.get(event.type) ?? [])]) {
      try {
        handler(event);
      } catch (err) {
        // a throwing handler is a bug in the test: surface it as an uncaught error
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    for (const sub of this.#subscribers) {
      if (sub.waiter) {
        const w = sub.waiter;
        sub.waiter = undefined;
        w.resolve({ value: event, done: false });
      } else {
        sub.queue.push(event);
      }
    }
  }

  /** Handle every event of `type`; returns the unsubscribe function. */
  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void {
    let set = this.#handlers.get(type);
    if (!set) {
      set = new Set();
      this.#handlers.set(type, set);
    }
    const h = handler as (event: GroupEvent) => void;
    set.add(h);
    return () => {
      set.delete(h);
    };
  }

  /** A new iterator over events from now on. Rejects a pending `next()` with the signal's reason on abort. */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<GroupEvent> {
    const sub: Subscriber = { queue: [], waiter: undefined, done: false };
    const signal = options.signal;
    const finish = (): void => {
      sub.done = true;
      this.#subscribers.delete(sub);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      const w = sub.waiter;
      sub.waiter = undefined;
      finish();
      w?.reject(signal?.reason);
    };
    if (signal?.aborted) sub.done = true;
    else if (!this.#ended) {
      this.#subscribers.add(sub);
      signal?.addEventListener('abort', onAbort, { once: true });
    }
    const iterator: AsyncIterableIterator<GroupEvent> = {
      next: () => {
        const value = sub.queue.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false });
        if (signal?.aborted) return Promise.reject(signal.reason as Error);
        if (sub.done || this.#ended) {
          finish();
          return this.#error && this.#ended
            ? Promise.reject(this.#error)
            : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          sub.waiter = { resolve, reject };
        });
      },
      return: () => {
        finish();
        sub.queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** No more events: iterators drain their queues and then end, or throw `error`. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    for (const sub of this.#subscribers) {
      if (sub.waiter && sub.queue.length === 0) {
        const w = sub.waiter;
        sub.waiter = undefined;
        sub.done = true;
        if (error) w.reject(error);
        else w.resolve({ value: undefined, done: true });
      }
    }
    this.#subscribers.clear();
    this.#handlers.clear();
  }
}
