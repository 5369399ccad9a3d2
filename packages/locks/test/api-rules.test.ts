/**
 * The API rules of issue 17 ("an API without traps"): locks are not reentrant (a second request
 * through the same `Locks` is refused at once with `AlreadyHeldError`), a minority refuses
 * `acquire`/`campaign` at once with `NoQuorumError` like a map write, handles and leader info
 * serialize with `JSON.stringify` (tokens and terms as decimal strings), and a
 * `signal: AbortSignal.timeout(ms)` rejects with its `DOMException`, which `isTimeout` knows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedCluster, isNotApplied, isTimeout, TimeoutError } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { NoQuorumError, ReplicatedStateMachine } from '@cpgkit/statemachine';
import { AlreadyHeldError, Locks, locksMachine } from '../src/index.js';
import { lockOf } from '../src/lock-table.js';

/** Three members on a virtual-time cluster, ready. */
async function setup(seed: number) {
  const cluster = new MemoryCluster({ nodes: 3, seed });
  const def = locksMachine();
  const machines = await Promise.all(
    cluster.nodeIds.map((n) => ReplicatedStateMachine.open(cluster.member(n), def)),
  );
  await cluster.runUntilIdle();
  const locks = machines.map((m) => new Locks(m, { closeMachine: true }));
  return { cluster, locks };
}

describe('locks are not reentrant: AlreadyHeldError at once', () => {
  let cluster: MemoryCluster | undefined;
  afterEach(() => cluster?.destroy());

  it('acquire and tryAcquire of a mutex this Locks holds, or waits for, are refused at once; nothing is sent', async () => {
    const s = await setup(71);
    cluster = s.cluster;
    const [a, b] = s.locks;
    const held = await a!.acquire('m');
    const index = a!.machine.index;
    const again = a!.acquire('m', { timeout: 60_000 });
    // refused without any time passing or message delivered
    const err = await again.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AlreadyHeldError);
    expect(err).toMatchObject({
      code: 'CPGKIT_ALREADY_HELD',
      outcome: 'not-applied',
      lockName: 'm',
      state: 'held',
    });
    expect(isNotApplied(err)).toBe(true);
    expect((err as Error).message).toMatch(/not reentrant/);
    await expect(a!.tryAcquire('m')).rejects.toBeInstanceOf(AlreadyHeldError);
    expect(a!.machine.index).toBe(index); // nothing went through the group
    // b waits; a second request of b is refused as 'waiting'
    const pb = b!.acquire('m');
    await cluster.runUntilIdle();
    await expect(b!.acquire('m')).rejects.toMatchObject({ state: 'waiting' });
    expect(lockOf(s.locks[2]!.machine.state.locks, 'm')!.waiters).toHaveLength(1);
    // another name is not affected, and the name is free to ask again once released
    const other = await a!.acquire('n');
    await other.release();
    await held.release();
    await cluster.runUntilIdle();
    const got = await pb;
    await got.release();
    await cluster.runUntilIdle();
    const back = await a!.acquire('m');
    await back.release();
  });

  it('read-write locks refuse a second share of the same Locks; semaphores count permits, not holders', async () => {
    const s = await setup(72);
    cluster = s.cluster;
    const [a] = s.locks;
    const rw = a!.rwlock('rw');
    const r = await rw.read();
    await expect(rw.read()).rejects.toBeInstanceOf(AlreadyHeldError);
    await expect(rw.write()).rejects.toBeInstanceOf(AlreadyHeldError);
    await r.release();
    const sem = a!.semaphore('pool', 2);
    const p1 = await sem.acquire();
    const p2 = await sem.acquire();
    expect(p2.token).toBeGreaterThan(p1.token);
    expect(await sem.tryAcquire()).toBeNull();
    await p1.release();
    await p2.release();
  });

  it('campaign twice for the same name is refused, as leader and as candidate', async () => {
    const s = await setup(73);
    cluster = s.cluster;
    const [a, b] = s.locks;
    const lead = await a!.campaign('e');
    await expect(a!.campaign('e')).rejects.toMatchObject({
      name: 'AlreadyHeldError',
      state: 'held',
    });
    const pb = b!.campaign('e');
    await cluster.runUntilIdle();
    await expect(b!.campaign('e')).rejects.toMatchObject({ state: 'waiting' });
    // an election and a lock of the same name are different things
    const lock = await a!.acquire('e');
    await lock.release();
    await lead.resign();
    await cluster.runUntilIdle();
    await (await pb).resign();
  });
});

describe('a minority refuses acquire and campaign at once with NoQuorumError', () => {
  let cluster: MemoryCluster | undefined;
  afterEach(() => cluster?.destroy());

  it('acquire, tryAcquire, campaign and a semaphore permit fail at once in a minority; the majority goes on', async () => {
    const s = await setup(74);
    cluster = s.cluster;
    const [a, b] = s.locks;
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    expect(a!.machine.status).toBe('minority');
    for (const call of [
      () => a!.acquire('m'), // no timeout: it used to wait forever
      () => a!.tryAcquire('m'),
      () => a!.campaign('e'),
      () => a!.semaphore('s', 2).acquire(),
      () => a!.rwlock('rw').read(),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NoQuorumError);
      expect(err).toMatchObject({ code: 'CPGKIT_NO_QUORUM', outcome: 'not-applied' });
      expect((err as Error).message).toMatch(/nothing was sent/);
    }
    const l = await b!.acquire('m');
    await l.release();
  });

  it('a waiting acquire is given up with NoQuorumError when its member falls into a minority, and withdrawn after the heal', async () => {
    const s = await setup(75);
    cluster = s.cluster;
    const [a, b, c] = s.locks;
    const held = await b!.acquire('m');
    const pa = a!.acquire('m').then(
      () => undefined,
      (e: unknown) => e,
    );
    await cluster.runUntilIdle();
    expect(lockOf(c!.machine.state.locks, 'm')!.waiters).toHaveLength(1);
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    const err = await pa;
    expect(err).toBeInstanceOf(NoQuorumError);
    expect((err as Error).message).toMatch(/given up/);
    cluster.heal();
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    await held.release();
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    // a's request left no waiter and no holder behind
    expect(lockOf(c!.machine.state.locks, 'm')).toBeUndefined(); // free: the entry went
    // and a may ask again
    const again = await a!.acquire('m');
    await again.release();
  });
});

describe('JSON.stringify of handles: tokens and terms as decimal strings', () => {
  let cluster: MemoryCluster | undefined;
  afterEach(() => cluster?.destroy());

  it('Lock, Leadership and leader() serialize', async () => {
    const s = await setup(76);
    cluster = s.cluster;
    const [a, b] = s.locks;
    const lock = await a!.acquire('m', { ttl: 60_000 });
    const j = JSON.parse(JSON.stringify(lock)) as Record<string, unknown>;
    expect(j).toEqual({
      id: lock.id,
      name: 'm',
      kind: 'mutex',
      mode: 'exclusive',
      token: lock.token.toString(),
      expires: lock.expires,
      lost: false,
      released: false,
    });
    expect(BigInt(j.token as string)).toBe(lock.token);
    await lock.release();
    const lead = await a!.campaign('e', { value: { host: 'n1' } });
    expect(JSON.parse(JSON.stringify(lead))).toEqual({
      id: lead.id,
      name: 'e',
      term: lead.term.toString(),
      value: { host: 'n1' },
      lost: false,
      resigned: false,
    });
    await cluster.runUntilIdle();
    const info = b!.leader('e');
    expect(info.term).toBe(lead.term); // still a bigint on the object
    expect(JSON.parse(JSON.stringify(info))).toEqual({
      name: 'e',
      leader: info.leader,
      term: lead.term.toString(),
      value: { host: 'n1' },
      stale: false,
    });
    await lead.resign();
  });
});

describe('timeouts: the timeout option and AbortSignal.timeout', () => {
  let cluster: MemoryCluster | undefined;
  let locks: Locks[] = [];
  afterEach(async () => {
    for (const l of locks) await l.close();
    locks = [];
    cluster?.destroy();
  });

  it("`signal: AbortSignal.timeout(ms)` rejects with the signal's DOMException; isTimeout knows both kinds", async () => {
    cluster = embeddedCluster({ nodes: 2 });
    locks = await Promise.all(
      cluster.nodeIds.map((n) => Locks.open(cluster!.member(n), { groupName: 'api-timeout' })),
    );
    await Promise.all(locks.map((l) => l.machine.ready({ timeout: 10_000 })));
    const held = await locks[0]!.acquire('x', { timeout: 10_000 });
    const viaSignal = await locks[1]!.acquire('x', { signal: AbortSignal.timeout(100) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(viaSignal).toBeInstanceOf(DOMException);
    expect((viaSignal as DOMException).name).toBe('TimeoutError');
    expect(viaSignal).not.toBeInstanceOf(TimeoutError);
    expect(isTimeout(viaSignal)).toBe(true);
    expect(isNotApplied(viaSignal)).toBe(false); // not cpgkit's: outcome unknown
    const viaOption = await locks[1]!.acquire('x', { timeout: 100 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(viaOption).toBeInstanceOf(TimeoutError);
    expect(viaOption).toMatchObject({ code: 'CPGKIT_TIMEOUT' });
    expect(isTimeout(viaOption)).toBe(true);
    expect(isTimeout(new Error('x'))).toBe(false);
    await held.release();
    // the timed-out requests were withdrawn: the next acquire gets the lock
    const next = await locks[1]!.acquire('x', { timeout: 10_000 });
    await next.release();
  });
});
