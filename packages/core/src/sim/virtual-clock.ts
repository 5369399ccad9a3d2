/**
 * The in-memory cluster's virtual clock: time moves only when a test advances it.
 * @module
 */
import type { Clock, TimerHandle } from '../types.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | null;
}

/** A fixed wall-clock origin, so that runs are reproducible: 2026-01-01T00:00:00Z. */
const WALL_ORIGIN = Date.UTC(2026, 0, 1);

/**
 * A `Clock` whose time only moves on `advance(ms)`. Timers fire in time order (ties in the
 * order they were set), synchronously inside `advance`.
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.setTimeout(() => console.log('fired at', clock.now()), 100);
 * clock.advance(100); // fired at 100
 * ```
 */
export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  /** Pending timers, sorted by (at, seq). */
  #timers: Timer[] = [];
  readonly #realSlices: boolean;
  readonly #hold: (() => () => void) | undefined;
  /** Holds taken (`hold`), in order, with what runs once all are released. */
  #holds: { released: boolean; then: (() => void) | undefined }[] = [];
  /** Releases what `options.hold` stopped, once every hold is released. */
  #resume: (() => void) | undefined;

  /**
   * @param options.realSlices - `sliceNow()` reads `performance.now()` instead of virtual time
   *   (see `MemoryClusterOptions.sliceTime`)
   * @param options.hold - what `hold()` stops besides the timers (the cluster's engine)
   */
  constructor(options: { readonly realSlices?: boolean; readonly hold?: () => () => void } = {}) {
    this.#realSlices = options.realSlices ?? false;
    this.#hold = options.hold;
  }

  /**
   * Stop the simulation until the function returned is called (see `Clock.hold`): in a
   * `MemoryCluster`, its engine takes no step and `runUntilIdle` fires no timer meanwhile.
   * Once every hold is released, the `then` of each runs, in the order the holds were taken.
   */
  hold(): (then?: () => void) => void {
    const h: { released: boolean; then: (() => void) | undefined } = {
      released: false,
      then: undefined,
    };
    if (this.#holds.length === 0 && this.#resume === undefined) this.#resume = this.#hold?.();
    this.#holds.push(h);
    return (then) => {
      if (h.released) return;
      h.released = true;
      h.then = then;
      if (this.#holds.some((x) => !x.released)) return;
      const all = this.#holds;
      this.#holds = [];
      for (const x of all) {
        try {
          x.then?.();
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
      }
      // a `then` may hold again: the engine stays held for it
      if (this.#holds.length > 0) return;
      const resume = this.#resume;
      this.#resume = undefined;
      resume?.();
    };
  }

  /** Virtual milliseconds since the cluster was created. */
  now(): number {
    return this.#now;
  }

  /**
   * What bounds a slice of background work: virtual time, which stands still while code runs
   * (a slice is never cut by the clock, whatever the machine's load), or with `realSlices`
   * `performance.now()`.
   */
  sliceNow(): number {
    return this.#realSlices ? performance.now() : this.#now;
  }

  /** A fixed origin (2026-01-01T00:00:00Z) plus virtual time. */
  wallNow(): number {
    return WALL_ORIGIN + this.#now;
  }

  /** Run `fn` once virtual time has advanced by `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    const timers = this.#timers;
    let lo = 0;
    let hi = timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = timers[mid]!;
      if (m.at < t.at || (m.at === t.at && m.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    timers.splice(lo, 0, t);
    return {
      cancel: () => {
        if (!t.fn) return;
        t.fn = null;
        const i = this.#timers.indexOf(t);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
  }

  /** When the next timer fires, or `undefined` if none is pending. */
  nextTimerAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** Number of pending timers. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Fire the earliest timer if it is due by `limit` (moving time to it). Returns whether one
   * fired.
   */
  fireNext(limit = Infinity): boolean {
    const t = this.#timers[0];
    if (!t || t.at > limit) return false;
    this.#timers.shift();
    if (t.at > this.#now) this.#now = t.at;
    const fn = t.fn;
    t.fn = null;
    fn?.();
    return true;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due, in order. Timers set by
   * those timers fire too if they fall due before the end.
   */
  advance(ms: number): void {
    const target = this.#now + Math.max(0, ms);
    while (this.fireNext(target)) {
      // keep firing
    }
    this.#now = target;
  }
}
