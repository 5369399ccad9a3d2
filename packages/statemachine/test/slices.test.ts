/**
 * slices.ts: a job's first slice (in whatever turn started it) ends after its minimum work,
 * whatever the clock says; slices given by `nextSlice` end by the clock; one slice time per
 * clock; work done inline shares one deadline per turn and slice time.
 */
import { describe, it, expect } from 'vitest';
import type { Clock } from '@cpgkit/core';
import { SLICE_MIN_WORK, SLICE_MS, SliceClock, sliceTimeOf, inlineWork } from '../src/slices.js';

describe('slices.ts', () => {
  it('a first slice ends after SLICE_MIN_WORK even on a clock that stands still; later ones by the clock', async () => {
    let t = 0;
    const clock = new SliceClock(() => t);
    expect(clock.due(SLICE_MIN_WORK - 1)).toBe(false);
    expect(clock.due(1)).toBe(true);
    expect(clock.deadline).toBe(0);
    await clock.next();
    // a slice of its own: the clock decides (virtual time stands still: never cut)
    expect(clock.due(10 * SLICE_MIN_WORK)).toBe(false);
    expect(clock.deadline).toBe(SLICE_MS);
    t = SLICE_MS + 1;
    expect(clock.due(1)).toBe(true);
    // after waiting for something else (a write), as in a first slice again
    t = 100;
    clock.resumed();
    expect(clock.deadline).toBe(100);
    expect(clock.due(SLICE_MIN_WORK)).toBe(true);
  });

  it('one slice time per clock', () => {
    const a = { sliceNow: () => 1 } as unknown as Clock;
    const b = { sliceNow: () => 2 } as unknown as Clock;
    expect(sliceTimeOf(a)).toBe(sliceTimeOf(a));
    expect(sliceTimeOf(a)).not.toBe(sliceTimeOf(b));
    expect(sliceTimeOf(b)()).toBe(2);
  });

  it('inline work in one turn shares one budget; the next turn starts afresh; waiting between calls is not work', async () => {
    let t = 0;
    const now = (): number => t;
    const other = (): number => t;
    // a replica works inline 5 ms: the next one has the rest of the turn's budget
    expect(inlineWork(now, SLICE_MS, (d) => ((t += 5), d))).toBe(SLICE_MS);
    t += 100; // virtual time moved between the two calls: not counted
    expect(inlineWork(now, SLICE_MS, (d) => d)).toBe(t + SLICE_MS - 5);
    expect(inlineWork(other, SLICE_MS, (d) => d)).toBe(t + SLICE_MS); // another slice time
    // a clock that stands still while code runs never spends its budget
    expect(inlineWork(other, SLICE_MS, (d) => d)).toBe(t + SLICE_MS);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(inlineWork(now, SLICE_MS, (d) => d)).toBe(t + SLICE_MS);
  });
});
