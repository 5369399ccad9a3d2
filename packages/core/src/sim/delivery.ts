/**
 * Delivery in the in-memory cluster: what ordering and reconfiguration hand to the
 * connections (the `ReconfigureSink` they write to), each connection's inbox, which
 * connections have something to deliver, and handing events to the `Group` layer in a
 * seeded rotation.
 * @module
 */
import type { Clock, QuorumView, RingId } from '../types.js';
import type { ConfchgItem, InboxItem, SimConnection } from './connection.js';
import { isStale, type SimNode, type SimProcess } from './model.js';
import type { ReconfigureSink } from './ordering.js';
import type { Random } from './random.js';
import type { Trace } from './trace.js';

/** What a `Delivery` needs from its cluster. */
export interface DeliveryContext {
  readonly stats: { messages: number; deliveries: number };
  readonly trace: Trace | undefined;
  readonly nodes: ReadonlyMap<number, SimNode>;
  readonly clock: Clock;
  /** Virtual ms by which quorum events lag (`MemoryClusterOptions.quorumDelay`). */
  readonly quorumDelay: number;
  /** Schedule a step of the engine. */
  readonly wake: () => void;
  /** Whether the cluster still runs (not destroyed). */
  readonly running: () => boolean;
}

/** The connections' inboxes and the set of those ready to receive. */
export class Delivery implements ReconfigureSink {
  /** Connections with a backlog whose process runs, in the order they became ready. */
  readonly ready = new Set<SimConnection>();
  /**
   * Connections that left a group but still have their handle: corosync 3.1.7 keeps such a
   * handle in LEAVE_STARTED and goes on delivering that group's messages and confchgs to it
   * until it is finalized.
   */
  readonly #lingering = new Map<string, Set<SimConnection>>();
  readonly #cx: DeliveryContext;

  constructor(context: DeliveryContext) {
    this.#cx = context;
  }

  /** Queue `item` for `conn`. */
  push(conn: SimConnection, item: InboxItem): void {
    conn.inbox.push(item);
    if (!conn.manual && !(conn.process as SimProcess).paused) this.ready.add(conn);
  }

  /** @see EffectSink.lingering */
  lingering(key: string, nodes: ReadonlySet<number>, item: InboxItem): void {
    const set = this.#lingering.get(key);
    if (!set || set.size === 0) return;
    for (const c of set) if (!c.closed && nodes.has(c.local.nodeid)) this.push(c, item);
  }

  /** @see EffectSink.joined */
  joined(conn: SimConnection, ring: RingId, nodes: ReadonlySet<number>): void {
    if (conn.state === 'joining') conn.state = 'joined';
    if (conn.closed || conn.initialTotemSent) return;
    conn.initialTotemSent = true;
    const all = this.#cx.nodes;
    const up = [...nodes].filter((id) => all.get(id)!.up).sort((a, b) => a - b);
    this.push(conn, { kind: 'totem', ring, nodes: up });
    this.quorum(conn, all.get(conn.local.nodeid)!.quorate, { ringSeq: ring.seq, nodes: up });
  }

  /** @see EffectSink.left */
  left(conn: SimConnection, key: string, event: ConfchgItem): void {
    this.push(conn, event);
    // corosync 3.1.7 keeps the pid+group claim while the handle lives (rejoin fails), and
    // goes on delivering the group's events to it.
    conn.state = 'unjoined';
    let set = this.#lingering.get(key);
    if (!set) {
      set = new Set();
      this.#lingering.set(key, set);
    }
    set.add(conn);
  }

  /** @see EffectSink.ordered */
  ordered(): void {
    this.#cx.stats.messages++;
  }

  /** @see ReconfigureSink.nodeQuorate */
  nodeQuorate(nodeid: number, quorate: boolean): void {
    this.#cx.nodes.get(nodeid)!.quorate = quorate;
  }

  /** A quorum event for `conn`: now, or `quorumDelay` virtual ms later (see the option). */
  quorum(conn: SimConnection, quorate: boolean, view: QuorumView): void {
    const item: InboxItem = { kind: 'quorum', quorate, view };
    const cx = this.#cx;
    if (cx.quorumDelay === 0) {
      this.push(conn, item);
      return;
    }
    cx.clock.setTimeout(() => {
      if (!cx.running() || conn.closed || isStale(conn, cx.nodes)) return;
      this.push(conn, item);
      cx.wake();
    }, cx.quorumDelay);
  }

  /** A closed connection: no more ready, no more lingering. */
  forget(conn: SimConnection): void {
    this.ready.delete(conn);
    if (conn.key !== null) this.#lingering.get(conn.key)?.delete(conn);
  }

  /** `conn` may receive again (its process resumed): ready if it has a backlog. */
  markReady(conn: SimConnection): void {
    if (!conn.manual && !conn.closed && conn.backlog > 0) this.ready.add(conn);
  }

  /** Deliver to every ready connection, in a seeded rotation, a seeded part of its inbox. */
  deliverRound(rng: Random): void {
    if (this.ready.size === 0) return;
    const ready = [...this.ready];
    const start = rng.int(ready.length);
    for (let k = 0; k < ready.length; k++) {
      const conn = ready[(start + k) % ready.length]!;
      if (!this.ready.has(conn)) continue;
      const backlog = conn.backlog;
      const n = rng.chance(0.75) ? backlog : 1 + rng.int(backlog);
      this.deliver(conn, n);
    }
  }

  /** Hand up to `n` inbox items to the connection's sink, in order. */
  deliver(conn: SimConnection, n: number): void {
    const proc = conn.process as SimProcess;
    const trace = this.#cx.trace;
    for (let i = 0; i < n; i++) {
      if (conn.closed || (proc.paused && !conn.manual) || conn.head >= conn.inbox.length) break;
      const item = conn.inbox[conn.head]!;
      conn.inbox[conn.head++] = undefined as unknown as InboxItem;
      this.#cx.stats.deliveries++;
      if (trace) trace.record(conn, item);
      switch (item.kind) {
        case 'mcast':
          conn.sink.message(item.conn.local, item.data);
          break;
        case 'confchg':
          conn.sink.membership(item.members, item.joined, item.left);
          break;
        case 'totem':
          conn.sink.totem(item.ring, item.nodes);
          break;
        case 'quorum':
          conn.sink.quorum(item.quorate, item.view);
          break;
      }
    }
    if (conn.head >= conn.inbox.length) {
      conn.inbox = [];
      conn.head = 0;
      this.ready.delete(conn);
    } else if (conn.head > 1024 && conn.head * 2 > conn.inbox.length) {
      conn.inbox = conn.inbox.slice(conn.head);
      conn.head = 0;
    }
  }
}
