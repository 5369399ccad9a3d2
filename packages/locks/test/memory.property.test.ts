/**
 * Seeded fault schedules on the in-memory cluster: three members contend for two mutexes and
 * one election while processes crash and restart, partitions come and go, leases run out and
 * waiters time out. Checked at the instant of every grant (when user code would start):
 * nobody else trusts the same lock, the fenced resource accepts the new token, tokens and
 * terms only go up. Checked at the end, after healing: every waiter of a live member was
 * served (no waiter lost).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { FencedResource, Leadership, Lock, Locks, locksMachine } from '../src/index.js';

const RUNS = Number(process.env.LOCKS_SCHEDULES ?? 2000);
const replay =
  process.env.LOCKS_SCHEDULE === undefined
    ? undefined
    : (JSON.parse(process.env.LOCKS_SCHEDULE) as Op[]);
const replaySeed = Number(process.env.LOCKS_SCHEDULE_SEED ?? 1);
const NODES = [1, 2, 3] as const;
const NAMES = ['a', 'b'] as const;

type Op =
  | {
      t: 'acquire';
      node: number;
      name: number;
      timeout: number | null;
      ttl: number | null;
      try: boolean;
    }
  | { t: 'release'; pick: number }
  | { t: 'campaign'; node: number }
  | { t: 'resign'; pick: number }
  | { t: 'crash'; node: number }
  | { t: 'restart'; node: number }
  | { t: 'partition'; alone: number }
  | { t: 'heal' }
  | { t: 'advance'; ms: number };

const node = fc.constantFrom(...NODES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      node,
      name: fc.nat(1),
      timeout: fc.option(fc.integer({ min: 10, max: 3000 }), { freq: 3 }),
      ttl: fc.option(fc.integer({ min: 50, max: 2000 }), { freq: 3 }),
      try: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('release' as const), pick: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('campaign' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('resign' as const), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('partition' as const), alone: node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('heal' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 3000 }),
    }),
  },
);

interface Member {
  readonly node: number;
  readonly locks: Locks;
  alive: boolean;
}

const stats = { schedules: 0, stuck: 0, grants: 0, elections: 0 };

async function runSchedule(ops: Op[], seed: number): Promise<void> {
  stats.schedules += 1;
  // two schedules in three get their quorum events late, as libquorum's come on corosync
  const cluster = new MemoryCluster({ nodes: 3, seed, quorumDelay: [0, 1, 20][seed % 3]! });
  const def = locksMachine();
  const members = new Map<number, Member>();
  const open = async (n: number): Promise<void> => {
    const m = await ReplicatedStateMachine.open(cluster.transport(n), def, {
      syncTimeout: 500,
      ...(replay === undefined ? {} : { log: (l: string) => console.log(`node ${n}: ${l}`) }),
    });
    members.set(n, { node: n, locks: new Locks(m, { closeMachine: true }), alive: true });
  };
  for (const n of NODES) await open(n);
  await cluster.settle({ advanceTime: true, maxTime: 5000 });

  const resources = new Map(NAMES.map((n) => [n, new FencedResource<number>()]));
  const lastToken = new Map<string, bigint>();
  let lastTerm = 0n;
  const held: { lock: Lock; member: Member }[] = [];
  const leaderships: { l: Leadership; member: Member }[] = [];
  const pending = new Set<{ member: Member; what: string }>();
  const failures: string[] = [];
  const grantedIds = new Set<string>();

  const onGrant = (lock: Lock, member: Member): void => {
    // at the instant of the grant: nobody else trusts this lock
    for (const h of held) {
      // a crashed member is a killed process: it does not act any more
      if (h.lock.name === lock.name && h.member.alive && !h.lock.lost && !h.lock.released) {
        failures.push(
          `two holders of ${lock.name}: token ${h.lock.token} (node ${h.member.node}) and ${lock.token} (node ${member.node})`,
        );
      }
    }
    if (grantedIds.has(lock.id)) failures.push(`request ${lock.id} granted twice`);
    grantedIds.add(lock.id);
    const last = lastToken.get(lock.name) ?? 0n;
    if (lock.token <= last) failures.push(`${lock.name}: token ${lock.token} after ${last}`);
    lastToken.set(lock.name, lock.token);
    try {
      resources.get(lock.name as 'a')!.write(lock.token, member.node);
    } catch (e) {
      failures.push(
        `fenced resource refused ${lock.name} token ${lock.token}: ${(e as Error).message}`,
      );
    }
    held.push({ lock, member });
    stats.grants += 1;
  };
  const onElected = (l: Leadership, member: Member): void => {
    for (const o of leaderships) {
      if (!o.l.lost && o.member.alive && o.l !== l && !resigned.has(o.l))
        failures.push(`two leaders: term ${o.l.term} and ${l.term}`);
    }
    if (l.term <= lastTerm) failures.push(`term ${l.term} after ${lastTerm}`);
    lastTerm = l.term;
    leaderships.push({ l, member });
    stats.elections += 1;
  };
  const resigned = new Set<Leadership>();

  for (const op of ops) {
    const m = 'node' in op ? members.get(op.node) : undefined;
    switch (op.t) {
      case 'acquire': {
        if (!m?.alive) break;
        const name = NAMES[op.name]!;
        const opts = {
          ...(op.timeout === null ? {} : { timeout: op.timeout }),
          ...(op.ttl === null ? {} : { ttl: op.ttl }),
        };
        const token = { member: m, what: `acquire ${name} on ${m.node}` };
        if (op.try) {
          void m.locks.tryAcquire(name, opts).then(
            (lock) => lock && onGrant(lock, m),
            () => undefined,
          );
        } else {
          if (op.timeout === null) pending.add(token);
          void m.locks.acquire(name, opts).then(
            (lock) => {
              pending.delete(token);
              onGrant(lock, m);
            },
            () => pending.delete(token),
          );
        }
        break;
      }
      case 'release': {
        const live = held.filter((h) => !h.lock.released && h.member.alive);
        const h = live[op.pick % Math.max(1, live.length)];
        if (h) void h.lock.release().catch((e: Error) => failures.push(`release threw ${e.name}`));
        break;
      }
      case 'campaign': {
        if (!m?.alive) break;
        const token = { member: m, what: `campaign on ${m.node}` };
        pending.add(token);
        void m.locks.campaign('e', { value: m.node }).then(
          (l) => {
            pending.delete(token);
            onElected(l, m);
          },
          () => pending.delete(token),
        );
        break;
      }
      case 'resign': {
        const live = leaderships.filter((x) => !resigned.has(x.l) && !x.l.lost);
        const x = live[op.pick % Math.max(1, live.length)];
        if (x) {
          resigned.add(x.l);
          void x.l.resign().catch(() => undefined);
        }
        break;
      }
      case 'crash':
        if (m?.alive) {
          m.alive = false;
          cluster.crashProcess(m.locks.machine.self);
        }
        break;
      case 'restart':
        if (m !== undefined && !m.alive) await open(op.node);
        break;
      case 'partition':
        cluster.heal();
        cluster.partition([op.alone]);
        break;
      case 'heal':
        cluster.heal();
        break;
      case 'advance':
        await cluster.advance(op.ms);
        break;
    }
    // a little time passes between steps (snapshots get persisted, as they would)
    await cluster.advance(60);
    if (failures.length > 0) break;
  }

  // heal everything, restart crashed members, then keep releasing until every waiter of a live
  // member was served. Liveness is the lock layer's promise only while the state machine is
  // ready: a schedule that crashed a majority of the replica set leaves it in a minority for
  // good (the state machine's rule, not ours); those are counted and reported, not failed.
  cluster.heal();
  await cluster.settle({ advanceTime: true, maxTime: 20_000 });
  for (const mem of [...members.values()]) if (!mem.alive) await open(mem.node);
  for (let round = 0; round < 30 && failures.length === 0; round++) {
    await cluster.settle({ advanceTime: true, maxTime: 20_000 });
    for (const h of held) if (!h.lock.released) await h.lock.release();
    for (const x of leaderships)
      if (!resigned.has(x.l)) {
        resigned.add(x.l);
        await x.l.resign();
      }
    await cluster.settle({ advanceTime: true, maxTime: 20_000 });
    const waiting = [...pending].filter((p) => p.member.alive);
    if (waiting.length === 0) break;
    if ([...members.values()].some((x) => x.alive && x.locks.machine.status !== 'ready')) {
      if (round < 5) continue;
      stats.stuck += 1;
      break;
    }
    if (round === 29 && replay !== undefined) {
      const where = [...members.values()].map(
        (x) => `node ${x.node}: alive ${x.alive}, ${x.locks.machine.status}`,
      );
      console.log(where.join('; '));
    }
    if (round === 29)
      failures.push(`waiters never served: ${waiting.map((p) => p.what).join(', ')}`);
  }
  for (const mem of members.values()) if (mem.alive) await mem.locks.close();
  cluster.destroy();
  expect(failures).toEqual([]);
}

describe('Locks on the in-memory cluster: seeded fault schedules', () => {
  it(`keeps mutual exclusion, fencing, FIFO tokens and liveness over ${RUNS} schedules`, async () => {
    await fc.assert(
      fc.asyncProperty(
        // LOCKS_SCHEDULE='[...]' replays one schedule (a counterexample) instead
        replay === undefined
          ? fc.array(opArb, { minLength: 5, maxLength: 40 })
          : fc.constant(replay),
        replay === undefined ? fc.integer({ min: 1, max: 1_000_000 }) : fc.constant(replaySeed),
        runSchedule,
      ),
      { seed: 20261125, numRuns: RUNS },
    );
    console.log(
      `${stats.schedules} schedules: ${stats.grants} grants, ${stats.elections} elections checked; ` +
        `${stats.stuck} ended with the state machine in a minority for good (liveness not checked there)`,
    );
    // most schedules must end live, or the liveness check means nothing
    expect(stats.stuck).toBeLessThan(stats.schedules / 4);
  }, 600_000);
});
