import type { Clock, TimerHandle } from './types.js';

/** The real clock: `performance.now()`, `Date.now()` and `setTimeout` (unref'd timers are not used: a pending timeout keeps the process alive, as a pending wait should). */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  sliceNow: () => performance.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};
