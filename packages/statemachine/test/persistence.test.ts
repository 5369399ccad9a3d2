/**
 * The data directory: snapshot + log of patches (journal.ts, persistence.ts). Random histories
 * written in random batches with frequent compaction reload to exactly the last written image;
 * a torn or corrupt last record is cut off; a log of an older generation is ignored.
 */
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { appendFile, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Immer, type Draft, type Patch } from 'immer';
import { MemoryCluster } from '@cpgkit/core/testing';
import { canonicalJson } from '../src/canonical.js';
import { metaOf, type Image } from '../src/image.js';
import { Journal } from '../src/journal.js';
import { SnapshotStore, recordLine } from '../src/persistence.js';
import { applyTxn, DEFAULT_LIMITS, emptyMap, type MapOp, type MapState } from '../src/map/state.js';
import { ReplicatedMap } from '../src/index.js';
import { suspendSlowDisks } from './slow-disks.js';

const immer = new Immer({ autoFreeze: false });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-persist-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function image(state: MapState, index: number, epoch = 1): Image<MapState> {
  return {
    epoch,
    index: BigInt(index),
    time: index * 10,
    members: [{ nodeid: 1, pid: 2, incarnation: 'x' }],
    knownNodes: [1, 2, 3],
    replicas: ['r1'],
    gone: [],
    settled: epoch,
    provenReplicas: [],
    provenGone: [],
    state,
  };
}

const op: fc.Arbitrary<MapOp> = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    key: fc.constantFrom('a', 'b', 'c/d', 'e', 'f/g/h'),
    value: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer(), { maxLength: 20 })),
  }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom('a', 'b', 'c/d') }),
);
/** A step: a transaction, a write to disk (maybe a snapshot: tiny compaction threshold), or a state from elsewhere. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.array(op, { minLength: 1, maxLength: 3 }) },
  { weight: 3, arbitrary: fc.constant('write' as const) },
  { weight: 1, arbitrary: fc.constant('replace' as const) },
);

describe('persistence: snapshot + log', () => {
  it('reloads exactly the last written image, whatever the mix of log records and snapshots', async () => {
    let run = 0;
    // this test's own directory: were it to outlive its timeout, it must not write into the next test's
    const root = dir;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.nat(400), async (steps, compact) => {
        const d = join(root, `r${run++}`);
        const store = new SnapshotStore(d, 'kv');
        const journal = new Journal<MapState>(store, compact);
        let state = emptyMap();
        let index = 0;
        let written: Image<MapState> | undefined;
        for (const s of steps) {
          if (s === 'write') {
            written = image(state, index);
            await journal.write(written);
          } else if (s === 'replace') {
            // a snapshot received in a sync: no patches lead to it
            state = immer.produce(emptyMap(), (dr: Draft<MapState>) => {
              applyTxn(
                dr,
                { compares: [], ops: [{ op: 'set', key: 'z', value: index }] },
                DEFAULT_LIMITS,
              );
            });
            index++;
          } else {
            const prev = state;
            const [next, patches] = immer.produceWithPatches(prev, (dr: Draft<MapState>) => {
              applyTxn(dr, { compares: [], ops: s }, DEFAULT_LIMITS);
            });
            journal.record(prev, next, patches);
            state = next;
            index++;
          }
        }
        await store.close();
        const loaded = await new SnapshotStore(d, 'kv').load<MapState>();
        if (written === undefined) expect(loaded).toBeUndefined();
        else expect(canonicalJson(loaded)).toBe(canonicalJson(written));
      }),
      { numRuns: 60 },
    );
  });

  it('a torn or corrupt last record is ignored and cut off; a log of an older generation is ignored', async () => {
    const store = new SnapshotStore(dir, 'kv');
    const journal = new Journal<MapState>(store, 1 << 20);
    let state = emptyMap();
    const put = async (key: string, value: number, index: number): Promise<Image<MapState>> => {
      const prev = state;
      const [next, patches] = immer.produceWithPatches(prev, (dr: Draft<MapState>) => {
        applyTxn(dr, { compares: [], ops: [{ op: 'set', key, value }] }, DEFAULT_LIMITS);
      });
      journal.record(prev, next, patches);
      state = next;
      const img = image(state, index);
      await journal.write(img);
      return img;
    };
    await put('a', 1, 1); // the first write is a snapshot
    await put('b', 2, 2); // then log records
    const good = await put('c', 3, 3);
    await store.close();
    const logPath = join(dir, 'kv.log');
    const size = (await stat(logPath)).size;
    await appendFile(logPath, '0123456789abcdef {"epoch":1,"ind'); // torn: no newline
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(good));
    expect((await stat(logPath)).size).toBe(size);
    await appendFile(logPath, '0123456789abcdef {"epoch":1}\n'); // complete but wrong checksum
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(good));
    expect((await stat(logPath)).size).toBe(size);

    // a crash after a new snapshot (generation 2) but before its log replaced the old one
    const again = new SnapshotStore(dir, 'kv');
    const loaded = (await again.load<MapState>())!;
    await copyFile(logPath, join(dir, 'old.log'));
    await again.save(loaded);
    await again.close();
    await copyFile(join(dir, 'old.log'), logPath);
    const header = (await readFile(logPath, 'utf8')).split('\n')[0];
    expect(header).toBe('{"log":"cpgkit","gen":1}');
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(good));
  });

  it('the log grows in zero-filled steps: a crash leaves zeros after the last record, which a reload cuts off and appends overwrite', async () => {
    const logPath = join(dir, 'kv.log');
    let state = emptyMap();
    let index = 0;
    let store = new SnapshotStore(dir, 'kv');
    let journal = new Journal<MapState>(store, 1 << 20);
    const put = async (key: string): Promise<Image<MapState>> => {
      const prev = state;
      const [next, patches] = immer.produceWithPatches(prev, (dr: Draft<MapState>) => {
        applyTxn(dr, { compares: [], ops: [{ op: 'set', key, value: index }] }, DEFAULT_LIMITS);
      });
      journal.record(prev, next, patches);
      state = next;
      const img = image(state, ++index);
      await journal.write(img);
      return img;
    };
    await put('a'); // a snapshot
    await put('b'); // the first record extends the log
    let good = await put('c');
    // the process "crashes": the files as they are now, not as a clean close leaves them
    const text = await readFile(logPath);
    await store.close();
    await writeFile(logPath, text);
    const records = text.subarray(0, text.lastIndexOf(10) + 1);
    expect(text.length).toBeGreaterThanOrEqual(1 << 20);
    expect(text.subarray(records.length).every((b) => b === 0)).toBe(true);
    expect(records.toString('utf8').split('\n')).toHaveLength(4); // header, 2 records, ''

    store = new SnapshotStore(dir, 'kv');
    const loaded = await store.load<MapState>();
    expect(canonicalJson(loaded)).toBe(canonicalJson(good));
    expect((await stat(logPath)).size).toBe(records.length);
    state = loaded!.state;
    journal = new Journal<MapState>(store, 1 << 20);
    journal.loaded(state);
    await put('d');
    good = await put('e');
    expect((await stat(logPath)).size).toBeGreaterThanOrEqual(1 << 20);
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(good));

    // a clean close cuts the zeros off
    await put('f');
    good = await put('g');
    await store.close();
    const closed = await readFile(logPath);
    expect(closed[closed.length - 1]).toBe(10);
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(good));
  });

  it("a small record's write is on its way before append's caller goes on with its turn", async () => {
    const store = new SnapshotStore(dir, 'kv');
    const journal = new Journal<MapState>(store, 1 << 30);
    const first = image(emptyMap(), 1);
    await journal.write(first); // the snapshot
    const put = (state: MapState, v: string): [MapState, Patch[]] => {
      const [next, patches] = immer.produceWithPatches(state, (dr: Draft<MapState>) => {
        applyTxn(dr, { compares: [], ops: [{ op: 'set', key: 'k', value: v }] }, DEFAULT_LIMITS);
      });
      return [next, patches];
    };
    const [second, p2] = put(first.state, 'a');
    journal.record(first.state, second, p2);
    await journal.write(image(second, 2)); // opens the log
    const [third, p3] = put(second, 'b');
    journal.record(second, third, p3);
    // the log's file handle: its writev is what sends the record to the disk
    const handle = Object.getPrototypeOf((store as unknown as { logFile: object }).logFile) as {
      writev: (...a: unknown[]) => Promise<unknown>;
    };
    const writev = vi.spyOn(handle, 'writev');
    // the store's own timing: no simulated slow disk in front of it (CPGKIT_SLOW_DISKS)
    const resume = suspendSlowDisks();
    const written = journal.write(image(third, 3));
    resume();
    expect(writev).toHaveBeenCalledTimes(1); // in this turn, not a microtask later
    await written;
    writev.mockRestore();
    await store.close();
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(
      canonicalJson(image(third, 3)),
    );
  });

  it('a large record (a bulk load) is built in slices, byte for byte the record JSON.stringify makes, and reloads', async () => {
    const store = new SnapshotStore(dir, 'kv');
    const journal = new Journal<MapState>(store, 1 << 30);
    const put = (v: string): MapOp[] =>
      Array.from({ length: 30_000 }, (_, i) => ({ op: 'set', key: `k/${i}`, value: { i, v } }));
    const filled = immer.produce(emptyMap(), (dr: Draft<MapState>) => {
      applyTxn(dr, { compares: [], ops: put('first') }, DEFAULT_LIMITS);
    });
    const first = image(filled, 1);
    await journal.write(first); // the snapshot
    // every key written again: one record of patches, from the state on disk
    const [next, patches] = immer.produceWithPatches(filled, (dr: Draft<MapState>) => {
      applyTxn(dr, { compares: [], ops: put('é€ again') }, DEFAULT_LIMITS);
    });
    journal.record(first.state, next, patches);
    const last = image(next, 2);
    // other work gets turns while the record is built (it would not, built in one go)
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const built = await recordLine({ ...metaOf(last), patches });
    ticking = false;
    expect(turns).toBeGreaterThan(1);
    await journal.write(last);
    const written = Buffer.concat(built.blocks);
    expect(written.length).toBe(built.length);
    await store.close();

    const text = await readFile(join(dir, 'kv.log'), 'utf8');
    const line = text.split('\n')[1]!;
    const json = JSON.stringify({ ...metaOf(last), patches, index: '2' });
    expect(json.length).toBeGreaterThan(1 << 20);
    expect(line.slice(17)).toBe(json);
    expect(`${line}\n`).toBe(written.toString('utf8'));
    expect(line.slice(0, 16)).toBe(createHash('sha256').update(json).digest('hex').slice(0, 16));
    const loaded = await new SnapshotStore(dir, 'kv').load<MapState>();
    expect(canonicalJson(loaded)).toBe(canonicalJson(last));
  });

  it('a large snapshot is written in slices, the same bytes whether its slices are cut at every chance or never', async () => {
    const ops: MapOp[] = Array.from({ length: 30_000 }, (_, i) => ({
      op: 'set',
      key: `k/${i}`,
      value: { i, v: 'é€' },
    }));
    const filled = immer.produce(emptyMap(), (dr: Draft<MapState>) => {
      applyTxn(dr, { compares: [], ops }, DEFAULT_LIMITS);
    });
    const img = image(filled, 1);
    let leap = 0;
    const clocks = {
      // virtual time of a seeded run: stands still while code runs
      still: () => 0,
      // every read 100 ms later: every slice is cut as soon as it has done its minimum work
      leaping: () => (leap += 100),
    };
    const files: Record<string, string> = {};
    for (const [name, now] of Object.entries(clocks)) {
      let turns = 0;
      let ticking = true;
      const tick = (): void => {
        turns++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const store = new SnapshotStore(join(dir, name), 'kv', now);
      await store.save(img);
      ticking = false;
      await store.close();
      // other work gets turns while the snapshot is written (beyond those of the file writes)
      expect(turns).toBeGreaterThan(3);
      files[name] = await readFile(join(dir, name, 'kv.snapshot.json'), 'utf8');
      const loaded = await new SnapshotStore(join(dir, name), 'kv').load<MapState>();
      expect(canonicalJson(loaded)).toBe(canonicalJson(img));
    }
    expect(files.leaping).toBe(files.still);
  });

  it('a ReplicatedMap restarts from its snapshot plus log', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const dataDir = join(dir, 'kv');
    const open = (): Promise<ReplicatedMap> =>
      ReplicatedMap.open(cluster.member(1), {
        bootstrap: 'alone',
        dataDir,
        checkInterval: 0,
        compactLogBytes: 2000,
      });
    const kv = await open();
    await cluster.runUntilIdle();
    await kv.ready();
    for (let i = 0; i < 200; i++) {
      const w = kv.set(`k/${i % 50}`, { i });
      await cluster.runUntilIdle();
      await w;
      if (i % 10 === 0) await kv.machine.flush();
    }
    const d = kv.delete('k/3');
    await cluster.runUntilIdle();
    await d;
    const before = kv.list();
    const revision = kv.revision;
    await kv.close();
    expect((await stat(join(dataDir, 'cpgkit.kv.log'))).size).toBeGreaterThan(30);
    const back = await open();
    expect(back.revision).toBe(revision);
    expect(back.list()).toEqual(before);
    expect(back.has('k/3')).toBe(false);
    await back.close();
    cluster.destroy();
  });
});
