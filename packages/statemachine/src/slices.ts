/**
 * Background work in slices: a large snapshot's writing and reading, and the filling of a
 * large state's digest cache, run a slice of at most `SLICE_MS` at a time and then wait for
 * `nextSlice()`. One slice runs per turn of the event loop for the whole process, the callers
 * in turn, so that several replicas in one process (the in-memory cluster, or a store and a
 * lock service side by side) never add their slices up into one long stall.
 * @module
 */

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

/**
 * The clock of one job's slices: `due(work)` once the current slice has done at least
 * `SLICE_MIN_WORK` units of work (bytes, say) and run `SLICE_MS`; `next()` waits for the job's
 * next slice.
 */
export class SliceClock {
  private start = performance.now();
  private work = 0;

  /** When the current slice should end (a `performance.now()` time). */
  get deadline(): number {
    return this.start + SLICE_MS;
  }

  /** Count `work` units done; whether the current slice has run its time. */
  due(work: number): boolean {
    this.work += work;
    return this.work >= SLICE_MIN_WORK && performance.now() > this.deadline;
  }

  /** Wait for the next slice. */
  async next(): Promise<void> {
    await nextSlice();
    this.start = performance.now();
    this.work = 0;
  }
}
