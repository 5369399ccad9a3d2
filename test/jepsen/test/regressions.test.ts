/**
 * Every anomaly the campaigns found, replayed: the seeded schedule that showed it (with the
 * options `pnpm jepsen --memory --seeds 1 --seed N` uses) must now pass every checker. Each
 * entry failed on the code before its fix (checked by running the same command in a checkout
 * of the commit before the fix, named in `fixedIn`); the schedules are deterministic, so a
 * product change that brings an anomaly back fails here with its seed.
 */

// The time limits below bound a hang, not speed: the schedules run on virtual time and are
// CPU-bound, and a machine busy with other work (2 cores, shared) can take several times as
// long as a quiet one (60 seeds: 47 s quiet, over 300 s at a load of 16-18 under nice 19).
import { describe, it, expect } from 'vitest';
import { runSchedule } from '../src/sim/run.js';
import { describeFailure } from '../src/report.js';

interface Regression {
  readonly seed: number;
  /** What the checker reported before the fix. */
  readonly found: string;
  /** The commit that fixed it (its parent shows the anomaly). */
  readonly fixedIn: string;
  /** `pnpm jepsen --memory --upgrade` found it (a rolling upgrade among the faults). */
  readonly upgrade?: boolean;
  /** `pnpm jepsen --memory --lose-writes` found it (a kill loses the write in flight). */
  readonly loseWrites?: boolean;
  /**
   * `pnpm jepsen --memory --lose-writes --forget-rounds --durability fsync` found it (a replica
   * killed with its summary in flight; every acknowledged write on a majority of disks).
   */
  readonly forgetRounds?: boolean;
  /** The schedule's cluster size (the seed draws it), when not 5. */
  readonly nodes?: number;
  /** The cluster size the campaign forced (`--nodes N`: the seed draws none, see run.ts). */
  readonly forcedNodes?: number;
}

const REGRESSIONS: readonly Regression[] = [
  {
    seed: 351,
    found:
      '[election] term-order: a process resumed after a pause handed out its committed leadership one event before the confchg that cut it off, after the majority had elected a later term',
    fixedIn: '61dd9cd (grants handed out after the delivered batch)',
  },
  {
    seed: 223,
    found:
      '[election] term-order: observe() reported as not stale an election applied on one side of a partition only, rolled back at the merge (a term seen after a later one)',
    fixedIn: '61dd9cd (leader()/observe() stale until the election is committed)',
  },
  {
    seed: 570,
    found:
      '[election] term-order: the same, with terms one microsecond apart on either side of a partition',
    fixedIn: '61dd9cd (leader()/observe() stale until the election is committed)',
  },
  {
    seed: 9089,
    upgrade: true,
    found:
      "[election] term-order: a lock replica on a new disk, alone in a node-quorate ring while every other replica was down, started an empty store and elected there; the others' older state then replaced it (a term seen after a later one)",
    fixedIn: 'ca88e68 (a new store only with a fresh replica on every node of the ring)',
  },
  {
    seed: 9050,
    upgrade: true,
    nodes: 3,
    found:
      "[election] term-order: a lock replica on a new disk, cut off into a ring of its own node, started an empty store in the 20 ms before its node's quorum view of that ring said no quorum (the previous ring's view still said quorate); when the partition healed the others' state replaced it",
    fixedIn: '4733c81 (a bootstrap or force only with a quorum view of the current ring)',
  },
  {
    seed: 9012,
    loseWrites: true,
    nodes: 3,
    found:
      '[register (linearizability)] linearizable: a kv replica killed with its round-end ack in flight (kill-at-round-end) had been counted as holding the new Q = {itself, node 2} before its disk did; node 2 went on alone, and the killed replica came back with the stale Q of its disk and formed a majority of it with the one that died before: a read saw a value that a later write had replaced on the other side, and acknowledged adds were lost',
    fixedIn:
      '94619d7 (no ack before the disk holds the epoch and Q it proves; the harness came later: checked with statemachine/src of main)',
  },
  {
    seed: 9004,
    forgetRounds: true,
    nodes: 3,
    found:
      "[register (linearizability)] linearizable: after a kv replica was killed with its summary in flight (kill-at-vote: its vote counted in a round its disk never held) and came back with the replica that died first, reads saw values that acknowledged writes (on a majority of disks, 'fsync') had replaced",
    fixedIn:
      '3c3f1f9 (summaries wait for the disk; an epoch commits nothing until proven; a proven state leads; the fault came later: checked with statemachine/src of db9134b)',
  },
  {
    seed: 9115,
    forgetRounds: true,
    forcedNodes: 5,
    found:
      "[set] lost-add: two kv replicas killed at once with their votes in flight (kill-two-at-vote) forgot the round; its survivors moved its unproven epoch once more at a confchg, counting one of them as present, and that state led the heal over the same round's number made again and proven by the others: adds acknowledged on a majority of disks ('fsync') were lost",
    fixedIn: '3f94f7e (an unproven epoch is not moved at a confchg)',
  },
];

describe('anomalies found by the campaigns stay fixed', () => {
  for (const r of REGRESSIONS) {
    it(`seed ${r.seed}: ${r.found.slice(0, r.found.indexOf(':'))} (fixed in ${r.fixedIn})`, async () => {
      const result = await runSchedule(r.seed, {
        ...(r.upgrade === true ? { upgrade: true } : {}),
        ...(r.loseWrites === true ? { loseWrites: true } : {}),
        ...(r.forgetRounds === true
          ? { loseWrites: true, forgetRounds: true, durability: 'fsync' as const }
          : {}),
        ...(r.forcedNodes === undefined ? {} : { nodes: r.forcedNodes }),
      });
      // the schedule must still exercise what it did: its cluster size and real faults
      expect(result.nodes).toBe(r.forcedNodes ?? r.nodes ?? 5);
      expect(Object.values(result.faultCounts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(result.valid, result.valid ? '' : describeFailure(result)).toBe(true);
    }, 360_000);
  }
});
