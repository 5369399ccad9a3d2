/**
 * The replica set `Q` between rounds: what a confchg does to it (a side cut off from a
 * majority of `Q` says so at once; departed replicas that proved they hold `Q` are recorded
 * as `gone`; a side that keeps a majority bumps its epoch) and a graceful `retire`. The pure
 * rules are the exported functions; `ReplicaSet` drives them on one replica. A quorate round
 * resets `Q` (sync.ts decides it, sync-round.ts applies it).
 * @module
 */
import type { MembershipEvent } from '@cpgkit/core';
import { jointMajority, memberKey, type Decision } from './sync.js';
import { lastProven, type Image } from './image.js';
import type { AckBody, Frame, RetireBody } from './wire.js';
import type { LocalReplica } from './local-replica.js';

/** Where the quorate lineage stands, as the rules below need it. */
export interface Lineage {
  /** Our state is the quorate component's (see `ReplicaSet.inQuorateLineage`). */
  readonly quorate: boolean;
  /** Our replica id and those of the last quorate round's peers still in every view. */
  readonly staying: readonly string[];
}

/**
 * What a confchg does to the `cutOff` flag: `'clear'` when members joined (the round that
 * follows decides), `'cut'` when nodes went down and the replicas left (`staying`) hold no
 * strict majority of `Q`, else `'keep'`.
 * @param primary - our state is the quorate component's (synced by our last round, quorate)
 */
export function cutOffBy(
  e: Pick<MembershipEvent, 'joined' | 'left'>,
  primary: boolean,
  image: LineageMeta,
  staying: readonly string[],
): 'clear' | 'cut' | 'keep' {
  if (e.joined.length > 0) return 'clear';
  if (!primary || image.replicas.length === 0 || !e.left.some((l) => l.reason === 'nodedown'))
    return 'keep';
  return keepsMajority(staying, image) ? 'keep' : 'cut';
}

/** The image fields the majority rule reads: `Q`, `gone` and the last proven `Q`. */
export type LineageMeta = Pick<
  Image<unknown>,
  'epoch' | 'settled' | 'replicas' | 'gone' | 'provenReplicas' | 'provenGone'
>;

/**
 * `present` holds a majority of the image's `Q` and, while its epoch is unproven, of the last
 * proven `Q` (sync.ts `jointMajority`).
 */
export function keepsMajority(present: readonly string[], image: LineageMeta): boolean {
  return jointMajority(present, image, lastProven(image));
}

/**
 * The replicas to add to `gone` at a confchg: those of `departed` that left for good
 * (`procdown` or `leave`, never `nodedown`: a partition looks the same), proved they hold the
 * current `Q`, are still in `Q`, not already gone, and not also among the peers that stay.
 */
export function departedGone(
  departed: readonly { replica: string; reason: string | undefined; proven: boolean }[],
  inQuorateLineage: boolean,
  image: Pick<Image<unknown>, 'replicas' | 'gone'>,
  staying: ReadonlySet<string>,
): string[] {
  if (!inQuorateLineage) return [];
  return departed
    .filter((d) => d.proven && (d.reason === 'procdown' || d.reason === 'leave'))
    .map((d) => d.replica)
    .filter((r) => !staying.has(r) && image.replicas.includes(r) && !image.gone.includes(r));
}

/**
 * The image after replica `r` retires: `Q` without it (never empty), and the index moved by
 * one, so that a state with the newer `Q` always leads a round over one with the older `Q`
 * (sync.ts picks the highest (epoch, index)). The last proven `Q` keeps it: while the epoch is
 * unproven, the retiring replica's ack may be one its proof needs, and it acks before it
 * leaves (machine.ts `awaitProof`). `undefined` when nothing changes.
 */
export function retired<S>(image: Image<S>, r: string): Image<S> | undefined {
  const q = image.replicas;
  if (!q.includes(r) || q.length <= 1) return undefined;
  return {
    ...image,
    index: image.index + 1n,
    replicas: q.filter((x) => x !== r),
    gone: image.gone.filter((x) => x !== r),
  };
}

/** One replica's view of `Q`'s lineage between rounds. */
export class ReplicaSet<S, C, R> {
  /** Our state is the quorate component's, synced by its last finished round. */
  private isPrimary = false;
  /**
   * The participants of the last quorate round we finished (key -> replica id) that have been
   * in every view since: they delivered the same agreed stream as we did since that round.
   */
  private readonly quoratePeers = new Map<string, string>();
  /**
   * The index at which `Q` last changed in this lineage (a quorate round finished, a retire):
   * a replica whose ack in this round reaches it has proven that it holds the current `Q`.
   */
  private qIndex = 0n;
  /**
   * Replicas of `Q` that acked an index at or above `qIndex`: they hold the current `Q`.
   * Cleared when `Q` changes; kept across rounds and confchgs while `Q` stays.
   */
  private readonly proven = new Set<string>();

  constructor(private readonly r: LocalReplica<S, C, R>) {}

  /** Our state is the quorate component's (what a summary says as `primary`). */
  get primary(): boolean {
    return this.isPrimary;
  }

  /** We lost the quorate lineage: left out of a round, or our state is being replaced. */
  leaveLineage(): void {
    this.isPrimary = false;
  }

  /**
   * A round finished with us in it: its participants are our peers when it was quorate, and
   * (then) `Q` changed at the current index.
   */
  roundFinished(d: Decision): void {
    const r = this.r;
    this.isPrimary = d.quorate && r.hasState;
    this.quoratePeers.clear();
    if (this.isPrimary) for (const p of d.participants) this.quoratePeers.set(p.key, p.replica);
  }

  /** `Q` changed at `index` (a quorate round, a retire): no replica proved it holds it yet. */
  qChanged(index: bigint): void {
    this.qIndex = index;
    this.proven.clear();
  }

  /** An ack that counts: a replica that acked at or past the change of `Q` holds it. */
  noteAck(b: AckBody): void {
    if (b.i >= this.qIndex) this.proven.add(b.r);
  }

  /** Our state is the quorate component's: the last round we finished, and the current one if decided, were quorate. */
  inQuorateLineage(): boolean {
    const r = this.r;
    const d = r.round?.decision;
    return this.isPrimary && r.hasState && !r.dirty && (d === undefined || d.quorate);
  }

  /**
   * A confchg (before its round starts): record departed replicas that proved they hold `Q`
   * as gone, say `minority` at once if cut off from a majority of `Q`, bump the epoch if we
   * keep one. The confchg and the acks are points of the agreed stream, and every member of a
   * lineage holds the same image, `primary` and peers there, so all do the same.
   */
  onMembership(e: MembershipEvent): void {
    this.dropDeparted(e);
    this.noteCutOff(e);
    this.bumpEpochIfMajority(e);
  }

  /**
   * A replica of `Q` whose process is gone for good (`procdown`: it died while its node stayed
   * in the ring; or `leave`) is recorded in `gone` at the confchg that announces it, if it
   * proved that it holds the current `Q`: its ack of this round, of this epoch, reaches the
   * index at which `Q` last changed (`qIndex`).
   *
   * `gone` lets a component that holds exactly half of `Q` stay quorate when the other half
   * is gone (sync.ts, `holdsMajority`): those replicas come back with this `Q`, and can then
   * never be a majority of it without one of the present half, whose state is newer. So two
   * replicas of three survive the death of one, and the last of two survives the death of
   * the other; a replica that died without proving it holds the current `Q` (two processes
   * killed at once: the second is still listed when the first one's confchg comes, and never
   * acks the round that follows) counts as a live member of another component. Only the
   * quorate lineage's peers (in every view since our last quorate round) are considered.
   * `gone` is part of the replicated image (its digest covers it) and is cleared by every
   * quorate round.
   */
  private dropDeparted(e: MembershipEvent): void {
    const peers = this.quoratePeers;
    if (peers.size === 0) return;
    const now = new Set(e.members.map(memberKey));
    const departed: { replica: string; reason: string | undefined; proven: boolean }[] = [];
    for (const [k, replica] of peers) {
      if (now.has(k)) continue;
      peers.delete(k);
      const reason = e.left.find((l) => memberKey(l) === k)?.reason;
      departed.push({ replica, reason, proven: this.proven.has(replica) });
    }
    if (departed.length === 0) return;
    const r = this.r;
    const add = departedGone(departed, this.inQuorateLineage(), r.image, new Set(peers.values()));
    if (add.length === 0) return;
    r.log(`departed replicas ${add.join(' ')} proved they hold Q: recorded as gone`);
    r.image = { ...r.image, gone: [...r.image.gone, ...add].sort() };
  }

  /**
   * A member of a quorate component that sees nodes go down and keeps no strict majority of
   * `Q` among its peers is in a minority from this confchg on: it says so at once (status
   * `minority`, dispatch refused) rather than after its sync round or its node's quorum event,
   * since the other side may be deciding a quorate round already. The next decision settles it.
   */
  private noteCutOff(e: MembershipEvent): void {
    const r = this.r;
    const staying = [r.replica, ...this.quoratePeers.values()];
    const what = cutOffBy(e, this.isPrimary, r.image, staying);
    if (what === 'clear') {
      r.quorum.cutOff = false;
      r.refresh();
    }
    if (what !== 'cut') return;
    const q = r.image.replicas;
    const here = new Set(staying);
    const n = q.filter((x) => here.has(x)).length;
    r.quorum.cutOff = true;
    r.refresh();
    r.log(`cut off: the members left hold ${n} of the ${q.length} replicas of Q`);
  }

  /**
   * At a confchg where members left, a member of the quorate lineage that keeps a majority of
   * `Q` among its peers moves its epoch up, before the round's summaries. At a partition, CPG
   * may deliver a message in flight on its sender's side only, so every side can apply entries
   * that the others never see, at the same epoch. A side that applied an entry that a majority
   * of `Q` acknowledged is the side that holds that majority: its members (and only they)
   * bump the epoch here, so their state leads every later round over any other side's, whatever
   * the indexes (sync.ts picks the highest (epoch, index)).
   */
  private bumpEpochIfMajority(e: MembershipEvent): void {
    const r = this.r;
    if (e.left.length === 0 || r.quorum.cutOff || !this.inQuorateLineage()) return;
    // An unproven epoch committed nothing (acknowledgement.ts): no side has an acknowledged
    // entry of it to keep, so there is nothing to lead with. And the bump counts the members
    // present, not what their disks hold: one that forgot the round (killed before its disk
    // held it) would count, and the unproven line would move past the same round's number made
    // again, and proven, by the ones that forgot it (Jepsen kill-two-at-vote, seed 9115).
    if (r.image.settled < r.image.epoch) return;
    const staying = [r.replica, ...this.quoratePeers.values()];
    if (!keepsMajority(staying, r.image)) return;
    // the bumped epoch is unproven: keep the last proven `Q` (this one, if it was proven)
    const proven = lastProven(r.image);
    r.image = {
      ...r.image,
      epoch: r.image.epoch + 1,
      provenReplicas: proven.replicas,
      provenGone: proven.gone,
    };
    r.persistReplicaSet();
  }

  /**
   * A member retires from `Q` (it is closing gracefully). Identical on every member: the same
   * entry at the same point of a quorate component's stream. `Q` never becomes empty. No
   * user-visible change, but the index moves (see `retired`) and the digest covers `Q`.
   * @returns whether `Q` changed
   */
  applyRetire(f: Frame, b: RetireBody): boolean {
    const r = this.r;
    const next = retired(r.image, b.r);
    if (next !== undefined) {
      r.image = next;
      this.qChanged(next.index);
      r.log(`replica ${b.r} retired; Q has ${next.replicas.length}`);
      r.persistReplicaSet();
    }
    r.settleOwn(f, undefined, undefined);
    return next !== undefined;
  }
}
