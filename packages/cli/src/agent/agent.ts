/**
 * `Agent`: the long-lived replica of one node for a cpgkit group G (what `cpgkit serve` runs).
 * It holds the config store (`ReplicatedMap`, group `G`) and the lock and election machine
 * (`locksMachine()`, group `G.locks`) as replicas with one data directory, and answers
 * `cpgkit status` on `G.agents`. When its corosync daemon dies or restarts it reconnects with
 * backoff and rejoins as the same replica (its data directory keeps the replica ids), so the
 * replica set `Q` keeps its members.
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';
import { locksMachine } from '@cpgkit/locks';
import {
  ReplicatedMap,
  ReplicatedStateMachine,
  roleOptions,
  SnapshotStore,
  type Durability,
  type MapState,
  type StateMachine,
} from '@cpgkit/statemachine';
import type { Logger } from 'pino';
import type { GroupNames } from './group-names.js';
import type { AgentState, Replicas } from './types.js';
import { MachineObserver } from './observer.js';
import { buildReport, type AgentReport } from './report.js';
import { StatusResponder } from './status-responder.js';

/** Options of `new Agent`. */
export interface AgentOptions {
  readonly names: GroupNames;
  /** Persist both machines here (`cpgkit.kv.*` and `cpgkit.locks.*` files); restored on start. */
  readonly dataDir?: string;
  /** A new unjoined transport (corosync, or an in-memory cluster in tests). */
  readonly open: () => GroupTransport;
  readonly log: Logger;
  /**
   * When a write is acknowledged (`'fsync'`: on the disks of a majority; needs `dataDir`).
   * @defaultValue 'memory'
   */
  readonly durability?: Durability;
  /** `bootstrap: 'force'` on the first connection only (the operator's escape hatch). */
  readonly forceBootstrap?: boolean;
  /**
   * `bootstrap: 'alone'`: a brand-new cluster where not every node runs an agent may start its
   * store without a replica on every node of the ring.
   */
  readonly bootstrapAlone?: boolean;
  /** First reconnect delay (ms), doubled up to `maxBackoff`. @defaultValue 200 */
  readonly backoff?: number;
  /** @defaultValue 5000 */
  readonly maxBackoff?: number;
  /** The state machines' diagnostics (sync decisions), at debug level. @defaultValue false */
  readonly verbose?: boolean;
}

/** Called with each new connection's replicas (metrics and logs wire themselves to them). */
export type ConnectListener = (replicas: Replicas) => (() => void) | void;

/** A connection that lived this long resets the backoff. */
const STABLE_MS = 10_000;

/**
 * The node agent. `start()` connects (and reconnects until `stop()`); `stop()` retires both
 * replicas from `Q`, writes them to disk and leaves.
 *
 * @example
 * ```ts
 * const agent = new Agent({ names: groupNames('G'), dataDir, open: () => new Group(corosync()), log });
 * agent.start();
 * await agent.stop();
 * ```
 */
export class Agent {
  readonly #options: AgentOptions;
  #state: AgentState = { kind: 'connecting', attempt: 0, reason: 'starting' };
  readonly #listeners = new Set<ConnectListener>();
  readonly #stateListeners = new Set<(s: AgentState) => void>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #responder: StatusResponder | undefined;
  #reconnects = 0;

  constructor(options: AgentOptions) {
    this.#options = options;
  }

  /** Where the agent stands. */
  get state(): AgentState {
    return this.#state;
  }

  /** How many times the agent connected again after losing corosync. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /**
   * The reports of every agent of the group that answers within `timeoutMs` (this one
   * included), as `cpgkit status` gathers them; empty while not connected to the status channel.
   */
  async askAgents(timeoutMs: number): Promise<AgentReport[]> {
    return (await this.#responder?.ask(timeoutMs)) ?? [];
  }

  /** Call `listener` with every new connection's replicas; it may return a cleanup. */
  onConnect(listener: ConnectListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Call `listener` at every change of `state`. */
  onState(listener: (s: AgentState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Connect, and reconnect whenever the connection is lost, until `stop()`. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Retire from both replica sets (one agreed step each, so the others keep their majority),
   * write the state to disk, leave. Resolves when done; idempotent.
   */
  async stop(): Promise<void> {
    this.#stop.abort(new Error('stopping'));
    await this.#loop;
  }

  #setState(s: AgentState): void {
    this.#state = s;
    for (const l of this.#stateListeners) l(s);
  }

  async #run(): Promise<void> {
    const { log } = this.#options;
    const maxBackoff = this.#options.maxBackoff ?? 5000;
    let delay = this.#options.backoff ?? 200;
    let attempt = 0;
    let first = true;
    while (!this.#stop.signal.aborted) {
      attempt++;
      let replicas: Replicas | undefined;
      let responder: StatusResponder | undefined;
      const cleanups: (() => void)[] = [];
      try {
        replicas = await this.#open(first);
        const r = replicas;
        responder = await StatusResponder.open(
          this.#options.open(),
          this.#options.names.agents,
          () => buildReport(this, r),
        ).catch((e: unknown) => {
          // status answers are a convenience: the replicas go on without them
          log.warn(
            { err: e },
            'cannot join the agents status group: `cpgkit status` will not see this node',
          );
          return undefined;
        });
        this.#responder = responder;
        if (!first) this.#reconnects++;
        first = false;
        this.#setState({ kind: 'running', replicas });
        for (const l of this.#listeners) {
          const c = l(replicas);
          if (c) cleanups.push(c);
        }
        const lost = await Promise.race([
          closedWith(replicas.kv.machine as StateMachine<unknown, unknown, unknown>),
          closedWith(replicas.locks as StateMachine<unknown, unknown, unknown>),
          stopped(this.#stop.signal),
        ]);
        if (this.#stop.signal.aborted) break;
        const why = lost instanceof Error ? `${lost.name}: ${lost.message}` : 'closed';
        log.warn(
          { event: 'connection-lost', reason: why },
          `lost the connection: ${why}; reconnecting`,
        );
        if (performance.now() - replicas.since > STABLE_MS) delay = this.#options.backoff ?? 200;
        attempt = 0;
        this.#setState({ kind: 'connecting', attempt, reason: `connection lost (${why})` });
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        const reason = `${e.name}: ${e.message}`;
        if (attempt === 1 || attempt % 10 === 0)
          log.warn(
            { event: 'connect-failed', attempt, reason },
            `cannot open the replicas: ${reason}`,
          );
        this.#setState({ kind: 'connecting', attempt, reason });
      } finally {
        this.#responder = undefined;
        for (const c of cleanups) c();
        await this.#closeAll(replicas, responder);
      }
      if (this.#stop.signal.aborted) break;
      await sleep(delay * (0.75 + Math.random() * 0.5), this.#stop.signal);
      delay = Math.min(delay * 2, maxBackoff);
    }
    this.#setState({ kind: 'stopped' });
  }

  async #open(first: boolean): Promise<Replicas> {
    const { names, dataDir, log, verbose } = this.#options;
    const force = first && this.#options.forceBootstrap === true;
    const machineLog = verbose ? (line: string) => log.debug(line) : undefined;
    const common = {
      role: 'replica' as const,
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(machineLog === undefined ? {} : { log: machineLog }),
      ...(force
        ? { bootstrap: 'force' as const }
        : this.#options.bootstrapAlone === true
          ? { bootstrap: 'alone' as const }
          : {}),
      ...(this.#options.durability === undefined ? {} : { durability: this.#options.durability }),
    };
    if (first && dataDir !== undefined) await this.#describeDataDir(dataDir);
    const storeT = this.#options.open();
    const kv = await ReplicatedMap.open(storeT, { ...common, groupName: names.store });
    // observe from the start: the first sync round may end before the lock machine is open
    const storeObserver = new MachineObserver('store', kv.machine);
    try {
      const locksT = this.#options.open();
      const locks = await ReplicatedStateMachine.open(
        locksT,
        locksMachine(),
        roleOptions({ ...common, groupName: names.locks }),
      );
      return {
        kv,
        locks,
        transports: { store: storeT, locks: locksT },
        observers: {
          store: storeObserver,
          locks: new MachineObserver('locks', locks),
        },
        since: performance.now(),
      };
    } catch (e) {
      storeObserver.close();
      await kv.close();
      throw e;
    }
  }

  async #describeDataDir(dataDir: string): Promise<void> {
    const image = await new SnapshotStore(dataDir, 'cpgkit.kv').load<MapState>();
    this.#options.log.info(
      image === undefined
        ? { event: 'restore', dataDir }
        : {
            event: 'restore',
            dataDir,
            revision: image.state.revision,
            keys: image.state.count,
            epoch: image.epoch,
            index: image.index.toString(),
          },
      image === undefined
        ? `no store snapshot in ${dataDir}: starting empty`
        : `restored revision ${image.state.revision} (${image.state.count} keys, epoch ${image.epoch}, index ${image.index}) from ${dataDir}`,
    );
  }

  async #closeAll(
    replicas: Replicas | undefined,
    responder: StatusResponder | undefined,
  ): Promise<void> {
    await responder?.close();
    if (replicas === undefined) return;
    replicas.observers.store.close();
    replicas.observers.locks.close();
    // close() retires from Q when ready: right when stopping, harmless after a lost connection
    // (a dead connection cannot send, and the machine is closed already)
    await Promise.allSettled([replicas.kv.close(), replicas.locks.close()]);
  }
}

function closedWith(m: StateMachine<unknown, unknown, unknown>): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (m.status === 'closed') resolve(undefined);
    else m.on('closed', (e) => resolve(e.error));
  });
}

function stopped(signal: AbortSignal): Promise<'stop'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('stop');
    else signal.addEventListener('abort', () => resolve('stop'), { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
