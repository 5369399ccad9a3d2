/**
 * State format 2 (state-format.ts): a first-format state (no machine-wide counter, every entry
 * kept) is migrated on its first change, the same way by `reduceLocks` and by `apply` under
 * immer, and from an old data directory; free locks go, so a lock name per request leaks nothing.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enablePatches, Immer, type Draft, type Patch } from 'immer';
import { MemoryCluster } from '@cpgkit/core/testing';
import {
  ReplicatedStateMachine,
  type ApplyContext,
  type MachineDefinition,
} from '@cpgkit/statemachine';
import { locksMachine } from '../src/machine.js';
import type { LocksCommand, LocksResult } from '../src/commands.js';
import type { LocksState } from '../src/state.js';
import { migrateLocksState } from '../src/state-format.js';
import { Locks } from '../src/index.js';
import { inc } from './pure-log.js';
import { lockNames, lockOf } from '../src/lock-table.js';
import { canonicalJson } from '@cpgkit/statemachine';

enablePatches();
const immer = new Immer({ autoFreeze: false });

const A = inc(1, 100, 'inc-a');
const owner = { incarnation: 'inc-a', nodeid: 1, pid: 100 };

/** A state as the first format left it: free entries kept, no `issued`. */
function formatOne(): LocksState {
  const entry = (token: string, extra: object = {}) => ({
    kind: null,
    limit: 1,
    token,
    holders: [],
    waiters: [],
    blockedUntil: null,
    ...extra,
  });
  return {
    locks: {
      free: entry('7'),
      held: entry('5', {
        kind: 'mutex',
        holders: [
          { id: 'h', owner, mode: 'exclusive', token: '5', since: 1, ttl: null, expires: null },
        ],
      }),
      blocked: entry('3', { blockedUntil: 10_000 }),
      old: entry('2'),
    },
    elections: {
      gone: { term: '9', leader: null, candidates: [], blockedUntil: null },
      led: {
        term: '4',
        leader: { id: 'l', owner, value: 1, since: 1 },
        candidates: [],
        blockedUntil: null,
      },
    },
    departed: [],
  } as unknown as LocksState;
}

const ctx = (time: number, index = 1n): ApplyContext => ({
  sender: A,
  commandId: `c${index}`,
  time,
  index,
  epoch: 1,
});

const acquire = (id: string, name: string): LocksCommand => ({
  type: 'acquire',
  id,
  name,
  kind: 'mutex',
  mode: 'exclusive',
  wait: true,
});

describe('lock machine state format 2', () => {
  it('migrates a first-format state: counter at the largest token or term, free locks dropped', () => {
    const m = migrateLocksState(formatOne());
    expect(m.issued).toBe('9');
    expect(lockNames(m.locks)).toEqual(['held', 'blocked']);
    expect(Object.keys(m.elections)).toEqual(['gone', 'led']); // elections stay
    expect(Object.keys(m)).toEqual(['locks', 'elections', 'departed', 'issued']);
  });

  it('reduce and apply under immer migrate alike on the first command; tokens go on above', () => {
    const def = locksMachine({ tokens: 'counter' });
    const old = formatOne();
    const oldJson = JSON.stringify(old);
    const patches: Patch[] = [];
    const red = def.reduce!(old, acquire('r1', 'free'), ctx(5), patches);
    expect(JSON.stringify(old)).toBe(oldJson);
    // 'free' had token 7, but 9 was issued (election 'gone'): the next token is 10
    expect(red.result).toEqual({ status: 'granted', token: '10', expires: null });
    let result: LocksResult | undefined;
    const viaImmer = immer.produce(old, (d: Draft<LocksState>) => {
      result = def.apply(d, acquire('r1', 'free'), ctx(5));
    });
    expect(result).toEqual(red.result);
    // the same state (reduce's locks are a SortedRecord: same members, canonical JSON, digest)
    expect(canonicalJson(viaImmer)).toBe(canonicalJson(red.state));
    const logged = JSON.parse(JSON.stringify(patches)) as Patch[]; // as the journal has them
    expect(canonicalJson(immer.applyPatches(old, logged))).toBe(canonicalJson(red.state));
    expect(red.state.issued).toBe('10');
    expect(lockNames(red.state.locks)).toEqual(['blocked', 'free', 'held']); // sorted
    // a campaign on the deleted election gets a term above its old one
    const c = def.reduce!(
      red.state,
      { type: 'campaign', id: 'c', name: 'gone', value: null },
      ctx(6, 2n),
      undefined,
    );
    expect(c.result).toEqual({ status: 'leader', term: '11' });
  });

  it('a tick or a membership change migrates too', () => {
    const def = locksMachine({ tokens: 'counter' });
    const ticked = immer.produce(formatOne(), (d: Draft<LocksState>) =>
      def.onTick!(d, { time: 20_000, index: 1n, epoch: 1 }),
    );
    // the block ended: 'blocked' is free and goes as well
    expect(lockNames(ticked.locks)).toEqual(['held']);
    expect(ticked.issued).toBe('9');
    const left = immer.produce(formatOne(), (d: Draft<LocksState>) =>
      def.onMembership!(d, { members: [], left: [A], time: 1, index: 1n, epoch: 1 }),
    );
    expect(left.locks).toEqual({ blocked: lockOf(formatOne().locks, 'blocked') });
    expect(left.elections.led).toMatchObject({ term: '4', leader: null });
    expect(left.issued).toBe('9');
  });

  it('10,000 names acquired and released leave no entry; a command costs the same after', () => {
    const def = locksMachine({ tokens: 'counter' });
    let s = def.initial as () => LocksState;
    let state = s();
    for (let i = 0; i < 10_000; i++) {
      const name = `req/${i}`;
      state = def.reduce!(state, acquire(`a${i}`, name), ctx(i, BigInt(2 * i)), undefined).state;
      state = def.reduce!(
        state,
        { type: 'release', id: `a${i}`, name },
        ctx(i, BigInt(2 * i + 1)),
        undefined,
      ).state;
    }
    expect(JSON.parse(JSON.stringify(state))).toEqual({
      locks: {},
      elections: {},
      departed: [],
      issued: '10000',
    });
    s = () => state;
    expect(def.reduce!(s(), acquire('z', 'req/0'), ctx(20_000), undefined).result).toEqual({
      status: 'granted',
      token: '10001',
      expires: null,
    });
  });
});

describe('lock machine state format 2 on replicas', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpgkit-locks-format-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('restarts from a first-format data directory without reissuing a token', async () => {
    const cluster = new MemoryCluster({ nodes: 1, seed: 41 });
    // what a replica of the first format left in its data directory (same name, same files)
    const formatOneMachine: MachineDefinition<LocksState, { load: true }, null> = {
      name: 'cpgkit.locks',
      initial: () => ({ locks: {}, elections: {}, departed: [] }) as unknown as LocksState,
      apply(draft) {
        Object.assign(draft, formatOne());
        return null;
      },
    };
    const dataDir = join(dir, 'locks');
    const before = await ReplicatedStateMachine.open(cluster.member(1), formatOneMachine, {
      dataDir,
      checkInterval: 0,
    });
    await cluster.runUntilIdle();
    await before.ready();
    const loaded = before.dispatch({ load: true });
    await cluster.runUntilIdle();
    await loaded;
    await before.close();
    const files = await readdir(dataDir);
    const after = await ReplicatedStateMachine.open(
      cluster.member(1),
      locksMachine({ tokens: 'counter' }),
      { dataDir, checkInterval: 0 },
    );
    await cluster.runUntilIdle();
    await after.ready();
    expect(await readdir(dataDir)).toEqual(files);
    // the restored state was migrated by its first change (the join's membership step)
    expect(after.state.issued).toBe('9');
    expect(lockOf(after.state.locks, 'held')?.holders[0]?.token).toBe('5');
    const got = after.dispatch(acquire('r', 'old'));
    await cluster.runUntilIdle();
    expect(await got).toEqual({ status: 'granted', token: '10', expires: null });
    expect(after.state.issued).toBe('10');
    expect(lockNames(after.state.locks)).toEqual(['blocked', 'held', 'old']); // sorted
    expect(Object.keys(after.state.elections)).toEqual(['gone', 'led']);
    await after.close();
    // and the migrated state is what the next restart reads back
    const again = await ReplicatedStateMachine.open(
      cluster.member(1),
      locksMachine({ tokens: 'counter' }),
      { dataDir, checkInterval: 0 },
    );
    await cluster.runUntilIdle();
    await again.ready();
    expect(again.state.issued).toBe('10');
    await again.close();
    cluster.destroy();
  });

  it('a lock name per request through Locks leaves no entry behind', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 42 });
    const clients: Locks[] = [];
    for (const n of [1, 2, 3])
      clients.push(await Locks.open(cluster.member(n), { checkInterval: 0 }));
    await cluster.runUntilIdle();
    let last = 0n;
    for (let i = 0; i < 300; i++) {
      const p = clients[i % 3]!.acquire(`request/${i}`);
      await cluster.runUntilIdle();
      const lock = await p;
      expect(BigInt(lock.token) > last).toBe(true);
      last = BigInt(lock.token);
      const r = lock.release();
      await cluster.runUntilIdle();
      await r;
    }
    for (const c of clients) expect(lockNames(c.machine.state.locks)).toEqual([]);
    for (const c of clients) await c.close();
    cluster.destroy();
  });

  it('names freed and taken again across a partition and a restart of every replica from its data directory: tokens only go up', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 43 });
    const open = async (): Promise<Locks[]> => {
      const out: Locks[] = [];
      for (const n of [1, 2, 3])
        out.push(
          await Locks.open(cluster.member(n), {
            dataDir: join(dir, `n${n}`),
            checkInterval: 0,
            tokens: 'counter',
          }),
        );
      await cluster.runUntilIdle();
      return out;
    };
    const top = new Map<string, bigint>();
    const take = async (c: Locks, name: string): Promise<void> => {
      const p = c.acquire(name);
      await cluster.runUntilIdle();
      const lock = await p;
      const t = BigInt(lock.token);
      expect(t > (top.get(name) ?? 0n), `${name}: ${t} not above ${top.get(name)}`).toBe(true);
      top.set(name, t);
      const r = lock.release();
      await cluster.runUntilIdle();
      await r;
    };
    let clients = await open();
    for (let i = 0; i < 30; i++) await take(clients[i % 3]!, `req/${i % 4}`);
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle();
    for (let i = 0; i < 10; i++) await take(clients[1 + (i % 2)]!, `req/${i % 4}`);
    cluster.heal();
    await cluster.runUntilIdle();
    for (let i = 0; i < 6; i++) await take(clients[i % 3]!, `req/${i % 4}`);
    for (const c of clients) expect(lockNames(c.machine.state.locks)).toEqual([]);
    for (const c of clients) await c.close(); // a close writes what is not on disk yet
    // every replica restarts from what its data directory holds
    clients = await open();
    for (const c of clients) await c.machine.ready();
    for (let i = 0; i < 8; i++) await take(clients[i % 3]!, `req/${i % 4}`);
    for (const c of clients) await c.close();
    cluster.destroy();
  });
});
