import { describe, it, expect } from 'vitest';
import { followHeld, heldHandles, type Held } from '../src/held.js';
import type { Lock } from '../src/lock.js';
import type { LocksCommand } from '../src/commands.js';
import { initialLocksState, type LockEntry, type LocksState } from '../src/state.js';

const owner = { incarnation: 'me', nodeid: 1, pid: 1 };

function entry(id: string, expires: number | null): LockEntry {
  const holder = { id, owner, mode: 'exclusive' as const, token: '1', since: 0, ttl: 5, expires };
  return {
    kind: 'mutex',
    limit: 1,
    token: '1',
    holders: [holder],
    waiters: [],
    blockedUntil: null,
  };
}

function fakeLock(id: string, name: string, seen: string[]): Held {
  return {
    kind: 'lock',
    handle: { id, name } as unknown as Lock,
    lose: (reason) => seen.push(`${id} lost: ${reason}`),
    update: (expires) => seen.push(`${id} ${String(expires)}`),
  };
}

describe('followHeld', () => {
  it("looks up only the command's name, nothing for a failed command, everything for a tick", () => {
    const seen: string[] = [];
    const held = heldHandles();
    held.set('a1', fakeLock('a1', 'a', seen));
    held.set('b1', fakeLock('b1', 'b', seen));
    const state: LocksState = {
      ...initialLocksState(),
      locks: { a: entry('a1', 10), b: entry('b1', null) },
    };
    const ctx = { sender: owner, commandId: 'c', time: 1, index: 1n, epoch: 1 };
    const renew: LocksCommand = { type: 'renew', id: 'a1', name: 'a', ttl: 9 };
    followHeld(held, { kind: 'command', state, command: renew, ok: true, ctx });
    expect(seen).toEqual(['a1 10']);
    followHeld(held, { kind: 'command', state, command: renew, ok: false, ctx });
    expect(seen).toEqual(['a1 10']);
    // the state no longer lists a1 (its lease ran out at the tick): lost and forgotten
    const after: LocksState = { ...state, locks: { b: entry('b1', null) } };
    followHeld(held, { kind: 'tick', state: after, ctx: { time: 10, index: 2n, epoch: 1 } });
    expect(seen).toEqual(['a1 10', 'a1 lost: lease-expired', 'b1 null']);
    expect(held.get('a1')).toBeUndefined();
    expect(held.size).toBe(1);
  });
});
