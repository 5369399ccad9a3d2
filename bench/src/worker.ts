/**
 * A benchmark worker: one process per (system, node) that opens an adapter and runs the
 * workloads the orchestrator asks for (see protocol.ts). cpgkit workers run inside their
 * node's network namespace (`scripts/cluster exec N node ... worker.ts`); etcd workers run on
 * this machine's loopback, each talking to one member.
 * @module
 */
import { createInterface } from 'node:readline';
import type { CoordinationAdapter, HeldLeadership } from './adapter.js';
import type { CpgkitAdapter } from './adapters/cpgkit.js';
import { REPLY_PREFIX, type AdapterConfig, type Reply, type Request } from './protocol.js';
import { nowMs } from './procs.js';
import { Tracer } from './trace.js';
import * as w from './workloads.js';

let adapter: CoordinationAdapter | undefined;
const leaderships = new Map<string, HeldLeadership>();
let tracer: Tracer | undefined;
let watch: { stop: () => Promise<void>; samples: number[] } | undefined;

async function open(config: AdapterConfig): Promise<CoordinationAdapter> {
  if (config.system === 'etcd') {
    const { EtcdAdapter } = await import('./adapters/etcd.js');
    return new EtcdAdapter({ endpoint: config.endpoint, electionTtl: config.electionTtl });
  }
  const { CpgkitAdapter } = await import('./adapters/cpgkit.js');
  return CpgkitAdapter.open(config);
}

function need(): CoordinationAdapter {
  if (!adapter) throw new Error('worker: open first');
  return adapter;
}

const handlers: Record<string, (args: never) => Promise<unknown>> = {
  async open(config: AdapterConfig) {
    const t = nowMs();
    adapter = await open(config);
    return { pid: process.pid, openMs: nowMs() - t, rss: process.memoryUsage().rss };
  },
  throughput: (args: w.ThroughputArgs) => w.throughput(need(), args),
  writeLatency: (args: w.LatencyArgs) => w.writeLatency(need(), args),
  readLatency: (args: { key: string; count: number }) => w.readLatency(need(), args),
  stampedWrites: (args: { rate: number; count: number; keyPrefix: string; valueBytes: number }) =>
    w.stampedWrites(need(), args),
  load: (args: w.LoadArgs) => w.load(need(), args),
  put: async (args: { key: string; value: string }) => need().put(args.key, args.value),
  async loadAll(args: { prefix: string }) {
    const t = nowMs();
    const keys = await need().loadAll(args.prefix);
    return { keys, ms: nowMs() - t };
  },
  prepareLocks: async () => need().prepareLocks?.(),
  lockLoop: (args: {
    name: string;
    durationMs: number;
    count: number;
    holdMs: number;
    startAt?: number;
  }) => w.lockLoop(need(), args),
  async campaign(args: { name: string; value: string }) {
    const { elected } = w.startCampaign(need(), args.name, args.value);
    const { electedAt, leadership, retries } = await elected;
    leaderships.set(args.name, leadership);
    const changedAt = need().lastMembershipChangeAt?.();
    const roundEndAt = need().lastRoundEndAt?.();
    return { electedAt, pid: process.pid, retries, changedAt, roundEndAt };
  },
  async resign(args: { name: string }) {
    const l = leaderships.get(args.name);
    leaderships.delete(args.name);
    await l?.resign();
  },
  async watchStart(args: { prefix: string }) {
    const samples: number[] = [];
    const stop = await need().watch(args.prefix, (change) => {
      const t = change.value === undefined ? undefined : w.stampOf(change.value);
      if (t !== undefined) samples.push(nowMs() - t);
    });
    watch = { stop, samples };
  },
  async watchStop() {
    const current = watch;
    watch = undefined;
    if (!current) return { samples: [] };
    await current.stop();
    return { samples: current.samples };
  },
  /** Start tracing (latency-probe.ts): what this replica applies and when, stalls, GC, CPU. */
  traceStart() {
    tracer?.stop();
    const a = need();
    tracer = new Tracer(a.system === 'cpgkit' ? (a as CpgkitAdapter).map : undefined);
    return Promise.resolve();
  },
  traceStop() {
    const t = tracer?.stop();
    tracer = undefined;
    return Promise.resolve(t ?? null);
  },
  rss() {
    global.gc?.();
    const m = process.memoryUsage();
    return Promise.resolve({
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      pid: process.pid,
    });
  },
  async close() {
    const a = adapter;
    adapter = undefined;
    await a?.close();
    setImmediate(() => process.exit(0));
  },
};

function reply(r: Reply): void {
  process.stdout.write(`${REPLY_PREFIX}${JSON.stringify(r)}\n`);
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line) as Request;
  const handler = handlers[req.op];
  if (!handler) {
    reply({ id: req.id, ok: false, error: `unknown op ${req.op}` });
    return;
  }
  handler(req.args as never).then(
    (result) => reply({ id: req.id, ok: true, result: result ?? null }),
    (error: unknown) =>
      reply({
        id: req.id,
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      }),
  );
});
// The orchestrator closed our stdin (it ended or died): stop.
rl.on('close', () => {
  void (adapter?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
