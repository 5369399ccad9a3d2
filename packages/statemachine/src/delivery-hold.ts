/**
 * Holding a replica's group events, in order, while they may not be handled yet; they are
 * handled once released, exactly as if they had been delivered then. So the replica applies
 * the agreed stream in the same order as without holding; it only sees it later, as a slow
 * member would. Two reasons to hold, counted apart:
 * - a received snapshot is built and digested in slices (see sync-round.ts): `hold` and
 *   `release` around it;
 * - pacing: the group may deliver many messages in one turn of the event loop (a backlog of
 *   bulk transactions: 8 of 500 sets each is ~100 ms of applying), so once the events handled
 *   in one turn carried `SLICE_MIN_WORK` bytes and took `SLICE_MS`, the rest waits for the
 *   replica's next slice (slices.ts). Small work is never paced, whatever the clock says (the
 *   seeded tests see the same turns on every run).
 * @module
 */
import { SLICE_MIN_WORK, SLICE_MS, nextSlice, wallSliceTime, type SliceTime } from './slices.js';

interface Waiting {
  readonly event: () => void;
  readonly work: number;
}

/** The events waiting while a snapshot is applied, or for the next slice. */
export class DeliveryHold {
  private queue: Waiting[] | undefined;
  /** Holds not released yet (a snapshot's, pacing's). */
  private holds = 0;
  /** Pacing: bytes handled in this turn (0: none yet), since `start` (a time of `now`). */
  private work = 0;
  private start = 0;
  /** A reset of `work` at the next turn is scheduled. */
  private turnEnds = false;

  /** @param now - what pacing's milliseconds are read from (the replica's slice time) */
  constructor(private readonly now: SliceTime = wallSliceTime) {}

  /** Whether events wait now. */
  get held(): boolean {
    return this.holds > 0;
  }

  /** Start holding (events handed to `run` wait from now on), until the matching `release`. */
  hold(): void {
    this.holds++;
    this.queue ??= [];
  }

  /**
   * Handle `event` now, or after the releases while held.
   * @param work - what it carries (message bytes), for pacing; 0 is never paced
   */
  run(event: () => void, work = 0): void {
    if (this.holds > 0) this.queue!.push({ event, work });
    else this.handle(event, work);
  }

  /**
   * End a `hold`; once none is left, handle the waiting events in order. An event that holds
   * again (or pacing) stops the replay there: the rest waits for the next release.
   */
  release(): void {
    if (this.holds === 0) return;
    if (--this.holds > 0) return;
    const q = this.queue!;
    this.queue = undefined;
    for (let i = 0; i < q.length; i++) {
      this.handle(q[i]!.event, q[i]!.work);
      if (this.holds > 0) {
        this.queue!.unshift(...q.slice(i + 1));
        return;
      }
    }
  }

  /** Drop the waiting events (the replica closed). */
  clear(): void {
    this.queue = undefined;
    this.holds = 0;
  }

  private handle(event: () => void, work: number): void {
    if (work === 0) {
      event();
      return;
    }
    if (this.work === 0) {
      this.start = this.now();
      if (!this.turnEnds) {
        this.turnEnds = true;
        setImmediate(() => {
          this.turnEnds = false;
          if (this.holds === 0) this.work = 0;
        });
      }
    }
    event();
    this.work += work;
    if (this.holds === 0 && this.work >= SLICE_MIN_WORK && this.now() - this.start > SLICE_MS) {
      // the rest of this turn's events wait for our next slice
      this.hold();
      void nextSlice().then(() => {
        this.work = 0;
        this.release();
      });
    }
  }
}
