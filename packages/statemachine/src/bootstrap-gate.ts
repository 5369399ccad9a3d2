/**
 * Whether this member may start a store from the initial state (`bootstrap`), and whether it
 * forces its first round quorate (`bootstrap: 'force'`). A fresh member may start one only if
 * it never saw a member that holds state and every member that was there when it joined said
 * it holds none: a member that joined an existing group and got cut off before it synced must
 * not fork an empty state. And, unless opened with `bootstrap: 'alone'`, only once every node
 * of the totem ring has a long-lived member that said it holds none: a member without state
 * cannot tell a brand-new cluster from one whose replicas are down or not started yet (the
 * first agent up after an outage, a replaced disk, a new node), and a store started there is a
 * fork: when the others return, one of the two histories is lost, acknowledged writes and
 * grants with it (bootstrap-ring.test.ts). No I/O, no timers: what the summaries and the
 * ring told it.
 * @module
 */

/** One member's bootstrap eligibility. */
export class BootstrapGate {
  /** Other members of the first view we saw (our join). */
  private firstView: Set<string> | undefined;
  /** Members we saw say they hold no state. */
  private readonly seenFresh = new Set<string>();
  /** Long-lived members (not passive) that said they hold no state. */
  private readonly freshReplicas = new Set<string>();
  /** The other members of our latest view. */
  private present = new Set<string>();
  /** Our own node (from our key), once we joined. */
  private selfNode: number | undefined;
  /** The nodes of our totem ring, once known. */
  private ring: readonly number[] | undefined;
  /** Whether we ever saw another member that holds state. */
  private sawHolder = false;
  /** The data directory had a replica id but no snapshot: this replica lost its state. */
  private lostState = false;
  private forcing: boolean;

  /**
   * @param allowed - `bootstrap` is not `false` (see `OpenOptions.bootstrap`)
   * @param force - `bootstrap: 'force'`
   * @param alone - `bootstrap: 'alone'` (or 'force'): no need for a member on every ring node
   */
  constructor(
    private readonly allowed: boolean,
    force: boolean,
    private readonly alone = force,
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

  /**
   * A view of the group (the other members' keys, and ours): the first is kept as our first
   * view.
   */
  joined(others: Iterable<string>, self?: string): void {
    this.present = new Set(others);
    this.firstView ??= new Set(this.present);
    if (self !== undefined) this.selfNode = nodeOf(self);
  }

  /** Our totem ring is now these nodes. */
  ringChanged(nodes: readonly number[]): void {
    this.ring = nodes;
  }

  /**
   * Another member's summary said whether it holds state.
   * @returns true when that made us eligible (we may now say `bootstrap` in our summary)
   */
  heard(key: string, fresh: boolean, passive = false): boolean {
    const could = this.mayBootstrap();
    if (fresh) {
      this.seenFresh.add(key);
      if (!passive) this.freshReplicas.add(key);
    } else this.sawHolder = true;
    return !could && this.mayBootstrap();
  }

  /** We took part in a quorate round with a state: `force` is spent. */
  quorateRoundFinished(): void {
    this.forcing = false;
  }

  /**
   * Whether we may start from the initial state when nobody holds any (the ring rule is not
   * checked while our ring or our node is unknown).
   */
  mayBootstrap(): boolean {
    if (!this.allowed || this.lostState || this.sawHolder || this.firstView === undefined)
      return false;
    for (const k of this.firstView) if (!this.seenFresh.has(k)) return false;
    if (this.alone || this.ring === undefined || this.selfNode === undefined) return true;
    const covered = new Set([this.selfNode]);
    for (const k of this.freshReplicas) if (this.present.has(k)) covered.add(nodeOf(k));
    return this.ring.every((n) => covered.has(n));
  }
}

/** The node of a member key "nodeid:pid". */
function nodeOf(key: string): number {
  return Number(key.slice(0, key.indexOf(':')));
}
