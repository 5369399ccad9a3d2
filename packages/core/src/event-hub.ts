/**
 * The ordered event stream of a group member: synchronous handlers per event type, and any
 * number of async iterators, all fed in delivery order.
 * @module
 */
import { callHandlers } from './handlers.js';
import { PushIterator } from './push-iterator.js';
import type { GroupEvent, GroupEventOf, GroupEventType } from './types.js';

type AnyHandler = (event: GroupEvent) => void;

/**
 * Handlers and iterators of one member's stream. Handlers run synchronously, in delivery
 * order, in the order they subscribed; a handler that throws does not stop the others (its
 * error is rethrown on a later microtask, as an uncaught exception, so bugs are not hidden:
 * cpgkit's one policy, `callHandlers` in handlers.ts).
 */
export class EventHub {
  readonly #handlers: Record<GroupEventType, AnyHandler[]> = {
    message: [],
    membership: [],
    totem: [],
    quorum: [],
  };
  readonly #queues = new Set<PushIterator<GroupEvent>>();
  #ended = false;
  #error: Error | undefined;

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

  /**
   * A new iterator over the events emitted from now on. It ends when the hub ends (after the
   * buffered events), by throwing the hub's end error once if it ended with one (also when the
   * iterator is created after the end); an abort of `signal` drops the buffer and rejects with
   * the reason.
   */
  iterator(signal?: AbortSignal): AsyncIterableIterator<GroupEvent> {
    if (signal?.aborted) return new PushIterator<GroupEvent>({ signal, abort: 'throw' });
    const q: PushIterator<GroupEvent> = new PushIterator<GroupEvent>({
      signal,
      abort: 'throw',
      onEnd: () => this.#queues.delete(q),
    });
    if (this.#ended) q.end(this.#error);
    else this.#queues.add(q);
    return q;
  }

  /** Deliver one event to every handler of its type and to every iterator. */
  emit(event: GroupEvent): void {
    callHandlers(this.#handlers[event.type], event);
    if (this.#queues.size !== 0) for (const q of this.#queues) q.push(event);
  }

  /**
   * End every iterator (the member closed): normally, or, with `error`, by rejecting each one's
   * next read after its buffered events. Handlers stay but receive nothing more. Only the first
   * call counts.
   */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    for (const q of [...this.#queues]) q.end(error);
  }
}
