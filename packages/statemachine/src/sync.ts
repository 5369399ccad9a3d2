/**
 * The sync decision: a pure function of the summaries delivered in a sync round. Every member
 * of a component receives the same summaries in the same order, so every member computes the
 * same decision at the same point of the agreed stream.
 *
 * ## The quorum rule (node quorum AND a majority of the replica set)
 * The replicated state carries `Q`, the replica ids of the state-holding, long-lived members
 * of the last quorate round (passive one-shot clients never count). A replica id is a uuid kept
 * in the member's data directory (so a restart with the same directory is the same replica),
 * or its incarnation when it has none. A round is quorate if and only if
 * 1. every participant's summary says its node is quorate (its own quorum service view, sent
 *    after it saw this round's membership and totem ring), and the ring holds a strict
 *    majority of the cluster nodes the state has seen in quorate rounds (`knownNodes`); and
 * 2. the participants that hold state (not fresh, not dirty) include a strict majority of the
 *    leader's `Q` (the `Q` of the newest state in the round), or exactly half of it while every
 *    other replica of that `Q` is in the leader's `gone` list (`holdsMajority`); and, while the
 *    leader's epoch is unproven, a majority of its last proven `Q` as well (`jointMajority`, see
 *    "Changing `Q`" below).
 *
 * When a round is quorate, `Q` becomes the replica ids of its non-passive participants (all of
 * them hold the state once the round ends) and `gone` is emptied. A member that closes
 * gracefully first sends a `retire` entry that removes it from `Q` in one agreed step, so
 * rolling restarts never lose the majority. A replica whose process died (`procdown`) or left
 * is never removed by its death: it is added to `gone` at the confchg of a quorate component
 * only if it proved (by an ack) that it holds the current `Q` (replica-set.ts, `dropDeparted`, for
 * the safety argument); a `nodedown` records nothing. Two components can never both be
 * quorate, and every quorate round contains a member that holds the newest state: any two
 * majorities of one `Q` intersect, and a member that took part in a quorate round carries its
 * new `Q` and higher epoch into every later round. That last step holds only for a member that
 * is not killed before its disk holds the round: one that is comes back with its disk's epoch
 * and `Q`, having forgotten the round (its summary waits for its disk, so by one round at most).
 * What keeps that safe is below (the sync leader: a proven state leads; changing `Q`: the
 * joint rule) and in acknowledgement.ts (an unproven epoch commits nothing).
 *
 * ## Changing `Q` (the joint rule)
 * A quorate round may move `Q` to a set whose majority is not a majority of the old `Q`: of
 * `Q` = {A, B, C, D, E}, A, B and C make a round, and `Q` becomes {A, B, C}, of which B and C
 * are a majority. Were that enough to prove the new epoch, a replica counted in the old
 * majority (A) killed before its disk held the round would come back with the old `Q` and vote
 * again, in a majority of the old `Q` with D and E that never saw the round: two lineages, both
 * proven, both committing (test/joint-quorum.test.ts). So, as in Raft's joint consensus, a
 * state whose epoch is unproven also carries `P`, the `Q` (and `gone`) of the newest proven
 * epoch of its lineage (`Image.provenReplicas`, `provenGone`; `lastProven`):
 * (a) an epoch is proven only by acks of a strict majority of its `Q` and a majority of its
 *     `P` (acknowledgement.ts `provedBy`; `gone` counts as in `holdsMajority`);
 * (b) a round is quorate only with a majority of the leader's `Q` and of its `P` (rule 2
 *     above), and a confchg bumps the epoch (or cuts a side off) by the same rule
 *     (replica-set.ts `keepsMajority`).
 * Once the epoch is proven, `P` is `Q` again. A round's new state keeps its leader's `P` (the
 * leader's `Q` if the leader's epoch was proven); a bootstrap and a forced round start `P` over
 * with `Q`; a snapshot carries its image's `P`; a retire leaves `P` as it is, and a replica in
 * `P` acks while the epoch is unproven (a closing replica of `Q` or `P` waits for the proof,
 * within `syncTimeout`, before it leaves: machine.ts `awaitProof`); a data directory written before `P` existed reads `P` = `Q`, as the
 * rules said then. The cost is the one of joint consensus: while an epoch is unproven, the
 * store needs a majority of both sets (a Q change is proven within a round trip of acks and a
 * disk write, unless replicas of `P` die or leave in that window).
 *
 * Why it is enough. A vote (a summary) says what its sender's disk holds, so a vote can count
 * twice only as a vote from the same parent state, for two rounds made from it: the round R
 * it was first counted in, forgotten by the voter's death, and a round R' after its restart.
 * Both are made from one parent, so both carry the same `P` (the parent's last proven `Q`).
 * R' needs a majority of `P` voting from the parent (b); R's proof needs a majority of `P`
 * acking R's epoch (a), each ack sent once its sender's disk held R. A replica in both sets
 * voted from the parent in R' and acked R: if it acked first, its disk held R, so its vote in
 * R' says R's epoch (R' gets a higher epoch and R's state, or a proven one, leads it); if it
 * voted first, it was in R''s component and not R's (a replica only acks a round it finished,
 * in that round's component, and a new component means a new round), having forgotten R, so
 * it never acks R. Either way R and a twin R' are never both proven, and once R is proven no
 * twin is ever quorate. An unproven line should not outrun a proven one either: every round
 * or epoch bump on it needs a majority of its `P` (b), which meets the provers of the proven
 * line, whose disks carry that line (its higher epoch, or the same epoch proven, leads: see the
 * sync leader). An epoch bump at a confchg, though, counts the members present, not what
 * their disks hold: of five, after two voters of a round forgot it at once (Jepsen
 * `kill-two-at-vote`, seed 9115), a bump on the unproven line counted a member that had
 * forgotten the round and moved the epoch past the same round's number made again, and
 * proven, by the ones that forgot it; that unproven state led the heal and acknowledged writes
 * were lost. So an unproven epoch is never bumped (replica-set.ts `bumpEpochIfMajority`: it
 * committed nothing, so no side has anything of it to lead with). Exactly half of a set with the rest `gone` is a majority of it for both rules:
 * those replicas proved (by an ack) that they hold that set's lineage, so they come back with
 * it and never make half of it without one of the present half. `force` overrides all of
 * this on purpose (the operator says the old majority is gone for good).
 *
 * A brand-new cluster (nobody holds state, nobody saw state) starts from the initial state in
 * its first node-quorate round. An operator whose majority of `Q` is gone for good can open a
 * member with `bootstrap: 'force'`: the first node-quorate round it takes part in is quorate
 * whatever `Q` says, and `Q` restarts from that round's members (never automatic).
 *
 * A round is keyed by (group members, totem ring id), so summaries sent before the sender saw
 * the latest membership or ring are dropped as stale. A member whose quorum view changes sends
 * a new summary; its delivery re-decides the round at one point of the stream for everyone.
 * Nothing is applied between rounds except in a component decided quorate.
 *
 * ## The sync leader
 * Among participants that hold state (not fresh, not dirty): the highest (epoch, proven, index);
 * then those that were in the primary (quorate, synced) component; then non-passive members;
 * then the lowest (nodeid, pid). A quorate round's epoch is one more than every participant's,
 * so the newest quorate line always has the highest epoch, with one exception that `proven`
 * (`Summary.settled`) is for: a replica killed after its summary counted in a quorate round
 * but before its disk held the round's epoch comes back with the older epoch of its disk, and
 * a round it then makes with replicas of its disk's `Q` gets the forgotten round's epoch
 * again. The forgotten round was never proven (its acks wait for the disk, proof-gate.ts; its
 * proof needed a majority of its `P`, which meets the new round's voters: see "Changing `Q`"),
 * so nothing committed in it (acknowledgement.ts); the new one is proven before it commits
 * anything, and leads. Everyone whose (index, digest) differs
 * from the leader's gets a snapshot. When nobody holds state, a node-quorate round where a
 * member may bootstrap starts from the machine's initial state; otherwise the round has no
 * state.
 * @module
 */

import type { ReplicaLineage } from './image.js';

/** What a member says about its state in a sync round. */
export interface Summary {
  /** "nodeid:pid". */
  readonly key: string;
  readonly nodeid: number;
  readonly pid: number;
  readonly incarnation: string;
  /** The sender's replica id (persisted uuid with a data directory, else its incarnation). */
  readonly replica: string;
  /** The sender's summary counter (increases with every summary it sends). */
  readonly seq: number;
  readonly epoch: number;
  /**
   * A strict majority of its state's `Q` proved that state's epoch (`Image.settled` reached
   * `epoch`). Of two states of one epoch, a proven one leads: the other is a round's that a
   * replica killed before its disk held it forgot (see "The sync leader" above).
   */
  readonly settled: boolean;
  readonly index: bigint;
  readonly digest: string;
  /** In a quorate component, synced, right before this round. */
  readonly primary: boolean;
  /** Holds no state (never synced, nothing persisted). */
  readonly fresh: boolean;
  /** Its state failed a checksum: never a leader, always gets a snapshot. */
  readonly dirty: boolean;
  /** A short-lived client (never the timekeeper; never bootstraps; never in `Q`). */
  readonly passive: boolean;
  /** May start from the initial state when nobody holds any. */
  readonly bootstrap: boolean;
  /** The operator forces this member's round quorate (`bootstrap: 'force'`). */
  readonly force: boolean;
  /** Its node's quorum as its quorum service last said. */
  readonly quorate: boolean;
  /** Nodes in the sender's totem ring (0: unknown). */
  readonly ringNodes: number;
  /** Nodes its state has seen in quorate rounds (0: none yet). */
  readonly knownNodes: number;
  /** `Q` of its state: the replica set of its last quorate round (empty when fresh). */
  readonly replicas: readonly string[];
  /** Replicas of that `Q` that died or left after proving they hold it (see `Image.gone`). */
  readonly gone: readonly string[];
  /**
   * `Q` of the newest proven epoch of its state: `replicas` when `settled`, else
   * `Image.provenReplicas` (empty when fresh). A round is quorate only with a strict majority
   * of it too (see "Changing `Q`" above).
   */
  readonly provenReplicas: readonly string[];
  /** The `gone` list that goes with `provenReplicas`. */
  readonly provenGone: readonly string[];
  /** The sender's wall clock (ms) when it sent the summary. */
  readonly time: number;
}

/** The outcome of a round. */
export interface Decision {
  readonly quorate: boolean;
  /**
   * `transfer`: the leader sends a snapshot to `targets`; `none`: everyone already holds the
   * leader's state; `bootstrap`: everyone starts from the initial state; `nostate`: nobody
   * holds state and the round may not start one.
   */
  readonly mode: 'transfer' | 'none' | 'bootstrap' | 'nostate';
  readonly leader: Summary | undefined;
  /** Keys of the members that need the leader's snapshot. */
  readonly targets: readonly string[];
  /** Participants, sorted by (nodeid, pid). */
  readonly participants: readonly Summary[];
  /** The state epoch after the round. */
  readonly epoch: number;
  /**
   * `Q` after the round: the non-passive participants' replica ids when quorate, else the
   * leader's `Q` unchanged.
   */
  readonly replicas: readonly string[];
  /**
   * `Q` of the newest proven epoch of the state after the round, and its `gone`: the leader's
   * (`lastProven`), or the new `Q` after a bootstrap or a forced round. While the round's
   * epoch is unproven, a later round and the epoch's proof need a strict majority of it too.
   */
  readonly provenReplicas: readonly string[];
  readonly provenGone: readonly string[];
  /** Quorate only because a member forces it (`bootstrap: 'force'`). */
  readonly forced: boolean;
  /**
   * The latest wall time among the participants' summaries: the replicated time of the
   * round's membership step is at least this (so that grants made at a membership change are
   * not dated before what the members' clocks said).
   */
  readonly time: number;
}

/** Order members by (nodeid, pid). */
export function compareMembers(
  a: { nodeid: number; pid: number },
  b: { nodeid: number; pid: number },
): number {
  return a.nodeid - b.nodeid || a.pid - b.pid;
}

/** The member key "nodeid:pid". */
export function memberKey(m: { nodeid: number; pid: number }): string {
  return `${m.nodeid}:${m.pid}`;
}

/**
 * The ring holds a strict majority of `knownNodes` (the nodes the winning state has seen in
 * quorate rounds), as every participant's ring view says.
 */
function ringMajority(participants: readonly Summary[], knownNodes: number): boolean {
  let ring = Infinity;
  for (const s of participants) if (s.ringNodes > 0) ring = Math.min(ring, s.ringNodes);
  return !(ring !== Infinity && knownNodes > 0 && ring * 2 <= knownNodes);
}

/**
 * The strict form of rule 1, for a bootstrap and for `force`: every participant's node is
 * quorate, and the ring holds a strict majority of `knownNodes`.
 */
export function decideQuorate(participants: readonly Summary[], knownNodes: number): boolean {
  if (participants.length === 0) return false;
  return participants.every((s) => s.quorate) && ringMajority(participants, knownNodes);
}

/**
 * The quorum rule for a component with state. Rule 1: the ring holds a strict majority of
 * `knownNodes`. Rule 2: the holders (of `counted`) whose node is quorate include a strict
 * majority of `q` and of the last proven `Q` (`jointMajority`), and there is at least one.
 *
 * A holder whose node says no quorum is not counted, but does not veto: libquorum's event
 * comes on a connection of its own, unordered with CPG's, so at a merge a member that was cut
 * off often speaks before its node has caught up. Vetoing would turn the quorate side into a
 * minority for a moment (its leaders and lock holders lose their grants for nothing). A
 * member whose node is in a minority component is never in the same CPG component as a
 * quorate majority of `Q` for longer than that, and it applies nothing the others do not.
 */
export function quorateWith(
  participants: readonly Summary[],
  counted: readonly Summary[],
  knownNodes: number,
  q: readonly string[],
  gone: readonly string[] = [],
  proven: ReplicaLineage = { replicas: q, gone },
): boolean {
  const voters = counted.filter((s) => s.quorate);
  return (
    voters.length > 0 &&
    ringMajority(participants, knownNodes) &&
    jointMajority(
      voters.map((s) => s.replica),
      { replicas: q, gone },
      proven,
    )
  );
}

/**
 * `present` holds a majority (`holdsMajority`) of `current` and of `proven`, the `Q` (and
 * `gone`) of the newest proven epoch of the lineage: the joint rule (see "Changing `Q`" above).
 */
export function jointMajority(
  present: Iterable<string>,
  current: ReplicaLineage,
  proven: ReplicaLineage,
): boolean {
  const here = [...present];
  if (!holdsMajority(here, current.replicas, current.gone)) return false;
  if (sameList(current.replicas, proven.replicas) && sameList(current.gone, proven.gone))
    return true;
  return holdsMajority(here, proven.replicas, proven.gone);
}

/** The last proven `Q` of a summary's state (`Summary.provenReplicas`). */
function provenOf(s: Summary): ReplicaLineage {
  return { replicas: s.provenReplicas, gone: s.provenGone };
}

/** The same replica ids in the same order. */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/**
 * Rule 2 of the quorum rule: `present` (replica ids) includes a strict majority of `q`, or
 * exactly half of it while every other replica of `q` is `gone` (its process died or left
 * after proving it holds this `q`: it comes back with this `q`, so the other half can never
 * be a majority of it without one of `present`, whose state is newer). An empty `q` (a state
 * persisted before replica sets existed) leaves the decision to rule 1.
 */
export function holdsMajority(
  present: Iterable<string>,
  q: readonly string[],
  gone: readonly string[] = [],
): boolean {
  if (q.length === 0) return true;
  const here = new Set(present);
  let n = 0;
  for (const r of q) if (here.has(r)) n++;
  if (n * 2 > q.length) return true;
  if (n * 2 < q.length || n === 0) return false;
  const dead = new Set(gone);
  return q.every((r) => here.has(r) || dead.has(r));
}

/** `Q` after a quorate round: the sorted, distinct replica ids of non-passive participants. */
export function replicaSet(participants: readonly Summary[]): string[] {
  return [...new Set(participants.filter((s) => !s.passive).map((s) => s.replica))].sort();
}

function newer(a: Summary, b: Summary): number {
  // >0 when a should lead rather than b
  const state = newerState(a, b);
  if (state !== 0) return state;
  if (a.primary !== b.primary) return a.primary ? 1 : -1;
  if (a.passive !== b.passive) return a.passive ? -1 : 1;
  return -compareMembers(a, b);
}

/** >0 when `a`'s state is newer than `b`'s: the higher epoch, then proven, then index. */
export function newerState(
  a: Pick<Summary, 'epoch' | 'settled' | 'index'>,
  b: Pick<Summary, 'epoch' | 'settled' | 'index'>,
): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  if (a.settled !== b.settled) return a.settled ? 1 : -1;
  if (a.index !== b.index) return a.index > b.index ? 1 : -1;
  return 0;
}

/** Pick the sync leader among `candidates`; `undefined` when empty. */
export function pickLeader(candidates: readonly Summary[]): Summary | undefined {
  let best: Summary | undefined;
  for (const s of candidates) if (best === undefined || newer(s, best) > 0) best = s;
  return best;
}

function sameState(a: Summary, b: Summary): boolean {
  return !a.fresh && !a.dirty && a.index === b.index && a.digest === b.digest;
}

/** A full decision over all participants' summaries (after a membership or ring change). */
export function decideFull(summaries: readonly Summary[]): Decision {
  const participants = [...summaries].sort(compareMembers);
  const holders = participants.filter((s) => !s.fresh && !s.dirty);
  const candidates = holders.length > 0 ? holders : participants.filter((s) => !s.fresh);
  const leader = pickLeader(candidates);
  const maxEpoch = participants.reduce((m, s) => Math.max(m, s.epoch), 0);
  if (leader === undefined) {
    const forced = participants.some((s) => s.force);
    const canBoot = forced || participants.some((s) => s.bootstrap);
    const quorate = canBoot && decideQuorate(participants, 0);
    return {
      quorate,
      mode: quorate ? 'bootstrap' : 'nostate',
      leader: undefined,
      targets: [],
      participants,
      epoch: quorate ? maxEpoch + 1 : maxEpoch,
      replicas: quorate ? replicaSet(participants) : [],
      provenReplicas: quorate ? replicaSet(participants) : [],
      provenGone: [],
      forced: quorate && forced,
      time: latestTime(participants),
    };
  }
  const majority = quorateWith(
    participants,
    holders,
    leader.knownNodes,
    leader.replicas,
    leader.gone,
    provenOf(leader),
  );
  const forced =
    !majority &&
    participants.some((s) => s.force) &&
    decideQuorate(participants, leader.knownNodes);
  const quorate = majority || forced;
  const targets = participants
    .filter((s) => s.key !== leader.key && !sameState(s, leader))
    .map((s) => s.key);
  return {
    quorate,
    mode: targets.length > 0 ? 'transfer' : 'none',
    leader,
    targets,
    participants,
    epoch: quorate ? maxEpoch + 1 : leader.epoch,
    replicas: quorate ? replicaSet(participants) : leader.replicas,
    // a forced round starts `Q` over: the old one's majority is gone for good
    provenReplicas: forced ? replicaSet(participants) : leader.provenReplicas,
    provenGone: forced ? [] : leader.provenGone,
    forced,
    time: latestTime(participants),
  };
}

/**
 * Re-decide a round that was already decided, after a new summary from `changed` (its quorum
 * view flipped, it found its state dirty, or it spoke for the first time this round). Members
 * that were synced by the previous decision hold the component's current state, so their old
 * summaries need not be resent. Returns `undefined` when nothing changes, and `'restart'` when
 * `changed` is a late speaker whose state is newer than the one the round went on from: then
 * every member starts the round's decision over (fresh summaries from everyone), so that the
 * newer state is never overwritten.
 *
 * @param prev - the previous decision of this round
 * @param latest - the latest summary of every member that sent one this round
 * @param synced - keys of participants that hold the component's state now
 * @param changed - the key of the member whose summary arrived
 * @param knownNodes - the component's `knownNodes` (from its replicated state)
 * @param q - the component's `Q` (from its replicated state)
 * @param gone - the component's departed replicas of `Q` (from its replicated state)
 * @param proven - the component's last proven `Q` and its `gone` (from the previous decision)
 */
export function decideIncremental(
  prev: Decision,
  latest: ReadonlyMap<string, Summary>,
  synced: ReadonlySet<string>,
  changed: string,
  knownNodes: number,
  q: readonly string[],
  gone: readonly string[] = [],
  proven: ReplicaLineage = { replicas: q, gone },
): Decision | 'restart' | undefined {
  const keys = new Set(prev.participants.map((p) => p.key));
  keys.add(changed);
  const participants = [...keys]
    .map((k) => latest.get(k))
    .filter((s): s is Summary => s !== undefined)
    .sort(compareMembers);
  if (prev.mode === 'nostate') return decideFull(participants);
  const late = latest.get(changed);
  if (late !== undefined && !synced.has(changed) && !late.fresh && !late.dirty) {
    const base = prev.leader;
    if (base === undefined || newerState(late, base) > 0) return 'restart';
  }
  const holders = participants
    .filter((s) => synced.has(s.key) && !s.dirty)
    .sort((a, b) => (a.passive === b.passive ? compareMembers(a, b) : a.passive ? 1 : -1));
  const leader = holders[0];
  if (leader === undefined) return decideFull(participants);
  // Members synced by this round hold the component's state, a dirty one included: it is
  // here (not in another component), and the others hold what it knew. A late speaker that
  // holds state counts as in `decideFull`: it is here, and its state is not newer.
  const majority = quorateWith(
    participants,
    participants.filter((s) => synced.has(s.key) || (!s.fresh && !s.dirty)),
    knownNodes,
    q,
    gone,
    proven,
  );
  const forced =
    !majority && participants.some((s) => s.force) && decideQuorate(participants, knownNodes);
  const quorate = majority || forced;
  const targets = participants
    .filter((s) => !synced.has(s.key) || s.dirty)
    .map((s) => s.key)
    .filter((k) => k !== leader.key);
  if (
    quorate === prev.quorate &&
    targets.length === 0 &&
    participants.length === prev.participants.length
  ) {
    return undefined;
  }
  return {
    quorate,
    mode: targets.length > 0 ? 'transfer' : 'none',
    leader,
    targets,
    participants,
    epoch: quorate ? prev.epoch + 1 : prev.epoch,
    replicas: quorate ? replicaSet(participants) : q,
    provenReplicas: forced ? replicaSet(participants) : proven.replicas,
    provenGone: forced ? [] : proven.gone,
    forced,
    time: latestTime(participants),
  };
}

function latestTime(participants: readonly Summary[]): number {
  let t = 0;
  for (const s of participants) if (s.time > t) t = s.time;
  return t;
}
