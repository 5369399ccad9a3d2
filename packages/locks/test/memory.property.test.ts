/**
 * Seeded fault schedules on the in-memory cluster: one member per node, or two in every other
 * schedule (3 nodes, or 5 in one schedule of three), contends for two mutexes and one election while processes crash and
 * restart FROM THEIR DATA DIRECTORIES (the same replica, the state as it was at the crash),
 * partitions come and go (one node alone, or any split), leases run out and waiters time out.
 * About half of the steps are followed by no time at all (only the microtasks that hand a
 * message to the engine), so that the next fault finds entries in flight: a partition then
 * delivers them on every side or on their sender's side only. A `trap` arms a member's
 * transport: the moment the engine accepts its next message (a release, a tick, an ack, a
 * campaign...), its node is cut off, so that exactly that message is in flight at the cut. Checked at the instant of every grant (when user code would start):
 * nobody else trusts the same lock, the fenced resource accepts the new token, tokens and
 * terms only go up. Checked at the end, after healing: every waiter of a live member was
 * served (no waiter lost).
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import {
  FencedResource,
  Leadership,
  Lock,
  Locks,
  locksMachine,
  type LocksCommand,
  type LocksResult,
  type LocksState,
} from '../src/index.js';
import { replayFromEnv, runsFromEnv, seedFromEnv } from '../../../test/seeded.js';

// CPGKIT_SEED, CPGKIT_RUNS, CPGKIT_REPLAY='[steps, seed]' (see test/seeded.ts); the older
// LOCKS_SCHEDULES (runs), LOCKS_SCHEDULE (a schedule) and LOCKS_SCHEDULE_SEED still work.
const replay: [Step[], number] | undefined =
  replayFromEnv<[Step[], number]>() ??
  (process.env.LOCKS_SCHEDULE === undefined
    ? undefined
    : [
        JSON.parse(process.env.LOCKS_SCHEDULE) as Step[],
        Number(process.env.LOCKS_SCHEDULE_SEED ?? 1),
      ]);
const RUNS = replay === undefined ? runsFromEnv(2000, 'LOCKS_SCHEDULES') : 1;
/** tmpfs where there is one: thousands of schedules write their data directories. */
const DATA_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
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
  | { t: 'release'; pick: number; cut: boolean }
  | { t: 'campaign'; node: number }
  | { t: 'resign'; pick: number; cut: boolean }
  | { t: 'crash'; node: number }
  | { t: 'restart'; node: number }
  | { t: 'partition'; alone: number }
  | { t: 'split'; cut: number }
  | { t: 'trap'; node: number; any: boolean }
  | { t: 'heal' }
  | { t: 'advance'; ms: number };

const node = fc.integer({ min: 1, max: 10 });
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
  // `cut`: the holder's node is cut off the moment the engine accepted the release (in flight)
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('release' as const),
      pick: fc.nat(20),
      cut: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('campaign' as const), node }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('resign' as const),
      pick: fc.nat(20),
      cut: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('partition' as const), alone: node }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('split' as const),
      cut: fc.integer({ min: 1, max: 30 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('trap' as const), node, any: fc.boolean() }),
  },
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
  /**
   * Cut its node off the moment the engine accepted its next message: any message, or only an
   * entry of the agreed log (a command or a tick); `undefined`: no trap.
   */
  trap: 'any' | 'entry' | undefined;
  /** Its slot: node `(slot - 1) % nodes + 1`; a restart of the slot is the same replica. */
  readonly slot: number;
  readonly node: number;
  readonly locks: Locks;
  alive: boolean;
}

/** An op, and whether the next one follows at once (entries still in flight) or 60 ms later. */
type Step = [Op, boolean];

type Machine = ReplicatedStateMachine<LocksState, LocksCommand, LocksResult>;

const stats = { schedules: 0, stuck: 0, grants: 0, elections: 0, fiveNodes: 0 };

async function runSchedule(steps: Step[], seed: number): Promise<void> {
  stats.schedules += 1;
  const n = seed % 3 === 0 ? 5 : 3;
  if (n === 5) stats.fiveNodes += 1;
  const NODES = Array.from({ length: n }, (_, i) => i + 1);
  const onNode = (x: number): number => ((x - 1) % n) + 1;
  // one member per node, or two on every node (a waiter behind a holder of its own node)
  const slots = seed % 2 === 0 ? 2 * n : n;
  const onSlot = (x: number): number => ((x - 1) % slots) + 1;
  // two schedules in three get their quorum events late, as libquorum's come on corosync
  const cluster = new MemoryCluster({ nodes: n, seed, quorumDelay: [0, 1, 20][seed % 3]! });
  const root = await mkdtemp(join(DATA_ROOT, 'cpgkit-locks-'));
  const def = locksMachine();
  const members = new Map<number, Member>();
  /**
   * Run `io` (disk reads and writes take real time) with every live process paused and the
   * engine idle, so that the schedule stays a function of the seed.
   */
  const frozen = async (io: () => Promise<void>): Promise<void> => {
    const stopped = [...members.values()].filter((x) => x.alive);
    for (const x of stopped) cluster.pause(x.locks.machine.self);
    await cluster.runUntilIdle();
    await io();
    for (const x of stopped) if (x.alive) cluster.resume(x.locks.machine.self);
  };
  /** Start the member of `slot` (again: from its data directory, the same replica). */
  const open = (slot: number): Promise<void> =>
    frozen(async () => {
      const node = onNode(slot);
      const g = cluster.member(node);
      const send = g.send.bind(g);
      // eslint-disable-next-line prefer-const -- assigned below, read by the wrapper above it
      let sm: Machine | undefined;
      g.send = (data, options) => {
        const p = send(data, options);
        const me = members.get(slot);
        const kind = (data instanceof Uint8Array ? data : data[0])?.[3];
        const entry = kind === 1 || kind === 4; // the wire format's command and tick
        if (
          sm !== undefined &&
          me?.locks.machine === sm &&
          (me.trap === 'any' || (me.trap === 'entry' && entry))
        ) {
          me.trap = undefined;
          void p.then(
            () => {
              cluster.heal();
              cluster.partition([node]);
            },
            () => undefined,
          );
        }
        return p;
      };
      sm = await ReplicatedStateMachine.open(g, def, {
        syncTimeout: 500,
        dataDir: join(root, `s${slot}`),
        ...(replay === undefined
          ? {}
          : { log: (l: string) => console.log(`slot ${slot} (node ${node}): ${l}`) }),
      });
      members.set(slot, {
        slot,
        node,
        locks: new Locks(sm, { closeMachine: true }),
        alive: true,
        trap: undefined,
      });
    });
  /** Kill a member's process, its data directory holding what its memory held. */
  const crash = async (m: Member): Promise<void> => {
    await frozen(() => (m.locks.machine as Machine).flush().catch(() => undefined));
    m.alive = false;
    cluster.crashProcess(m.locks.machine.self);
  };
  for (let slot = 1; slot <= slots; slot++) await open(slot);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });

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

  for (const [op, quick] of steps) {
    const m = 'node' in op ? members.get(onSlot(op.node)) : undefined;
    if (replay !== undefined) console.log(`step ${JSON.stringify(op)}${quick ? ' (quick)' : ''}`);
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
        if (h && op.cut) h.member.trap = 'entry';
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
          if (op.cut) x.member.trap = 'entry';
          resigned.add(x.l);
          void x.l.resign().catch(() => undefined);
        }
        break;
      }
      case 'crash':
        if (m?.alive) await crash(m);
        break;
      case 'restart':
        if (m !== undefined && !m.alive) await open(m.slot);
        break;
      case 'partition':
        cluster.heal();
        cluster.partition([onNode(op.alone)]);
        break;
      case 'trap':
        if (m?.alive) m.trap = op.any ? 'any' : 'entry';
        break;
      case 'split': {
        const side = NODES.filter((x) => ((op.cut % (2 ** n - 2)) + 1) & (1 << (x - 1)));
        cluster.heal();
        cluster.partition(side);
        break;
      }
      case 'heal':
        cluster.heal();
        break;
      case 'advance':
        await cluster.advance(op.ms);
        break;
    }
    // a little time passes between steps (snapshots get persisted, as they would), or none:
    // only what hands a message to the engine, so that the next fault finds it in flight
    if (quick) for (let i = 0; i < 4; i++) await Promise.resolve();
    else await cluster.advance(60);
    if (failures.length > 0) break;
  }

  // heal everything, restart crashed members, then keep releasing until every waiter of a live
  // member was served. Liveness is the lock layer's promise only while the state machine is
  // ready: a schedule that crashed a majority of the replica set leaves it in a minority for
  // good (the state machine's rule, not ours); those are counted and reported, not failed.
  if (replay !== undefined) console.log('healing');
  for (const mem of members.values()) mem.trap = undefined;
  cluster.heal();
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 20_000 });
  for (const mem of [...members.values()]) if (!mem.alive) await open(mem.slot);
  for (let round = 0; round < 30 && failures.length === 0; round++) {
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 20_000 });
    if (replay !== undefined)
      console.log(
        `liveness round ${round}: ${[...members.values()].map((x) => `slot ${x.slot} ${x.alive ? x.locks.machine.status : 'dead'}`).join(', ')}`,
      );
    // not awaited: a release waits on replicated time, which only the settle below moves
    const done: Promise<unknown>[] = [];
    for (const h of held) if (!h.lock.released) done.push(h.lock.release().catch(() => undefined));
    for (const x of leaderships)
      if (!resigned.has(x.l)) {
        resigned.add(x.l);
        done.push(x.l.resign().catch(() => undefined));
      }
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 20_000 });
    await Promise.all(done);
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
  const closed = [...members.values()].filter((x) => x.alive).map((x) => x.locks.close());
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 20_000 });
  await Promise.all(closed);
  cluster.destroy();
  await rm(root, { recursive: true, force: true });
  expect(failures).toEqual([]);
}

describe('Locks on the in-memory cluster: seeded fault schedules', () => {
  it(`keeps mutual exclusion, fencing, FIFO tokens and liveness over ${RUNS} schedules`, async () => {
    await fc.assert(
      fc.asyncProperty(
        // CPGKIT_REPLAY='[steps, seed]' replays one schedule (a counterexample) instead
        replay === undefined
          ? fc.array(fc.tuple(opArb, fc.boolean()), { minLength: 5, maxLength: 40 })
          : fc.constant(replay[0]),
        replay === undefined ? fc.integer({ min: 1, max: 1_000_000 }) : fc.constant(replay[1]),
        runSchedule,
      ),
      // a schedule that hangs fails with its counterexample instead of the whole file
      {
        seed: seedFromEnv(20261125),
        numRuns: RUNS,
        timeout: 30_000,
        endOnFailure: true,
      },
    );
    console.log(
      `${stats.schedules} schedules (${stats.fiveNodes} on 5 nodes): ${stats.grants} grants, ${stats.elections} elections checked; ` +
        `${stats.stuck} ended with the state machine in a minority for good (liveness not checked there)`,
    );
    // most schedules must end live, or the liveness check means nothing
    expect(stats.stuck).toBeLessThan(stats.schedules / 4);
  }, 600_000);
});
