/**
 * The floor of a majority-acknowledged write over CPG, with no cpgkit code: the C reference
 * client (bench/native/cpgbench.c) in `echo` mode on nodes 2 and 3 (each acks, cumulatively,
 * every write it delivered, once per dispatch, as a replica acks its applied index once per
 * turn) and in `write` mode on node 1 (writes at a fixed rate, each timed from its due time
 * until its own delivery and one other member's ack: applied by a majority of 3, which is what a
 * cpgkit write waits for before it resolves). The latency probe runs it beside cpgkit and
 * etcd (`--systems c,cpgkit,etcd`): whatever cpgkit's p99 is above this one is cpgkit's own,
 * and a p99 goal below this one cannot be met by any code on top of CPG on that machine.
 * @module
 */
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { run, startProcess, stopProcess } from './procs.js';
import { ensureCToolchain } from './raw-messaging.js';
import { fmt, type Row } from './report.js';
import { summarize } from './stats.js';

/** What one floor run measured (latencies in ms, from each write's due time). */
export interface FloorRun {
  readonly samples: number[];
  readonly errors: number;
  readonly elapsedMs: number;
  /** The writer's own CPU, ms. */
  readonly cpuMs: number;
}

let binary: Promise<string> | undefined;

/** The C client, compiled by build.sh once per process (it rebuilds only a stale binary). */
function cpgbench(): Promise<string> {
  binary ??= run('bash', [join(repoRoot, 'bench/native/build.sh')], { timeoutMs: 300_000 }).then(
    (out) => out.trim(),
  );
  return binary;
}

/**
 * Start `cpgbench MODE GROUP ARGS` in node `n`'s namespace; resolves once it printed its
 * "ready" line (joined, and for `write` the echoes seen), with its stdout so far and to come.
 */
async function startReady(bin: string, n: number, mode: string, group: string, args: string[]) {
  const child = startProcess(`cpgbench ${mode} (node ${n})`, 'bash', [
    join(repoRoot, 'scripts/cluster'),
    'exec',
    String(n),
    bin,
    mode,
    group,
    ...args,
  ]);
  const out = { text: '', err: '' };
  child.stdout!.on('data', (d: Buffer) => (out.text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.err += d.toString()));
  // 'close', not 'exit': the last line of stdout has been read by then
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`cpgbench ${mode} on node ${n}: not ready after 30 s`));
    }, 30_000);
    const poll = setInterval(() => {
      if (!out.text.includes('"ready"')) return;
      clearTimeout(timer);
      clearInterval(poll);
      resolve();
    }, 5);
    void exited.then((code) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`cpgbench ${mode} on node ${n} exited with ${code}: ${out.err}`));
    });
  });
  return { child, out, exited };
}

/**
 * One floor run: echoes on nodes 2 and 3, `count` writes of `size` bytes at `rate` a second
 * from node 1, in a group of its own. `around` gets the pids of the writer and the echoes
 * (the probe samples their CPU), once all three joined, and a function that resolves with the
 * run's figures; what it returns is returned.
 */
export async function writeFloor<T>(
  args: { rate: number; count: number; size: number; group: string },
  around: (pids: number[], measure: () => Promise<FloorRun>) => Promise<T>,
): Promise<T> {
  const bin = await cpgbench();
  const procs: Awaited<ReturnType<typeof startReady>>[] = [];
  try {
    for (const n of [2, 3]) procs.push(await startReady(bin, n, 'echo', args.group, []));
    const writer = await startReady(bin, 1, 'write', args.group, [
      ...['--rate', String(args.rate), '--count', String(args.count)],
      ...['--size', String(args.size)],
    ]);
    procs.push(writer);
    const measure = async (): Promise<FloorRun> => {
      // the writer prints its result, then stays until killed (its CPU stays readable)
      const line = () => writer.out.text.split('\n').find((l) => l.startsWith('{"samples"'));
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => {
          if (line()?.endsWith('}') !== true) return;
          clearInterval(poll);
          resolve();
        }, 10);
        void writer.exited.then((code) => {
          clearInterval(poll);
          reject(new Error(`cpgbench write exited with ${code}: ${writer.out.err}`));
        });
      });
      return JSON.parse(line()!) as FloorRun;
    };
    return await around(
      [writer.child.pid!, ...procs.slice(0, 2).map((p) => p.child.pid!)],
      measure,
    );
  } finally {
    for (const p of procs) await stopProcess(p.child, 'SIGTERM', 3000);
  }
}

const SECTION =
  'Write latency floor (3 nodes; peer: the same writes in C over CPG, no cpgkit code: one C client writes, C clients on the other nodes ack)';

/**
 * The floor's rows: cpgkit's durable write latency (`cpgkit`, the samples of the config store's
 * row) against the floor's, measured right after it, with etcd's in each note: a latency goal
 * relative to etcd that the floor itself misses cannot be met by code on top of CPG here.
 */
export async function floorRows(args: {
  rate: number;
  count: number;
  /** Bytes per C write: about a cpgkit `set` command's frame. */
  size: number;
  runId: string;
  cpgkit: number[] | undefined;
  etcd: number[] | undefined;
  problems: string[];
}): Promise<{ rows: Row[]; samples: number[] | undefined }> {
  let samples: number[] | undefined;
  let why: string | undefined;
  try {
    await ensureCToolchain();
    const t = Date.now();
    process.stderr.write('bench: write latency floor [C libcpg] ... ');
    const r = await writeFloor(
      { rate: args.rate, count: args.count, size: args.size, group: `cpgkit-floor-${args.runId}` },
      (_pids, measure) => measure(),
    );
    process.stderr.write(`${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    samples = r.samples;
  } catch (error) {
    why = `the C floor failed: see Problems`;
    args.problems.push(
      `write latency floor: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const of = (xs: number[] | undefined) => (xs?.length ? summarize(xs) : undefined);
  const [c, f, e] = [of(args.cpgkit), of(samples), of(args.etcd)];
  const rows: Row[] = (['p50', 'p99', 'p999'] as const).map((pct) => {
    const floor = f?.[pct];
    const etcd = e?.[pct];
    const note = [
      `${args.count} writes of ${args.size} B at ${args.rate}/s, timed from each one's due time until the writer delivered it and one other node acked it (a majority of 3 applied it)`,
      etcd !== undefined ? `etcd's (fsync): ${fmt(etcd)} ms` : undefined,
      etcd !== undefined && floor !== undefined
        ? `floor ÷ etcd: ${(floor / etcd).toFixed(2)}x`
        : undefined,
      why,
    ];
    return {
      section: SECTION,
      figure: `write latency at ${args.rate}/s ${pct === 'p999' ? 'p99.9' : pct}`,
      variant: 'cpgkit durable vs C floor',
      unit: 'ms',
      better: 'lower',
      peer: 'C libcpg',
      ...(c?.[pct] !== undefined ? { cpgkit: c[pct] } : {}),
      ...(floor !== undefined ? { peerValue: floor } : {}),
      note: note.filter(Boolean).join('; '),
    };
  });
  return { rows, samples };
}
