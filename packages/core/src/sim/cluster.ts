/**
 * The in-memory cluster: corosync CPG's semantics in one process, with seeded faults and a
 * virtual clock. See `MemoryCluster`.
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import type {
  ConnectOptions,
  DriverSink,
  GroupDriver,
  GroupListing,
  Transport,
} from '../driver.js';
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
import { Group, type GroupOptions } from '../group.js';
import type { GroupTransport } from '../transport.js';
import type { Clock, MemberChange, MemberId, RingId, TimerHandle } from '../types.js';
import {
  SimConnection,
  type InboxItem,
  type OrderedItem,
  type SimEngine,
  type SimProcessRef,
} from './connection.js';
import { Slab } from '../slab.js';
import { Random } from './random.js';
import { VirtualClock } from './virtual-clock.js';

/** corosync 3.1.7's `cpg_max_atomic_msgsize_get()`. */
export const COROSYNC_MAX_MESSAGE_SIZE = 1_047_552;

/** Options of a `MemoryCluster`. */
export interface MemoryClusterOptions {
  /**
   * Number of nodes, with ids 1..N.
   * @defaultValue 3
   */
  readonly nodes?: number;
  /**
   * Seed of every random choice (delivery interleaving, what a partition cuts off in
   * flight). The same seed and the same calls give the same event sequence.
   * @defaultValue 1
   */
  readonly seed?: number | string;
  /**
   * votequorum's expected votes (one vote per node): a component is quorate when it has
   * more than `expectedVotes / 2` nodes.
   * @defaultValue the number of nodes
   */
  readonly expectedVotes?: number;
  /**
   * Run on the real event loop with small real delays and the real clock (for demos),
   * instead of the virtual clock.
   * @defaultValue false
   */
  readonly realTime?: boolean;
  /**
   * The engine's atomic message size.
   * @defaultValue 1,047,552 (corosync's)
   */
  readonly maxMessageSize?: number;
  /**
   * Messages (ordered items) a component holds before `mcast` says try again.
   * @defaultValue 512
   */
  readonly queueLimit?: number;
  /**
   * Bytes a component holds before `mcast` says try again.
   * @defaultValue 8 MiB
   */
  readonly queueBytes?: number;
  /**
   * Virtual ms by which quorum events lag behind the membership change that caused them. On
   * corosync they come from libquorum, a connection of its own, so they are not ordered with
   * the CPG events: a member can see a merge (confchg, totem) while its node still reports no
   * quorum, and its messages of that moment say so. 0 delivers each right after its totem event.
   * @defaultValue 0
   */
  readonly quorumDelay?: number;
  /**
   * Keep a running SHA-256 of every delivered event (see `traceHash()`).
   * @defaultValue false
   */
  readonly trace?: boolean;
}

/** Options of `settle`. */
export interface SettleOptions {
  /**
   * Also move virtual time forward to each pending timer, firing them, until neither work
   * nor timers remain (at most `maxTime` virtual ms ahead).
   * @defaultValue false
   */
  readonly advanceTime?: boolean;
  /**
   * With `advanceTime`: do not advance further than this many virtual ms.
   * @defaultValue 3,600,000
   */
  readonly maxTime?: number;
}

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

interface SimNode {
  readonly id: number;
  up: boolean;
  /**
   * How many times the node's daemon was started: `crashNode` ends an incarnation. A
   * component holds a node's incarnation, so a crash followed by a restart before the
   * reconfiguration ran is still a membership change (corosync: the restarted daemon is not
   * in the transitional list, so its old processes leave with `nodedown`).
   */
  incarnation: number;
  link: number;
  quorate: boolean;
}

class SimProcess implements SimProcessRef {
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
type Views = Map<string, SimConnection[]>;

interface Component {
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

function compareConn(a: SimConnection, b: SimConnection): number {
  return a.local.nodeid - b.local.nodeid || a.local.pid - b.local.pid;
}

function keyOf(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

function bytesOfKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

/** A `Transport` for one simulated process on one node of a `MemoryCluster`. */
export interface MemoryTransport extends Transport {
  readonly kind: 'memory';
  /** The node this process runs on. */
  readonly nodeid: number;
  /** The process id its connections report. */
  readonly pid: number;
}

/**
 * An in-memory corosync cluster: nodes 1..N, each running simulated processes that join
 * process groups. It reproduces corosync CPG's semantics (one agreed order per component,
 * self-delivery, membership changes in the same stream with corosync's reasons and
 * callback shapes, totem and quorum events, try-again around membership changes, virtual
 * synchrony for messages in flight) and lets tests inject faults: partitions, node and
 * process crashes, paused processes. Everything random comes from `seed`, and time is
 * virtual (`clock`), so runs are reproducible.
 *
 * @example
 * ```ts
 * const cluster = new MemoryCluster({ nodes: 3, seed: 42 });
 * const a = cluster.transport(1);
 * const b = cluster.transport(2);
 * await a.join('orders');
 * await b.join('orders');
 * cluster.partition([1], [2, 3]);
 * await cluster.settle();
 * ```
 */
export class MemoryCluster implements SimEngine {
  /** The cluster's clock: a `VirtualClock`, or the real clock in real-time mode. */
  readonly clock: Clock;
  /** Node ids, 1..N. */
  readonly nodeIds: readonly number[];
  /** The atomic message size of every connection. */
  readonly maxMessageSize: number;
  /** Activity counters. */
  readonly stats: ClusterStats = { messages: 0, deliveries: 0, tryAgain: 0, reconfigurations: 0 };

  readonly #virtual: VirtualClock | undefined;
  readonly #realTime: boolean;
  readonly #rng: Random;
  readonly #expectedVotes: number;
  readonly #queueLimit: number;
  readonly #queueBytes: number;
  readonly #nodes = new Map<number, SimNode>();
  readonly #processes: SimProcess[] = [];
  readonly #conns = new Set<SimConnection>();
  readonly #groupHandles = new WeakMap<object, SimProcess>();
  #components: Component[] = [];
  readonly #ready = new Set<SimConnection>();
  /**
   * Connections that left a group but still have their handle: corosync 3.1.7 keeps such a
   * handle in LEAVE_STARTED and goes on delivering that group's messages and confchgs to it
   * until it is finalized.
   */
  readonly #lingering = new Map<string, Set<SimConnection>>();
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
  #scheduled = false;
  #realTimer: ReturnType<typeof setTimeout> | undefined;
  #hash: Hash | undefined;
  readonly #quorumDelay: number;
  readonly #slab = new Slab();
  #destroyed = false;

  /** Create the cluster: all nodes up, one component, quorate. */
  constructor(options: MemoryClusterOptions = {}) {
    const n = options.nodes ?? 3;
    if (!Number.isInteger(n) || n < 1) throw new RangeError('nodes must be a positive integer');
    this.#realTime = options.realTime ?? false;
    if (this.#realTime) {
      const origin = performance.now();
      this.clock = {
        now: () => performance.now() - origin,
        wallNow: () => Date.now(),
        setTimeout(fn: () => void, ms: number): TimerHandle {
          const t = setTimeout(fn, Math.max(0, ms));
          return { cancel: () => clearTimeout(t) };
        },
      };
    } else {
      this.#virtual = new VirtualClock();
      this.clock = this.#virtual;
    }
    this.#rng = new Random(options.seed ?? 1);
    this.#expectedVotes = options.expectedVotes ?? n;
    this.#queueLimit = options.queueLimit ?? 512;
    this.#queueBytes = options.queueBytes ?? 8 * 1024 * 1024;
    this.maxMessageSize = options.maxMessageSize ?? COROSYNC_MAX_MESSAGE_SIZE;
    if (options.trace) this.#hash = createHash('sha256');
    this.#quorumDelay = options.quorumDelay ?? 0;
    if (!(this.#quorumDelay >= 0)) throw new RangeError('quorumDelay must be >= 0');
    const ids: number[] = [];
    for (let i = 1; i <= n; i++) {
      ids.push(i);
      this.#nodes.set(i, { id: i, up: true, incarnation: 0, link: 0, quorate: false });
    }
    this.nodeIds = ids;
    const comp = this.#newComponent(ids, new Map());
    this.#components = [comp];
    for (const id of ids) this.#nodes.get(id)!.quorate = comp.quorate;
  }

  // ---------------------------------------------------------------- processes and members

  /**
   * A `Transport` for a new process on node `n` (a distinct pid). All connections opened
   * through it belong to that process, as in corosync: one member per group per process.
   */
  node(n: number): MemoryTransport {
    const node = this.#node(n);
    const proc = new SimProcess(this.#nextPid++, node.id);
    this.#processes.push(proc);
    return {
      kind: 'memory',
      clock: this.clock,
      nodeid: node.id,
      pid: proc.pid,
      connect: (sink: DriverSink, options?: ConnectOptions) => this.#connect(proc, sink, options),
    };
  }

  /**
   * A new unjoined group member (a `Group`) for a new process on node `n`.
   * @example
   * ```ts
   * const member = cluster.transport(2);
   * await member.join('orders');
   * ```
   */
  transport(n: number, options: GroupOptions = {}): Group {
    const t = this.node(n);
    const group = new Group(t, options);
    this.#groupHandles.set(group, this.#processes[this.#processes.length - 1]!);
    return group;
  }

  #connect(proc: SimProcess, sink: DriverSink, options?: ConnectOptions): Promise<GroupDriver> {
    if (this.#destroyed)
      return Promise.reject(new CorosyncNotRunningError('the memory cluster was destroyed'));
    if (proc.crashed) {
      return Promise.reject(
        new ConnectionLostError(`process ${proc.pid} on node ${proc.nodeid} was crashed`),
      );
    }
    const node = this.#node(proc.nodeid);
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
      this.maxMessageSize,
      node.incarnation,
    );
    proc.conns.add(conn);
    this.#conns.add(conn);
    return Promise.resolve(conn);
  }

  #processOf(member: GroupTransport | MemberId): SimProcess {
    const p = this.#groupHandles.get(member);
    if (p) return p;
    const id = 'nodeid' in member ? member : member.self;
    const found = this.#processes.find((x) => x.nodeid === id.nodeid && x.pid === id.pid);
    if (!found) throw new RangeError(`no process ${id.nodeid}:${id.pid} in this cluster`);
    return found;
  }

  // ---------------------------------------------------------------- faults

  /**
   * Split the cluster: each argument lists the nodes of one side. Nodes not listed form one
   * more side together. Each side goes on on its own (CPG runs while inquorate) and sees the
   * others leave with `nodedown`.
   * @example
   * ```ts
   * cluster.partition([1], [2, 3]);
   * ```
   */
  partition(...sides: number[][]): void {
    const seen = new Set<number>();
    sides.forEach((side, i) => {
      for (const id of side) {
        this.#node(id);
        if (seen.has(id)) throw new RangeError(`node ${id} is listed in two sides`);
        seen.add(id);
        this.#nodes.get(id)!.link = i + 1;
      }
    });
    for (const node of this.#nodes.values()) if (!seen.has(node.id)) node.link = sides.length + 1;
    this.#topologyChanged();
  }

  /** Reconnect every side: the sides merge and see each other come back with `nodeup`. */
  heal(): void {
    for (const node of this.#nodes.values()) node.link = 0;
    this.#topologyChanged();
  }

  /**
   * Kill node `n`'s daemon: its processes lose their connections (`ConnectionLostError`),
   * the rest of its component sees their members leave with `nodedown`.
   */
  crashNode(n: number): void {
    const node = this.#node(n);
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

  /**
   * Start node `n`'s daemon again: it rejoins whatever side its links reach, with no member
   * until new processes join (its crashed processes never come back), and the quorum of the
   * component it joins. Its clients' requests wait until it is in the ring.
   */
  restartNode(n: number): void {
    const node = this.#node(n);
    if (node.up) return;
    node.up = true;
    this.#topologyChanged();
  }

  /**
   * Kill a member's process (`kill -9`): the others see it leave with `procdown`; messages
   * it sent before are still delivered. Its own `Group` closes with `ConnectionLostError`.
   */
  crashProcess(member: GroupTransport | MemberId): void {
    const proc = this.#processOf(member);
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

  /** Stop a member's process (SIGSTOP): events for it queue up until `resume`. */
  pause(member: GroupTransport | MemberId): void {
    const proc = this.#processOf(member);
    proc.paused = true;
    for (const conn of proc.conns) this.#ready.delete(conn);
  }

  /** Continue a paused process: its queued events are delivered. */
  resume(member: GroupTransport | MemberId): void {
    const proc = this.#processOf(member);
    if (!proc.paused) return;
    proc.paused = false;
    for (const conn of proc.conns) this.#markReady(conn);
    this.#schedule();
  }

  /** The nodes of each current component, e.g. `[[1], [2, 3]]` (down nodes are in none). */
  components(): number[][] {
    return this.#components.map((c) => [...c.nodes]);
  }

  /** Whether node `n` is up and in a quorate component. */
  isQuorate(n: number): boolean {
    return this.#node(n).quorate;
  }

  /** Whether node `n`'s daemon is running. */
  isUp(n: number): boolean {
    return this.#node(n).up;
  }

  /** The hex SHA-256 of every event delivered so far (needs `trace: true`). */
  traceHash(): string {
    if (!this.#hash) throw new Error('create the cluster with { trace: true } to get a trace hash');
    return this.#hash.copy().digest('hex');
  }

  // ---------------------------------------------------------------- running

  /** Whether anything is pending in the engine (not counting timers). */
  get busy(): boolean {
    if (
      this.#reconfigureIn >= 0 ||
      this.#ready.size > 0 ||
      this.#lost.length > 0 ||
      this.#writable.length > 0
    ) {
      return true;
    }
    for (const c of this.#components) if (!c.syncing && c.pending.length > 0) return true;
    return false;
  }

  /**
   * Run until nothing is pending: every sent message delivered, every membership change
   * done, and the code reacting to them (promises, microtasks) has run. With
   * `advanceTime`, virtual time then jumps to each pending timer in turn, until no work
   * and no timer remains.
   */
  async settle(options: SettleOptions = {}): Promise<void> {
    const limit = this.clock.now() + (options.maxTime ?? 3_600_000);
    for (let spins = 0; ; spins++) {
      if (spins > 10_000_000)
        throw new Error('MemoryCluster.settle: the cluster never became idle');
      if (this.#realTime) {
        await new Promise((r) => setTimeout(r, 2));
      } else {
        if (this.#scheduled) this.#round();
        await new Promise((r) => setImmediate(r));
      }
      if (this.busy || this.#scheduled) continue;
      // One more turn, so that code woken by the last events runs and may send again.
      await new Promise((r) => setImmediate(r));
      if (this.busy || this.#scheduled) continue;
      if (options.advanceTime && this.#virtual) {
        const at = this.#virtual.nextTimerAt();
        if (at !== undefined && at <= limit) {
          this.#virtual.fireNext(limit);
          continue;
        }
      }
      return;
    }
  }

  /**
   * Move virtual time forward by `ms`, firing due timers one at a time and settling the
   * cluster after each (messages take no virtual time).
   */
  async advance(ms: number): Promise<void> {
    const clock = this.#virtual;
    if (!clock) throw new Error('advance() needs the virtual clock (realTime: false)');
    const target = clock.now() + ms;
    await this.settle();
    while (clock.fireNext(target)) await this.settle();
    clock.advance(target - clock.now());
    await this.settle();
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

  #schedule(): void {
    if (this.#scheduled || this.#destroyed) return;
    this.#scheduled = true;
    if (this.#realTime) {
      this.#realTimer = setTimeout(() => this.#round(), 1 + this.#rng.int(3));
    } else {
      setImmediate(() => {
        if (this.#scheduled) this.#round();
      });
    }
  }

  /** One step of the engine: faults take effect, components order, connections receive. */
  #round(): void {
    this.#scheduled = false;
    if (this.#destroyed) return;
    this.#runLost();
    if (this.#reconfigureIn >= 0 && this.#reconfigureIn-- === 0) this.#reconfigure();
    for (const comp of this.#components) {
      if (comp.syncing || comp.pending.length === 0) continue;
      this.#order(comp);
    }
    this.#deliverRound();
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
        const comp = this.#componentOf(conn.local.nodeid);
        if (!comp || this.#full(comp)) continue;
        conn.wantsWritable = false;
        conn.sink.writable();
      }
    }
  }

  // ---------------------------------------------------------------- SimEngine (driver calls)

  /** @internal */
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

  /** @internal */
  leave(conn: SimConnection): void {
    this.#usable(conn, 'cpg_leave');
    if (conn.state === 'joining') {
      throw new CorosyncError('cpg_leave: the join is still in progress (CS_ERR_BUSY)', {
        code: CsError.BUSY,
      });
    }
    if (conn.state !== 'joined')
      throw new NotJoinedError('cpg_leave: not a member of a group (CS_ERR_NOT_EXIST)');
    conn.state = 'leaving';
    this.#enqueue(conn, { kind: 'leave', conn, key: conn.key!, reason: 'leave' });
  }

  /** @internal */
  mcast(conn: SimConnection, parts: readonly Uint8Array[]): boolean {
    this.#usable(conn, 'cpg_mcast_joined');
    if (parts.length > 63)
      throw new RangeError('mcast: at most 63 parts (libcpg has room for 64 iovecs)');
    // corosync accepts and silently drops a send from a member that is not (or no longer) in a group.
    if (conn.state !== 'joining' && conn.state !== 'joined') return true;
    const comp = this.#componentOf(conn.local.nodeid);
    if (!comp || comp.syncing || this.#full(comp)) {
      this.stats.tryAgain++;
      if (!conn.wantsWritable) {
        conn.wantsWritable = true;
        if (comp && !comp.syncing) this.#writable.push(conn);
      }
      return false;
    }
    let data: Uint8Array;
    if (parts.length === 1) {
      const p = parts[0]!;
      data = this.#slab.copy(p, 0, p.length);
    } else {
      let size = 0;
      for (const p of parts) size += p.length;
      data = new Uint8Array(size);
      let pos = 0;
      for (const p of parts) {
        data.set(p, pos);
        pos += p.length;
      }
    }
    if (data.length > this.maxMessageSize)
      throw new MessageTooLargeError(data.length, this.maxMessageSize);
    comp.pending.push({ kind: 'mcast', conn, key: conn.key!, data });
    comp.pendingBytes += data.length;
    this.#schedule();
    return true;
  }

  /** @internal */
  members(conn: SimConnection): MemberId[] {
    this.#usable(conn, 'cpg_membership_get');
    const comp = this.#componentOf(conn.local.nodeid);
    if (!comp || conn.key === null) return [];
    return (comp.views.get(conn.key) ?? []).map((c) => c.local);
  }

  /** @internal */
  groups(conn: SimConnection): GroupListing[] {
    this.#usable(conn, 'cpg_iteration_initialize');
    const comp = this.#componentOf(conn.local.nodeid);
    if (!comp) return [];
    return [...comp.views.entries()]
      .filter(([, list]) => list.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, list]) => ({ group: bytesOfKey(key), members: list.map((c) => c.local) }));
  }

  /** @internal */
  quorate(conn: SimConnection): boolean | undefined {
    this.#usable(conn, 'quorum_getquorate');
    return this.#node(conn.local.nodeid).quorate;
  }

  /** @internal */
  dispatch(conn: SimConnection): boolean {
    this.#usable(conn, 'cpg_dispatch');
    const n = conn.backlog;
    if (n === 0) return false;
    this.#deliver(conn, n);
    return true;
  }

  /** @internal */
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
    this.#ready.delete(conn);
    conn.inbox = [];
    conn.head = 0;
    if (conn.key !== null && proc.claims.get(conn.key) === conn) proc.claims.delete(conn.key);
    if (conn.key !== null) this.#lingering.get(conn.key)?.delete(conn);
    const node = this.#nodes.get(conn.local.nodeid)!;
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
    const comp = this.#componentOf(conn.local.nodeid);
    // During a membership change (and on a node that just restarted, in no component until
    // the reconfiguration) requests wait for the new configuration, as corosync holds IPC
    // requests during sync. Ordered in the old one, a join could reach the joiner's side
    // only, and show the joiner a member list that the members on the other side never get.
    if (comp && !comp.syncing) comp.pending.push(item);
    else this.#limbo.push(item);
    this.#schedule();
  }

  #full(comp: Component): boolean {
    return comp.pending.length >= this.#queueLimit || comp.pendingBytes >= this.#queueBytes;
  }

  // ---------------------------------------------------------------- ordering

  /** Order a seeded prefix of a component's pending items (all of them, most of the time). */
  #order(comp: Component): void {
    const pending = comp.pending;
    const n = this.#rng.chance(0.75) ? pending.length : 1 + this.#rng.int(pending.length);
    const items = n === pending.length ? pending : pending.slice(0, n);
    comp.pending = n === pending.length ? [] : pending.slice(n);
    for (const item of items) {
      if (item.kind === 'mcast') comp.pendingBytes -= item.data.length;
      this.#apply(item, comp.views, comp.nodeSet, comp.ring);
    }
  }

  /**
   * Apply one ordered item to a group view, delivering to the view's live connections on
   * `nodes` (the part of the old configuration that received it).
   */
  #apply(item: OrderedItem, views: Views, nodes: ReadonlySet<number>, ring: RingId): void {
    if (item.kind === 'mcast') {
      const list = views.get(item.key);
      if (!list) return;
      this.stats.messages++;
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!;
        if (!c.closed && nodes.has(c.local.nodeid)) this.#push(c, item);
      }
      this.#pushLingering(item.key, nodes, item);
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
      const here = nodes.has(conn.local.nodeid);
      if (here && conn.state === 'joining') conn.state = 'joined';
      const event: InboxItem = {
        kind: 'confchg',
        members: list.map((c) => c.local),
        joined: [{ ...conn.local, reason: 'join' }],
        left: [],
      };
      for (const c of list) if (!c.closed && nodes.has(c.local.nodeid)) this.#push(c, event);
      this.#pushLingering(item.key, nodes, event);
      if (here && !conn.closed && !conn.initialTotemSent) {
        conn.initialTotemSent = true;
        this.#push(conn, { kind: 'totem', ring, nodes: this.#ringNodes(nodes) });
        this.#pushQuorum(conn, this.#node(conn.local.nodeid).quorate);
      }
      return;
    }
    // leave / procdown
    if (!list) return;
    const at = list.indexOf(conn);
    if (at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) views.delete(item.key);
    const event: InboxItem = {
      kind: 'confchg',
      members: list.map((c) => c.local),
      joined: [],
      left: [{ ...conn.local, reason: item.reason }],
    };
    for (const c of list) if (!c.closed && nodes.has(c.local.nodeid)) this.#push(c, event);
    this.#pushLingering(item.key, nodes, event);
    if (item.reason === 'leave' && !conn.closed && nodes.has(conn.local.nodeid)) {
      this.#push(conn, event);
      // corosync 3.1.7 keeps the pid+group claim while the handle lives (rejoin fails), and
      // goes on delivering the group's events to it.
      conn.state = 'unjoined';
      let set = this.#lingering.get(item.key);
      if (!set) {
        set = new Set();
        this.#lingering.set(item.key, set);
      }
      set.add(conn);
    }
  }

  /** Deliver to the connections that left `key` but still hold their handle, on `nodes`. */
  #pushLingering(key: string, nodes: ReadonlySet<number>, item: InboxItem): void {
    const set = this.#lingering.get(key);
    if (!set || set.size === 0) return;
    for (const c of set) if (!c.closed && nodes.has(c.local.nodeid)) this.#push(c, item);
  }

  #ringNodes(nodes: ReadonlySet<number>): number[] {
    return [...nodes].filter((id) => this.#nodes.get(id)!.up).sort((a, b) => a - b);
  }

  #push(conn: SimConnection, item: InboxItem): void {
    conn.inbox.push(item);
    if (!conn.manual && !(conn.process as SimProcess).paused) this.#ready.add(conn);
  }

  /** A quorum event for `conn`: now, or `quorumDelay` virtual ms later (see the option). */
  #pushQuorum(conn: SimConnection, quorate: boolean): void {
    const item: InboxItem = { kind: 'quorum', quorate };
    if (this.#quorumDelay === 0) {
      this.#push(conn, item);
      return;
    }
    this.clock.setTimeout(() => {
      if (this.#destroyed || conn.closed || this.#stale(conn)) return;
      this.#push(conn, item);
      this.#schedule();
    }, this.#quorumDelay);
  }

  #markReady(conn: SimConnection): void {
    if (!conn.manual && !conn.closed && conn.backlog > 0) this.#ready.add(conn);
  }

  /** Deliver to every ready connection, in a seeded rotation, a seeded part of its inbox. */
  #deliverRound(): void {
    if (this.#ready.size === 0) return;
    const ready = [...this.#ready];
    const start = this.#rng.int(ready.length);
    for (let k = 0; k < ready.length; k++) {
      const conn = ready[(start + k) % ready.length]!;
      if (!this.#ready.has(conn)) continue;
      const backlog = conn.backlog;
      const n = this.#rng.chance(0.75) ? backlog : 1 + this.#rng.int(backlog);
      this.#deliver(conn, n);
    }
  }

  /** Hand up to `n` inbox items to the connection's sink, in order. */
  #deliver(conn: SimConnection, n: number): void {
    const proc = conn.process as SimProcess;
    const hash = this.#hash;
    for (let i = 0; i < n; i++) {
      if (conn.closed || (proc.paused && !conn.manual) || conn.head >= conn.inbox.length) break;
      const item = conn.inbox[conn.head]!;
      conn.inbox[conn.head++] = undefined as unknown as InboxItem;
      this.stats.deliveries++;
      if (hash) this.#trace(hash, conn, item);
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
          conn.sink.quorum(item.quorate);
          break;
      }
    }
    if (conn.head >= conn.inbox.length) {
      conn.inbox = [];
      conn.head = 0;
      this.#ready.delete(conn);
    } else if (conn.head > 1024 && conn.head * 2 > conn.inbox.length) {
      conn.inbox = conn.inbox.slice(conn.head);
      conn.head = 0;
    }
  }

  #trace(hash: Hash, conn: SimConnection, item: InboxItem): void {
    const who = `${conn.id}@${conn.local.nodeid}:${conn.local.pid}`;
    switch (item.kind) {
      case 'mcast':
        hash.update(
          `${who} m ${item.conn.local.nodeid}:${item.conn.local.pid} ${item.data.length}\n`,
        );
        hash.update(item.data);
        break;
      case 'confchg': {
        const ids = (l: readonly MemberId[]): string =>
          l.map((m) => `${m.nodeid}:${m.pid}`).join(',');
        const ch = (l: readonly MemberChange[]): string =>
          l.map((m) => `${m.nodeid}:${m.pid}/${m.reason}`).join(',');
        hash.update(`${who} c [${ids(item.members)}] +[${ch(item.joined)}] -[${ch(item.left)}]\n`);
        break;
      }
      case 'totem':
        hash.update(`${who} t ${item.ring.nodeid}/${item.ring.seq} [${item.nodes.join(',')}]\n`);
        break;
      case 'quorum':
        hash.update(`${who} q ${item.quorate}\n`);
        break;
    }
  }

  // ---------------------------------------------------------------- membership changes

  #node(n: number): SimNode {
    const node = this.#nodes.get(n);
    if (!node)
      throw new RangeError(`no node ${n} in this cluster (nodes are ${this.nodeIds.join(', ')})`);
    return node;
  }

  /**
   * The component node `nodeid` is in, in its current incarnation (none while it is down, or
   * restarted and not yet in a ring).
   */
  #componentOf(nodeid: number): Component | undefined {
    const node = this.#nodes.get(nodeid);
    if (!node?.up) return undefined;
    for (const c of this.#components) {
      if (c.nodeSet.has(nodeid))
        return c.incarnations.get(nodeid) === node.incarnation ? c : undefined;
    }
    return undefined;
  }

  /** Whether node `id` is up in the incarnation component `c` knows. */
  #alive(c: Component, id: number): boolean {
    const node = this.#nodes.get(id)!;
    return node.up && c.incarnations.get(id) === node.incarnation;
  }

  /** Whether component `c` is exactly one of `target`, with every node in its incarnation. */
  #current(c: Component, target: readonly (readonly number[])[]): boolean {
    return (
      target.some((t) => t.length === c.nodes.length && t.every((id, i) => id === c.nodes[i])) &&
      c.nodes.every((id) => this.#alive(c, id))
    );
  }

  #newComponent(nodes: readonly number[], views: Views): Component {
    const quorate = nodes.length * 2 > this.#expectedVotes;
    return {
      nodes,
      nodeSet: new Set(nodes),
      incarnations: new Map(nodes.map((id) => [id, this.#nodes.get(id)!.incarnation])),
      ring: { nodeid: nodes[0] ?? 0, seq: ++this.#ringSeq },
      views,
      pending: [],
      pendingBytes: 0,
      syncing: false,
      quorate,
    };
  }

  /** The components the current links and up nodes make, each sorted, by lowest node. */
  #targetComponents(): number[][] {
    const byLink = new Map<number, number[]>();
    for (const node of [...this.#nodes.values()].sort((a, b) => a.id - b.id)) {
      if (!node.up) continue;
      const list = byLink.get(node.link) ?? [];
      list.push(node.id);
      byLink.set(node.link, list);
    }
    return [...byLink.values()].sort((a, b) => a[0]! - b[0]!);
  }

  /** Faults start a sync: affected components refuse sends (try again) until it ends. */
  #topologyChanged(): void {
    const target = this.#targetComponents();
    for (const c of this.#components) if (!this.#current(c, target)) c.syncing = true;
    if (this.#reconfigureIn < 0) this.#reconfigureIn = 1 + this.#rng.int(3);
    this.#schedule();
  }

  /**
   * The new configuration takes effect: in-flight items of each old component are
   * delivered where virtual synchrony allows, then each new component delivers, per
   * group, a `nodedown` confchg, then a `nodeup` confchg, then a totem event to every
   * connection, then quorum changes.
   */
  #reconfigure(): void {
    this.#reconfigureIn = -1;
    const target = this.#targetComponents();
    const old = this.#components;
    const kept: Component[] = [];
    const changedOld: Component[] = [];
    for (const c of old) {
      if (this.#current(c, target)) {
        c.syncing = false;
        kept.push(c);
      } else {
        changedOld.push(c);
      }
    }
    const newSets = target.filter(
      (t) =>
        !kept.some((k) => k.nodes.length === t.length && k.nodes.every((id, i) => id === t[i])),
    );
    if (changedOld.length === 0 && newSets.length === 0) {
      this.#releaseLimbo();
      this.#wakeBlocked();
      return;
    }
    this.stats.reconfigurations++;
    const setOf = (nodeid: number): number[] | undefined => newSets.find((s) => s.includes(nodeid));

    // 1. Each changed old component: sub-views per new component, in-flight items applied.
    interface Contribution {
      readonly from: Component;
      readonly views: Views;
    }
    // The nodes of new component `s` that pass from `o` to it (a node restarted since `o`
    // formed is not one of them: it arrives empty).
    const sideOf = (o: Component, s: readonly number[]): Set<number> =>
      new Set(s.filter((id) => o.nodeSet.has(id) && this.#alive(o, id)));
    const contributions = new Map<number[], Contribution[]>();
    for (const o of changedOld) {
      const subs = new Map<number[], Views>();
      const reach = new Map<number[], Set<number>>();
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
        const senderSet = this.#alive(o, from) ? setOf(from) : undefined;
        // A message in flight reaches every side or only its sender's. A membership change
        // in flight reaches every side: applied on one side only, it would give the members
        // there a member list that names members of the other sides who never get it.
        const madeIt = this.#rng.chance(0.5) || item.kind !== 'mcast';
        for (const [s, views] of subs) {
          if (!madeIt && s !== senderSet) continue;
          this.#apply(item, views, reach.get(s)!, o.ring);
        }
      }
      o.pending = [];
      o.pendingBytes = 0;
      for (const [s, views] of subs) {
        const list = contributions.get(s) ?? [];
        list.push({ from: o, views });
        contributions.set(s, list);
      }
    }

    // 2. Each new component: nodedown, nodeup, totem, quorum.
    const created: Component[] = [];
    for (const s of newSets) {
      const sSet = new Set(s);
      const contribs = contributions.get(s) ?? [];
      // nodedown: one confchg per group, for the members whose node is not with us.
      for (const { from, views } of contribs) {
        const side = sideOf(from, s);
        for (const key of [...views.keys()].sort()) {
          const list = views.get(key)!;
          const leftConns = list.filter((c) => !sSet.has(c.local.nodeid) || this.#stale(c));
          if (leftConns.length === 0) continue;
          const remaining = list.filter((c) => !leftConns.includes(c));
          if (remaining.length === 0) views.delete(key);
          else views.set(key, remaining);
          const event: InboxItem = {
            kind: 'confchg',
            members: remaining.map((c) => c.local),
            joined: [],
            left: leftConns.map((c) => ({ ...c.local, reason: 'nodedown' as const })),
          };
          for (const c of remaining) if (!c.closed) this.#push(c, event);
          this.#pushLingering(key, side, event);
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
            const event: InboxItem = {
              kind: 'confchg',
              members: all.map((c) => c.local),
              joined: joinedConns.map((c) => ({ ...c.local, reason: 'nodeup' as const })),
              left: [],
            };
            for (const c of mine) if (!c.closed) this.#push(c, event);
            this.#pushLingering(key, side, event);
          }
        }
      }
      const comp = this.#newComponent(s, merged);
      created.push(comp);
      // totem: to every connection on the component's nodes, joined or not.
      const totem: InboxItem = { kind: 'totem', ring: comp.ring, nodes: s };
      const conns = [...this.#conns].filter((c) => sSet.has(c.local.nodeid) && !c.closed);
      for (const c of conns) this.#push(c, totem);
      // quorum: to every connection whose node's quorum changed.
      for (const id of s) {
        const node = this.#nodes.get(id)!;
        if (node.quorate === comp.quorate) continue;
        node.quorate = comp.quorate;
        for (const c of conns) if (c.local.nodeid === id) this.#pushQuorum(c, comp.quorate);
      }
    }
    this.#components = [...kept, ...created].sort((a, b) => a.nodes[0]! - b.nodes[0]!);
    this.#releaseLimbo();
    this.#wakeBlocked();
  }

  /** Whether the daemon `conn` connected to has crashed since (restarted or not). */
  #stale(conn: SimConnection): boolean {
    return conn.incarnation !== this.#nodes.get(conn.local.nodeid)!.incarnation;
  }

  /**
   * Requests that waited for the reconfiguration go to their node's component, in order;
   * those of a daemon that crashed meanwhile are gone with it.
   */
  #releaseLimbo(): void {
    const limbo = this.#limbo;
    this.#limbo = [];
    for (const item of limbo) {
      if (this.#stale(item.conn)) continue;
      const comp = this.#componentOf(item.conn.local.nodeid);
      if (comp) comp.pending.push(item);
      else this.#limbo.push(item);
    }
  }

  /** Connections that were told to try again may send now. */
  #wakeBlocked(): void {
    for (const conn of this.#conns) if (conn.wantsWritable) this.#writable.push(conn);
  }
}
