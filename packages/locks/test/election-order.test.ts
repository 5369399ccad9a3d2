/**
 * Terms come from one machine-wide counter (`LocksState.issued`, state format 2 on), so when a
 * membership change or a tick elects in several elections at once, the order in which it goes
 * through them decides which gets which term. It is name order: an `elections` record lists its
 * names in the order it was built (and integer-like names first), which nothing but the history
 * of every replica keeps equal.
 */
import { describe, it, expect } from 'vitest';
import { Immer, type Draft } from 'immer';
import { canonicalJson } from '@cpgkit/statemachine';
import { locksMachine } from '../src/machine.js';
import { initialLocksState, type ElectionEntry, type LocksState } from '../src/state.js';

const immer = new Immer({ autoFreeze: false });
const owner = (i: number) => ({ incarnation: `i${i}`, nodeid: i, pid: 1 });
const candidate = (i: number) => ({ id: `c${i}`, owner: owner(i), value: i, since: 0 });
const def = locksMachine({ tokens: 'counter' });

/** The same elections, listed in the order of `names`. */
function state(names: readonly string[], entry: () => ElectionEntry): LocksState {
  const elections: Record<string, ElectionEntry> = {};
  for (const n of names) elections[n] = entry();
  return { ...initialLocksState(), elections, issued: '7' };
}

const orders = [
  ['b', 'a', '10', '9'],
  ['a', 'b', '9', '10'],
  ['9', 'b', '10', 'a'],
];

describe('elections in one step', () => {
  it('a membership change gives the same terms whatever order the record lists its names in', () => {
    const led = (): ElectionEntry => ({
      term: '7',
      leader: candidate(1),
      candidates: [candidate(2)],
      blockedUntil: null,
    });
    const change = { members: [owner(2)], left: [owner(1)], time: 10, index: 2n, epoch: 1 };
    const results = orders.map((o) =>
      immer.produce(state(o, led), (d: Draft<LocksState>) => def.onMembership!(d, change)),
    );
    for (const r of results) expect(canonicalJson(r)).toBe(canonicalJson(results[0]!));
    // every election has a new leader, each with a term of its own, in name order
    const elected = ['10', '9', 'a', 'b'].map((n) => results[0]!.elections[n]!);
    expect(elected.map((e) => e.leader?.id)).toEqual(['c2', 'c2', 'c2', 'c2']);
    expect(elected.map((e) => e.term)).toEqual(['8', '9', '10', '11']);
  });

  it('a tick that ends the elections’ blocks gives the same terms whatever the order', () => {
    const blocked = (): ElectionEntry => ({
      term: '7',
      leader: null,
      candidates: [candidate(2)],
      blockedUntil: 5,
    });
    const results = orders.map((o) =>
      immer.produce(state(o, blocked), (d: Draft<LocksState>) =>
        def.onTick!(d, { time: 6, index: 2n, epoch: 1 }),
      ),
    );
    for (const r of results) expect(canonicalJson(r)).toBe(canonicalJson(results[0]!));
    expect(['10', '9', 'a', 'b'].map((n) => results[0]!.elections[n]!.term)).toEqual([
      '8',
      '9',
      '10',
      '11',
    ]);
  });
});
