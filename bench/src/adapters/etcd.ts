/**
 * The etcd adapter: the benchmark workloads over the `etcd3` client (its `put`/`get`/`watch`,
 * `Lock` and `Election`), one client per worker, connected to one member only (the member
 * "on the same node"), as a cpgkit worker talks to its own node's corosync.
 * @module
 */
import { Etcd3, EtcdLockFailedError, Range } from 'etcd3';
import type { CoordinationAdapter, HeldLeadership, HeldLock, WatchedChange } from '../adapter.js';

/** Options of {@link EtcdAdapter}. */
export interface EtcdAdapterOptions {
  /** Client URL of the member this worker talks to, e.g. `http://127.0.0.1:23791`. */
  readonly endpoint: string;
  /**
   * Lease TTL (s) for elections: the shortest the client accepts is 1; the server raises
   * anything below its minimum (1.5 election timeouts, rounded up) to that minimum.
   * @defaultValue 1
   */
  readonly electionTtl?: number;
  /** Lease TTL (s) of each lock. @defaultValue 10 */
  readonly lockTtl?: number;
}

/** Page size of {@link EtcdAdapter.loadAll}: stays under gRPC's 4 MiB message limit. */
const PAGE = 5000;

/** Drives etcd through the `etcd3` client. */
export class EtcdAdapter implements CoordinationAdapter {
  readonly system = 'etcd' as const;
  readonly putManyMax = 128;
  readonly #client: Etcd3;
  readonly #electionTtl: number;
  readonly #lockTtl: number;

  constructor(options: EtcdAdapterOptions) {
    this.#client = new Etcd3({ hosts: options.endpoint, dialTimeout: 5000 });
    this.#electionTtl = options.electionTtl ?? 1;
    this.#lockTtl = options.lockTtl ?? 10;
  }

  async put(key: string, value: string): Promise<void> {
    await this.#client.put(key).value(value).exec();
  }

  async putMany(keys: readonly string[], value: string): Promise<void> {
    // a transaction whose one compare always holds (a key's version is 0 or more)
    await this.#client
      .if(keys[0]!, 'Version', '>', -1)
      .then(...keys.map((k) => this.#client.put(k).value(value)))
      .commit();
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#client.get(key).string()) ?? undefined;
  }

  async watch(
    prefix: string,
    onChange: (change: WatchedChange) => void,
  ): Promise<() => Promise<void>> {
    const watcher = await this.#client.watch().prefix(prefix).create();
    watcher.on('put', (kv) => onChange({ key: kv.key.toString(), value: kv.value.toString() }));
    watcher.on('delete', (kv) => onChange({ key: kv.key.toString(), value: undefined }));
    return () => watcher.cancel();
  }

  /**
   * etcd3's `Lock` only tries (it rejects with `EtcdLockFailedError` when the key is held):
   * wait for the holder's key to be deleted, as an etcd3 user has to, then try again.
   */
  async lock(name: string): Promise<HeldLock> {
    const key = `lock/${name}`;
    for (;;) {
      const lock = this.#client.lock(key).ttl(this.#lockTtl);
      try {
        await lock.acquire();
        return { unlock: () => lock.release() };
      } catch (error) {
        if (!(error instanceof EtcdLockFailedError)) throw error;
      }
      const watcher = await this.#client.watch().key(key).create();
      try {
        const deleted = new Promise<void>((resolve) => watcher.once('delete', () => resolve()));
        // the holder may have released between our failed try and the watch
        if (await this.#client.get(key).exists()) await deleted;
      } finally {
        await watcher.cancel();
      }
    }
  }

  async campaign(name: string, value: string): Promise<HeldLeadership> {
    const campaign = this.#client.election(name, this.#electionTtl).campaign(value);
    await campaign.wait();
    return { resign: () => campaign.resign() };
  }

  async loadAll(prefix: string): Promise<number> {
    const cache = new Map<string, string>();
    const end = Range.prefix(prefix).end;
    let start: Buffer = Buffer.from(prefix);
    for (;;) {
      const res = await this.#client.getAll().inRange(new Range(start, end)).limit(PAGE).exec();
      for (const kv of res.kvs) cache.set(kv.key.toString(), kv.value.toString());
      const last = res.kvs.at(-1);
      if (!res.more || last === undefined) break;
      start = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return cache.size;
  }

  async close(): Promise<void> {
    this.#client.close();
    await Promise.resolve();
  }
}
