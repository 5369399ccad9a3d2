/**
 * The small interface every benchmark workload is written against. One implementation per
 * system (cpgkit, etcd), so both run exactly the same workload code.
 * @module
 */

/** Which system an adapter drives. */
export type SystemName = 'cpgkit' | 'etcd';

/** A held lock, as returned by {@link CoordinationAdapter.lock}. */
export interface HeldLock {
  /** Release it. */
  unlock(): Promise<void>;
}

/** A won election, as returned by {@link CoordinationAdapter.campaign}. */
export interface HeldLeadership {
  /** Give up the leadership. */
  resign(): Promise<void>;
}

/** One change seen by a watcher. */
export interface WatchedChange {
  readonly key: string;
  /** The new value, or `undefined` for a delete. */
  readonly value: string | undefined;
}

/**
 * Config store, locks and election, reduced to what the benchmarks need.
 * Every call is a real round trip through the system (no client-side shortcut), except
 * `get`, which is whatever a read costs on that system (a local read on a cpgkit replica,
 * a linearizable range request on etcd).
 */
export interface CoordinationAdapter {
  /** Which system this drives. */
  readonly system: SystemName;
  /** Most keys of one `putMany` (etcd: its default `--max-txn-ops`). */
  readonly putManyMax: number;
  /** Write `key`; resolves once the write is committed (and, on cpgkit, applied locally). */
  put(key: string, value: string): Promise<void>;
  /**
   * Write several keys in one request, atomically (a transaction), for bulk loading a store
   * (the store-size curves); at most {@link CoordinationAdapter.putManyMax} keys.
   */
  putMany(keys: readonly string[], value: string): Promise<void>;
  /** Read `key`. */
  get(key: string): Promise<string | undefined>;
  /** Call `onChange` for every change under `prefix` from now on; returns the stop function. */
  watch(prefix: string, onChange: (change: WatchedChange) => void): Promise<() => Promise<void>>;
  /** Wait for the lock `name` (FIFO where the system offers it) and hold it. */
  lock(name: string): Promise<HeldLock>;
  /** Campaign for `name` with `value`; resolves once elected. */
  campaign(name: string, value: string): Promise<HeldLeadership>;
  /**
   * Bring every key under `prefix` into this process (cpgkit: the replica is synced;
   * etcd: a paginated range read into a local map, as a client-side cache does) and
   * return how many keys are held.
   */
  loadAll(prefix: string): Promise<number>;
  /**
   * When (`nowMs()`) this member's lock service last saw its group's membership change (cpgkit:
   * its lock machine started the sync round of a confchg), to split a failover into the
   * transport's detection and the system's own share; undefined where the system has no such
   * event (etcd) or none happened.
   */
  lastMembershipChangeAt?(): number | undefined;
  /**
   * When (`nowMs()`) the sync round that the last membership change started ended (cpgkit: its
   * lock machine was ready again), to split cpgkit's own share of a failover into the round and
   * what follows it (the election's commit and hand-out).
   */
  lastRoundEndAt?(): number | undefined;
  /** Set up what locks and elections need (if anything), so that it is not timed. */
  prepareLocks?(): Promise<void>;
  /** Stop and disconnect. */
  close(): Promise<void>;
}
