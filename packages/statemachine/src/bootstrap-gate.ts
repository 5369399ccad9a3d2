/**
 * Whether this member may start a store from the initial state (`bootstrap`), and whether it
 * forces its first round quorate (`bootstrap: 'force'`). A fresh member may start one only if
 * it never saw a member that holds state and every member that was there when it joined said
 * it holds none: a member that joined an existing group and got cut off before it synced must
 * not fork an empty state. No I/O, no timers: what the summaries told it.
 * @module
 */

/** One member's bootstrap eligibility. */
export class BootstrapGate {
  /** Other members of the first view we saw (our join). */
  private firstView: Set<string> | undefined;
  /** Members we saw say they hold no state. */
  private readonly seenFresh = new Set<string>();
  /** Whether we ever saw another member that holds state. */
  private sawHolder = false;
  /** The data directory had a replica id but no snapshot: this replica lost its state. */
  private lostState = false;
  private forcing: boolean;

  /**
   * @param allowed - `bootstrap` is not `false` (see `OpenOptions.bootstrap`)
   * @param force - `bootstrap: 'force'`
   */
  constructor(
    private readonly allowed: boolean,
    force: boolean,
  ) {
    this.forcing = force;
  }

  /** `bootstrap: 'force'`, until the first quorate round this member takes part in. */
  get force(): boolean {
    return this.forcing;
  }

  /** This replica's data directory lost its state: it never starts a new store. */
  stateLost(): void {
    this.lostState = true;
  }

  /** Our first view (the other members' keys), kept from the first call on. */
  joined(others: Iterable<string>): void {
    this.firstView ??= new Set(others);
  }

  /**
   * Another member's summary said whether it holds state.
   * @returns true when that made us eligible (we may now say `bootstrap` in our summary)
   */
  heard(key: string, fresh: boolean): boolean {
    const could = this.mayBootstrap();
    if (fresh) this.seenFresh.add(key);
    else this.sawHolder = true;
    return !could && this.mayBootstrap();
  }

  /** We took part in a quorate round with a state: `force` is spent. */
  quorateRoundFinished(): void {
    this.forcing = false;
  }

  /** Whether we may start from the initial state when nobody holds any. */
  mayBootstrap(): boolean {
    if (!this.allowed || this.lostState || this.sawHolder || this.firstView === undefined)
      return false;
    for (const k of this.firstView) if (!this.seenFresh.has(k)) return false;
    return true;
  }
}
