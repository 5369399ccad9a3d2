/**
 * What persistence costs a replica holding a large config store: writes of batches of sets
 * (as `persistDelay` batches them) with the data directory's log of patches, against
 * rewriting the whole snapshot per batch (as cpgkit did before the log); and the longest
 * event-loop stall while a whole snapshot is written (serialised in slices).
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/persist.ts [--keys N] [--batch N]
 * ```
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Immer, type Draft } from 'immer';
import { applyTxn, DEFAULT_LIMITS, emptyMap, type MapOp, type MapState } from '../src/map/state.js';
import { Journal } from '../src/journal.js';
import { SnapshotStore } from '../src/persistence.js';
import { serializeImage, type Image } from '../src/image.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const keys = arg('--keys', 100_000);
const batch = arg('--batch', 100);
const batches = 50;
const immer = new Immer({ autoFreeze: false });
const dir = mkdtempSync(join(tmpdir(), 'cpgkit-persist-bench-'));

function image(state: MapState, index: number): Image<MapState> {
  return {
    epoch: 1,
    index: BigInt(index),
    time: index,
    members: [],
    knownNodes: [1, 2, 3],
    replicas: ['a', 'b', 'c'],
    gone: [],
    settled: 0,
    provenReplicas: [],
    provenGone: [],
    state,
  };
}
const value = (i: number): { n: number; pad: string } => ({
  n: i,
  pad: 'abcdefghijklmnopqrstuvwx',
});

let state = emptyMap();
const ops: MapOp[] = [];
for (let i = 0; i < keys; i++) ops.push({ op: 'set', key: `fill/${i}`, value: value(i) });
state = immer.produce(state, (d: Draft<MapState>) => {
  applyTxn(d, { compares: [], ops }, DEFAULT_LIMITS);
});

/** The longest event-loop stall of a loop that works in 5 ms slices: this machine's noise floor. */
async function noiseFloor(ms: number): Promise<number> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const s = performance.now();
    while (performance.now() - s < 5);
    await new Promise<void>((r) => setImmediate(r));
  }
  loop.disable();
  return loop.max / 1e6;
}

async function main(): Promise<void> {
  const floorMs = await noiseFloor(1000);
  const store = new SnapshotStore(join(dir, 'new'), 'kv');
  const journal = new Journal<MapState>(store, 4 * 1024 * 1024);
  let index = 1;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let t = performance.now();
  await journal.write(image(state, index)); // the first write: a whole snapshot
  const snapshotMs = performance.now() - t;
  const snapshotStallMs = loop.max / 1e6;
  const snapshotBytes = store.snapshotSize;

  // batches of sets, one log record each (a snapshot when the log outgrows the threshold)
  loop.reset();
  t = performance.now();
  let cpu = process.cpuUsage();
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < batch; i++) {
      const prev = state;
      const k = (b * batch + i) * 7919;
      const [next, patches] = immer.produceWithPatches(prev, (d: Draft<MapState>) => {
        applyTxn(
          d,
          { compares: [], ops: [{ op: 'set', key: `fill/${k % keys}`, value: value(k) }] },
          DEFAULT_LIMITS,
        );
      });
      journal.record(prev, next, patches);
      state = next;
      index++;
    }
    await journal.write(image(state, index));
  }
  const logMs = (performance.now() - t) / batches;
  const c = process.cpuUsage(cpu);
  const logCpuMs = (c.user + c.system) / 1000 / batches;
  const logStallMs = loop.max / 1e6;
  const logBytes = store.logSize / batches;
  await store.close();

  // before: the whole snapshot rewritten per batch (JSON.stringify on the event loop)
  const old = new SnapshotStore(join(dir, 'old'), 'kv');
  loop.reset();
  t = performance.now();
  cpu = process.cpuUsage();
  const n = 5;
  let stringifyMax = 0;
  for (let b = 0; b < n; b++) {
    const s0 = performance.now();
    serializeImage(image(state, index + b));
    stringifyMax = Math.max(stringifyMax, performance.now() - s0);
    await old.save(image(state, index + b));
  }
  const oldMs = (performance.now() - t) / n;
  const oc = process.cpuUsage(cpu);
  const oldCpuMs = (oc.user + oc.system) / 1000 / n;
  loop.disable();
  rmSync(dir, { recursive: true, force: true });

  const r = (x: number): number => Math.round(x * 10) / 10;
  console.log(
    `${keys.toLocaleString('en')}-key store, batches of ${batch} sets:\n` +
      `  log of patches: ${r(logMs)} ms and ${r(logCpuMs)} ms CPU per batch (apply included), ${Math.round(logBytes).toLocaleString('en')} bytes appended per batch\n` +
      `  whole snapshot per batch (before): ${r(oldMs)} ms and ${r(oldCpuMs)} ms CPU per batch, ${snapshotBytes.toLocaleString('en')} bytes written per batch; JSON.stringify alone blocks ${r(stringifyMax)} ms\n` +
      `  a whole snapshot now (sliced): ${r(snapshotMs)} ms, longest event-loop stall ${r(snapshotStallMs)} ms\n` +
      `  noise floor (a loop working in 5 ms slices on this machine): longest stall ${r(floorMs)} ms`,
  );
  console.log(
    JSON.stringify({
      bench: 'statemachine/persist',
      keys,
      batch,
      log: {
        msPerBatch: logMs,
        cpuMsPerBatch: logCpuMs,
        bytesPerBatch: logBytes,
        maxStallMs: logStallMs,
      },
      wholeSnapshotPerBatch: {
        msPerBatch: oldMs,
        cpuMsPerBatch: oldCpuMs,
        bytesPerBatch: snapshotBytes,
        stringifyMs: stringifyMax,
      },
      snapshot: { ms: snapshotMs, maxStallMs: snapshotStallMs },
      noiseFloorMs: floorMs,
    }),
  );
}

void main();
