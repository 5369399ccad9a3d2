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
