/**
 * The published surface of `Locks` and its handles holds nothing that only the package may
 * call (issue 16): the handles talk to their client through a private `LockClient`, so `Locks`
 * has no `request`, `releaseLock`, `renewLock`, `resign` or `proclaim`; a handle cannot be lost
 * or updated from outside; and nobody but `Locks` makes a handle (their constructors are
 * private). A lock made through the API still releases, renews and resigns through the group.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import * as internal from '../src/internal.js';
import { Leadership, Lock, Locks, locksMachine, ReadWriteLock, Semaphore } from '../src/index.js';

/** Every method and accessor name on `proto` and its prototypes up to `Object.prototype`. */
function names(proto: object): string[] {
  const out: string[] = [];
  for (let p: object | null = proto; p !== null && p !== Object.prototype;) {
    out.push(...Object.getOwnPropertyNames(p));
    p = Object.getPrototypeOf(p) as object | null;
  }
  return out;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('the surface of Locks', () => {
  it('Locks has no method meant only for its handles or views', () => {
    const own = names(Locks.prototype);
    for (const n of ['request', 'releaseLock', 'renewLock', 'resign', 'proclaim'])
      expect(own, n).not.toContain(n);
  });

  it('a handle has no method that loses or updates it from outside', () => {
    for (const n of ['lose', 'updateExpires', 'updateValue']) {
      expect(names(Lock.prototype), n).not.toContain(n);
      expect(names(Leadership.prototype), n).not.toContain(n);
    }
  });

  it('the internal entry does not hand out the client interface', () => {
    expect(Object.keys(internal).sort()).toEqual(['withHandle']);
  });

  it('handles and views are made only by Locks', () => {
    // types: the constructors are private (a `new` outside the package does not compile)
    expect(() => {
      // @ts-expect-error private constructor
      new Lock();
    }).toThrow();
    expect(() => {
      // @ts-expect-error private constructor
      new Leadership();
    }).toThrow();
    const views = (): void => {
      // @ts-expect-error private constructor
      void new Semaphore();
      // @ts-expect-error private constructor
      void new ReadWriteLock();
    };
    expect(views).toBeTypeOf('function'); // compiled only: `pnpm typecheck` checks the errors
  });

  it('a lock, a permit and a leadership made through the API still go back through the group', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 16 });
    closers.push(() => {
      cluster.destroy();
      return Promise.resolve();
    });
    const def = locksMachine();
    const machines = await Promise.all(
      cluster.nodeIds.map((n) => ReplicatedStateMachine.open(cluster.member(n), def)),
    );
    await cluster.runUntilIdle();
    const [a, b] = machines.map((m) => new Locks(m, { closeMachine: true })) as [Locks, Locks];
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const run = async <T>(p: Promise<T>): Promise<T> => {
      await cluster.runUntilIdle();
      return p;
    };

    const lock = await run(a.acquire('m', { ttl: 60_000 }));
    const first = lock.expires!;
    await run(cluster.advance(10));
    await run(lock.renew(60_000));
    expect(lock.expires!).toBeGreaterThan(first);
    expect(await run(b.tryAcquire('m'))).toBeNull();
    await run(lock.release());
    const again = await run(b.acquire('m'));
    expect(again.token).toBeGreaterThan(lock.token);
    expect(b.held).toEqual([again]);

    const permit = await run(a.semaphore('s', 1).acquire());
    expect(await run(b.semaphore('s', 1).tryAcquire())).toBeNull();
    await run(permit.release());
    expect(await run(b.semaphore('s', 1).tryAcquire())).not.toBeNull();

    const lead = await run(a.campaign('e', { value: 1 }));
    await run(lead.proclaim(2));
    expect(b.leader('e').value).toBe(2);
    await run(lead.resign());
    expect(b.leader('e').leader).toBeNull();
    expect(a.held).toEqual([]);
  });
});
