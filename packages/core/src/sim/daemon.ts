/**
 * The in-memory cluster's engine: every node's corosync daemon in one object. It answers the
 * connections' calls (`SimEngine`: join, leave, mcast, ...), keeps the components and their
 * queues, and runs in steps: faults take effect, components order, connections receive.
 * `MemoryCluster` is its public face; this class is not exported from the package. Ordering,
 * delivery and the reconfiguration are in ordering.ts, delivery.ts and reconfigure.ts; what
 * stays here (about 500 lines) is the driver calls and the scheduler, which share its queues.
 * @module
 */
import type { ConnectOptions, DriverSink, GroupDriver, GroupListing } from '../driver.js';
import {
  AlreadyJoinedError,
  ConnectionLostError,
  CorosyncError,
  CorosyncNotRunningError,
  CpgError,
  CsError,
  GroupClosedError,
  MessageTooLargeError,
  NotJoinedError,
} from '../errors.js';
import { Slab } from '../slab.js';
import type { Clock, MemberId } from '../types.js';
import { SimConnection, type OrderedItem, type SimEngine } from './connection.js';
import { Delivery } from './delivery.js';
import {
  bytesOfKey,
  concat,
  componentOf,
  isStale,
  keyOf,
  newComponent,
  SimProcess,
  type Component,
  type SimNode,
} from './model.js';
import { orderPending, perform } from './ordering.js';
import type { Random } from './random.js';
import { isCurrent, reconfigure, targetComponents } from './reconfigure.js';
import { Trace } from './trace.js';

/** Counters of a cluster's activity. */
export interface ClusterStats {
  /** Messages ordered (multicast in a component). */
  messages: number;
  /** Events delivered to connections. */
  deliveries: number;
  /** `mcast` calls answered with try again. */
  tryAgain: number;
  /** Membership reconfigurations (partitions, heals, node crashes and restarts). */
  reconfigurations: number;
}

/** How a `SimDaemon` is set up (`MemoryClusterOptions`, resolved). */
export interface DaemonConfig {
  readonly nodes: number;
  readonly clock: Clock;
  readonly rng: Random;
  /** Steps on the real event loop with small random delays, instead of `setImmediate`. */
  readonly realTime: boolean;
  readonly expectedVotes: number;
  readonly maxMessageSize: number;
  readonly queueLimit: number;
  readonly queueBytes: number;
  readonly quorumDelay: number;
  readonly trace: boolean;
}

/** Every node's daemon of one in-memory cluster. */
export class SimDaemon implements SimEngine {
  readonly stats: ClusterStats = { messages: 0, deliveries: 0, tryAgain: 0, reconfigurations: 0 };
  readonly nodes = new Map<number, SimNode>();
  readonly trace: Trace | undefined;
  /** Whether a step is due. */
  scheduled = false;
  /** `hold()`s not released: no step is taken meanwhile. */
  #holds = 0;

  readonly #config: DaemonConfig;
  readonly #rng: Random;
  readonly #processes: SimProcess[] = [];
  readonly #conns = new Set<SimConnection>();
  #components: Component[] = [];
  readonly #delivery: Delivery;
  #lost: { conn: SimConnection; error: CpgError }[] = [];
  /**
   * Membership requests (join, leave, a process's death) made while their node's component
   * is in a membership change, or from a restarted node that is in no ring yet: they wait for
   * the new configuration, as corosync holds IPC requests during sync.
   */
  #limbo: OrderedItem[] = [];
  #writable: SimConnection[] = [];
  #reconfigureIn = -1;
  #ringSeq = 0n;
  #nextPid = 1000;
  #nextConnId = 0;
  #realTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #slab = new Slab();
  #destroyed = false;

  constructor(config: DaemonConfig) {
    this.#config = config;
    this.#rng = config.rng;
    this.trace = config.trace ? new Trace() : undefined;
    this.#delivery = new Delivery({
      stats: this.stats,
      trace: this.trace,
      nodes: this.nodes,
      clock: config.clock,
      quorumDelay: config.quorumDelay,
      wake: () => this.#schedule(),
      running: () => !this.#destroyed,
    });
    const ids: number[] = [];
    for (let i = 1; i <= config.nodes; i++) {
      ids.push(i);
      this.nodes.set(i, { id: i, up: true, incarnation: 0, link: 0, quorate: false });
    }
    const comp = newComponent(ids, new Map(), ++this.#ringSeq, config.expectedVotes, this.nodes);
    this.#components = [comp];
    for (const id of ids) this.nodes.get(id)!.quorate = comp.quorate;
  }

  /** The components now. */
  get components(): readonly Component[] {
    return this.#components;
  }

  /** Node `n`, or a `RangeError` naming the nodes there are. */
  node(n: number): SimNode {
    const node = this.nodes.get(n);
    if (!node) {
      const ids = [...this.nodes.keys()].join(', ');
      throw new RangeError(`no node ${n} in this cluster (nodes are ${ids})`);
    }
    return node;
  }

  // ---------------------------------------------------------------- processes

  /** A new process (a distinct pid) on node `n`. */
  newProcess(n: number): SimProcess {
    const proc = new SimProcess(this.#nextPid++, this.node(n).id);
    this.#processes.push(proc);
    return proc;
  }

  /** The process of member `id`, or a `RangeError`. */
  process(id: MemberId): SimProcess {
    const found = this.#processes.find((x) => x.nodeid === id.nodeid && x.pid === id.pid);
    if (!found) throw new RangeError(`no process ${id.nodeid}:${id.pid} in this cluster`);
    return found;
  }

  /** A new connection of `proc` to its node's daemon. */
  connect(proc: SimProcess, sink: DriverSink, options?: ConnectOptions): Promise<GroupDriver> {
    if (this.#destroyed)
      return Promise.reject(new CorosyncNotRunningError('the memory cluster was destroyed'));
    if (proc.crashed) {
      return Promise.reject(
        new ConnectionLostError(`process ${proc.pid} on node ${proc.nodeid} was crashed`),
      );
    }
    const node = this.node(proc.nodeid);
    if (!node.up) {
      return Promise.reject(
        new CorosyncNotRunningError(
          `node ${node.id} is down (crashNode): restartNode(${node.id}) first`,
        ),
      );
    }
    const conn = new SimConnection(
      this,
      proc,
      this.#nextConnId++,
      sink,
      options?.dispatch === 'manual',
      this.#config.maxMessageSize,
      node.incarnation,
    );
    proc.conns.add(conn);
    this.#conns.add(conn);
    return Promise.resolve(conn);
  }

  // ---------------------------------------------------------------- faults

  /** Put each node on side `link` (0: all connected) and start the membership change. */
  setLinks(linkOf: (id: number) => number): void {
    for (const node of this.nodes.values()) node.link = linkOf(node.id);
    this.#topologyChanged();
  }

  /** Kill node `n`'s daemon (see `MemoryCluster.crashNode`). */
  crashNode(n: number): void {
    const node = this.node(n);
    if (!node.up) return;
    node.up = false;
    node.incarnation++;
    node.quorate = false;
    for (const conn of [...this.#conns]) {
      if (conn.local.nodeid !== n) continue;
      this.#kill(
        conn,
        new ConnectionLostError(`node ${n}'s corosync stopped (MemoryCluster.crashNode)`),
      );
    }
    this.#topologyChanged();
  }

  /** Start node `n`'s daemon again (see `MemoryCluster.restartNode`). */
  restartNode(n: number): void {
    const node = this.node(n);
    if (node.up) return;
    node.up = true;
    this.#topologyChanged();
  }

  /** Kill a process (see `MemoryCluster.crashProcess`). */
  crashProcess(proc: SimProcess): void {
    if (proc.crashed) return;
    proc.crashed = true;
    for (const conn of [...proc.conns]) {
      this.#kill(
        conn,
        new ConnectionLostError(`process ${proc.pid} was killed (MemoryCluster.crashProcess)`),
      );
    }
    this.#schedule();
  }

  /** Stop a process: events for it queue up until `resume`. */
  pause(proc: SimProcess): void {
    proc.paused = true;
    for (const conn of proc.conns) this.#delivery.ready.delete(conn);
  }

  /** Continue a paused process. */
  resume(proc: SimProcess): void {
    if (!proc.paused) return;
    proc.paused = false;
    for (const conn of proc.conns) this.#delivery.markReady(conn);
    this.#schedule();
  }

  // ---------------------------------------------------------------- running

  /** Whether anything is pending in the engine (not counting timers). */
  get busy(): boolean {
    if (
      this.#reconfigureIn >= 0 ||
      this.#delivery.ready.size > 0 ||
      this.#lost.length > 0 ||
      this.#writable.length > 0
    ) {
      return true;
    }
    for (const c of this.#components) if (!c.syncing && c.pending.length > 0) return true;
    return false;
  }

  /** Stop everything: every connection is lost, nothing more runs. */
  destroy(): void {
    if (this.#destroyed) return;
    for (const conn of [...this.#conns]) {
      this.#kill(conn, new ConnectionLostError('the memory cluster was destroyed'));
    }
    this.#runLost();
    this.#destroyed = true;
    if (this.#realTimer) clearTimeout(this.#realTimer);
  }

  /** A `hold()` is not released yet. */
  get held(): boolean {
    return this.#holds > 0;
  }

  /** Take no step until the function returned is called (see `MemoryCluster.holdEngine`). */
  hold(): () => void {
    this.#holds++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holds > 0 || !this.scheduled) return;
      this.scheduled = false;
      this.#schedule();
    };
  }

  #schedule(): void {
    if (this.scheduled || this.#destroyed) return;
    this.scheduled = true;
    if (this.#holds > 0) return; // the last release schedules it
    if (this.#config.realTime) {
      this.#realTimer = setTimeout(() => this.step(), 1 + this.#rng.int(3));
    } else {
      setImmediate(() => {
        if (this.scheduled) this.step();
      });
    }
  }

  /** One step of the engine: faults take effect, components order, connections receive. */
  step(): void {
    if (this.#holds > 0) return; // still due: the last release schedules it
    this.scheduled = false;
    if (this.#destroyed) return;
    this.#runLost();
    if (this.#reconfigureIn >= 0 && this.#reconfigureIn-- === 0) this.#reconfigure();
    for (const comp of this.#components) {
      if (comp.syncing || comp.pending.length === 0) continue;
      orderPending(comp, this.#rng, this.#delivery);
    }
    this.#delivery.deliverRound(this.#rng);
    this.#runWritable();
    if (this.busy) this.#schedule();
  }

  #runLost(): void {
    while (this.#lost.length > 0) {
      const lost = this.#lost;
      this.#lost = [];
      for (const { conn, error } of lost) conn.sink.lost(error);
    }
  }

  #runWritable(): void {
    while (this.#writable.length > 0) {
      const list = this.#writable;
      this.#writable = [];
      for (const conn of list) {
        if (conn.closed || conn.dead || !conn.wantsWritable) continue;
        const comp = componentOf(this.#components, this.nodes, conn.local.nodeid);
        if (!comp || this.#full(comp)) continue;
        conn.wantsWritable = false;
        conn.sink.writable();
      }
    }
  }

  // ---------------------------------------------------------------- SimEngine (driver calls)

  join(conn: SimConnection, name: Uint8Array): void {
    this.#usable(conn, 'cpg_join');
    if (conn.state !== 'unjoined' || conn.used) {
      throw new AlreadyJoinedError(
        'cpg_join: this connection has joined before (CS_ERR_EXIST); corosync 3.1.7 needs a new connection to rejoin',
      );
    }
    const key = keyOf(name);
    const proc = conn.process as SimProcess;
    if (proc.claims.has(key)) {
      throw new AlreadyJoinedError(
        'cpg_join: this process already has a member in that group (CS_ERR_EXIST)',
      );
    }
    proc.claims.set(key, conn);
    conn.used = true;
    conn.state = 'joining';
    conn.key = key;
    conn.name = name.slice();
    this.#enqueue(conn, { kind: 'join', conn, key });
  }

  leave(conn: SimConnection): void {
    this.#usable(conn, 'cpg_leave');
    if (conn.state === 'joining') {
      throw new CorosyncError('cpg_leave: the join is still in progress (CS_ERR_BUSY)', {
        csError: CsError.BUSY,
      });
    }
    if (conn.state !== 'joined')
      throw new NotJoinedError('cpg_leave: not a member of a group (CS_ERR_NOT_EXIST)');
    conn.state = 'leaving';
    this.#enqueue(conn, { kind: 'leave', conn, key: conn.key!, reason: 'leave' });
  }

  mcast(conn: SimConnection, parts: readonly Uint8Array[]): boolean {
    this.#usable(conn, 'cpg_mcast_joined');
    if (parts.length > 63)
      throw new RangeError('mcast: at most 63 parts (libcpg has room for 64 iovecs)');
    // corosync accepts and silently drops a send from a member that is not (or no longer) in a group.
    if (conn.state !== 'joining' && conn.state !== 'joined') return true;
    const comp = componentOf(this.#components, this.nodes, conn.local.nodeid);
    if (!comp || comp.syncing || this.#full(comp)) {
      this.stats.tryAgain++;
      if (!conn.wantsWritable) {
        conn.wantsWritable = true;
        if (comp && !comp.syncing) this.#writable.push(conn);
      }
      return false;
    }
    const data = concat(parts, this.#slab);
    const max = this.#config.maxMessageSize;
    if (data.length > max) throw new MessageTooLargeError(data.length, max);
    comp.pending.push({ kind: 'mcast', conn, key: conn.key!, data });
    comp.pendingBytes += data.length;
    this.#schedule();
    return true;
  }

  members(conn: SimConnection): MemberId[] {
    this.#usable(conn, 'cpg_membership_get');
    const comp = componentOf(this.#components, this.nodes, conn.local.nodeid);
    if (!comp || conn.key === null) return [];
    return (comp.views.get(conn.key) ?? []).map((c) => c.local);
  }

  groups(conn: SimConnection): GroupListing[] {
    this.#usable(conn, 'cpg_iteration_initialize');
    const comp = componentOf(this.#components, this.nodes, conn.local.nodeid);
    if (!comp) return [];
    return [...comp.views.entries()]
      .filter(([, list]) => list.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, list]) => ({ group: bytesOfKey(key), members: list.map((c) => c.local) }));
  }

  quorate(conn: SimConnection): boolean | undefined {
    this.#usable(conn, 'quorum_getquorate');
    return this.node(conn.local.nodeid).quorate;
  }

  dispatch(conn: SimConnection): boolean {
    this.#usable(conn, 'cpg_dispatch');
    const n = conn.backlog;
    if (n === 0) return false;
    this.#delivery.deliver(conn, n);
    return true;
  }

  close(conn: SimConnection): void {
    if (conn.closed) return;
    this.#detach(conn);
    this.#schedule();
  }

  #usable(conn: SimConnection, call: string): void {
    if (conn.dead)
      throw new ConnectionLostError(`${call}: the connection to corosync is gone (CS_ERR_LIBRARY)`);
    if (conn.closed)
      throw new GroupClosedError(`${call}: the handle was finalized (CS_ERR_BAD_HANDLE)`);
  }

  /** Close a connection: a member that did not leave is gone with `procdown`. */
  #detach(conn: SimConnection): void {
    conn.closed = true;
    const proc = conn.process as SimProcess;
    proc.conns.delete(conn);
    this.#conns.delete(conn);
    conn.inbox = [];
    conn.head = 0;
    if (conn.key !== null && proc.claims.get(conn.key) === conn) proc.claims.delete(conn.key);
    this.#delivery.forget(conn);
    const node = this.nodes.get(conn.local.nodeid)!;
    if ((conn.state === 'joining' || conn.state === 'joined') && node.up) {
      this.#enqueue(conn, { kind: 'leave', conn, key: conn.key!, reason: 'procdown' });
    }
    conn.state = 'unjoined';
  }

  #kill(conn: SimConnection, error: CpgError): void {
    if (conn.closed) return;
    this.#detach(conn);
    conn.dead = true;
    this.#lost.push({ conn, error });
    this.#schedule();
  }

  #enqueue(conn: SimConnection, item: OrderedItem): void {
    const comp = componentOf(this.#components, this.nodes, conn.local.nodeid);
    // During a membership change (and on a node that just restarted, in no component until
    // the reconfiguration) requests wait for the new configuration, as corosync holds IPC
    // requests during sync. Ordered in the old one, a join could reach the joiner's side
    // only, and show the joiner a member list that the members on the other side never get.
    if (comp && !comp.syncing) comp.pending.push(item);
    else this.#limbo.push(item);
    this.#schedule();
  }

  #full(comp: Component): boolean {
    return (
      comp.pending.length >= this.#config.queueLimit || comp.pendingBytes >= this.#config.queueBytes
    );
  }

  // ---------------------------------------------------------------- membership changes

  /** Faults start a sync: affected components refuse sends (try again) until it ends. */
  #topologyChanged(): void {
    const target = targetComponents(this.nodes.values());
    for (const c of this.#components) if (!isCurrent(c, target, this.nodes)) c.syncing = true;
    if (this.#reconfigureIn < 0) this.#reconfigureIn = 1 + this.#rng.int(3);
    this.#schedule();
  }

  /** The new configuration takes effect (see `reconfigure`). */
  #reconfigure(): void {
    this.#reconfigureIn = -1;
    const next = reconfigure(this.#components, targetComponents(this.nodes.values()), this.#rng, {
      nodes: this.nodes,
      conns: this.#conns,
      expectedVotes: this.#config.expectedVotes,
      ringSeq: this.#ringSeq,
    });
    if (next.changed) this.stats.reconfigurations++;
    this.#components = next.components;
    this.#ringSeq = next.ringSeq;
    perform(next.effects, this.#delivery);
    this.#releaseLimbo();
    this.#wakeBlocked();
  }

  /**
   * Requests that waited for the reconfiguration go to their node's component, in order;
   * those of a daemon that crashed meanwhile are gone with it.
   */
  #releaseLimbo(): void {
    const limbo = this.#limbo;
    this.#limbo = [];
    for (const item of limbo) {
      if (isStale(item.conn, this.nodes)) continue;
      const comp = componentOf(this.#components, this.nodes, item.conn.local.nodeid);
      if (comp) comp.pending.push(item);
      else this.#limbo.push(item);
    }
  }

  /** Connections that were told to try again may send now. */
  #wakeBlocked(): void {
    for (const conn of this.#conns) if (conn.wantsWritable) this.#writable.push(conn);
  }
}
