/**
 * A quorate round's end on a persisting replica: its ack of the new epoch waits for the disk
 * to hold the epoch, `Q` and `gone` (proof-gate.ts). That write starts at the round's finish,
 * in its turn (journal.ts starts an idle write at once, persistence.ts issues a small record's
 * write there), so it runs while the finish goes on; and the ack, finding that write on its
 * way, waits for it rather than queueing a second one.
 */
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '../src/index.js';
import { SnapshotStore, type LogRecord } from '../src/persistence.js';
import { counter, type Counter, type CounterCmd } from './helpers.js';

type SM = ReplicatedStateMachine<Counter, CounterCmd, number>;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-round-end-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** Run the cluster (virtual time) and let the real disk writes go on until `until()` holds. */
async function run(cluster: MemoryCluster, until: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 200 });
    if (until()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("a quorate round's end write", () => {
  it("starts at the round's finish, before the replica says ready, and is the only write its ack waits for", async () => {
    /** What happened, in order: a replica's status, and the log records its disk was given. */
    const events: { dir: string; what: string; record?: LogRecord }[] = [];
    const append = Object.getOwnPropertyDescriptor(SnapshotStore.prototype, 'append')!.value as (
      this: SnapshotStore,
      record: LogRecord,
    ) => Promise<void>;
    vi.spyOn(SnapshotStore.prototype, 'append').mockImplementation(function (
      this: SnapshotStore,
      record: LogRecord,
    ) {
      events.push({ dir: this.dir, what: 'append', record });
      return append.call(this, record);
    });
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const ms: SM[] = [];
    for (const n of [1, 2, 3]) {
      const dataDir = join(dir, `d${n}`);
      const m = await ReplicatedStateMachine.open(cluster.member(n), counter, {
        checkInterval: 0,
        syncTimeout: 500,
        dataDir,
      });
      m.on('status', (e) => events.push({ dir: dataDir, what: e.status }));
      ms.push(m);
    }
    const [a, b, c] = ms;
    await run(cluster, () => ms.every((m) => m.status === 'ready' && m.committedIndex === m.index));
    await a!.dispatch({ add: 1 });
    // c dies: a and b make a round of a new epoch with Q = {a, b}
    cluster.crashProcess(c!.self);
    const from = events.length;
    await run(
      cluster,
      () =>
        a!.replicas.length === 2 &&
        [a, b].every((m) => m!.status === 'ready' && m!.committedIndex === m!.index),
    );
    for (const m of [a!, b!]) {
      const mine = events.slice(from).filter((e) => e.dir === join(dir, `d${m === a ? 1 : 2}`));
      const ready = mine.findIndex((e) => e.what === 'ready');
      const epoch = Math.max(...mine.flatMap((e) => (e.record ? [e.record.epoch] : [])));
      const unproven = mine.filter((e) => e.record?.epoch === epoch && e.record.settled < epoch);
      // one write of the round's epoch before it is proven (the ack waited for it, no second)
      expect(unproven).toHaveLength(1);
      // it started before the round's finish said ready: the write overlapped the finish
      expect(mine.indexOf(unproven[0]!)).toBeLessThan(ready);
      expect(unproven[0]!.record!.replicas).toEqual([...m.replicas].sort());
    }
    await Promise.all([a!.close(), b!.close()]);
  });
});
