import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap, type StateChange } from '../src/index.js';
import { counter, openAll, type Counter, type CounterCmd } from './helpers.js';

type Change = StateChange<Counter, CounterCmd, number>;

/** The commands of the command changes, in order. */
const commands = (cs: Change[]): unknown[] =>
  cs.flatMap((c) => (c.kind === 'command' ? [c.command] : []));

describe('ReplicatedStateMachine.changes()', () => {
  it('yields applied commands in order, and ends on abort after what it buffered', async () => {
    const cluster = new MemoryCluster({ nodes: 2, seed: 11 });
    const [a, b] = await openAll(cluster, [1, 2], counter);
    const ctl = new AbortController();
    const it = b!.changes({ signal: ctl.signal });
    const r1 = a!.dispatch({ add: 1 });
    const r2 = a!.dispatch({ add: 2 });
    await cluster.runUntilIdle();
    await Promise.all([r1, r2]);
    ctl.abort();
    const got: Change[] = [];
    for await (const c of it) got.push(c);
    expect(commands(got)).toEqual([{ add: 1 }, { add: 2 }]);
    expect(got.at(-1)!.state.n).toBe(3);
    await a!.close();
    await b!.close();
  });

  it('ends when the machine closes; a break stops it', async () => {
    const cluster = new MemoryCluster({ nodes: 2, seed: 12 });
    const [a, b] = await openAll(cluster, [1, 2], counter);
    const open = b!.changes();
    const broken = b!.changes();
    const r = a!.dispatch({ add: 5 });
    await cluster.runUntilIdle();
    await r;
    for await (const c of broken) {
      expect(c.kind).toBe('command');
      break;
    }
    expect(await broken.next()).toEqual({ value: undefined, done: true });
    const r2 = a!.dispatch({ add: 1 });
    await cluster.runUntilIdle();
    await r2;
    const reading = (async () => {
      const got: Change[] = [];
      for await (const c of open) got.push(c);
      return got;
    })();
    await b!.close();
    expect(commands(await reading)).toEqual([{ add: 5 }, { add: 1 }]);
    expect(await b!.changes().next()).toEqual({ value: undefined, done: true });
    await a!.close();
  });
});

describe('watch() on a closed map', () => {
  it('ends at once instead of waiting forever', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 8 });
    const a = await ReplicatedMap.open(cluster.member(1), { checkInterval: 0 });
    await cluster.runUntilIdle();
    await a.close();
    const watch = a.watch('');
    const first = await Promise.race([
      watch.next(),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000)),
    ]);
    expect(first).toEqual({ done: true, value: undefined });
    cluster.destroy();
  });
});
