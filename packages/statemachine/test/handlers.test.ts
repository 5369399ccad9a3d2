/**
 * cpgkit's one policy for user callbacks (issue 16): a subscriber, an event handler or an
 * xstate action that throws does not stop the others nor the machine, and its error is not
 * hidden: it is rethrown on a later microtask, as an uncaught exception (`callHandlers` and
 * `rethrowLater` in @cpgkit/core). The group's own handlers (`EventHub`) follow the same rule.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { callHandlers } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { createMachine } from 'xstate';
import { replicateMachine } from '../src/xstate.js';
import { counter, openAll } from './helpers.js';

/**
 * Catch the errors rethrown on a microtask that are `mine`; every other microtask runs as
 * before. Returns the errors caught so far.
 */
function catchRethrown(mine: (e: unknown) => boolean): unknown[] {
  const caught: unknown[] = [];
  const real = globalThis.queueMicrotask.bind(globalThis);
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((cb) =>
    real(() => {
      try {
        cb();
      } catch (e) {
        if (!mine(e)) throw e;
        caught.push(e);
      }
    }),
  );
  return caught;
}

class Boom extends Error {
  override name = 'Boom';
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a throwing user callback', () => {
  it('callHandlers calls every handler in order and rethrows each error later', async () => {
    const caught = catchRethrown((e) => e instanceof Boom);
    const calls: string[] = [];
    const boom = new Boom('first');
    callHandlers(
      [
        (x: number) => {
          calls.push(`a${x}`);
          throw boom;
        },
        (x: number) => void calls.push(`b${x}`),
      ],
      1,
    );
    expect(calls).toEqual(['a1', 'b1']);
    expect(caught).toEqual([]); // not thrown at the caller, not yet
    await Promise.resolve();
    expect(caught).toEqual([boom]);
  });

  it('a subscriber and a status handler that throw: the others still run, the machine goes on, the errors surface', async () => {
    const caught = catchRethrown((e) => e instanceof Boom);
    const cluster = new MemoryCluster({ nodes: 3, seed: 16 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    await cluster.runUntilIdle();
    const seen: number[] = [];
    ms[0]!.subscribe(() => {
      throw new Boom('subscriber');
    });
    ms[0]!.subscribe((c) => void seen.push(c.state.n));
    ms[0]!.on('commit', () => {
      throw new Boom('handler');
    });
    const done = ms[0]!.dispatch({ add: 2 });
    await cluster.runUntilIdle();
    expect(await done).toBe(2);
    expect(seen).toContain(2);
    expect(ms.map((m) => m.state.n)).toEqual([2, 2, 2]);
    const messages = caught.map((e) => (e as Error).message);
    expect(messages).toContain('subscriber');
    expect(messages).toContain('handler');
    const more = ms[1]!.dispatch({ add: 1 });
    await cluster.runUntilIdle();
    expect(await more).toBe(3);
  });

  it('an xstate action that throws changes nothing replicated, and its error surfaces', async () => {
    const caught = catchRethrown((e) => e instanceof Boom);
    const cluster = new MemoryCluster({ nodes: 3, seed: 17 });
    const logic = createMachine({
      id: 'toggle',
      initial: 'off',
      states: {
        off: {
          on: {
            FLIP: {
              target: 'on',
              actions: () => {
                throw new Boom('action');
              },
            },
          },
        },
        on: { on: { FLIP: 'off' } },
      },
    });
    const actors = await Promise.all(
      cluster.nodeIds.map((n) => replicateMachine(logic, cluster.member(n), { execute: 'all' })),
    );
    await cluster.runUntilIdle();
    const sent = actors[0]!.send({ type: 'FLIP' });
    await cluster.runUntilIdle();
    await sent;
    expect(actors.map((a) => a.snapshot.value)).toEqual(['on', 'on', 'on']);
    expect(caught.map((e) => (e as Error).message)).toEqual(['action', 'action', 'action']);
    for (const a of actors) await a.close();
  });
});
