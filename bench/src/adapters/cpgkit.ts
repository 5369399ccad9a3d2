/**
 * The cpgkit adapter: the benchmark workloads over `ReplicatedMap` (@cpgkit/statemachine) and
 * the lock and election API of @cpgkit/locks, on the real corosync transport. Run it inside
 * a corosync node's network namespace.
 * @module
 */
import { Group, corosync } from '@cpgkit/core';
import { Locks, locksMachine } from '@cpgkit/locks';
import { ReplicatedMap, ReplicatedStateMachine } from '@cpgkit/statemachine';
import type { CoordinationAdapter, HeldLeadership, HeldLock, WatchedChange } from '../adapter.js';
import type { AdapterConfig } from '../protocol.js';
import { nowMs } from '../procs.js';

/** How long opening (join + state transfer) may take. */
const OPEN_TIMEOUT_MS = 240_000;

/** Drives cpgkit: a `ReplicatedMap` replica, plus locks and elections on a group of their own. */
export class CpgkitAdapter implements CoordinationAdapter {
  readonly system = 'cpgkit' as const;
  /** A transaction's size is bounded by the group's message limit only; this keeps it ~0.5 MB. */
  readonly putManyMax = 5000;
  readonly #config: Extract<AdapterConfig, { system: 'cpgkit' }>;
  readonly #groups: Group[] = [];
  #map: ReplicatedMap | undefined;
  #locks: Promise<Locks> | undefined;
  #membershipChangedAt: number | undefined;
  #roundEndedAt: number | undefined;

  private constructor(config: Extract<AdapterConfig, { system: 'cpgkit' }>) {
    this.#config = config;
  }

  /** Join the config's group, wait until the replica is synced and quorate. */
  static async open(config: Extract<AdapterConfig, { system: 'cpgkit' }>): Promise<CpgkitAdapter> {
    const adapter = new CpgkitAdapter(config);
    try {
      await adapter.#openMap();
    } catch (error) {
      await adapter.close();
      throw error;
    }
    return adapter;
  }

  async #openMap(): Promise<ReplicatedMap> {
    if (this.#map) return this.#map;
    if (process.env.BENCH_CPGKIT_LOG) console.error(`${nowMs().toFixed(1)} adapter opens`);
    const group = new Group(corosync());
    this.#groups.push(group);
    const map = await ReplicatedMap.open(group, {
      groupName: `${this.#config.group}.kv`,
      // each scenario makes a new group and starts its workers one at a time, each waiting for
      // its replica to be ready: the first starts the store alone (a cluster known to be new)
      bootstrap: 'alone',
      ...(this.#config.dataDir ? { dataDir: `${this.#config.dataDir}/kv` } : {}),
      ...(this.#config.durability ? { durability: this.#config.durability } : {}),
      ...(process.env.BENCH_CPGKIT_LOG
        ? { log: (line: string) => console.error(`${nowMs().toFixed(1)} ${line}`) }
        : {}),
    });
    this.#map = map;
    await map.ready({ timeout: OPEN_TIMEOUT_MS });
    if (process.env.BENCH_CPGKIT_LOG) console.error(`${nowMs().toFixed(1)} adapter ready`);
    return map;
  }

  /** The replica, once open (the latency probe's tracing reads its changes and commits). */
  get map(): ReplicatedMap | undefined {
    return this.#map;
  }

  #kv(): ReplicatedMap {
    if (!this.#map) throw new Error('cpgkit adapter: not open');
    return this.#map;
  }

  async put(key: string, value: string): Promise<void> {
    await this.#kv().set(key, value);
  }

  async putMany(keys: readonly string[], value: string): Promise<void> {
    await this.#kv().transaction(
      [],
      keys.map((key) => ({ op: 'set', key, value })),
    );
  }

  get(key: string): Promise<string | undefined> {
    const v = this.#kv().get(key);
    return Promise.resolve(
      typeof v === 'string' ? v : v === undefined ? undefined : JSON.stringify(v),
    );
  }

  watch(prefix: string, onChange: (change: WatchedChange) => void): Promise<() => Promise<void>> {
    const stop = new AbortController();
    const changes = this.#kv().watch(prefix, { signal: stop.signal });
    const pump = (async () => {
      for await (const c of changes) {
        onChange({
          key: c.key,
          value:
            c.type === 'delete'
              ? undefined
              : typeof c.value === 'string'
                ? c.value
                : JSON.stringify(c.value),
        });
      }
    })();
    return Promise.resolve(async () => {
      stop.abort();
      await pump;
    });
  }

  /** The lock service, on a group of its own, opened on first use. */
  #lockService(): Promise<Locks> {
    this.#locks ??= (async () => {
      const group = new Group(corosync());
      this.#groups.push(group);
      const machine = await ReplicatedStateMachine.open(group, locksMachine(), {
        groupName: `${this.#config.group}.locks`,
        bootstrap: 'alone', // a new group, workers started one at a time (see #openMap)
        ...(this.#config.dataDir ? { dataDir: `${this.#config.dataDir}/locks` } : {}),
        ...(this.#config.durability ? { durability: this.#config.durability } : {}),
        // BENCH_TRACE_LOCKS=1 (with BENCH_VERBOSE=1): the lock machine's trace, timed on the
        // clock the failover rows use, to see where a failover's own share goes
        ...(process.env.BENCH_TRACE_LOCKS
          ? { log: (line: string) => process.stderr.write(`${nowMs().toFixed(2)} ${line}\n`) }
          : {}),
      });
      const locks = new Locks(machine, { closeMachine: true });
      // a confchg starts a sync round at once: its start is the membership change's delivery
      machine.on('status', (e) => {
        if (e.status === 'syncing') this.#membershipChangedAt = nowMs();
        else if (e.status === 'ready') this.#roundEndedAt = nowMs();
      });
      await machine.ready({ timeout: OPEN_TIMEOUT_MS });
      return locks;
    })();
    return this.#locks;
  }

  lastMembershipChangeAt(): number | undefined {
    return this.#membershipChangedAt;
  }

  lastRoundEndAt(): number | undefined {
    return this.#roundEndedAt;
  }

  async lock(name: string): Promise<HeldLock> {
    const lock = await (await this.#lockService()).acquire(name);
    return { unlock: () => lock.release() };
  }

  async campaign(name: string, value: string): Promise<HeldLeadership> {
    const leadership = await (await this.#lockService()).campaign(name, { value });
    return { resign: () => leadership.resign() };
  }

  /** Open the lock service now (so its join is not timed in the first `lock`). */
  async prepareLocks(): Promise<void> {
    await this.#lockService();
  }

  async loadAll(prefix: string): Promise<number> {
    const map = this.#kv();
    await map.ready({ timeout: OPEN_TIMEOUT_MS });
    return map.list(prefix).length;
  }

  async close(): Promise<void> {
    const locks = await this.#locks?.catch(() => undefined);
    await locks?.close().catch(() => undefined);
    await this.#map?.close().catch(() => undefined);
    await Promise.all(this.#groups.map((g) => g.close().catch(() => undefined)));
  }
}
