/**
 * The sync decision: a pure function of the summaries delivered in a sync round. Every member
 * of a component receives the same summaries in the same order, so every member computes the
 * same decision at the same point of the agreed stream.
 *
 * ## The quorum rule
 * A component is quorate for a round if and only if
 * 1. every participant's summary says its node is quorate (its own quorum service view, sent
 *    after it saw this round's membership and totem ring), and
 * 2. the ring the round belongs to holds a strict majority of the cluster nodes the replicated
 *    state has seen in quorate rounds (`knownNodes`), when both are known.
 *
 * A round is keyed by (group members, totem ring id), so summaries sent before the sender saw
 * the latest membership or ring are dropped as stale. A member whose quorum view changes sends
 * a new summary; its delivery re-decides the round at one point of the stream for everyone.
 * Nothing is applied between rounds except in a component decided quorate.
 *
 * ## The sync leader
 * Among participants that hold state (not fresh, not dirty), those that were in the primary
 * (quorate, synced) component win; then the highest (epoch, index); ties go to non-passive
 * members, then the lowest (nodeid, pid). Everyone whose (epoch, index, digest) differs from the
 * leader's gets a snapshot. When nobody holds state, members allowed to bootstrap start from
 * the machine's initial state; when none is allowed (one-shot clients), the round has no state.
 * @module
 */

/** What a member says about its state in a sync round. */
export interface Summary {
  /** "nodeid:pid". */
  readonly key: string;
  readonly nodeid: number;
  readonly pid: number;
  readonly incarnation: string;
  /** The sender's summary counter (increases with every summary it sends). */
  readonly seq: number;
  readonly epoch: number;
  readonly index: bigint;
  readonly digest: string;
  /** In a quorate component, synced, right before this round. */
  readonly primary: boolean;
  /** Holds no state (never synced, nothing persisted). */
  readonly fresh: boolean;
  /** Its state failed a checksum: never a leader, always gets a snapshot. */
  readonly dirty: boolean;
  /** A short-lived client (never the timekeeper; never bootstraps). */
  readonly passive: boolean;
  /** May start from the initial state when nobody holds any. */
  readonly bootstrap: boolean;
  /** Its node's quorum as its quorum service last said. */
  readonly quorate: boolean;
  /** Nodes in the sender's totem ring (0: unknown). */
  readonly ringNodes: number;
  /** Nodes its state has seen in quorate rounds (0: none yet). */
  readonly knownNodes: number;
}

/** The outcome of a round. */
export interface Decision {
  readonly quorate: boolean;
  /**
   * `transfer`: the leader sends a snapshot to `targets`; `none`: everyone already holds the
   * leader's state; `bootstrap`: everyone starts from the initial state; `nostate`: nobody
   * holds state and nobody may bootstrap.
   */
  readonly mode: 'transfer' | 'none' | 'bootstrap' | 'nostate';
  readonly leader: Summary | undefined;
  /** Keys of the members that need the leader's snapshot. */
  readonly targets: readonly string[];
  /** Participants, sorted by (nodeid, pid). */
  readonly participants: readonly Summary[];
  /** The state epoch after the round. */
  readonly epoch: number;
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

/** Rule 1 and 2 of the quorum rule. `knownNodes` is the leader's (the state that wins). */
export function decideQuorate(participants: readonly Summary[], knownNodes: number): boolean {
  if (participants.length === 0) return false;
  let ring = Infinity;
  for (const s of participants) {
    if (!s.quorate) return false;
    if (s.ringNodes > 0) ring = Math.min(ring, s.ringNodes);
  }
  if (ring !== Infinity && knownNodes > 0 && ring * 2 <= knownNodes) return false;
  return true;
}

function newer(a: Summary, b: Summary): number {
  // >0 when a should lead rather than b
  if (a.primary !== b.primary) return a.primary ? 1 : -1;
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  if (a.index !== b.index) return a.index > b.index ? 1 : -1;
  if (a.passive !== b.passive) return a.passive ? -1 : 1;
  return -compareMembers(a, b);
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
  let candidates = participants.filter((s) => !s.fresh && !s.dirty);
  if (candidates.length === 0) candidates = participants.filter((s) => !s.fresh);
  const leader = pickLeader(candidates);
  const maxEpoch = participants.reduce((m, s) => Math.max(m, s.epoch), 0);
  if (leader === undefined) {
    const quorate = decideQuorate(participants, 0);
    const canBoot = participants.some((s) => s.bootstrap);
    return {
      quorate,
      mode: canBoot ? 'bootstrap' : 'nostate',
      leader: undefined,
      targets: [],
      participants,
      epoch: canBoot && quorate ? maxEpoch + 1 : maxEpoch,
    };
  }
  const quorate = decideQuorate(participants, leader.knownNodes);
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
  };
}

/**
 * Re-decide a round that was already decided, after a new summary from `changed` (its quorum
 * view flipped, it found its state dirty, or it spoke for the first time this round). Members
 * that were synced by the previous decision hold the component's current state, so their old
 * summaries need not be resent. Returns `undefined` when nothing changes.
 *
 * @param prev - the previous decision of this round
 * @param latest - the latest summary of every member that sent one this round
 * @param synced - keys of participants that hold the component's state now
 * @param knownNodes - the component's `knownNodes` (from its replicated state)
 */
export function decideIncremental(
  prev: Decision,
  latest: ReadonlyMap<string, Summary>,
  synced: ReadonlySet<string>,
  changed: string,
  knownNodes: number,
): Decision | undefined {
  const keys = new Set(prev.participants.map((p) => p.key));
  keys.add(changed);
  const participants = [...keys]
    .map((k) => latest.get(k))
    .filter((s): s is Summary => s !== undefined)
    .sort(compareMembers);
  if (prev.mode === 'nostate') return decideFull(participants);
  const holders = participants
    .filter((s) => synced.has(s.key) && !s.dirty)
    .sort((a, b) => (a.passive === b.passive ? compareMembers(a, b) : a.passive ? 1 : -1));
  const leader = holders[0];
  if (leader === undefined) return decideFull(participants);
  const quorate = decideQuorate(participants, knownNodes);
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
  };
}
