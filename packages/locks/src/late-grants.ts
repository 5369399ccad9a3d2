/**
 * Grants applied late are confirmed before they are handed out. A grant is handed out once a
 * majority of `Q` applied the entry that made it (hand-out.ts), but the member that hands it out
 * may apply that entry long after it was committed: a process paused (or starved) with the
 * entry and the confchg that cut it off both queued applies the entry, hands the grant out, and
 * only then reads the confchg. Meanwhile the majority saw it leave and, `failoverDelay` later,
 * granted the lock to someone else: two holders (the Jepsen campaign's seed 20261330). On
 * corosync a whole backlog comes in one dispatch, but a process stopped between the dispatch
 * that applied the entry and the turn that hands out resumes into the hand-out all the same.
 *
 * So when the state's replicated time is more than half the `failoverDelay` behind this
 * member's clock, a grant waits for a confirmation: an entry of ours that changes nothing (the
 * withdrawal of a request nobody made), committed after it. If we were cut off, the confchg
 * comes first in the agreed order and the grant is never handed out (the member is in a
 * minority); if not, the state it is read from is the majority's as of that entry. With
 * `failoverDelay: 0` nothing waits: the majority may grant again at once, and no hand-out
 * rule can make up for that (see `Lock`).
 * @module
 */
import type { LocksCommand } from './commands.js';
import { requestId } from './request-ids.js';
import type { LocksStateMachine } from './types.js';

/** Whether this member's grants are fresh enough to hand out, and their confirmation. */
export class LateGrants {
  /** A confirmation was dispatched and has not come back. */
  #confirming = false;
  /**
   * The index applied when a confirmation came back: until another entry is applied, grants go
   * out whatever the clock says (the state is the majority's as of our entry).
   */
  #confirmedAt: bigint | undefined;

  /**
   * @param machine - the lock machine
   * @param failoverDelay - the lock machine's `failoverDelay` (ms)
   * @param again - run the hand-out again (once a confirmation came back, or failed)
   */
  constructor(
    private readonly machine: LocksStateMachine,
    private readonly failoverDelay: number,
    private readonly again: () => void,
  ) {}

  /**
   * Whether a grant on `name` may be handed out now. If not, a confirmation (on `name`) is on
   * its way, and `again` runs once it is in.
   */
  mayHandOut(name: string, election: boolean): boolean {
    const m = this.machine;
    if (this.failoverDelay <= 0 || this.#confirmedAt === m.index) return true;
    if (m.clock.wallNow() - m.time <= this.failoverDelay / 2) return true;
    if (!this.#confirming) {
      this.#confirming = true;
      void this.#confirm(name, election);
    }
    return false;
  }

  async #confirm(name: string, election: boolean): Promise<void> {
    const id = requestId();
    const cmd: LocksCommand = election
      ? { type: 'resign', id, name }
      : { type: 'withdraw', id, name };
    try {
      await this.machine.dispatch(cmd, { timeout: 10_000 });
      this.#confirmedAt = this.machine.index;
    } catch {
      // a minority, closed, a timeout: the waiters end through their own paths, or try again
    } finally {
      this.#confirming = false;
      this.again();
    }
  }
}
