/**
 * A store replica's recent changes, for `watch({ fromRevision })`: the last `limit` changes in
 * revision order, and the revision from which on every change is held (`floor`). Old changes
 * are dropped in blocks (a `shift()` per change would move the whole array every time).
 * @module
 */
/** The changes (`MapChange`s) a replica applied lately. */
export class WatchHistory<C extends { readonly revision: number }> {
  /** The changes: `items[start..]` (older ones are dropped, in blocks). */
  private readonly items: C[] = [];
  private start = 0;
  /** Every change of this revision or later is held (`Infinity` before the first state). */
  floor = Infinity;

  constructor(private readonly limit: number) {}

  /** Start again after a state of `revision` (the first one, or a snapshot replacing ours). */
  reset(revision: number): void {
    this.items.length = 0;
    this.start = 0;
    this.floor = revision + 1;
  }

  /** Hold `c`, dropping the oldest change past the limit. */
  push(c: C): void {
    const h = this.items;
    h.push(c);
    if (h.length - this.start > this.limit) {
      this.floor = h[this.start++]!.revision + 1;
      if (this.start >= Math.max(this.limit, 64)) {
        h.splice(0, this.start);
        this.start = 0;
      }
    }
  }

  /** Every held change `keep` accepts, oldest first. */
  since(keep: (c: C) => boolean): C[] {
    const out: C[] = [];
    for (let i = this.start; i < this.items.length; i++) {
      const c = this.items[i]!;
      if (keep(c)) out.push(c);
    }
    return out;
  }
}
