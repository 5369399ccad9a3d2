/**
 * The latency probe: the bench's "write latency at N/s" row alone, cpgkit and etcd
 * interleaved and repeated, with the CPU of corosync's daemons (or etcd's members) and of the
 * workers per run and, with `--trace`, every cpgkit write followed through its three replicas
 * (trace.ts): due, sent, applied on each node, the writer's commit index reaching it (a
 * remote ack), resolved; with each replica's event-loop stalls and GC pauses. System `c` is
 * the floor under cpgkit: the same writes by the C libcpg client, acked by C echoes on the
 * other nodes (write-floor.ts). `--warmup N`: cpgkit's workers first apply N writes at the
 * same rate, unmeasured: fresh workers run their hot paths in V8's lower tiers for the first
 * seconds, so a cold 10 s window measures part warm-up. A diagnostic, not a row of the report:
 *
 * ```sh
 * pnpm --filter @cpgkit/bench probe --reps 3 [--trace] [--per-worker] [--strace] [--in-flight N]
 *   [--variant durable|fsync|fast] [--sched rr]
 *   [--rate 300] [--count 3000] [--warmup 0] [--systems c,cpgkit,etcd] [--out FILE.json]
 * ```
 * @module
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CorosyncCluster } from './corosync-cluster.js';
import { EtcdCluster, ensureEtcd } from './etcd-cluster.js';
import { installSignalHandlers, nowMs, stopAll } from './procs.js';
import { fmt } from './report.js';
import { explain, type TracedWrite } from './trace-analysis.js';
import { CpuShareSampler, realtimeClients, type CpuShare } from './cpu-share.js';
import { countSyscalls, procUsage, usagePer, type SyscallCount } from './proc-usage.js';
import { summarize } from './stats.js';
import type { Target, Variant } from './target.js';
import { cpgkitTarget, etcdTarget } from './targets.js';
import type { WorkerTrace } from './trace.js';
import { Worker } from './worker-client.js';
import { writeFloor } from './write-floor.js';
import { removeWorkerBundle } from './worker-bundle.js';

const { values: opts } = parseArgs({
  // `pnpm --filter @cpgkit/bench probe -- --reps 3` passes the `--` on
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    reps: { type: 'string', default: '3' },
    rate: { type: 'string', default: '300' },
    count: { type: 'string', default: '3000' },
    variant: { type: 'string', default: 'durable' },
    systems: { type: 'string', default: 'cpgkit,etcd' },
    trace: { type: 'boolean', default: false },
    'per-worker': { type: 'boolean', default: false },
    strace: { type: 'boolean', default: false },
    'in-flight': { type: 'string' },
    // cpgkit: this many writes at `--rate` before the measured ones (JIT warm-up, not measured)
    warmup: { type: 'string', default: '0' },
    // `rr`: the clients (workers, C clients) at real-time priority 1 (cpu-share.ts)
    sched: { type: 'string', default: 'normal' },
    out: { type: 'string' },
  },
});
const reps = Number(opts.reps);
const rate = Number(opts.rate);
const count = Number(opts.count);
const variant = opts.variant as Variant;
const warmup = Number(opts.warmup);
const systems = opts.systems.split(',');
process.env.CPGKIT_CLUSTER_NAME ??= 'cpgkbench';
process.env.CPGKIT_CLUSTER_SUBNET ??= '10.213.6';

const corosync = new CorosyncCluster();
let etcd: EtcdCluster | undefined;
let workDir: string | undefined;
const runId = Date.now().toString(36);

/** CPU (user + system) of `pid` so far, ms, from /proc (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Context switches of `pid` so far: voluntary (it waited) and not (it was preempted). */
async function switches(pid: number): Promise<{ voluntary: number; preempted: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    voluntary: get('voluntary_ctxt_switches'),
    preempted: get('nonvoluntary_ctxt_switches'),
  };
}

/** CPU ms and context switches of `pids`, summed. */
async function usage(
  pids: number[],
): Promise<{ cpu: number; voluntary: number; preempted: number }> {
  const all = await Promise.all(
    pids.map(async (p) => ({ cpu: await cpuMs(p), ...(await switches(p)) })),
  );
  return all.reduce(
    (s, x) => ({
      cpu: s.cpu + x.cpu,
      voluntary: s.voluntary + x.voluntary,
      preempted: s.preempted + x.preempted,
    }),
    { cpu: 0, voluntary: 0, preempted: 0 },
  );
}

async function serverPids(t: Target | 'c'): Promise<number[]> {
  if (t === 'c' || t.system === 'cpgkit') return [...(await corosync.daemonPids()).values()];
  return etcd!.members.map((_, i) => etcd!.pid(i + 1));
}

/**
 * Run `run`, with the load average before it and, per write, the CPU and context switches of
 * the servers (`pids`) and the CPU and preemptions of the clients (`workerPids`) during it.
 */
async function measured<R>(pids: number[], workerPids: number[], run: () => Promise<R>) {
  if (opts.sched === 'rr') await realtimeClients(workerPids);
  const before = await usage(pids);
  const beforeW = await usage(workerPids);
  const load = loadavg()[0]!;
  const sampler = new CpuShareSampler(pids);
  const r = await run();
  const share = sampler.stop();
  const after = await usage(pids);
  const afterW = await usage(workerPids);
  const per = (a: number, b: number) => (a - b) / count;
  const use = {
    serverCpu: per(after.cpu, before.cpu),
    serverSwitches: per(after.voluntary + after.preempted, before.voluntary + before.preempted),
    workersCpu: per(afterW.cpu, beforeW.cpu),
    workersPreempted: per(afterW.preempted, beforeW.preempted),
  };
  return { r, load, use, share };
}

/** The servers' cores (100 ms windows) and a bystander's stalls during a run. */
function shareText(s: CpuShare): string {
  const c = s.cores;
  return `servers' cores p50 ${fmt(c.p50)} p90 ${fmt(c.p90)} max ${fmt(c.max)}; bystander stalls > 10 ms ${s.bystanderStalls}, longest ${fmt(s.bystanderLongestMs)} ms`;
}

/** One run of the C floor (write-floor.ts): its figures and CPU, as `probe` gives them. */
async function probeFloor(rep: number) {
  return writeFloor(
    { rate, count, size: 160, group: `cpgkit-floor-${runId}-${rep}` },
    async (workerPids, measure) => measured(await serverPids('c'), workerPids, measure),
  );
}

/** One probe run of `t`: figures, CPU, and (cpgkit, `--trace`) every write's trace. */
async function probe(t: Target, rep: number) {
  // a replica on every node (CPGKIT_CLUSTER_NODES), as in the scale section; the writer (node 1) last
  const others = Array.from({ length: corosync.nodes - 1 }, (_, i) => i + 2);
  const nodes = t.replicasInWorkers ? [...others, 1] : [1];
  const workers: Worker[] = [];
  try {
    for (const n of nodes)
      workers.push((await Worker.start(t.config(`probe-${rep}`, n), n)).worker);
    const writer = workers.at(-1)!;
    const tracing = opts.trace && t.system === 'cpgkit';
    if (warmup > 0 && t.system === 'cpgkit')
      await writer.call(
        'writeLatency',
        { rate, count: warmup, keyPrefix: 'wlat/', keys: 1000, valueBytes: 64 },
        (warmup / rate) * 1000 + 60_000,
      );
    if (tracing) await Promise.all(workers.map((w) => w.call('traceStart')));
    const workerPids = workers.map((w) => w.pid);
    const perWorker = opts['per-worker'] || opts.strace;
    const before = perWorker ? await Promise.all(workerPids.map(procUsage)) : [];
    const straces: SyscallCount[] = opts.strace
      ? await Promise.all(workerPids.map(countSyscalls))
      : [];
    const { r, load, use, share } = await measured(await serverPids(t), workerPids, () =>
      writer.call<{
        samples: number[];
        errors: number;
        elapsedMs: number;
        writes?: [number, number, number][];
      }>(
        'writeLatency',
        {
          rate,
          count,
          keyPrefix: 'wlat/',
          keys: 1000,
          valueBytes: 64,
          traced: tracing,
          // `--in-flight 1`: one write at a time, never batched, whatever the load
          ...(opts['in-flight'] === undefined ? {} : { maxInFlight: Number(opts['in-flight']) }),
        },
        (count / rate) * 1000 + 60_000,
      ),
    );
    if (perWorker) {
      const after = await Promise.all(workerPids.map(procUsage));
      const calls = await Promise.all(straces.map((s) => s.stop()));
      nodes.forEach((n, i) =>
        printWorkerUsage(t.system, n, n === 1, usagePer(before[i]!, after[i]!, count), calls[i]),
      );
    }
    const traces = tracing
      ? await Promise.all(workers.map((w) => w.call<WorkerTrace>('traceStop')))
      : undefined;
    return { r, load, use, share, traces, nodes };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** One worker's CPU, switches and (with `--strace`) system calls, per write. */
function printWorkerUsage(
  system: string,
  node: number,
  writer: boolean,
  u: { user: number; system: number; voluntary: number; preempted: number },
  calls: Map<string, number> | undefined,
): void {
  const top = calls
    ? [...calls]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([name, n]) => `${name} ${fmt(n / count)}`)
        .join(', ')
    : '';
  console.log(
    `  ${system} node ${node} (${writer ? 'writer' : 'follower'}) per write: user ${fmt(u.user)} ms, system ${fmt(u.system)} ms, ${fmt(u.voluntary)} waits, ${fmt(u.preempted)} preemptions${top ? `; syscalls: ${top}` : ''}`,
  );
}

interface RunRecord {
  system: string;
  rep: number;
  load: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
  /** Per write: the servers' (corosync's daemons, etcd's members) CPU ms and context switches, the workers' CPU ms and preemptions. */
  serverCpu: number;
  serverSwitches: number;
  workersCpu: number;
  workersPreempted: number;
  /** The clients' scheduling (`--sched`), the servers' cores and a bystander's stalls. */
  sched: string;
  share: CpuShare;
}

async function main(): Promise<void> {
  workDir = await mkdtemp(join(tmpdir(), 'cpgkit-probe-'));
  const targets: (Target | 'c')[] = [];
  if (systems.includes('c') || systems.includes('cpgkit')) await corosync.up();
  if (systems.includes('c')) targets.push('c');
  if (systems.includes('cpgkit')) {
    console.log(`corosync: ${(await corosync.totemSettings()) || 'settings unknown'}`);
    const data = variant === 'fast' ? undefined : join(workDir, 'cpgkit-data');
    targets.push(
      cpgkitTarget(corosync, variant, runId, data, variant === 'fsync' ? 'fsync' : 'memory'),
    );
  }
  if (systems.includes('etcd')) {
    await ensureEtcd();
    etcd = await EtcdCluster.start(
      join(workDir, 'etcd'),
      variant === 'fast' ? 'no-fsync' : 'fsync',
    );
    targets.push(etcdTarget(() => etcd!, variant, 1));
  }
  const runs: RunRecord[] = [];
  const traced: TracedWrite[][] = [];
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      if (t === 'c') {
        const { r, load, use, share } = await probeFloor(rep);
        const s = summarize(r.samples);
        const { p50, p99, p999, max } = s;
        runs.push({
          system: 'c',
          rep,
          load,
          p50,
          p99,
          p999,
          max,
          errors: r.errors,
          ...use,
          sched: opts.sched,
          share,
        });
        console.log(
          `c      rep ${rep} load ${load.toFixed(1)}: p50 ${fmt(p50)} p99 ${fmt(p99)} p99.9 ${fmt(p999)} max ${fmt(max)} ms; per write: corosync CPU ${fmt(use.serverCpu)} ms, ${fmt(use.serverSwitches)} switches; C clients CPU ${fmt(use.workersCpu)} ms, ${fmt(use.workersPreempted)} preemptions`,
        );
        console.log(`  ${shareText(share)}`);
        continue;
      }
      const { r, load, use, share, traces, nodes } = await probe(t, rep);
      const s = summarize(r.samples);
      const rec: RunRecord = {
        system: t.system,
        rep,
        load,
        p50: s.p50,
        p99: s.p99,
        p999: s.p999,
        max: s.max,
        errors: r.errors,
        ...use,
        sched: opts.sched,
        share,
      };
      runs.push(rec);
      console.log(
        `${t.system.padEnd(6)} rep ${rep} load ${load.toFixed(1)}: p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} p99.9 ${fmt(s.p999)} max ${fmt(s.max)} ms; per write: ${t.system === 'cpgkit' ? 'corosync' : 'etcd'} CPU ${fmt(use.serverCpu)} ms, ${fmt(use.serverSwitches)} switches; workers CPU ${fmt(use.workersCpu)} ms, ${fmt(use.workersPreempted)} preemptions`,
      );
      console.log(`  ${shareText(share)}`);
      if (traces && r.writes) {
        const byNode = new Map(nodes.map((n, i) => [n, traces[i]!]));
        const { writes, text } = explain(r.writes, byNode, 1);
        traced.push(writes);
        console.log(text);
      }
    }
  }
  if (opts.out) await writeFile(opts.out, JSON.stringify({ runs, traced }, null, 1));
}

async function cleanup(): Promise<void> {
  await etcd?.stop().catch(() => undefined);
  await stopAll();
  await removeWorkerBundle();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}
installSignalHandlers(cleanup);
const t0 = nowMs();
main()
  .then(() => console.error(`probe: done in ${((nowMs() - t0) / 1000).toFixed(0)} s`))
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());
