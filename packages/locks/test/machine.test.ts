import { describe, it, expect } from 'vitest';
import { locksMachine, type LocksMachineOptions } from '../src/machine.js';
import type { AcquireResult, LocksCommand, LocksResult } from '../src/commands.js';
import type { LocksState } from '../src/state.js';
import { PureLog, inc } from './pure-log.js';
import { lockList, lockOf } from '../src/lock-table.js';
import { canonicalJson } from '@cpgkit/statemachine';

const A = inc(1, 100, 'inc-a');
const B = inc(2, 200, 'inc-b');
const C = inc(3, 300, 'inc-c');

function log(options: LocksMachineOptions = { tokens: 'counter' }) {
  return new PureLog<LocksState, LocksCommand, LocksResult>(locksMachine(options));
}
const mutex = (id: string, name = 'm', wait = true, ttl?: number): LocksCommand => ({
  type: 'acquire',
  id,
  name,
  kind: 'mutex',
  mode: 'exclusive',
  wait,
  ttl,
});
const holders = (l: PureLog<LocksState, LocksCommand, LocksResult>, name: string) =>
  lockOf(l.state.locks, name)?.holders.map((h) => h.id) ?? [];
const waiters = (l: PureLog<LocksState, LocksCommand, LocksResult>, name: string) =>
  lockOf(l.state.locks, name)?.waiters.map((h) => h.id) ?? [];

describe('lock machine: mutex', () => {
  it('grants the first request, queues the others FIFO, hands over on release with increasing tokens', () => {
    const l = log();
    expect(l.must(A, mutex('a1'))).toEqual({ status: 'granted', token: '1', expires: null });
    expect(l.must(B, mutex('b1'))).toEqual({ status: 'queued', position: 0 });
    expect(l.must(C, mutex('c1'))).toEqual({ status: 'queued', position: 1 });
    expect(l.must(A, { type: 'release', id: 'a1', name: 'm' })).toEqual({ released: 'held' });
    expect(holders(l, 'm')).toEqual(['b1']);
    expect(lockOf(l.state.locks, 'm')!.holders[0]!.token).toBe('2');
    l.must(B, { type: 'release', id: 'b1', name: 'm' });
    expect(holders(l, 'm')).toEqual(['c1']);
    expect(lockOf(l.state.locks, 'm')!.holders[0]!.token).toBe('3');
    l.must(C, { type: 'release', id: 'c1', name: 'm' });
    // a free name's entry goes; the machine-wide counter stays, so tokens never restart
    expect(lockOf(l.state.locks, 'm')).toBeUndefined();
    expect(l.state.issued).toBe('3');
    expect(l.must(A, mutex('a2'))).toMatchObject({ status: 'granted', token: '4' });
  });

  it('tryAcquire answers busy and leaves no waiter behind', () => {
    const l = log();
    l.must(A, mutex('a1'));
    expect(l.must(B, mutex('b1', 'm', false))).toEqual({ status: 'busy' });
    expect(waiters(l, 'm')).toEqual([]);
    // a try does not jump the queue either
    l.must(C, mutex('c1'));
    l.must(A, { type: 'release', id: 'a1', name: 'm' });
    expect(l.must(B, mutex('b2', 'm', false))).toEqual({ status: 'busy' });
    expect(holders(l, 'm')).toEqual(['c1']);
  });

  it('withdraw removes a waiter, and releases the lock if the grant won the race', () => {
    const l = log();
    l.must(A, mutex('a1'));
    l.must(B, mutex('b1'));
    expect(l.must(B, { type: 'withdraw', id: 'b1', name: 'm' })).toEqual({ released: 'waiting' });
    l.must(C, mutex('c1'));
    l.must(A, { type: 'release', id: 'a1', name: 'm' }); // c1 granted
    expect(l.must(C, { type: 'withdraw', id: 'c1', name: 'm' })).toEqual({ released: 'held' });
    expect(holders(l, 'm')).toEqual([]);
    expect(l.must(C, { type: 'withdraw', id: 'c1', name: 'm' })).toEqual({ released: 'none' });
  });

  it('repeating an acquire (same id) is idempotent', () => {
    const l = log();
    l.must(A, mutex('a1'));
    expect(l.must(A, mutex('a1'))).toEqual({ status: 'granted', token: '1', expires: null });
    l.must(B, mutex('b1'));
    expect(l.must(B, mutex('b1'))).toEqual({ status: 'queued', position: 0 });
    expect(waiters(l, 'm')).toEqual(['b1']);
  });

  it('refuses to release what another incarnation holds', () => {
    const l = log();
    l.must(A, mutex('a1'));
    const o = l.apply(B, { type: 'release', id: 'a1', name: 'm' });
    expect(o.ok).toBe(false);
    expect(!o.ok && o.error.name).toBe('NotOwnerError');
    expect(holders(l, 'm')).toEqual(['a1']);
  });

  it('releases what a member held when it leaves, in the same step, and grants the next waiter', () => {
    const l = log();
    l.must(A, mutex('a1'));
    l.must(B, mutex('b1'));
    l.must(A, mutex('a2', 'other'));
    l.must(A, mutex('a3')); // A also waits behind B
    l.membership([B, C], [A]);
    expect(holders(l, 'm')).toEqual(['b1']);
    expect(waiters(l, 'm')).toEqual([]);
    expect(holders(l, 'other')).toEqual([]);
    // a command still in flight from the departed incarnation is refused
    const late = l.apply(A, mutex('a4'));
    expect(!late.ok && late.error.name).toBe('OwnerGoneError');
  });

  it('rejects malformed requests', () => {
    const l = log();
    expect(l.apply(A, mutex('x', '')).ok).toBe(false);
    expect(l.apply(A, mutex('x', 'm', true, -5)).ok).toBe(false);
    expect(
      l.apply(A, { type: 'acquire', id: 'x', name: 'm', kind: 'mutex', mode: 'shared', wait: true })
        .ok,
    ).toBe(false);
    expect(l.apply(A, { type: 'nope' } as unknown as LocksCommand).ok).toBe(false);
    expect(lockOf(l.state.locks, 'm')).toBeUndefined();
  });
});

describe('lock machine: semaphores and read-write locks', () => {
  const sem = (id: string, permits = 2, wait = true): LocksCommand => ({
    type: 'acquire',
    id,
    name: 's',
    kind: 'semaphore',
    mode: 'shared',
    permits,
    wait,
  });
  const rw = (id: string, mode: 'shared' | 'exclusive', wait = true): LocksCommand => ({
    type: 'acquire',
    id,
    name: 'rw',
    kind: 'rwlock',
    mode,
    wait,
  });

  it('a semaphore grants up to its permits, then FIFO', () => {
    const l = log();
    expect(l.must(A, sem('a'))).toMatchObject({ status: 'granted', token: '1' });
    expect(l.must(B, sem('b'))).toMatchObject({ status: 'granted', token: '2' });
    expect(l.must(C, sem('c'))).toEqual({ status: 'queued', position: 0 });
    expect(l.must(C, sem('c2', 2, false))).toEqual({ status: 'busy' });
    l.must(A, { type: 'release', id: 'a', name: 's' });
    expect(holders(l, 's')).toEqual(['b', 'c']);
  });

  it('refuses a request of another kind while the name is in use, accepts it once idle', () => {
    const l = log();
    l.must(A, sem('a'));
    const o = l.apply(B, sem('b', 3));
    expect(!o.ok && o.error.name).toBe('LockKindMismatchError');
    const o2 = l.apply(B, mutex('b', 's'));
    expect(!o2.ok && o2.error.name).toBe('LockKindMismatchError');
    l.must(A, { type: 'release', id: 'a', name: 's' });
    expect(l.must(B, mutex('b', 's'))).toMatchObject({ status: 'granted', token: '2' });
  });

  it('many readers or one writer; a waiting writer blocks later readers (no writer starvation)', () => {
    const l = log();
    l.must(A, rw('r1', 'shared'));
    l.must(B, rw('r2', 'shared'));
    expect(l.must(C, rw('w1', 'exclusive'))).toEqual({ status: 'queued', position: 0 });
    expect(l.must(A, rw('r3', 'shared'))).toEqual({ status: 'queued', position: 1 });
    expect(l.must(B, rw('r4', 'shared', false))).toEqual({ status: 'busy' });
    l.must(A, { type: 'release', id: 'r1', name: 'rw' });
    expect(holders(l, 'rw')).toEqual(['r2']);
    l.must(B, { type: 'release', id: 'r2', name: 'rw' });
    expect(holders(l, 'rw')).toEqual(['w1']);
    l.must(C, { type: 'release', id: 'w1', name: 'rw' });
    expect(holders(l, 'rw')).toEqual(['r3']);
  });

  it('a writer that withdraws lets the readers behind it in', () => {
    const l = log();
    l.must(A, rw('r1', 'shared'));
    l.must(C, rw('w1', 'exclusive'));
    l.must(B, rw('r2', 'shared'));
    l.must(C, { type: 'withdraw', id: 'w1', name: 'rw' });
    expect(holders(l, 'rw')).toEqual(['r1', 'r2']);
  });
});

describe('lock machine: leases, replicated time and failover delay', () => {
  it('expires a lease on the agreed tick, not before, and asks for that tick', () => {
    const l = log();
    l.at(1000);
    expect(l.must(A, mutex('a', 'm', true, 500))).toMatchObject({
      status: 'granted',
      expires: 1500,
    });
    l.must(B, mutex('b'));
    expect(l.def.nextDeadline!(l.state)).toBe(1500);
    l.tick(1499);
    expect(holders(l, 'm')).toEqual(['a']);
    l.tick(1500);
    expect(holders(l, 'm')).toEqual(['b']);
    expect(l.def.nextDeadline!(l.state)).toBeUndefined();
  });

  it('renew extends a lease from the renewal time', () => {
    const l = log();
    l.at(0);
    l.must(A, mutex('a', 'm', true, 100));
    l.at(90);
    expect(l.must(A, { type: 'renew', id: 'a', name: 'm', ttl: 100 })).toEqual({ expires: 190 });
    l.tick(150);
    expect(holders(l, 'm')).toEqual(['a']);
    const bad = l.apply(B, { type: 'renew', id: 'zz', name: 'm', ttl: 100 });
    expect(!bad.ok && bad.error.name).toBe('NotHolderError');
  });

  it('failoverDelay holds back the next grant after an involuntary loss, not after a release', () => {
    const l = log({ tokens: 'counter', failoverDelay: 2000 });
    l.at(10_000);
    l.must(A, mutex('a'));
    l.must(B, mutex('b'));
    l.membership([B], [A]);
    expect(holders(l, 'm')).toEqual([]);
    expect(l.def.nextDeadline!(l.state)).toBe(12_000);
    // a try during the delay is busy; a waiting request queues behind b
    expect(l.must(C, mutex('c0', 'm', false))).toEqual({ status: 'busy' });
    l.tick(11_999);
    expect(holders(l, 'm')).toEqual([]);
    l.tick(12_000);
    expect(holders(l, 'm')).toEqual(['b']);
    l.must(C, mutex('c'));
    l.must(B, { type: 'release', id: 'b', name: 'm' });
    expect(holders(l, 'm')).toEqual(['c']); // voluntary: at once
  });

  it('clock tokens stay above every earlier token even after the counter restarts from zero', () => {
    const before = log({ tokens: 'clock' });
    before.at(1_700_000_000_000);
    before.must(A, mutex('a'));
    before.must(B, mutex('b'));
    before.must(A, { type: 'release', id: 'a', name: 'm' });
    const last = BigInt(lockOf(before.state.locks, 'm')!.token);
    // full restart without persistence: a fresh state, a later clock
    const after = log({ tokens: 'clock' });
    after.at(1_700_000_000_001);
    const r = after.must(C, mutex('c')) as Extract<AcquireResult, { status: 'granted' }>;
    expect(BigInt(r.token)).toBeGreaterThan(last);
  });
});

describe('lock machine: elections', () => {
  const camp = (id: string, value: unknown = id, name = 'e'): LocksCommand => ({
    type: 'campaign',
    id,
    name,
    value: value as null,
  });
  it('elects the first candidate, then the next in line when the leader resigns or leaves; terms increase', () => {
    const l = log();
    expect(l.must(A, camp('a'))).toEqual({ status: 'leader', term: '1' });
    expect(l.must(B, camp('b'))).toEqual({ status: 'candidate', position: 0 });
    expect(l.must(C, camp('c'))).toEqual({ status: 'candidate', position: 1 });
    expect(l.must(A, { type: 'proclaim', id: 'a', name: 'e', value: 'new' })).toEqual({
      term: '1',
    });
    expect(l.state.elections.e!.leader!.value).toBe('new');
    expect(l.must(A, { type: 'resign', id: 'a', name: 'e' })).toEqual({ resigned: 'leader' });
    expect(l.state.elections.e).toMatchObject({ term: '2', leader: { id: 'b' } });
    l.membership([A, C], [B]);
    expect(l.state.elections.e).toMatchObject({ term: '3', leader: { id: 'c' } });
    const p = l.apply(B, { type: 'proclaim', id: 'b', name: 'e', value: 1 });
    expect(!p.ok && p.error.name).toBe('NotHolderError');
    l.must(C, { type: 'resign', id: 'c', name: 'e' });
    // an election's entry stays (its last term is what leader() reports); terms go on from issued
    expect(l.state.elections.e).toMatchObject({ term: '3', leader: null });
    expect(l.must(A, camp('a2'))).toEqual({ status: 'leader', term: '4' });
  });
});

describe('lock machine: snapshots', () => {
  it('the state is plain JSON', () => {
    const l = log({ tokens: 'clock', failoverDelay: 10 });
    l.at(5);
    l.must(A, mutex('a', 'm', true, 100));
    l.must(B, mutex('b'));
    l.must(C, { type: 'campaign', id: 'c', name: 'e', value: { addr: '10.0.0.1' } });
    // JSON keeps everything (locks are a SortedRecord: its JSON is the object it holds)
    expect(canonicalJson(JSON.parse(JSON.stringify(l.state)))).toBe(canonicalJson(l.state));
    expect(JSON.parse(JSON.stringify(l.state))).toEqual({
      ...l.state,
      locks: Object.fromEntries(lockList(l.state.locks)),
    });
  });
});

describe('lock machine: a member cut off and merged back', () => {
  it('loses what it held, and may ask again once listed as a member again', () => {
    const l = log();
    l.must(A, mutex('a1'));
    l.membership([B, C], [A]);
    expect(holders(l, 'm')).toEqual([]);
    expect(l.apply(A, mutex('a2')).ok).toBe(false);
    l.membership([A, B, C], []);
    expect(l.must(A, mutex('a3'))).toMatchObject({ status: 'granted', token: '2' });
  });
});

describe('lock machine: names', () => {
  it('refuses names that every object inherits (toString, __proto__...), as before without a TypeError', () => {
    for (const via of ['runtime', 'immer'] as const) {
      const l = new PureLog<LocksState, LocksCommand, LocksResult>(locksMachine(), via);
      const before = l.state;
      for (const name of ['toString', '__proto__', 'constructor']) {
        for (const cmd of [
          mutex('x', name),
          { type: 'release', id: 'x', name },
          { type: 'renew', id: 'x', name, ttl: 10 },
          { type: 'campaign', id: 'c', name, value: null },
          { type: 'resign', id: 'c', name },
          { type: 'proclaim', id: 'c', name, value: 1 },
        ] as LocksCommand[]) {
          const o = l.apply(A, cmd);
          expect(!o.ok && o.error.name, `${via} ${cmd.type} '${name}'`).toBe(
            'InvalidLockRequestError',
          );
        }
      }
      expect(l.state).toBe(before);
      expect(l.must(A, mutex('y', 'valueOf2'))).toMatchObject({ status: 'granted' });
    }
  });
});
