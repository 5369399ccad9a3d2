/**
 * `durability: 'fsync'`: a dispatch resolves only once a strict majority of `Q` holds the
 * command on disk, so every acknowledged write survives the power loss of every node; the
 * default (`'memory'`) acknowledges once a majority applied it, before any disk has it.
 *
 * The disks are simulated around the real files (disks.ts): a test can freeze a replica's disk
 * (writes wait) and cut the power of all of them.
 */
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import {
  PersistFailedError,
  ReplicatedMap,
  ReplicatedStateMachine,
  type MachineEvent,
} from '../src/index.js';
import { DiskProgress, type Durability } from '../src/durability.js';
import { RETRY_FAILED_WRITE_MS } from '../src/journal.js';
import { Kind } from '../src/wire.js';
import { counter, type Counter, type CounterCmd } from './helpers.js';
import { Disks } from './disks.js';
import { closeRunning } from './close-running.js';

type SM = ReplicatedStateMachine<Counter, CounterCmd, number>;

let dir: string;
let disks: Disks;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-durability-'));
  disks = new Disks();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const dataDir = (n: number): string => join(dir, `d${n}`);

function open(cluster: MemoryCluster, n: number, durability: Durability): Promise<SM> {
  return ReplicatedStateMachine.open(cluster.member(n), counter, {
    checkInterval: 0,
    syncTimeout: 500,
    dataDir: dataDir(n),
    durability,
  });
}

/** A dispatch whose outcome the test can look at without awaiting it. */
function track(p: Promise<number>): { done: boolean; failed: boolean } {
  const t = { done: false, failed: false };
  p.then(
    () => void (t.done = true),
    () => void (t.failed = true),
  );
  return t;
}

/**
 * Run the cluster (virtual time) and let the real disk writes go on: until `until()` holds (or
 * 60 s of real time pass: the machine may be very busy), or, without `until`, for a few turns.
 */
async function run(cluster: MemoryCluster, until?: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (let turn = 0; until !== undefined || turn < 5; turn++) {
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 200 });
    if (until?.() === true || performance.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function openThree(cluster: MemoryCluster, durability: Durability): Promise<SM[]> {
  const ms = [
    await open(cluster, 1, durability),
    await open(cluster, 2, durability),
    await open(cluster, 3, durability),
  ];
  // ready, and the last round's epoch proven: what it ended with is committed everywhere
  await run(cluster, () => ms.every((m) => m.status === 'ready' && m.committedIndex === m.index));
  expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
  expect(ms.map((m) => m.committedIndex === m.index)).toEqual([true, true, true]);
  // and on every disk: the proof can come before a replica's own round-end write has ended (a
  // majority's acks suffice), and a test that freezes a disk whose write of the epoch it acks
  // were still on its way would hold that ack, and the seeded engine with it, for ever (a
  // slow disk: CPGKIT_SLOW_DISKS). The journal needs no virtual time.
  await Promise.all(ms.map((m) => m.flush()));
  return ms;
}

describe("durability: 'fsync'", () => {
  it('a full disk: a typed persist-failed event, the others still acknowledge, the write is retried', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 57 });
    const [a, b, c] = await openThree(cluster, 'fsync');
    // the writes of the last round's end (its epoch, its step, its proof) are done: the first
    // write that meets the full disk is the command's
    await a!.flush();
    const failed: Extract<MachineEvent, { type: 'persist-failed' }>[] = [];
    a!.on('persist-failed', (e) => failed.push(e));
    disks.full.add(dataDir(1));
    const before = a!.index;
    const t = track(a!.dispatch({ add: 1 }));
    // b's and c's disks make the majority: a's own failure does not hold the write back
    await run(cluster, () => t.done && failed.length > 0);
    expect(t).toEqual({ done: true, failed: false });
    // the failed write holds the command (a tick may have been applied after it meanwhile)
    expect(failed[0]!.index).toBeGreaterThan(before);
    expect(failed[0]!.index).toBeLessThanOrEqual(a!.index);
    expect(failed[0]!.error).toBeInstanceOf(PersistFailedError);
    expect(failed[0]!.error).toMatchObject({
      code: 'CPGKIT_PERSIST_FAILED',
      outcome: 'unknown',
      cause: { code: 'ENOSPC' },
    });
    expect(failed[0]!.error.message).toContain(dataDir(1));
    // room again: the replica writes again by itself (no new command), within about a second
    disks.full.delete(dataDir(1));
    const writes = disks.writes.get(dataDir(1)) ?? 0;
    // (run() fires only timers due within 200 virtual ms: let the retry's come first)
    await cluster.runUntilIdle({ advanceTime: true, maxTime: RETRY_FAILED_WRITE_MS + 100 });
    await run(cluster, () => (disks.writes.get(dataDir(1)) ?? 0) > writes);
    expect(disks.writes.get(dataDir(1)) ?? 0).toBeGreaterThan(writes);
    await closeRunning(cluster, [a!]);
    const again = await open(cluster, 1, 'fsync');
    await run(cluster, () => again.status === 'ready');
    expect([again.state.n, b!.state.n]).toEqual([1, 1]);
    // closed before the directory is removed (a replica left open may still be writing there)
    await closeRunning(cluster, [again, b!, c!]);
  });

  it('a dispatch does not resolve until a majority of Q has the command on disk', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 51 });
    const [a, b, c] = await openThree(cluster, 'fsync');
    disks.freeze(dataDir(2));
    disks.freeze(dataDir(3));
    const t = track(a!.dispatch({ add: 1 }));
    await run(cluster);
    await a!.flush(); // a's own disk holds it
    await run(cluster);
    // applied by all three in memory, on one disk of three: not acknowledged
    // (the commit index is not asserted: in 'fsync' an ack waits for its sender's write, so
    // whether b's and c's said they applied it depends on whether their frozen writes had
    // begun when the ack was due: the commit index moves with the disks)
    expect([a!.state.n, b!.state.n, c!.state.n]).toEqual([1, 1, 1]);
    expect(t).toEqual({ done: false, failed: false }); // only a's disk holds it
    // a sync round (a client joins) does not settle it either: a new round is not a disk
    const client = await ReplicatedStateMachine.open(cluster.member(1), counter, {
      passive: true,
      checkInterval: 0,
    });
    await run(cluster, () => client.status === 'ready');
    expect(client.status).toBe('ready');
    expect(a!.epoch).toBeGreaterThan(1);
    expect(t).toEqual({ done: false, failed: false });
    // a client that did not ask for 'fsync' follows the replicas' mode (their acks say it)
    const tc = track(client.dispatch({ add: 2 }));
    await run(cluster);
    expect(b!.state.n).toBe(3);
    expect(tc).toEqual({ done: false, failed: false });
    disks.thaw(dataDir(2)); // a second disk: a majority
    await run(cluster, () => t.done && tc.done);
    expect([t, tc]).toEqual([
      { done: true, failed: false },
      { done: true, failed: false },
    ]);
    disks.thaw(dataDir(3));
    await closeRunning(cluster, [a!, b!, c!, client]);
  });

  it("the default ('memory') acknowledges once a majority applied it, before any disk has it", async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 52 });
    const ms = await openThree(cluster, 'memory');
    for (const n of [1, 2, 3]) disks.freeze(dataDir(n));
    const t = track(ms[0]!.dispatch({ add: 1 }));
    await run(cluster, () => t.done);
    expect(t).toEqual({ done: true, failed: false });
    for (const n of [1, 2, 3]) disks.thaw(dataDir(n));
    await closeRunning(cluster, ms);
  });

  it('acknowledges while one replica of three has a frozen disk (group commit on the others)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 53 });
    const ms = await openThree(cluster, 'fsync');
    disks.freeze(dataDir(3));
    disks.writes.clear();
    const ts = Array.from({ length: 30 }, (_, i) => track(ms[i % 3]!.dispatch({ add: i + 1 })));
    await run(cluster, () => ts.every((t) => t.done));
    expect(ts.filter((t) => t.done)).toHaveLength(30);
    // one write per delivered batch, not one per command
    const writes = disks.writes.get(dataDir(1)) ?? 0;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(30);
    disks.thaw(dataDir(3));
    await closeRunning(cluster, ms);
  });

  for (const durability of ['fsync', 'memory'] as const) {
    it(`${durability}: after every node lost its power and restarted from its data directory, ${
      durability === 'fsync'
        ? 'every acknowledged write is there'
        : 'acknowledged writes can be lost'
    }`, async () => {
      const cluster = new MemoryCluster({ nodes: 3, seed: 54 });
      const ms = await openThree(cluster, durability);
      const acked: number[] = [];
      const send = (m: SM, add: number): void =>
        void m.dispatch({ add }).then(
          () => acked.push(add),
          () => undefined,
        );
      // a first batch, with node 3's disk frozen: a and b hold it on disk
      disks.freeze(dataDir(3));
      for (let i = 1; i <= 12; i++) send(ms[i % 3]!, i);
      await run(cluster, () => acked.length === 12);
      expect(acked).toHaveLength(12);
      // a second batch with every disk frozen: applied everywhere, on no disk
      disks.freeze(dataDir(1));
      disks.freeze(dataDir(2));
      for (let i = 13; i <= 24; i++) send(ms[i % 3]!, i);
      await run(
        cluster,
        () =>
          ms.every((m) => m.state.log.length === 24) &&
          (durability === 'fsync' || acked.length === 24),
      );
      await run(cluster); // a few more turns: an fsync write would have a chance to resolve
      expect(ms.map((m) => m.state.log.length)).toEqual([24, 24, 24]);
      if (durability === 'fsync') expect(acked).toHaveLength(12);
      else expect(acked).toHaveLength(24);
      disks.powerCut();
      for (const m of ms) cluster.crashProcess(m.self);
      await run(cluster);
      const again = await Promise.all([1, 2, 3].map((n) => open(cluster, n, durability)));
      await run(cluster, () => again.every((m) => m.status === 'ready'));
      expect(again.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
      const log = again[0]!.state.log;
      const lost = acked.filter((v) => !log.includes(v));
      if (durability === 'fsync') expect(lost).toEqual([]);
      else expect(lost.length).toBeGreaterThan(0);
      await closeRunning(cluster, again);
    });
  }

  // Jepsen seed 9102 of `--lose-writes` (test/jepsen README): `Q` shrank to one replica (the
  // others died one after the other, each `gone`), which acknowledged a write and died with
  // that write in flight. Its death is the death of a majority of `Q`.
  for (const durability of ['fsync', 'memory'] as const) {
    it(`${durability}: Q shrunk to one replica, killed with its write in flight: ${
      durability === 'fsync'
        ? 'nothing acknowledged is lost'
        : 'the write it acknowledged from memory is lost'
    }`, async () => {
      const cluster = new MemoryCluster({ nodes: 3, seed: 58 });
      const [a, b, c] = await openThree(cluster, durability);
      const acked: number[] = [];
      const send = (add: number): void =>
        void a!.dispatch({ add }).then(
          () => acked.push(add),
          () => undefined,
        );
      // b dies; a and c go on with Q = {a, c}, and a write acknowledged by both proves that c
      // holds it; then c dies (gone), and a goes on alone with Q = {a}
      cluster.crashProcess(b!.self);
      await run(cluster, () => a!.replicas.length === 2 && a!.status === 'ready');
      send(1);
      await run(cluster, () => acked.length === 1);
      cluster.crashProcess(c!.self);
      await run(cluster, () => a!.replicas.length === 1 && a!.status === 'ready');
      expect([a!.status, a!.replicas]).toEqual(['ready', [a!.replicaId]]);
      send(2);
      await run(cluster, () => acked.length === 2);
      expect(acked).toEqual([1, 2]);
      // a's disk holds 2 (in 'memory' its write may start up to `persistDelay` after the ack,
      // and a freeze from now on would hold it back too)
      let flushed = false;
      void a!.flush().then(() => (flushed = true));
      await run(cluster, () => flushed);
      expect(flushed).toBe(true);
      // a's next write never lands: a dies while it is in flight
      disks.freeze(dataDir(1));
      send(3);
      await run(cluster, () => a!.state.log.includes(3));
      await run(cluster); // a few more turns: an fsync write would have a chance to resolve
      expect(acked).toEqual(durability === 'fsync' ? [1, 2] : [1, 2, 3]);
      cluster.crashProcess(a!.self);
      disks.lose(dataDir(1));
      await run(cluster);
      const again = await Promise.all([1, 2, 3].map((n) => open(cluster, n, durability)));
      await run(cluster, () => again.every((m) => m.status === 'ready'));
      expect(again.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
      const log = again[0]!.state.log;
      expect(again.map((m) => m.state.log)).toEqual([log, log, log]);
      expect(log).toEqual([1, 2]);
      const lost = acked.filter((v) => !log.includes(v));
      expect(lost).toEqual(durability === 'fsync' ? [] : [3]);
      await closeRunning(cluster, again);
    });
  }

  it('a replica acks once per disk write (what it applied and what its disk holds), not also after each apply', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 54 });
    const acks = [0, 0, 0];
    const ms: SM[] = [];
    for (const n of [1, 2, 3]) {
      const g = cluster.member(n);
      const send = g.send.bind(g);
      g.send = (data, options) => {
        if (data[3] === Kind.ack) acks[n - 1]!++;
        return send(data, options);
      };
      ms.push(
        await ReplicatedStateMachine.open(g, counter, {
          checkInterval: 0,
          syncTimeout: 500,
          dataDir: dataDir(n),
          durability: 'fsync',
        }),
      );
    }
    await run(cluster, () => ms.every((m) => m.status === 'ready'));
    acks.fill(0);
    disks.writes.clear();
    for (let i = 0; i < 20; i++) {
      const t = track(ms[i % 3]!.dispatch({ add: 1 }));
      await run(cluster, () => t.done);
      expect(t).toEqual({ done: true, failed: false });
    }
    expect(ms.map((m) => m.state.n)).toEqual([20, 20, 20]);
    for (const n of [1, 2, 3]) {
      const writes = disks.writes.get(dataDir(n)) ?? 0;
      // one command at a time: about one write each (a replica that the majority did not wait
      // for may lag and, by group commit, take two in one write on a busy machine)
      expect(writes).toBeGreaterThanOrEqual(10);
      expect(acks[n - 1]).toBeLessThanOrEqual(writes + 1);
    }
    expect(ms.map((m) => m.committedIndex)).toEqual(ms.map((m) => m.index));
    await closeRunning(cluster, ms);
  });

  it('ReplicatedMap passes it on: a set resolves once two of three disks hold it', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 56 });
    const kvs: ReplicatedMap[] = [];
    for (const n of [1, 2, 3])
      kvs.push(
        await ReplicatedMap.open(cluster.member(n), {
          checkInterval: 0,
          dataDir: dataDir(n),
          durability: 'fsync',
        }),
      );
    await run(cluster, () => kvs.every((kv) => kv.machine.status === 'ready'));
    // every disk holds its replica's lineage before two freeze (see openThree)
    await Promise.all(kvs.map((kv) => kv.machine.flush()));
    disks.freeze(dataDir(1));
    disks.freeze(dataDir(3));
    const p = kvs[0]!.set('k', 1);
    const t = { done: false };
    void p.then(() => (t.done = true));
    await run(cluster, () => kvs.every((kv) => kv.get('k') === 1));
    await run(cluster);
    expect(t.done).toBe(false);
    disks.thaw(dataDir(3));
    await run(cluster, () => t.done);
    expect(t.done).toBe(true);
    disks.thaw(dataDir(1));
    await closeRunning(cluster, kvs);
  });

  it("refuses 'fsync' on a replica without a data directory, and with acknowledge: 'local'", async () => {
    const cluster = new MemoryCluster({ nodes: 1, seed: 55 });
    await expect(
      ReplicatedStateMachine.open(cluster.member(1), counter, { durability: 'fsync' }),
    ).rejects.toThrow(RangeError);
    await expect(
      ReplicatedStateMachine.open(cluster.member(1), counter, {
        durability: 'fsync',
        dataDir: dataDir(1),
        acknowledge: 'local',
      }),
    ).rejects.toThrow(RangeError);
  });
});

describe('DiskProgress', () => {
  it('counts a majority of Q on disk; a write begun before the state was replaced does not count', () => {
    const p = new DiskProgress();
    p.loaded(5n);
    expect(p.majorityIndex(['a', 'b', 'c'], 'a', true)).toBe(0n); // a alone
    expect(p.heardFrom('b', 4n)).toBe(true);
    expect(p.heardFrom('b', 3n)).toBe(false); // old news
    expect(p.majorityIndex(['a', 'b', 'c'], 'a', true)).toBe(4n);
    expect(p.majorityIndex(['a', 'b', 'c'], 'a', false)).toBe(0n); // a client has no disk
    const w = p.begin(9n);
    p.replaced(); // a snapshot replaced the state while the write ran
    expect(p.written(w)).toBe(false);
    expect(p.self).toBe(0n);
    expect(p.written(p.begin(7n))).toBe(true);
    expect(p.self).toBe(7n);
    expect(p.fsyncReplicas).toBe(false);
    expect(p.heardFrom('c', 2n, true)).toBe(true); // no higher, but news: c runs 'fsync'
    expect(p.fsyncReplicas).toBe(true);
    p.roundStarted();
    expect(p.majorityIndex(['a', 'b', 'c'], 'a', true)).toBe(0n);
    expect(p.fsyncReplicas).toBe(true); // for the member's lifetime
  });
});
