/**
 * Ordering in the in-memory cluster: how one ordered item (a message, a join, a leave)
 * changes a component's group views, and what it hands to the connections. The changes to
 * the views happen here; everything else goes to an `EffectSink`: the daemon, which performs
 * it at once (normal ordering), or a `recorder` (a reconfiguration, performed afterwards).
 * @module
 */
import type { QuorumView, RingId } from '../types.js';
import type { ConfchgItem, InboxItem, OrderedItem, SimConnection } from './connection.js';
import { compareConn, type Component, type Views } from './model.js';
import type { Random } from './random.js';

/**
 * What ordering does outside the group views, one call per effect, in order. The daemon
 * performs each at once; a reconfiguration records them (see `Effect`).
 */
export interface EffectSink {
  /** Queue `item` in `conn`'s inbox. */
  push(conn: SimConnection, item: InboxItem): void;
  /** Queue `item` for the connections on `nodes` that left `key` but keep their handle. */
  lingering(key: string, nodes: ReadonlySet<number>, item: InboxItem): void;
  /**
   * `conn`'s own join took effect on its node, in ring `ring` of `nodes`: it is joined and,
   * the first time, gets the ring's totem event and its node's quorum.
   */
  joined(conn: SimConnection, ring: RingId, nodes: ReadonlySet<number>): void;
  /** `conn`'s own leave took effect on its node: it gets `event`, and its handle lingers. */
  left(conn: SimConnection, key: string, event: ConfchgItem): void;
  /** A message was ordered in a group (counted in `stats.messages`). */
  ordered(): void;
}

/** What a reconfiguration does besides ordering: quorum changes. */
export interface ReconfigureSink extends EffectSink {
  /** Node `nodeid` is now in a component whose quorum is `quorate`. */
  nodeQuorate(nodeid: number, quorate: boolean): void;
  /** A quorum view for `conn`. */
  quorum(conn: SimConnection, quorate: boolean, view: QuorumView): void;
}

/** One recorded call of a `ReconfigureSink`. */
export type Effect = {
  [K in keyof ReconfigureSink]: { readonly kind: K; readonly args: Parameters<ReconfigureSink[K]> };
}[keyof ReconfigureSink];

/** A sink that records every call in `out`, to be performed later with `perform`. */
export function recorder(out: Effect[]): ReconfigureSink {
  return {
    push: (...args) => void out.push({ kind: 'push', args }),
    lingering: (...args) => void out.push({ kind: 'lingering', args }),
    joined: (...args) => void out.push({ kind: 'joined', args }),
    left: (...args) => void out.push({ kind: 'left', args }),
    ordered: () => void out.push({ kind: 'ordered', args: [] }),
    nodeQuorate: (...args) => void out.push({ kind: 'nodeQuorate', args }),
    quorum: (...args) => void out.push({ kind: 'quorum', args }),
  };
}

/** Perform recorded effects on `sink`, in order. */
export function perform(effects: readonly Effect[], sink: ReconfigureSink): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'push':
        sink.push(...e.args);
        break;
      case 'lingering':
        sink.lingering(...e.args);
        break;
      case 'joined':
        sink.joined(...e.args);
        break;
      case 'left':
        sink.left(...e.args);
        break;
      case 'ordered':
        sink.ordered();
        break;
      case 'nodeQuorate':
        sink.nodeQuorate(...e.args);
        break;
      case 'quorum':
        sink.quorum(...e.args);
        break;
    }
  }
}

/**
 * Apply one ordered item to a group view, delivering to the view's live connections on
 * `nodes` (the part of the old configuration that received it).
 */
export function applyItem(
  item: OrderedItem,
  views: Views,
  nodes: ReadonlySet<number>,
  ring: RingId,
  fx: EffectSink,
): void {
  if (item.kind === 'mcast') {
    const list = views.get(item.key);
    if (!list) return;
    fx.ordered();
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (!c.closed && nodes.has(c.local.nodeid)) fx.push(c, item);
    }
    fx.lingering(item.key, nodes, item);
    return;
  }
  const conn = item.conn;
  let list = views.get(item.key);
  if (item.kind === 'join') {
    if (!list) {
      list = [];
      views.set(item.key, list);
    }
    if (list.includes(conn)) return;
    let i = 0;
    while (i < list.length && compareConn(list[i]!, conn) < 0) i++;
    list.splice(i, 0, conn);
    const event: ConfchgItem = {
      kind: 'confchg',
      members: list.map((c) => c.local),
      joined: [{ ...conn.local, reason: 'join' }],
      left: [],
    };
    for (const c of list) if (!c.closed && nodes.has(c.local.nodeid)) fx.push(c, event);
    fx.lingering(item.key, nodes, event);
    if (nodes.has(conn.local.nodeid)) fx.joined(conn, ring, nodes);
    return;
  }
  // leave / procdown
  if (!list) return;
  const at = list.indexOf(conn);
  if (at < 0) return;
  list.splice(at, 1);
  if (list.length === 0) views.delete(item.key);
  const event: ConfchgItem = {
    kind: 'confchg',
    members: list.map((c) => c.local),
    joined: [],
    left: [{ ...conn.local, reason: item.reason }],
  };
  for (const c of list) if (!c.closed && nodes.has(c.local.nodeid)) fx.push(c, event);
  fx.lingering(item.key, nodes, event);
  if (item.reason === 'leave' && !conn.closed && nodes.has(conn.local.nodeid)) {
    fx.left(conn, item.key, event);
  }
}

/** Order a seeded prefix of a component's pending items (all of them, most of the time). */
export function orderPending(comp: Component, rng: Random, fx: EffectSink): void {
  const pending = comp.pending;
  const n = rng.chance(0.75) ? pending.length : 1 + rng.int(pending.length);
  const items = n === pending.length ? pending : pending.slice(0, n);
  comp.pending = n === pending.length ? [] : pending.slice(n);
  for (const item of items) {
    if (item.kind === 'mcast') comp.pendingBytes -= item.data.length;
    applyItem(item, comp.views, comp.nodeSet, comp.ring, fx);
  }
}
