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
 *   replica's next slice (slices.ts). The turn's budget is shared by every replica of the
 *   process on the same slice time (`sliceTimeOf` gives one function per clock): three
 *   replicas in one process, each handling the same delivery, take `SLICE_MS` in all, not
 *   each: a replica that finds the turn's budget spent before a large event (`LARGE_EVENT`
 *   bytes or more) waits for its own slice, where the budget is its own and it handles at
 *   least one event (a bulk transaction of 500 sets is ~5 ms to apply: three of them in one
 *   turn were a stall of ~20 ms). A small event is handled as it comes until the budget is
 *   spent after one (a write's few hundred bytes are microseconds; holding them back for a
 *   slice of its own cost every replica but the first a turn of latency: writes/s 0.64-0.98x
 *   in 4 pairs of bench/kv.ts). Small work is never paced, whatever the clock says (the
 *   seeded tests see the same turns on every run).
 * @module
 */
import { SLICE_MIN_WORK, SLICE_MS, nextSlice, wallSliceTime, type SliceTime } from './slices.js';

/**
 * An event carrying at least this many bytes waits for a later turn when the turn's budget is
 * spent before it (see the module comment): a bulk transaction, not a write of a few keys.
 */
export const LARGE_EVENT = SLICE_MIN_WORK / 16;

interface Waiting {
  readonly event: () => void;
  readonly work: number;
}

/** Pacing's budget in the current turn, for the replicas on one slice time. */
interface Turn {
  /** Bytes handled in this turn (0: none yet), since `start` (a time of the slice time). */
  work: number;
  start: number;
  /** A reset of `work` at the next turn is scheduled. */
  ends: boolean;
}

const turns = new WeakMap<SliceTime, Turn>();

function turnOf(now: SliceTime): Turn {
  let t = turns.get(now);
  if (t === undefined) {
    t = { work: 0, start: 0, ends: false };
    turns.set(now, t);
  }
  return t;
}

/** The events waiting while a snapshot is applied, or for the next slice. */
export class DeliveryHold {
  private queue: Waiting[] | undefined;
  /** Holds not released yet (a snapshot's, pacing's). */
  private holds = 0;
  /** Pacing's budget (shared: see the module comment). */
  private readonly turn: Turn;

  /** @param now - what pacing's milliseconds are read from (the replica's slice time) */
  constructor(private readonly now: SliceTime = wallSliceTime) {
    this.turn = turnOf(now);
  }

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
    if (this.holds === 0 && work >= LARGE_EVENT && this.spent()) this.pace();
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
      // the turn's budget spent by others (replicas on our slice time): this one waits too
      const handled = q[i]!.work < LARGE_EVENT || !this.spent();
      if (handled) this.handle(q[i]!.event, q[i]!.work);
      else this.pace();
      if (this.holds > 0) {
        this.queue!.unshift(...q.slice(handled ? i + 1 : i));
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
    const t = this.turn;
    if (t.work === 0) {
      t.start = this.now();
      if (!t.ends) {
        t.ends = true;
        setImmediate(() => {
          t.ends = false;
          t.work = 0;
        });
      }
    }
    event();
    t.work += work;
    // the rest of this turn's events wait for our next slice
    if (this.holds === 0 && this.spent()) this.pace();
  }

  /**
   * The turn's budget is spent: its events (ours and those of the replicas on our slice time)
   * carried `SLICE_MIN_WORK` and took `SLICE_MS`.
   */
  private spent(): boolean {
    const t = this.turn;
    return t.work >= SLICE_MIN_WORK && this.now() - t.start > SLICE_MS;
  }

  /** Hold the events from now on until our next slice, where the turn's budget is ours. */
  private pace(): void {
    const t = this.turn;
    this.hold();
    void nextSlice().then(() => {
      t.work = 0;
      this.release();
    });
  }
}
