/**
 * Who acks another writer's command at once (acks.ts `acksAtOnce`: the `⌊|Q|/2⌋ + 1`
 * replicas that follow the writer), in an order every member agrees on: `Q` in the order of the
 * round's participants (by node id and pid, as `Decision` sorts them; a replica of `Q` that is
 * not one after them, by id). Not `Q`'s own order (by replica id): persisted ids are random,
 * and a seeded simulation must replay exactly. A command is applied only in a finished round,
 * from one of its participants, whose replica id the round's summaries give.
 * @module
 */
import { acksAtOnce } from './acks.js';
import type { Decision } from './sync.js';

/** What the order is made of: the replica's round, its `Q` and its replica id. */
export interface AckOrderSource {
  readonly round: { readonly decision: Decision | undefined } | undefined;
  readonly image: { readonly replicas: readonly string[] };
  readonly replica: string;
}

/** The ack order of one replica, kept until its round's decision or its `Q` changes. */
export class AckOrder {
  private order: readonly string[] = [];
  /** Replica ids of the round's participants, by incarnation. */
  private readonly writers = new Map<string, string>();
  private decision: Decision | undefined;
  private q: readonly string[] | undefined;

  constructor(private readonly r: AckOrderSource) {}

  /**
   * Whether we ack at once a command of the participant with `incarnation` (another one's: our
   * own are never acked at once). A writer we cannot place (not a participant): at once.
   */
  atOnce(incarnation: string): boolean {
    this.refresh();
    const writer = this.writers.get(incarnation);
    return writer === undefined || acksAtOnce(this.order, writer, this.r.replica);
  }

  private refresh(): void {
    const d = this.r.round?.decision;
    const q = this.r.image.replicas;
    if (d === this.decision && q === this.q) return;
    this.decision = d;
    this.q = q;
    this.writers.clear();
    const inQ = new Set(q);
    const order: string[] = [];
    for (const p of d?.participants ?? []) {
      this.writers.set(p.incarnation, p.replica);
      if (inQ.delete(p.replica)) order.push(p.replica);
    }
    this.order = [...order, ...[...inQ].sort()];
  }
}
