/**
 * `MachineDefinition.format`: replicas of two state formats of one machine share the group but
 * ignore each other's messages (foreign), so the two formats never mix in one state.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '../src/index.js';
import { wireNameOf } from '../src/machine-name.js';
import { counter, openAll } from './helpers.js';

describe('machine format', () => {
  it('names frames name@format, and plain name without a format', () => {
    expect(wireNameOf({ name: 'counter' })).toBe('counter');
    expect(wireNameOf({ name: 'counter', format: 2 })).toBe('counter@2');
  });

  it('replicas of another format are silent members: never applied, never applying', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 31 });
    const v2 = { ...counter, format: 2 };
    const ms = await openAll(cluster, [1, 2], v2, { syncTimeout: 500 });
    const old = await ReplicatedStateMachine.open(cluster.member(3), counter, {
      checkInterval: 0,
      syncTimeout: 500,
    });
    await cluster.runUntilIdle();
    await cluster.advance(1000);
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready']);
    expect(old.status).not.toBe('ready');
    const p = ms[0]!.dispatch({ add: 2 });
    await cluster.runUntilIdle();
    expect(await p).toBe(2);
    const refused = old.dispatch({ add: 5 }, { timeout: 1000 }).catch((e: unknown) => e);
    await cluster.advance(2000);
    expect(await refused).toBeInstanceOf(Error);
    expect(ms.map((m) => m.state.n)).toEqual([2, 2]);
    expect(old.state.n).toBe(0);
    expect(ms[0]!.foreign).toBeGreaterThan(0);
    expect(old.foreign).toBeGreaterThan(0);
    for (const m of [...ms, old]) await m.close();
  });
});
