/**
 * Benchmark of the replicated config store (`ReplicatedMap`), on the in-memory cluster and,
 * when a `scripts/cluster` cluster is up, on three real corosync nodes (one worker process per
 * node, inside the node's network namespace).
 *
 * Figures: `set` throughput with concurrent writers on every node (many dispatches outstanding,
 * so `Group` packs them into few CPG messages), p50/p99 `set` latency at a moderate fixed rate
 * (timed from when each write was due, so stalls count), the time a joiner takes to receive a
 * 100,000-key store, and the memory of a replica holding it.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/kv.ts
 * CPGKIT_CLUSTER_NAME=cpgk4 CPGKIT_CLUSTER_SUBNET=10.213.4 \
 *   pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/kv.ts --corosync
 * ```
 * Options: `--memory` / `--corosync` (default: memory, plus corosync when the cluster is up),
 * `--duration S` (per throughput/latency phase, default 5), `--concurrency N` (outstanding sets
 * per node, default 256), `--rate N` (sets/s per node in the latency phase, default 100),
 * `--keys N` (store size for the joiner, default 100000), `--data DIR` (in-memory only: each
 * replica persists in `DIR/<replica>`, emptied first), `--durability memory|fsync` (in-memory,
 * with `--data`: when a set is acknowledged, see README "Durability"), `--throughput-only` (in-memory
 * throughput alone, e.g. under `node --cpu-prof`). The last line printed is the JSON of
 * every figure, with the longest event-loop stall seen during the run.
 *
 * Past 500 lines on purpose: one script is both the driver and the worker it starts inside each
 * node's namespace (`--worker`), and both run the same loops and report the same figures, so
 * the in-memory and the corosync runs stay comparable line for line.
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corosync, Group, type GroupTransport } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap, type Durability, type Json, type MapOp } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

// ------------------------------------------------------------------ options

interface Options {
  memory: boolean;
  corosync: boolean | undefined;
  durationMs: number;
  concurrency: number;
  rate: number;
  keys: number;
  data: string | undefined;
  /** `--durability` (in-memory replicas). */
  durability: Durability;
  /** `--throughput-only`: the in-memory throughput phase alone (for profiles). */
  throughputOnly: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    memory: false,
    corosync: undefined,
    durationMs: 5000,
    concurrency: 256,
    rate: 100,
    keys: 100_000,
    data: undefined,
    durability: 'memory',
    throughputOnly: false,
  };
  let picked = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} wants a positive number`);
      return v;
    };
    if (a === '--memory') {
      o.memory = true;
      picked = true;
    } else if (a === '--corosync') {
      o.corosync = true;
      picked = true;
    } else if (a === '--duration') o.durationMs = num() * 1000;
    else if (a === '--concurrency') o.concurrency = Math.round(num());
    else if (a === '--rate') o.rate = num();
    else if (a === '--keys') o.keys = Math.round(num());
    else if (a === '--data') o.data = argv[++i];
    else if (a === '--throughput-only') o.throughputOnly = true;
    else if (a === '--durability') {
      const d = argv[++i];
      if (d !== 'memory' && d !== 'fsync') throw new Error('--durability wants memory or fsync');
      o.durability = d;
    } else throw new Error(`unknown argument '${a}'`);
  }
  if (o.durability === 'fsync' && o.data === undefined)
    throw new Error('--durability fsync needs --data DIR (a directory on the disk to measure)');
  if (!picked) o.memory = true;
  if (picked && o.corosync === undefined) o.corosync = false;
  return o;
}

// ------------------------------------------------------------------ workloads

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const started = performance.now();
/** Progress on stderr (figures go to stdout). */
const phase = (what: string): void =>
  void process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)} s: ${what}\n`);

/** A small JSON value, about 40 bytes. */
function value(i: number): Json {
  return { n: i, pad: 'abcdefghijklmnopqrstuvwx' };
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Result of a closed-loop throughput run on one member. */
interface ThroughputPart {
  ops: number;
  errors: number;
  elapsedMs: number;
  /** CPU time (user + system) of this process during the run. */
  cpuMs: number;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1000;
}

/** `concurrency` writers, each with one set outstanding, for `durationMs`. */
async function throughputLoop(
  kv: ReplicatedMap,
  prefix: string,
  concurrency: number,
  durationMs: number,
): Promise<ThroughputPart> {
  let ops = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + durationMs;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; performance.now() < end; i++) {
      try {
        await kv.set(`${prefix}/${w}/${i % 64}`, value(i));
        ops++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => writer(w)));
  return { ops, errors, elapsedMs: performance.now() - t0, cpuMs: cpuMsSince(cpu0) };
}

/** Sets at `rate`/s for `durationMs`; each latency is timed from when the set was due. */
async function latencyLoop(
  kv: ReplicatedMap,
  prefix: string,
  rate: number,
  durationMs: number,
): Promise<{ samples: number[]; errors: number }> {
  const interval = 1000 / rate;
  const count = Math.floor((durationMs / 1000) * rate);
  const samples: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(
      kv.set(`${prefix}/${i % 256}`, value(i)).then(
        () => void samples.push(performance.now() - due),
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  return { samples, errors };
}

/** Write `keys` keys in transactions of `batch` ops, with a few transactions outstanding. */
async function fill(kv: ReplicatedMap, keys: number, batch = 500): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys) {
      // built when sent: all 100,000 ops built up front were a stall of the bench's own
      const ops: MapOp[] = [];
      for (const end = Math.min(keys, next + batch); next < end; next++)
        ops.push({ op: 'set', key: `fill/${String(next).padStart(7, '0')}`, value: value(next) });
      await kv.transaction([], ops, { timeout: 120_000 });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return performance.now() - t0;
}

function gcNow(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

// ------------------------------------------------------------------ figures

interface LatencyFigures {
  ratePerNode: number;
  samples: number;
  errors: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

interface Figures {
  transport: 'memory' | 'corosync';
  throughput: {
    concurrencyPerNode: number;
    opsPerSec: number;
    ops: number;
    errors: number;
    /** CPU ms one replica spent per 1000 applied sets (every replica applies every set). */
    cpuMsPer1000PerReplica: number;
  };
  latency: LatencyFigures;
  /** Replicas persisted (`--data`). */
  persisted?: boolean;
  /** `--durability`, when persisted. */
  durability?: Durability;
  /**
   * Longest event-loop stall (ms) per phase (in-memory: all replicas share the loop). The
   * joiner's phase ends when it is synced and, persisting, has saved what it received.
   */
  stalls?: { writes: number; fill: number; join: number };
  /**
   * The same, counting in each stall only the CPU time this process spent (so not the time
   * other processes of a loaded machine held the core): what the process itself blocked.
   */
  cpuStalls?: { writes: number; fill: number; join: number };
  store: {
    keys: number;
    fillMs: number;
    joinMs: number;
    rssMb?: number;
    heapPerReplicaMb?: number;
  };
}

function latencyFigures(ratePerNode: number, samples: number[], errors: number): LatencyFigures {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    ratePerNode,
    samples: s.length,
    errors,
    p50: r(percentile(s, 50)),
    p99: r(percentile(s, 99)),
    p999: r(percentile(s, 99.9)),
    max: r(s[s.length - 1] ?? NaN),
  };
}

function print(f: Figures, nodes: number): void {
  const t = f.throughput;
  const l = f.latency;
  const s = f.store;
  const say = (line: string): void => void console.log(`[${f.transport}] ${line}`);
  say(
    `set throughput, ${t.concurrencyPerNode} outstanding per node on ${nodes} nodes: ${Math.round(t.opsPerSec).toLocaleString('en')} sets/s (${t.ops} ok, ${t.errors} errors); CPU per replica ${t.cpuMsPer1000PerReplica} ms per 1000 sets`,
  );
  say(
    `set latency at ${l.ratePerNode}/s per node (${l.ratePerNode * nodes}/s total): p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms (${l.samples} samples, ${l.errors} errors)`,
  );
  say(
    `${s.keys.toLocaleString('en')}-key store: filled in ${Math.round(s.fillMs)} ms, a joiner synced in ${Math.round(s.joinMs)} ms` +
      (s.rssMb === undefined ? '' : `, replica RSS ${s.rssMb} MB`) +
      (s.heapPerReplicaMb === undefined ? '' : `, heap per replica ~${s.heapPerReplicaMb} MB`),
  );
  if (f.cpuStalls !== undefined)
    say(
      `longest stall of this process's own CPU: ${f.cpuStalls.writes} ms while writing, ${f.cpuStalls.fill} ms while filling, ${f.cpuStalls.join} ms while the joiner syncs`,
    );
  if (f.stalls !== undefined)
    say(
      `longest event-loop stall${f.persisted === true ? ` (replicas persisting, durability ${f.durability ?? 'memory'})` : ''}: ${f.stalls.writes} ms while writing (throughput, latency), ${f.stalls.fill} ms while filling, ${f.stalls.join} ms while the joiner syncs`,
    );
}

// ------------------------------------------------------------------ in-memory cluster

/**
 * The longest gap between two turns of a 1 ms timer, counting only the CPU time the process
 * spent during the gap (the smaller of the two): on a loaded machine, a wall-clock gap also
 * holds the time other processes had the core, which says nothing of this process's stalls.
 */
function cpuStallMonitor(): { take(): number; stop(): void } {
  let max = 0;
  let wall = performance.now();
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const w = performance.now();
    const c = process.cpuUsage();
    const spent = (c.user + c.system - cpu.user - cpu.system) / 1000;
    max = Math.max(max, Math.min(w - wall, spent));
    wall = w;
    cpu = c;
  }, 1);
  return {
    take: () => {
      const m = Math.round(max * 10) / 10;
      max = 0;
      return m;
    },
    stop: () => clearInterval(timer),
  };
}

async function openReady(
  t: GroupTransport,
  group: string,
  dataDir?: string,
  durability: Durability = 'memory',
): Promise<ReplicatedMap> {
  const kv = await ReplicatedMap.open(t, {
    groupName: group,
    checkInterval: 0,
    bootstrap: 'alone', // a new group of the bench's, its replicas opened one at a time
    ...(dataDir === undefined ? {} : { dataDir, durability }),
  });
  await kv.ready({ timeout: 60_000 });
  return kv;
}

async function memoryBench(o: Options): Promise<Figures> {
  // slices end by the real clock, as in production: their stalls are part of what is measured
  const cluster = new MemoryCluster({ nodes: 3, seed: 1, sliceTime: 'real' });
  const group = 'bench-kv';
  const maps: ReplicatedMap[] = [];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const stalls = { writes: 0, fill: 0, join: 0 };
  const cpuStalls = { writes: 0, fill: 0, join: 0 };
  const cpuMonitor = cpuStallMonitor();
  const stall = (): number => {
    const ms = Math.round(loop.max / 1e5) / 10;
    loop.reset();
    return ms;
  };
  const dataDir = (name: string): string | undefined =>
    o.data === undefined ? undefined : join(o.data, name);
  if (o.data !== undefined) rmSync(o.data, { recursive: true, force: true });
  for (const n of [1, 2, 3])
    maps.push(await openReady(cluster.member(n), group, dataDir(`m${n}`), o.durability));

  stall(); // not the start
  cpuMonitor.take();
  phase('memory: throughput');
  const parts = await Promise.all(
    maps.map((kv, i) => throughputLoop(kv, `tp/${i}`, o.concurrency, o.durationMs)),
  );
  const ops = parts.reduce((a, p) => a + p.ops, 0);
  const errors = parts.reduce((a, p) => a + p.errors, 0);
  const elapsed = Math.max(...parts.map((p) => p.elapsedMs));
  // one process runs the three replicas (and the engine): each loop measured the whole process
  const cpuPer1000 = Math.round((parts[0]!.cpuMs / 3 / ops) * 1000 * 10) / 10;
  const throughput = {
    concurrencyPerNode: o.concurrency,
    opsPerSec: (ops / elapsed) * 1000,
    ops,
    errors,
    cpuMsPer1000PerReplica: cpuPer1000,
  };
  if (o.throughputOnly) {
    for (const kv of maps) await kv.close();
    cluster.destroy();
    loop.disable();
    stalls.writes = stall();
    cpuStalls.writes = cpuMonitor.take();
    cpuMonitor.stop();
    return {
      transport: 'memory',
      throughput,
      latency: latencyFigures(o.rate, [], 0),
      store: { keys: 0, fillMs: 0, joinMs: 0 },
      ...(o.data === undefined ? {} : { persisted: true, durability: o.durability }),
      stalls,
      cpuStalls,
    };
  }

  phase('memory: latency');
  const lat = await Promise.all(
    maps.map((kv, i) => latencyLoop(kv, `lat/${i}`, o.rate, o.durationMs)),
  );

  stalls.writes = stall();
  cpuStalls.writes = cpuMonitor.take();
  gcNow();
  const heap0 = process.memoryUsage().heapUsed;
  phase(`memory: fill ${o.keys} keys`);
  const fillMs = await fill(maps[0]!, o.keys);
  await sleep(100);
  stalls.fill = stall();
  cpuStalls.fill = cpuMonitor.take();
  phase('memory: joiner');
  const tj = performance.now();
  const joiner = await ReplicatedMap.open(cluster.member(2), {
    groupName: group,
    checkInterval: 0,
    ...(o.data === undefined ? {} : { dataDir: join(o.data, 'joiner'), durability: o.durability }),
  });
  await joiner.machine.synced({ timeout: 120_000 });
  const joinMs = performance.now() - tj;
  // persisting: the joiner's first write, the save of the whole store it received, counts too
  if (o.data !== undefined) await joiner.machine.flush();
  stalls.join = stall();
  cpuStalls.join = cpuMonitor.take();
  cpuMonitor.stop();
  if (joiner.size !== maps[0]!.size) throw new Error('the joiner did not receive the whole store');
  gcNow();
  const heap1 = process.memoryUsage().heapUsed;
  const heapPerReplicaMb = Math.round((heap1 - heap0) / 4 / 1e5) / 10;
  for (const kv of [...maps, joiner]) await kv.close();
  cluster.destroy();
  loop.disable();
  return {
    transport: 'memory',
    throughput,
    latency: latencyFigures(
      o.rate,
      lat.flatMap((l) => l.samples),
      lat.reduce((a, l) => a + l.errors, 0),
    ),
    store: { keys: maps[0]!.size, fillMs, joinMs, heapPerReplicaMb },
    ...(o.data === undefined ? {} : { persisted: true, durability: o.durability }),
    stalls,
    cpuStalls,
  };
}

// ------------------------------------------------------------------ real corosync: workers

type Request =
  | { cmd: 'open'; group: string }
  | { cmd: 'throughput'; prefix: string; concurrency: number; durationMs: number; at: number }
  | { cmd: 'latency'; prefix: string; rate: number; durationMs: number; at: number }
  | { cmd: 'fill'; keys: number }
  | { cmd: 'stats' }
  | { cmd: 'close' };

/** A worker: one `ReplicatedMap` over the local corosync, driven by JSON lines on stdin. */
async function worker(): Promise<void> {
  let kv: ReplicatedMap | undefined;
  const reply = (r: unknown): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  const untilWall = async (at: number): Promise<void> => {
    const wait = at - Date.now();
    if (wait > 0) await sleep(wait);
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as Request;
    try {
      switch (req.cmd) {
        case 'open': {
          const t0 = performance.now();
          kv = await ReplicatedMap.open(new Group(corosync()), {
            groupName: req.group,
            checkInterval: 0,
            bootstrap: 'alone', // a new group of the bench's, its members opened one at a time
          });
          await kv.machine.synced({ timeout: 120_000 });
          const syncedMs = performance.now() - t0;
          await kv.ready({ timeout: 60_000 });
          reply({ ok: true, syncedMs, size: kv.size });
          break;
        }
        case 'throughput':
          await untilWall(req.at);
          reply({
            ok: true,
            ...(await throughputLoop(kv!, req.prefix, req.concurrency, req.durationMs)),
          });
          break;
        case 'latency':
          await untilWall(req.at);
          reply({ ok: true, ...(await latencyLoop(kv!, req.prefix, req.rate, req.durationMs)) });
          break;
        case 'fill':
          reply({ ok: true, ms: await fill(kv!, req.keys), size: kv!.size });
          break;
        case 'stats':
          gcNow();
          reply({
            ok: true,
            rss: process.memoryUsage().rss,
            heapUsed: process.memoryUsage().heapUsed,
            size: kv?.size,
            revision: kv?.revision,
          });
          break;
        case 'close':
          await kv?.close();
          reply({ ok: true });
          return;
      }
    } catch (e) {
      reply({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
}

interface ClusterEnv {
  nodes: { node: number; namespace: string }[];
}

/** The cluster `scripts/cluster` names in the environment, if it is up and quorate. */
function clusterUp(): ClusterEnv | undefined {
  const script = join(repoRoot, 'scripts', 'cluster');
  const status = spawnSync('bash', [script, 'status'], { encoding: 'utf8' });
  if (status.status !== 0) return undefined;
  const env = spawnSync('bash', [script, 'env', '--json'], { encoding: 'utf8' });
  if (env.status !== 0) return undefined;
  return JSON.parse(env.stdout) as ClusterEnv;
}

/** A worker process inside a node's network namespace. */
class Worker {
  private readonly child: ChildProcess;
  private readonly waiting: ((r: Record<string, unknown>) => void)[] = [];
  private stderr = '';

  constructor(namespace: string) {
    const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    this.child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespace,
        process.execPath,
        '--expose-gc',
        tsx,
        '--conditions=@cpgkit/source',
        fileURLToPath(import.meta.url),
        '--worker',
      ],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.waiting.shift()?.(JSON.parse(l) as Record<string, unknown>);
    });
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }

  async call(req: Request): Promise<Record<string, unknown>> {
    const r = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.waiting.push(resolve);
      this.child.once('exit', (code) =>
        reject(new Error(`worker exited ${code}: ${this.stderr.trim().slice(-500)}`)),
      );
    });
    this.child.stdin!.write(`${JSON.stringify(req)}\n`);
    const res = await r;
    if (res.ok !== true) throw new Error(`worker: ${String(res.error)}`);
    return res;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

async function corosyncBench(o: Options, env: ClusterEnv): Promise<Figures> {
  const group = `bench-kv-${process.pid}`;
  const workers = env.nodes.slice(0, 3).map((n) => new Worker(n.namespace));
  const extra: Worker[] = [];
  try {
    for (const w of workers) await w.call({ cmd: 'open', group });
    const at1 = Date.now() + 500;
    const parts = await Promise.all(
      workers.map((w, i) =>
        w.call({
          cmd: 'throughput',
          prefix: `tp/${i}`,
          concurrency: o.concurrency,
          durationMs: o.durationMs,
          at: at1,
        }),
      ),
    );
    const ops = parts.reduce((a, p) => a + (p.ops as number), 0);
    const errors = parts.reduce((a, p) => a + (p.errors as number), 0);
    const elapsed = Math.max(...parts.map((p) => p.elapsedMs as number));
    const cpuMs = parts.reduce((a, p) => a + (p.cpuMs as number), 0) / parts.length;

    const at2 = Date.now() + 500;
    const lat = await Promise.all(
      workers.map((w, i) =>
        w.call({
          cmd: 'latency',
          prefix: `lat/${i}`,
          rate: o.rate,
          durationMs: o.durationMs,
          at: at2,
        }),
      ),
    );

    const filled = await workers[0]!.call({ cmd: 'fill', keys: o.keys });
    await sleep(200);
    const stats = await workers[1]!.call({ cmd: 'stats' });
    const joiner = new Worker(env.nodes[2]!.namespace);
    extra.push(joiner);
    const joined = await joiner.call({ cmd: 'open', group });
    if (joined.size !== filled.size) throw new Error('the joiner did not receive the whole store');
    for (const w of [...workers, joiner]) await w.call({ cmd: 'close' });
    return {
      transport: 'corosync',
      throughput: {
        concurrencyPerNode: o.concurrency,
        opsPerSec: (ops / elapsed) * 1000,
        ops,
        errors,
        cpuMsPer1000PerReplica: Math.round((cpuMs / ops) * 1000 * 10) / 10,
      },
      latency: latencyFigures(
        o.rate,
        lat.flatMap((l) => l.samples as number[]),
        lat.reduce((a, l) => a + (l.errors as number), 0),
      ),
      store: {
        keys: filled.size as number,
        fillMs: filled.ms as number,
        joinMs: joined.syncedMs as number,
        rssMb: Math.round((stats.rss as number) / 1e5) / 10,
      },
    };
  } finally {
    for (const w of [...workers, ...extra]) w.kill();
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (process.argv.includes('--worker')) return worker();
  const o = parseArgs(process.argv.slice(2));
  const out: Figures[] = [];
  if (o.memory) {
    const f = await memoryBench(o);
    print(f, 3);
    out.push(f);
  }
  if (o.corosync !== false) {
    const env = clusterUp();
    if (env === undefined) {
      const why = 'no scripts/cluster cluster is up (CPGKIT_CLUSTER_NAME/SUBNET name it)';
      if (o.corosync === true) throw new Error(why);
      console.log(`[corosync] skipped: ${why}`);
    } else {
      const f = await corosyncBench(o, env);
      print(f, 3);
      out.push(f);
    }
  }
  const [load1] = loadavg();
  console.log(
    `machine: ${cpus().length} CPUs, load average ${load1!.toFixed(1)} at the end (figures under load are lower)`,
  );
  console.log(
    JSON.stringify({ bench: 'statemachine/kv', cpus: cpus().length, loadavg: load1, results: out }),
  );
}

await main();
