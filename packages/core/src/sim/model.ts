/**
 * What the in-memory cluster's daemon keeps about its world: nodes, processes, components
 * and their group views. Plain records and small pure helpers, shared by the daemon, the
 * ordering and the reconfiguration.
 * @module
 */
import type { RingId } from '../types.js';
import type { Slab } from '../slab.js';
import type { OrderedItem, SimConnection, SimProcessRef } from './connection.js';

/** One node's daemon, as the cluster sees it. */
export interface SimNode {
  readonly id: number;
  up: boolean;
  /**
   * How many times the node's daemon was started: `crashNode` ends an incarnation. A
   * component holds a node's incarnation, so a crash followed by a restart before the
   * reconfiguration ran is still a membership change (corosync: the restarted daemon is not
   * in the transitional list, so its old processes leave with `nodedown`).
   */
  incarnation: number;
  /** Which side of a partition the node's link is on (0: healed). */
  link: number;
  quorate: boolean;
}

/** A node as the reconfiguration reads it (it changes none of these). */
export interface NodeView {
  readonly up: boolean;
  readonly incarnation: number;
  readonly quorate: boolean;
}

/** A simulated process: its connections and the groups it has joined. */
export class SimProcess implements SimProcessRef {
  readonly conns = new Set<SimConnection>();
  /** Group keys joined by a live connection of this process (corosync: pid + group). */
  readonly claims = new Map<string, SimConnection>();
  paused = false;
  crashed = false;
  constructor(
    readonly pid: number,
    readonly nodeid: number,
  ) {}
}

/** The group views of one component: group key -> members' connections, sorted. */
export type Views = Map<string, SimConnection[]>;

/** A set of nodes that share one ring (one agreed order), and the groups in it. */
export interface Component {
  readonly nodes: readonly number[];
  readonly nodeSet: ReadonlySet<number>;
  /** Each node's incarnation when the component formed. */
  readonly incarnations: ReadonlyMap<number, number>;
  ring: RingId;
  views: Views;
  pending: OrderedItem[];
  pendingBytes: number;
  syncing: boolean;
  quorate: boolean;
}

/** A new component of `nodes` (sorted) with ring sequence `seq`. */
export function newComponent(
  nodes: readonly number[],
  views: Views,
  seq: bigint,
  expectedVotes: number,
  allNodes: ReadonlyMap<number, NodeView>,
): Component {
  return {
    nodes,
    nodeSet: new Set(nodes),
    incarnations: new Map(nodes.map((id) => [id, allNodes.get(id)!.incarnation])),
    ring: { nodeid: nodes[0] ?? 0, seq },
    views,
    pending: [],
    pendingBytes: 0,
    syncing: false,
    quorate: nodes.length * 2 > expectedVotes,
  };
}

/** Members' order in a group view: by node, then pid. */
export function compareConn(a: SimConnection, b: SimConnection): number {
  return a.local.nodeid - b.local.nodeid || a.local.pid - b.local.pid;
}

/** A group name's bytes as a map key. */
export function keyOf(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

/** The group name a key stands for. */
export function bytesOfKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

/** Whether the daemon `conn` connected to has crashed since (restarted or not). */
export function isStale(conn: SimConnection, nodes: ReadonlyMap<number, NodeView>): boolean {
  return conn.incarnation !== nodes.get(conn.local.nodeid)!.incarnation;
}

/**
 * The component node `nodeid` is in, in its current incarnation (none while it is down, or
 * restarted and not yet in a ring).
 */
export function componentOf(
  components: readonly Component[],
  nodes: ReadonlyMap<number, NodeView>,
  nodeid: number,
): Component | undefined {
  const node = nodes.get(nodeid);
  if (!node?.up) return undefined;
  for (const c of components) {
    if (c.nodeSet.has(nodeid))
      return c.incarnations.get(nodeid) === node.incarnation ? c : undefined;
  }
  return undefined;
}

/** The bytes of a multicast's parts as one message (one part: a copy from `slab`). */
export function concat(parts: readonly Uint8Array[], slab: Slab): Uint8Array {
  if (parts.length === 1) {
    const p = parts[0]!;
    return slab.copy(p, 0, p.length);
  }
  let size = 0;
  for (const p of parts) size += p.length;
  const data = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    data.set(p, pos);
    pos += p.length;
  }
  return data;
}
