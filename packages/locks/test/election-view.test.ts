import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ElectionView } from '../src/elections.js';
import { initialLocksState, type ElectionEntry, type LocksState } from '../src/state.js';
import type { LocksStateMachine } from '../src/types.js';

/** The fields of a machine that `ElectionView.note` and `leader` read. */
interface FakeMachine {
  index: bigint;
  committedIndex: bigint;
  state: LocksState;
  stale: boolean;
}

/** A machine at index 0 with the initial state, nothing committed. */
function freshMachine(): FakeMachine {
  return { index: 0n, committedIndex: 0n, state: initialLocksState(), stale: false };
}

function election(term: number): ElectionEntry {
  return { term: String(term), leader: null, candidates: [], blockedUntil: null };
}

/** The rule `ElectionView` keeps, without forgetting anything: stale iff committed < changed at. */
class Reference {
  readonly changedAt = new Map<string, bigint>();
  #prev: LocksState['elections'] | undefined;
  note(m: FakeMachine, replaced: boolean): void {
    const els = m.state.elections;
    if (els === this.#prev && !replaced) return;
    const prev = this.#prev;
    this.#prev = els;
    for (const [name, e] of Object.entries(els))
      if (replaced || prev?.[name] !== e) this.changedAt.set(name, m.index);
  }
  stale(m: FakeMachine, name: string): boolean {
    return m.stale || m.committedIndex < (this.changedAt.get(name) ?? 0n);
  }
}

type Step =
  | { s: 'change'; name: number }
  | { s: 'commit'; by: number }
  | { s: 'replace'; names: number[]; committedBack: number };

const NAMES = 150;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ s: fc.constant('change' as const), name: fc.nat(NAMES - 1) }),
  },
  { weight: 4, arbitrary: fc.record({ s: fc.constant('commit' as const), by: fc.nat(30) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      s: fc.constant('replace' as const),
      names: fc.array(fc.nat(NAMES - 1), { maxLength: 20 }),
      committedBack: fc.nat(10),
    }),
  },
);

describe('ElectionView', () => {
  it('forgets change indexes a majority holds: stale answers unchanged, memory bounded', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 400 }), (steps) => {
        const m = freshMachine();
        const view = new ElectionView(m as unknown as LocksStateMachine, () => false);
        const ref = new Reference();
        let term = 0;
        for (const step of steps) {
          if (step.s === 'change') {
            m.index++;
            const els = { ...m.state.elections, [`e${step.name}`]: election(++term) };
            m.state = { ...m.state, elections: els };
            view.note(m.state, false);
            ref.note(m, false);
          } else if (step.s === 'commit') {
            const to = m.committedIndex + BigInt(step.by);
            m.committedIndex = to < m.index ? to : m.index;
          } else {
            // a snapshot: a state that keeps every committed change (elections are never
            // deleted), and the commit index reset at or below the new index
            const els: Record<string, ElectionEntry> = {};
            for (const [name, e] of Object.entries(m.state.elections))
              if (ref.changedAt.get(name)! <= m.committedIndex) els[name] = e;
            for (const n of step.names) els[`e${n}`] = election(++term);
            m.state = { ...m.state, elections: els };
            m.index += 5n;
            const back = m.committedIndex - BigInt(step.committedBack);
            m.committedIndex = back < 0n ? 0n : back;
            view.note(m.state, true);
            ref.note(m, true);
          }
          for (let i = 0; i < NAMES; i++)
            expect(view.leader(`e${i}`).stale).toBe(ref.stale(m, `e${i}`));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('remembers O(uncommitted) elections over 1,500 changes of 1,500 names', () => {
    const m = freshMachine();
    const view = new ElectionView(m as unknown as LocksStateMachine, () => false);
    let most = 0;
    for (let i = 0; i < 1500; i++) {
      m.index++;
      // a new election per change, one state per change, as a replica applies them
      m.state = { ...m.state, elections: { ...m.state.elections, [`n${i}`]: election(i + 1) } };
      view.note(m.state, false);
      m.committedIndex = m.index - 3n; // a majority holds all but the last three
      most = Math.max(most, view.remembered);
    }
    expect(most).toBeLessThanOrEqual(128);
    expect(view.leader('n1499').stale).toBe(true);
    expect(view.leader('n10').stale).toBe(false);
  });
});
