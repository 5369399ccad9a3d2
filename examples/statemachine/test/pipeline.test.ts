import { describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { replicateMachine } from '@cpgkit/statemachine/xstate';
import { CANARY_MS, pipeline } from '../src/pipeline.js';

describe('the deployment pipeline replicated on three nodes (virtual clock)', () => {
  it('every node reaches live together after the canary delay, driven by replicated time', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 5 });
    const announced: string[] = [];
    const actors = await Promise.all(
      [1, 2, 3].map(async (n) => {
        // the side effect: where it runs is recorded, to check it runs once, not once per node
        const machine = pipeline.provide({
          actions: {
            announce: (_, params: { text: string }) => announced.push(`node ${n}: ${params.text}`),
          },
        });
        return replicateMachine(machine, cluster.member(n), { groupName: 'pipeline-test' });
      }),
    );
    const settled = async <T>(p: Promise<T>): Promise<T> => {
      await cluster.runUntilIdle();
      return p;
    };
    await settled(Promise.all(actors.map((a) => a.ready())));
    const values = () => actors.map((a) => a.snapshot.value as string);

    await settled(actors[0]!.send({ type: 'DEPLOY', version: 'v2' }));
    await settled(actors[1]!.send({ type: 'BUILT' }));
    expect(values()).toEqual(['canary', 'canary', 'canary']);

    // just before the delay: nobody moved (no node uses its own clock to jump ahead)
    await cluster.advance(CANARY_MS - 100);
    expect(values()).toEqual(['canary', 'canary', 'canary']);

    await cluster.advance(1_000);
    expect(values()).toEqual(['live', 'live', 'live']);
    const contexts = actors.map((a) => a.snapshot.context);
    expect(contexts[0]).toEqual({
      version: 'v2',
      previous: null,
      history: ['deploy v2', 'canary v2', 'live v2'],
    });
    expect(contexts[1]).toEqual(contexts[0]);
    expect(contexts[2]).toEqual(contexts[0]);
    expect(new Set(actors.map((a) => a.machine.digest())).size).toBe(1);
    // side effects ran on one node (the executor), once each
    expect(announced).toHaveLength(2);
    expect(announced[0]).toMatch(/^node \d: v2 in canary$/);
    expect(announced[1]).toMatch(/^node \d: v2 is live$/);

    // a rollback during canary cancels the delayed transition everywhere
    await settled(actors[2]!.send({ type: 'DEPLOY', version: 'v3' }));
    await settled(actors[0]!.send({ type: 'BUILT' }));
    await cluster.advance(1_000);
    await settled(actors[1]!.send({ type: 'ROLLBACK' }));
    await cluster.advance(CANARY_MS * 2);
    expect(values()).toEqual(['rolledBack', 'rolledBack', 'rolledBack']);
    expect(actors.map((a) => a.snapshot.context.version)).toEqual(['v2', 'v2', 'v2']);
    expect(actors.every((a) => a.timers.length === 0)).toBe(true);

    await Promise.all(actors.map((a) => a.close()));
    cluster.destroy();
  });
});
