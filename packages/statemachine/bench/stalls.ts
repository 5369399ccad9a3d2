/**
 * Event-loop stalls of a replica holding a large config store, phase by phase, with its data
 * directory on (issue #15's goal: no stall over 20 ms in any phase with 100,000 keys).
 *
 * Two sections:
 * - `cluster`: three `ReplicatedMap` replicas on the in-memory cluster, in ONE process (as
 *   kv.ts runs them): writing, a bulk fill, the persistence and digest warming after it, a
 *   joiner's transfer (leader and joiner in the same loop), the joiner's first save. A stall
 *   here is the work of up to four replicas in one turn.
 * - `replica`: one replica's own work, one thing at a time (what a process running one
 *   replica, as users run it, would stall on): a single-member store filled and persisting,
 *   a snapshot save, one journal record of a whole bulk fill, the sync leader writing the
 *   snapshot's bytes, a joiner reading them while they arrive, building and digesting.
 *
 * Each phase prints the longest gap between two turns of a 1 ms timer, as wall time and as
 * the event loop's thread's own CPU time during the gap (the smaller of the two: other
 * processes' time on a shared machine is not a stall of ours, nor is the time of this
 * process's other threads, the GC's helpers, libuv's pool or the profiler's sampler, while
 * the loop's thread waits for a CPU). With `--profile DIR`, each phase runs under the
 * V8 profiler; the profile is written to DIR and, for each stall over 20 ms, the functions
 * that took its time are printed.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/stalls.ts \
 *   [--keys N] [--durability memory|fsync] [--no-data] [--only cluster|replica] [--profile DIR]
 * ```
 * The last line printed is the JSON of every figure.
 * @module
 */
import { mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap, type Durability, type Json, type MapOp } from '../src/index.js';
import { Journal } from '../src/journal.js';
import { SnapshotStore } from '../src/persistence.js';
import { Immer, type Draft, type Patch } from 'immer';
import {
  applyTxn,
  DEFAULT_LIMITS,
  emptyMap,
  forEachEntry,
  pathOf,
  type MapState,
} from '../src/map/state.js';
import type { Image } from '../src/image.js';
import { warmDigest } from '../src/canonical.js';
import { SnapshotReceiver, snapshotBytes } from '../src/snapshot-transfer.js';
import { nextSlice } from '../src/slices.js';

// ------------------------------------------------------------------ options

interface Options {
  keys: number;
  data: boolean;
  durability: Durability;
  only: 'cluster' | 'replica' | undefined;
  profile: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    keys: 100_000,
    data: true,
    durability: 'memory',
    only: undefined,
    profile: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keys') o.keys = Math.round(Number(argv[++i]));
    else if (a === '--no-data') o.data = false;
    else if (a === '--profile') o.profile = argv[++i];
    else if (a === '--durability') {
      const d = argv[++i];
      if (d !== 'memory' && d !== 'fsync') throw new Error('--durability wants memory or fsync');
      o.durability = d;
    } else if (a === '--only') {
      const s = argv[++i];
      if (s !== 'cluster' && s !== 'replica') throw new Error('--only wants cluster or replica');
      o.only = s;
    } else throw new Error(`unknown argument '${a}'`);
  }
  if (!(o.keys > 0)) throw new Error('--keys wants a positive number');
  if (o.durability === 'fsync' && !o.data) throw new Error('--durability fsync needs the data');
  return o;
}

// ------------------------------------------------------------------ stall measurement

/** The stalls over this long are profiled (ms). */
const GOAL_MS = 20;

/** One measured phase. */
interface PhaseFigures {
  section: 'cluster' | 'replica';
  phase: string;
  /** Longest gap between two turns of a 1 ms timer (ms, wall time). */
  wallMs: number;
  /** The same, counting only the event loop's thread's CPU time during the gap (ms). */
  cpuMs: number;
  /** How long the phase ran (ms). */
  elapsedMs: number;
  /** The longest garbage collection pause that began in the phase (ms, wall) and its kind. */
  gcMs: number;
  gcKind: string;
  /** For `--profile`: the functions that took the longest stall's time, by self time. */
  culprits?: string[];
}

/** A stall: when it ended (µs of the monotonic clock the profiler uses), how long (wall, CPU). */
interface Gap {
  endUs: number;
  wallMs: number;
  ms: number;
}

/**
 * The main thread's time on a CPU (ms), from `/proc/thread-self/schedstat` (Linux): only the
 * thread that runs the event loop, not the process's other threads (the GC's helpers, libuv's
 * pool writing the data directories, the profiler's sampler), which `process.cpuUsage()`
 * counts too. Without that file, the process's CPU time.
 */
function mainThreadCpu(): () => number {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1000;
    };
  }
  const buf = Buffer.alloc(128);
  return () => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    // "<ns on a CPU> <ns waiting for one> <timeslices>"
    const text = buf.toString('latin1', 0, n);
    return Number(text.slice(0, text.indexOf(' '))) / 1e6;
  };
}

/** `PerformanceEntry.detail.kind` of a GC (`perf_hooks.constants.NODE_PERFORMANCE_GC_*`). */
const GC_KINDS: Record<number, string> = {
  1: 'scavenge',
  2: 'mark-compact',
  4: 'incremental marking',
  8: 'weak callbacks',
};

/** Gaps between the turns of a 1 ms timer (see `PhaseFigures`). */
class StallMonitor {
  private gc = { ms: 0, kind: '' };
  /** When the current phase began (`performance.now()`). */
  private since = performance.now();
  private readonly gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // delivered late: a GC of the phase before may come in now
      if (e.startTime < this.since || e.duration <= this.gc.ms) continue;
      const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
      this.gc = { ms: e.duration, kind: GC_KINDS[kind] ?? String(kind) };
    }
  });
  private wall = 0;
  private cpu = 0;
  private readonly cpuNow = mainThreadCpu();
  private at = performance.now();
  private used = this.cpuNow();
  private readonly timer: ReturnType<typeof setInterval>;
  readonly gaps: Gap[] = [];

  constructor() {
    this.timer = setInterval(() => this.tick(), 1);
    this.gcs.observe({ entryTypes: ['gc'] });
  }

  private tick(): void {
    const w = performance.now();
    const c = this.cpuNow();
    const wall = w - this.at;
    const cpu = Math.min(wall, c - this.used);
    this.wall = Math.max(this.wall, wall);
    this.cpu = Math.max(this.cpu, cpu);
    if (cpu > GOAL_MS)
      this.gaps.push({ endUs: Number(process.hrtime.bigint() / 1000n), wallMs: wall, ms: cpu });
    this.at = w;
    this.used = c;
  }

  /** The longest gaps since the last `take` (ms, one decimal). */
  take(): { wallMs: number; cpuMs: number; gcMs: number; gcKind: string } {
    this.tick();
    const r = {
      wallMs: round1(this.wall),
      cpuMs: round1(this.cpu),
      gcMs: round1(this.gc.ms),
      gcKind: this.gc.kind,
    };
    this.wall = 0;
    this.cpu = 0;
    this.gc = { ms: 0, kind: '' };
    this.since = performance.now();
    this.gaps.length = 0;
    return r;
  }

  stop(): void {
    clearInterval(this.timer);
    this.gcs.disconnect();
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The functions with the most self time in the `gap` of `profile` ("name file:line ms"). */
function culprits(profile: CpuProfile, gap: Gap): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let t = profile.startTime;
  const from = gap.endUs - gap.wallMs * 1000;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > gap.endUs) continue;
    const f = byId.get(profile.samples[i]!)!.callFrame;
    const file = f.url.replace(/^.*\/(packages|node_modules)\//, '');
    const name = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([n, ms]) => `${n} ${ms.toFixed(1)} ms`);
}

/** Runs phases one after the other, measuring (and with `--profile`, profiling) each. */
class Phases {
  private readonly monitor = new StallMonitor();
  private readonly session: Session | undefined;
  readonly figures: PhaseFigures[] = [];

  constructor(private readonly profileDir: string | undefined) {
    if (profileDir !== undefined) {
      mkdirSync(profileDir, { recursive: true });
      this.session = new Session();
      this.session.connect();
    }
  }

  async run<T>(
    section: PhaseFigures['section'],
    phase: string,
    body: () => Promise<T>,
  ): Promise<T> {
    const s = this.session;
    if (s !== undefined) {
      await s.post('Profiler.enable');
      await s.post('Profiler.setSamplingInterval', { interval: 200 });
      await s.post('Profiler.start');
    }
    this.monitor.take();
    const t0 = performance.now();
    const out = await body();
    const elapsedMs = Math.round(performance.now() - t0);
    const gaps = [...this.monitor.gaps];
    const f: PhaseFigures = { section, phase, ...this.monitor.take(), elapsedMs };
    if (s !== undefined) {
      const { profile } = (await s.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      const file = `${section}-${phase.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`;
      writeFileSync(join(this.profileDir!, file), JSON.stringify(profile));
      const worst = gaps.sort((a, b) => b.ms - a.ms)[0];
      if (worst !== undefined) f.culprits = culprits(profile, worst);
    }
    this.figures.push(f);
    const line = `[${section}] ${phase}: longest stall ${f.cpuMs} ms of own CPU (${f.wallMs} ms wall), longest GC ${f.gcMs} ms (${f.gcKind || 'none'}), phase ${elapsedMs} ms`;
    console.log(f.cpuMs > GOAL_MS ? `${line}  > ${GOAL_MS} ms` : line);
    for (const c of f.culprits ?? []) console.log(`    ${c}`);
    return out;
  }

  stop(): void {
    this.monitor.stop();
    this.session?.disconnect();
  }
}

// ------------------------------------------------------------------ workloads

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small JSON value, about 40 bytes (as kv.ts writes). */
function value(i: number): Json {
  return { n: i, pad: 'abcdefghijklmnopqrstuvwx' };
}

/** `keys` keys in transactions of 500 sets, 8 outstanding (as kv.ts fills). */
async function fill(kv: ReplicatedMap, keys: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys) {
      // built when sent: 100,000 ops built up front would be a stall of the bench's own
      const ops: MapOp[] = [];
      for (const end = Math.min(keys, next + 500); next < end; next++)
        ops.push({ op: 'set', key: `fill/${String(next).padStart(7, '0')}`, value: value(next) });
      await kv.transaction([], ops, { timeout: 120_000 });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

/** Sets from every replica for `ms`, 64 outstanding on each. */
async function write(maps: readonly ReplicatedMap[], ms: number): Promise<void> {
  const until = performance.now() + ms;
  await Promise.all(
    maps.flatMap((kv, m) =>
      Array.from({ length: 64 }, async (_, l) => {
        for (let i = 0; performance.now() < until; i++)
          await kv.set(`w/${m}/${l}/${i % 50}`, value(i));
      }),
    ),
  );
}

function openMap(
  cluster: MemoryCluster,
  node: number,
  o: Options,
  dir: string | undefined,
): Promise<ReplicatedMap> {
  return ReplicatedMap.open(cluster.member(node), {
    groupName: 'bench-stalls',
    checkInterval: 0,
    ...(dir === undefined ? {} : { dataDir: dir, durability: o.durability }),
  });
}

/** Section `cluster`: three replicas and a joiner in this process. */
async function clusterSection(o: Options, p: Phases, root: string): Promise<void> {
  // slices end by the real clock, as in production: their stalls are part of what is measured
  const cluster = new MemoryCluster({ nodes: 3, seed: 1, sliceTime: 'real' });
  const dir = (name: string): string | undefined => (o.data ? join(root, name) : undefined);
  const maps: ReplicatedMap[] = [];
  for (const n of [1, 2, 3]) maps.push(await openMap(cluster, n, o, dir(`m${n}`)));
  for (const kv of maps) await kv.ready({ timeout: 60_000 });
  await p.run('cluster', 'writing (3 replicas, 2 s)', () => write(maps, 2000));
  await p.run('cluster', `fill ${o.keys} keys`, () => fill(maps[0]!, o.keys));
  await p.run('cluster', 'after the fill: persistence, digest warmer (1.5 s)', async () => {
    for (const kv of maps) await kv.machine.flush();
    await sleep(1500);
  });
  const joiner = await p.run('cluster', "a joiner's transfer (leader + joiner)", async () => {
    const j = await openMap(cluster, 2, o, dir('joiner'));
    await j.machine.synced({ timeout: 120_000 });
    return j;
  });
  if (joiner.size !== maps[0]!.size) throw new Error('the joiner did not receive the whole store');
  await p.run('cluster', "the joiner's first save, idle after (1 s)", async () => {
    await joiner.machine.flush();
    await sleep(1000);
  });
  for (const kv of [...maps, joiner]) await kv.close();
  cluster.destroy();
}

/** Section `replica`: one replica's own work, one piece at a time. */
async function replicaSection(o: Options, p: Phases, root: string): Promise<void> {
  // slices end by the real clock, as in production
  const cluster = new MemoryCluster({ nodes: 1, seed: 1, sliceTime: 'real' });
  const kv = await openMap(cluster, 1, o, o.data ? join(root, 'single') : undefined);
  await kv.ready({ timeout: 60_000 });
  await p.run('replica', 'writing (a replica alone, 2 s)', () => write([kv], 2000));
  await p.run('replica', `fill ${o.keys} keys (a replica alone)`, () => fill(kv, o.keys));
  await p.run('replica', 'after the fill: persistence, digest warmer (1.5 s)', async () => {
    await kv.machine.flush();
    await sleep(1500);
  });
  await kv.close();
  cluster.destroy();

  const image = filledImage(o.keys);

  const store = new SnapshotStore(join(root, 'save'), 'bench');
  await p.run('replica', 'snapshot save', () => store.save(image));
  await store.close();

  // one journal record holding a whole bulk fill (everything since the last write)
  const journal = new Journal<unknown>(new SnapshotStore(join(root, 'append'), 'bench'), 1 << 40);
  await journal.write(image);
  const next = { ...(image.state as object) };
  journal.record(image.state, next, setPatches(image.state as MapState));
  await p.run('replica', `journal append: one record of ${o.keys} sets`, () =>
    journal.write({ ...image, state: next }),
  );
  await journal.store.close();

  const bytes = await p.run('replica', "sync leader: the snapshot's bytes", async () => {
    const b = await snapshotBytes(image, () => false);
    return b!;
  });
  await p.run('replica', 'joiner: read while chunks arrive, build, digest', async () => {
    const receiver = new SnapshotReceiver<unknown>(() => false);
    const all = Buffer.concat(bytes.blocks);
    const size = 512 * 1024;
    for (let i = 0; i * size < all.length; i++) {
      receiver.push(i, all.subarray(i * size, (i + 1) * size));
      await nextSlice();
    }
    const built = (await receiver.image())!;
    const clock = receiver.sliceClock;
    while (!warmDigest(built.state, clock.deadline)) await clock.next();
  });
}

/** An image holding a store of `keys` keys, as `fill` writes them. */
function filledImage(keys: number): Image<unknown> {
  const ops: MapOp[] = [];
  for (let i = 0; i < keys; i++)
    ops.push({ op: 'set', key: `fill/${String(i).padStart(7, '0')}`, value: value(i) });
  const state = new Immer({ autoFreeze: false }).produce(emptyMap(), (d: Draft<MapState>) => {
    applyTxn(d, { compares: [], ops }, DEFAULT_LIMITS);
  });
  const meta = { epoch: 1, index: BigInt(keys), time: keys, members: [], knownNodes: [1, 2, 3] };
  return {
    ...meta,
    replicas: ['a', 'b', 'c'],
    gone: [],
    settled: 0,
    provenReplicas: [],
    provenGone: [],
    state,
  };
}

/** One patch per key of `state`: what a journal collects while a store is filled. */
function setPatches(state: MapState): Patch[] {
  const patches: Patch[] = [];
  forEachEntry(state, (key, entry) =>
    patches.push({ op: 'replace', path: ['tree', ...pathOf(key), key], value: entry }),
  );
  return patches;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'cpgkit-stalls-'));
  const p = new Phases(o.profile);
  try {
    console.log(
      `stalls with ${o.keys} keys, ${o.data ? `persisting (durability ${o.durability})` : 'no data directory'}; goal: none over ${GOAL_MS} ms`,
    );
    if (o.only !== 'replica') await clusterSection(o, p, root);
    if (o.only !== 'cluster') await replicaSection(o, p, root);
  } finally {
    p.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const [load1] = loadavg();
  console.log(`machine: ${cpus().length} CPUs, load average ${load1!.toFixed(1)} at the end`);
  console.log(
    JSON.stringify({
      bench: 'statemachine/stalls',
      keys: o.keys,
      persisted: o.data,
      durability: o.durability,
      loadavg: load1,
      phases: p.figures,
    }),
  );
}

await main();
