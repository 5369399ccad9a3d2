/**
 * What `ReplicatedMap` hands out: no local read before the replica's first sync (a typed
 * `NotReadyError`, not a silent `undefined`), values frozen so that modifying one cannot change
 * this replica's state and not the others', and `MachineClosedError` saying "not applied" when
 * nothing was sent.
 */
import { describe, expect, it } from 'vitest';
import { isNotApplied } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { MachineClosedError, NotReadyError, ReplicatedMap, type MapChange } from '../src/index.js';

async function openMaps(cluster: MemoryCluster, nodes: number[]): Promise<ReplicatedMap[]> {
  const maps: ReplicatedMap[] = [];
  for (const n of nodes)
    maps.push(
      await ReplicatedMap.open(cluster.member(n), { bootstrap: 'alone', checkInterval: 0 }),
    );
  await cluster.runUntilIdle();
  for (const m of maps) await m.ready();
  return maps;
}

describe('ReplicatedMap reads before the first sync', () => {
  it('throw NotReadyError (code, not applied) until the replica synced; then answer, stale ones too in a minority', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 5 });
    const [a] = (await openMaps(cluster, [1, 2])) as [ReplicatedMap];
    const w = a.set('k', 'v');
    await cluster.runUntilIdle();
    await w;
    // a new replica joins: until its first sync round ends it holds nothing to read
    const c = await ReplicatedMap.open(cluster.member(3), { bootstrap: 'alone', checkInterval: 0 });
    expect(c.status).toBe('syncing');
    expect(c.readable).toBe(false);
    let err: unknown;
    try {
      c.get('k');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotReadyError);
    expect(err).toMatchObject({ name: 'NotReadyError', code: 'CPGKIT_NOT_READY' });
    expect(isNotApplied(err)).toBe(true);
    expect(() => c.list()).toThrow(NotReadyError);
    expect(() => c.entry('k')).toThrow(NotReadyError);
    expect(() => c.has('k')).toThrow(NotReadyError);
    expect(c.revision).toBe(0); // metadata answers: nothing applied yet
    // a read with options waits for the first sync instead
    const stale = c.get('k', { consistency: 'stale' });
    await cluster.runUntilIdle();
    expect(await stale).toBe('v');
    await c.ready();
    expect(c.readable).toBe(true);
    expect(c.get('k')).toBe('v');
    // once synced, a replica cut off into a minority still answers (stale), as documented
    cluster.partition([3], [1, 2]);
    await cluster.runUntilIdle();
    expect(c.status).toBe('minority');
    expect(c.get('k')).toBe('v');
    cluster.heal();
    await cluster.runUntilIdle();
    cluster.destroy();
  });

  it('a replica closed before it synced says so with NotReadyError', async () => {
    const cluster = new MemoryCluster({ nodes: 1, seed: 3 });
    const m = await ReplicatedMap.open(cluster.member(1), { bootstrap: 'alone', checkInterval: 0 });
    await m.close();
    expect(() => m.get('k')).toThrow(/closed before it synced/);
    cluster.destroy();
  });
});

describe('ReplicatedMap values are frozen', () => {
  it('modifying a value, an entry or a listed item throws (strict mode) and no replica changes', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 9 });
    const maps = await openMaps(cluster, [1, 2, 3]);
    const [a, b] = maps as [ReplicatedMap, ReplicatedMap];
    const changes: MapChange[] = [];
    const watching = (async () => {
      for await (const ch of b.watch('cfg/')) {
        changes.push(ch);
        break;
      }
    })();
    const w = a.set('cfg/x', { hosts: ['h1', { port: 1 }], on: true });
    await cluster.runUntilIdle();
    await w;
    await watching;
    const read = a.get('cfg/x', { consistency: 'linearizable' });
    await cluster.runUntilIdle();
    expect(Object.isFrozen(await read)).toBe(true);
    expect(Object.isFrozen(changes[0]!.value)).toBe(true);
    const before = maps.map((m) => m.machine.digest());
    const v = a.get('cfg/x') as { hosts: [string, { port: number }]; on: boolean };
    expect(Object.isFrozen(v)).toBe(true);
    expect(() => {
      v.on = false;
    }).toThrow(TypeError);
    expect(() => v.hosts.push('h2')).toThrow(TypeError);
    expect(() => {
      v.hosts[1].port = 2;
    }).toThrow(TypeError);
    const entry = a.entry('cfg/x')!;
    expect(() => {
      (entry as { revision: number }).revision = 99;
    }).toThrow(TypeError);
    const [item] = a.list('cfg/');
    expect(() => {
      (item!.value as { on: boolean }).on = false;
    }).toThrow(TypeError);
    expect(() => {
      (item as { key: string }).key = 'other';
    }).toThrow(TypeError);
    await cluster.runUntilIdle();
    // nothing changed anywhere: same value on every replica, same digests
    for (const m of maps) expect(m.get('cfg/x')).toEqual({ hosts: ['h1', { port: 1 }], on: true });
    expect(maps.map((m) => m.machine.digest())).toEqual(before);
    expect(new Set(before).size).toBe(1);
    cluster.destroy();
  });
});

describe('MachineClosedError before anything was sent', () => {
  it('a write, ready() and a write waiting for the first sync say not applied (isNotApplied)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 15 });
    const [a] = (await openMaps(cluster, [1, 2])) as [ReplicatedMap];
    // waiting for its first sync, then closed: nothing was sent
    const c = await ReplicatedMap.open(cluster.member(3), { bootstrap: 'alone', checkInterval: 0 });
    const early = c.set('k', 1).catch((e: unknown) => e);
    await c.close();
    const e1 = await early;
    expect(e1).toBeInstanceOf(MachineClosedError);
    expect(isNotApplied(e1)).toBe(true);
    await a.close();
    const e2 = await a.set('k', 2).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(MachineClosedError);
    expect((e2 as MachineClosedError).outcome).toBe('not-applied');
    const e3 = await a.ready().catch((e: unknown) => e);
    expect(isNotApplied(e3)).toBe(true);
    cluster.destroy();
  });
});
