/**
 * The scale section (`--only scale`, full runs only): curves rather than points. Writes/s and
 * write p99 against the cluster's size (corosync nodes for cpgkit, members for etcd: 3, 5, 7),
 * then the time a new replica takes to receive the store and its resident size against the
 * store's size (10,000, 100,000, 1,000,000 keys), each for both systems in the same run, drawn
 * to scale.svg by vega-lite (chart.ts).
 * @module
 */
import type { CorosyncCluster } from './corosync-cluster.js';
import type { EtcdCluster } from './etcd-cluster.js';
import type { Row } from './report.js';
import * as sc from './scenarios.js';
import { summarize } from './stats.js';
import type { Target } from './target.js';
import { cpgkitTarget, etcdTarget } from './targets.js';

/** One point of a scale curve, for the chart and the JSON report. */
export interface ScalePoint {
  /** Which curve: against the cluster's size, or against the store's. */
  readonly curve: 'nodes' | 'keys';
  /** Nodes (or members), or keys. */
  readonly x: number;
  readonly system: 'cpgkit' | 'etcd';
  readonly metric: 'writes/s' | 'write p99 (ms)' | 'sync time (s)' | 'resident size (MiB)';
  readonly value: number;
}

/** What the section needs from the run. */
export interface ScaleContext {
  readonly corosync: CorosyncCluster;
  readonly systems: ReadonlySet<string>;
  readonly sizes: sc.Sizes;
  readonly runId: string;
  /** The run's temp directory (cpgkit's data directories go under it). */
  readonly workDir: string;
  /** A fresh etcd cluster (fsync) of `members`; the run stops the previous one. */
  startEtcd(members: number): Promise<EtcdCluster>;
  /** Run `fn` for `target`, reporting its time; a failure becomes a problem (undefined). */
  attempt<T>(what: string, target: Target, fn: () => Promise<T>): Promise<T | undefined>;
  readonly rows: Row[];
  readonly details: Record<string, unknown>;
  readonly problems: string[];
  readonly points: ScalePoint[];
  /** The label of the durable variant (both systems persist; see the run's notes). */
  readonly variantLabel: string;
  /** The lease TTL of etcd elections (unused by these workloads; the targets want one). */
  readonly electionTtl: number;
}

/** The section's rows' sections. */
export const SCALE_NODES_SECTION = 'Scale: cluster size';
export const SCALE_KEYS_SECTION = 'Scale: store size';

const MIB = 1024 * 1024;

/** Bytes as MiB for a note. */
function mib(bytes: number | undefined): string {
  return bytes === undefined ? '—' : (bytes / MIB).toFixed(0);
}

/** Run the section: cluster sizes first, then store sizes on `sizes.scaleNodes[0]` nodes (3 if none). */
export async function scale(ctx: ScaleContext): Promise<void> {
  const { sizes } = ctx;
  const both = (['cpgkit', 'etcd'] as const).filter((s) => ctx.systems.has(s));
  for (const n of sizes.scaleNodes) {
    const got: Partial<Record<'cpgkit' | 'etcd', { tput?: number; p99?: number }>> = {};
    for (const system of both) {
      const target = await targetOf(ctx, system, n, `scale${n}`);
      if (!target) continue;
      const tput = await ctx.attempt(`scale: writes/s, 1 writer, ${n} nodes`, target, () =>
        sc.writeThroughput(target, sizes, 'one', sizes.scaleThroughputMs),
      );
      const lat = await ctx.attempt(`scale: write latency, ${n} nodes`, target, () =>
        sc.writeLatency(target, sizes, sizes.scaleLatencyCount),
      );
      const p99 = lat?.samples.length ? summarize(lat.samples).p99 : undefined;
      got[system] = {
        ...(tput ? { tput: tput.opsPerSec } : {}),
        ...(p99 !== undefined ? { p99 } : {}),
      };
      ctx.details[`scale: ${n} nodes (${system})`] = {
        opsPerSec: tput?.opsPerSec,
        latency: lat?.samples.length ? summarize(lat.samples) : undefined,
        latencyErrors: lat?.errors,
      };
      if (tput)
        ctx.points.push({
          curve: 'nodes',
          x: n,
          system,
          metric: 'writes/s',
          value: tput.opsPerSec,
        });
      if (p99 !== undefined)
        ctx.points.push({ curve: 'nodes', x: n, system, metric: 'write p99 (ms)', value: p99 });
    }
    const note = `${n} corosync nodes, a replica on each / ${n} etcd members`;
    ctx.rows.push(
      row(
        SCALE_NODES_SECTION,
        `writes/s, 1 writer (${sizes.concurrency} in flight), ${n} nodes`,
        ctx.variantLabel,
        'writes/s',
        'higher',
        got.cpgkit?.tput,
        got.etcd?.tput,
        note,
      ),
      row(
        SCALE_NODES_SECTION,
        `write latency at ${sizes.latencyRate}/s p99, ${n} nodes`,
        ctx.variantLabel,
        'ms',
        'lower',
        got.cpgkit?.p99,
        got.etcd?.p99,
        `${note}; ${sizes.scaleLatencyCount} writes, after ${sizes.latencyWarmup} unmeasured ones`,
      ),
    );
  }

  const n = sizes.scaleNodes[0] ?? 3;
  const keys = sizes.scaleStoreKeys;
  if (keys.length === 0) return;
  const results: Partial<Record<'cpgkit' | 'etcd', sc.ReplicaResult[]>> = {};
  for (const system of both) {
    const target = await targetOf(ctx, system, n, 'scalekeys');
    if (!target) continue;
    const r = await ctx.attempt(
      `scale: new replica receives ${keys.map((k) => k.toLocaleString('en-US')).join(' / ')} keys`,
      target,
      () => sc.replica(target, sizes, keys, sizes.scaleLoad),
    );
    if (!r) continue;
    results[system] = r;
    ctx.details[`scale: store sizes (${system})`] = r;
    for (const p of r) {
      ctx.points.push({
        curve: 'keys',
        x: p.keys,
        system,
        metric: 'sync time (s)',
        value: p.ms / 1000,
      });
      const rss = system === 'etcd' ? p.systemRss : p.rssReplica;
      if (rss !== undefined)
        ctx.points.push({
          curve: 'keys',
          x: p.keys,
          system,
          metric: 'resident size (MiB)',
          value: rss / MIB,
        });
    }
  }
  for (const [i, k] of keys.entries()) {
    const c = results.cpgkit?.[i];
    const e = results.etcd?.[i];
    const perKey = (ms: number | undefined): string =>
      ms === undefined ? '—' : `${((ms * 1000) / k).toFixed(1)} µs`;
    ctx.rows.push(
      row(
        SCALE_KEYS_SECTION,
        `time for a new replica to receive ${k.toLocaleString('en-US')} keys`,
        '—',
        's',
        'lower',
        c && c.ms / 1000,
        e && e.ms / 1000,
        `per key: cpgkit ${perKey(c?.ms)}, etcd ${perKey(e?.ms)}; cpgkit: join + state transfer, ${n} nodes; etcd: a new client reads every key (paginated range)`,
      ),
      row(
        SCALE_KEYS_SECTION,
        `resident size of a replica holding ${k.toLocaleString('en-US')} keys`,
        '—',
        'MiB',
        'lower',
        c && c.rssReplica / MIB,
        e?.systemRss === undefined ? undefined : e.systemRss / MIB,
        `after ${ctx.sizes.settleMs / 1000} s idle (right after the transfer: cpgkit ${mib(c?.rssReplicaAtOnce)} MiB); cpgkit: the new replica's Node process (V8 heap in use ${mib(c?.heapReplica)} MiB; the loader's process empty: ${mib(c?.rssEmpty)} MiB); etcd: the new client's node's member`,
      ),
    );
  }
}

/** The durable target of `system` on `n` nodes: corosync reconfigured, or a fresh etcd. */
async function targetOf(
  ctx: ScaleContext,
  system: 'cpgkit' | 'etcd',
  n: number,
  tag: string,
): Promise<Target | undefined> {
  if (system === 'cpgkit') {
    if (!ctx.corosync.runs({ nodes: n, defaultTotem: true })) {
      try {
        await ctx.corosync.reconfigure({ nodes: n });
      } catch (error) {
        // this size's cpgkit figures are missing; the run goes on
        ctx.problems.push(`scale: corosync on ${n} nodes: ${String(error)}`);
        return undefined;
      }
    }
    return cpgkitTarget(
      ctx.corosync,
      'durable',
      `${ctx.runId}-${tag}`,
      `${ctx.workDir}/cpgkit-data-${tag}`,
    );
  }
  try {
    const etcd = await ctx.startEtcd(n);
    return etcdTarget(() => etcd, 'durable', ctx.electionTtl);
  } catch (error) {
    ctx.problems.push(`scale: etcd with ${n} members: ${String(error)}`);
    return undefined;
  }
}

function row(
  section: string,
  figure: string,
  variant: string,
  unit: string,
  better: 'higher' | 'lower',
  cpgkit: number | undefined,
  peerValue: number | undefined,
  note: string,
): Row {
  return {
    section,
    figure,
    variant,
    unit,
    better,
    peer: 'etcd',
    ...(cpgkit !== undefined ? { cpgkit } : {}),
    ...(peerValue !== undefined ? { peerValue } : {}),
    note,
  };
}
