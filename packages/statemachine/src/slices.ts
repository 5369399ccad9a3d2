/**
 * Background work in slices: a large snapshot's writing and reading, and the filling of a
 * large state's digest cache, run a slice of at most `SLICE_MS` at a time and then wait for
 * `nextSlice()`. One slice runs per turn of the event loop for the whole process, the callers
 * in turn, so that several replicas in one process (the in-memory cluster, or a store and a
 * lock service side by side) never add their slices up into one long stall.
 *
 * A slice's milliseconds are read from the replica's clock (`sliceTimeOf(group.clock)`):
 * `performance.now()` on the real clock; on the in-memory cluster's virtual clock, virtual
 * time, which stands still while code runs, so that no slice is cut by the clock and a seeded
 * run takes the same turns on a busy machine as on a quiet one.
 * @module
 */
import type { Clock } from '@cpgkit/core';

/** The longest one slice of background work holds the event loop (ms). */
export const SLICE_MS = 8;

const waiting: (() => void)[] = [];
let scheduled = false;

function runTurn(): void {
  scheduled = false;
  const next = waiting.shift();
  if (waiting.length > 0) {
    // queued now, it runs in the next turn of the event loop, not in this one
    scheduled = true;
    setImmediate(runTurn);
  }
  next?.();
}

/** Resolves in a later turn of the event loop, when the caller's next slice may run. */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(runTurn);
    }
  });
}

/**
 * Work a slice does before it may end: a job smaller than this never waits, whatever the
 * clock says, so that a small snapshot or state is handled in one go, in the same turns on
 * every run (a machine preempted by other processes must not change the order of events in
 * the seeded, virtual-time tests).
 */
export const SLICE_MIN_WORK = 64 * 1024;

/** The milliseconds a slice is measured in (see the module comment). */
export type SliceTime = () => number;

/** `performance.now()`: the real clock's slice time. */
export const wallSliceTime: SliceTime = () => performance.now();

const sliceTimes = new WeakMap<Clock, SliceTime>();

/**
 * The slice time of `clock`: its `sliceNow`, or `performance.now()` when it has none. The
 * same function for every call with one clock (replicas on one clock share their pacing:
 * delivery-hold.ts).
 */
export function sliceTimeOf(clock: Clock): SliceTime {
  if (clock.sliceNow === undefined) return wallSliceTime;
  let t = sliceTimes.get(clock);
  if (t === undefined) {
    t = () => clock.sliceNow!();
    sliceTimes.set(clock, t);
  }
  return t;
}

/** The inline work done in the current turn, per slice time (see `inlineWork`). */
const inlineTurns = new WeakMap<SliceTime, { used: number }>();

/**
 * Run `work` inline (in the turn that asks for it, not in a slice of its own) with a deadline
 * on slice time `now`: what is left of `budgetMs` for the current turn of the event loop,
 * shared by every caller on that slice time. Several replicas of one process reacting to one
 * event (a confchg starts a sync round on each, and each fills its digest's cache before its
 * summary) take `budgetMs` in all, not each: the later ones find it spent (a deadline already
 * past) and go on in slices of their own. Only the time measured while `work` runs is
 * counted, so on a virtual clock, which stands still while code runs, nothing is ever spent
 * (the seeded tests take the same turns as before, however the virtual time moves between
 * two calls).
 */
export function inlineWork<T>(now: SliceTime, budgetMs: number, work: (deadline: number) => T): T {
  let t = inlineTurns.get(now);
  if (t === undefined) {
    t = { used: 0 };
    inlineTurns.set(now, t);
  }
  if (t.used === 0) {
    const turn = t;
    setImmediate(() => (turn.used = 0));
  }
  const start = now();
  try {
    return work(start + budgetMs - t.used);
  } finally {
    // at least a little, so that the turn's reset is scheduled once
    t.used += Math.max(now() - start, Number.MIN_VALUE);
  }
}

/**
 * The clock of one job's slices: `due(work)` once the current slice has done at least
 * `SLICE_MIN_WORK` units of work (bytes, say) and run `SLICE_MS` of `now`; `next()` waits for
 * the job's next slice.
 *
 * A job's first slice runs in whatever turn started it (a timer, a message, an I/O
 * completion), where other jobs may be running theirs too (several replicas in one process
 * start their writes and warms in the same turn): it is not given by `nextSlice`, so it ends
 * as soon as it has done `SLICE_MIN_WORK`, whatever the clock says, and its `deadline` is its
 * start. A small job still runs in one go; a large one does the rest in slices of its own.
 */
export class SliceClock {
  private start: number;
  private work = 0;
  /** The current slice was given by `nextSlice` (see the class comment). */
  private granted = false;

  /** @param now - what the slice's milliseconds are read from (see `sliceTimeOf`) */
  constructor(readonly now: SliceTime = wallSliceTime) {
    this.start = now();
  }

  /** When the current slice should end (a time of `now`). */
  get deadline(): number {
    return this.granted ? this.start + SLICE_MS : this.start;
  }

  /** Count `work` units done; whether the current slice has run its time. */
  due(work: number): boolean {
    this.work += work;
    return this.work >= SLICE_MIN_WORK && (!this.granted || this.now() > this.deadline);
  }

  /** Wait for the next slice. */
  async next(): Promise<void> {
    await nextSlice();
    this.start = this.now();
    this.work = 0;
    this.granted = true;
  }

  /**
   * The job waited for something else (a write to disk) and goes on in the turn that
   * ended the wait: not a slice of its own, so its work there is as in its first slice.
   */
  resumed(): void {
    this.start = this.now();
    this.work = 0;
    this.granted = false;
  }
}
