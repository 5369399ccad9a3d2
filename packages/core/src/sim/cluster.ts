/**
 * The in-memory cluster: corosync CPG's semantics in one process, with seeded faults and a
 * virtual clock. See `MemoryCluster`, the public face; the engine behind it is `SimDaemon`
 * (daemon.ts), which orders (ordering.ts), delivers (delivery.ts) and reconfigures
 * (reconfigure.ts).
 * @module
 */
import { realClock } from '../clock.js';
import type { ConnectOptions, DriverSink, Transport } from '../driver.js';
import { Group, type GroupOptions } from '../group.js';
import type { GroupTransport } from '../transport.js';
import type { Clock, MemberId } from '../types.js';
import { SimDaemon, type ClusterStats } from './daemon.js';
import type { SimProcess } from './model.js';
import { Random } from './random.js';
import { VirtualClock } from './virtual-clock.js';

export type { ClusterStats } from './daemon.js';

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
  /**
   * What bounds the replicas' slices of background work (`Clock.sliceNow`) on the virtual
   * clock. `'virtual'`: virtual time, which stands still while code runs, so a job is never
   * cut by the clock and a seeded run takes the same turns however busy the machine is.
   * `'real'`: `performance.now()`, as in production, for benchmarks of event-loop stalls on
   * this cluster (a run then depends on the machine's load). Real-time mode always uses
   * `'real'`.
   * @defaultValue 'virtual'
   */
  readonly sliceTime?: 'virtual' | 'real';
}

/** Options of `runUntilIdle`. */
export interface RunUntilIdleOptions {
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
  /**
   * Real ms the engine may stay held (`holdEngine`, `clock.hold`) without a break before
   * `runUntilIdle` rejects, calling the hold leaked. Held real I/O (a write to a data
   * directory) takes milliseconds; a hold never released should fail with this message, not
   * with a test runner's timeout.
   * @defaultValue 15,000
   */
  readonly heldLimit?: number;
}

/** @deprecated Renamed `RunUntilIdleOptions` (with `settle` renamed `runUntilIdle`). */
export type SettleOptions = RunUntilIdleOptions;

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
 * const a = cluster.member(1);
 * const b = cluster.member(2);
 * await a.join('orders');
 * await b.join('orders');
 * cluster.partition([1], [2, 3]);
 * await cluster.runUntilIdle();
 * ```
 */
export class MemoryCluster {
  /** The cluster's clock: a `VirtualClock`, or the real clock (`realClock`) in real-time mode. */
  readonly clock: Clock;
  /** Node ids, 1..N. */
  readonly nodeIds: readonly number[];
  /** The atomic message size of every connection. */
  readonly maxMessageSize: number;
  /** Activity counters. */
  readonly stats: ClusterStats;

  readonly #virtual: VirtualClock | undefined;
  readonly #realTime: boolean;
  readonly #daemon: SimDaemon;
  readonly #groupHandles = new WeakMap<object, SimProcess>();

  /** Create the cluster: all nodes up, one component, quorate. */
  constructor(options: MemoryClusterOptions = {}) {
    const n = options.nodes ?? 3;
    if (!Number.isInteger(n) || n < 1) throw new RangeError('nodes must be a positive integer');
    this.#realTime = options.realTime ?? false;
    if (this.#realTime) {
      this.clock = realClock;
    } else {
      this.#virtual = new VirtualClock({
        realSlices: options.sliceTime === 'real',
        hold: () => this.#daemon.hold(),
      });
      this.clock = this.#virtual;
    }
    const quorumDelay = options.quorumDelay ?? 0;
    if (!(quorumDelay >= 0)) throw new RangeError('quorumDelay must be >= 0');
    this.maxMessageSize = options.maxMessageSize ?? COROSYNC_MAX_MESSAGE_SIZE;
    this.#daemon = new SimDaemon({
      nodes: n,
      clock: this.clock,
      rng: new Random(options.seed ?? 1),
      realTime: this.#realTime,
      expectedVotes: options.expectedVotes ?? n,
      maxMessageSize: this.maxMessageSize,
      queueLimit: options.queueLimit ?? 512,
      queueBytes: options.queueBytes ?? 8 * 1024 * 1024,
      quorumDelay,
      trace: options.trace ?? false,
    });
    this.stats = this.#daemon.stats;
    this.nodeIds = [...this.#daemon.nodes.keys()];
  }

  // ---------------------------------------------------------------- processes and members

  /**
   * A new unjoined group member (a `Group`) for a new process on node `n`.
   * @example
   * ```ts
   * const member = cluster.member(2);
   * await member.join('orders');
   * ```
   */
  member(n: number, options: GroupOptions = {}): Group {
    const proc = this.#daemon.newProcess(n);
    const group = new Group(this.#transportOf(proc), options);
    this.#groupHandles.set(group, proc);
    return group;
  }

  /**
   * The raw `Transport` of a new process on node `n` (a distinct pid), for tests of the driver
   * layer; `member(n)` wraps one in a `Group`. All connections opened through it belong to
   * that process, as in corosync: one member per group per process.
   */
  processTransport(n: number): MemoryTransport {
    return this.#transportOf(this.#daemon.newProcess(n));
  }

  /** @deprecated Renamed `member(n)`: it returns a group member, not a transport. */
  transport(n: number, options: GroupOptions = {}): Group {
    return this.member(n, options);
  }

  /** @deprecated Renamed `processTransport(n)`: it returns a process's transport, not a node. */
  node(n: number): MemoryTransport {
    return this.processTransport(n);
  }

  #transportOf(proc: SimProcess): MemoryTransport {
    return {
      kind: 'memory',
      clock: this.clock,
      nodeid: proc.nodeid,
      pid: proc.pid,
      connect: (sink: DriverSink, options?: ConnectOptions) =>
        this.#daemon.connect(proc, sink, options),
    };
  }

  #processOf(member: GroupTransport | MemberId): SimProcess {
    const p = this.#groupHandles.get(member);
    if (p) return p;
    return this.#daemon.process('nodeid' in member ? member : member.self);
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
    const sideOf = new Map<number, number>();
    sides.forEach((side, i) => {
      for (const id of side) {
        this.#daemon.node(id);
        if (sideOf.has(id)) throw new RangeError(`node ${id} is listed in two sides`);
        sideOf.set(id, i + 1);
      }
    });
    this.#daemon.setLinks((id) => sideOf.get(id) ?? sides.length + 1);
  }

  /** Reconnect every side: the sides merge and see each other come back with `nodeup`. */
  heal(): void {
    this.#daemon.setLinks(() => 0);
  }

  /**
   * Kill node `n`'s daemon: its processes lose their connections (`ConnectionLostError`),
   * the rest of its component sees their members leave with `nodedown`.
   */
  crashNode(n: number): void {
    this.#daemon.crashNode(n);
  }

  /**
   * Start node `n`'s daemon again: it rejoins whatever side its links reach, with no member
   * until new processes join (its crashed processes never come back), and the quorum of the
   * component it joins. Its clients' requests wait until it is in the ring.
   */
  restartNode(n: number): void {
    this.#daemon.restartNode(n);
  }

  /**
   * Kill a member's process (`kill -9`): the others see it leave with `procdown`; messages
   * it sent before are still delivered. Its own `Group` closes with `ConnectionLostError`.
   */
  crashProcess(member: GroupTransport | MemberId): void {
    this.#daemon.crashProcess(this.#processOf(member));
  }

  /** Stop a member's process (SIGSTOP): events for it queue up until `resume`. */
  pause(member: GroupTransport | MemberId): void {
    this.#daemon.pause(this.#processOf(member));
  }

  /** Continue a paused process: its queued events are delivered. */
  resume(member: GroupTransport | MemberId): void {
    this.#daemon.resume(this.#processOf(member));
  }

  /** The nodes of each current component, e.g. `[[1], [2, 3]]` (down nodes are in none). */
  components(): number[][] {
    return this.#daemon.components.map((c) => [...c.nodes]);
  }

  /** Whether node `n` is up and in a quorate component. */
  isQuorate(n: number): boolean {
    return this.#daemon.node(n).quorate;
  }

  /** Whether node `n`'s daemon is running. */
  isUp(n: number): boolean {
    return this.#daemon.node(n).up;
  }

  /** The hex SHA-256 of every event delivered so far (needs `trace: true`). */
  traceHash(): string {
    const trace = this.#daemon.trace;
    if (!trace) throw new Error('create the cluster with { trace: true } to get a trace hash');
    return trace.digest();
  }

  // ---------------------------------------------------------------- running

  /** Whether anything is pending in the engine (not counting timers). */
  get busy(): boolean {
    return this.#daemon.busy;
  }

  /**
   * Whether the engine is held (`holdEngine`, `clock.hold`): real I/O is running that the
   * simulation waits for, so a turn of the event loop now is no step of the simulation.
   */
  get held(): boolean {
    return this.#daemon.held;
  }

  /**
   * Run until nothing is pending: every sent message delivered, every membership change
   * done, and the code reacting to them (promises, microtasks) has run. With
   * `advanceTime`, virtual time then jumps to each pending timer in turn, until no work
   * and no timer remains.
   */
  async runUntilIdle(options: RunUntilIdleOptions = {}): Promise<void> {
    const daemon = this.#daemon;
    const limit = this.clock.now() + (options.maxTime ?? 3_600_000);
    const heldLimit = options.heldLimit ?? 15_000;
    /** Since when (real ms) the engine has been held without a break. */
    let heldSince: number | undefined;
    for (let spins = 0; ; spins++) {
      if (spins > 10_000_000)
        throw new Error('MemoryCluster.runUntilIdle: the cluster never became idle');
      if (this.#realTime) {
        await new Promise((r) => setTimeout(r, 2));
      } else {
        if (daemon.scheduled) daemon.step();
        await new Promise((r) => setImmediate(r));
      }
      // held (`holdEngine`, `clock.hold`): real I/O runs that the simulation must not outrun
      if (daemon.held) {
        // hrtime, not performance.now(): tests mock the latter to make wall time leap
        const now = Number(process.hrtime.bigint() / 1_000_000n);
        heldSince ??= now;
        if (now - heldSince > heldLimit)
          throw new Error(
            `MemoryCluster.runUntilIdle: the engine has been held for ${heldLimit} ms of real time: a hold (holdEngine, clock.hold) was never released`,
          );
        continue;
      }
      heldSince = undefined;
      if (daemon.busy || daemon.scheduled) continue;
      // One more turn, so that code woken by the last events runs and may send again.
      await new Promise((r) => setImmediate(r));
      if (daemon.busy || daemon.scheduled || daemon.held) continue;
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
   * Stop the engine until the function returned is called: no message is ordered or
   * delivered meanwhile, so whatever the test awaits then (a replica reading its data
   * directory before it joins, on the real disk) takes no engine step, however long the real
   * I/O takes, and a seeded run replays exactly. Do not `runUntilIdle` or `advance` while
   * held (they would wait for the release).
   */
  holdEngine(): () => void {
    return this.#daemon.hold();
  }

  /** @deprecated Renamed `runUntilIdle` (one meaning per word: see ARCHITECTURE.md). */
  settle(options: RunUntilIdleOptions = {}): Promise<void> {
    return this.runUntilIdle(options);
  }

  /**
   * Move virtual time forward by `ms`, firing due timers one at a time and running the
   * cluster until idle after each (messages take no virtual time).
   */
  async advance(ms: number): Promise<void> {
    const clock = this.#virtual;
    if (!clock) throw new Error('advance() needs the virtual clock (realTime: false)');
    const target = clock.now() + ms;
    await this.runUntilIdle();
    while (clock.fireNext(target)) await this.runUntilIdle();
    clock.advance(target - clock.now());
    await this.runUntilIdle();
  }

  /** Stop everything: every connection is lost, nothing more runs. */
  destroy(): void {
    this.#daemon.destroy();
  }
}
