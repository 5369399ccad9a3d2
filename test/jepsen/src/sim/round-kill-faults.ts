/**
 * The nemesis's faults that kill replicas inside a sync round, around its votes (summaries) and
 * its end (acks), so that a replica forgets a round its vote or ack counted in: `kill-at-round-end`
 * and `kill-at-vote` (`--lose-writes`, `--forget-rounds`), `kill-two-at-vote` and
 * `shrink-and-forget` (five nodes, `--forget-rounds`). The test/jepsen README says what each
 * found.
 * @module
 */
import { Kind } from '@cpgkit/statemachine/internal';
import type { SimNode, SimSystem } from './system.js';
import { pick, type Draws } from './fault-draws.js';
import { frameKind, recordInFlight, untilSprung } from './in-flight.js';

/**
 * A replica dies; the first of the others to send, for the round that follows, an ack
 * (`kill-at-round-end`: the round's end, the proof of the new epoch and `Q`) or a summary
 * (`kill-at-vote`: its vote in the round) dies the instant that frame is in flight, its
 * writes in flight lost; then the survivors are cut off and the two dead come back from
 * their disks (later healed).
 * - `kill-at-round-end`: if the dead one's ack was counted before its disk held the new `Q`,
 *   the survivors go on with half of `Q` while the two restarted count as a majority of the
 *   stale `Q` their disks hold: two histories.
 * - `kill-at-vote`: the vote is delivered, and counts when the round is decided before the
 *   voter's death reaches the others (a round the voter never learns the end of); it comes
 *   back with its disk's epoch and makes a round with the first dead one, whose epoch must
 *   not let the forgotten round's state (the survivors') override it at the heal.
 * - `kill-two-at-vote` (five nodes): the same with two voters, the first two others whose
 *   summaries are in flight: two replicas forget the round at once, and the three dead, a
 *   majority of the `Q` their disks hold, come back while the two survivors are cut off.
 */
export async function killInRound(
  sys: SimSystem,
  d: Draws,
  fault: 'kill-at-round-end' | 'kill-at-vote' | 'kill-two-at-vote',
): Promise<void> {
  // the round's end (the proof of the new epoch and `Q`), or the vote
  const kind = fault === 'kill-at-round-end' ? Kind.ack : Kind.summary;
  const voters = fault === 'kill-two-at-vote' ? 2 : 1;
  const k = d.kind();
  const live = sys.nodes.filter((n) => sys.service(n, k)?.alive === true);
  if (live.length < 2 + voters) return;
  const first = pick(d.rng, live);
  const dead: SimNode[] = [];
  const arm = (): void =>
    sys.armTrap(
      (s, frame) => s.kind === k && s.node !== first.id && frameKind(frame) === kind,
      (s, frame) => {
        recordInFlight(sys, fault, s, frame);
        const n = sys.nodes.find((x) => x.id === s.node)!;
        dead.push(n);
        sys.kill(n, s.kind);
        // the next voter of the same round (a killed one sends nothing more)
        if (dead.length < voters) arm();
      },
    );
  arm();
  await sys.crash(first, k);
  await untilSprung(sys, () => sys.trapArmed);
  sys.disarm();
  await sys.reap();
  if (dead.length === 0) return;
  await sys.cluster.advance(d.rng.int(300));
  const down = new Set([first.id, ...dead.map((n) => n.id)]);
  sys.partition(sys.nodes.filter((n) => !down.has(n.id)).map((n) => n.id));
  await sys.cluster.runUntilIdle();
  await sys.open(first, k);
  for (const n of dead) await sys.open(n, k);
}

/**
 * `Q` shrinks by more than half with a forgotten vote (five nodes): two nodes are cut off;
 * the first replica of the other three to send its vote for the round that follows (which
 * makes `Q` those three, two of which are a majority of it) dies the instant that vote is in
 * flight, its writes in flight lost; it comes back from its disk on the side of the two cut
 * off, where it holds a majority of its disk's old `Q` with them (later healed). Its vote
 * must not count in two majorities that both commit (sync.ts, "Changing `Q`").
 */
export async function shrinkAndForget(sys: SimSystem, d: Draws): Promise<void> {
  if (sys.nodes.length !== 5) return;
  const k = d.kind();
  if (sys.nodes.some((n) => sys.service(n, k)?.alive !== true)) return;
  const [minority, majority] = d.split(false) as [number[], number[]];
  let voter: SimNode | undefined;
  sys.armTrap(
    (s, frame) => s.kind === k && majority.includes(s.node) && frameKind(frame) === Kind.summary,
    (s, frame) => {
      recordInFlight(sys, 'shrink-and-forget', s, frame);
      voter = sys.nodes.find((x) => x.id === s.node)!;
      sys.kill(voter, s.kind);
    },
  );
  sys.partition(minority, majority);
  await untilSprung(sys, () => sys.trapArmed);
  sys.disarm();
  await sys.reap();
  const v = voter;
  if (v === undefined) return;
  await sys.cluster.advance(d.rng.int(300));
  sys.partition(
    [...minority, v.id],
    majority.filter((id) => id !== v.id),
  );
  await sys.cluster.runUntilIdle();
  await sys.open(v, k);
}
