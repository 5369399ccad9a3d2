/**
 * The CPU of a state transfer, in one process: the sync leader writing the snapshot's chunks
 * (`snapshotChunks`) of a config store whose digest was warmed (as a replica's digest warmer
 * leaves it), and a target reading them (`SnapshotReceiver`, `verifiedImage`: parse, build,
 * digest, check). Each side is timed with `process.cpuUsage()`; no network, no group. The
 * joiner's first read is what a new replica pays: later ones find V8's hidden classes and
 * internalized key strings that the first made (an object parsed from JSON gets a hidden class
 * per new key), and its code optimized; compare first reads across fresh processes.
 *
 * ```sh
 * node --expose-gc --import tsx --conditions=@cpgkit/source packages/statemachine/bench/transfer.ts \
 *   [--keys 100000] [--reps 5] [--value-bytes 64] [--side both|leader|joiner|cold]
 * ```
 *
 * `--side cold`: each read in a fresh process (as a new replica's), reading the chunks this
 * process wrote to a temporary file; it prints the reader's CPU and its garbage collectors'
 * time (`PerformanceObserver`, wall clock).
 * @module
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { DEFAULT_LIMITS, emptyMap, type MapOp, type MapState } from '../src/map/state.js';
import { SnapshotReceiver, snapshotChunks } from '../src/snapshot-transfer.js';
import { warmDigest } from '../src/canonical.js';
import { imageDigest, type Image } from '../src/image.js';
import { SliceClock } from '../src/slices.js';
import { mapDefinition } from '../src/map/definition.js';

const { values: o } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '5' },
    'value-bytes': { type: 'string', default: '64' },
    side: { type: 'string', default: 'both' },
    read: { type: 'string' },
  },
});

// the store's leaves are read as records, as a replica of the store reads them
const def = mapDefinition('bench');
const records = def.snapshotRecord?.bind(def);

if (o.read !== undefined) {
  // a cold reader (`--side cold`): a fresh process reads the chunks in the file
  const file = JSON.parse(readFileSync(o.read, 'utf8')) as { digest: string; chunks: string[] };
  const parts = file.chunks.map((c) => Buffer.from(c, 'base64'));
  let gcMs = 0;
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  const t = process.cpuUsage();
  const receiver = new SnapshotReceiver<MapState>(() => false, new SliceClock(), records);
  parts.forEach((c, i) => receiver.push(i, c));
  const got = await receiver.verifiedImage(file.digest);
  const d = process.cpuUsage(t);
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  if (got === undefined) throw new Error('the joiner did not read the store');
  console.log(`${((d.user + d.system) / 1000).toFixed(0)} ${gcMs.toFixed(0)}`);
  process.exit(0);
}
const keys = Number(o.keys);
const reps = Number(o.reps);
const value = 'v'.repeat(Number(o['value-bytes']));

// the store as the bench's loader fills it: keys r/0000000..., one value, batches of 500
let state: MapState = emptyMap();
for (let i = 0; i < keys; i += 500) {
  const ops: MapOp[] = [];
  for (let j = i; j < Math.min(keys, i + 500); j++)
    ops.push({ op: 'set', key: `r/${String(j).padStart(7, '0')}`, value });
  state = reduceTxn(state, { compares: [], ops }, DEFAULT_LIMITS).state;
}
const image: Image<MapState> = {
  epoch: 1,
  index: 1n,
  time: 0,
  members: [],
  knownNodes: [1, 2, 3],
  replicas: ['r1', 'r2', 'r3'],
  gone: [],
  settled: 0,
  provenReplicas: [],
  provenGone: [],
  state,
};
warmDigest(state, Infinity);
const digest = imageDigest(image);

const gc = (globalThis as { gc?: () => void }).gc;
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const leader: number[] = [];
const joiner: number[] = [];
const joinerGc: number[] = [];
let bytes = 0;
let chunks: Uint8Array[] = [];
for (let r = 0; r < reps; r++) {
  if ((o.side !== 'joiner' && o.side !== 'cold') || r === 0) {
    gc?.();
    const t = process.cpuUsage();
    chunks = [];
    for await (const c of snapshotChunks(image, 1024 * 1024, () => false, new SliceClock()))
      chunks.push(c.bytes);
    leader.push(cpuMs(t));
    bytes = chunks.reduce((n, c) => n + c.length, 0);
  }
  if (o.side === 'leader') continue;
  if (o.side === 'cold') {
    const dir = mkdtempSync(join(tmpdir(), 'transfer-'));
    const path = join(dir, 'chunks.json');
    const encoded = chunks.map((c) => Buffer.from(c).toString('base64'));
    writeFileSync(path, JSON.stringify({ digest, chunks: encoded }));
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, process.argv[1]!, '--read', path],
      { encoding: 'utf8' },
    );
    rmSync(dir, { recursive: true });
    const [cpu, gcMs] = out.trim().split(' ').map(Number);
    joiner.push(cpu!);
    joinerGc.push(gcMs!);
    continue;
  }
  gc?.();
  const t = process.cpuUsage();
  const receiver = new SnapshotReceiver<MapState>(() => false, new SliceClock(), records);
  chunks.forEach((c, i) => receiver.push(i, c));
  const got = await receiver.verifiedImage(digest);
  joiner.push(cpuMs(t));
  if (got?.state.count !== keys) throw new Error('the joiner did not read the whole store');
}
const median = (a: number[]): string =>
  a.length === 0 ? '-' : [...a].sort((x, y) => x - y)[a.length >> 1]!.toFixed(1) + ' ms';
const list = (a: number[]): string => a.map((x) => x.toFixed(0)).join(' ');
console.log(
  `${keys} keys, ${bytes} bytes on the wire: leader ${median(leader)} [${list(leader)}], joiner ${median(joiner)} [${list(joiner)}] (CPU, median of ${reps})` +
    (joinerGc.length > 0 ? `; cold joiner's GC ${median(joinerGc)} [${list(joinerGc)}]` : ''),
);
