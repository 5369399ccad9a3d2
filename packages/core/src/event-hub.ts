/**
 * The ordered event stream of a group member: synchronous handlers per event type, and any
 * number of async iterators, all fed in delivery order.
 * @module
 */
import type { GroupEvent, GroupEventOf, GroupEventType } from './types.js';

type AnyHandler = (event: GroupEvent) => void;

/** One async iterator over the stream: buffers events until they are read. */
class EventQueue implements AsyncIterableIterator<GroupEvent> {
  #buf: GroupEvent[] = [];
  #head = 0;
  #done = false;
  #waiting: {
    resolve: (r: IteratorResult<GroupEvent>) => void;
    reject: (e: unknown) => void;
  } | null = null;
  #error: Error | undefined = undefined;
  #hasError = false;
  readonly #onEnd: (q: EventQueue) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.fail(this.#signal?.reason);

  constructor(onEnd: (q: EventQueue) => void, signal: AbortSignal | undefined) {
    this.#onEnd = onEnd;
    this.#signal = signal;
    if (signal) {
      if (signal.aborted) this.fail(signal.reason);
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  push(event: GroupEvent): void {
    if (this.#done) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = null;
      w.resolve({ value: event, done: false });
    } else {
      this.#buf.push(event);
    }
  }

  /** No more events: readers get what is buffered, then the end. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onEnd(this);
    const w = this.#waiting;
    if (w) {
      this.#waiting = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** End with an error (the abort reason): a pending or the next `next()` rejects with it. */
  fail(reason: unknown): void {
    if (this.#done) return;
    const error =
      reason instanceof Error
        ? reason
        : new DOMException('This operation was aborted', 'AbortError');
    this.#buf.length = 0;
    this.#head = 0;
    const w = this.#waiting;
    this.#waiting = null;
    this.end();
    if (w) w.reject(error);
    else {
      this.#hasError = true;
      this.#error = error;
    }
  }

  next(): Promise<IteratorResult<GroupEvent>> {
    if (this.#head < this.#buf.length) {
      const value = this.#buf[this.#head]!;
      this.#buf[this.#head++] = undefined as unknown as GroupEvent;
      if (this.#head === this.#buf.length) {
        this.#buf.length = 0;
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    const error = this.#error;
    if (this.#hasError && error) {
      this.#hasError = false;
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<GroupEvent>> {
    this.#buf.length = 0;
    this.#head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<GroupEvent> {
    return this;
  }
}

/**
 * Handlers and iterators of one member's stream. Handlers run synchronously, in delivery
 * order, in the order they subscribed; a handler that throws does not stop the others (its
 * error is rethrown on a later microtask, as an uncaught exception, so bugs are not hidden).
 */
export class EventHub {
  readonly #handlers: Record<GroupEventType, AnyHandler[]> = {
    message: [],
    membership: [],
    totem: [],
    quorum: [],
  };
  readonly #queues = new Set<EventQueue>();
  #ended = false;
  readonly #removeQueue = (q: EventQueue): void => {
    this.#queues.delete(q);
  };

  /** Subscribe `handler` to events of `type`; returns the unsubscribe function. */
  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void {
    const h = handler as AnyHandler;
    if (!(type in this.#handlers)) throw new TypeError(`unknown event type ${String(type)}`);
    this.#handlers[type] = [...this.#handlers[type], h];
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#handlers[type] = this.#handlers[type].filter((x) => x !== h);
    };
  }

  /** A new iterator over the events emitted from now on. */
  iterator(signal?: AbortSignal): AsyncIterableIterator<GroupEvent> {
    const q = new EventQueue(this.#removeQueue, signal);
    if (this.#ended) q.end();
    else this.#queues.add(q);
    return q;
  }

  /** Deliver one event to every handler of its type and to every iterator. */
  emit(event: GroupEvent): void {
    const hs = this.#handlers[event.type];
    for (let i = 0; i < hs.length; i++) {
      try {
        hs[i]!(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    if (this.#queues.size !== 0) for (const q of this.#queues) q.push(event);
  }

  /** End every iterator (the member closed). Handlers stay but receive nothing more. */
  end(): void {
    this.#ended = true;
    for (const q of [...this.#queues]) q.end();
  }
}
