import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine, type MachineDefinition } from '../src/index.js';

const counter: MachineDefinition<{ n: number }, { add: number }, number> = {
  name: 'counter',
  initial: { n: 0 },
  apply(draft, cmd) {
    draft.n += cmd.add;
    return draft.n;
  },
};

describe('smoke', () => {
  it('replicates', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
    const logs: string[] = [];
    const ms = await Promise.all(
      [1, 2, 3].map((n) => ReplicatedStateMachine.open(cluster.transport(n), counter, { log: (l) => logs.push(`${n}: ${l}`) })),
    );
    await cluster.settle();
    console.log(logs.join('\n'), ms.map((m) => m.status));
    const p = ms[0]!.dispatch({ add: 2 });
    await cluster.settle();
    expect(await p).toBe(2);
    expect(ms.map((m) => m.state.n)).toEqual([2, 2, 2]);
  });
});
