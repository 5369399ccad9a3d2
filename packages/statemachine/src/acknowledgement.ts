/**
 * Majority acknowledgement, driven: every replica of `Q` announces how far it applied (an
 * `ack`, at most once per turn of the event loop); the commit index is what a strict majority
 * of `Q` applied (acks.ts, pure); our own commands wait in `unacked` until it reaches them.
 * @module
 */
import { OutcomeUnknownError } from './errors.js';
import { Kind, jsonBody, type AckBody, type Frame } from './wire.js';
import { commitIndex } from './acks.js';
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
  /** Our state was replaced by a snapshot since the last quorate round we finished. */
  private replaced = false;

  /**
   * @param majority - `acknowledge: 'majority'`: a dispatch waits for a majority of `Q`
   */
  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly majority: boolean,
  ) {}

  /** Every entry up to this index is applied by a strict majority of `Q`. */
  get committed(): bigint {
    return this.committedIndex;
  }

  /** A round starts: acks of the previous one no longer count. */
  roundStarted(): void {
    this.progress.clear();
  }

  /** A snapshot replaced our state (our unacked commands' fate is unknown from now on). */
  stateReplaced(): void {
    this.replaced = true;
  }

  /** Raise (or, when the state was replaced, reset) the commit index; emits `commit`. */
  setCommitted(index: bigint, raise: boolean): void {
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
    if (!this.majority || index <= this.commitIndex()) this.r.settle(id, result, undefined);
    else this.unacked.push({ index, id, result });
  }

  /** Replicas of `Q` announce what they applied, at most once per turn of the event loop. */
  schedule(): void {
    const r = this.r;
    if (this.ackScheduled || r.passive || !r.image.replicas.includes(r.replica)) return;
    this.ackScheduled = true;
    queueMicrotask(() => {
      this.ackScheduled = false;
      if (r.closed || r.round?.done !== true || !r.quorum.decided) return;
      r.sendQuiet(r.frame(Kind.ack, jsonBody({ i: r.image.index.toString(), r: r.replica })));
    });
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
    if (i <= (this.progress.get(b.r) ?? 0n)) return;
    this.progress.set(b.r, i);
    const commit = this.commitIndex();
    this.setCommitted(commit, true);
    while (this.unacked.length > 0 && this.unacked[0]!.index <= commit) {
      const u = this.unacked.shift()!;
      this.r.settle(u.id, u.result, undefined);
    }
  }

  /**
   * A quorate round finished with us in it: every member of the new `Q` holds the round's
   * state. If that is still our own (no snapshot replaced it since our commands were applied),
   * it holds them; otherwise we cannot tell.
   */
  settleUnacked(): void {
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
