/**
 * A machine's listeners: state changes (`subscribe`) and status/diagnostic events (`on`). A
 * listener that throws is never thrown into the message path: the others still run, and its
 * error is rethrown on a later microtask, as an uncaught exception (`callHandlers` in
 * @cpgkit/core, cpgkit's one policy for user callbacks), so it is not hidden either.
 * @module
 */
import { callHandlers } from '@cpgkit/core';
import type { MachineEvent, StateChange } from './types.js';

/** The listeners of one machine. */
export class MachineEvents<S, C, R> {
  private readonly listeners = new Set<(c: StateChange<S, C, R>) => void>();
  private readonly handlers = new Map<string, Set<(e: MachineEvent) => void>>();
  /** The subscribers as an array (what `notify` calls), until one comes or goes. */
  private called: ((c: StateChange<S, C, R>) => void)[] | undefined;

  /**
   * Called after every local change, in apply order. Returns the unsubscribe function. A
   * listener that throws does not stop the others: its error is rethrown later, uncaught.
   */
  subscribe(listener: (change: StateChange<S, C, R>) => void): () => void {
    this.listeners.add(listener);
    this.called = undefined;
    return () => {
      this.called = undefined;
      return this.listeners.delete(listener);
    };
  }

  /** Status and diagnostics. Returns the unsubscribe function. */
  on<T extends MachineEvent['type']>(
    type: T,
    handler: (event: Extract<MachineEvent, { type: T }>) => void,
  ): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) this.handlers.set(type, (set = new Set()));
    const h = handler as (e: MachineEvent) => void;
    set.add(h);
    return () => set.delete(h);
  }

  /** Tell the handlers of `e.type`. */
  emit(e: MachineEvent): void {
    const set = this.handlers.get(e.type);
    if (set !== undefined) callHandlers([...set], e); // a throw is rethrown later, uncaught
  }

  /** Tell the subscribers of a change. */
  notify(c: StateChange<S, C, R>): void {
    if (this.listeners.size === 0) return;
    // the listeners of now (one may unsubscribe another), as one array until they change
    this.called ??= [...this.listeners];
    callHandlers(this.called, c); // a throw is rethrown later, uncaught
  }
}
