/**
 * The CPU of a state transfer, in one process: the sync leader writing the snapshot's chunks
 * (`snapshotChunks`) of a config store whose digest was warmed (as a replica's digest warmer
 * leaves it), and a target reading them (`SnapshotReceiver`, `verifiedImage`: parse, build,
 * digest, check). Each side is timed with `process.cpuUsage()`; no network, no group.
 *
 * ```sh
 * node --expose-gc --import tsx --conditions=@cpgkit/source packages/statemachine/bench/transfer.ts \
 *   [--keys 100000] [--reps 5] [--value-bytes 64] [--side both|leader|joiner]
 * ```
 * @module
 */
import { parseArgs } from 'node:util';
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
  },
});
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
  state,
};
warmDigest(state, Infinity);
const digest = imageDigest(image);

// the store's leaves are read as records, as a replica of the store reads them
const def = mapDefinition('bench');
const records = def.snapshotRecord?.bind(def);

const gc = (globalThis as { gc?: () => void }).gc;
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const leader: number[] = [];
const joiner: number[] = [];
let bytes = 0;
let chunks: Uint8Array[] = [];
for (let r = 0; r < reps; r++) {
  if (o.side !== 'joiner' || r === 0) {
    gc?.();
    const t = process.cpuUsage();
    chunks = [];
    for await (const c of snapshotChunks(image, 1024 * 1024, () => false, new SliceClock()))
      chunks.push(c.bytes);
    leader.push(cpuMs(t));
    bytes = chunks.reduce((n, c) => n + c.length, 0);
  }
  if (o.side === 'leader') continue;
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
  `${keys} keys, ${bytes} bytes on the wire: leader ${median(leader)} [${list(leader)}], joiner ${median(joiner)} [${list(joiner)}] (CPU, median of ${reps})`,
);
