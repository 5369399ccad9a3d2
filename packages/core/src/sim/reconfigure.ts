/**
 * A membership change of the in-memory cluster, decided without touching the cluster: from
 * the current components and the components the links and up nodes make now, the new
 * components and the list of effects (confchg, totem and quorum events, in corosync's
 * order) that the daemon then performs. The only state it changes is the seeded random
 * generator's, which picks the in-flight messages that reach every side.
 * @module
 */
import type { QuorumView } from '../types.js';
import type { SimConnection, ConfchgItem, TotemItem } from './connection.js';
import {
  compareConn,
  isStale,
  newComponent,
  type Component,
  type NodeView,
  type SimNode,
  type Views,
} from './model.js';
import { applyItem, recorder, type Effect } from './ordering.js';
import type { Random } from './random.js';

/** What the reconfiguration reads about the cluster besides its components. */
export interface ClusterView {
  /** Every node, by id. */
  readonly nodes: ReadonlyMap<number, NodeView>;
  /** Every open connection, in the order they were opened (totem events go to all). */
  readonly conns: Iterable<SimConnection>;
  /** votequorum's expected votes. */
  readonly expectedVotes: number;
  /** The last ring sequence number handed out. */
  readonly ringSeq: bigint;
}

/** The outcome of `reconfigure`. */
export interface Reconfiguration {
  /** The components from now on, sorted by lowest node. */
  readonly components: Component[];
  /** What to deliver and change, in order. */
  readonly effects: Effect[];
  /** Whether anything changed (a membership change to count), or only syncs ended. */
  readonly changed: boolean;
  /** The last ring sequence number handed out now. */
  readonly ringSeq: bigint;
}

/** Whether node `id` is up in the incarnation component `c` knows. */
export function isAlive(c: Component, id: number, nodes: ReadonlyMap<number, NodeView>): boolean {
  const node = nodes.get(id)!;
  return node.up && c.incarnations.get(id) === node.incarnation;
}

/** Whether component `c` is exactly one of `targets`, with every node in its incarnation. */
export function isCurrent(
  c: Component,
  targets: readonly (readonly number[])[],
  nodes: ReadonlyMap<number, NodeView>,
): boolean {
  return targets.some((t) => sameNodes(t, c.nodes)) && c.nodes.every((id) => isAlive(c, id, nodes));
}

function sameNodes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** The components the links and up nodes of `nodes` make, each sorted, by lowest node. */
export function targetComponents(nodes: Iterable<SimNode>): number[][] {
  const byLink = new Map<number, number[]>();
  for (const node of [...nodes].sort((a, b) => a.id - b.id)) {
    if (!node.up) continue;
    const list = byLink.get(node.link) ?? [];
    list.push(node.id);
    byLink.set(node.link, list);
  }
  return [...byLink.values()].sort((a, b) => a[0]! - b[0]!);
}

/**
 * The new configuration: in-flight items of each old component are delivered where virtual
 * synchrony allows, then each new component delivers, per group, a `nodedown` confchg, then
 * a `nodeup` confchg, then a totem event to every connection, then quorum changes.
 *
 * @param components - the current components (not changed: kept ones are copied)
 * @param targets - the components to form, each sorted, sorted by lowest node
 * @param rng - picks which messages in flight reach every side
 * @param cluster - the nodes, the connections, votequorum's expected votes, the ring counter
 */
export function reconfigure(
  components: readonly Component[],
  targets: readonly (readonly number[])[],
  rng: Random,
  cluster: ClusterView,
): Reconfiguration {
  const { nodes } = cluster;
  const kept: Component[] = [];
  const changedOld: Component[] = [];
  for (const c of components) {
    if (isCurrent(c, targets, nodes)) kept.push({ ...c, syncing: false });
    else changedOld.push(c);
  }
  const newSets = targets.filter((t) => !kept.some((k) => sameNodes(k.nodes, t)));
  const effects: Effect[] = [];
  if (changedOld.length === 0 && newSets.length === 0) {
    return { components: kept, effects, changed: false, ringSeq: cluster.ringSeq };
  }
  const fx = recorder(effects);
  const setOf = (nodeid: number): readonly number[] | undefined =>
    newSets.find((s) => s.includes(nodeid));

  // 1. Each changed old component: sub-views per new component, in-flight items applied.
  interface Contribution {
    readonly from: Component;
    readonly views: Views;
  }
  // The nodes of new component `s` that pass from `o` to it (a node restarted since `o`
  // formed is not one of them: it arrives empty).
  const sideOf = (o: Component, s: readonly number[]): Set<number> =>
    new Set(s.filter((id) => o.nodeSet.has(id) && isAlive(o, id, nodes)));
  const contributions = new Map<readonly number[], Contribution[]>();
  for (const o of changedOld) {
    const subs = new Map<readonly number[], Views>();
    const reach = new Map<readonly number[], Set<number>>();
    for (const s of newSets) {
      const side = sideOf(o, s);
      if (side.size > 0) {
        const copy: Views = new Map();
        for (const [k, list] of o.views) copy.set(k, [...list]);
        subs.set(s, copy);
        reach.set(s, side);
      }
    }
    for (const item of o.pending) {
      const from = item.conn.local.nodeid;
      const senderSet = isAlive(o, from, nodes) ? setOf(from) : undefined;
      // A message in flight reaches every side or only its sender's. A membership change
      // in flight reaches every side: applied on one side only, it would give the members
      // there a member list that names members of the other sides who never get it.
      const madeIt = rng.chance(0.5) || item.kind !== 'mcast';
      for (const [s, views] of subs) {
        if (!madeIt && s !== senderSet) continue;
        applyItem(item, views, reach.get(s)!, o.ring, fx);
      }
    }
    for (const [s, views] of subs) {
      const list = contributions.get(s) ?? [];
      list.push({ from: o, views });
      contributions.set(s, list);
    }
  }

  // 2. Each new component: nodedown, nodeup, totem, quorum.
  let ringSeq = cluster.ringSeq;
  const created: Component[] = [];
  for (const s of newSets) {
    const sSet = new Set(s);
    const contribs = contributions.get(s) ?? [];
    // nodedown: one confchg per group, for the members whose node is not with us.
    for (const { from, views } of contribs) {
      const side = sideOf(from, s);
      for (const key of [...views.keys()].sort()) {
        const list = views.get(key)!;
        const leftConns = list.filter((c) => !sSet.has(c.local.nodeid) || isStale(c, nodes));
        if (leftConns.length === 0) continue;
        const remaining = list.filter((c) => !leftConns.includes(c));
        if (remaining.length === 0) views.delete(key);
        else views.set(key, remaining);
        const event: ConfchgItem = {
          kind: 'confchg',
          members: remaining.map((c) => c.local),
          joined: [],
          left: leftConns.map((c) => ({ ...c.local, reason: 'nodedown' as const })),
        };
        for (const c of remaining) if (!c.closed) fx.push(c, event);
        fx.lingering(key, side, event);
      }
    }
    // nodeup: the merged view; each side sees the others' members join.
    const merged: Views = new Map();
    for (const { views } of contribs) {
      for (const [key, list] of views) {
        const m = merged.get(key) ?? [];
        m.push(...list);
        merged.set(key, m);
      }
    }
    for (const list of merged.values()) list.sort(compareConn);
    if (contribs.length > 1) {
      for (const { from, views } of contribs) {
        const side = sideOf(from, s);
        for (const key of [...views.keys()].sort()) {
          const mine = views.get(key)!;
          const all = merged.get(key)!;
          const joinedConns = all.filter((c) => !mine.includes(c));
          if (joinedConns.length === 0) continue;
          const event: ConfchgItem = {
            kind: 'confchg',
            members: all.map((c) => c.local),
            joined: joinedConns.map((c) => ({ ...c.local, reason: 'nodeup' as const })),
            left: [],
          };
          for (const c of mine) if (!c.closed) fx.push(c, event);
          fx.lingering(key, side, event);
        }
      }
    }
    const comp = newComponent(s, merged, ++ringSeq, cluster.expectedVotes, nodes);
    created.push(comp);
    // totem: to every connection on the component's nodes, joined or not.
    const totem: TotemItem = { kind: 'totem', ring: comp.ring, nodes: s };
    const conns = [...cluster.conns].filter((c) => sSet.has(c.local.nodeid) && !c.closed);
    for (const c of conns) fx.push(c, totem);
    // quorum: a view of the new ring to every connection of its nodes (votequorum sends one
    // at every ring, `votequorum_sync_activate`, whether the flag changed or not).
    const view: QuorumView = { ringSeq: comp.ring.seq, nodes: s };
    for (const id of s) {
      if (nodes.get(id)!.quorate !== comp.quorate) fx.nodeQuorate(id, comp.quorate);
      for (const c of conns) if (c.local.nodeid === id) fx.quorum(c, comp.quorate, view);
    }
  }
  return {
    components: [...kept, ...created].sort((a, b) => a.nodes[0]! - b.nodes[0]!),
    effects,
    changed: true,
    ringSeq,
  };
}
