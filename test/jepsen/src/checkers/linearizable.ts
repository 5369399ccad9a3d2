/**
 * A linearizability checker: the Wing-Gong algorithm with Lowe's memoization (as Porcupine and
 * Knossos's `wgl` do), written here from the papers.
 *
 * The history becomes a list of call and return entries in clock order. The search walks it:
 * at a call it tries to linearize that operation now (the model must accept it in the current
 * state), lifting its call and return out of the list; at a return it has met an operation
 * that should already have taken effect, and backtracks. A cache of (set of linearized
 * operations, model state) prunes configurations already explored, which keeps the search
 * polynomial on the histories that matter in practice.
 *
 * Operations with an unknown outcome have their return at the end of time: they may take
 * effect at any point after their invocation, or never (the search succeeds as soon as every
 * operation with a known outcome is linearized). Failed operations (certainly not applied) are
 * left out by the caller.
 * @module
 */
import type { Operation } from '../history.js';

/** A sequential specification. */
export interface Model<S> {
  /** The state before the first operation. */
  readonly init: S;
  /**
   * The state after `op` in `state`, or `undefined` if `op` cannot return what it returned
   * there (for an operation whose outcome is unknown: whatever it would have returned).
   */
  step(state: S, op: Operation): S | undefined;
  /** A key equal for equal states (for the cache). */
  hash(state: S): string;
  /** A state for messages. */
  show(state: S): string;
}

/** The result of one search. */
export type LinearizabilityResult<S> =
  | { readonly ok: true; readonly explored: number; readonly order: readonly Operation[] }
  | {
      readonly ok: false;
      readonly explored: number;
      /** The longest prefix linearized, in order, at the deepest point the search reached. */
      readonly order: readonly Operation[];
      /** The state after that prefix. */
      readonly state: S;
      /** The operation that had to take effect next and could not. */
      readonly blocked: Operation;
      /** The operations that could have come before it and were tried (none fits). */
      readonly candidates: readonly Operation[];
    }
  | { readonly ok: 'unknown'; readonly explored: number; readonly reason: string };

interface Entry {
  readonly op: Operation;
  readonly index: number;
  /** A call entry's return; `undefined` for a return entry. */
  match: Entry | undefined;
  readonly isCall: boolean;
  readonly time: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Options of `checkLinearizable`. */
export interface LinearizableOptions {
  /** Give up (verdict `unknown`) after exploring this many configurations. @defaultValue 2,000,000 */
  readonly maxExplored?: number;
}

/**
 * Whether `ops` (operations on one object, failed ones removed) are linearizable under
 * `model`.
 */
export function checkLinearizable<S>(
  model: Model<S>,
  ops: readonly Operation[],
  options: LinearizableOptions = {},
): LinearizabilityResult<S> {
  const maxExplored = options.maxExplored ?? 2_000_000;
  const entries: Entry[] = [];
  ops.forEach((op, index) => {
    const call: Entry = {
      op,
      index,
      match: undefined,
      isCall: true,
      time: op.invoke,
      prev: undefined,
      next: undefined,
    };
    const ret: Entry = {
      op,
      index,
      match: undefined,
      isCall: false,
      time: op.outcome === 'unknown' ? Infinity : op.complete,
      prev: undefined,
      next: undefined,
    };
    call.match = ret;
    entries.push(call, ret);
  });
  // calls before returns at equal times (an unknown op's return is at Infinity)
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = {
    op: undefined as unknown as Operation,
    index: -1,
    match: undefined,
    isCall: false,
    time: -Infinity,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  const words = Math.ceil(ops.length / 32) || 1;
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let knownLeft = ops.filter((o) => o.outcome !== 'unknown').length;
  let state = model.init;
  let explored = 0;
  let deepest: { order: Operation[]; state: S; blocked: Operation; before: number } | undefined;

  let entry = head.next;
  for (;;) {
    if (knownLeft === 0) return { ok: true, explored, order: stack.map((s) => s.entry.op) };
    if (entry === undefined) {
      // only unknown operations' calls remain after the last known return: cannot happen
      // while knownLeft > 0, but be safe
      return { ok: 'unknown', explored, reason: 'the search ran off the end of the history' };
    }
    if (entry.isCall) {
      const next = model.step(state, entry.op);
      if (next !== undefined) {
        const i = entry.index;
        linearized[i >>> 5]! |= 1 << (i & 31);
        const key = `${linearized.join(',')}|${model.hash(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          explored++;
          if (explored > maxExplored) {
            return {
              ok: 'unknown',
              explored,
              reason: `gave up after ${maxExplored} configurations`,
            };
          }
          stack.push({ entry, state });
          state = next;
          if (entry.op.outcome !== 'unknown') knownLeft--;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[i >>> 5]! &= ~(1 << (i & 31));
      }
      entry = entry.next;
      continue;
    }
    // a return: its operation should have taken effect already
    if (deepest === undefined || stack.length > deepest.order.length) {
      deepest = {
        order: stack.map((s) => s.entry.op),
        state,
        blocked: entry.op,
        before: entry.time,
      };
    }
    const top = stack.pop();
    if (top === undefined) break;
    const e = top.entry;
    state = top.state;
    const i = e.index;
    linearized[i >>> 5]! &= ~(1 << (i & 31));
    if (e.op.outcome !== 'unknown') knownLeft++;
    unlift(e);
    entry = e.next;
  }
  const d = deepest;
  const done = new Set(d.order.map((o) => o.id));
  const candidates = ops.filter((o) => !done.has(o.id) && o.invoke < d.before && o !== d.blocked);
  return {
    ok: false,
    explored,
    order: d.order,
    state: d.state,
    blocked: d.blocked,
    candidates,
  };
}
