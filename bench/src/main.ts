/**
 * `pnpm bench [--quick] [--only SECTIONS] [--systems cpgkit,etcd]`: cpgkit against plain libcpg
 * and etcd, side by side, in one run. Writes report.json, report.md and latency.svg to
 * bench/results/ (full runs) or bench/results/quick/ (quick runs, not committed).
 * Past 500 lines: the run's order of sections and each row's wording live together here (the
 * figures are measured in scenarios.ts, scale.ts and raw.ts); a next section should move the
 * rows of a section into a file of its own.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { writeChart, writeScaleChart } from './chart.js';
import { CorosyncCluster } from './corosync-cluster.js';
import { EtcdCluster, ensureEtcd, type EtcdDurability } from './etcd-cluster.js';
import { repoRoot, resultsDir } from './paths.js';
import { scale, SCALE_KEYS_SECTION, SCALE_NODES_SECTION, type ScalePoint } from './scale.js';
import { installSignalHandlers, run, stopAll } from './procs.js';
import { rawMessaging } from './raw-messaging.js';
import {
  fmt,
  ratio,
  toDistribution,
  toMarkdown,
  writeReport,
  NO_PEER,
  type Distribution,
  type Report,
  type Row,
} from './report.js';
import * as sc from './scenarios.js';
import { summarize } from './stats.js';
import type { Target, Variant } from './target.js';
import { cpgkitTarget, etcdTarget } from './targets.js';
import { removeWorkerBundle } from './worker-bundle.js';
import { floorRows } from './write-floor.js';

const SECTIONS = ['raw', 'kv', 'locks', 'election', 'replica', 'scale'] as const;
type Section = (typeof SECTIONS)[number];

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    systems: { type: 'string', default: 'cpgkit,etcd' },
    out: { type: 'string' },
    'scale-nodes': { type: 'string' },
    'scale-keys': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(`usage: pnpm bench [--quick] [--only ${SECTIONS.join(',')}] [--systems cpgkit,etcd] [--out DIR]
                  [--scale-nodes 3,5,7] [--scale-keys 10000,100000,1000000]

Runs cpgkit (on the 3-node corosync cluster of scripts/cluster) and etcd (3 members on
127.0.0.1:${process.env.BENCH_ETCD_BASE_PORT ?? 23790}+) through the same workloads and writes report.json, report.md and
latency.svg to bench/results/ (--quick: bench/results/quick/, not committed).
Environment: CPGKIT_CLUSTER_NAME / CPGKIT_CLUSTER_SUBNET (default cpgkbench / 10.213.6),
BENCH_ETCD_BASE_PORT (default 23790), BENCH_VERBOSE=1 to see the workers' stderr.
--scale-nodes / --scale-keys: the scale section's cluster and store sizes (an empty list skips
that curve), e.g. --only scale --scale-nodes 5 --scale-keys '' for one point.`);
  process.exit(0);
}

const quick = opts.quick ?? false;
const sizes: sc.Sizes = {
  ...sc.SIZES[quick ? 'quick' : 'full'],
  ...(opts['scale-nodes'] !== undefined ? { scaleNodes: sizeList(opts['scale-nodes']) } : {}),
  ...(opts['scale-keys'] !== undefined ? { scaleStoreKeys: sizeList(opts['scale-keys']) } : {}),
};

/** `--scale-nodes` / `--scale-keys`: positive integers, comma-separated (empty: none). */
function sizeList(text: string): number[] {
  const list = text === '' ? [] : text.split(',').map(Number);
  for (const n of list)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`not a size list: '${text}'`);
  return list;
}
const only = new Set<Section>((opts.only?.split(',') ?? SECTIONS) as Section[]);
for (const s of only)
  if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}: one of ${SECTIONS.join(', ')}`);
const systems = new Set(opts.systems?.split(','));
const outDir = opts.out ?? resultsDir(quick);
process.env.CPGKIT_CLUSTER_NAME ??= 'cpgkbench';
process.env.CPGKIT_CLUSTER_SUBNET ??= '10.213.6';

/** Shortest lease TTL the etcd3 client accepts (the server raises it to its own minimum). */
const ETCD_ELECTION_TTL = 1;
const runId = Date.now().toString(36);

const rows: Row[] = [];
const distributions: Distribution[] = [];
const scalePoints: ScalePoint[] = [];
const details: Record<string, unknown> = {};
const problems: string[] = [];
const startedAt = new Date().toISOString();

const corosync = new CorosyncCluster();
let etcd: EtcdCluster | undefined;
let workDir: string | undefined;

async function cleanup(): Promise<void> {
  await etcd?.stop().catch((e: unknown) => problems.push(`stopping etcd: ${String(e)}`));
  etcd = undefined;
  await stopAll();
  await removeWorkerBundle();
  await corosync
    .down()
    .catch((e: unknown) => problems.push(`bringing the corosync cluster down: ${String(e)}`));
  if (workDir) await rm(workDir, { recursive: true, force: true });
}
installSignalHandlers(cleanup);

/** Run `fn` for a target, recording a failure as a problem (the figure is then missing). */
async function attempt<T>(
  what: string,
  target: Target,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const label = `${what} [${target.system}, ${target.label}]`;
  const t = Date.now();
  process.stderr.write(`bench: ${label} ... `);
  try {
    const r = await fn();
    process.stderr.write(`${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    return r;
  } catch (error) {
    process.stderr.write('FAILED\n');
    const msg = `${label}: ${error instanceof Error ? error.message : String(error)}`;
    console.error(`bench: ${msg}`);
    problems.push(msg);
    return undefined;
  }
}

const NOTES = [
  'Same machine, same work: cpgkit runs on corosync daemons in network namespaces (3 unless a row says otherwise), etcd as as many members on 127.0.0.1; every workload runs in worker processes (one per node), each talking only to its own node (its corosync daemon, or its etcd member), driven by the same code through a small adapter (bench/src/adapter.ts). A cpgkit replica lives in a worker, so every node runs one (idle where the workload has none): a write is replicated to as many nodes on both sides. Workers run a bundle of their TypeScript (esbuild) with plain node, as an application runs the published packages.',
  "Durability: etcd fsyncs its write-ahead log before it acknowledges a write (batched across concurrent writes). cpgkit with persistence on appends what changed (the immer patches of every write since the last record) to an append-only log and fdatasyncs it, one record per batch at most every 50 ms (persistDelay), and writes a whole snapshot (write, fsync, rename) only when the log outgrows the last one or the state came from a sync; it acknowledges a write once a majority of its replicas applied it in memory, so the disk of a replica lags by up to 50 ms plus one append (there is no fsync per acknowledged write). Rows labelled \"durable\" pair those two (cpgkit's durability 'memory'); rows labelled \"fsync\" pair etcd with cpgkit's durability 'fsync', which acknowledges a write once a majority of its replicas has it on disk (each replica appends and fdatasyncs once per delivered batch: group commit), the same guarantee as etcd's; rows labelled \"no fsync\" pair cpgkit in memory with etcd --unsafe-no-fsync. Figures that do not depend on it (reads, watch, election, transfer, memory) are measured once, in the durable pair.",
  'Reads: a cpgkit read is local (the replica is in the process); an etcd read is a linearizable range request (the etcd3 default).',
  "Locks: etcd3's Lock only tries (lease grant, a compare-and-put, lease revoke on release); to wait, the etcd adapter watches the key for its delete and tries again, as an etcd3 user has to. cpgkit's locks queue waiters in FIFO order. A hand-off is timed from the holder's release call to the next holder's grant on another node.",
  "Election: etcd3's Election (a lease per candidate; the shortest TTL the client accepts, raised by the server to its minimum) against cpgkit's (membership: corosync reports a dead process at once, a dead node after the token timeout of 1000 ms plus consensus).",
  "Latencies are measured in the worker: writes from when each was due (a fixed-rate open loop, so stalls count), watch latency from the writer's send to the watcher on another node (one monotonic clock for every process on this machine). Percentiles are exact (nearest rank over all samples).",
];

const VARIANT_LABEL: Record<Variant, string> = {
  durable:
    "durable: cpgkit persistence on, durability 'memory' (majority in memory, disk within 50 ms) / etcd fsync",
  fsync: "fsync: cpgkit durability 'fsync' (majority on disk) / etcd fsync",
  fast: 'no fsync: cpgkit in memory / etcd --unsafe-no-fsync',
};

type PerSystem<T> = { cpgkit?: T; etcd?: T };

function missingNote(p: PerSystem<unknown>): string | undefined {
  const gone = (['cpgkit', 'etcd'] as const).filter((s) => systems.has(s) && p[s] === undefined);
  if (gone.length === 0) return undefined;
  return `${gone.join(' and ')} failed: see Problems`;
}

function addRow(
  section: string,
  figure: string,
  variant: Variant | undefined,
  unit: string,
  better: 'higher' | 'lower',
  p: PerSystem<number>,
  note?: string,
): void {
  const notes = [note, missingNote(p)].filter(Boolean).join('; ');
  rows.push({
    section,
    figure,
    variant: variant ? VARIANT_LABEL[variant] : '—',
    unit,
    better,
    peer: 'etcd',
    ...(p.cpgkit !== undefined ? { cpgkit: p.cpgkit } : {}),
    ...(p.etcd !== undefined ? { peerValue: p.etcd } : {}),
    ...(notes ? { note: notes } : {}),
  });
}

function addLatencyRows(
  section: string,
  figure: string,
  variant: Variant | undefined,
  p: PerSystem<number[]>,
  pcts: ('p50' | 'p99' | 'p999')[],
  note?: string,
): void {
  const s = {
    cpgkit: p.cpgkit?.length ? summarize(p.cpgkit) : undefined,
    etcd: p.etcd?.length ? summarize(p.etcd) : undefined,
  };
  for (const pct of pcts) {
    const name = pct === 'p999' ? 'p99.9' : pct;
    addRow(
      section,
      `${figure} ${name}`,
      variant,
      'ms',
      'lower',
      { cpgkit: s.cpgkit?.[pct], etcd: s.etcd?.[pct] },
      note,
    );
  }
  for (const sys of ['cpgkit', 'etcd'] as const) {
    const samples = p[sys];
    const variantLabel = variant ?? 'durable';
    const label =
      sys === 'cpgkit'
        ? { durable: 'persistence on', fsync: "durability 'fsync'", fast: 'in memory' }[
            variantLabel
          ]
        : variantLabel === 'fast'
          ? 'no fsync'
          : 'fsync';
    const d = samples ? toDistribution(figure, sys, label, samples) : undefined;
    if (d) distributions.push(d);
  }
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** A fresh etcd cluster of `members` (default: as many as the corosync cluster's nodes). */
async function startEtcd(durability: EtcdDurability, members = corosync.nodes): Promise<void> {
  await etcd?.stop();
  etcd = await EtcdCluster.start(join(workDir!, `etcd-${durability}`), durability, members);
}

const env: Record<string, string> = {};

async function main(): Promise<void> {
  workDir = await mkdtemp(join(tmpdir(), 'cpgkit-bench-'));
  Object.assign(env, {
    machine: `${(await run('nproc', [])).trim()} cores, node ${process.version}`,
    corosync: `cluster ${process.env.CPGKIT_CLUSTER_NAME} (${corosync.nodes} nodes, network namespaces, knet)`,
  });
  if (systems.has('etcd'))
    env.etcd = `${await ensureEtcd()}, ${corosync.nodes} members on 127.0.0.1, heartbeat 100 ms, election timeout 1000 ms, election lease TTL requested ${ETCD_ELECTION_TTL} s`;
  const needCorosync = systems.has('cpgkit') || only.has('raw');
  if (needCorosync) {
    await corosync.up();
    // what the cluster runs with (an existing one is reused as it is); the rest is corosync's default
    env.corosync += `, ${(await corosync.totemSettings()) || 'settings unknown'}`;
  }

  if (only.has('raw')) {
    process.stderr.write('bench: raw group messaging (bench/src/raw.ts) ...\n');
    const raw = await rawMessaging(quick, problems);
    rows.push(...raw.rows);
    details.raw = raw.details;
  }

  const kvSection = 'Config store';
  const lockSection = 'Locks';
  for (const variant of ['durable', 'fsync', 'fast'] as const) {
    // the fsync pair: the config store's writes and the uncontended locks (what it changes)
    if (variant === 'fsync' && !only.has('kv') && !only.has('locks')) continue;
    const targets: Target[] = [];
    if (systems.has('cpgkit'))
      targets.push(
        cpgkitTarget(
          corosync,
          variant,
          runId,
          variant === 'fast' ? undefined : join(workDir, 'cpgkit-data'),
          variant === 'fsync' ? 'fsync' : 'memory',
        ),
      );
    if (systems.has('etcd')) {
      await startEtcd(variant === 'fast' ? 'no-fsync' : 'fsync');
      if (variant === 'durable') {
        const granted = await etcd!
          .grantedTtl(ETCD_ELECTION_TTL)
          .catch((e: unknown) => `unknown (${String(e)})`);
        env.etcd += `; a ${ETCD_ELECTION_TTL} s lease is granted with TTL ${granted} s`;
      }
      targets.push(etcdTarget(() => etcd!, variant, ETCD_ELECTION_TTL));
    }
    const each = async <T>(what: string, fn: (t: Target) => Promise<T>): Promise<PerSystem<T>> => {
      const out: PerSystem<T> = {};
      for (const t of targets) {
        const r = await attempt(what, t, () => fn(t));
        if (r !== undefined) out[t.system] = r;
      }
      details[`${what} (${variant})`] = out;
      return out;
    };

    if (only.has('kv')) {
      const w1 = await each('writes/s, 1 writer', (t) => sc.writeThroughput(t, sizes, 'one'));
      addRow(
        kvSection,
        `writes/s, 1 writer (${sizes.concurrency} in flight)`,
        variant,
        'writes/s',
        'higher',
        { cpgkit: w1.cpgkit?.opsPerSec, etcd: w1.etcd?.opsPerSec },
      );
      // --quick (CI's smoke run) keeps the fsync pair to one row, for time
      if (!(quick && variant === 'fsync')) {
        const w3 = await each('writes/s, 1 writer per node', (t) =>
          sc.writeThroughput(t, sizes, 'each'),
        );
        addRow(
          kvSection,
          `writes/s, 1 writer per node (${corosync.nodes} × ${sizes.concurrency} in flight)`,
          variant,
          'writes/s',
          'higher',
          { cpgkit: w3.cpgkit?.opsPerSec, etcd: w3.etcd?.opsPerSec },
        );
        const wl = await each('write latency', (t) => sc.writeLatency(t, sizes));
        addLatencyRows(
          kvSection,
          `write latency at ${sizes.latencyRate}/s`,
          variant,
          { cpgkit: wl.cpgkit?.samples, etcd: wl.etcd?.samples },
          ['p50', 'p99', 'p999'],
          `${sizes.latencyCount} writes, after ${sizes.latencyWarmup} unmeasured ones at the same rate by the same fresh workers (both systems: V8's warm-up)`,
        );
        if (variant === 'durable' && systems.has('cpgkit')) {
          const floor = await floorRows({
            ...{ rate: sizes.latencyRate, count: sizes.latencyCount, size: 160, runId },
            ...{ cpgkit: wl.cpgkit?.samples, etcd: wl.etcd?.samples, problems },
          });
          rows.push(...floor.rows);
          details['write latency floor (C libcpg)'] = floor.samples && summarize(floor.samples);
        }
      }
      if (variant === 'durable') {
        const rl = await each('read latency', (t) => sc.readLatency(t, sizes));
        addLatencyRows(
          kvSection,
          'read latency',
          undefined,
          { cpgkit: rl.cpgkit?.samples, etcd: rl.etcd?.samples },
          ['p50', 'p99'],
          'cpgkit: local read of the replica; etcd: linearizable get',
        );
        const wa = await each('watch latency', (t) => sc.watchLatency(t, sizes));
        addLatencyRows(
          kvSection,
          `watch latency node 1 → node ${corosync.nodes}`,
          undefined,
          { cpgkit: wa.cpgkit?.samples, etcd: wa.etcd?.samples },
          ['p50', 'p99'],
          `${sizes.watchRate} writes/s`,
        );
      }
    }
    if (only.has('locks') && !(quick && variant === 'fsync')) {
      const lu = await each('lock uncontended', (t) => sc.lockUncontended(t, sizes));
      addRow(
        lockSection,
        'uncontended acquire+release/s',
        variant,
        'ops/s',
        'higher',
        { cpgkit: lu.cpgkit?.opsPerSec, etcd: lu.etcd?.opsPerSec },
        'etcd3 Lock: lease grant + txn + lease revoke',
      );
      if (variant !== 'fsync') {
        const lc = await each('lock contended', (t) => sc.lockContended(t, sizes));
        addLatencyRows(
          lockSection,
          `hand-off latency, ${corosync.nodes} nodes contending`,
          variant,
          { cpgkit: lc.cpgkit?.handoffs, etcd: lc.etcd?.handoffs },
          ['p50', 'p99'],
          'etcd3 Lock only tries: waiters watch for the delete and retry',
        );
        addRow(
          lockSection,
          `grants/s, ${corosync.nodes} nodes contending (hold 1 ms)`,
          variant,
          'grants/s',
          'higher',
          { cpgkit: lc.cpgkit?.opsPerSec, etcd: lc.etcd?.opsPerSec },
        );
      }
    }
    if (variant === 'durable' && only.has('election')) {
      const fp = await each('failover, leader process killed', (t) =>
        sc.failover(t, sizes, 'process'),
      );
      addRow(
        'Election',
        'failover after kill -9 of the leader process (median)',
        undefined,
        's',
        'lower',
        { cpgkit: median(fp.cpgkit?.seconds ?? []), etcd: median(fp.etcd?.seconds ?? []) },
        `${sizes.failoverReps} runs; etcd lease TTL ${ETCD_ELECTION_TTL} s requested, cpgkit token 1000 ms`,
      );
      const fn = await each('failover, leader node killed', (t) => sc.failover(t, sizes, 'node'));
      addRow(
        'Election',
        "failover after kill -9 of the leader's node (median)",
        undefined,
        's',
        'lower',
        { cpgkit: median(fn.cpgkit?.seconds ?? []), etcd: median(fn.etcd?.seconds ?? []) },
        `${sizes.failoverReps} runs; node = corosync daemon + process / etcd member + process; a candidate whose campaign fails campaigns again (retries: cpgkit ${fn.cpgkit?.retries.join(',') ?? '—'}, etcd ${fn.etcd?.retries.join(',') ?? '—'})`,
      );
      if (systems.has('cpgkit')) {
        const own = [...(fp.cpgkit?.ownMs ?? []), ...(fn.cpgkit?.ownMs ?? [])];
        const ownMedian = median(own);
        const round = [...(fp.cpgkit?.roundMs ?? []), ...(fn.cpgkit?.roundMs ?? [])];
        const roundMedian = median(round);
        rows.push({
          section: 'Election',
          figure: "cpgkit's own share of a failover (median)",
          variant: '—',
          unit: 'ms',
          better: 'lower',
          peer: NO_PEER,
          ...(ownMedian !== undefined ? { cpgkit: ownMedian } : {}),
          note: `the ${own.length} runs of the two rows above (runs: ${own.map((x) => x.toFixed(1)).join(', ') || '—'} ms): from the new leader's member seeing the membership change (its lock machine's sync round starts) to its election; of which the sync round (to the lock machine ready again): median ${roundMedian?.toFixed(1) ?? '—'} ms (${round.map((x) => x.toFixed(1)).join(', ') || '—'}), the rest the election's commit and hand-out; the rest of a failover is corosync's detection; goal ≤ 20 ms`,
        });
      }
    }
    if (variant === 'durable' && only.has('replica')) {
      const rps = await each(`new replica receives ${sizes.replicaKeys} keys`, (t) =>
        sc.replica(t, sizes),
      );
      const rp = { cpgkit: rps.cpgkit?.[0], etcd: rps.etcd?.[0] };
      addRow(
        kvSection,
        `time for a new replica to receive ${sizes.replicaKeys.toLocaleString('en-US')} keys`,
        undefined,
        's',
        'lower',
        { cpgkit: rp.cpgkit && rp.cpgkit.ms / 1000, etcd: rp.etcd && rp.etcd.ms / 1000 },
        `cpgkit: join + state transfer; etcd: a new client reads every key (paginated range) into a local map; started after ${(sc.restBeforeJoinMs(sizes.replicaKeys) / 1000).toFixed(0)} s at rest after loading (both)`,
      );
      const mib = 1024 * 1024;
      addRow(
        'Memory',
        `resident size of a replica holding ${sizes.replicaKeys.toLocaleString('en-US')} keys`,
        undefined,
        'MiB',
        'lower',
        {
          cpgkit: rp.cpgkit && rp.cpgkit.rssReplica / mib,
          etcd: rp.etcd?.systemRss && rp.etcd.systemRss / mib,
        },
        `after ${sizes.settleMs / 1000} s idle (right after the transfer: cpgkit ${fmt(rp.cpgkit && rp.cpgkit.rssReplicaAtOnce / mib)} MiB); cpgkit: the Node replica process (empty: ${fmt(rp.cpgkit && rp.cpgkit.rssEmpty / mib)} MiB; V8 heap in use ${fmt(rp.cpgkit && rp.cpgkit.heapReplica / mib)} MiB); etcd: the member process`,
      );
    }
  }
  if (!quick && only.has('election') && systems.has('cpgkit')) await totemFailover();
  if (only.has('scale')) {
    if (quick) process.stderr.write('bench: scale: full runs only (not --quick): skipped\n');
    else
      await scale({
        corosync,
        systems,
        sizes,
        runId,
        workDir,
        startEtcd: async (members) => {
          await startEtcd('fsync', members);
          return etcd!;
        },
        attempt,
        rows,
        details,
        problems,
        points: scalePoints,
        variantLabel: VARIANT_LABEL.durable,
        electionTtl: ETCD_ELECTION_TTL,
      });
  }
  env.sizes = JSON.stringify(sizes);
}

/** The 1-minute load average now, for the report (a busy machine gives lower, noisier figures). */
const load = (): string => loadavg()[0]!.toFixed(1);
const loadAtStart = load();

/**
 * Failover after a node's death under other totem settings (cpgkit only: they are corosync's),
 * last in the run because each brings the cluster down and up again with its corosync.conf.
 */
async function totemFailover(): Promise<void> {
  const settings = [
    { label: 'token 1000 ms, token_coefficient 0', token: 1000, tokenCoefficient: 0 },
    { label: 'token 500 ms (token_coefficient 650 ms, the default)', token: 500 },
  ];
  for (const [i, s] of settings.entries()) {
    // fresh groups and data directories: the earlier failover rows' replicas left theirs
    const target = cpgkitTarget(
      corosync,
      'durable',
      `${runId}-totem${i}`,
      join(workDir!, `cpgkit-data-totem${i}`),
    );
    const what = `failover, leader node killed, ${s.label}`;
    const r = await attempt(what, target, async () => {
      await corosync.reconfigure(s);
      return sc.failover(target, sizes, 'node');
    });
    details[what] = r;
    const seconds = median(r?.seconds ?? []);
    rows.push({
      section: 'Election',
      figure: `failover after kill -9 of the leader's node (median), ${s.label}`,
      variant: '—',
      unit: 's',
      better: 'lower',
      peer: NO_PEER,
      ...(seconds !== undefined ? { cpgkit: seconds } : {}),
      note: `${sizes.failoverReps} runs; cpgkit only (a corosync setting), ${corosync.nodes} nodes; compare with the row above (token 1000 ms, token_coefficient 650 ms)${r === undefined ? '; failed: see Problems' : ''}`,
    });
  }
}

async function finish(environment: Record<string, string>): Promise<void> {
  const report: Report = {
    title: 'cpgkit benchmarks: cpgkit against plain libcpg and etcd',
    startedAt,
    finishedAt: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    command: `pnpm bench${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    environment,
    notes: NOTES,
    rows,
    distributions,
    ...(scalePoints.length
      ? {
          charts: [
            {
              sections: [SCALE_NODES_SECTION, SCALE_KEYS_SECTION],
              file: 'scale.svg',
              alt: 'writes/s and p99 against cluster size; sync time and resident size against store size',
            },
          ],
        }
      : {}),
    details,
    problems,
  };
  report.environment.load = `1-minute load average ${loadAtStart} at the start, ${load()} at the end (on ${(await run('nproc', [])).trim()} cores; a busy machine gives lower, noisier figures)`;
  await writeReport(outDir, report);
  if (distributions.length) await writeChart(join(outDir, 'latency.svg'), distributions);
  if (scalePoints.length) await writeScaleChart(join(outDir, 'scale.svg'), scalePoints);
  console.log(toMarkdown(report));
  const ahead = rows.filter((r) => ratio(r) !== undefined).length;
  console.error(
    `bench: ${ahead} of ${rows.length} figures paired; report in ${relative(repoRoot, outDir)}/ (report.md, report.json, latency.svg)`,
  );
}

try {
  await main();
} catch (error) {
  console.error('bench: failed:', error);
  problems.push(`the run stopped early: ${String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// whatever was measured is written, also after a failure
await finish(env);
process.exit(process.exitCode ?? 0);
