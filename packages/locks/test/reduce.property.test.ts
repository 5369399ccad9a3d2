/**
 * `reduceLocks` (the path copy the lock machine applies commands with) against `apply` under
 * immer (the reference), step by step on random schedules built to be nasty: leases that end at
 * the very instant of a release or a renew (time steps of 0 and 1, ttls of 1-3 ms), members
 * whose session ends while they hold or wait in the middle of a queue, partitions that heal
 * (the same incarnation back), re-entry (a request id asked again), foreign releases, kind and
 * permit mismatches, tries on blocked names, names every object inherits (`toString`), both
 * token schemes, with and without a failover delay, names freed (their entries deleted) and
 * taken again, restarts of both replicas from what their data directories hold.
 *
 * After every step: the same outcome (result, or error name and message), the same next state
 * as JSON with its key order (what snapshots carry) and the same digest, the state before left
 * untouched, the reduce's patches replaying to its state (what the journal relies on), the same
 * next deadline; and over the whole schedule, per name, every fencing token and every term
 * handed out is above every one before it (tokens never repeat).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { enablePatches, Immer, type Draft, type Patch } from 'immer';
import type { ApplyContext, Incarnation } from '@cpgkit/statemachine';
import { canonicalJson } from '../../statemachine/src/canonical.js';
import { locksMachine, type LocksMachineOptions } from '../src/machine.js';
import { referenceMachine } from './reference-machine.js';
import type { LocksCommand, LocksResult } from '../src/commands.js';
import { initialLocksState, type LockKind, type LocksState } from '../src/state.js';
import { runsFromEnv, seedFromEnv } from '../../../test/seeded.js';
import { lockList, lockNames, lockOf } from '../src/lock-table.js';

enablePatches();
const immer = new Immer({ autoFreeze: false });

const SLOTS = 3;
const LOCKS = ['a', 'b', 'toString', ''] as const;
const ELECTIONS = ['e', 'f', 'constructor'] as const;

type Step =
  | {
      s: 'acquire';
      slot: number;
      name: number;
      kind: LockKind;
      write: boolean;
      permits: number;
      wait: boolean;
      ttl: number | null;
      again: number | null;
    }
  | { s: 'release' | 'withdraw' | 'renew'; slot: number; pick: number; ttl: number }
  | { s: 'campaign'; slot: number; name: number; again: number | null }
  | { s: 'resign' | 'proclaim'; slot: number; pick: number }
  | { s: 'end' | 'cut' | 'heal'; slot: number }
  | { s: 'tick'; force: boolean }
  | { s: 'time'; by: number }
  | { s: 'restart' };

const slot = fc.nat(SLOTS - 1);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      s: fc.constant('acquire' as const),
      slot,
      name: fc.oneof({ weight: 12, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.nat(3) }),
      kind: fc.constantFrom<LockKind>('mutex', 'semaphore', 'rwlock'),
      write: fc.boolean(),
      permits: fc.integer({ min: 0, max: 3 }),
      wait: fc.boolean(),
      ttl: fc.option(fc.constantFrom(1, 2, 3, 5), { freq: 2 }),
      again: fc.option(fc.nat(40), { freq: 4 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      s: fc.constantFrom('release' as const, 'withdraw' as const, 'renew' as const),
      slot,
      pick: fc.nat(60),
      ttl: fc.constantFrom(1, 2, 4, 0),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      s: fc.constant('campaign' as const),
      slot,
      name: fc.oneof({ weight: 8, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.nat(2) }),
      again: fc.option(fc.nat(40), { freq: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      s: fc.constantFrom('resign' as const, 'proclaim' as const),
      slot,
      pick: fc.nat(60),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      s: fc.constantFrom('end' as const, 'cut' as const, 'heal' as const),
      slot,
    }),
  },
  { weight: 3, arbitrary: fc.record({ s: fc.constant('tick' as const), force: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ s: fc.constant('time' as const), by: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ s: fc.constant('restart' as const) }) },
);

type Outcome = { ok: true; result: LocksResult } | { ok: false; error: string };

/**
 * Two replicas: `ref` runs the reference (reference-machine.ts: commands under immer, ticks and
 * membership changes through every lock), `red` the machine (commands with reduce).
 */
class Pair {
  ref: LocksState = initialLocksState();
  red: LocksState = initialLocksState();
  /** What the reduce's patches rebuild from the first state (the journal's replay). */
  replayed: LocksState = initialLocksState();
  index = 0n;
  time = 1_000;
  readonly def;
  readonly refDef;
  constructor(readonly options: LocksMachineOptions) {
    this.def = locksMachine(options);
    this.refDef = referenceMachine(options);
  }

  private ctx(sender: Incarnation): ApplyContext {
    this.index += 1n;
    return { sender, commandId: `c${this.index}`, time: this.time, index: this.index, epoch: 1 };
  }

  command(sender: Incarnation, cmd: LocksCommand): Outcome {
    const ctx = this.ctx(sender);
    let a: Outcome;
    try {
      let result: LocksResult | undefined;
      this.ref = immer.produce(this.ref, (d: Draft<LocksState>) => {
        result = this.refDef.apply(d, cmd, ctx);
      });
      a = { ok: true, result: result! };
    } catch (e) {
      a = { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
    }
    const before = this.red;
    const json = JSON.stringify(before);
    const patches: Patch[] = [];
    let b: Outcome;
    try {
      // the definition's reduce: what the machine applies commands with (reduceLocks)
      const next = this.def.reduce!(this.red, cmd, ctx, patches);
      this.red = next.state;
      b = { ok: true, result: next.result };
    } catch (e) {
      b = { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
      patches.length = 0;
    }
    expect(JSON.stringify(before), 'reduce modified the state it was given').toBe(json);
    expect(b).toEqual(a);
    if (!b.ok || patches.length === 0) expect(this.red).toBe(before);
    this.replayed = immer.applyPatches(this.replayed, logged(patches));
    return b;
  }

  membership(members: readonly Incarnation[], left: readonly Incarnation[]): void {
    this.index += 1n;
    const change = { members, left, time: this.time, index: this.index, epoch: 1 };
    this.both(
      (d) => this.refDef.onMembership!(d, change),
      (d) => this.def.onMembership!(d, change),
    );
  }

  tick(): void {
    this.index += 1n;
    const ctx = { time: this.time, index: this.index, epoch: 1 };
    this.both(
      (d) => this.refDef.onTick!(d, ctx),
      (d) => this.def.onTick!(d, ctx),
    );
  }

  /**
   * A step that is not a command on both replicas: the reference's under immer, ours with its
   * patches (which must leave the state it was given as it was, and replay to the same state).
   */
  private both(ref: (d: Draft<LocksState>) => void, ours: (d: Draft<LocksState>) => void): void {
    this.ref = immer.produce(this.ref, ref);
    const before = JSON.stringify(this.red);
    const [next, patches] = immer.produceWithPatches(this.red, ours);
    expect(JSON.stringify(this.red)).toBe(before);
    this.red = next;
    this.replayed = immer.applyPatches(this.replayed, logged(patches));
  }

  /**
   * Both replicas agree, as snapshots, digests and deadlines. Key order too, but for the locks:
   * ours are a SortedRecord once a command changed them (names sorted), the reference's a
   * plain object (names in insertion order); their JSON holds the same members.
   */
  check(): void {
    const a = JSON.parse(JSON.stringify(this.ref)) as LocksState;
    const b = JSON.parse(JSON.stringify(this.red)) as LocksState;
    expect(b).toEqual(a);
    expect(JSON.stringify({ ...b, locks: null })).toBe(JSON.stringify({ ...a, locks: null }));
    for (const [name, e] of lockList(this.red.locks))
      expect(JSON.stringify(e)).toBe(JSON.stringify(lockOf(this.ref.locks, name)));
    expect(canonicalJson(this.red)).toBe(canonicalJson(this.ref));
    expect(canonicalJson(this.replayed)).toBe(canonicalJson(this.red));
    expect(this.def.nextDeadline!(this.red)).toBe(this.refDef.nextDeadline!(this.ref));
  }
}

/** Patches as the journal reads them back (JSON: a SortedRecord becomes the object it holds). */
function logged(patches: readonly Patch[]): Patch[] {
  return JSON.parse(JSON.stringify(patches)) as Patch[];
}

interface Req {
  id: string;
  name: string;
  slot: number;
  election: boolean;
}

function run(steps: Step[], options: LocksMachineOptions): void {
  const p = new Pair(options);
  const gen = new Array<number>(SLOTS).fill(0);
  const cut = new Set<number>();
  const member = (i: number): Incarnation => ({
    nodeid: i + 1,
    pid: 100 + i,
    incarnation: `m${i}g${gen[i]}`,
  });
  const present = () =>
    Array.from({ length: SLOTS }, (_, i) => i)
      .filter((i) => !cut.has(i))
      .map(member);
  const reqs: Req[] = [];
  // per name: the highest token (term) handed out so far, and the grants (terms) seen
  const top = new Map<string, bigint>();
  const seen = new Set<string>();
  const noteGrants = (): void => {
    for (const [name, e] of lockList(p.red.locks)) {
      for (const h of e.holders) {
        const key = `lock ${name} ${h.id} ${h.token}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const t = BigInt(h.token);
        const last = top.get(`lock ${name}`) ?? 0n;
        expect(t > last, `${name}: token ${h.token} not above ${last} (repeated)`).toBe(true);
        top.set(`lock ${name}`, t);
      }
      expect(BigInt(e.token) >= (top.get(`lock ${name}`) ?? 0n)).toBe(true);
    }
    for (const [name, e] of Object.entries(p.red.elections)) {
      if (e.leader === null) continue;
      const key = `election ${name} ${e.leader.id} ${e.term}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const t = BigInt(e.term);
      const last = top.get(`election ${name}`) ?? 0n;
      expect(t > last, `${name}: term ${e.term} not above ${last} (repeated)`).toBe(true);
      top.set(`election ${name}`, t);
    }
  };
  let n = 0;
  for (const st of steps) {
    switch (st.s) {
      case 'acquire': {
        const old = st.again === null ? undefined : reqs.filter((r) => !r.election)[st.again];
        const id = old?.id ?? `r${n++}`;
        const name = old?.name ?? LOCKS[st.name]!;
        if (old === undefined) reqs.push({ id, name, slot: st.slot, election: false });
        const mode =
          st.kind === 'rwlock'
            ? st.write
              ? 'exclusive'
              : 'shared'
            : st.kind === 'semaphore'
              ? st.write && st.permits === 0
                ? 'exclusive' // the wrong mode for a semaphore, now and then
                : 'shared'
              : 'exclusive';
        const cmd: LocksCommand = {
          type: 'acquire',
          id,
          name,
          kind: st.kind,
          mode,
          wait: st.wait,
          ttl: st.ttl,
          ...(st.kind === 'semaphore' ? { permits: st.permits } : {}),
        };
        p.command(member(old?.slot ?? st.slot), cmd);
        break;
      }
      case 'release':
      case 'withdraw':
      case 'renew': {
        const locks = reqs.filter((r) => !r.election);
        const r = locks[st.pick % Math.max(1, locks.length)];
        if (r === undefined) break;
        // mostly the owner; sometimes someone else (NotOwnerError)
        const sender = member(st.pick % 5 === 0 ? st.slot : r.slot);
        p.command(
          sender,
          st.s === 'renew'
            ? { type: 'renew', id: r.id, name: r.name, ttl: st.ttl }
            : { type: st.s, id: r.id, name: r.name },
        );
        break;
      }
      case 'campaign': {
        const old = st.again === null ? undefined : reqs.filter((r) => r.election)[st.again];
        const id = old?.id ?? `c${n++}`;
        const name = old?.name ?? ELECTIONS[st.name]!;
        if (old === undefined) reqs.push({ id, name, slot: st.slot, election: true });
        p.command(member(old?.slot ?? st.slot), { type: 'campaign', id, name, value: { n } });
        break;
      }
      case 'resign':
      case 'proclaim': {
        const els = reqs.filter((r) => r.election);
        const r = els[st.pick % Math.max(1, els.length)];
        if (r === undefined) break;
        const sender = member(st.pick % 7 === 0 ? st.slot : r.slot);
        p.command(
          sender,
          st.s === 'resign'
            ? { type: 'resign', id: r.id, name: r.name }
            : { type: 'proclaim', id: r.id, name: r.name, value: [n++] },
        );
        break;
      }
      case 'end': {
        // the session ends (process gone): a new incarnation takes the slot
        if (cut.has(st.slot)) break;
        const m = member(st.slot);
        gen[st.slot]! += 1;
        p.membership(present(), [m]);
        break;
      }
      case 'cut': {
        if (cut.has(st.slot)) break;
        const m = member(st.slot);
        cut.add(st.slot);
        p.membership(present(), [m]);
        break;
      }
      case 'heal':
        if (!cut.delete(st.slot)) break;
        p.membership(present(), []);
        break;
      case 'tick': {
        const due = p.def.nextDeadline!(p.red);
        if (st.force || (due !== undefined && due <= p.time)) p.tick();
        break;
      }
      case 'time':
        p.time += st.by;
        break;
      case 'restart':
        // every replica restarts from its data directory: the journal's replay, read back as
        // JSON (fresh objects: no remembered deadline, nothing shared with the state before)
        p.red = JSON.parse(JSON.stringify(p.replayed)) as LocksState;
        p.ref = JSON.parse(JSON.stringify(p.ref)) as LocksState;
        break;
    }
    p.check();
    noteGrants();
  }
}

const configs: [string, LocksMachineOptions][] = [
  ['counter tokens', { tokens: 'counter' }],
  ['clock tokens', { tokens: 'clock' }],
  ['counter tokens, failover delay 2 ms', { tokens: 'counter', failoverDelay: 2 }],
  ['clock tokens, failover delay 3 ms', { tokens: 'clock', failoverDelay: 3 }],
];

describe('reduceLocks against apply under immer (fast-check, fixed seed)', () => {
  for (const [label, options] of configs) {
    it(`gives the same outcomes, states, digests and deadlines, ${label}`, () => {
      fc.assert(
        // size 'max': lengths up to maxLength (fast-check's default keeps arrays at ~10 items)
        fc.property(fc.array(stepArb, { minLength: 1, maxLength: 150, size: 'max' }), (steps) =>
          run(steps, options),
        ),
        { seed: seedFromEnv(20261205), numRuns: runsFromEnv(100) },
      );
    }, 120_000);
  }

  it('copies only the lock a command changes, and shares every other lock', () => {
    const def = locksMachine({ tokens: 'counter' });
    const a: Incarnation = { nodeid: 1, pid: 1, incarnation: 'a' };
    const ctx = (index: number): ApplyContext => ({
      sender: a,
      commandId: `c${index}`,
      time: 5,
      index: BigInt(index),
      epoch: 1,
    });
    let s = initialLocksState();
    for (let i = 0; i < 50; i++) {
      const cmd: LocksCommand = {
        type: 'acquire',
        id: `r${i}`,
        name: `n${i}`,
        kind: 'mutex',
        mode: 'exclusive',
        wait: true,
      };
      s = def.reduce!(s, cmd, ctx(i), undefined).state;
    }
    const next = def.reduce!(s, { type: 'release', id: 'r7', name: 'n7' }, ctx(50), undefined);
    expect(next.result).toEqual({ released: 'held' });
    for (const [name, e] of lockList(next.state.locks))
      if (name === 'n7') expect(e).not.toBe(lockOf(s.locks, name));
      else expect(e).toBe(lockOf(s.locks, name));
    expect(next.state.elections).toBe(s.elections);
    expect(next.state.departed).toBe(s.departed);
    // a command that changes nothing returns the state it was given
    const again = def.reduce!(next.state, { type: 'release', id: 'r7', name: 'n7' }, ctx(51), []);
    expect(again.result).toEqual({ released: 'none' });
    expect(again.state).toBe(next.state);
  });

  it('a tick or a member leaving copies only the locks it changes', () => {
    const def = locksMachine({ tokens: 'counter' });
    const a: Incarnation = { nodeid: 1, pid: 1, incarnation: 'a' };
    const b: Incarnation = { nodeid: 2, pid: 2, incarnation: 'b' };
    let s = initialLocksState();
    for (let i = 0; i < 50; i++) {
      const cmd: LocksCommand = {
        type: 'acquire',
        id: `r${i}`,
        name: `n${i}`,
        kind: 'mutex',
        mode: 'exclusive',
        wait: true,
        ttl: i === 3 ? 10 : 100_000,
      };
      const ctx = { sender: i === 9 ? b : a, commandId: `c${i}`, time: 5, index: 1n, epoch: 1 };
      s = def.reduce!(s, cmd, ctx, undefined).state;
    }
    const ticked = immer.produce(s, (d: Draft<LocksState>) =>
      def.onTick!(d, { time: 20, index: 2n, epoch: 1 }),
    );
    // the expired lock is free: its entry goes (state format 2)
    expect(Object.hasOwn(ticked.locks, 'n3')).toBe(false);
    expect(lockNames(ticked.locks)).toHaveLength(49);
    for (const [name, e] of lockList(ticked.locks)) expect(e, name).toBe(lockOf(s.locks, name));
    const left = immer.produce(ticked, (d: Draft<LocksState>) =>
      def.onMembership!(d, { members: [a], left: [b], time: 21, index: 3n, epoch: 1 }),
    );
    expect(Object.hasOwn(left.locks, 'n9')).toBe(false);
    expect(lockNames(left.locks)).toHaveLength(48);
    for (const [name, e] of lockList(left.locks)) expect(e, name).toBe(lockOf(ticked.locks, name));
  });
});
