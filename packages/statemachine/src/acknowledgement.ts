/**
 * Majority acknowledgement, driven: every replica of `Q` announces how far it applied (an
 * `ack`, at most once per turn of the event loop); the commit index is what a strict majority
 * of `Q` applied (acks.ts, pure); our own commands wait in `unacked` until it reaches them.
 * A replica in `durability: 'fsync'` acks once per disk write instead: while a write is on its
 * way, the ack waits for it and then says both what it applied and what its disk holds (one
 * agreed message per replica and batch rather than two; the commit index moves with the disks).
 *
 * An ack that nobody needs is not sent (`ACK_DEFER_MS`): a replica of a `Q` of 3 or more that
 * applied only commands it need not ack at once since its last ack (its own; in a `Q` of 5 or
 * more, those of a writer it does not follow closely in node order: acks.ts `acksAtOnce`)
 * holds that ack back, and drops it once a strict majority of `Q` other than itself acked as
 * far in this round. Then every member already counts a strict majority of `Q` at that index (the others'
 * acks, which are points of the agreed stream, are all it needs), so the held-back ack would
 * only repeat it: one CPG message of four per write in a `Q` of 3 (the command and three
 * acks), three of eight in a `Q` of 7, each a `cpg_mcast_joined` round trip to the daemon for
 * its sender and a delivery for every member (bench/README.md has the counts). An ack still
 * says only what its sender applied; nobody is counted for what it did not say (the writer's
 * own delivery of its command is never inferred from its send). When acks report disks
 * ('fsync'), the others' acks cover ours only once their disks hold as far as ours says.
 * Whatever else it applied (a command `acksAtOnce` names it for, a tick, a retire, a round's
 * end: what proves that it holds `Q`) is acked at once. A held-back ack waits at most
 * `ACK_DEFER_MS` for the others: a replica that should have acked is down or slow, and the
 * commit index then moves that much later, never stops.
 *
 * Nothing commits in an epoch until it is proven (`Image.settled`): a strict majority of `Q`
 * acked in it (an ack leaves once its sender's disk holds the epoch, proof-gate.ts; we count
 * ourselves once ours does). Until then our commands wait, those of the previous epoch that the
 * round carried over too: the round's state in its participants' memories is not enough, since
 * a participant killed before its disk held the round forgets it (sync.ts on the sync leader).
 *
 * A little over 500 lines: one class whose timing of acks (schedule, hold back, send) and
 * counting of them (commit index, proof, settling) share one round's state; the pure parts are
 * in acks.ts, ack-order.ts, proof-gate.ts and durability.ts.
 * @module
 */
import type { TimerHandle } from '@cpgkit/core';
import { OutcomeUnknownError } from './errors.js';
import { Kind, type AckBody, type Frame } from './wire.js';
import { commitIndex } from './acks.js';
import { AckOrder } from './ack-order.js';
import { DiskProgress, type DiskWrite } from './durability.js';
import { ProofGate } from './proof-gate.js';
import { holdsMajority, sameList } from './sync.js';
import type { Image } from './image.js';
import type { LocalReplica } from './local-replica.js';

/**
 * Whether the replicas in `provers` (each acked the image's epoch once its disk held it) prove
 * that epoch: a strict majority of its `Q`, and a majority of the last proven `Q`
 * (`holdsMajority`, with its `gone`) when that is another set (sync.ts, "Changing `Q`").
 */
export function provedBy(
  provers: readonly string[],
  image: Pick<Image<unknown>, 'replicas' | 'provenReplicas' | 'provenGone'>,
): boolean {
  const here = new Set(provers);
  const q = image.replicas;
  if (q.filter((x) => here.has(x)).length * 2 <= q.length) return false;
  return (
    sameList(q, image.provenReplicas) || holdsMajority(here, image.provenReplicas, image.provenGone)
  );
}

/** A disk write on its way: its place in `DiskProgress`, and the image it writes. */
export interface JournalWrite<S> {
  readonly disk: DiskWrite;
  readonly image: Image<S>;
}

/**
 * How long a replica holds back an ack that covers only its own commands (see the module
 * comment), waiting for the other replicas of `Q` to ack as far, before it sends it anyway (a
 * replica of `Q` is down or slow: the others then learn the commit index from it, this late).
 */
export const ACK_DEFER_MS = 5;

/** The acks of one replica's round and its commit index. */
export class Acknowledgement<S, C, R> {
  /** Our own commands applied and waiting for a majority of `Q` to apply them, by index. */
  private unacked: { index: bigint; id: string; result: unknown }[] = [];
  /** What each replica of `Q` said it applied in this round (reset at every round start). */
  private readonly progress = new Map<string, bigint>();
  /** Who acks another writer's command at once (ack-order.ts). */
  private readonly order: AckOrder;
  /** See `committed`. */
  private committedIndex = 0n;
  private ackScheduled = false;
  /** The scheduled ack follows a disk write: it goes out even if another write is queued. */
  private ackAfterWrite = false;
  /** Our state was replaced by a snapshot since the last quorate round we finished. */
  private replaced = false;
  /**
   * The index of the state a quorate round ended with, while the round's epoch is not proven
   * yet: everything up to it commits once it is.
   */
  private roundEnd: bigint | undefined;
  /** What this replica's and the others' disks hold (`durability: 'fsync'`). */
  private readonly disk = new DiskProgress();
  /** No ack before our disk holds the epoch and `Q` it proves (proof-gate.ts). */
  private readonly proof: ProofGate<S, C, R>;
  /**
   * Since our last ack (sent, or dropped as covered) we applied something other than our own
   * commands, or a round ended: the next ack goes out at once.
   */
  private foreign = true;
  /** The index of the last entry that was not our own command (its disk must be reported). */
  private foreignAt = 0n;
  /** The disk index our last ack reported. */
  private reportedDisk = 0n;
  /** The index of an ack held back (see `ACK_DEFER_MS`), and since when (the clock's ms). */
  private deferred: bigint | undefined;
  private deferredDisk = 0n;
  private deferredAt = 0;
  private deferTimer: TimerHandle | undefined;

  /**
   * @param majority - `acknowledge: 'majority'`: a dispatch waits for a majority of `Q`
   * @param fsync - `durability: 'fsync'` on a replica: our commands wait for a majority's disks
   * @param persisting - we have a data directory (our disk counts)
   */
  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly majority: boolean,
    private readonly fsync = false,
    private readonly persisting = false,
  ) {
    this.proof = new ProofGate(r, persisting, () => {
      this.schedule();
      this.diskCaughtUp?.();
    });
    this.order = new AckOrder(r);
  }

  /** Waiting for the current epoch's proof (`whenProven`). */
  private provenWaiters: (() => void)[] = [];

  /**
   * Resolves once the current epoch is proven (at once if it is), or the replica stops. A
   * replica leaves `Q` (retire) only then, when it can: its ack may be what the proof needs
   * (a majority of the last proven `Q` too, sync.ts "Changing `Q`").
   */
  whenProven(): Promise<void> {
    const img = this.r.image;
    if (img.settled >= img.epoch || this.r.closed) return Promise.resolve();
    return new Promise((resolve) => this.provenWaiters.push(resolve));
  }

  private wakeProvenWaiters(): void {
    const waiting = this.provenWaiters;
    this.provenWaiters = [];
    for (const w of waiting) w();
  }

  /** Called when our disk came to hold the lineage after a wait (`diskHoldsLineage`). */
  diskCaughtUp: (() => void) | undefined;

  /**
   * Whether our disk holds the image's lineage (epoch, `Q`, `gone`), as every proof we give
   * needs: an ack, a summary. If not, a write is on its way and `diskCaughtUp` is
   * called once it ends (proof-gate.ts). Always true without a data directory.
   */
  diskHoldsLineage(): boolean {
    return this.proof.diskHoldsLineage();
  }

  /** Our state was loaded from disk. */
  loaded(image: Image<S>): void {
    this.disk.loaded(image.index);
    this.proof.loaded(image);
  }

  /** A write of `image` starts. */
  diskWriteStarts(image: Image<S>): JournalWrite<S> {
    this.proof.writeStarts(image);
    return { disk: this.disk.begin(image.index), image };
  }

  /**
   * The write `w` ended (`ok`: it is on disk): an ack that waited for it may go; tell the
   * others when someone waits for disks (and, in 'fsync', what we applied meanwhile: the ack
   * waited for the write), settle ours.
   */
  diskWritten(w: JournalWrite<S>, ok: boolean): void {
    const moved = ok && this.disk.written(w.disk);
    this.proof.written(w.image, ok);
    if (this.r.closed) return;
    if (ok) this.catchUp();
    if (!this.reportsDisk()) return;
    if (moved || this.fsync) this.schedule(true, false);
    if (moved) this.settleAcked();
  }

  /**
   * Our acks say what our disk holds (and we ack after each write) when someone waits for
   * disks: we run 'fsync', or heard a replica that does. Otherwise acks stay as they were: only
   * an ack waiting for the write of a new epoch or `Q` depends on when a write ends, and seeded
   * simulations are held meanwhile (proof-gate.ts), so they replay exactly.
   */
  private reportsDisk(): boolean {
    return this.persisting && (this.fsync || this.disk.fsyncReplicas);
  }

  /** Where our own commands are acknowledged: applied, or (fsync) on disk, by a majority. */
  private ackedIndex(): bigint {
    if (!this.fsync && !this.disk.fsyncReplicas) return this.commitIndex();
    const r = this.r;
    return this.disk.majorityIndex(r.image.replicas, r.replica, this.persisting);
  }

  /** Resolve our own commands up to `ackedIndex`. */
  private settleAcked(): void {
    if (this.unacked.length === 0 || !this.mayCommit()) return;
    const upTo = this.ackedIndex();
    while (this.unacked.length > 0 && this.unacked[0]!.index <= upTo) {
      const u = this.unacked.shift()!;
      this.r.settle(u.id, u.result, undefined);
    }
  }

  /** Every entry up to this index is applied by a strict majority of `Q`. */
  get committed(): bigint {
    return this.committedIndex;
  }

  /** A round starts: acks of the previous one no longer count. */
  roundStarted(): void {
    this.progress.clear();
    this.roundEnd = undefined;
    this.disk.roundStarted();
    // the round's end acks at once (it is what proves that we hold `Q`)
    this.dropDeferred();
    this.foreign = true;
  }

  /** Stop the timer of a held-back ack, and any wait for the disk (the replica closes). */
  stop(): void {
    this.proof.stop();
    this.wakeProvenWaiters();
    this.dropDeferred();
  }

  /** A snapshot replaced our state (our unacked commands' fate is unknown from now on). */
  stateReplaced(): void {
    this.replaced = true;
  }

  /**
   * Raise (or, when the state was replaced, reset) the commit index; emits `commit`. It is
   * raised only while commits may be counted (`mayCommit`).
   */
  setCommitted(index: bigint, raise: boolean): void {
    if (!raise)
      this.disk.replaced(); // a snapshot: our disk holds another history
    else if (!this.mayCommit()) return;
    if (raise ? index <= this.committedIndex : index === this.committedIndex) return;
    this.committedIndex = index;
    if (raise) this.r.events.emit({ type: 'commit', index });
  }

  /** The highest index that a strict majority of `Q` applied, as far as we heard this round. */
  commitIndex(): bigint {
    const r = this.r;
    return commitIndex(r.image.replicas, r.replica, r.image.index, this.progress);
  }

  /**
   * A command of the writer with `incarnation` (ours, or another replica's) was applied.
   * Acked at once where `acksAtOnce` says so (acks.ts: enough replicas of `Q` for a majority
   * without the others); otherwise the ack may be held back, as for our own commands (see the
   * module comment).
   */
  commandApplied(incarnation: string): void {
    this.schedule(false, incarnation !== this.r.incarnation && this.order.atOnce(incarnation));
  }

  /** An entry that is not our own command was applied: alone in `Q`, it is committed at once. */
  applied(): void {
    if (this.r.image.replicas.length <= 1) this.catchUp();
    this.schedule();
  }

  /** Our command applied at `index` with `result`: settle it now, or once a majority has it. */
  ownApplied(id: string, index: bigint, result: unknown): void {
    if (!this.majority || (this.mayCommit() && index <= this.ackedIndex()))
      this.r.settle(id, result, undefined);
    else this.unacked.push({ index, id, result });
  }

  /**
   * A quorate round finished with us in it, its state at `index`: that state commits once the
   * round's epoch is proven (see the module comment).
   */
  roundEnded(index: bigint): void {
    this.roundEnd = index;
    this.catchUp();
  }

  /** Whether commits may be counted now: the epoch is proven (`settled`). */
  private mayCommit(): boolean {
    const img = this.r.image;
    return img.settled >= img.epoch;
  }

  /**
   * Prove the epoch if a strict majority of `Q` acked in it (ourselves: once our disk holds
   * it); then commit what the round ended with and what a majority of `Q` applied since.
   */
  catchUp(): void {
    const r = this.r;
    if (r.closed || r.round?.done !== true || !r.quorum.decided) return;
    const img = r.image;
    if (img.settled < img.epoch) {
      const provers: string[] = [];
      for (const x of new Set([...img.replicas, ...img.provenReplicas])) {
        if (x === r.replica ? this.proof.holdsNow() : this.progress.has(x)) provers.push(x);
      }
      if (!provedBy(provers, img)) return;
      r.image = { ...img, settled: img.epoch, provenReplicas: img.replicas, provenGone: img.gone };
      if (r.tracing) r.log(`epoch ${img.epoch} proven by ${provers.join(' ')}`);
      r.persistReplicaSet();
      this.wakeProvenWaiters();
    }
    if (!this.mayCommit()) return;
    const end = this.roundEnd;
    if (end !== undefined) {
      this.roundEnd = undefined;
      this.setCommitted(end, true);
    }
    this.setCommitted(this.commitIndex(), true);
    this.settleAcked();
  }

  /**
   * Replicas of `Q` announce what they applied, at most once per turn of the event loop; in
   * 'fsync', not while a disk write is on its way (`afterWrite`: this ack follows one).
   * `foreign` (the default): something other than our own commands was applied (or a round
   * ended), so the ack goes out at once; false for our own command, or a disk write's end
   * (then the ack may be held back: see the module comment).
   */
  schedule(afterWrite = false, foreign = true): void {
    const r = this.r;
    if (afterWrite) this.ackAfterWrite = true;
    if (foreign) {
      this.foreign = true;
      this.foreignAt = r.image.index;
    }
    if (this.ackScheduled || r.passive || !this.proves()) return;
    this.ackScheduled = true;
    // 'fsync': decide after the turn's entries queued their write (entry-stream.ts plans it in
    // a microtask of its own, queued after this one), so that the write is seen on its way
    queueMicrotask(this.fsync ? () => queueMicrotask(this.sendAck) : this.sendAck);
  }

  /**
   * Our acks count: we are in `Q`, or (while the epoch is unproven) in its last proven `Q`,
   * whose majority the proof needs too (a replica that retired since acks before it leaves).
   */
  private proves(): boolean {
    const r = this.r;
    const img = r.image;
    return (
      img.replicas.includes(r.replica) ||
      (img.settled < img.epoch && img.provenReplicas.includes(r.replica))
    );
  }

  private readonly sendAck = (): void => {
    const r = this.r;
    this.ackScheduled = false;
    const afterWrite = this.ackAfterWrite;
    this.ackAfterWrite = false;
    if (r.closed || r.round?.done !== true || !r.quorum.decided) return;
    // the write's end sends it (diskWritten), saying what its disk holds too
    if (this.fsync && !afterWrite && r.journal?.busy === true) return;
    const disk = this.reportsDisk();
    // held back only if all it says is about our own commands: what we applied since our last
    // ack, and (when acks report disks) what our disk holds beyond the last ack's report
    if (
      !this.foreign &&
      r.image.replicas.length >= 3 &&
      (!disk || this.foreignAt <= this.reportedDisk)
    ) {
      this.defer(r.image.index, disk ? this.disk.self : 0n);
      return;
    }
    this.send();
  };

  /**
   * Send our ack now: what we applied (and, when someone waits for disks, what our disk holds);
   * unless our disk does not hold the epoch and `Q` it proves yet: then once the write ends.
   */
  private send(): void {
    const r = this.r;
    if (!this.proof.diskHoldsLineage()) return;
    this.foreign = false;
    this.dropDeferred();
    this.reportedDisk = this.disk.self;
    const i = r.image.index.toString();
    const body = !this.reportsDisk()
      ? { i, r: r.replica }
      : { i, r: r.replica, d: this.disk.self.toString(), ...(this.fsync ? { f: 1 } : {}) };
    // the JSON written straight into the message: one buffer and one copy per ack fewer
    r.sendQuiet(r.jsonFrame(Kind.ack, body));
  }

  /**
   * Hold back the ack of `index` (and of our disk at `disk`, when our acks report it) until
   * covered, or `ACK_DEFER_MS`.
   */
  private defer(index: bigint, disk: bigint): void {
    if (this.covered(index, disk)) {
      this.dropDeferred();
      return;
    }
    if (this.deferred === undefined) this.deferredAt = this.r.clock.now();
    this.deferred = index;
    this.deferredDisk = disk;
    if (this.deferTimer === undefined) this.armDeferTimer(ACK_DEFER_MS);
  }

  /**
   * Nothing is held back any more (covered, sent, or a round started): its timer goes too. A
   * lone writer's ack is covered a few ms after it was held back, at every write: a timer left
   * to fire for nothing was a wake-up of the writer's event loop per write at low rates (and
   * one per `ACK_DEFER_MS` at high ones), CPU taken from the replicas on a busy host.
   */
  private dropDeferred(): void {
    this.deferred = undefined;
    this.deferTimer?.cancel();
    this.deferTimer = undefined;
  }

  /** One timer for every held-back ack: it sends the oldest once it waited `ACK_DEFER_MS`. */
  private armDeferTimer(ms: number): void {
    this.deferTimer = this.r.clock.setTimeout(() => {
      this.deferTimer = undefined;
      const r = this.r;
      if (this.deferred === undefined || r.closed) return;
      const waited = r.clock.now() - this.deferredAt;
      if (waited < ACK_DEFER_MS) {
        this.armDeferTimer(ACK_DEFER_MS - waited);
        return;
      }
      if (r.round?.done !== true || !r.quorum.decided) {
        this.deferred = undefined;
        return;
      }
      this.send();
    }, ms);
  }

  /**
   * A strict majority of `Q` other than us acked `index` or more in this round (and said that
   * its disk holds `disk` or more): each member counts a strict majority of `Q` there without
   * us (those acks are points of the agreed stream: every member has them, or a round starts).
   */
  private covered(index: bigint, disk: bigint): boolean {
    const r = this.r;
    const q = r.image.replicas;
    let acked = 0;
    for (const x of q) {
      if (x === r.replica || (this.progress.get(x) ?? 0n) < index) continue;
      if (disk > 0n && !this.disk.heardAtLeast(x, disk)) continue;
      acked++;
    }
    return acked * 2 > q.length;
  }

  /** Whether an ack counts now: in a finished quorate round, of our epoch. */
  counts(f: Frame): boolean {
    const r = this.r;
    if (r.round?.done !== true || r.round.decision === undefined || !r.quorum.decided) return false;
    // an ack of another epoch was sent before the sender finished this lineage's last round
    return f.epoch === r.image.epoch;
  }

  /** An ack that counts (see `counts`): raise the commit index, settle what it reaches. */
  onAck(b: AckBody): void {
    const i = b.i;
    const durable = b.d !== undefined && this.disk.heardFrom(b.r, b.d, b.f === true);
    // a replica's first ack of the round counts even at index 0 (a new store's round end)
    const heard = this.progress.get(b.r);
    if (heard === undefined || i > heard) {
      this.progress.set(b.r, i);
      this.catchUp();
    } else if (!durable) return;
    // our held-back ack is covered: every member counts a majority without it
    if (this.deferred !== undefined && this.covered(this.deferred, this.deferredDisk))
      this.dropDeferred();
    this.settleAcked();
  }

  /**
   * A quorate round finished with us in it. If a snapshot replaced our state since our
   * commands were applied, we cannot tell whether the new state holds them: they fail as
   * unknown. Otherwise they wait on in `unacked`: they are in the round's state, which commits
   * once a majority of the new `Q` proved the round's epoch (`catchUp`) and acked it, in
   * 'fsync' once their disks hold it.
   */
  settleReplaced(): void {
    if (!this.replaced) return;
    const waiting = this.unacked;
    this.unacked = [];
    this.replaced = false;
    for (const u of waiting)
      this.r.settle(
        u.id,
        undefined,
        new OutcomeUnknownError(
          "dispatch: the command was applied here, but a membership change replaced this replica's state before a majority confirmed it; read the state before retrying a command that is not idempotent",
        ),
      );
  }
}
