/**
 * Faults that land in the middle of one step of the sync protocol, not between steps
 * (`--mid-step-faults`): the nemesis (nemesis.ts) draws them last, with weight 0 in the other
 * campaigns, so those campaigns' schedules stay as they were.
 *
 * - `split-at-confchg-write`: a replica of a component that stays quorate dies (everything is
 *   healed first when no component would), and the instant the first write of a survivor
 *   that follows is in flight (started, not on disk: the epoch moved at the confchg, most of
 *   the time, which the survivor's vote waits for) the cluster splits, or that survivor is cut
 *   off alone. Needs the disks that run writes in order (`--lose-writes` or `fsync`).
 * - `split-at-proof`: the same death, and the instant the first ack that follows is in flight
 *   (the round's end, most of the time: the proof of its epoch and `Q`, which the confchg that
 *   comes next finds unproven) the cluster splits; the ack reaches every side or its sender's
 *   only, by seed.
 * - `kill-during-join`: a dead replica comes back from its data directory (one is killed first
 *   if none is dead), and the instant the first vote (summary) of the round its join starts is
 *   in flight another replica dies: a member joins while another leaves, two rounds overlapping.
 * @module
 */
import { Kind } from '@cpgkit/statemachine/internal';
import type { ServiceKind, SimNode, SimSystem } from './system.js';
import { frameKind, untilSprung } from './in-flight.js';
import { pick, type Draws } from './fault-draws.js';

/** The draws of a mid-step fault, and the count of its traps that sprang. */
interface MidStepDraws extends Draws {
  sprang(fault: MidStepFault): void;
}

/** The mid-step faults. */
export const MID_STEP_FAULTS = [
  'split-at-confchg-write',
  'split-at-proof',
  'kill-during-join',
] as const;

/** One of `MID_STEP_FAULTS`. */
export type MidStepFault = (typeof MID_STEP_FAULTS)[number];

/** `fault`'s trap sprang: count it, and record it in the fault history with `details`. */
function sprung(
  sys: SimSystem,
  d: MidStepDraws,
  fault: MidStepFault,
  details: Record<string, number | string>,
): void {
  d.sprang(fault);
  sys.options.faults.event('mid-step', { fault, ...details });
}

/** Apply the mid-step fault `fault`. */
export async function applyMidStep(
  sys: SimSystem,
  draws: Draws,
  fault: MidStepFault,
  sprang: (fault: MidStepFault) => void,
): Promise<void> {
  const d: MidStepDraws = { ...draws, sprang };
  switch (fault) {
    case 'split-at-confchg-write':
      return splitAtConfchgWrite(sys, d);
    case 'split-at-proof':
      return splitAtProof(sys, d);
    case 'kill-during-join':
      return killDuringJoin(sys, d);
  }
}

function liveOf(sys: SimSystem, k: ServiceKind): SimNode[] {
  return sys.nodes.filter((n) => sys.service(n, k)?.alive === true);
}

/**
 * The live replicas of `k` in a component that keeps a strict majority of the nodes' replicas
 * of `k` alive after one of them dies (so that the round after that death is quorate, writes
 * and acks); empty when there is none.
 */
function quorateAfterOneDeath(sys: SimSystem, k: ServiceKind): SimNode[] {
  const live = new Set(liveOf(sys, k).map((n) => n.id));
  for (const c of sys.cluster.components()) {
    const here = c.filter((id) => live.has(id));
    if ((here.length - 1) * 2 > sys.nodes.length)
      return sys.nodes.filter((n) => here.includes(n.id));
  }
  return [];
}

/**
 * `quorateAfterOneDeath`, after healing everything (partitions, pauses, dead nodes and replicas)
 * when no component qualifies as it is: otherwise these faults spring in few schedules, whose
 * earlier faults leave most components unable to make a quorate round.
 */
async function readyForADeath(sys: SimSystem, k: ServiceKind): Promise<SimNode[]> {
  const now = quorateAfterOneDeath(sys, k);
  if (now.length > 0) return now;
  await sys.healAll();
  await sys.cluster.advance(500);
  return quorateAfterOneDeath(sys, k);
}

async function splitAtConfchgWrite(sys: SimSystem, d: MidStepDraws): Promise<void> {
  const disks = sys.disks;
  const k = d.kind();
  const live = await readyForADeath(sys, k);
  if (disks === undefined || live.length === 0) return;
  const victim = pick(d.rng, live);
  const alone = d.rng.chance(0.5);
  const sides = d.split(false);
  const dirs = new Map(live.filter((n) => n !== victim).map((n) => [sys.dataDir(n, k), n]));
  disks.armWrite(
    (dir) => dirs.has(dir),
    (dir) => {
      const n = dirs.get(dir)!;
      sprung(sys, d, 'split-at-confchg-write', {
        node: n.id,
        service: k,
      });
      if (alone) sys.partition([n.id]);
      else sys.partition(...sides);
    },
  );
  await sys.crash(victim, k);
  await untilSprung(sys, () => disks.writeTrapArmed);
  disks.disarmWrite();
}

async function splitAtProof(sys: SimSystem, d: MidStepDraws): Promise<void> {
  const k = d.kind();
  const live = await readyForADeath(sys, k);
  if (live.length === 0) return;
  const victim = pick(d.rng, live);
  const sides = d.split(false);
  sys.armTrap(
    (s, frame) => s.kind === k && frameKind(frame) === Kind.ack,
    (s) => {
      sprung(sys, d, 'split-at-proof', { node: s.node, service: k });
      sys.partition(...sides);
    },
  );
  await sys.crash(victim, k);
  await untilSprung(sys, () => sys.trapArmed);
  sys.disarm();
}

async function killDuringJoin(sys: SimSystem, d: MidStepDraws): Promise<void> {
  const k = d.kind();
  const up = sys.nodes.filter((n) => sys.cluster.isUp(n.id));
  const dead = up.filter((n) => sys.service(n, k)?.alive !== true);
  let joiner: SimNode;
  if (dead.length > 0) joiner = pick(d.rng, dead);
  else {
    if (up.length < 3) return;
    joiner = pick(d.rng, up);
    await sys.crash(joiner, k);
    await sys.cluster.advance(d.rng.int(300));
  }
  const others = liveOf(sys, k).filter((n) => n !== joiner);
  if (others.length === 0) return;
  const victim = pick(d.rng, others);
  sys.armTrap(
    (s, frame) => s.kind === k && frameKind(frame) === Kind.summary,
    (s) => {
      sprung(sys, d, 'kill-during-join', {
        node: s.node,
        service: k,
        joiner: joiner.id,
        killed: victim.id,
      });
      sys.kill(victim, k);
    },
  );
  await sys.open(joiner, k);
  await untilSprung(sys, () => sys.trapArmed);
  sys.disarm();
  await sys.reap();
}
