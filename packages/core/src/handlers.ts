/**
 * How cpgkit calls the handlers and subscribers that users register (`Group.on`, the state
 * machine's `subscribe` and `on`, ...): one policy everywhere. Every handler runs, in order; a
 * handler that throws does not stop the others, nor the code that emitted the event; its error
 * is rethrown on a later microtask, as an uncaught exception (Node's default prints it and
 * exits, like a throwing `EventTarget` listener), so a bug in a handler is never hidden.
 * @module
 */

/**
 * Call every handler in `handlers` with `arg`, in order. A handler that throws does not stop
 * the others: its error is rethrown on a later microtask (see `rethrowLater`).
 * @example
 * ```ts
 * callHandlers([...this.#listeners], change);
 * ```
 */
export function callHandlers<A>(handlers: Iterable<(arg: A) => void>, arg: A): void {
  for (const h of handlers) {
    try {
      h(arg);
    } catch (error) {
      rethrowLater(error);
    }
  }
}

/** Rethrow `error` on a later microtask, as an uncaught exception, out of the caller's way. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
