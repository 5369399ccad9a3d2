/**
 * The latency probe's reading of traced writes (trace.ts): each write's time split into its
 * steps on one clock, and the slowest 1% classified by the step that took longest and by
 * what the processes were doing meanwhile (an event-loop stall, a GC pause). Pure.
 * @module
 */
import type { WorkerTrace } from './trace.js';

/** One write's steps, ms (undefined where a replica did not report it). */
export interface TracedWrite {
  readonly n: number;
  readonly total: number;
  /** Due → `put` called (the client's timer and event loop). */
  readonly client: number;
  /** Sent → applied on the writer (corosync's delivery back to the sender, and the apply). */
  readonly ownDelivery?: number;
  /** Sent → applied on each other node. */
  readonly remoteDelivery: (number | undefined)[];
  /** Applied on the writer → its commit index reached the write (the first remote ack). */
  readonly ackWait?: number;
  /** The first other replica's apply → the writer's commit (its ack, sent and delivered). */
  readonly ackPath?: number;
  /** Commit → the `put` resolved in the client. */
  readonly resolve?: number;
  /** Stall or GC of each process overlapping the write, ms (writer first). */
  readonly stalledMs: number[];
  readonly gcMs: number[];
}

const STEPS = ['client', 'ownDelivery', 'ackWait', 'ackPath', 'resolve'] as const;

function overlap(events: [number, number, ...number[]][], from: number, to: number): number {
  let ms = 0;
  for (const [at, d] of events) {
    const a = Math.max(at, from);
    const b = Math.min(at + d, to);
    if (b > a) ms += b - a;
  }
  return ms;
}

function med(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
}

/**
 * Split every write of `writes` (`[due, sent, resolved]` by write number) into its steps with
 * the traces of each node (`writer` is the node that wrote), and describe the slowest 1%.
 */
export function explain(
  writes: readonly ([number, number, number] | null | undefined)[],
  byNode: ReadonlyMap<number, WorkerTrace>,
  writer: number,
): { writes: TracedWrite[]; text: string } {
  const w = byNode.get(writer)!;
  const others = [...byNode.keys()].filter((n) => n !== writer).sort();
  const procs = [writer, ...others].map((n) => byNode.get(n)!);
  const applied = procs.map((t) => new Map(t.applied.map(([n, index, at]) => [n, { index, at }])));
  const commits = [...w.commits].sort((a, b) => a[1] - b[1]);
  const out: TracedWrite[] = [];
  let c = 0;
  writes.forEach((times, n) => {
    if (!times) return;
    const [due, sent, done] = times;
    const own = applied[0]!.get(n);
    const remote = applied.slice(1).map((m) => m.get(n)?.at);
    let commitAt: number | undefined;
    if (own) {
      // commit events are in time order; their index only grows within a round
      while (c < commits.length && commits[c]![1] < own.at) c++;
      for (let k = c; k < commits.length; k++)
        if (commits[k]![0] >= own.index) {
          commitAt = commits[k]![1];
          break;
        }
    }
    const firstRemote = Math.min(...remote.map((x) => x ?? Infinity));
    out.push({
      n,
      total: done - Math.min(due, sent),
      client: Math.max(0, sent - due),
      ...(own ? { ownDelivery: own.at - sent } : {}),
      remoteDelivery: remote.map((x) => (x === undefined ? undefined : x - sent)),
      ...(own && commitAt !== undefined ? { ackWait: commitAt - own.at } : {}),
      ...(commitAt !== undefined && Number.isFinite(firstRemote)
        ? { ackPath: commitAt - firstRemote }
        : {}),
      ...(commitAt !== undefined ? { resolve: done - commitAt } : {}),
      stalledMs: procs.map((t) => overlap(t.stalls, Math.min(due, sent), done)),
      gcMs: procs.map((t) => overlap(t.gcs, Math.min(due, sent), done)),
    });
  });
  return { writes: out, text: describe(out, procs, [writer, ...others]) };
}

function describe(ws: TracedWrite[], procs: WorkerTrace[], nodes: number[]): string {
  const sorted = [...ws].sort((a, b) => a.total - b.total);
  const cut = sorted[Math.floor(sorted.length * 0.99)]?.total ?? Infinity;
  const slow = sorted.filter((x) => x.total >= cut);
  const typical = sorted.slice(0, Math.floor(sorted.length / 2));
  const col = (x: TracedWrite, s: (typeof STEPS)[number]) => x[s] ?? NaN;
  const row = (label: string, set: TracedWrite[]) =>
    `  ${label.padEnd(16)} n=${String(set.length).padStart(4)} total ${med(set.map((x) => x.total)).toFixed(2)}; ` +
    STEPS.map((s) => `${s} ${med(set.map((x) => col(x, s))).toFixed(2)}`).join(', ') +
    `; remote delivery ${nodes
      .slice(1)
      .map((_, i) => med(set.map((x) => x.remoteDelivery[i] ?? NaN)).toFixed(2))
      .join('/')}`;
  // the slowest writes, by the step that took longest
  const blame = new Map<string, number>();
  for (const x of slow) {
    let worst: string = STEPS[0];
    for (const s of STEPS) if (col(x, s) > col(x, worst as (typeof STEPS)[number])) worst = s;
    const stalled = x.stalledMs.map((m, i) => (m >= 5 ? `n${nodes[i]}` : '')).filter(Boolean);
    const gc = x.gcMs.map((m, i) => (m >= 2 ? `n${nodes[i]}` : '')).filter(Boolean);
    const key = `${worst}${stalled.length ? ` +stall ${stalled.join(',')}` : ''}${gc.length ? ` +gc ${gc.join(',')}` : ''}`;
    blame.set(key, (blame.get(key) ?? 0) + 1);
  }
  const lines = [
    `  steps, medians (ms) over the fastest half and over the slowest 1% (≥ ${cut.toFixed(2)} ms):`,
    row('fastest half', typical),
    row('slowest 1%', slow),
    `  slowest 1% by longest step (+ stalls ≥ 5 ms / GC ≥ 2 ms overlapping): ${[...blame]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
    `  per process (n${nodes.join(', n')}): stalls > 10 ms ${procs.map((p) => p.stalls.length).join('/')}, longest ${procs
      .map((p) => Math.max(0, ...p.stalls.map((s) => s[1])).toFixed(0))
      .join('/')} ms; GC pauses ${procs.map((p) => p.gcs.length).join('/')}, total ${procs
      .map((p) => p.gcs.reduce((s, g) => s + g[1], 0).toFixed(0))
      .join(
        '/',
      )} ms, longest ${procs.map((p) => Math.max(0, ...p.gcs.map((g) => g[1])).toFixed(1)).join('/')} ms`,
  ];
  return lines.join('\n');
}
