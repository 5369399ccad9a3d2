import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { createMachine } from 'xstate';
import {
  CommandFailedError,
  CompareFailedError,
  NoQuorumError,
  type MapChange,
  ReplicatedMap,
  ValueTooLargeError,
} from '../src/index.js';
import { replicateMachine } from '../src/xstate.js';
import { counter, openAll } from './helpers.js';

describe('ReplicatedStateMachine', () => {
  it('a throwing apply rejects the sender, changes nothing, and the machine goes on', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 2 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    const bad = ms[1]!.dispatch({ fail: 'nope' }).catch((e: unknown) => e);
    await cluster.runUntilIdle();
    expect(await bad).toMatchObject({
      name: 'CommandFailedError',
      errorName: 'RangeError',
      message: 'nope',
    });
    expect(await bad).toBeInstanceOf(CommandFailedError);
    const ok = ms[2]!.dispatch({ add: 3 });
    await cluster.runUntilIdle();
    expect(await ok).toBe(3);
    expect(ms.map((m) => m.state.n)).toEqual([3, 3, 3]);
    expect(new Set(ms.map((m) => m.digest())).size).toBe(1);
  });

  it('counts and skips foreign bytes, and closes a round held up by a silent member', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 3 });
    const ms = await openAll(cluster, [1, 2], counter, { syncTimeout: 500 });
    const foreign = cluster.member(3);
    await foreign.join('counter');
    await foreign.send(new TextEncoder().encode('hello, I am not cpgkit'));
    await cluster.runUntilIdle();
    expect(ms[0]!.foreign).toBe(1);
    expect(ms[0]!.status).toBe('syncing'); // the silent member holds the round up...
    await cluster.advance(1000);
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready']); // ...until it is closed
    const p = ms[0]!.dispatch({ add: 1 });
    await cluster.runUntilIdle();
    expect(await p).toBe(1);
  });

  it('a minority refuses writes with NoQuorumError and keeps stale reads; the primary wins the merge', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 4 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle();
    expect(ms[0]!.status).toBe('minority');
    await expect(ms[0]!.dispatch({ add: 1 })).rejects.toThrow(/quorum/);
    await expect(ms[0]!.dispatch({ add: 1 })).rejects.toBeInstanceOf(NoQuorumError);
    const q = ms[1]!.dispatch({ add: 5 });
    await cluster.runUntilIdle();
    expect(await q).toBe(5);
    expect(ms[0]!.state.n).toBe(0);
    cluster.heal();
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.state.n)).toEqual([5, 5, 5]);
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
  });
});

describe('ReplicatedMap', () => {
  it('a compare on revision 0 holds exactly when the key is absent, like exists: false', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 6 });
    const a = await ReplicatedMap.open(cluster.member(1), { bootstrap: 'alone', checkInterval: 0 });
    await cluster.runUntilIdle();
    const both = async (): Promise<[boolean, boolean]> => {
      const results: boolean[] = [];
      for (const c of [
        { key: 'k', revision: 0 },
        { key: 'k', exists: false },
      ]) {
        const p = a.transaction([c], []).then(
          () => true,
          (e: unknown) => {
            if (e instanceof CompareFailedError) return false;
            throw e;
          },
        );
        await cluster.runUntilIdle();
        results.push(await p);
      }
      return [results[0]!, results[1]!];
    };
    expect(await both()).toEqual([true, true]); // never written
    const set = a.set('k', 1);
    await cluster.runUntilIdle();
    await set;
    expect(await both()).toEqual([false, false]);
    const del = a.delete('k');
    await cluster.runUntilIdle();
    await del;
    expect(await both()).toEqual([true, true]); // deleted: absent again
    await a.close();
    cluster.destroy();
  });

  it('set, get, list, compareAndSet, transaction, limits and watch', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const maps: ReplicatedMap[] = [];
    for (const n of [1, 2, 3])
      maps.push(
        await ReplicatedMap.open(cluster.member(n), {
          bootstrap: 'alone',
          checkInterval: 0,
          limits: { maxValueBytes: 100 },
        }),
      );
    await cluster.runUntilIdle();
    const [a, b, c] = maps as [ReplicatedMap, ReplicatedMap, ReplicatedMap];
    const w = c.watch('cfg/');
    const r1 = a.set('cfg/x', { v: 1 });
    await cluster.runUntilIdle();
    expect(await r1).toBe(1);
    expect(b.get('cfg/x')).toEqual({ v: 1 });
    expect(c.entry('cfg/x')).toMatchObject({ revision: 1, createRevision: 1, version: 1 });
    const cas = b.compareAndSet('cfg/x', 1, 2);
    await cluster.runUntilIdle();
    expect(await cas).toBe(2);
    const stale = c.compareAndSet('cfg/x', 1, 3).catch((e: unknown) => e);
    await cluster.runUntilIdle();
    expect(await stale).toBeInstanceOf(CompareFailedError);
    const txn = a.transaction(
      [{ key: 'cfg/x', value: 2 }],
      [
        { op: 'set', key: 'cfg/y', value: 'y' },
        { op: 'delete', key: 'cfg/x' },
      ],
    );
    await cluster.runUntilIdle();
    expect(await txn).toBe(3);
    expect(maps.map((m) => m.list('cfg/').map((i) => i.key))).toEqual([
      ['cfg/y'],
      ['cfg/y'],
      ['cfg/y'],
    ]);
    await expect(a.set('big', 'x'.repeat(200))).rejects.toBeInstanceOf(ValueTooLargeError);
    const seen: MapChange[] = [];
    for (let i = 0; i < 4; i++) seen.push((await w.next()).value as MapChange);
    expect(seen.map((e) => `${e.type} ${e.key} ${e.revision}`)).toEqual([
      'set cfg/x 1',
      'set cfg/x 2',
      'set cfg/y 3',
      'delete cfg/x 3',
    ]);
  });

  it('transfers a 100,000-key store to a joiner in chunks', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 8 });
    const a = await ReplicatedMap.open(cluster.member(1), { bootstrap: 'alone', checkInterval: 0 });
    await cluster.runUntilIdle();
    const ops = [];
    for (let i = 0; i < 100_000; i++) ops.push({ op: 'set' as const, key: `k/${i}`, value: i });
    for (let i = 0; i < ops.length; i += 5000) {
      const p = a.transaction([], ops.slice(i, i + 5000));
      await cluster.runUntilIdle();
      await p;
    }
    const logs: string[] = [];
    const b = await ReplicatedMap.open(cluster.member(2), {
      bootstrap: 'alone',
      checkInterval: 0,
      log: (l) => logs.push(l),
    });
    // `a` digests its store in slices before it sends its summary (see `sendSummary`): turns
    // of the event loop that `runUntilIdle` does not count as the cluster's work
    await b.machine.synced({ timeout: 50_000 });
    await cluster.runUntilIdle();
    expect(b.size).toBe(100_000);
    expect(b.get('k/99999')).toBe(99_999);
    expect(b.machine.digest()).toBe(a.machine.digest());
    const sent = logs.find((l) => /in \d+ chunks/.test(l));
    expect(sent).toBeUndefined(); // the leader logs sending, the joiner receives
    expect(a.machine.index).toBe(b.machine.index);
  }, 60_000);
});

describe('xstate adapter', () => {
  it('replicates events and fires `after` from replicated ticks', async () => {
    const light = createMachine({
      id: 'light',
      initial: 'green',
      states: {
        green: { on: { NEXT: 'yellow' } },
        yellow: { after: { 1000: 'red' } },
        red: { on: { NEXT: 'green' } },
      },
    });
    const cluster = new MemoryCluster({ nodes: 3, seed: 9 });
    const actors = [];
    for (const n of [1, 2, 3])
      actors.push(await replicateMachine(light, cluster.member(n), { checkInterval: 0 }));
    await cluster.runUntilIdle();
    const p = actors[1]!.send({ type: 'NEXT' });
    await cluster.runUntilIdle();
    await p;
    expect(actors.map((x) => x.snapshot.value)).toEqual(['yellow', 'yellow', 'yellow']);
    await cluster.advance(500);
    expect(actors[0]!.snapshot.value).toBe('yellow');
    await cluster.advance(600);
    expect(actors.map((x) => x.snapshot.value)).toEqual(['red', 'red', 'red']);
  });
});
