/**
 * delivery-hold.ts's pacing: a turn's events stop once they carried `SLICE_MIN_WORK` bytes and
 * took `SLICE_MS`; the rest runs in later turns, in order. Small work is never paced.
 */
import { describe, it, expect } from 'vitest';
import { DeliveryHold, LARGE_EVENT } from '../src/delivery-hold.js';
import { SLICE_MIN_WORK, SLICE_MS } from '../src/slices.js';

/** Hold the CPU for `ms` (an event that takes that long to apply). */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Resolves after `n` turns of the event loop. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('delivery-hold.ts: pacing', () => {
  it('events of one turn past a slice of work and time wait for later turns, in order', async () => {
    const hold = new DeliveryHold();
    const seen: number[] = [];
    const work = SLICE_MIN_WORK / 2;
    // ten events delivered in one turn, each 32 KB and 2 ms (SLICE_MS is 8)
    for (let i = 0; i < 10; i++)
      hold.run(() => {
        seen.push(i);
        busy(SLICE_MS / 4);
      }, work);
    expect(hold.held).toBe(true);
    const first = seen.length;
    // the slice ends once both bounds are past: 2 events carry 64 KB, 4 or 5 take 8 ms (fewer
    // when the machine preempts us)
    expect(first).toBeGreaterThanOrEqual(2);
    expect(first).toBeLessThan(10);
    // an event delivered meanwhile waits behind them
    hold.run(() => seen.push(10), 1);
    await turns(20);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(hold.held).toBe(false);
  });

  it('small work is never paced, whatever the clock says', () => {
    const hold = new DeliveryHold();
    let n = 0;
    for (let i = 0; i < 20; i++)
      hold.run(() => {
        n++;
        busy(1);
      }, 100);
    expect(n).toBe(20);
    expect(hold.held).toBe(false);
  });

  it("a snapshot's hold and pacing's are counted apart: events wait until both are released", async () => {
    const hold = new DeliveryHold();
    const seen: string[] = [];
    hold.run(() => {
      seen.push('big');
      busy(SLICE_MS + 2);
    }, SLICE_MIN_WORK);
    expect(hold.held).toBe(true); // paced
    hold.hold(); // a snapshot arrives (as sync-round.ts holds)
    hold.run(() => seen.push('after'), 1);
    await turns(10);
    expect(seen).toEqual(['big']); // pacing's release did not end the snapshot's hold
    hold.release();
    expect(seen).toEqual(['big', 'after']);
    expect(hold.held).toBe(false);
  });

  it("replicas on one slice time share a turn: the second one, past the turn's slice, waits for its own", async () => {
    // a slice time that leaps 10 ms at every read: past SLICE_MS at once
    let t = 0;
    const leaping = (): number => (t += 10);
    const other = (): number => (t += 10);
    const a = new DeliveryHold(leaping);
    const b = new DeliveryHold(leaping);
    const c = new DeliveryHold(other);
    const seen: string[] = [];
    for (const [name, hold] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      for (let i = 0; i < 3; i++) hold.run(() => seen.push(`${name}${i}`), SLICE_MIN_WORK / 2);
    // a used the turn's slice up with two events (64 KiB); b, on the same slice time, handled
    // none (it waits for a slice of its own); c, on another, had a slice of its own
    expect(seen).toEqual(['a0', 'a1', 'c0', 'c1']);
    expect([a.held, b.held, c.held]).toEqual([true, true, true]);
    await turns(20);
    for (const name of ['a', 'b', 'c'])
      expect(seen.filter((e) => e.startsWith(name))).toEqual([0, 1, 2].map((i) => `${name}${i}`));
    expect([a.held, b.held, c.held]).toEqual([false, false, false]);
  });

  /**
   * Two replicas on one slice time whose clock leaps 10 ms at every read (each event runs past
   * the turn's slice), the first having spent the turn's budget on its event `a0`.
   */
  function afterSpentBudget() {
    let t = 0;
    const leaping = (): number => (t += 10);
    const a = new DeliveryHold(leaping);
    const b = new DeliveryHold(leaping);
    const seen: string[] = [];
    a.run(() => seen.push('a0'), SLICE_MIN_WORK);
    return { a, b, seen };
  }

  it('a replica held back before its first event handles its queue in order, the budget its own', async () => {
    const { a, b, seen } = afterSpentBudget();
    expect(a.held).toBe(true);
    b.run(() => seen.push('b0'), SLICE_MIN_WORK);
    b.run(() => seen.push('b-small'), 0); // waits behind b0, though it carries no work
    expect(seen).toEqual(['a0']);
    expect(b.held).toBe(true);
    await turns(20);
    expect(seen).toEqual(['a0', 'b0', 'b-small']);
    expect([a.held, b.held]).toEqual([false, false]);
  });

  it("a small event is handled as it comes, past the turn's slice; the replica waits after it", async () => {
    const { b, seen } = afterSpentBudget();
    b.run(() => seen.push('b0'), LARGE_EVENT - 1);
    b.run(() => seen.push('b1'), LARGE_EVENT - 1);
    expect(seen).toEqual(['a0', 'b0']);
    await turns(20);
    expect(seen).toEqual(['a0', 'b0', 'b1']);
  });
});
