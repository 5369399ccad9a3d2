/**
 * slices.ts: a job's first slice (in whatever turn started it) ends after its minimum work,
 * whatever the clock says; slices given by `nextSlice` end by the clock; one slice time per
 * clock; work done inline shares one deadline per turn and slice time.
 */
import { describe, it, expect } from 'vitest';
import type { Clock } from '@cpgkit/core';
import { SLICE_MIN_WORK, SLICE_MS, SliceClock, sliceTimeOf, turnDeadline } from '../src/slices.js';

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

  it("inline work in one turn shares the first caller's deadline; the next turn starts afresh", async () => {
    let t = 0;
    const now = (): number => t;
    const other = (): number => t;
    expect(turnDeadline(now, SLICE_MS)).toBe(SLICE_MS);
    t = 5; // a replica worked inline 5 ms: the next one has the rest of the turn's budget
    expect(turnDeadline(now, SLICE_MS)).toBe(SLICE_MS);
    expect(turnDeadline(other, SLICE_MS)).toBe(5 + SLICE_MS); // another slice time: its own
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    t = 20;
    expect(turnDeadline(now, SLICE_MS)).toBe(20 + SLICE_MS);
  });
});
