/**
 * The scenarios: each starts its own workers for one {@link Target}, runs one workload,
 * stops them (also on error), and returns figures and latency samples. The same code runs
 * for cpgkit and for etcd.
 * @module
 */
import type { LockEvent } from './workloads.js';
import type { Target } from './target.js';
import { Worker } from './worker-client.js';
import { nowMs, sleep } from './procs.js';

/** Sizes of a run. */
export interface Sizes {
  readonly throughputMs: number;
  readonly concurrency: number;
  readonly valueBytes: number;
  readonly latencyRate: number;
  readonly latencyCount: number;
  /**
   * Writes at `latencyRate` before each write latency row's measured ones, by the same fresh
   * workers, unmeasured (both systems): a fresh Node process runs its hot paths in V8's lower
   * tiers for its first seconds (TurboFan compiled cpgkit's `applyCommand` 5 s in, its compiler
   * threads competing for the cores), and a replica or a client is a long-lived process.
   */
  readonly latencyWarmup: number;
  /**
   * How long the write throughput and the lock rows' fresh workers run the same workload,
   * unmeasured, before the measured run (both systems; see `latencyWarmup`).
   */
  readonly warmupMs: number;
  readonly reads: number;
  readonly watchRate: number;
  readonly watchCount: number;
  readonly lockMs: number;
  readonly lockMaxOps: number;
  readonly failoverReps: number;
  readonly replicaKeys: number;
  readonly loadConcurrency: number;
  /**
   * How long a new replica stays idle before its resident size is read (both systems): right
   * after a transfer, a Node process still holds the received snapshot's buffers and a
   * young generation grown by the transfer, which V8's memory reducer gives back a few
   * seconds later (about 50 MiB at 100,000 keys); etcd's Go runtime returns memory lazily too.
   */
  readonly settleMs: number;
  /** The scale section's cluster sizes (nodes, or etcd members), ascending. */
  readonly scaleNodes: readonly number[];
  /** The scale section's store sizes (keys), ascending. */
  readonly scaleStoreKeys: readonly number[];
  /** The scale section's throughput phase, per cluster size. */
  readonly scaleThroughputMs: number;
  /** The scale section's write latency samples (at `latencyRate`), per cluster size. */
  readonly scaleLatencyCount: number;
  /**
   * Keys per write when the scale section loads a store (`putMany`; capped by each adapter's
   * `putManyMax`: etcd 128, cpgkit 5,000), and writes in flight.
   */
  readonly scaleLoad: { readonly batch: number; readonly concurrency: number };
}

/** Full and quick sizes. */
export const SIZES: Record<'full' | 'quick', Sizes> = {
  full: {
    throughputMs: 10_000,
    concurrency: 64,
    valueBytes: 64,
    // etcd with fsync reached about 900 writes/s here: 1000/s was not moderate (its open loop fell behind)
    latencyRate: 300,
    latencyCount: 6000,
    latencyWarmup: 3000,
    warmupMs: 3000,
    reads: 10_000,
    watchRate: 200,
    watchCount: 3000,
    lockMs: 10_000,
    lockMaxOps: 50_000,
    failoverReps: 3,
    replicaKeys: 100_000,
    loadConcurrency: 256,
    settleMs: 12_000,
    scaleNodes: [3, 5, 7],
    scaleStoreKeys: [10_000, 100_000, 1_000_000],
    scaleThroughputMs: 4000,
    scaleLatencyCount: 2400,
    scaleLoad: { batch: 5000, concurrency: 16 },
  },
  quick: {
    throughputMs: 2000,
    concurrency: 64,
    valueBytes: 64,
    latencyRate: 500,
    latencyCount: 1000,
    latencyWarmup: 500,
    warmupMs: 500,
    reads: 1000,
    watchRate: 200,
    watchCount: 300,
    lockMs: 2000,
    lockMaxOps: 5000,
    failoverReps: 1,
    replicaKeys: 10_000,
    loadConcurrency: 256,
    settleMs: 2000,
    // the scale section runs in full runs only
    scaleNodes: [3, 5],
    scaleStoreKeys: [1000, 10_000],
    scaleThroughputMs: 1000,
    scaleLatencyCount: 300,
    scaleLoad: { batch: 5000, concurrency: 16 },
  },
};

/** Nodes 1..n. */
export function nodeList(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * Start a worker on each of `nodes`, run `fn` with them, stop them (also on error). Where the
 * target's replicas live in workers (cpgkit), every other node gets an idle worker too (a
 * replica, and the lock service's with `locks`), so that writes are replicated to as many
 * nodes as etcd's; `exclude` names nodes to leave out (a joiner's, started later).
 */
async function withWorkers<T>(
  target: Target,
  scenario: string,
  nodes: number[],
  fn: (workers: Worker[]) => Promise<T>,
  options: { locks?: boolean; exclude?: number[] } = {},
): Promise<T> {
  const started: Worker[] = [];
  try {
    const idle = target.replicasInWorkers
      ? nodeList(target.nodes).filter((n) => !nodes.includes(n) && !options.exclude?.includes(n))
      : [];
    for (const n of idle) {
      const w = (await Worker.start(target.config(scenario, n), n)).worker;
      started.push(w);
      if (options.locks) await w.call('prepareLocks');
    }
    const active: Worker[] = [];
    for (const n of nodes) {
      const w = (await Worker.start(target.config(scenario, n), n)).worker;
      started.push(w);
      active.push(w);
    }
    return await fn(active);
  } finally {
    await Promise.all(started.map((w) => w.close()));
  }
}

interface ThroughputResult {
  ops: number;
  errors: number;
  elapsedMs: number;
  firstError?: string;
}

/**
 * Writes per second from one writer (node 1), or one writer per node (every node), with a
 * replica on every node either way.
 */
export async function writeThroughput(
  target: Target,
  sizes: Sizes,
  writers: 'one' | 'each',
  durationMs = sizes.throughputMs,
): Promise<{ opsPerSec: number; perWorker: ThroughputResult[] }> {
  const nodes = writers === 'one' ? [1] : nodeList(target.nodes);
  return withWorkers(target, `tput-${writers}-${target.nodes}`, nodes, async (ws) => {
    const run = (ms: number) => {
      const startAt = nowMs() + 300;
      return Promise.all(
        ws.map((w) =>
          w.call<ThroughputResult>(
            'throughput',
            {
              durationMs: ms,
              concurrency: sizes.concurrency,
              keyPrefix: `tput/${w.node}/`,
              keys: 1000,
              valueBytes: sizes.valueBytes,
              startAt,
            },
            ms + 60_000,
          ),
        ),
      );
    };
    if (sizes.warmupMs > 0) await run(sizes.warmupMs);
    const perWorker = await run(durationMs);
    const ops = perWorker.reduce((s, r) => s + r.ops, 0);
    const errors = perWorker.reduce((s, r) => s + r.errors, 0);
    if (errors > 0)
      throw new Error(
        `${errors} writes failed: ${perWorker.find((r) => r.firstError)?.firstError}`,
      );
    const elapsed = Math.max(...perWorker.map((r) => r.elapsedMs));
    return { opsPerSec: (ops / elapsed) * 1000, perWorker };
  });
}

/**
 * Write latency at a fixed moderate rate, one writer on node 1 (open loop), after
 * `sizes.latencyWarmup` unmeasured writes at that rate by the same workers.
 */
export async function writeLatency(
  target: Target,
  sizes: Sizes,
  count = sizes.latencyCount,
): Promise<{ samples: number[]; errors: number }> {
  return withWorkers(target, `wlat-${target.nodes}`, [1], async ([w]) => {
    const run = (n: number) =>
      w!.call<{ samples: number[]; errors: number }>(
        'writeLatency',
        {
          rate: sizes.latencyRate,
          count: n,
          keyPrefix: 'wlat/',
          keys: 1000,
          valueBytes: sizes.valueBytes,
        },
        (n / sizes.latencyRate) * 1000 + 60_000,
      );
    if (sizes.latencyWarmup > 0) await run(sizes.latencyWarmup);
    return run(count);
  });
}

/** Read latency on node 2 of a key written on node 1. */
export async function readLatency(target: Target, sizes: Sizes): Promise<{ samples: number[] }> {
  return withWorkers(target, 'rlat', [1, 2], async ([w1, w2]) => {
    await w1!.call('put', { key: 'rlat/key', value: 'v'.repeat(sizes.valueBytes) });
    await sleep(200);
    const r = await w2!.call<{ samples: number[]; misses: number }>(
      'readLatency',
      { key: 'rlat/key', count: sizes.reads },
      120_000,
    );
    if (r.misses > 0) throw new Error(`${r.misses} reads missed the key`);
    return { samples: r.samples };
  });
}

/** Watch latency: paced writes on node 1, seen by a watcher on the last node. */
export async function watchLatency(
  target: Target,
  sizes: Sizes,
): Promise<{ samples: number[]; written: number }> {
  return withWorkers(target, 'watch', [1, target.nodes], async ([w1, w3]) => {
    await w3!.call('watchStart', { prefix: 'watch/' });
    await sleep(200);
    const { written } = await w1!.call<{ written: number }>(
      'stampedWrites',
      {
        rate: sizes.watchRate,
        count: sizes.watchCount,
        keyPrefix: 'watch/',
        valueBytes: sizes.valueBytes,
      },
      (sizes.watchCount / sizes.watchRate) * 1000 + 60_000,
    );
    await sleep(500);
    const { samples } = await w3!.call<{ samples: number[] }>('watchStop');
    if (samples.length < written)
      throw new Error(`watcher saw ${samples.length} of ${written} writes`);
    return { samples, written };
  });
}

/** Uncontended acquire+release per second, one worker on node 1. */
export async function lockUncontended(
  target: Target,
  sizes: Sizes,
): Promise<{ opsPerSec: number; samples: number[] }> {
  return withWorkers(
    target,
    'lock1',
    [1],
    async ([w]) => {
      await w!.call('prepareLocks');
      const loop = (ms: number) =>
        w!.call<{ events: LockEvent[]; elapsedMs: number }>(
          'lockLoop',
          { name: 'solo', durationMs: ms, count: sizes.lockMaxOps, holdMs: 0 },
          ms + 60_000,
        );
      if (sizes.warmupMs > 0) await loop(sizes.warmupMs);
      const r = await loop(sizes.lockMs);
      return {
        opsPerSec: (r.events.length / r.elapsedMs) * 1000,
        samples: r.events.map((e) => e.grantedAt - e.requestedAt),
      };
    },
    { locks: true },
  );
}

/**
 * Contention: one worker per node (every node) loops on the same lock (hold 1 ms). A hand-off is a grant
 * to another node than the previous holder's; its latency is from the previous holder's
 * release call to the next grant (both on the shared monotonic clock).
 */
export async function lockContended(
  target: Target,
  sizes: Sizes,
): Promise<{ handoffs: number[]; grants: number[]; sameNode: number; opsPerSec: number }> {
  return withWorkers(target, 'lock3', nodeList(target.nodes), async (ws) => {
    await Promise.all(ws.map((w) => w.call('prepareLocks')));
    const loops = (ms: number) => {
      const startAt = nowMs() + 300;
      return Promise.all(
        ws.map((w) =>
          w.call<{ events: LockEvent[]; elapsedMs: number }>(
            'lockLoop',
            { name: 'shared', durationMs: ms, count: sizes.lockMaxOps, holdMs: 1, startAt },
            ms + 60_000,
          ),
        ),
      );
    };
    if (sizes.warmupMs > 0) await loops(sizes.warmupMs);
    const results = await loops(sizes.lockMs);
    const all = results
      .flatMap((r, i) => r.events.map((e) => ({ ...e, node: ws[i]!.node })))
      .sort((a, b) => a.grantedAt - b.grantedAt);
    for (let i = 1; i < all.length; i++) {
      if (all[i]!.grantedAt < all[i - 1]!.releasedAt)
        throw new Error(`mutual exclusion violated: two holders at ${all[i]!.grantedAt}`);
    }
    const handoffs: number[] = [];
    let sameNode = 0;
    for (let i = 1; i < all.length; i++) {
      if (all[i]!.node === all[i - 1]!.node) sameNode++;
      else handoffs.push(all[i]!.grantedAt - all[i - 1]!.releasedAt);
    }
    const elapsed = Math.max(...results.map((r) => r.elapsedMs));
    return {
      handoffs,
      grants: results.map((r) => r.events.length),
      sameNode,
      opsPerSec: (all.length / elapsed) * 1000,
    };
  });
}

/**
 * Election failover: one worker per node campaigns; kill the leader's process (or
 * its whole node: the daemon or member, and the process); time until another is elected.
 */
export async function failover(
  target: Target,
  sizes: Sizes,
  mode: 'process' | 'node',
): Promise<{
  seconds: number[];
  retries: number[];
  ownMs: number[];
  roundMs: number[];
  failures: string[];
}> {
  const seconds: number[] = [];
  const retries: number[] = [];
  /** cpgkit: from the confchg's delivery at the new leader to its election. */
  const ownMs: number[] = [];
  /** cpgkit: of `ownMs`, the sync round (the confchg's delivery to the lock machine ready). */
  const roundMs: number[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < sizes.failoverReps; rep++) {
    const name = `elect-${mode}-${rep}`;
    let killedNode: number | undefined;
    const ws: Worker[] = [];
    try {
      for (const n of nodeList(target.nodes))
        ws.push((await Worker.start(target.config(`elect${mode}${rep}`, n), n)).worker);
      const pending = ws.map((w) =>
        w
          .call<{
            electedAt: number;
            pid: number;
            retries: number;
            changedAt?: number;
            roundEndAt?: number;
          }>('campaign', { name, value: `node${w.node}` }, 120_000)
          .then((r) => ({ ...r, worker: w })),
      );
      for (const p of pending) p.catch(() => undefined); // the killed one rejects
      const first = await Promise.race(pending);
      await sleep(1000); // everyone else is waiting now
      const leader = first.worker;
      let killedAt: number;
      if (mode === 'process') {
        killedAt = nowMs();
        await leader.kill();
      } else {
        killedNode = leader.node;
        ({ killedAt } = await target.killNode(leader.node, () => leader.kill()));
      }
      const others = pending.filter((_, i) => ws[i] !== leader);
      const next = await Promise.race(others);
      seconds.push((next.electedAt - killedAt) / 1000);
      retries.push(next.retries);
      if (next.changedAt !== undefined && next.changedAt >= killedAt) {
        ownMs.push(next.electedAt - next.changedAt);
        if (next.roundEndAt !== undefined && next.roundEndAt >= next.changedAt)
          roundMs.push(next.roundEndAt - next.changedAt);
      }
    } catch (error) {
      // one failed repetition is reported, the others still run
      failures.push(`run ${rep + 1}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await Promise.all(ws.map((w) => w.close()));
      if (killedNode !== undefined) await target.restoreNode(killedNode);
    }
  }
  if (seconds.length === 0) throw new Error(failures.join('; '));
  return { seconds, retries, ownMs, roundMs, failures };
}

/**
 * How long the cluster rests between loading a store of `keys` keys and starting the new
 * replica (both systems): a store is joined at rest, not in the wake of a bulk load. Right
 * after one, cpgkit's members still fill their digest caches and write the fill to disk (the
 * summaries of the round wait for the digest, and the leader's slices share the turns with
 * the persistence's), which added 0.3-1.5 s here, at random, to a transfer measured a moment
 * later; that cost is the fill's, and it is measured in packages/statemachine/bench/stalls.ts.
 */
export function restBeforeJoinMs(keys: number): number {
  return 1000 + keys / 100;
}

/** What {@link replica} measured at one store size. */
export interface ReplicaResult {
  /** From opening the new replica's adapter to holding every key. */
  readonly ms: number;
  readonly keys: number;
  /** Loading the keys added since the last size. */
  readonly loadMs: number;
  /** Resident size of the loading worker before it loaded anything (its replica empty). */
  readonly rssEmpty: number;
  /** Resident size of the new replica's process holding the keys, after `settleMs` idle. */
  readonly rssReplica: number;
  /** The same, right after it held every key (a transfer's buffers not yet given back). */
  readonly rssReplicaAtOnce: number;
  /** V8 heap in use in the new replica's process, after `settleMs`. */
  readonly heapReplica: number;
  /** etcd: resident size of the new replica's node's member, after `settleMs`. */
  readonly systemRss?: number;
}

interface WorkerMemory {
  rss: number;
  heapUsed: number;
}

/**
 * The resident size of `worker` (and of the system's own replica on `node`, where it has
 * one) at once and after `settleMs` of idleness, read every second in between (the last
 * reading counts).
 */
async function settledMemory(
  worker: Worker,
  target: Target,
  node: number,
  settleMs: number,
): Promise<{ atOnce: WorkerMemory; settled: WorkerMemory; systemRss?: number }> {
  const atOnce = await worker.call<WorkerMemory>('rss', undefined, 60_000);
  let settled = atOnce;
  let systemRss = target.replicaRss ? await target.replicaRss(node) : undefined;
  const until = nowMs() + settleMs;
  while (nowMs() < until) {
    await sleep(Math.min(1000, Math.max(0, until - nowMs())));
    settled = await worker.call<WorkerMemory>('rss', undefined, 60_000);
    if (target.replicaRss) systemRss = await target.replicaRss(node);
  }
  return { atOnce, settled, ...(systemRss !== undefined ? { systemRss } : {}) };
}

/**
 * A new replica receives a store: for each size of `storeSizes` (ascending), load the keys up
 * to it through node 1 (every node but the last up), let the cluster rest
 * (`restBeforeJoinMs`), then start a worker on the last node and time until it holds them all; then its resident size (after `settleMs` idle), and it leaves
 * again. `load`: keys per write (`putMany`, capped by the adapter; 1: a `put` each) and writes
 * in flight, each tried up to 5 times (loading is not timed).
 */
export async function replica(
  target: Target,
  sizes: Sizes,
  storeSizes: readonly number[] = [sizes.replicaKeys],
  load: { batch: number; concurrency: number } = { batch: 1, concurrency: sizes.loadConcurrency },
): Promise<ReplicaResult[]> {
  const joiner = target.nodes;
  const scenario = `replica-${storeSizes.join('-')}`;
  return withWorkers(
    target,
    scenario,
    [1],
    async ([w1]) => {
      const { rss: rssEmpty } = await w1!.call<{ rss: number }>('rss');
      const out: ReplicaResult[] = [];
      let held = 0;
      for (const size of storeSizes) {
        const loaded = await w1!.call<{ loaded: number; elapsedMs: number }>(
          'load',
          {
            prefix: 'r/',
            offset: held,
            count: size - held,
            concurrency: load.concurrency,
            valueBytes: sizes.valueBytes,
            batch: load.batch,
            tries: 5,
          },
          1_200_000,
        );
        held = size;
        await sleep(restBeforeJoinMs(size));
        // from opening the adapter (join + state transfer on cpgkit; connect on etcd) to
        // holding every key locally; the worker process's own start-up (node, loading the
        // bundle) is not counted
        const { worker, openMs } = await Worker.start(
          target.config(scenario, joiner),
          joiner,
          600_000,
        );
        try {
          const { keys, ms } = await worker.call<{ keys: number; ms: number }>(
            'loadAll',
            { prefix: 'r/' },
            600_000,
          );
          if (keys !== size) throw new Error(`new replica holds ${keys} keys, expected ${size}`);
          const m = await settledMemory(worker, target, joiner, sizes.settleMs);
          out.push({
            ms: openMs + ms,
            keys,
            loadMs: loaded.elapsedMs,
            rssEmpty,
            rssReplica: m.settled.rss,
            rssReplicaAtOnce: m.atOnce.rss,
            heapReplica: m.settled.heapUsed,
            ...(m.systemRss !== undefined ? { systemRss: m.systemRss } : {}),
          });
        } finally {
          await worker.close(30_000);
        }
      }
      return out;
    },
    { exclude: [joiner] },
  );
}
