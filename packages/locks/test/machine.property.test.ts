/**
 * Random sequences of acquire / release / withdraw / renew / campaign / resign / member leave /
 * tick against the pure lock machine, with the safety properties checked after every step.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Incarnation } from '@cpgkit/statemachine';
import { locksMachine, canGrant, type LocksMachineOptions } from '../src/machine.js';
import type { LocksCommand, LocksResult } from '../src/commands.js';
import type { LockEntry, LocksState } from '../src/state.js';
import { PureLog } from './pure-log.js';
import { runsFromEnv, seedFromEnv } from '../../../test/seeded.js';
import { lockList, lockOf } from '../src/lock-table.js';
import { canonicalJson } from '@cpgkit/statemachine';

const SLOTS = 4;
const LOCK_NAMES = ['mx', 'sem', 'rw'] as const;
const ELECTIONS = ['e1', 'e2'] as const;

type Op =
  | {
      op: 'acquire';
      slot: number;
      name: number;
      write: boolean;
      wait: boolean;
      ttl: number | null;
      odd: boolean;
    }
  | { op: 'release' | 'withdraw' | 'renew'; slot: number; pick: number; foreign: boolean }
  | { op: 'campaign'; slot: number; name: number }
  | { op: 'resign' | 'proclaim'; slot: number; pick: number }
  | { op: 'leave'; slot: number; merge: boolean }
  | { op: 'tick'; by: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('acquire' as const),
      slot: fc.nat(SLOTS - 1),
      name: fc.nat(2),
      write: fc.boolean(),
      wait: fc.boolean(),
      ttl: fc.option(fc.integer({ min: 1, max: 300 })),
      odd: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom('release' as const, 'withdraw' as const, 'renew' as const),
      slot: fc.nat(SLOTS - 1),
      pick: fc.nat(50),
      foreign: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('campaign' as const),
      slot: fc.nat(SLOTS - 1),
      name: fc.nat(1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('resign' as const, 'proclaim' as const),
      slot: fc.nat(SLOTS - 1),
      pick: fc.nat(50),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('leave' as const),
      slot: fc.nat(SLOTS - 1),
      merge: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      by: fc.integer({ min: 0, max: 400 }),
    }),
  },
);

interface Req {
  id: string;
  name: string;
  owner: string;
  election: boolean;
  ttl: number | null;
}

function allIds(s: LocksState): Map<string, { name: string; where: 'holder' | 'waiter' }> {
  const m = new Map<string, { name: string; where: 'holder' | 'waiter' }>();
  for (const [name, e] of lockList(s.locks)) {
    for (const h of e.holders) {
      expect(m.has(h.id), `id ${h.id} appears twice`).toBe(false);
      m.set(h.id, { name, where: 'holder' });
    }
    for (const w of e.waiters) {
      expect(m.has(w.id), `id ${w.id} appears twice`).toBe(false);
      m.set(w.id, { name, where: 'waiter' });
    }
  }
  return m;
}

function checkEntry(name: string, e: LockEntry, departed: Set<string>, time: number): void {
  const excl = e.holders.filter((h) => h.mode === 'exclusive').length;
  // mutual exclusion
  if (excl > 0) expect(e.holders.length, `${name}: exclusive holder shares`).toBe(1);
  if (e.limit > 0) expect(e.holders.length).toBeLessThanOrEqual(e.limit);
  if (e.kind === 'mutex') expect(e.holders.every((h) => h.mode === 'exclusive')).toBe(true);
  if (e.kind === 'semaphore') expect(e.holders.every((h) => h.mode === 'shared')).toBe(true);
  // tokens: each grant above the one before, the counter at least every live token
  const tokens = e.holders.map((h) => BigInt(h.token));
  for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  for (const t of tokens) expect(t <= BigInt(e.token)).toBe(true);
  // no waiter stuck behind a free lock
  const head = e.waiters[0];
  if (head !== undefined && (e.blockedUntil === null || time >= e.blockedUntil)) {
    // a due block is cleared on the next step; only an unblocked entry must have granted
    if (e.blockedUntil === null)
      expect(canGrant(e, head.mode), `${name}: head waiter grantable but waiting`).toBe(false);
  }
  // nothing owned by a departed incarnation
  for (const x of [...e.holders, ...e.waiters])
    expect(departed.has(x.owner.incarnation)).toBe(false);
}

function run(
  ops: Op[],
  options: LocksMachineOptions,
  via: 'runtime' | 'immer' = 'runtime',
): LocksState {
  const log = new PureLog<LocksState, LocksCommand, LocksResult>(locksMachine(options), via);
  const gen = new Array<number>(SLOTS).fill(0);
  const member = (slot: number): Incarnation => ({
    nodeid: slot + 1,
    pid: 1000 + slot,
    incarnation: `s${slot}g${gen[slot]}`,
  });
  const members = () => Array.from({ length: SLOTS }, (_, i) => member(i));
  const reqs: Req[] = [];
  const grantedEver = new Set<string>();
  const gone = new Set<string>(); // ids that were removed after being known: must never come back
  const grantTokens = new Map<string, bigint>(); // name -> last token granted
  const termLeader = new Map<string, string>(); // name#term -> leader id
  const lastTerm = new Map<string, bigint>();
  let n = 0;
  log.at(1_000);

  for (const op of ops) {
    const prev = log.state;
    const prevIds = allIds(prev);
    let target: string | undefined; // id released/withdrawn by this op
    let leftInc: string | undefined;
    let result: LocksResult | undefined;
    log.at(log.time + 1);

    switch (op.op) {
      case 'acquire': {
        const name = LOCK_NAMES[op.name]!;
        const id = `r${n++}`;
        const m = member(op.slot);
        reqs.push({ id, name, owner: m.incarnation, election: false, ttl: op.ttl });
        // odd: ask for the name as another kind, to exercise kind mismatches
        const cmd: LocksCommand =
          name === 'mx'
            ? {
                type: 'acquire',
                id,
                name,
                kind: op.odd ? 'rwlock' : 'mutex',
                mode: 'exclusive',
                wait: op.wait,
                ttl: op.ttl,
              }
            : name === 'sem'
              ? {
                  type: 'acquire',
                  id,
                  name,
                  kind: 'semaphore',
                  mode: 'shared',
                  permits: op.odd ? 3 : 2,
                  wait: op.wait,
                  ttl: op.ttl,
                }
              : {
                  type: 'acquire',
                  id,
                  name,
                  kind: 'rwlock',
                  mode: op.write ? 'exclusive' : 'shared',
                  wait: op.wait,
                  ttl: op.ttl,
                };
        const o = log.apply(m, cmd);
        if (o.ok) {
          result = o.result;
          if ('status' in result && result.status === 'granted') {
            // FIFO: granted at once only past no earlier waiter (a waiter whose failover
            // block ended before this command is granted first, in the same step)
            const earlier = new Set(lockOf(prev.locks, name)?.waiters.map((w) => w.id));
            const still = lockOf(log.state.locks, name)?.waiters ?? [];
            expect(still.some((w) => earlier.has(w.id))).toBe(false);
          }
        } else {
          expect(o.error.name).toBe('LockKindMismatchError');
        }
        break;
      }
      case 'release':
      case 'withdraw':
      case 'renew': {
        const mine = reqs.filter(
          (r) => !r.election && (op.foreign || r.owner === member(op.slot).incarnation),
        );
        const r = mine[op.pick % Math.max(1, mine.length)];
        if (r === undefined) break;
        const sender = op.foreign ? member(op.slot) : member(op.slot);
        const cmd: LocksCommand =
          op.op === 'renew'
            ? { type: 'renew', id: r.id, name: r.name, ttl: 200 }
            : { type: op.op, id: r.id, name: r.name };
        const o = log.apply(sender, cmd);
        if (o.ok && op.op !== 'renew') target = r.id;
        if (!o.ok) expect(['NotOwnerError', 'NotHolderError']).toContain(o.error.name);
        if (!o.ok) expect(log.state).toBe(prev);
        break;
      }
      case 'campaign': {
        const name = ELECTIONS[op.name]!;
        const id = `c${n++}`;
        const m = member(op.slot);
        reqs.push({ id, name, owner: m.incarnation, election: true, ttl: null });
        log.must(m, { type: 'campaign', id, name, value: { slot: op.slot } });
        break;
      }
      case 'resign':
      case 'proclaim': {
        const mine = reqs.filter((r) => r.election && r.owner === member(op.slot).incarnation);
        const r = mine[op.pick % Math.max(1, mine.length)];
        if (r === undefined) break;
        const o = log.apply(
          member(op.slot),
          op.op === 'resign'
            ? { type: 'resign', id: r.id, name: r.name }
            : { type: 'proclaim', id: r.id, name: r.name, value: n },
        );
        if (o.ok && op.op === 'resign') target = r.id;
        if (!o.ok) expect(o.error.name).toBe('NotHolderError');
        break;
      }
      case 'leave': {
        const m = member(op.slot);
        leftInc = m.incarnation;
        if (op.merge) {
          // cut off, then back with the same incarnation (a partition that healed)
          log.membership(
            members().filter((x) => x.incarnation !== m.incarnation),
            [m],
          );
          expect(log.state.departed).toContain(m.incarnation);
          log.membership(members(), []);
          expect(log.state.departed).not.toContain(m.incarnation);
        } else {
          gen[op.slot]! += 1;
          log.membership(members(), [m]);
        }
        break;
      }
      case 'tick': {
        log.at(log.time + op.by);
        // the runtime ticks when a deadline is due; sometimes an extra tick comes anyway
        const ticked = log.tickIfDue(log.time);
        if (!ticked && op.by % 7 === 0) log.tick();
        if (ticked) {
          // everything due was done: no lease past its end, nothing due left behind
          for (const e of lockList(log.state.locks).map(([, e]) => e)) {
            for (const h of e.holders)
              expect(
                h.expires === null || h.expires > log.time,
                `lease ${h.id} outlived its end`,
              ).toBe(true);
          }
          const due = log.def.nextDeadline!(log.state);
          expect(due === undefined || due > log.time).toBe(true);
        }
        break;
      }
    }

    // ---- properties
    const next = log.state;
    const departed = new Set(next.departed);
    const nextIds = allIds(next);
    for (const [name, e] of lockList(next.locks)) checkEntry(name, e, departed, log.time);

    for (const [id, where] of prevIds) {
      const now = nextIds.get(id);
      const owner = reqs.find((r) => r.id === id)!.owner;
      if (now === undefined) {
        // removed: only by its own release/withdraw, its owner leaving, or an expired lease
        const expired =
          where.where === 'holder' &&
          op.op === 'tick' &&
          lockOf(prev.locks, where.name)!.holders.some(
            (h) => h.id === id && h.expires !== null && h.expires <= log.time,
          );
        expect(
          id === target || owner === leftInc || expired,
          `request ${id} lost (${where.where}) by ${op.op}`,
        ).toBe(true);
        gone.add(id);
      } else if (where.where === 'holder') {
        expect(now.where, `holder ${id} went back to waiting`).toBe('holder');
      }
    }
    for (const [id, where] of nextIds) {
      expect(gone.has(id), `request ${id} came back after it was removed`).toBe(false);
      if (where.where === 'holder' && prevIds.get(id)?.where !== 'holder') {
        expect(grantedEver.has(id), `request ${id} granted twice`).toBe(false);
        grantedEver.add(id);
      }
    }

    // FIFO and token order of this step's grants, per name
    for (const [name, e] of lockList(next.locks)) {
      const before = lockOf(prev.locks, name);
      const newly = e.holders.filter((h) => prevIds.get(h.id)?.where !== 'holder');
      for (const h of newly) {
        const last = grantTokens.get(name) ?? 0n;
        expect(BigInt(h.token) > last, `${name}: token ${h.token} not above ${last}`).toBe(true);
        grantTokens.set(name, BigInt(h.token));
        // a lease runs from the agreed step that granted it, for the ttl asked
        expect(h.since).toBe(log.time);
        expect(h.ttl).toBe(reqs.find((r) => r.id === h.id)!.ttl);
        expect(h.expires).toBe(h.ttl === null ? null : h.since + h.ttl);
      }
      if (before !== undefined) {
        // the previous waiters still present (granted or still waiting) keep their order, and
        // every one granted now comes before every one still waiting
        const surviving = before.waiters.map((w) => w.id).filter((id) => nextIds.has(id));
        const grantedNow = new Set(newly.map((h) => h.id));
        const firstWaiting = surviving.findIndex((id) => !grantedNow.has(id));
        if (firstWaiting >= 0) {
          for (const id of surviving.slice(firstWaiting))
            expect(grantedNow.has(id), `${name}: ${id} granted out of FIFO order`).toBe(false);
        }
        expect(e.waiters.map((w) => w.id).filter((id) => surviving.includes(id))).toEqual(
          surviving.filter((id) => !grantedNow.has(id)),
        );
      }
    }

    // elections: one leader, terms only go up, one leader per term, no usurping
    for (const [name, e] of Object.entries(next.elections)) {
      const before = prev.elections[name];
      const term = BigInt(e.term);
      expect(term >= (lastTerm.get(name) ?? 0n)).toBe(true);
      lastTerm.set(name, term);
      if (e.leader !== null) {
        expect(departed.has(e.leader.owner.incarnation)).toBe(false);
        expect(e.candidates.some((c) => c.id === e.leader!.id)).toBe(false);
        const key = `${name}#${e.term}`;
        const had = termLeader.get(key);
        if (had !== undefined) expect(had, `two leaders in term ${key}`).toBe(e.leader.id);
        termLeader.set(key, e.leader.id);
      }
      for (const c of e.candidates) expect(departed.has(c.owner.incarnation)).toBe(false);
      if (before?.leader && e.leader?.id !== before.leader.id) {
        expect(
          before.leader.id === target || before.leader.owner.incarnation === leftInc,
          `${name}: leader ${before.leader.id} replaced while alive`,
        ).toBe(true);
      }
      if (e.leader !== null && e.leader.id !== before?.leader?.id) {
        expect(term > BigInt(before?.term ?? '0'), `${name}: new leader without a new term`).toBe(
          true,
        );
        // FIFO: the first surviving candidate, or the new campaigner when nobody waited
        const survivors = (before?.candidates ?? []).filter(
          (c) => c.owner.incarnation !== leftInc && c.id !== target,
        );
        if (survivors.length > 0) expect(e.leader.id).toBe(survivors[0]!.id);
      }
      if (e.leader === null && e.blockedUntil === null) expect(e.candidates.length).toBe(0);
    }
  }
  return log.state;
}

const configs: [string, LocksMachineOptions][] = [
  ['counter tokens', { tokens: 'counter' }],
  ['clock tokens', { tokens: 'clock' }],
  ['failover delay 150 ms', { tokens: 'counter', failoverDelay: 150 }],
];

describe('lock machine: random schedules (fast-check, fixed seed)', () => {
  for (const [label, options] of configs) {
    it(`keeps every safety property, ${label}`, () => {
      fc.assert(
        // size 'max': schedules of ~38 operations on average (without it, fast-check's default
        // size drew ~6); 300 runs of those are about 2x the operations 1000 short runs made
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
          const a = run(ops, options);
          // deterministic: the same schedule gives the same state, and the same canonical JSON
          // (the digest's) when commands go through `apply` under immer, the reference (whose
          // locks are a plain object; reduce's a SortedRecord, which lists names sorted)
          expect(run(ops, options)).toEqual(a);
          expect(canonicalJson(run(ops, options, 'immer'))).toBe(canonicalJson(a));
          expect(canonicalJson(JSON.parse(JSON.stringify(a)))).toBe(canonicalJson(a));
        }),
        { seed: seedFromEnv(20261125), numRuns: runsFromEnv(300) },
      );
    }, 120_000);
  }
});
