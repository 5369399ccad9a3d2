/**
 * Majority acknowledgement, driven: every replica of `Q` announces how far it applied (an
 * `ack`, at most once per turn of the event loop); the commit index is what a strict majority
 * of `Q` applied (acks.ts, pure); our own commands wait in `unacked` until it reaches them.
 * A replica in `durability: 'fsync'` acks once per disk write instead: while a write is on its
 * way, the ack waits for it and then says both what it applied and what its disk holds (one
 * agreed message per replica and batch rather than two; the commit index moves with the disks).
 * @module
 */
import { OutcomeUnknownError } from './errors.js';
import { Kind, jsonBody, type AckBody, type Frame } from './wire.js';
import { commitIndex } from './acks.js';
import { DiskProgress, type DiskWrite } from './durability.js';
import type { LocalReplica } from './local-replica.js';

/** The acks of one replica's round and its commit index. */
export class Acknowledgement<S, C, R> {
  /** Our own commands applied and waiting for a majority of `Q` to apply them, by index. */
  private unacked: { index: bigint; id: string; result: unknown }[] = [];
  /** What each replica of `Q` said it applied in this round (reset at every round start). */
  private readonly progress = new Map<string, bigint>();
  /** See `committed`. */
  private committedIndex = 0n;
  private ackScheduled = false;
  /** The scheduled ack follows a disk write: it goes out even if another write is queued. */
  private ackAfterWrite = false;
  /** Our state was replaced by a snapshot since the last quorate round we finished. */
  private replaced = false;
  /** What this replica's and the others' disks hold (`durability: 'fsync'`). */
  private readonly disk = new DiskProgress();

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
  ) {}

  /** Our state was loaded from disk at `index`. */
  loaded(index: bigint): void {
    this.disk.loaded(index);
  }

  /** A write of the state at `index` starts. */
  diskWriteStarts(index: bigint): DiskWrite {
    return this.disk.begin(index);
  }

  /**
   * The write `w` ended (`ok`: it is on disk): tell the others when someone waits for disks
   * (and, in 'fsync', what we applied meanwhile: the ack waited for the write), settle ours.
   */
  diskWritten(w: DiskWrite, ok: boolean): void {
    const moved = ok && this.disk.written(w);
    if (this.r.closed || !this.reportsDisk()) return;
    if (moved || this.fsync) this.schedule(true);
    if (moved) this.settleAcked();
  }

  /**
   * Our acks say what our disk holds (and we ack after each write) when someone waits for
   * disks: we run 'fsync', or heard a replica that does. Otherwise acks stay as they were, and
   * no message depends on when a write ends (seeded simulations replay exactly).
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
    if (this.unacked.length === 0) return;
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
    this.disk.roundStarted();
  }

  /** A snapshot replaced our state (our unacked commands' fate is unknown from now on). */
  stateReplaced(): void {
    this.replaced = true;
  }

  /** Raise (or, when the state was replaced, reset) the commit index; emits `commit`. */
  setCommitted(index: bigint, raise: boolean): void {
    if (!raise) this.disk.replaced(); // a snapshot: our disk holds another history
    if (raise ? index <= this.committedIndex : index === this.committedIndex) return;
    this.committedIndex = index;
    if (raise) this.r.events.emit({ type: 'commit', index });
  }

  /** The highest index that a strict majority of `Q` applied, as far as we heard this round. */
  commitIndex(): bigint {
    const r = this.r;
    return commitIndex(r.image.replicas, r.replica, r.image.index, this.progress);
  }

  /** An entry was applied: alone in `Q`, it is committed at once. */
  applied(): void {
    if (this.r.image.replicas.length <= 1) this.setCommitted(this.commitIndex(), true);
    this.schedule();
  }

  /** Our command applied at `index` with `result`: settle it now, or once a majority has it. */
  ownApplied(id: string, index: bigint, result: unknown): void {
    if (!this.majority || index <= this.ackedIndex()) this.r.settle(id, result, undefined);
    else this.unacked.push({ index, id, result });
  }

  /**
   * Replicas of `Q` announce what they applied, at most once per turn of the event loop; in
   * 'fsync', not while a disk write is on its way (`afterWrite`: this ack follows one).
   */
  schedule(afterWrite = false): void {
    const r = this.r;
    if (afterWrite) this.ackAfterWrite = true;
    if (this.ackScheduled || r.passive || !r.image.replicas.includes(r.replica)) return;
    this.ackScheduled = true;
    // 'fsync': decide after the turn's entries queued their write (entry-stream.ts plans it in
    // a microtask of its own, queued after this one), so that the write is seen on its way
    queueMicrotask(this.fsync ? () => queueMicrotask(this.sendAck) : this.sendAck);
  }

  private readonly sendAck = (): void => {
    const r = this.r;
    this.ackScheduled = false;
    const afterWrite = this.ackAfterWrite;
    this.ackAfterWrite = false;
    if (r.closed || r.round?.done !== true || !r.quorum.decided) return;
    // the write's end sends it (diskWritten), saying what its disk holds too
    if (this.fsync && !afterWrite && r.journal?.busy === true) return;
    const i = r.image.index.toString();
    const body = !this.reportsDisk()
      ? { i, r: r.replica }
      : { i, r: r.replica, d: this.disk.self.toString(), ...(this.fsync ? { f: 1 } : {}) };
    r.sendQuiet(r.frame(Kind.ack, jsonBody(body)));
  };

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
    if (i > (this.progress.get(b.r) ?? 0n)) {
      this.progress.set(b.r, i);
      this.setCommitted(this.commitIndex(), true);
    } else if (!durable) return;
    this.settleAcked();
  }

  /**
   * A quorate round finished with us in it: every member of the new `Q` holds the round's
   * state. If that is still our own (no snapshot replaced it since our commands were applied),
   * it holds them; otherwise we cannot tell.
   */
  settleUnacked(): void {
    // fsync: they wait on for a majority of the new `Q` to say that its disk holds them
    if ((this.fsync || this.disk.fsyncReplicas) && !this.replaced) return;
    const waiting = this.unacked;
    this.unacked = [];
    for (const u of waiting) {
      if (this.replaced)
        this.r.settle(
          u.id,
          undefined,
          new OutcomeUnknownError(
            "dispatch: the command was applied here, but a membership change replaced this replica's state before a majority confirmed it; read the state before retrying a command that is not idempotent",
          ),
        );
      else this.r.settle(u.id, u.result, undefined);
    }
    this.replaced = false;
  }
}
