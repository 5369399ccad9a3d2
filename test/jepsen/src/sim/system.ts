/**
 * The system under test on the in-memory cluster: on every node, one `ReplicatedMap` replica
 * (the register and set workloads) and one `Locks` replica (the lock and election workloads),
 * each a process of its own with a data directory, which the nemesis can kill and restart
 * from that directory, pause and resume. About 530 lines: one class whose faults (kills,
 * partitions, pauses, graceful stops) and replicas' lives (open, trap, reap) share its private
 * state; the disks (sim-disks.ts) and the workloads live elsewhere.
 * @module
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Group, GroupTransport, SendOptions } from '@cpgkit/core';
import { MemoryCluster, type Random } from '@cpgkit/core/testing';
import { ReplicatedMap, ReplicatedStateMachine, type Durability } from '@cpgkit/statemachine';
import { Locks, locksMachine } from '@cpgkit/locks';
import type { HistoryRecorder } from '../history.js';
import { SimDisks } from './sim-disks.js';

/** Which replica of a node. */
export type ServiceKind = 'kv' | 'locks';

/** One replica process (one incarnation of it). */
export interface Service<T> {
  readonly kind: ServiceKind;
  readonly node: number;
  /** Incarnation number on this node (0, 1, ... after each restart). */
  readonly gen: number;
  readonly group: Group;
  readonly handle: T;
  /** The lock machine's state format this process runs (`locks` only; see `SimNode.locksFormat`). */
  readonly format?: number;
  alive: boolean;
  paused: boolean;
}

/** The replicas of one node. */
export interface SimNode {
  readonly id: number;
  kv: Service<ReplicatedMap> | undefined;
  locks: Service<Locks> | undefined;
  /**
   * The lock machine's format the node's next `locks` process runs: `OLD_LOCKS_FORMAT` until a
   * rolling upgrade reaches the node (`SystemOptions.upgrade`), then `LOCKS_STATE_FORMAT`.
   */
  locksFormat: number;
}

/** The lock machine's state format this version runs (what an upgrade moves nodes to). */
export const LOCKS_STATE_FORMAT = locksMachine().format ?? 1;

/**
 * The format a node runs before a rolling upgrade reaches it: this version's code with an older
 * format number, which its frames carry (`cpgkit.locks@2`). Replicas of two formats count each
 * other's messages as foreign, as an older version's would, so a mixed cluster is two machines
 * in one group: what keeps tokens from repeating across them is the quorum rule alone (only the
 * side holding a majority of the replica set `Q` applies anything), and that is what the
 * upgrade campaign tests.
 */
export const OLD_LOCKS_FORMAT = LOCKS_STATE_FORMAT - 1;

/** Options of the system. */
export interface SystemOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Virtual ms by which quorum events lag (see `MemoryClusterOptions.quorumDelay`). */
  readonly quorumDelay: number;
  /** A fresh directory for the replicas' data directories. */
  readonly dir: string;
  readonly rng: Random;
  /** Where faults are recorded. */
  readonly faults: HistoryRecorder;
  /** The lock machine's `failoverDelay`. */
  readonly failoverDelay: number;
  /**
   * A rolling upgrade of the lock machine: every node starts at `OLD_LOCKS_FORMAT` and the
   * nemesis moves them to `LOCKS_STATE_FORMAT` one at a time (`upgrade`, `finishUpgrade`).
   */
  readonly upgrade?: boolean;
  /**
   * A broken upgrade, for showing that the checkers catch one: the new format's replicas open
   * with `bootstrap: 'force'`, so the first of them forks a store of its own.
   */
  readonly forkNewFormat?: boolean;
  /**
   * A kill (of a replica, of a node, at once of several) loses the process's writes that had
   * not landed: its journal write in flight and what it would write afterwards (sim-disks.ts).
   * Otherwise a killed replica's data directory gets everything it had applied.
   */
  readonly loseWrites?: boolean;
  /** With `loseWrites`: the nemesis also kills replicas with their summary in flight. */
  readonly forgetRounds?: boolean;
  /**
   * The replicas' durability mode (statemachine README, "Durability modes"): with `'fsync'` a
   * write is acknowledged once a majority of `Q` has it on disk, so no kill loses one.
   * @defaultValue 'memory'
   */
  readonly durability?: Durability;
  /** The nemesis also faults the middle of protocol steps (mid-step-faults.ts). */
  readonly midStepFaults?: boolean;
  /** A replay's trace (`ScheduleOptions.trace`): the replicas' logs and disk writes. */
  readonly trace?: (line: string) => void;
}

/**
 * The cluster and its replicas. Every fault is recorded in `faults`; callbacks registered
 * with `onCrash` learn which service died (the workloads end their clients' beliefs there).
 */
export class SimSystem {
  readonly cluster: MemoryCluster;
  readonly nodes: SimNode[] = [];
  readonly options: SystemOptions;
  readonly #crashListeners: ((s: Service<unknown>) => void)[] = [];
  readonly #openListeners: ((s: Service<unknown>) => void)[] = [];
  readonly #dead: (Service<ReplicatedMap> | Service<Locks>)[] = [];
  #trap:
    | {
        match: (s: Service<unknown>, frame: Uint8Array) => boolean;
        action: (s: Service<unknown>, frame: Uint8Array) => void;
      }
    | undefined;
  #gens = new Map<string, number>();
  /** Called when a group stopping gracefully asks to leave (see `stopGracefully`). */
  readonly #leaving = new Map<Group, () => void>();
  /**
   * The disks whose writes run in order, holding the simulation (sim-disks.ts): when a write's
   * end decides when an ack goes (`'fsync'`), or a kill loses writes (`loseWrites`).
   */
  readonly #disks: SimDisks | undefined;

  constructor(options: SystemOptions) {
    this.options = options;
    this.cluster = new MemoryCluster({
      nodes: options.nodes,
      seed: options.seed,
      quorumDelay: options.quorumDelay,
    });
    const lose = options.loseWrites === true;
    if (lose || options.durability === 'fsync') {
      this.#disks = new SimDisks(
        this.cluster.clock,
        (d) => d.startsWith(options.dir),
        lose,
        options.trace === undefined
          ? undefined
          : (dir, line) => options.trace!(`${this.#dirName(dir)} ${line}`),
      );
      this.#disks.install();
    }
    const locksFormat = options.upgrade === true ? OLD_LOCKS_FORMAT : LOCKS_STATE_FORMAT;
    for (const id of this.cluster.nodeIds)
      this.nodes.push({ id, kv: undefined, locks: undefined, locksFormat });
  }

  /** Virtual time, for the records. */
  now(): number {
    return this.cluster.clock.now();
  }

  /** Called with every service killed (process crash or node crash). */
  onCrash(fn: (s: Service<unknown>) => void): void {
    this.#crashListeners.push(fn);
  }

  /** Called with every service (re)opened. */
  onOpen(fn: (s: Service<unknown>) => void): void {
    this.#openListeners.push(fn);
  }

  /** Open both replicas on every node and wait until they are ready. */
  async start(): Promise<void> {
    for (const n of this.nodes) {
      await this.open(n, 'kv');
      await this.open(n, 'locks');
    }
    await this.cluster.runUntilIdle();
    await this.cluster.advance(100);
  }

  /** Open (or reopen, from its data directory) a replica on node `n`. */
  async open(n: SimNode, kind: ServiceKind): Promise<void> {
    if (!this.cluster.isUp(n.id)) return; // its corosync is down: it starts with the node
    const key = `${n.id}/${kind}`;
    const gen = this.#gens.get(key) ?? 0;
    this.#gens.set(key, gen + 1);
    const dataDir = this.dataDir(n, kind);
    // the replica reads its data directory (real I/O, as long as the machine's load makes it)
    // with the engine held, then joins: its join comes at the same engine step on every run
    const release = this.cluster.holdEngine();
    try {
      await this.#openHeld(n, kind, gen, dataDir, release);
    } finally {
      release();
    }
  }

  async #openHeld(
    n: SimNode,
    kind: ServiceKind,
    gen: number,
    dataDir: string,
    release: () => void,
  ): Promise<void> {
    await mkdir(dataDir, { recursive: true });
    const group = this.cluster.member(n.id);
    let self: Service<unknown> | undefined;
    const view = this.#trapped(group, () => self, release);
    // losing writes: each is started at once (no `persistDelay`), so that what a kill takes
    // is the write in flight, not the up to 50 ms of changes that the default mode may lose
    // when a majority of `Q` dies at once (statemachine README, Durability modes)
    const trace = this.options.trace;
    const common = {
      dataDir,
      checkInterval: 2000,
      ...(trace === undefined ? {} : { log: (l: string) => trace(`n${n.id}/${kind}#${gen} ${l}`) }),
      ...(this.options.loseWrites === true ? { persistDelay: 0 } : {}),
      ...(this.options.durability === undefined ? {} : { durability: this.options.durability }),
    };
    if (kind === 'kv') {
      const handle = await ReplicatedMap.open(view, { ...common, groupName: 'jepsen.kv' });
      n.kv = { kind, node: n.id, gen, group, handle, alive: true, paused: false };
      self = n.kv;
      for (const f of this.#openListeners) f(n.kv);
    } else {
      const format = n.locksFormat;
      const definition = { ...locksMachine({ failoverDelay: this.options.failoverDelay }), format };
      const fork = this.options.forkNewFormat === true && format === LOCKS_STATE_FORMAT;
      const machine = await ReplicatedStateMachine.open(view, definition, {
        ...common,
        groupName: 'jepsen.locks',
        ...(fork ? { bootstrap: 'force' as const } : {}),
      });
      const handle = new Locks(machine, {
        closeMachine: true,
        ...(this.options.failoverDelay === undefined
          ? {}
          : { failoverDelay: this.options.failoverDelay }),
      });
      n.locks = { kind, node: n.id, gen, group, handle, format, alive: true, paused: false };
      self = n.locks;
      for (const f of this.#openListeners) f(n.locks);
    }
    const opened: Record<string, string | number> = { node: n.id, service: kind, gen };
    if (kind === 'locks' && this.options.upgrade === true) opened.format = n.locksFormat;
    if (trace !== undefined) {
      const machine = this.service(n, kind)!.handle.machine;
      const id = (machine as { readonly replicaId?: string }).replicaId;
      trace(`n${n.id}/${kind}#${gen} opened: replica ${id}`);
    }
    this.options.faults.event('open', opened);
  }

  /** `n<node>/<kind>` of a data directory (for the trace). */
  #dirName(dir: string): string {
    return dir.startsWith(this.options.dir) ? dir.slice(this.options.dir.length + 1) : dir;
  }

  /** Node `n`'s data directory for its replica of `kind`. */
  dataDir(n: SimNode, kind: ServiceKind): string {
    return join(this.options.dir, `n${n.id}`, kind);
  }

  /** The disks whose writes run in order, when they do (`loseWrites`, `'fsync'`). */
  get disks(): SimDisks | undefined {
    return this.#disks;
  }

  /** How many writes a kill lost (`SystemOptions.loseWrites`). */
  get lostWrites(): number {
    return this.#disks?.counts.lost ?? 0;
  }

  /**
   * Node `n`'s replica of `kind` is dead and its data directory lost (a disk replaced): its
   * next `open` starts as a new replica, with no state and a new replica id.
   */
  async wipe(n: SimNode, kind: ServiceKind): Promise<void> {
    const s = this.service(n, kind);
    if (s?.alive === true) throw new Error(`wipe: node ${n.id}'s ${kind} replica is running`);
    this.options.faults.event('wipe', { node: n.id, service: kind });
    await rm(join(this.options.dir, `n${n.id}`, kind), { recursive: true, force: true });
  }

  /** The service of `kind` on node `n`. */
  service(n: SimNode, kind: ServiceKind): Service<ReplicatedMap> | Service<Locks> | undefined {
    return kind === 'kv' ? n.kv : n.locks;
  }

  /**
   * Kill a replica's process (kill -9) at this instant: whatever is in flight stays in
   * flight. Synchronous (usable inside a send trap); `reap()` then closes what died. Its data
   * directory holds what it had applied (it is flushed after the kill, before any restart),
   * or with `loseWrites` what its writes that ended before the kill left there.
   */
  kill(n: SimNode, kind: ServiceKind): void {
    const s = this.service(n, kind);
    if (s === undefined || !s.alive) return;
    s.alive = false;
    this.#disks?.killed(this.dataDir(n, kind));
    this.options.faults.event('crash', { node: n.id, service: kind, gen: s.gen });
    this.cluster.crashProcess(s.group);
    for (const f of this.#crashListeners) f(s);
    this.#dead.push(s);
  }

  /** Kill node `n`'s corosync at this instant: its replicas die with it. Synchronous. */
  killNode(n: SimNode): void {
    if (!this.cluster.isUp(n.id)) return;
    this.options.faults.event('crash-node', { node: n.id });
    this.cluster.crashNode(n.id);
    for (const kind of ['kv', 'locks'] as const) {
      const s = this.service(n, kind);
      if (s === undefined || !s.alive) continue;
      s.alive = false;
      this.#disks?.killed(this.dataDir(n, kind));
      for (const f of this.#crashListeners) f(s);
      this.#dead.push(s);
    }
  }

  /** Close the replicas killed since the last call (flushing their data directories). */
  async reap(): Promise<void> {
    while (this.#dead.length > 0) await this.#closeDead(this.#dead.shift()!);
  }

  /** `kill`, then `reap`. */
  async crash(n: SimNode, kind: ServiceKind): Promise<void> {
    this.kill(n, kind);
    await this.reap();
  }

  /**
   * Stop a replica's process the way an operator's `systemctl restart` does: its clients stop
   * believing (the application's SIGTERM handler), then `close()` (it retires from `Q` when it
   * can, releases what it holds, writes its data directory), the engine running meanwhile.
   */
  async stopGracefully(n: SimNode, kind: ServiceKind): Promise<void> {
    const s = this.service(n, kind);
    if (s === undefined || !s.alive) return;
    this.options.faults.event('stop', { node: n.id, service: kind, gen: s.gen });
    this.resume(n, kind);
    for (const f of this.#crashListeners) f(s);
    const closing = s.handle.close();
    let done = false;
    void closing.then(
      () => (done = true),
      () => (done = true),
    );
    // the retirement and the sync round it may wait for take engine steps and virtual time;
    // the status turns `closed` once they are over, before any real I/O (replays are exact)
    const machine = s.handle.machine;
    const over = (): boolean => done || machine.status === 'closed';
    for (let i = 0; i < 600 && !over(); i++) {
      await this.cluster.runUntilIdle();
      if (!over()) await this.cluster.advance(100);
    }
    // then it writes its data directory (real I/O) with the engine held, and leaves: the
    // leave reaches a quiet engine whenever the disk is done (replays are exact)
    if (!done) {
      const release = this.cluster.holdEngine();
      try {
        await Promise.race([
          closing.catch(() => undefined),
          new Promise<void>((r) => this.#leaving.set(s.group, r)),
        ]);
      } finally {
        this.#leaving.delete(s.group);
        release();
      }
      for (let i = 0; i < 100 && !done; i++) await this.cluster.runUntilIdle();
    }
    s.alive = false;
    this.cluster.crashProcess(s.group); // whatever close did not finish ends with the process
    this.#dead.push(s);
    await this.reap();
  }

  /** `killNode`, then `reap`. */
  async crashNode(n: SimNode): Promise<void> {
    this.killNode(n);
    await this.reap();
  }

  /**
   * Arm a trap: the next frame a live replica sends that `match` accepts runs `action` the
   * instant the engine accepted it (the frame is in flight: ordered, not yet delivered).
   */
  armTrap(
    match: (s: Service<unknown>, frame: Uint8Array) => boolean,
    action: (s: Service<unknown>, frame: Uint8Array) => void,
  ): void {
    this.#trap = { match, action };
  }

  /** Whether a trap is armed (not yet sprung). */
  get trapArmed(): boolean {
    return this.#trap !== undefined;
  }

  /** Disarm the trap. */
  disarm(): void {
    this.#trap = undefined;
  }

  /**
   * The machine's view of its group: `send` springs the trap once the engine accepted;
   * `join` first calls `joining` (it releases the engine held while the replica opened).
   */
  #trapped(
    group: Group,
    service: () => Service<unknown> | undefined,
    joining: () => void,
  ): GroupTransport {
    return new Proxy(group, {
      get: (target, prop) => {
        if (prop === 'join') {
          return (...args: Parameters<Group['join']>) => {
            joining();
            return target.join(...args);
          };
        }
        if (prop === 'leave') {
          return (...args: Parameters<Group['leave']>) => {
            this.#leaving.get(target)?.();
            return target.leave(...args);
          };
        }
        if (prop === 'send') {
          return async (data: Uint8Array | readonly Uint8Array[], options?: SendOptions) => {
            await target.send(data, options);
            const trap = this.#trap;
            const s = service();
            if (trap === undefined || s === undefined || !s.alive) return;
            const frame = data instanceof Uint8Array ? data : (data[0] ?? new Uint8Array());
            if (!trap.match(s, frame)) return;
            this.#trap = undefined;
            trap.action(s, frame);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** Start node `n`'s corosync again (its replicas stay dead until `open`). */
  restartNode(n: SimNode): void {
    if (this.cluster.isUp(n.id)) return;
    this.options.faults.event('restart-node', { node: n.id });
    this.cluster.restartNode(n.id);
  }

  /** SIGSTOP a replica's process. */
  pause(n: SimNode, kind: ServiceKind): void {
    const s = this.service(n, kind);
    if (s === undefined || !s.alive || s.paused) return;
    s.paused = true;
    this.options.faults.event('pause', { node: n.id, service: kind, gen: s.gen });
    this.cluster.pause(s.group);
  }

  /** SIGCONT it. */
  resume(n: SimNode, kind: ServiceKind): void {
    const s = this.service(n, kind);
    if (s === undefined || !s.paused) return;
    s.paused = false;
    this.options.faults.event('resume', { node: n.id, service: kind, gen: s.gen });
    if (s.alive) this.cluster.resume(s.group);
  }

  /** Split the network into these sides (the rest forms one more). */
  partition(...sides: number[][]): void {
    this.options.faults.event('partition', sides);
    this.cluster.partition(...sides);
  }

  /** Heal every partition. */
  heal(): void {
    this.options.faults.event('heal', null);
    this.cluster.heal();
  }

  /** Heal everything: resume, reconnect, restart dead nodes and replicas. */
  async healAll(): Promise<void> {
    for (const n of this.nodes) {
      this.resume(n, 'kv');
      this.resume(n, 'locks');
    }
    this.heal();
    for (const n of this.nodes) this.restartNode(n);
    await this.cluster.runUntilIdle();
    for (const n of this.nodes) {
      for (const kind of ['kv', 'locks'] as const) {
        const s = this.service(n, kind);
        if (s === undefined || !s.alive) {
          await this.open(n, kind);
          await this.cluster.runUntilIdle();
        }
      }
    }
  }

  /** Close every replica and the cluster. */
  async stop(): Promise<void> {
    try {
      for (const n of this.nodes) {
        for (const kind of ['kv', 'locks'] as const) {
          const s = this.service(n, kind);
          if (s === undefined) continue;
          s.alive = false;
          this.cluster.crashProcess(s.group);
          await this.#closeDead(s);
        }
      }
    } finally {
      this.cluster.destroy();
      this.#disks?.uninstall();
    }
  }

  async #closeDead(s: Service<ReplicatedMap> | Service<Locks>): Promise<void> {
    // the process is gone: its machine sees the connection lost and stops (never retiring
    // from Q, as a killed process cannot); close() then waits until its data directory holds
    // what it had applied, so that a restart reads exactly that
    await this.cluster.runUntilIdle();
    if (s.kind === 'kv') await (s.handle as ReplicatedMap).close().catch(() => undefined);
    else {
      const locks = s.handle as Locks;
      await locks.close().catch(() => undefined);
      await locks.machine.close().catch(() => undefined);
    }
    // real I/O ran meanwhile: let the cluster finish what it had started, deterministically
    await this.cluster.runUntilIdle();
  }
}
