/**
 * An ack is a proof: of the epoch it carries, and (at or past the index where `Q` last
 * changed) of holding the current `Q`. The others count it in majorities of that `Q` and in the
 * `gone` rule (replica-set.ts). So a persisting replica sends no ack until its disk holds the
 * image's lineage (epoch, `Q`, `gone`): otherwise, killed before the write lands, it would
 * restart with the older, larger `Q` of its disk and, with replicas cut off before the change,
 * count as a majority of that stale `Q` (two histories). Every quorate round moves the epoch,
 * so each round's end waits for one write (and a retire, an epoch moved at a confchg, a
 * snapshot received, for theirs); between rounds the lineage stays and acks go at once.
 *
 * A replica counts itself among the provers of an epoch (acknowledgement.ts) only once its
 * disk holds it too (`holdsNow`): counting itself before would be the same mistake.
 *
 * While an ack waits for a write, a seeded simulation is held (`Clock.hold`): the write takes
 * no virtual time, so the ack goes out at the same point of the agreed stream whether the
 * write ended long before or just now, and runs replay exactly. A failed write releases it
 * (the journal retries; the ack goes once a write succeeds); so does a replica closing.
 * @module
 */
import type { Image } from './image.js';
import type { LocalReplica } from './local-replica.js';
import { sameList } from './sync.js';

/** The lineage of an image: what an ack proves. */
interface Lineage {
  readonly epoch: number;
  readonly replicas: readonly string[];
  readonly gone: readonly string[];
}

/** Whether this replica's disk holds the lineage its acks would prove (see the module comment). */
export class ProofGate<S, C, R> {
  /** What the disk holds: the last write that ended well, or what was loaded. */
  private disk: Lineage | undefined;
  /** What the write on its way holds (its lineage), if one is. */
  private writing: Lineage | undefined;
  /** An ack waits for the disk. */
  private waiting = false;
  /** The last write failed: the journal's retry (or next change) writes again, not us. */
  private failed = false;
  private release: ((then?: () => void) => void) | undefined;

  /**
   * @param persisting - we have a data directory (otherwise acks never wait)
   * @param opened - an ack waited and may go now
   */
  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly persisting: boolean,
    private readonly opened: () => void,
  ) {}

  /** The image was loaded from disk. */
  loaded(image: Image<S>): void {
    this.disk = lineageOf(image);
  }

  /** Whether our disk holds the current image's lineage (no wait, nothing queued). */
  holdsNow(): boolean {
    return !this.persisting || this.holds(this.r.image);
  }

  /**
   * Whether our disk holds the current image's lineage: an ack, a summary may go out. If not,
   * it waits: a write of the current image is queued (unless one is, or the last one failed)
   * and a seeded simulation is held until its end; `opened` is called then.
   */
  diskHoldsLineage(): boolean {
    const r = this.r;
    if (!this.persisting || this.holds(r.image)) return true;
    if (!this.waiting) {
      this.waiting = true;
      if (r.tracing) r.log(`ack of epoch ${r.image.epoch} waits for the disk`);
    }
    const journal = r.journal;
    // a write is queued, or the one on its way holds the lineage: its end opens the gate
    const coming = this.writing !== undefined && this.holds(r.image, this.writing);
    if (journal !== undefined && !journal.writeQueued && !this.failed && !coming)
      r.persistReplicaSet();
    if (journal?.busy === true) this.hold();
    return false;
  }

  /** A write of `image` starts (the journal's queue got to it). */
  writeStarts(image: Image<S>): void {
    this.writing = lineageOf(image);
    if (this.waiting) this.hold();
  }

  /** The write of `image` ended (`ok`: on disk). */
  written(image: Image<S>, ok: boolean): void {
    this.writing = undefined;
    if (ok) this.disk = lineageOf(image);
    this.failed = !ok;
    if (!this.waiting) return;
    if (this.holds(this.r.image)) {
      this.waiting = false;
      // the ack goes once every replica's write a simulation holds for has ended, in the
      // order they were held (so the order of their acks does not depend on the disk)
      if (this.release === undefined) this.opened();
      else this.unhold(this.opened);
      return;
    }
    if (ok && !this.r.closed && this.r.journal?.busy !== true) {
      // the lineage moved while it was written: write again, still held
      this.r.persistReplicaSet();
    }
    if (!ok || this.r.journal?.busy !== true) this.unhold();
  }

  /** The replica stops: nothing waits any more. */
  stop(): void {
    this.waiting = false;
    this.unhold();
  }

  private holds(image: Image<S>, d = this.disk): boolean {
    return (
      d !== undefined &&
      d.epoch === image.epoch &&
      sameList(d.replicas, image.replicas) &&
      sameList(d.gone, image.gone)
    );
  }

  private hold(): void {
    this.release ??= this.r.clock.hold?.();
  }

  private unhold(then?: () => void): void {
    const release = this.release;
    this.release = undefined;
    release?.(then);
  }
}

function lineageOf(image: Image<unknown>): Lineage {
  return { epoch: image.epoch, replicas: image.replicas, gone: image.gone };
}
