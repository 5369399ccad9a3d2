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
 * The clock of one job's slices: `due()` once the current slice has run `SLICE_MS`, `next()`
 * waits for the job's next slice. A job that finishes within its first slice never waits
 * (small snapshots and states are handled at once, as without slices).
 */
export class SliceClock {
  private start = performance.now();

  /** When the current slice should end (a `performance.now()` time). */
  get deadline(): number {
    return this.start + SLICE_MS;
  }

  /** Whether the current slice has run its time. */
  due(): boolean {
    return performance.now() > this.deadline;
  }

  /** Wait for the next slice. */
  async next(): Promise<void> {
    await nextSlice();
    this.start = performance.now();
  }
}
