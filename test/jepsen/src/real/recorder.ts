/**
 * The harness's side of the one clock (`protocol.ts`): records from every client process and
 * from the harness itself, each stamped with CLOCK_MONOTONIC where it happened, merged into one
 * history per workload in stamp order. `t` is the position in that order, `vt` ms since the
 * run started.
 * @module
 */
import type { HistoryRecord } from '../history.js';
import type { ClientRecord } from './protocol.js';

/** CLOCK_MONOTONIC now, in ns (the clock every process of this machine reads). */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

interface Stamped {
  readonly ns: bigint;
  readonly seq: number;
  readonly rec: ClientRecord;
}

/** One workload's records from every process, merged on the machine's clock. */
export class MergedHistory {
  readonly #items: Stamped[] = [];
  #seq = 0;

  /**
   * Add a record. Operation ids are made unique per node: `node * 10^7 + id`.
   * @param node - the client's node (0 for the harness)
   */
  add(ns: bigint, node: number, rec: ClientRecord): void {
    const r: ClientRecord = rec.kind === 'event' ? rec : { ...rec, id: node * 10_000_000 + rec.id };
    this.#items.push({ ns, seq: ++this.#seq, rec: r });
  }

  get size(): number {
    return this.#items.length;
  }

  /** The history, in stamp order (arrival order between equal stamps). */
  records(t0: bigint): HistoryRecord[] {
    const sorted = [...this.#items].sort((a, b) =>
      a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.seq - b.seq,
    );
    return sorted.map((s, i) => ({
      ...s.rec,
      t: i + 1,
      vt: Number(s.ns - t0) / 1e6,
    }));
  }
}
