/**
 * late-grants.ts: a grant applied more than half the failoverDelay late is confirmed by an
 * entry of ours committed after it before it is handed out. End to end, the Jepsen campaign's
 * seed 20261330 (campaign.test.ts) is the schedule that needs it.
 */
import { describe, it, expect } from 'vitest';
import { LateGrants } from '../src/late-grants.js';
import type { LocksCommand } from '../src/commands.js';
import type { LocksStateMachine } from '../src/types.js';

/** A machine with a clock at `now` whose state's replicated time is `time`. */
function fakeMachine(now: number, time: number) {
  const sent: LocksCommand[] = [];
  let settle: ((ok: boolean) => void) | undefined;
  const machine = {
    clock: { wallNow: () => now },
    time,
    index: 5n,
    dispatch: (cmd: LocksCommand) => {
      sent.push(cmd);
      return new Promise((resolve, reject) => {
        settle = (ok) => (ok ? resolve({ released: 'none' }) : reject(new Error('no quorum')));
      });
    },
  } as unknown as LocksStateMachine;
  return { machine, sent, settle: (ok: boolean) => settle?.(ok) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('LateGrants', () => {
  it('hands out at once when the state is at most half the failoverDelay behind the clock', () => {
    const { machine, sent } = fakeMachine(10_100, 10_000);
    const late = new LateGrants(machine, 200, () => undefined);
    expect(late.mayHandOut('L', false)).toBe(true);
    expect(sent).toEqual([]);
  });

  it('a late grant waits for an entry of ours that changes nothing, then goes out once', async () => {
    const { machine, sent, settle } = fakeMachine(10_625, 10_000); // paused 625 ms
    let again = 0;
    const late = new LateGrants(machine, 200, () => again++);
    expect(late.mayHandOut('L', false)).toBe(false);
    expect(late.mayHandOut('L', false)).toBe(false); // one confirmation at a time
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: 'withdraw', name: 'L' });
    settle(true);
    await tick();
    expect(again).toBe(1);
    expect(late.mayHandOut('L', false)).toBe(true);
    expect(late.mayHandOut('M', false)).toBe(true); // every grant of the state it confirmed
    // another entry applied, still late: it is confirmed again
    (machine as unknown as { index: bigint }).index = 6n;
    expect(late.mayHandOut('L', false)).toBe(false);
    expect(sent).toHaveLength(2);
  });

  it('an election is confirmed with a resign of a candidacy nobody made; a failed one hands out nothing', async () => {
    const { machine, sent, settle } = fakeMachine(20_000, 10_000);
    let again = 0;
    const late = new LateGrants(machine, 200, () => again++);
    expect(late.mayHandOut('E', true)).toBe(false);
    expect(sent[0]).toMatchObject({ type: 'resign', name: 'E' });
    settle(false); // a minority: the waiters fail through their own path
    await tick();
    expect(again).toBe(1);
    expect(late.mayHandOut('E', true)).toBe(false);
    expect(sent).toHaveLength(2);
  });

  it('with failoverDelay 0 nothing waits', () => {
    const { machine, sent } = fakeMachine(99_000, 0);
    expect(new LateGrants(machine, 0, () => undefined).mayHandOut('L', false)).toBe(true);
    expect(sent).toEqual([]);
  });
});
