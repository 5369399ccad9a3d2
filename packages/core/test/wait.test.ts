import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../src/errors.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { deferred, raceSignal, sleep, waiter, waitSignal, withWait } from '../src/wait.js';

const never = new Promise<never>(() => undefined);

describe('waits', () => {
  it('an abort with a reason that is not an Error rejects with an AbortError, everywhere', async () => {
    const clock = new VirtualClock();
    const waits = (signal: AbortSignal): Promise<unknown>[] => [
      withWait(never, clock, { signal }, 'x'),
      raceSignal(never, signal),
      sleep(clock, 1000, signal),
      waiter<void>(clock, { signal }).promise,
    ];
    const ctl = new AbortController();
    const pending = waits(ctl.signal);
    ctl.abort('stop');
    const already = waits(ctl.signal);
    for (const p of [...pending, ...already]) {
      await expect(p).rejects.toMatchObject({ name: 'AbortError' });
      await expect(p).rejects.toBeInstanceOf(DOMException);
    }
    const combined = waitSignal(clock, { signal: ctl.signal }, 'x');
    expect(combined.signal.reason).toMatchObject({ name: 'AbortError' });
    // An Error reason is passed on as it is.
    const err = new Error('mine');
    const ctl2 = new AbortController();
    const p = withWait(never, clock, { signal: ctl2.signal }, 'x');
    ctl2.abort(err);
    await expect(p).rejects.toBe(err);
  });

  it('times out on the injected clock with a TimeoutError naming the wait', async () => {
    const clock = new VirtualClock();
    let cancelled = 0;
    const p = withWait(never, clock, { timeout: 50 }, 'lock(a)', () => cancelled++);
    clock.advance(49);
    const q = sleep(clock, 10);
    clock.advance(1);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    await expect(p).rejects.toThrow('lock(a): timed out after 50 ms');
    expect(cancelled).toBe(1);
    clock.advance(9);
    await expect(q).resolves.toBeUndefined();
  });

  it('a waiter settles once and removes its timer and listener', async () => {
    const clock = new VirtualClock();
    const ctl = new AbortController();
    let settled = 0;
    const w = waiter<number>(clock, { signal: ctl.signal, timeout: 10, onSettle: () => settled++ });
    w.resolve(1);
    w.reject(new Error('late'));
    ctl.abort();
    clock.advance(20);
    await expect(w.promise).resolves.toBe(1);
    expect(settled).toBe(1);
    expect(clock.nextTimerAt()).toBeUndefined();
    const d = deferred<string>();
    d.reject(new Error('unobserved rejection is not fatal'));
  });
});
